"""The output suite: output rows + quarantined rows = rows in, every input id exactly once, scores
and log-probs in range, statuses known, no null translation / transcript for ok rows."""
import pyarrow as pa
import pytest

from tasks.quality import OutputQualityError, OutputSpec, validate_output

SOURCE = "s3://bucket/in/a.parquet rows 0–5000"
SPEC = OutputSpec.for_translation()
N = 5000
QUARANTINED = 10  # the last rows are quarantined


def parts(n=N, quarantined=QUARANTINED):
    kept = n - quarantined
    ids = pa.array(range(n), pa.int64())
    table = pa.table({
        "id": ids, "source_text": [f"Satz {i}" for i in range(n)],
        "translation": [f"Sentence {i}" for i in range(kept)] + [None] * quarantined,
        "logprob": pa.array([-0.4] * kept + [None] * quarantined, pa.float32()),
        "status": ["ok"] * (kept - 5) + ["skipped_empty"] * 5 + ["failed"] * quarantined,
        "hallucination_score": pa.array([0.1] * kept + [None] * quarantined, pa.float32()),
    })
    return table.slice(0, kept), table.slice(kept), ids


def edit(table, column, edits):
    values = table.column(column).to_pylist()
    for row, value in edits.items():
        values[row] = value
    return table.set_column(table.column_names.index(column), column, pa.array(values, table.schema.field(column).type))


def test_clean_parts_pass():
    output, quarantine, ids = parts()
    result = validate_output(output, quarantine, N, SPEC, SOURCE, input_ids=ids)
    assert result.success, result.message()
    assert result.rows == N and result.suite == "translate-output"
    result.raise_for_failure()


def test_no_quarantine_part():
    output, _, ids = parts(quarantined=0)
    assert validate_output(output, None, N, SPEC, SOURCE, input_ids=ids).success


def test_row_count_mismatch_and_missing_ids():
    output, quarantine, ids = parts()
    result = validate_output(output, quarantine.slice(0, 7), N, SPEC, SOURCE, input_ids=ids, input_row_offset=20_000)
    assert not result.success
    message = result.message()
    assert message.startswith(f"{SOURCE}: 4997 rows in output + quarantine, expected 5000 (rows in)")
    assert "column 'id' has 3 input ids in neither output nor quarantine " \
           "(input row 24997: 4997, input row 24998: 4998, input row 24999: 4999)" in message
    with pytest.raises(OutputQualityError, match="expected 5000"):
        result.raise_for_failure()


def test_duplicated_id_across_output_and_quarantine():
    output, quarantine, ids = parts()
    quarantine = edit(quarantine, "id", {0: 3})  # id 3 is also output row 3; id 4990 is now missing
    result = validate_output(output, quarantine, N, SPEC, SOURCE, input_ids=ids)
    message = result.message()
    assert "column 'id' has 2 duplicate values (output row 3 (id 3): 3, quarantine row 0 (id 3): 3)" in message
    assert "1 input id in neither output nor quarantine (input row 4990: 4990)" in message


def test_ids_that_are_not_input_ids_and_null_ids():
    output, quarantine, ids = parts()
    output = edit(output, "id", {0: 99_999, 1: None})
    result = validate_output(output, quarantine, N, SPEC, SOURCE, input_ids=ids)
    message = result.message()
    assert "column 'id' has 1 null value (output row 1)" in message
    assert "1 id not among the input ids (output row 0: 99999)" in message
    assert "2 input ids in neither output nor quarantine (input row 0: 0, input row 1: 1)" in message


def test_without_input_ids_only_counts_and_uniqueness():
    output, quarantine, _ = parts()
    output = edit(output, "id", {0: 99_999})
    result = validate_output(output, quarantine, N, SPEC, SOURCE)
    assert result.success
    assert not any(o.engine == "pyarrow" for o in result.outcomes)


def test_scores_and_logprobs_out_of_range():
    output, quarantine, ids = parts()
    output = edit(output, "hallucination_score", {4: 1.5, 6: -0.25})
    output = edit(output, "logprob", {8: 0.75})
    result = validate_output(output, quarantine, N, SPEC, SOURCE, input_ids=ids)
    assert result.message() == (
        f"{SOURCE}: column 'hallucination_score' has 2 values outside [0, 1] "
        "(output row 4 (id 4): 1.5, output row 6 (id 6): -0.25) and column 'logprob' has 1 value above 0 "
        "(output row 8 (id 8): 0.75)").replace(") and column", "); column")


def test_null_translation_only_counts_for_ok_rows():
    output, quarantine, ids = parts()
    output = edit(output, "translation", {2: None, 4989: None})  # row 4989 is skipped_empty: allowed
    result = validate_output(output, quarantine, N, SPEC, SOURCE, input_ids=ids)
    assert result.message() == f"{SOURCE}: column 'translation' has 1 null value where status == 'ok' (output row 2 (id 2))"


def test_unknown_and_null_status():
    output, quarantine, ids = parts()
    output = edit(output, "status", {0: "done", 1: None})
    message = validate_output(output, quarantine, N, SPEC, SOURCE, input_ids=ids).message()
    assert "column 'status' has 1 null value (output row 1 (id 1)) and 1 value not in " \
           "{'ok', 'skipped_empty', 'failed', 'flagged'} (output row 0 (id 0): 'done')" in message


def test_missing_required_column():
    output, quarantine, ids = parts()
    result = validate_output(output.drop_columns(["translation"]), quarantine.drop_columns(["translation"]), N, SPEC,
                             SOURCE, input_ids=ids)
    assert result.message().startswith(f"{SOURCE}: missing column 'translation'")


def test_transcription_spec_checks_transcript_and_asr_scores():
    n = 4
    output = pa.table({
        "id": ["a", "b", "c", "d"], "transcript": ["hallo", None, "", "welt"],
        "avg_logprob": pa.array([-0.2, None, 0.1, -0.3], pa.float32()),
        "no_speech_prob": pa.array([0.1, 0.2, 1.2, 0.0], pa.float32()),
        "status": ["ok", "ok", "skipped_empty", "ok"],
    })
    result = validate_output(output, None, n, OutputSpec.for_transcription(), SOURCE, input_ids=pa.array(["a", "b", "c", "d"]))
    assert result.suite == "transcribe-output"
    message = result.message()
    assert "column 'transcript' has 1 null value where status == 'ok' (output row 1 (id 'b'))" in message
    assert "column 'avg_logprob' has 1 value above 0 (output row 2 (id 'c'): 0.1)" in message
    assert "column 'no_speech_prob' has 1 value outside [0, 1] (output row 2 (id 'c'): 1.2)" in message
    both = OutputSpec.for_transcription(with_translation=True)
    assert both.ok_text_columns == ("transcript", "translation")
    assert "translation_logprob" in both.logprob_columns


def test_absent_score_columns_are_not_checked():
    output, quarantine, ids = parts()
    output, quarantine = (t.drop_columns(["hallucination_score"]) for t in (output, quarantine))
    assert validate_output(output, quarantine, N, SPEC, SOURCE, input_ids=ids).success
