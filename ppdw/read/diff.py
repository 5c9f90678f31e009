"""What changed between two as-of states of silver, key by key and field by field. Pure.

A run's changes are the difference between silver as of the applied run before it and
silver as of the run itself (data.md, Reading): a key only in the later state was
inserted, a key only in the earlier one deleted, a key in both with another record hash
updated. Hashes find the changed keys; only their rows are turned into Python values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ppdw.read.history import FieldChange, changes_between
from ppdw.read.keys import Key, json_value, key_strings, key_text
from ppdw.runtime.schema import RECORD_HASH, tracked_columns


@dataclass(frozen=True)
class KeyChange:
    key: Key
    values: dict[str, Any]  # tracked values after (insert) or before (delete) the change
    changed: tuple[FieldChange, ...] = ()


@dataclass
class Diff:
    key_columns: tuple[str, ...]
    inserted: list[KeyChange] = field(default_factory=list)
    updated: list[KeyChange] = field(default_factory=list)
    deleted: list[KeyChange] = field(default_factory=list)
    unchanged: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {
            "INSERT": len(self.inserted),
            "UPDATE": len(self.updated),
            "DELETE": len(self.deleted),
            "unchanged": self.unchanged,
        }

    def _key(self, key: Key) -> dict[str, str]:
        return dict(zip(self.key_columns, key, strict=True))

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "inserted": [
                {"key": self._key(c.key), "values": _json(c.values)} for c in self.inserted
            ],
            "updated": [
                {"key": self._key(c.key), "changes": [x.to_json() for x in c.changed]}
                for c in self.updated
            ],
            "deleted": [{"key": self._key(c.key), "values": _json(c.values)} for c in self.deleted],
        }

    def key_text(self, key: Key) -> str:
        return key_text(key, self.key_columns)


def _json(values: dict[str, Any]) -> dict[str, Any]:
    return {k: json_value(v) for k, v in values.items()}


def _index(table: pa.Table, key_columns: Sequence[str]) -> dict[Key, tuple[int, str]]:
    hashes = table.column(RECORD_HASH).to_pylist()
    return {
        key: (row, str(digest))
        for row, (key, digest) in enumerate(
            zip(key_strings(table, key_columns), hashes, strict=True)
        )
    }


def _rows(table: pa.Table, indices: list[int], columns: list[str]) -> list[dict[str, Any]]:
    if not indices:
        return []
    picked = table.select(columns).take(pa.array(indices, pa.int64()))
    return list(picked.to_pylist())


def state_diff(before: pa.Table, after: pa.Table, key_columns: Sequence[str]) -> Diff:
    """Inserted, updated and deleted keys from state `before` to state `after`."""
    keys = tuple(key_columns)
    old, new = _index(before, keys), _index(after, keys)
    inserted = sorted(k for k in new if k not in old)
    deleted = sorted(k for k in old if k not in new)
    updated = sorted(k for k in new if k in old and old[k][1] != new[k][1])
    result = Diff(keys, unchanged=sum(1 for k in new if k in old) - len(updated))
    columns_after = tracked_columns(after.schema, keys)
    columns_before = tracked_columns(before.schema, keys)
    columns = columns_after + [c for c in columns_before if c not in columns_after]
    rows_in = _rows(after, [new[k][0] for k in inserted], columns_after)
    result.inserted = [KeyChange(k, r) for k, r in zip(inserted, rows_in, strict=True)]
    rows_out = _rows(before, [old[k][0] for k in deleted], columns_before)
    result.deleted = [KeyChange(k, r) for k, r in zip(deleted, rows_out, strict=True)]
    was = _rows(before, [old[k][0] for k in updated], columns_before)
    now = _rows(after, [new[k][0] for k in updated], columns_after)
    result.updated = [
        KeyChange(k, b, changes_between(a, b, columns))
        for k, a, b in zip(updated, was, now, strict=True)
    ]
    return result
