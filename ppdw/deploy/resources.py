"""The vocabulary of desired resources: their types, creation order and frozen specs.

Pure: no AWS calls. Each spec carries `fields`: the flat, normalized values the planner
compares (built by `ppdw.deploy.fields`), and a `payload` the executor sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ppdw.config.models import Dataset, Warehouse
from ppdw.naming import Arns, DatasetNames

ResourceType = Literal[
    "bucket",
    "database",
    "workgroup",
    "role",
    "object",
    "log_group",
    "function",
    "job",
    "crawler",
    "state_machine",
    "rule",
    "table",
    "prefix",
]
#: Creation order; deletion runs it backwards. Tables and data prefixes are only ever
#: deleted (`destroy --delete-data`): jobs create them.
ORDER: tuple[ResourceType, ...] = (
    "bucket",
    "database",
    "workgroup",
    "role",
    "prefix",
    "table",
    "object",
    "log_group",
    "function",
    "job",
    "crawler",
    "state_machine",
    "rule",
)
#: Resources without tags of their own: S3 objects and prefixes and Glue tables belong to
#: the managed bucket and databases; a Lambda log group is created by Lambda itself on
#: first invocation, so ppdw adopts it.
ADOPTABLE: frozenset[str] = frozenset({"object", "prefix", "table", "log_group"})


@dataclass(frozen=True)
class ResourceSpec:
    resource_type: ResourceType
    name: str
    fields: Mapping[str, Any]
    tags: Mapping[str, str] = field(default_factory=dict)
    #: Field-name prefixes whose keys must match exactly (extra keys in AWS are drift).
    exact_prefixes: tuple[str, ...] = ()
    #: What the executor sends; not compared.
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class StackContext:
    """One dataset's stack on one account and region: what its specs are named after."""

    warehouse: Warehouse
    dataset: Dataset
    account_id: str
    region: str

    @property
    def names(self) -> DatasetNames:
        return self.warehouse.names.dataset(self.dataset.name)

    @property
    def bucket(self) -> str:
        return self.warehouse.names.bucket(self.account_id)

    @property
    def arns(self) -> Arns:
        return Arns(self.region, self.account_id)

    def role(self, name: str) -> str:
        return self.arns.role(name)
