"""The fetch Lambda's configuration: dataset.json under the function's environment.

Rule: standard library, `ppdw.contracts.lambda_env`, `ppdw.naming`, `ppdw.errors` and the
runtime's `archive` only (the fetch Lambda imports it). dataset.json is read as a plain
dict: the Lambda has no pydantic.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ppdw.contracts import lambda_env
from ppdw.contracts.lambda_env import LambdaEnv
from ppdw.errors import ConfigError
from ppdw.naming import CoreNames, DatasetNames
from ppdw.runtime import archive


@dataclass(frozen=True)
class FetchConfig:
    dataset: str
    bucket: str
    prefix: str
    source_url: str
    compression: str  # "none" | "zip"
    members: tuple[str, ...]
    auth_kind: str | None = None
    auth_name: str | None = None
    auth_query_parameter: str = "apiKey"
    max_uncompressed_bytes: int = 20 * 1024**3
    max_compression_ratio: int = 200

    @classmethod
    def from_dataset_json(
        cls, data: dict[str, Any], *, bucket: str, prefix: str, **limits: int
    ) -> FetchConfig:
        """From a parsed `fda/{dataset}/config/dataset.json` (a plain dict)."""
        source = data["source"]
        auth = source.get("auth") or {}
        return cls(
            dataset=data["name"],
            bucket=bucket,
            prefix=prefix,
            source_url=source["url"],
            compression=source.get("compression", "none"),
            members=tuple(source.get("members", ())),
            auth_kind=auth.get("kind"),
            auth_name=auth.get("name"),
            auth_query_parameter=auth.get("query_parameter", "apiKey"),
            **limits,
        )

    @property
    def names(self) -> DatasetNames:
        return CoreNames(prefix=self.prefix).dataset(self.dataset)

    @property
    def limits(self) -> archive.Limits:
        return archive.Limits(self.max_uncompressed_bytes, self.max_compression_ratio)


def find_dataset_json(app_file: str | None) -> Path:
    """`PPDW_DATASET_CONFIG`, `$LAMBDA_TASK_ROOT/dataset.json`, then beside `app_file`
    (a dataset's `lambdas/fetch/app.py`) and in its dataset's `config/`."""
    candidates: list[Path] = []
    if os.environ.get(lambda_env.DATASET_CONFIG):
        candidates.append(Path(os.environ[lambda_env.DATASET_CONFIG]))
    if os.environ.get("LAMBDA_TASK_ROOT"):
        candidates.append(Path(os.environ["LAMBDA_TASK_ROOT"]) / "dataset.json")
    if app_file:
        folder = Path(app_file).resolve().parent
        candidates += [folder / "dataset.json", folder.parent.parent / "config" / "dataset.json"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates) or "nothing"
    raise ConfigError(f"fetch handler cannot find dataset.json (tried {tried})")


def config_from_env(data: dict[str, Any], env: LambdaEnv) -> FetchConfig:
    """The FetchConfig of a dataset.json under the function's environment."""
    env.check_dataset(data.get("name"))
    return FetchConfig.from_dataset_json(data, bucket=env.bucket, prefix=env.prefix, **env.limits())
