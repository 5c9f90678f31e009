"""Every resource name, S3 path and column-name rule of the warehouse, in one place.

Pure and standard-library only: the CLI, the planner, the Lambda and the Glue jobs all
import this module, so a name is computed once and never typed twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Layer = Literal["bronze", "silver", "gold"]
LAYERS: tuple[Layer, ...] = ("bronze", "silver", "gold")

#: Dataset names appear in Glue table names (lower case, digits, `_`), in Lambda, Glue and
#: IAM-scoped resource names and in S3 prefixes: this pattern is safe in all of them.
DATASET_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,29}[a-z0-9]$"
_DATASET_RE = re.compile(DATASET_NAME_PATTERN)
PREFIX_PATTERN = r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$"
_PREFIX_RE = re.compile(PREFIX_PATTERN)

#: Step Functions execution names allow more, but this set is safe everywhere a run id goes
#: (execution name, S3 key, Glue argument).
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$"
_RUN_ID_RE = re.compile(RUN_ID_PATTERN)

PARTITION_DATETIME_FORMAT = "%Y-%m-%d-%H%M%S"
YEAR_MONTH_FORMAT = "%Y-%m"
RUN_ID_TIME_FORMAT = "%Y%m%d-%H%M%S"

MANAGED_TAG = "ppdw:managed"
DATASET_TAG = "ppdw:dataset"


#: File name of the local target's deploy receipt, in each dataset's scripts prefix.
LOCAL_RECEIPT = "local-deploy-receipt.json"


def is_valid_dataset_name(name: str) -> bool:
    return bool(_DATASET_RE.match(name)) and "__" not in name


def is_valid_prefix(prefix: str) -> bool:
    return bool(_PREFIX_RE.match(prefix)) and "--" not in prefix


def is_valid_run_id(run_id: str) -> bool:
    return bool(_RUN_ID_RE.match(run_id))


def default_run_id(dataset: str, run_time: datetime) -> str:
    return f"{dataset}-{run_time.astimezone(UTC).strftime(RUN_ID_TIME_FORMAT)}"


def partition_datetime(run_time: datetime) -> str:
    return run_time.astimezone(UTC).strftime(PARTITION_DATETIME_FORMAT)


def year_month(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(YEAR_MONTH_FORMAT)


@dataclass(frozen=True)
class CoreNames:
    """Names of the shared core: bucket, databases, roles."""

    prefix: str
    bucket_pattern: str = "{prefix}-{account}"

    @property
    def snake(self) -> str:
        return self.prefix.replace("-", "_")

    def bucket(self, account_id: str) -> str:
        return self.bucket_pattern.format(prefix=self.prefix, account=account_id)

    def database(self, layer: Layer) -> str:
        return f"{self.snake}_{layer}"

    @property
    def databases(self) -> dict[Layer, str]:
        return {layer: self.database(layer) for layer in LAYERS}

    @property
    def glue_role(self) -> str:
        return f"{self.prefix}-glue-role"

    @property
    def lambda_role(self) -> str:
        return f"{self.prefix}-lambda-role"

    @property
    def states_role(self) -> str:
        return f"{self.prefix}-states-role"

    @property
    def events_role(self) -> str:
        """Role EventBridge assumes to start a pipeline on its schedule."""
        return f"{self.prefix}-events-role"

    @property
    def roles(self) -> tuple[str, ...]:
        return (self.glue_role, self.lambda_role, self.states_role, self.events_role)

    @property
    def workgroup(self) -> str:
        """The Athena workgroup every `ppdw query --engine athena` runs in."""
        return self.prefix

    @property
    def athena_results_prefix(self) -> str:
        """Where the workgroup keeps query results (expired by a bucket lifecycle rule)."""
        return "athena-results/"

    @property
    def runtime_key(self) -> str:
        """Where the ppdw runtime package every Glue job imports is uploaded."""
        return "scripts/_runtime/ppdw_runtime.zip"

    def dataset(self, name: str) -> DatasetNames:
        return DatasetNames(core=self, dataset=name)


@dataclass(frozen=True)
class DatasetNames:
    """Names and paths that belong to one dataset."""

    core: CoreNames
    dataset: str

    def _name(self, middle: str, suffix: str = "") -> str:
        return f"{self.core.prefix}-{middle}-{self.dataset}{suffix}"

    @property
    def table(self) -> str:
        return self.dataset

    def job(self, layer: Layer) -> str:
        return self._name(layer)

    def crawler(self, layer: Layer) -> str:
        return self._name(layer, "-crawler")

    @property
    def fetch_function(self) -> str:
        return self._name("raw-fetch")

    @property
    def state_machine(self) -> str:
        return self._name("pipeline")

    @property
    def schedule_rule(self) -> str:
        return self._name("schedule")

    # S3 layout -------------------------------------------------------------------------

    @property
    def raw_prefix(self) -> str:
        return f"raw/{self.dataset}/"

    def raw_run_prefix(self, run_id: str) -> str:
        return f"{self.raw_prefix}run_id={run_id}/"

    def raw_manifest_key(self, run_id: str) -> str:
        return f"{self.raw_run_prefix(run_id)}_manifest.json"

    def layer_prefix(self, layer: Layer) -> str:
        """Table location of a layer; crawler targets equal these paths."""
        if layer == "gold":
            return f"gold/{self.dataset}/"
        return f"{layer}/{layer}_{self.dataset}/"

    def bronze_partition_prefix(self, partition: str) -> str:
        return f"{self.layer_prefix('bronze')}partition_datetime={partition}/"

    def silver_partition_prefix(self, ym: str) -> str:
        return f"{self.layer_prefix('silver')}effective_year_month={ym}/"

    def silver_version_prefix(self, ym: str, run_id: str) -> str:
        """The folder one run writes a silver partition to; the Glue partition points here.

        Named by the run id alone (no `key=value`, no leading `_` or `.`) so readers that
        discover hive partitions under the table folder see no extra partition column and
        skip nothing.
        """
        return f"{self.silver_partition_prefix(ym)}{run_id}/"

    def rejects_prefix(self, run_id: str) -> str:
        return f"silver/_rejects/{self.dataset}/run_id={run_id}/"

    @property
    def runs_prefix(self) -> str:
        return f"silver/_runs/{self.dataset}/"

    def run_manifest_key(self, run_id: str) -> str:
        return f"{self.runs_prefix}{run_id}.json"

    @property
    def last_success_key(self) -> str:
        """Pointer to the last run whose silver step succeeded (run ids never start `_`)."""
        return f"{self.runs_prefix}_last_success.json"

    @property
    def scripts_prefix(self) -> str:
        return f"scripts/{self.dataset}/"

    @property
    def local_receipt_key(self) -> str:
        """The local target's deploy receipt (`ppdw.targets.receipt`); under the scripts
        prefix, so destroying the stack removes it."""
        return f"{self.scripts_prefix}{LOCAL_RECEIPT}"

    @property
    def log_groups(self) -> tuple[str, ...]:
        return (f"/aws/lambda/{self.fetch_function}",)

    def tags(self) -> dict[str, str]:
        return {MANAGED_TAG: "true", DATASET_TAG: self.dataset}


def core_tags() -> dict[str, str]:
    return {MANAGED_TAG: "true"}


# ------------------------------------------------------------------------------- ARNs


def partition(region: str) -> str:
    """The ARN partition of a region: GovCloud and China are partitions of their own."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def service_integration_arn(partition_: str, integration: str) -> str:
    """A Step Functions service integration, e.g. `glue:startJobRun.sync`."""
    return f"arn:{partition_}:states:::{integration}"


@dataclass(frozen=True)
class Arns:
    """Every ARN ppdw builds, one method per kind, in the region's partition.

    Names may hold IAM wildcards (`pp-dw-*`): the same methods build policy resources.
    Formats: AWS Service Authorization Reference, "Resource types" of each service.
    """

    region: str
    account_id: str

    @property
    def partition(self) -> str:
        return partition(self.region)

    def _regional(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"

    # global services: no region (S3 has no account either)
    def bucket(self, name: str) -> str:
        return f"arn:{self.partition}:s3:::{name}"

    def objects(self, bucket: str, key: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}/{key}"

    def role(self, name: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{name}"

    # Glue
    def glue_catalog(self) -> str:
        return self._regional("glue", "catalog")

    def glue_database(self, name: str) -> str:
        return self._regional("glue", f"database/{name}")

    def glue_table(self, database: str, name: str) -> str:
        return self._regional("glue", f"table/{database}/{name}")

    def glue_user_defined_function(self, database: str, name: str) -> str:
        return self._regional("glue", f"userDefinedFunction/{database}/{name}")

    def glue_job(self, name: str) -> str:
        return self._regional("glue", f"job/{name}")

    def glue_crawler(self, name: str) -> str:
        return self._regional("glue", f"crawler/{name}")

    # Athena
    def workgroup(self, name: str) -> str:
        return self._regional("athena", f"workgroup/{name}")

    # Lambda, Step Functions, EventBridge, CloudWatch Logs
    def function(self, name: str) -> str:
        return self._regional("lambda", f"function:{name}")

    def state_machine(self, name: str) -> str:
        return self._regional("states", f"stateMachine:{name}")

    def execution(self, state_machine: str, name: str) -> str:
        return self._regional("states", f"execution:{state_machine}:{name}")

    def rule(self, name: str) -> str:
        return self._regional("events", f"rule/{name}")

    def log_group(self, name: str) -> str:
        return self._regional("logs", f"log-group:{name}")

    def log_streams(self, group: str) -> str:
        """The streams of a group (`log-group:NAME:*`), where events are written."""
        return f"{self.log_group(group)}:*"

    # secrets
    def secret(self, name: str) -> str:
        """A Secrets Manager secret by name: AWS appends `-` and six random characters."""
        return self._regional("secretsmanager", f"secret:{name}-??????")

    def parameter(self, name: str) -> str:
        return self._regional("ssm", f"parameter/{name.lstrip('/')}")


_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalize_column_name(name: str) -> str:
    """`Application Number or Citation` -> `application_number_or_citation`."""
    cleaned = _NON_ALNUM.sub("_", name.lstrip("\ufeff").lower()).strip("_")
    if not cleaned:
        cleaned = "col"
    if cleaned[0].isdigit():
        cleaned = f"_{cleaned}"
    return cleaned


def normalize_column_names(names: list[str]) -> list[str]:
    """Normalize each name; repeated names get `_2`, `_3`, ... in order of appearance."""
    seen: dict[str, int] = {}
    taken: set[str] = set()
    out: list[str] = []
    for raw in names:
        base = normalize_column_name(raw)
        count = seen.get(base, 0) + 1
        seen[base] = count
        candidate = base if count == 1 else f"{base}_{count}"
        while candidate in taken:
            count += 1
            seen[base] = count
            candidate = f"{base}_{count}"
        taken.add(candidate)
        out.append(candidate)
    return out
