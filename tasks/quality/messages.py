"""One clear line for a failed suite: the failed expectations grouped by column, each with its
count and first offending rows, e.g.

    column 'id' has 3 null values (rows 17, 18, 40) and 2 duplicate values (row 5: 9, row 9: 9)
"""
from __future__ import annotations

from tasks.quality.outcomes import ExpectationOutcome, RowExample, format_value


def describe_failures(failures: list[ExpectationOutcome]) -> str:
    table_level = [describe(o) for o in failures if o.column is None]
    by_column: dict[str, list[str]] = {}
    for outcome in failures:
        if outcome.column is not None:
            by_column.setdefault(outcome.column, []).append(describe(outcome))
    column_level = [f"column {name!r} has {' and '.join(parts)}" for name, parts in by_column.items()]
    return "; ".join(table_level + column_level)


def describe(o: ExpectationOutcome) -> str:
    if o.error:
        return f"an error in {o.expectation} ({o.error})" if o.column else f"{o.expectation} could not run ({o.error})"
    phrase = _PHRASES.get(o.expectation)
    text = phrase(o) if phrase else f"failed {o.expectation}"
    return f"{text} {_rows(o)}".rstrip()


def _count(o: ExpectationOutcome, singular: str, plural: str | None = None) -> str:
    n = o.unexpected_count or 0
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _rows(o: ExpectationOutcome) -> str:
    """'(rows 17, 18, 40)' or '(row 5: 9, row 9: 9, …)': first offending rows and their values."""
    if not o.examples:
        return ""
    more = ", …" if (o.unexpected_count or 0) > len(o.examples) else ""
    plain = all(e.part is None and e.id is None for e in o.examples)
    if o.expectation == "expect_column_values_to_not_be_null":
        if plain:
            rows = "rows" if len(o.examples) > 1 or more else "row"
            return f"({rows} {', '.join(str(e.row) for e in o.examples)}{more})"
        return f"({', '.join(e.label() for e in o.examples)}{more})"
    return f"({', '.join(_example(o, e) for e in o.examples)}{more})"


def _example(o: ExpectationOutcome, e: RowExample) -> str:
    if o.expectation == "expect_column_value_lengths_to_be_between":
        return f"{e.label()}: {e.value} characters"
    return f"{e.label()}: {format_value(e.value)}"


def _set(values) -> str:
    if isinstance(values, str):
        return values
    values = list(values or [])
    shown = ", ".join(format_value(v) for v in values[:12])
    return "{" + shown + (f", … {len(values) - 12} more" if len(values) > 12 else "") + "}"


def _bounds(o: ExpectationOutcome) -> str:
    low, high = o.settings.get("min_value"), o.settings.get("max_value")
    if low is None:
        return f"above {format_value(high)}"
    if high is None:
        return f"below {format_value(low)}"
    return f"outside [{format_value(low)}, {format_value(high)}]"


def _lengths(o: ExpectationOutcome) -> str:
    low, high = o.settings.get("min_value"), o.settings.get("max_value")
    if low is None:
        bound = f"longer than {high} characters"
    elif high is None:
        bound = f"shorter than {low} characters"
    else:
        bound = f"outside {low}–{high} characters"
    return f"{_count(o, 'text')} {bound}"


def _not_null(o: ExpectationOutcome) -> str:
    where = o.settings.get("row_condition")
    return _count(o, "null value") + (f" where {where}" if where else "")


def _missing_columns(o: ExpectationOutcome) -> str:
    expected = list(o.settings.get("column_set") or [])
    observed = list(o.observed or [])
    missing = [c for c in expected if c not in observed]
    return (f"missing column{'s' if len(missing) != 1 else ''} {', '.join(map(repr, missing))} "
            f"(columns: {', '.join(map(repr, observed)) or 'none'})")


_PHRASES = {
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_unique": lambda o: _count(o, "duplicate value"),
    "expect_column_value_lengths_to_be_between": _lengths,
    "expect_column_values_to_be_in_set":
        lambda o: f"{_count(o, 'value')} not in {_set(o.settings.get('value_set'))}",
    "expect_column_values_to_be_between": lambda o: f"{_count(o, 'value')} {_bounds(o)}",
    "expect_column_values_to_be_of_type":
        lambda o: f"type {o.observed}, expected {o.settings.get('type_')}",
    "expect_table_columns_to_match_set": _missing_columns,
    "expect_table_row_count_to_equal":
        lambda o: f"{o.observed} rows in output + quarantine, expected {o.settings.get('value')} (rows in)",
    "expect_ids_to_be_input_ids": lambda o: _count(o, "id") + " not among the input ids",
    "expect_input_ids_in_output_or_quarantine":
        lambda o: _count(o, "input id") + " in neither output nor quarantine",
}
