"""Glue job: bronze -> silver (SCD2) for this dataset. All logic is in ppdw.runtime.jobs."""

import sys

from ppdw.runtime.jobs import run_silver_job

if __name__ == "__main__":
    run_silver_job(sys.argv[1:])
