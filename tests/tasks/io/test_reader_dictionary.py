"""Dictionary / categorical string columns (pandas `category`, parquet dictionaries) and view
columns (string_view, binary_view) are ordinary data: planning accepts them for text, ids, language
codes and audio, and the reader hands them on as plain strings / binaries in the types the output
schema is made with (real SeaweedFS S3 for the round trip)."""
import pyarrow as pa
import pytest

from deployments.demo_data import upload_table
from tasks.engine.planning import plan_object, validate_schema
from tasks.io.listing import list_objects
from tasks.io.parquet import InputError, plain_schema
from tasks.io.reader import iter_shard_batches, plain_columns
from tasks.io.s3_uri import S3Uri
from tasks.transcribe.audio_columns import AudioColumns, validate_audio_schema

CATEGORY = pa.dictionary(pa.int32(), pa.string())


def categorical_table() -> pa.Table:
    return pa.table({
        "id": pa.array(["a", "b", "c", "d"]).cast(CATEGORY),
        "text": pa.array(["Guten Tag.", "Hallo.", "Guten Tag.", None]).cast(CATEGORY),
        "lang": pa.array(["de", "de", None, "de"]).cast(CATEGORY),
        "n": [1, 2, 3, 4],
    })


def test_dictionary_strings_pass_the_schema_checks_and_other_dictionaries_do_not():
    schema = categorical_table().schema
    validate_schema(schema, "s3://b/o.parquet", "text", "id", ["lang"])
    validate_schema(schema.set(0, pa.field("id", pa.dictionary(pa.int8(), pa.int64()))), "s3://b/o", "text", "id", [])
    with pytest.raises(InputError, match="text column 'n' has type int64, expected string"):
        validate_schema(schema, "s3://b/o", "n", "id", [])
    floats = pa.schema([("id", pa.int64()), ("text", pa.dictionary(pa.int32(), pa.float64()))])
    with pytest.raises(InputError, match="expected string"):
        validate_schema(floats, "s3://b/o", "text", "id", [])
    audio = pa.schema([("id", CATEGORY), ("uri", CATEGORY)])
    validate_audio_schema(audio, "s3://b/o", AudioColumns(id="id", audio=None, audio_uri="uri"))


def test_decoding_keeps_values_nulls_and_plain_columns():
    batch = categorical_table().to_batches()[0]
    decoded = plain_columns(batch)
    assert decoded.schema.types == [pa.string(), pa.string(), pa.string(), pa.int64()]
    assert decoded.to_pydict() == {"id": ["a", "b", "c", "d"], "text": ["Guten Tag.", "Hallo.", "Guten Tag.", None],
                                   "lang": ["de", "de", None, "de"], "n": [1, 2, 3, 4]}
    plain = pa.RecordBatch.from_pydict({"x": ["a"]})
    assert plain_columns(plain) is plain


def test_view_and_large_dictionary_columns_come_out_in_the_types_of_the_plain_schema():
    table = pa.table({
        "id": pa.array(["a", None], pa.string_view()),
        "text": pa.array(["Guten Tag.", "Hallo."], pa.large_string()).dictionary_encode(),
        "audio": pa.array([b"RIFF", None], pa.binary_view()),
        "n": [1, 2],
    })
    decoded = plain_columns(table.to_batches()[0])
    assert decoded.schema == plain_schema(table.schema)
    assert decoded.schema.types == [pa.large_string(), pa.large_string(), pa.large_binary(), pa.int64()]
    assert decoded.to_pydict() == {"id": ["a", None], "text": ["Guten Tag.", "Hallo."], "audio": [b"RIFF", None],
                                   "n": [1, 2]}
    validate_schema(table.schema, "s3://b/o.parquet", "text", "id", ["audio"])


@pytest.mark.integration
def test_a_categorical_parquet_is_planned_and_read_as_strings(s3_conn, bucket):
    upload_table(s3_conn, S3Uri(bucket, "categorical/rows.parquet"), categorical_table(), row_group_size=3)
    [obj] = list_objects(s3_conn, f"s3://{bucket}/categorical/")
    plan = plan_object(s3_conn, obj, text_column="text", id_column="id", shard_rows=10, passthrough=["lang"])
    assert plan.error is None
    batches = [b for shard in plan.shards for b in iter_shard_batches(s3_conn, shard, ["id", "text", "lang"], 2)]
    assert all(b.schema.types == [pa.string()] * 3 for b in batches)
    assert [t for b in batches for t in b.column("text").to_pylist()] == ["Guten Tag.", "Hallo.", "Guten Tag.", None]
