"""The expectation suites, as plain data: each expectation is GE's expectation type and the kwargs
GE's configuration holds, so the Arrow pass (tasks/quality/arrow_pass.py) can check a shard
without importing GE, and `tasks.quality.engine.gx_suite` builds the same GE ExpectationSuite when
GE must look (a shard the pass finds anything in, or ge-full).

Suites are built once per spec and cached (keyed on the spec and on which of its columns the table
has: expectations on a missing column are left out, the schema expectation reports it)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from tasks.quality.specs import InputSpec, OutputSpec

ROWS_IN_PARAMETER = "rows_in"

_cache: dict[tuple, Suite] = {}
_lock = threading.Lock()


@dataclass(frozen=True, eq=False)
class Expectation:
    """One expectation: GE's type (e.g. "expect_column_values_to_not_be_null") and configuration
    kwargs; `position` is its place in the suite (GE does not keep the order)."""

    type: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    position: int = 0

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")

    def kwargs_with(self, parameters: dict) -> dict[str, Any]:
        """The kwargs with suite parameters ({"$PARAMETER": name}) filled in, as GE evaluates and shows
        them; a parameter not given stays as it is."""
        return {k: parameters.get(v["$PARAMETER"], v) if isinstance(v, dict) and "$PARAMETER" in v else v
                for k, v in self.kwargs.items()}


@dataclass(frozen=True, eq=False)
class Suite:
    name: str
    expectations: tuple[Expectation, ...]


def suite_of(name: str, expectations: list[tuple[str, dict]]) -> Suite:
    return Suite(name, tuple(Expectation(kind, kwargs, index) for index, (kind, kwargs) in enumerate(expectations)))


def _cached(key: tuple, build) -> Suite:
    with _lock:
        if key not in _cache:
            _cache[key] = build()
        return _cache[key]


def input_suite(spec: InputSpec, present: frozenset[str], text_is_string: bool) -> Suite:
    key = ("input", spec.model_dump_json(), present, text_is_string)
    return _cached(key, lambda: suite_of(spec.suite_name, input_expectations(spec, present, text_is_string)))


def input_expectations(spec: InputSpec, present: frozenset[str], text_is_string: bool) -> list[tuple[str, dict]]:
    found = [("expect_table_columns_to_match_set", {"column_set": list(spec.required_columns), "exact_match": False})]
    if spec.id_column in present:
        found += [("expect_column_values_to_not_be_null", {"column": spec.id_column}),
                  ("expect_column_values_to_be_unique", {"column": spec.id_column})]
    if spec.checks_text_length and spec.text_column in present and text_is_string:
        low = spec.min_text_chars if (spec.min_text_chars or 0) > 1 else None
        found.append(("expect_column_value_lengths_to_be_between",
                      _bounds({"column": spec.text_column}, low, spec.max_text_chars)))
    if spec.allowed_languages is not None and spec.language_column in present:
        found.append(("expect_column_values_to_be_in_set",
                      {"column": spec.language_column, "value_set": list(spec.allowed_languages)}))
    return found


def output_suite(spec: OutputSpec, present: frozenset[str]) -> Suite:
    key = ("output", spec.model_dump_json(), spec.unique_ids, present)
    return _cached(key, lambda: suite_of(spec.suite_name, output_expectations(spec, present)))


def output_expectations(spec: OutputSpec, present: frozenset[str]) -> list[tuple[str, dict]]:
    found = [("expect_table_columns_to_match_set", {"column_set": list(spec.required_columns), "exact_match": False}),
             ("expect_table_row_count_to_equal", {"value": {"$PARAMETER": ROWS_IN_PARAMETER}})]
    if spec.id_column in present:
        found.append(("expect_column_values_to_not_be_null", {"column": spec.id_column}))
        if spec.unique_ids:
            found.append(("expect_column_values_to_be_unique", {"column": spec.id_column}))
    if spec.status_column in present:
        found += [("expect_column_values_to_not_be_null", {"column": spec.status_column}),
                  ("expect_column_values_to_be_in_set",
                   {"column": spec.status_column, "value_set": list(spec.allowed_statuses)})]
        ok_rows = {"column": {"name": spec.status_column}, "operator": "==", "parameter": spec.ok_status,
                   "type": "comparison"}  # GE's form of Column(status) == ok_status
        found += [("expect_column_values_to_not_be_null", {"column": name, "row_condition": ok_rows})
                  for name in spec.ok_text_columns if name in present]
    found += [("expect_column_values_to_be_between", _bounds({"column": name}, 0.0, 1.0))
              for name in spec.score_columns if name in present]
    found += [("expect_column_values_to_be_between", _bounds({"column": name}, None, 0.0))
              for name in spec.logprob_columns if name in present]
    return found


def _bounds(kwargs: dict, low: Any, high: Any) -> dict:
    """GE leaves an unset bound out of the kwargs."""
    return kwargs | ({"min_value": low} if low is not None else {}) | ({"max_value": high} if high is not None else {})
