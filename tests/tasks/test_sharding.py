import pyarrow as pa
import pytest

from tasks.listing import ObjectRef
from tasks.sharding import InputError, Shard, split_rows, validate_schema


def ranges(plan):
    return [(start, stop) for start, stop, _ in plan]


def test_groups_small_row_groups_up_to_shard_rows():
    assert ranges(split_rows([10, 10, 10, 10], 25)) == [(0, 20), (20, 40)]


def test_splits_a_large_row_group_into_row_ranges():
    plan = split_rows([5, 100, 5], 30)
    assert ranges(plan) == [(0, 5), (5, 35), (35, 65), (65, 95), (95, 105), (105, 110)]
    assert plan[2][2][0].index == 1 and (plan[2][2][0].start, plan[2][2][0].stop) == (30, 60)


def test_shards_cover_every_row_exactly_once():
    sizes = [7, 0, 13, 64, 1, 1, 30]
    plan = split_rows(sizes, 16)
    covered = [row for start, stop, _ in plan for row in range(start, stop)]
    assert covered == list(range(sum(sizes)))
    for start, stop, slices in plan:
        assert sum(s.stop - s.start for s in slices) == stop - start


def test_no_row_groups_no_shards():
    assert split_rows([], 10) == []


def test_shard_id_is_deterministic_and_depends_on_etag():
    a = Shard(ObjectRef("s3://b/k.parquet", "etag1", 10), 0, 10)
    assert a.shard_id == Shard(ObjectRef("s3://b/k.parquet", "etag1", 99), 0, 10).shard_id
    assert a.shard_id != Shard(ObjectRef("s3://b/k.parquet", "etag2", 10), 0, 10).shard_id
    assert a.shard_id != Shard(ObjectRef("s3://b/k.parquet", "etag1", 10), 10, 20).shard_id


@pytest.mark.parametrize("schema, message", [
    (pa.schema([("id", pa.string())]), "text column 'text' not found"),
    (pa.schema([("text", pa.string())]), "id column 'id' not found"),
    (pa.schema([("id", pa.string()), ("text", pa.int64())]), "text column 'text' has type int64"),
    (pa.schema([("id", pa.float64()), ("text", pa.string())]), "id column 'id' has type double"),
])
def test_schema_errors_name_object_and_column(schema, message):
    with pytest.raises(InputError) as err:
        validate_schema(schema, "s3://b/obj.parquet", "text", "id", [])
    assert "s3://b/obj.parquet" in str(err.value) and message in str(err.value)


def test_missing_passthrough_column_is_an_error():
    with pytest.raises(InputError, match="passthrough column 'lang'"):
        validate_schema(pa.schema([("id", pa.int64()), ("text", pa.string())]), "s3://b/o", "text", "id", ["lang"])
