"""Dictionary / categorical string columns (pandas `category`, parquet dictionaries) are string
data: planning accepts them for text, ids, language codes and audio URIs, and the reader hands
them on as plain strings (real SeaweedFS S3 for the round trip)."""
import pyarrow as pa
import pytest

from deployments.demo_data import upload_table
from tasks.audio import AudioColumns, validate_audio_schema
from tasks.listing import list_objects
from tasks.s3_uri import S3Uri
from tasks.shard_reader import decode_dictionaries, iter_shard_batches
from tasks.sharding import InputError, plan_object, validate_schema

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
    decoded = decode_dictionaries(batch)
    assert decoded.schema.types == [pa.string(), pa.string(), pa.string(), pa.int64()]
    assert decoded.to_pydict() == {"id": ["a", "b", "c", "d"], "text": ["Guten Tag.", "Hallo.", "Guten Tag.", None],
                                   "lang": ["de", "de", None, "de"], "n": [1, 2, 3, 4]}
    plain = pa.RecordBatch.from_pydict({"x": ["a"]})
    assert decode_dictionaries(plain) is plain


@pytest.mark.integration
def test_a_categorical_parquet_is_planned_and_read_as_strings(s3_conn, bucket):
    upload_table(s3_conn, S3Uri(bucket, "categorical/rows.parquet"), categorical_table(), row_group_size=3)
    [obj] = list_objects(s3_conn, f"s3://{bucket}/categorical/")
    plan = plan_object(s3_conn, obj, text_column="text", id_column="id", shard_rows=10, passthrough=["lang"])
    assert plan.error is None
    batches = [b for shard in plan.shards for b in iter_shard_batches(s3_conn, shard, ["id", "text", "lang"], 2)]
    assert all(b.schema.types == [pa.string()] * 3 for b in batches)
    assert [t for b in batches for t in b.column("text").to_pylist()] == ["Guten Tag.", "Hallo.", "Guten Tag.", None]
