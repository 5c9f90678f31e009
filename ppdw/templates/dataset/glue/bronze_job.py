"""Glue job: raw -> bronze for this dataset. All logic is in ppdw.runtime.jobs."""

import sys

from ppdw.runtime.jobs import run_bronze_job

if __name__ == "__main__":
    run_bronze_job(sys.argv[1:])
