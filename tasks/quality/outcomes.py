"""The values a suite run finds, before any wording: one `ExpectationOutcome` per expectation with
its offending rows (`RowExample`), and how values are shown (`format_value`, `cut_text`) and made
JSON-safe (`json_safe`). tasks/quality/messages.py words them; tasks/quality/result.py collects them."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_TEXT_CHARS = 120  # example values and GE's partial_unexpected_list: long texts are cut


def format_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return repr(cut_text(value, 60))
    return str(value)


def cut_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


MAX_LIST_ITEMS = 500  # longer lists (value sets) are cut


@dataclass(frozen=True)
class RowExample:
    """One offending row: `row` is the object's row number (input suites, and `part="input"`) or
    the row inside the output / quarantine part (`part="output"` / `"quarantine"`)."""

    row: int
    value: Any = None
    part: str | None = None
    id: Any = None

    def label(self) -> str:
        where = f"{self.part} row {self.row}" if self.part else f"row {self.row}"
        return where if self.id is None or self.part == "input" else f"{where} (id {format_value(self.id)})"


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str  # GE expectation type, e.g. "expect_column_values_to_not_be_null"
    column: str | None
    success: bool
    unexpected_count: int | None = None
    examples: tuple[RowExample, ...] = ()
    observed: Any = None
    settings: dict = field(default_factory=dict)  # min/max, value set, row condition, expected value...
    error: str | None = None  # the check could not run
    engine: str = "great_expectations"  # or "pyarrow" for checks GE's pandas backend cannot express

    def to_dict(self) -> dict:
        return json_safe(asdict(self))


def json_safe(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN/NA as null, long texts and lists cut,
    bytes as their size."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [json_safe(v) for v in value[:MAX_LIST_ITEMS]]
        return items + ([f"… {len(value) - MAX_LIST_ITEMS} more"] if len(value) > MAX_LIST_ITEMS else [])
    if isinstance(value, str):
        return cut_text(value)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if hasattr(value, "item"):  # numpy scalar
        try:
            return json_safe(value.item())
        except (TypeError, ValueError):
            pass
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)
