"""The fetch Lambda: source -> raw, with the run record and the dataset's lease.

Rule: standard library, boto3 (through `ppdw.aws.objects`), `ppdw.contracts.lambda_env`,
`ppdw.naming`, `ppdw.errors` and the runtime's `manifest`, `redact`, `download`,
`archive`, `lease`, `holders` only: this package is the fetch Lambda (import-linter's
forbidden contract and tests/unit/test_fetch_closure.py check it).

- `config`: dataset.json under the function's environment (`FetchConfig`)
- `secret`: the source's secret, read by name
- `core`: the fetch itself (`fetch`, raw's guards)
- `record`: the fetch step with its run record (`run_fetch_step`; the local runner's too)
- `handler`: the Lambda entry point (`lambda_handler`, which each dataset's
  `lambdas/fetch/app.py` imports from here)
"""

from __future__ import annotations

from ppdw.runtime.fetch.config import FetchConfig, config_from_env
from ppdw.runtime.fetch.core import FetchResult, fetch
from ppdw.runtime.fetch.handler import lambda_handler
from ppdw.runtime.fetch.record import run_fetch_step

__all__ = [
    "FetchConfig",
    "FetchResult",
    "config_from_env",
    "fetch",
    "lambda_handler",
    "run_fetch_step",
]
