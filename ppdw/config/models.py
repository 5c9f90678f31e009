"""Pydantic models of `config/warehouse.json` and `fda/{dataset}/config/dataset.json`.

No I/O here; `ppdw.config.loader` reads files and turns validation errors into messages
that name the file and the field path. Unknown keys are errors everywhere.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ppdw.config.runtimes import (
    DEFAULT_GLUE_VERSION,
    GLUE_ENVIRONMENTS,
    GLUE_PYTHON_BEFORE_5,
    GlueEnvironment,
)
from ppdw.naming import (
    DATASET_NAME_PATTERN,
    PREFIX_PATTERN,
    CoreNames,
    is_valid_dataset_name,
    is_valid_prefix,
)

#: Lambda runtimes AWS accepts for new functions (moto accepts any string).
LambdaRuntime = Literal["python3.12", "python3.13", "python3.14"]
WorkerType = Literal[
    "G.1X", "G.2X", "G.4X", "G.8X", "G.12X", "G.16X", "R.1X", "R.2X", "R.4X", "R.8X"
]
AWS_REGION_PATTERN = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"
#: What computes bronze and silver: pyarrow on one node, Spark on the job's workers, or
#: Spark only for a raw snapshot above `spark_above_mb` (docs/engines.md).
Engine = Literal["arrow", "spark", "auto"]
#: Raw snapshot size (uncompressed MiB) above which `auto` picks Spark: where the Arrow
#: engine's measured peak memory (its first-load silver: 6.7 GiB at 540 MiB of NSDE-shaped
#: CSV, growing ~12.3 MiB per raw MiB) reaches half of a G.1X driver's 16 GB
#: (bench/RESULTS.md, "Engines").
SPARK_ABOVE_MB = 640

# AWS EventBridge schedule expressions: cron(6 fields) or rate(N unit[s]).
_CRON_RE = re.compile(r"^cron\((\S+ ){5}\S+\)$")
_RATE_RE = re.compile(r"^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------- warehouse


def _glue_version(value: str) -> str:
    if value in GLUE_ENVIRONMENTS:
        return value
    known = " or ".join(sorted(GLUE_ENVIRONMENTS))
    if value in GLUE_PYTHON_BEFORE_5:
        python = GLUE_PYTHON_BEFORE_5[value]
        raise ValueError(
            f"Glue {value} runs Python {python}; the ppdw runtime needs Python 3.11: use {known}"
        )
    raise ValueError(f"{value!r} is not a Glue version ppdw knows the Python modules of: {known}")


TableCreation = Literal["crawler", "schema"]


class GlueDefaults(Model):
    version: str = DEFAULT_GLUE_VERSION
    worker_type: WorkerType = "G.1X"
    workers: Annotated[int, Field(ge=2, le=1000)] = 2
    timeout_minutes: Annotated[int, Field(ge=1, le=2880)] = 60
    max_retries: Annotated[int, Field(ge=0, le=10)] = 0
    #: `--additional-python-modules`: libraries the runtime needs that Glue lacks.
    additional_python_modules: tuple[str, ...] = ()
    #: How a missing Glue table is made: directly from the written Arrow schema (default:
    #: a crawler cannot make the table under this layout), or by the layer's crawler first.
    table_creation: TableCreation = "schema"
    crawler_wait_seconds: Annotated[int, Field(ge=0, le=3600)] = 600
    #: The default engine of every dataset (dataset.json `engine` overrides it).
    engine: Engine = "auto"
    spark_above_mb: Annotated[int, Field(ge=1)] = SPARK_ABOVE_MB

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        return _glue_version(value)

    @field_validator("additional_python_modules")
    @classmethod
    def _one_spec_each(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _module_specs(value)

    @property
    def environment(self) -> GlueEnvironment:
        """What the jobs' Glue version provides (Python, modules, log groups)."""
        return GLUE_ENVIRONMENTS[self.version]


def _module_specs(value: tuple[str, ...]) -> tuple[str, ...]:
    # Glue splits `--additional-python-modules` on commas: a spec like `x>=1,<2` would
    # silently become two broken ones.
    for spec in value:
        if not spec or "," in spec or any(ch.isspace() for ch in spec):
            raise ValueError(f"{spec!r}: one package spec per entry, no commas or spaces")
    return value


class GlueOverrides(Model):
    version: str | None = None
    worker_type: WorkerType | None = None
    workers: Annotated[int, Field(ge=2, le=1000)] | None = None
    timeout_minutes: Annotated[int, Field(ge=1, le=2880)] | None = None
    max_retries: Annotated[int, Field(ge=0, le=10)] | None = None
    additional_python_modules: tuple[str, ...] | None = None
    table_creation: TableCreation | None = None
    crawler_wait_seconds: Annotated[int, Field(ge=0, le=3600)] | None = None
    spark_above_mb: Annotated[int, Field(ge=1)] | None = None

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: str | None) -> str | None:
        return None if value is None else _glue_version(value)

    @field_validator("additional_python_modules")
    @classmethod
    def _one_spec_each(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else _module_specs(value)


class LambdaDefaults(Model):
    runtime: LambdaRuntime = "python3.12"
    timeout_seconds: Annotated[int, Field(ge=1, le=900)] = 900
    memory_mb: Annotated[int, Field(ge=128, le=10240)] = 1024
    ephemeral_storage_mb: Annotated[int, Field(ge=512, le=10240)] = 1024


class LambdaOverrides(Model):
    runtime: LambdaRuntime | None = None
    timeout_seconds: Annotated[int, Field(ge=1, le=900)] | None = None
    memory_mb: Annotated[int, Field(ge=128, le=10240)] | None = None
    ephemeral_storage_mb: Annotated[int, Field(ge=512, le=10240)] | None = None


class Lifecycle(Model):
    abort_incomplete_multipart_days: Annotated[int, Field(ge=1, le=365)] = 7
    #: Expire raw run folders after this many days; null keeps them forever.
    raw_expiration_days: Annotated[int, Field(ge=1)] | None = None


class Databases(Model):
    bronze: str
    silver: str
    gold: str

    @field_validator("bronze", "silver", "gold")
    @classmethod
    def _lower_snake(cls, value: str) -> str:
        # AWS lower-cases database names; a mixed-case name would never match on re-read.
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,254}", value):
            raise ValueError("must be lower case letters, digits and '_', starting with a letter")
        return value


class TargetConfig(Model):
    kind: Literal["local", "aws"]
    profile: str | None = None
    region: Annotated[str, Field(pattern=AWS_REGION_PATTERN)] | None = None
    #: Guard: ppdw refuses to act when STS answers another account.
    account_id: Annotated[str, Field(pattern=r"^\d{12}$")] | None = None
    endpoint_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    #: Whether the target serves Athena. False for an S3/Glue-compatible endpoint without
    #: it (an emulator): bootstrap-core makes no workgroup and `query` runs on DuckDB.
    athena: bool = True

    @model_validator(mode="after")
    def _local_takes_no_credentials(self) -> TargetConfig:
        if self.kind == "local" and (self.profile or self.account_id or self.endpoint_url):
            raise ValueError("a local target takes no profile, account_id or endpoint_url")
        return self


class Warehouse(Model):
    prefix: Annotated[str, Field(pattern=PREFIX_PATTERN)] = "pp-dw"
    bucket: str = "{prefix}-{account}"
    region: Annotated[str, Field(pattern=AWS_REGION_PATTERN)] = "us-east-1"
    databases: Databases | None = None
    glue: GlueDefaults = GlueDefaults()
    lambda_: Annotated[LambdaDefaults, Field(alias="lambda")] = LambdaDefaults()
    lifecycle: Lifecycle = Lifecycle()
    #: Archive safety limits for fetch (data.md, Raw).
    max_uncompressed_bytes: Annotated[int, Field(ge=1)] = 20 * 1024**3
    max_compression_ratio: Annotated[int, Field(ge=1)] = 200
    default_target: str = "local"
    targets: dict[str, TargetConfig] = {}

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not is_valid_prefix(value):
            raise ValueError(f"must match {PREFIX_PATTERN} without '--'")
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket_pattern(cls, value: str) -> str:
        if "{account}" not in value:
            raise ValueError("must contain '{account}' so the bucket name is unique per account")
        return value

    @model_validator(mode="after")
    def _default_target_known(self) -> Warehouse:
        if self.default_target not in self.all_targets:
            known = ", ".join(sorted(self.all_targets))
            raise ValueError(f"default_target {self.default_target!r} is not one of: {known}")
        return self

    @property
    def all_targets(self) -> dict[str, TargetConfig]:
        """Declared targets plus the built-in `local` and `aws`."""
        builtin = {"local": TargetConfig(kind="local"), "aws": TargetConfig(kind="aws")}
        return {**builtin, **self.targets}

    @property
    def names(self) -> CoreNames:
        return CoreNames(prefix=self.prefix, bucket_pattern=self.bucket)

    def database(self, layer: Literal["bronze", "silver", "gold"]) -> str:
        if self.databases is not None:
            return str(getattr(self.databases, layer))
        return self.names.database(layer)


# ------------------------------------------------------------------------------ dataset


class SourceAuth(Model):
    """Where the source's secret lives; never the secret itself."""

    kind: Literal["secretsmanager", "ssm"]
    name: Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9/_+=.@-]+$")]
    #: How the secret is sent: as this query parameter of the download URL.
    query_parameter: str = "apiKey"

    def namespace_problem(self, prefix: str) -> str | None:
        """Why the name is outside the warehouse's namespace `{prefix}/`, or None.

        The fetch role may read exactly the secrets datasets name; keeping them under the
        prefix keeps one warehouse's role away from every other secret of the account.
        An SSM name may start with `/` (a parameter path).
        """
        bare = self.name.removeprefix("/") if self.kind == "ssm" else self.name
        if bare.startswith(f"{prefix}/") and len(bare) > len(prefix) + 1:
            return None
        example = f"/{prefix}/..." if self.kind == "ssm" else f"{prefix}/..."
        return (
            f"{self.name!r} is outside the warehouse's namespace: name the secret {example} "
            f"(the fetch role may read only secrets under {prefix}/)"
        )


class Source(Model):
    url: Annotated[str, Field(pattern=r"^(https?|s3|file)://\S+$")]
    format: Literal["csv", "tsv", "rrf"]
    compression: Literal["none", "zip"] = "none"
    #: Archive members to read (glob patterns); first match of the first pattern is read.
    members: tuple[str, ...] = ()
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] | None = None
    encoding: str = "utf-8"
    #: Used when a file is not valid in `encoding` (stray cp1252 bytes in FDA files).
    fallback_encoding: str | None = "cp1252"
    header: bool = True
    #: Column names for files without a header (RRF).
    columns: tuple[str, ...] | None = None
    #: Bundled snapshots (relative to the dataset folder) in order; the first is the default.
    samples: tuple[str, ...] = ()
    auth: SourceAuth | None = None

    @field_validator("url")
    @classmethod
    def _no_credentials_in_url(cls, value: str) -> str:
        if re.match(r"^[a-z0-9]+://[^/@]+@", value):
            raise ValueError("must not carry credentials; reference a secret with 'auth'")
        if re.search(r"(?i)[?&](api_?key|token|password|secret)=", value):
            raise ValueError("must not carry a secret; reference it with 'auth'")
        return value

    @model_validator(mode="after")
    def _columns_for_headerless(self) -> Source:
        if not self.header and not self.columns:
            raise ValueError("a source without a header needs 'columns'")
        if self.compression == "zip" and not self.members:
            raise ValueError("a zip source needs 'members' (glob patterns of files to read)")
        return self

    @property
    def effective_delimiter(self) -> str:
        if self.delimiter is not None:
            return self.delimiter
        return {"csv": ",", "tsv": "\t", "rrf": "|"}[self.format]


ColumnType = Literal["string", "date", "int", "decimal", "bool", "timestamp"]


class ColumnSpec(Model):
    type: ColumnType
    #: strptime format for `date`/`timestamp`; defaults to the dataset's `date_format`.
    format: str | None = None
    precision: Annotated[int, Field(ge=1, le=38)] = 38
    scale: Annotated[int, Field(ge=0, le=38)] = 9


class Quality(Model):
    #: Share of rows with a null or empty business key above which the run fails.
    max_reject_ratio: Annotated[float, Field(ge=0, le=1)] = 0.01
    #: Share of current keys a run may delete before the guard stops it.
    max_delete_ratio: Annotated[float, Field(ge=0, le=1)] = 0.5


class SilverOptions(Model):
    deletes: Literal["tombstone", "ignore"] = "tombstone"
    on_duplicate_key: Literal["keep_last", "fail"] = "keep_last"
    #: Columns that may disappear from the source (then null from that run on).
    allow_dropped_columns: tuple[str, ...] = ()


class Schedule(Model):
    expression: str = "cron(0 6 * * ? *)"
    enabled: bool = False

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        if not (_CRON_RE.match(value) or _RATE_RE.match(value)):
            raise ValueError("must be 'cron(m h dom mon dow year)' or 'rate(N unit)'")
        return value


class Dataset(Model):
    name: Annotated[str, Field(pattern=DATASET_NAME_PATTERN)]
    description: Annotated[str, Field(max_length=256)] = ""
    source: Source
    #: Business key columns, by normalized bronze name.
    business_key: Annotated[tuple[str, ...], Field(min_length=1)]
    #: arrow | spark | auto; unset: warehouse.json `glue.engine`.
    engine: Engine | None = None
    date_format: str = "%Y%m%d"
    #: Typed columns by normalized name; columns whose name contains `date` default to date.
    columns: dict[str, ColumnSpec] = {}
    quality: Quality = Quality()
    silver: SilverOptions = SilverOptions()
    schedule: Schedule = Schedule()
    glue: GlueOverrides = GlueOverrides()
    lambda_: Annotated[LambdaOverrides, Field(alias="lambda")] = LambdaOverrides()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not is_valid_dataset_name(value):
            raise ValueError(f"must match {DATASET_NAME_PATTERN} without '__'")
        return value

    @model_validator(mode="after")
    def _keys_are_not_typed_away(self) -> Dataset:
        for key in self.business_key:
            spec = self.columns.get(key)
            if spec is not None and spec.type != "string":
                raise ValueError(f"business key column {key!r} must stay a string")
        return self

    def glue_settings(self, defaults: GlueDefaults) -> GlueDefaults:
        overrides = self.glue.model_dump(exclude_none=True)
        if self.engine is not None:
            overrides["engine"] = self.engine
        return defaults.model_copy(update=overrides)

    def lambda_settings(self, defaults: LambdaDefaults) -> LambdaDefaults:
        overrides = self.lambda_.model_dump(exclude_none=True)
        return defaults.model_copy(update=overrides)
