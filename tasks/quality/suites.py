"""The GE expectation suites, built from a spec once per process and cached (keyed on the spec
and on which of its columns the table has: expectations on a missing column are left out, the
schema expectation reports it)."""
from __future__ import annotations

from typing import Any

from tasks.quality.engine import GX_LOCK, POSITION_KEY, gx_engine
from tasks.quality.specs import InputSpec, OutputSpec

ROWS_IN_PARAMETER = "rows_in"

_cache: dict[tuple, Any] = {}


def _cached(key: tuple, build) -> Any:
    with GX_LOCK:
        if key not in _cache:
            gx_engine()  # imports GE quietly; GE wants an active context even for an unsaved suite
            _cache[key] = build()
        return _cache[key]


def _suite(name: str, expectations: list) -> Any:
    import great_expectations as gx

    for index, expectation in enumerate(expectations):
        expectation.meta = {**(expectation.meta or {}), POSITION_KEY: index}
    return gx.ExpectationSuite(name=name, expectations=expectations)


def input_suite(spec: InputSpec, present: frozenset[str], text_is_string: bool) -> Any:
    key = ("input", spec.model_dump_json(), present, text_is_string)
    return _cached(key, lambda: _suite(spec.suite_name, input_expectations(spec, present, text_is_string)))


def input_expectations(spec: InputSpec, present: frozenset[str], text_is_string: bool) -> list:
    from great_expectations import expectations as gxe

    found = [
        gxe.ExpectTableColumnsToMatchSet(column_set=spec.required_columns, exact_match=False),
    ]
    if spec.id_column in present:
        found += [gxe.ExpectColumnValuesToNotBeNull(column=spec.id_column),
                  gxe.ExpectColumnValuesToBeUnique(column=spec.id_column)]
    if spec.checks_text_length and spec.text_column in present and text_is_string:
        low = spec.min_text_chars if (spec.min_text_chars or 0) > 1 else None
        found.append(gxe.ExpectColumnValueLengthsToBeBetween(
            column=spec.text_column, min_value=low, max_value=spec.max_text_chars))
    if spec.allowed_languages is not None and spec.language_column in present:
        found.append(gxe.ExpectColumnValuesToBeInSet(
            column=spec.language_column, value_set=list(spec.allowed_languages)))
    return found


def output_suite(spec: OutputSpec, present: frozenset[str]) -> Any:
    key = ("output", spec.model_dump_json(), spec.unique_ids, present)
    return _cached(key, lambda: _suite(spec.suite_name, output_expectations(spec, present)))


def output_expectations(spec: OutputSpec, present: frozenset[str]) -> list:
    from great_expectations import expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    found = [
        gxe.ExpectTableColumnsToMatchSet(column_set=spec.required_columns, exact_match=False),
        gxe.ExpectTableRowCountToEqual(value={"$PARAMETER": ROWS_IN_PARAMETER}),
    ]
    if spec.id_column in present:
        found.append(gxe.ExpectColumnValuesToNotBeNull(column=spec.id_column))
        if spec.unique_ids:
            found.append(gxe.ExpectColumnValuesToBeUnique(column=spec.id_column))
    if spec.status_column in present:
        found += [gxe.ExpectColumnValuesToNotBeNull(column=spec.status_column),
                  gxe.ExpectColumnValuesToBeInSet(column=spec.status_column, value_set=list(spec.allowed_statuses))]
        ok_rows = Column(spec.status_column) == spec.ok_status
        found += [gxe.ExpectColumnValuesToNotBeNull(column=name, row_condition=ok_rows)
                  for name in spec.ok_text_columns if name in present]
    found += [gxe.ExpectColumnValuesToBeBetween(column=name, min_value=0, max_value=1)
              for name in spec.score_columns if name in present]
    found += [gxe.ExpectColumnValuesToBeBetween(column=name, max_value=0)
              for name in spec.logprob_columns if name in present]
    return found
