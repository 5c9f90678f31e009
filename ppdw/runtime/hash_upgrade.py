"""Bring `record_hash`es of the old decimal form up to the documented form.

Before the fix, `record_hash` rendered a decimal with Arrow's decimal-to-string cast, which
follows Java's BigDecimal: an exponent as soon as the adjusted exponent (digits of the
unscaled value - 1 - scale) is below -6. So at scale >= 7 a value whose magnitude is below
1e-6, zero included, was hashed as `0E-9` or `-1.00E-7` instead of `0.000000000` or
`-0.000000100`. The cast itself changed between pyarrow versions: 17 (Glue 5.0) writes a
one-digit mantissa with a point (`0.E-9`, `1.E-9`), 22 (Glue 5.1) and later without
(`0E-9`); a history may hold both, so both are recognised. Every other value, and every
column of another type, renders the same in all forms.

Decision (README, "Upgrading"): change detection compares the tracked values themselves,
never stored hashes, so an old-form hash never makes a key look changed. A run rewrites
the `record_hash` of each current version it leaves unchanged whose stored hash is the old
form's hash of its values, to the documented one, in the partition rewrite of that run (the
version stays as it was in every other column: dates, values, change type, run id; it is
counted as unchanged, and as `rehashed`). Closed versions and tombstones keep the hash they
were written with: history is not rewritten.

Once: each run records the form of the hashes it writes (`record_hash_form` in its silver
stats). A run applied after one that recorded form 2 has nothing to bring up to date (that
run rewrote or closed every old-form current version, and every later version is new), so
only the first run after the upgrade looks: it hashes again the unchanged current versions
holding such a small decimal. Datasets without decimals of scale >= 7 never pay anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ppdw.runtime.hashing import (
    PLAIN_CAST_MAX_SCALE,
    RECORD_HASH_FORM,
    record_hash,
    unscaled_text,
)
from ppdw.runtime.schema import RECORD_HASH

#: Below this magnitude the old form took an exponent (at scale >= 7).
_EXPONENT_BELOW = Decimal("0.000001")
#: Where a run's silver statistics say which form its hashes are in (absent: form 1).
FORM_KEY = "record_hash_form"


def may_hold_old_hashes(last_silver_stats: Mapping[str, Any] | None) -> bool:
    """Whether current versions may still carry old-form hashes, from the silver statistics
    of the last applied run (None: unknown, so look)."""
    if last_silver_stats is None:
        return True
    return int(last_silver_stats.get(FORM_KEY, 1)) < RECORD_HASH_FORM


def old_decimal_text(
    column: pa.ChunkedArray, *, point_after_one_digit: bool = False
) -> pa.ChunkedArray:
    """The old form (Arrow's cast, spelled out so that the installed pyarrow does not
    matter): plain notation, except `d[.ddd]E-n` where the adjusted exponent is below -6;
    `d.E-n` for a one-digit mantissa with `point_after_one_digit` (pyarrow 17)."""
    plain = column.cast(pa.string())
    scale = column.type.scale
    if scale <= PLAIN_CAST_MAX_SCALE:
        return plain
    unscaled = unscaled_text(column)
    negative = pc.starts_with(unscaled, "-")
    digits = pc.utf8_ltrim(unscaled, characters="-")
    count = pc.utf8_length(digits)
    first = pc.utf8_slice_codeunits(digits, 0, 1)
    rest = pc.utf8_slice_codeunits(digits, 1)
    one_digit = pc.binary_join_element_wise(first, ".", "") if point_after_one_digit else first
    mantissa = pc.if_else(
        pc.greater(count, 1), pc.binary_join_element_wise(first, rest, "."), one_digit
    )
    adjusted = pc.subtract(count, scale + 1)
    exponent = pc.binary_join_element_wise("E", adjusted.cast(pa.string()), "")
    sign = pc.if_else(negative, "-", "")
    scientific = pc.binary_join_element_wise(sign, mantissa, exponent, "")
    return pc.if_else(pc.less(adjusted, -6), scientific, plain)


def affected_columns(schema: pa.Schema, tracked: Sequence[str]) -> list[str]:
    """The tracked columns whose values may render differently in the two forms."""
    return [
        name
        for name in tracked
        if pa.types.is_decimal(schema.field(name).type)
        and schema.field(name).type.scale > PLAIN_CAST_MAX_SCALE
    ]


def _may_differ(table: pa.Table, columns: list[str]) -> pa.Array:
    """Rows where at least one of `columns` holds a value the two forms render differently."""
    mask = pa.chunked_array([pa.repeat(pa.scalar(False), table.num_rows)])
    for name in columns:
        values = table.column(name)
        bound = pa.scalar(_EXPONENT_BELOW, values.type)
        small = pc.less(pc.abs(values), bound)
        mask = pc.or_(mask, pc.fill_null(small, False))
    return mask.combine_chunks()


def stale_hashes(
    current: pa.Table, rows: pa.Array, tracked: Sequence[str]
) -> tuple[pa.Array, pa.Array]:
    """Among `current`'s rows at `rows`, those whose stored hash is the old form's hash of
    their values: (their positions in `current`, their hashes in the documented form)."""
    none = (pa.array([], pa.uint64()), pa.array([], pa.string()))
    columns = affected_columns(current.schema, tracked)
    if not columns or len(rows) == 0:
        return none
    candidates = rows.filter(_may_differ(current.select(columns).take(rows), columns))
    if len(candidates) == 0:
        return none
    versions = current.take(candidates)
    stored = versions.column(RECORD_HASH)
    new = record_hash(versions, tracked)
    outdated = pc.fill_null(pc.not_equal(stored, new), True).combine_chunks()
    if not pc.any(outdated).as_py():
        return none
    versions, new = versions.filter(outdated), new.filter(outdated)
    stored = versions.column(RECORD_HASH)
    # Only an old form's own hash is replaced; any other hash is left as it was written.
    upgrade = pa.chunked_array([pa.repeat(pa.scalar(False), versions.num_rows)])
    for form in _OLD_FORMS:
        old = record_hash(versions, tracked, decimals=form)
        upgrade = pc.or_(upgrade, pc.fill_null(pc.equal(stored, old), False))
    upgrade = upgrade.combine_chunks()
    return candidates.filter(outdated).filter(upgrade), new.filter(upgrade)


def _old_text_of_pyarrow_17(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return old_decimal_text(column, point_after_one_digit=True)


_OLD_FORMS = (old_decimal_text, _old_text_of_pyarrow_17)
