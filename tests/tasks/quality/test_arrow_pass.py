"""The Arrow pass checks what GE checks: on clean and corrupted shards, validating arrow-first
(the pass on the whole table, GE on what it finds) gives the same outcomes and messages as GE on
the whole frame; an expectation the pass does not know sends the shard to GE."""
import random

import pyarrow as pa
import pytest

from tasks.quality import InputSpec, OutputSpec, validate_input, validate_output
from tasks.quality.arrow_pass import UNSUPPORTED, precheck
from tasks.quality.suites import input_suite, output_suite, suite_of
from tasks.quality.validate import ARROW_FIRST, GE_FULL

SOURCE = "s3://bucket/in/a.parquet rows 0–400"
IN_SPEC = InputSpec(id_column="id", text_column="text", language_column="lang", allowed_languages=("de", "en"),
                    min_text_chars=2, max_text_chars=40, expected_columns={"id": "int64"})
OUT_SPEC = OutputSpec.for_translation()
N = 400


def input_table(edits: dict) -> pa.Table:
    columns = {"id": list(range(N)), "text": [f"Satz {i}" for i in range(N)], "lang": ["de"] * N}
    for (name, row), value in edits.items():
        columns[name][row] = value
    return pa.table({"id": pa.array(columns["id"], pa.int64()), "text": pa.array(columns["text"], pa.string()),
                     "lang": pa.array(columns["lang"], pa.string())})


def output_tables(edits: dict) -> tuple[pa.Table, pa.Table]:
    kept = N - 10
    columns = {"id": list(range(N)), "translation": [f"S {i}" for i in range(kept)] + [None] * 10,
               "status": ["ok"] * (kept - 3) + ["skipped_empty"] * 3 + ["failed"] * 10,
               "logprob": [-0.5] * kept + [None] * 10, "hallucination_score": [0.2] * kept + [None] * 10}
    for (name, row), value in edits.items():
        columns[name][row] = value
    table = pa.table({"id": pa.array(columns["id"], pa.int64()), "translation": pa.array(columns["translation"]),
                      "status": pa.array(columns["status"]), "logprob": pa.array(columns["logprob"], pa.float32()),
                      "hallucination_score": pa.array(columns["hallucination_score"], pa.float32())})
    return table.slice(0, kept), table.slice(kept)


def same(a, b):
    assert a.success == b.success
    assert a.message() == b.message()
    assert [(o.expectation, o.column, o.success, o.unexpected_count, o.examples) for o in a.outcomes] == \
           [(o.expectation, o.column, o.success, o.unexpected_count, o.examples) for o in b.outcomes]


INPUT_CASES = [
    {}, {("id", 3): None}, {("id", 9): 5}, {("text", 7): "x" * 41}, {("text", 8): "a"}, {("text", 9): " "},
    {("text", 10): None}, {("lang", 11): "xx"}, {("lang", 12): None}, {("lang", 13): "EN"},
    {("id", 1): None, ("id", 2): 4, ("text", 5): "y" * 99, ("lang", 6): "fr"},
]


@pytest.mark.parametrize("edits", INPUT_CASES)
def test_input_suite_same_outcomes_both_ways(edits):
    table = input_table(edits)
    fast, full = (validate_input(table, IN_SPEC, SOURCE, row_offset=1000, mode=m) for m in (ARROW_FIRST, GE_FULL))
    same(fast, full)
    assert fast.success == (not edits or edits in ({("text", 9): " "}, {("text", 10): None}, {("lang", 12): None}))


OUTPUT_CASES = [
    {}, {("id", 2): None}, {("id", 4): 3}, {("id", 395): 1}, {("status", 7): None}, {("status", 8): "weird"},
    {("translation", 9): None}, {("translation", 388): None}, {("logprob", 10): 0.5},
    {("hallucination_score", 11): 1.5}, {("hallucination_score", 12): -0.1},
    {("hallucination_score", 13): float("nan")},
    {("logprob", 14): float("nan")},
]


@pytest.mark.parametrize("edits", OUTPUT_CASES)
def test_output_suite_same_outcomes_both_ways(edits):
    output, quarantine = output_tables(edits)
    ids = pa.array(range(N), pa.int64())
    fast, full = (validate_output(output, quarantine, N, OUT_SPEC, SOURCE, input_ids=ids, mode=m)
                  for m in (ARROW_FIRST, GE_FULL))
    same(fast, full)


def test_row_count_and_random_corruptions():
    output, quarantine = output_tables({})
    for rows_in in (N, N + 1):
        fast, full = (validate_output(output, quarantine, rows_in, OUT_SPEC, SOURCE, mode=m)
                      for m in (ARROW_FIRST, GE_FULL))
        same(fast, full)
    rng = random.Random(7)
    for _ in range(6):
        edits = {}
        for _ in range(rng.randint(1, 3)):
            name = rng.choice(["id", "text", "lang"])
            value = {"id": rng.choice([None, 1, 2]), "text": rng.choice([None, "", "q", "z" * 50]),
                     "lang": rng.choice([None, "en", "xx"])}[name]
            edits[(name, rng.randrange(N))] = value
        table = input_table(edits)
        same(validate_input(table, IN_SPEC, SOURCE, mode=ARROW_FIRST),
             validate_input(table, IN_SPEC, SOURCE, mode=GE_FULL))


def test_a_passing_shard_is_not_handed_to_ge():
    result = validate_input(input_table({}), IN_SPEC, SOURCE, mode=ARROW_FIRST)
    document = result.to_json_dict()
    assert result.success and document["ge_rows"] == 0
    assert document["great_expectations"]["meta"]["sentinel_arrow_pass"]["table_rows"] == N
    assert document["great_expectations"]["statistics"]["evaluated_expectations"] == 5
    output, quarantine = output_tables({})
    out = validate_output(output, quarantine, N, OUT_SPEC, SOURCE, mode=ARROW_FIRST)
    [count] = [o for o in out.outcomes if o.expectation == "expect_table_row_count_to_equal"]
    assert out.success and count.settings["value"] == N
    failing = validate_input(input_table({("id", 3): None}), IN_SPEC, SOURCE, mode=ARROW_FIRST)
    assert failing.to_json_dict()["ge_rows"] == N  # anything found: GE sees the whole shard


@pytest.mark.parametrize("edits", [{}, {("id", 3): None}])
def test_passing_outcomes_show_what_ge_shows(edits):
    """Settings and document of the Arrow-only pass are GE's own for the same suite: compared with
    ge-full on a passing shard (every outcome) and on a failing one (the passing outcomes)."""
    table = input_table(edits)
    fast, full = (validate_input(table, IN_SPEC, SOURCE, mode=m) for m in (ARROW_FIRST, GE_FULL))
    passing = [o for o in full.outcomes if o.success]
    assert [o for o in fast.outcomes if o.success][:len(passing)] == passing or edits
    if not edits:
        assert fast.outcomes == full.outcomes
        gx_configs = [r["expectation_config"] for r in full.gx_result["results"]]
        ours = [r["expectation_config"] for r in fast.gx_result["results"]]
        assert [(c["type"], {k: v for k, v in c["kwargs"].items() if k != "batch_id"}) for c in gx_configs] == \
               [(c["type"], c["kwargs"]) for c in ours]
    output, quarantine = output_tables({})
    fast, full = (validate_output(output, quarantine, N, OUT_SPEC, SOURCE, mode=m) for m in (ARROW_FIRST, GE_FULL))
    assert fast.outcomes == full.outcomes


def test_passing_shards_do_not_import_great_expectations():
    import subprocess
    import sys

    script = ("import sys, pyarrow as pa; from tasks.quality import InputSpec, OutputSpec, validate_input, "
              "validate_output\n"
              "t = pa.table({'id': [1, 2], 'text': ['a b', 'c d']})\n"
              "assert validate_input(t, InputSpec(id_column='id', text_column='text'), 's').success\n"
              "o = pa.table({'id': [1, 2], 'translation': ['x', 'y'], 'status': ['ok', 'ok']})\n"
              "assert validate_output(o, None, 2, OutputSpec(), 's').success\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] == 'great_expectations'))")
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_unknown_expectations_and_kwargs_go_to_ge():
    table = input_table({})
    suite = suite_of("t", [("expect_column_values_to_not_be_null", {"column": "id", "mostly": 0.9}),
                           ("expect_column_values_to_match_regex", {"column": "text", "regex": "^Satz"}),
                           ("expect_column_values_to_be_unique", {"column": "id"})])
    assert precheck(suite, table) == {0: UNSUPPORTED, 1: UNSUPPORTED}


def test_suites_of_the_flows_are_fully_covered():
    present_in = frozenset(["id", "text", "lang"])
    assert precheck(input_suite(IN_SPEC, present_in, True), input_table({})) == {}
    output, quarantine = output_tables({})
    combined = pa.concat_tables([output, quarantine])
    suite = output_suite(OUT_SPEC, frozenset(combined.column_names))
    assert precheck(suite, combined, {"rows_in": N}) == {}
