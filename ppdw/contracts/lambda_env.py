"""The fetch Lambda's environment variables: deploy writes them, the handler reads them.

Rule: standard library, `ppdw.naming` and `ppdw.errors` only (the fetch Lambda imports
it). Every `PPDW_*` variable of the function is spelled here and nowhere else, so deploy
(`ppdw.deploy.desired`), the handler (`ppdw.runtime.fetch`) and the local runner
(`ppdw.runs.local`) cannot drift apart. The variables the Lambda runtime itself sets
(`AWS_REGION`, `LAMBDA_TASK_ROOT`) are not ppdw's and stay with the handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ppdw.errors import ConfigError

BUCKET = "PPDW_BUCKET"
PREFIX = "PPDW_PREFIX"
DATASET = "PPDW_DATASET"
MAX_UNCOMPRESSED_BYTES = "PPDW_MAX_UNCOMPRESSED_BYTES"
MAX_COMPRESSION_RATIO = "PPDW_MAX_COMPRESSION_RATIO"
#: Not deployed: points the handler at a dataset.json outside its bundle (tests, tools);
#: read before the others, so it is no field of `LambdaEnv`.
DATASET_CONFIG = "PPDW_DATASET_CONFIG"
#: The warehouse prefix when PPDW_PREFIX is unset or empty.
DEFAULT_PREFIX = "pp-dw"


@dataclass(frozen=True)
class LambdaEnv:
    """The `PPDW_*` variables of one fetch function; None is "not set"."""

    bucket: str
    prefix: str = DEFAULT_PREFIX
    dataset: str | None = None
    max_uncompressed_bytes: int | None = None
    max_compression_ratio: int | None = None

    def to_env(self) -> dict[str, str]:
        """The variables, in the order deploy writes them; unset ones are left out."""
        values = {
            BUCKET: self.bucket,
            PREFIX: self.prefix,
            DATASET: self.dataset,
            MAX_UNCOMPRESSED_BYTES: _text(self.max_uncompressed_bytes),
            MAX_COMPRESSION_RATIO: _text(self.max_compression_ratio),
        }
        return {name: value for name, value in values.items() if value is not None}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LambdaEnv:
        """The variables of `env` (e.g. `os.environ`); an empty one counts as unset."""
        bucket = env.get(BUCKET)
        if not bucket:
            raise ConfigError(f"environment variable {BUCKET} is not set")
        return cls(
            bucket=bucket,
            prefix=env.get(PREFIX) or DEFAULT_PREFIX,
            dataset=env.get(DATASET) or None,
            max_uncompressed_bytes=_number(env, MAX_UNCOMPRESSED_BYTES),
            max_compression_ratio=_number(env, MAX_COMPRESSION_RATIO),
        )

    def check_dataset(self, name: object) -> None:
        """A function deployed for one dataset refuses another dataset's dataset.json."""
        if self.dataset and self.dataset != name:
            raise ConfigError(f"{DATASET}={self.dataset} but dataset.json is {name!r}")

    def limits(self) -> dict[str, int]:
        """The archive limits that are set, by `FetchConfig` field name."""
        chosen = {
            "max_uncompressed_bytes": self.max_uncompressed_bytes,
            "max_compression_ratio": self.max_compression_ratio,
        }
        return {name: value for name, value in chosen.items() if value is not None}


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


def _number(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name)
    return int(raw) if raw else None
