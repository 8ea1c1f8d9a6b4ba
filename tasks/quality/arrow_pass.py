"""The per-shard pass of a suite in Arrow: every expectation of the suite, evaluated on the
shard's whole table with pyarrow compute (vectorised, one pass per column, no pandas copy, no GE).

It reads the suite itself (each expectation's GE type and kwargs), so it checks what GE would check,
row for row; an expectation or kwarg it does not know makes the shard go to GE on the whole frame
(`UNSUPPORTED`), never a pass. The semantics follow GE's pandas backend on the frames of
tasks/quality/frames.py: null values are skipped by every map expectation except not-null, a
value is a duplicate when it occurs more than once among non-null values, lengths are characters,
bounds are inclusive.

`precheck(suite, table, parameters)` says which expectations (suite positions) have unexpected
rows or fail. tasks/quality/validate.py then hands GE the whole frame when any does (GE's result,
as before); when none does, the shard has passed and GE is not imported.
"""
from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tasks.quality.suites import Suite

UNSUPPORTED = "unsupported"  # the pass cannot evaluate this expectation: GE must see the whole frame
_KNOWN_KWARGS = {"column", "column_set", "exact_match", "value", "value_set", "min_value", "max_value",
                 "row_condition", "condition_parser", "batch_id"}


def precheck(suite: Suite, table: pa.Table, parameters: dict | None = None) -> dict[int, str]:
    """{suite position: why} for every expectation that does not pass on `table` (empty: the
    whole suite passes). `why` is "failed" or UNSUPPORTED."""
    found: dict[int, str] = {}
    for expectation in suite.expectations:
        try:
            ok = _passes(expectation.type, expectation.kwargs_with(parameters or {}), table)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, KeyError, TypeError, ValueError):
            ok = None
        if ok is None:
            found[expectation.position] = UNSUPPORTED
        elif not ok:
            found[expectation.position] = "failed"
    return found


def _passes(kind: str, kwargs: dict, table: pa.Table) -> bool | None:
    """True / False, or None when this pass cannot evaluate it (`kwargs`: parameters filled in)."""
    if set(kwargs) - _KNOWN_KWARGS or kwargs.get("condition_parser") not in (None, "great_expectations"):
        return None
    if kind == "expect_table_columns_to_match_set":
        expected, present = set(kwargs["column_set"]), set(table.column_names)
        return expected == present if kwargs.get("exact_match", True) else expected <= present
    if kind == "expect_table_row_count_to_equal":
        return table.num_rows == int(kwargs["value"])  # a parameter not given stays a dict: TypeError
    column = kwargs.get("column")
    if column is None or column not in table.column_names:
        return None  # GE reports a missing column as an error of the expectation
    values = table.column(column)
    rows = _condition_rows(kwargs.get("row_condition"), table)
    if rows is None:
        return None
    if rows is not True:
        values = values.filter(rows)
    if kind == "expect_column_values_to_not_be_null":
        return values.null_count == 0 and not _has_nan(values)
    values = values.drop_null()
    if _has_nan(values):  # pandas counts NaN as missing: GE skips it, as the pass would not know to
        values = values.filter(pc.invert(pc.is_nan(values)))
    if kind == "expect_column_values_to_be_unique":
        return len(values) == 0 or len(pc.unique(values)) == len(values)
    if kind == "expect_column_values_to_be_in_set":
        allowed = pa.array(list(kwargs["value_set"]))
        return bool(pc.all(pc.is_in(values, value_set=allowed.cast(values.type))).as_py() is not False)
    if kind == "expect_column_value_lengths_to_be_between":
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            return None
        return _within(pc.utf8_length(values), kwargs.get("min_value"), kwargs.get("max_value"))
    if kind == "expect_column_values_to_be_between":
        if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
            return None
        return _within(values, kwargs.get("min_value"), kwargs.get("max_value"))
    return None


def _within(values: pa.ChunkedArray | pa.Array, low: Any, high: Any) -> bool:
    if len(values) == 0:
        return True
    bounds = pc.min_max(values)
    smallest, largest = bounds["min"].as_py(), bounds["max"].as_py()
    return (low is None or smallest >= low) and (high is None or largest <= high)


def _has_nan(values: pa.ChunkedArray | pa.Array) -> bool:
    return pa.types.is_floating(values.type) and len(values) > 0 and bool(pc.any(pc.is_nan(values)).as_py())


def _condition_rows(condition: dict | None, table: pa.Table) -> pa.ChunkedArray | bool | None:
    """True (all rows), the rows a `Column(x) == value` condition selects, or None (other forms)."""
    if not condition:
        return True
    if condition.get("type") != "comparison" or condition.get("operator") != "==":
        return None
    name = (condition.get("column") or {}).get("name")
    if name not in table.column_names:
        return None
    selected = pc.equal(table.column(name), pa.scalar(condition.get("parameter")).cast(table.schema.field(name).type))
    return pc.fill_null(selected, False)
