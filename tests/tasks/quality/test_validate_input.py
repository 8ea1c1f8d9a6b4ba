"""The input suite: schema, ids, text length bounds, languages, audio column; messages name the
source, the column and the object's rows."""
import pyarrow as pa
import pytest

from tasks.io.parquet import InputError
from tasks.quality import InputQualityError, InputSpec, validate_input

SOURCE = "s3://bucket/in/a.parquet rows 0–5000"
SPEC = InputSpec(id_column="id", text_column="text", language_column="lang", allowed_languages=("de", "en"),
                 max_text_chars=100, expected_columns={"id": "int64"})


def shard(n=5000, **changes):
    columns = {"id": pa.array(range(n), pa.int64()), "text": [f"Satz {i}" for i in range(n)], "lang": ["de"] * n}
    for name, edits in changes.items():
        values = columns[name].to_pylist() if isinstance(columns[name], pa.Array) else list(columns[name])
        for row, value in edits.items():
            values[row] = value
        columns[name] = pa.array(values, columns[name].type if isinstance(columns[name], pa.Array) else None)
    return pa.table(columns)


def outcome(result, expectation, column):
    [found] = [o for o in result.outcomes if o.expectation == expectation and o.column == column]
    return found


def test_clean_shard_passes():
    result = validate_input(shard(), SPEC, SOURCE)
    assert result.success, result.message()
    assert result.rows == 5000 and not result.failures
    assert result.message() == f"{SOURCE}: input suite passed ({len(result.outcomes)} expectations, 5000 rows)"
    result.raise_for_failure()


def test_null_and_duplicate_ids_name_column_and_rows():
    result = validate_input(shard(id={17: None, 18: None, 40: None, 9: 5}), SPEC, SOURCE)
    assert not result.success
    assert f"{SOURCE}: column 'id' has 3 null values (rows 17, 18, 40) and 2 duplicate values " \
           "(row 5: 5, row 9: 5)" == result.message()
    nulls = outcome(result, "expect_column_values_to_not_be_null", "id")
    assert nulls.unexpected_count == 3 and [e.row for e in nulls.examples] == [17, 18, 40]
    dupes = outcome(result, "expect_column_values_to_be_unique", "id")
    assert [(e.row, e.value) for e in dupes.examples] == [(5, 5), (9, 5)]  # ids stay ints with nulls around


def test_row_offset_reports_object_rows():
    result = validate_input(shard(id={3: None}), SPEC, "s3://bucket/in/a.parquet rows 10000–15000", row_offset=10_000)
    assert "column 'id' has 1 null value (row 10003)" in result.message()
    assert result.message().startswith("s3://bucket/in/a.parquet rows 10000–15000: ")


def test_text_length_bounds_skip_null_and_blank_texts():
    long_text = "x" * 250
    result = validate_input(shard(text={7: long_text, 8: None, 9: "", 10: "   "}), SPEC, SOURCE)
    assert result.message() == f"{SOURCE}: column 'text' has 1 text longer than 100 characters (row 7: 250 characters)"
    spec = SPEC.model_copy(update={"min_text_chars": 3, "max_text_chars": None})
    short = validate_input(shard(text={4: "ab", 8: None, 9: ""}), spec, SOURCE)
    assert "column 'text' has 1 text shorter than 3 characters (row 4: 2 characters)" in short.message()


def test_no_length_bounds_means_no_length_check():
    spec = InputSpec(text_column="text")
    result = validate_input(shard(text={1: "y" * 100_000}), spec, SOURCE)
    assert result.success
    assert not any(o.expectation == "expect_column_value_lengths_to_be_between" for o in result.outcomes)


def test_language_codes_outside_the_allowed_set():
    result = validate_input(shard(lang={12: "xx", 13: None, 99: "EN"}), SPEC, SOURCE)
    assert result.message() == f"{SOURCE}: column 'lang' has 2 values not in {{'de', 'en'}} (row 12: 'xx', row 99: 'EN')"


def test_missing_columns_and_wrong_types_are_reported_without_value_checks():
    table = pa.table({"id": ["a", "b"], "text": [1, 2]})
    result = validate_input(table, SPEC, SOURCE)
    message = result.message()
    assert message.startswith(f"{SOURCE}: missing column 'lang' (columns: 'id', 'text')")
    assert "column 'id' has type string, expected int64" in message
    assert "column 'text' has type int64, expected string or large_string or string_view or null" in message
    assert not any(o.error for o in result.outcomes)  # no expectation crashed on the missing/odd columns


def test_audio_column_present_nulls_allowed_and_bytes_not_copied():
    spec = InputSpec(id_column="id", audio_column="audio")
    audio = pa.table({"id": [1, 2, 3], "audio": pa.array([b"RIFF" * 1000, None, b""], pa.binary())})
    assert validate_input(audio, spec, SOURCE).success
    uris = pa.table({"id": [1, 2], "audio": ["s3://b/a.wav", None]})
    assert validate_input(uris, spec, SOURCE).success
    mask = pa.table({"id": [1, 2], "audio": [True, False]})
    assert validate_input(mask, spec, SOURCE).success
    missing = validate_input(pa.table({"id": [1]}), spec, SOURCE)
    assert missing.message() == f"{SOURCE}: missing column 'audio' (columns: 'id')"


def test_failure_raises_input_error_naming_object_column_rows():
    result = validate_input(shard(id={2: None}), SPEC, SOURCE)
    with pytest.raises(InputQualityError) as caught:
        result.raise_for_failure()
    assert isinstance(caught.value, InputError)  # handled like every other bad-input error
    assert str(caught.value) == f"{SOURCE}: column 'id' has 1 null value (row 2)"
    assert caught.value.summary == result.summary()
    import pickle

    again = pickle.loads(pickle.dumps(caught.value))  # Prefect persists task exceptions
    assert type(again) is InputQualityError and str(again) == str(caught.value) and again.summary == result.summary()


def test_many_failures_show_first_five_rows_and_an_ellipsis():
    result = validate_input(shard(id={i: None for i in range(0, 100, 10)}), SPEC, SOURCE)
    assert "column 'id' has 10 null values (rows 0, 10, 20, 30, 40, …)" in result.message()


def test_result_json_has_summary_outcomes_and_gx_result():
    result = validate_input(shard(text={1: "z" * 5000}), SPEC, SOURCE)
    document = result.to_json_dict()
    assert document["summary"]["success"] is False and document["summary"]["source"] == SOURCE
    assert document["summary"]["failed"] == ["expect_column_value_lengths_to_be_between(text): 1 unexpected"]
    gx = document["great_expectations"]
    assert gx["suite_name"] == "input" and gx["statistics"]["unsuccessful_expectations"] == 1
    [failed] = [r for r in gx["results"] if not r["success"]]
    assert failed["result"]["partial_unexpected_index_list"] == [1]
    assert len(failed["result"]["partial_unexpected_list"][0]) < 200  # long texts are cut
    assert '"summary"' in result.to_json()


def test_spec_rejects_inconsistent_settings():
    with pytest.raises(ValueError, match="language_column"):
        InputSpec(allowed_languages=("de",))
    with pytest.raises(ValueError, match="min_text_chars"):
        InputSpec(text_column="t", min_text_chars=10, max_text_chars=5)


def test_all_null_columns():
    table = pa.table({"id": pa.nulls(3), "text": pa.nulls(3)})
    result = validate_input(table, InputSpec(text_column="text", max_text_chars=10), SOURCE)
    assert result.message() == f"{SOURCE}: column 'id' has 3 null values (rows 0, 1, 2)"
