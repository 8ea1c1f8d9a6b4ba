"""Validate one shard: `validate_input` before inference, `validate_output` after processing.

    result = validate_input(table, InputSpec(id_column="id", text_column="text"), "s3://b/k rows 0–5000",
                            row_offset=0)
    result.raise_for_failure()          # InputQualityError (an InputError) naming object, column, rows
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tasks.quality.arrow_pass import precheck
from tasks.quality.engine import PARTIAL_UNEXPECTED_COUNT, POSITION_KEY, run_suite
from tasks.quality.frames import input_columns, is_string_type, output_parts_table, part_row, to_frame
from tasks.quality.outcomes import ExpectationOutcome, RowExample, json_safe
from tasks.quality.result import QualityResult
from tasks.quality.specs import InputSpec, OutputSpec
from tasks.quality.suites import ROWS_IN_PARAMETER, Suite, input_suite, output_suite

RowLabeler = Callable[[int, Any], RowExample]  # (frame index, value) -> example
LENGTHS = "expect_column_value_lengths_to_be_between"

# How a shard is validated (docs/data_quality.md, "Cost"):
#   arrow-first  the Arrow pass (tasks/quality/arrow_pass.py) checks every expectation on the whole
#                table; a shard it finds anything in goes to GE whole (GE's full result, as
#                ge-full); a shard it finds nothing in has passed, and GE is not imported.
#   ge-full      GE on the whole shard, every time.
ARROW_FIRST, GE_FULL = "arrow-first", "ge-full"
MODE_VARIABLE = "SENTINEL_QUALITY_MODE"


def quality_mode(mode: str | None = None) -> str:
    mode = mode or os.environ.get(MODE_VARIABLE) or ARROW_FIRST
    if mode not in (ARROW_FIRST, GE_FULL):
        raise ValueError(f"{MODE_VARIABLE}={mode!r}: choose {ARROW_FIRST} or {GE_FULL}")
    return mode


def run_checked(suite: Suite, table: pa.Table, first_row: int, parameters: dict, mode: str | None,
                label: RowLabeler) -> tuple[list[ExpectationOutcome], dict, int]:
    """(outcomes in suite order, the JSON document, rows GE validated) for `table` (the suite's
    columns, Arrow). A shard the Arrow pass finds nothing in has passed without GE (the document
    says so); any other goes to GE whole, and GE's result is the shard's."""
    if quality_mode(mode) == ARROW_FIRST and not precheck(suite, table, parameters):
        outcomes = [ExpectationOutcome(expectation=e.type, column=e.column, success=True,
                                       settings=json_safe(shown_settings(e.kwargs_with(parameters))))
                    for e in suite.expectations]
        return outcomes, arrow_pass_document(suite, table.num_rows, parameters), 0
    gx_result = run_suite(to_frame(table, first_row), suite, parameters or None)
    return gx_outcomes(gx_result, label), json_safe(gx_result.to_json_dict()), table.num_rows


def arrow_pass_document(suite: Suite, rows: int, parameters: dict) -> dict:
    """A passing shard's document, shaped as GE's validation result (results, statistics, meta)."""
    results = [{"success": True, "result": {}, "expectation_config": {
        "type": e.type, "kwargs": json_safe(e.kwargs_with(parameters)), "meta": {POSITION_KEY: e.position}}}
        for e in suite.expectations]
    count = len(results)
    return {"success": True, "suite_name": suite.name, "results": results,
            "statistics": {"evaluated_expectations": count, "successful_expectations": count,
                           "unsuccessful_expectations": 0, "success_percent": 100.0},
            "meta": {"sentinel_arrow_pass": {"table_rows": rows, "parameters": parameters,
                     "note": "every expectation checked on the whole table by the Arrow pass "
                             "(tasks/quality/arrow_pass.py), which found nothing: GE was not run"}}}


def shown_settings(kwargs: dict) -> dict:
    """What an outcome shows of its expectation's kwargs (parameters filled in): not the column or
    GE's batch id, a row condition in words."""
    settings = {k: v for k, v in kwargs.items() if k not in ("batch_id", "column")}
    if isinstance(settings.get("row_condition"), dict):
        settings["row_condition"] = describe_condition(settings["row_condition"])
    return settings


def validate_input(table: pa.Table, spec: InputSpec, source: str, row_offset: int = 0,
                   mode: str | None = None) -> QualityResult:
    """Check a shard's input columns. `source` names the shard in messages (e.g.
    "s3://bucket/key rows 0–5000"); `row_offset` is the object row of the table's first row, so
    reported rows are the object's (0-based) rows. `mode`: ARROW_FIRST (default, or
    $SENTINEL_QUALITY_MODE) or GE_FULL; both give the same outcomes."""
    started = time.perf_counter()
    present = frozenset(table.column_names)
    text_is_string = spec.text_column in present and is_string_type(table.schema.field(spec.text_column).type)
    suite = input_suite(spec, present, text_is_string)
    outcomes, document, checked = run_checked(suite, input_columns(table, spec), row_offset, {}, mode,
                                              lambda index, value: RowExample(row=int(index), value=value))
    outcomes = table_level_first(outcomes + column_type_outcomes(table.schema, spec))
    return _result(spec.suite_name, "input", source, table.num_rows, outcomes, document, started, checked)


def validate_output(output: pa.Table, quarantine: pa.Table | None, rows_in: int, spec: OutputSpec, source: str,
                    input_ids: pa.Array | pa.ChunkedArray | None = None, input_row_offset: int = 0,
                    mode: str | None = None) -> QualityResult:
    """Check a shard's output part and quarantine part together against the `rows_in` input rows.
    With `input_ids` (the shard's input id column) every input id must appear exactly once across
    both parts; `input_row_offset` is the object row of the first input id (for messages).
    Rows are reported as 'output row N' / 'quarantine row N' (0-based, inside the part) with the id."""
    started = time.perf_counter()
    combined = output_parts_table(output, quarantine, spec)
    present = frozenset(combined.column_names)
    parameters = {ROWS_IN_PARAMETER: rows_in}
    outcomes, document, checked = run_checked(output_suite(spec, present), combined, 0, parameters, mode,
                                              output_row_labeler(combined, spec, output.num_rows))
    outcomes = table_level_first(outcomes)
    if input_ids is not None and spec.id_column in present:
        outcomes += id_coverage_outcomes(combined.column(spec.id_column), input_ids, output.num_rows,
                                         spec.id_column, input_row_offset)
    return _result(spec.suite_name, "output", source, combined.num_rows, outcomes, document, started, checked)


def _result(suite: str, kind: str, source: str, rows: int, outcomes: list[ExpectationOutcome], document: dict,
            started: float, checked: int) -> QualityResult:
    return QualityResult(suite=suite, kind=kind, source=source, success=all(o.success for o in outcomes),
                         rows=rows, outcomes=outcomes, seconds=time.perf_counter() - started,
                         gx_result=document, gx_rows=checked)


def output_row_labeler(combined: pa.Table, spec: OutputSpec, output_rows: int) -> RowLabeler:
    ids: list = []

    def label(position: int, value: Any) -> RowExample:
        if not ids and spec.id_column in combined.column_names:
            ids.extend(combined.column(spec.id_column).to_pylist())
        part, row = part_row(int(position), output_rows)
        return RowExample(row=row, value=value, part=part, id=ids[position] if ids else None)

    return label


# ---- GE results to outcomes -------------------------------------------------------------------

def gx_outcomes(gx_result: Any, label: RowLabeler) -> list[ExpectationOutcome]:
    return [gx_outcome(r, label) for r in gx_result.results]


def gx_outcome(r: Any, label: RowLabeler) -> ExpectationOutcome:
    config = r.expectation_config
    kwargs = dict(config.kwargs)
    settings = shown_settings(kwargs)
    result = r.result or {}
    values = list(result.get("partial_unexpected_list") or [])
    indexes = list(result.get("partial_unexpected_index_list") or [])
    examples = []
    for index, value in zip(indexes, values):
        if config.type == LENGTHS and isinstance(value, str):
            value = len(value)  # the message reports lengths, not texts
        examples.append(label(index, json_safe(value)))
    return ExpectationOutcome(
        expectation=config.type, column=kwargs.get("column"), success=bool(r.success),
        unexpected_count=result.get("unexpected_count"), examples=tuple(examples[:PARTIAL_UNEXPECTED_COUNT]),
        observed=json_safe(result.get("observed_value")), settings=json_safe(settings),
        error=exception_message(r.exception_info))


def table_level_first(outcomes: list[ExpectationOutcome]) -> list[ExpectationOutcome]:
    """Schema and row-count outcomes first, then type checks, then value checks (GE does not keep
    the suite's order)."""
    def rank(o: ExpectationOutcome) -> int:
        return 0 if o.column is None else 1 if o.expectation == "expect_column_values_to_be_of_type" else 2
    return sorted(outcomes, key=rank)


def describe_condition(condition: dict) -> str:
    try:
        return f"{condition['column']['name']} {condition['operator']} {condition['parameter']!r}"
    except (KeyError, TypeError):
        return str(condition)


def exception_message(info: Any) -> str | None:
    """GE puts one exception_info per expectation, or one per metric keyed by metric id."""
    if not isinstance(info, dict):
        return None
    infos = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for item in infos:
        if item.get("raised_exception"):
            return str(item.get("exception_message") or "exception")
    return None


# ---- checks GE's pandas backend cannot express ------------------------------------------------

def column_type_outcomes(schema: pa.Schema, spec: InputSpec) -> list[ExpectationOutcome]:
    """Arrow types (GE's pandas backend only sees pandas dtypes): `expected_columns` types, and
    the text column must be a string."""
    expected = {name: kinds for name, kinds in spec.expected_columns.items() if kinds}
    if spec.text_column and spec.text_column not in expected:
        expected[spec.text_column] = "string|large_string|string_view|null"  # null: an all-null column
    outcomes = []
    for name, kinds in expected.items():
        if name not in schema.names:
            continue  # the columns expectation reports it
        observed = str(schema.field(name).type)
        outcomes.append(ExpectationOutcome(
            expectation="expect_column_values_to_be_of_type", column=name, success=observed in kinds.split("|"),
            observed=observed, settings={"type_": kinds.replace("|", " or ")}, engine="pyarrow"))
    return outcomes


def id_coverage_outcomes(output_ids: pa.ChunkedArray, input_ids: pa.Array | pa.ChunkedArray, output_rows: int,
                         id_column: str, input_row_offset: int) -> list[ExpectationOutcome]:
    """Every output/quarantine id is an input id, every input id is in output or quarantine."""
    if isinstance(input_ids, pa.ChunkedArray):
        input_ids = input_ids.combine_chunks()
    output_ids = output_ids.combine_chunks()
    try:
        input_ids = input_ids.cast(output_ids.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        return [ExpectationOutcome(expectation="expect_ids_to_be_input_ids", column=id_column, success=False,
                                   error=f"input ids of type {input_ids.type}, output ids {output_ids.type}: {exc}",
                                   engine="pyarrow")]
    unknown = _not_in(output_ids, input_ids)
    missing = _not_in(input_ids, output_ids)
    unknown_examples = tuple(_part_example(i, output_rows, json_safe(output_ids[i].as_py()))
                             for i in unknown[:PARTIAL_UNEXPECTED_COUNT])
    missing_examples = tuple(RowExample(row=input_row_offset + i, value=json_safe(input_ids[i].as_py()), part="input")
                             for i in missing[:PARTIAL_UNEXPECTED_COUNT])
    return [
        ExpectationOutcome(expectation="expect_ids_to_be_input_ids", column=id_column, success=not unknown,
                           unexpected_count=len(unknown), examples=unknown_examples, engine="pyarrow"),
        ExpectationOutcome(expectation="expect_input_ids_in_output_or_quarantine", column=id_column,
                           success=not missing, unexpected_count=len(missing), examples=missing_examples,
                           engine="pyarrow"),
    ]


def _part_example(position: int, output_rows: int, value: Any) -> RowExample:
    part, row = part_row(position, output_rows)
    return RowExample(row=row, value=value, part=part)


def _not_in(values: pa.Array, allowed: pa.Array) -> list[int]:
    """Positions of non-null `values` not in `allowed`."""
    outside = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=allowed.drop_null())))
    return pc.indices_nonzero(outside).to_pylist()
