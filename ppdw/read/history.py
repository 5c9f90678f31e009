"""Every version of chosen business keys, with the fields each version changed. Pure.

Input is silver as the catalog registers it (every version, tombstones included); output
is per key the versions in time order, each with its run, dates, change type and the
tracked fields that differ from the version before it (old -> new).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from ppdw.read.keys import Key, json_value, key_strings, key_text
from ppdw.runtime.schema import (
    CHANGE_TYPE,
    IS_CURRENT,
    META_RUN_ID,
    RECORD_EFFECTIVE_DATE,
    RECORD_END_DATE,
    RECORD_HASH,
    tracked_columns,
)

OPEN_END_YEAR = 9999


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "old": json_value(self.old), "new": json_value(self.new)}


@dataclass(frozen=True)
class Version:
    run_id: str
    effective: datetime
    end: datetime | None  # None while open
    is_current: bool
    change_type: str
    record_hash: str
    values: dict[str, Any]
    changed: tuple[FieldChange, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "record_effective_date": json_value(self.effective),
            "record_end_date": None if self.end is None else json_value(self.end),
            "is_current": self.is_current,
            "change_type": self.change_type,
            "record_hash": self.record_hash,
            "values": {k: json_value(v) for k, v in self.values.items()},
            "changed": [c.to_json() for c in self.changed],
        }


@dataclass
class KeyHistory:
    key: Key
    key_columns: tuple[str, ...]
    versions: list[Version] = field(default_factory=list)

    @property
    def text(self) -> str:
        return key_text(self.key, self.key_columns)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": dict(zip(self.key_columns, self.key, strict=True)),
            "versions": [v.to_json() for v in self.versions],
        }


def changes_between(
    before: dict[str, Any] | None, after: dict[str, Any], columns: Sequence[str]
) -> tuple[FieldChange, ...]:
    if before is None:
        return ()
    return tuple(
        FieldChange(name, before.get(name), after.get(name))
        for name in columns
        if before.get(name) != after.get(name)
    )


def key_histories(
    silver: pa.Table, key_columns: Sequence[str], wanted: Sequence[Key]
) -> list[KeyHistory]:
    """The history of each wanted key (in the order asked); a key without rows is empty."""
    keys = tuple(key_columns)
    tracked = tracked_columns(silver.schema, keys)
    rows = silver.to_pylist()
    by_key: dict[Key, list[dict[str, Any]]] = {}
    for key, row in zip(key_strings(silver, keys), rows, strict=True):
        by_key.setdefault(key, []).append(row)
    out = []
    for key in dict.fromkeys(wanted):
        history = KeyHistory(key, keys)
        previous: dict[str, Any] | None = None
        for row in sorted(by_key.get(key, []), key=lambda r: r[RECORD_EFFECTIVE_DATE]):
            values = {name: row.get(name) for name in tracked}
            end = row[RECORD_END_DATE]
            history.versions.append(
                Version(
                    run_id=str(row[META_RUN_ID]),
                    effective=row[RECORD_EFFECTIVE_DATE],
                    end=None if end is None or end.year == OPEN_END_YEAR else end,
                    is_current=bool(row[IS_CURRENT]),
                    change_type=str(row[CHANGE_TYPE]),
                    record_hash=str(row[RECORD_HASH]),
                    values=values,
                    changed=changes_between(previous, values, tracked),
                )
            )
            previous = values
        out.append(history)
    return out
