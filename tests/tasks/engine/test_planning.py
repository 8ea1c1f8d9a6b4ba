import pyarrow as pa
import pytest

from tasks.engine.planning import split_rows, validate_schema
from tasks.io.listing import ObjectRef
from tasks.io.parquet import InputError
from tasks.io.shards import Shard


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


# ---- text inputs: whole row groups, rows and bytes per shard (group_row_groups) -------------------

def test_whole_row_groups_balanced_within_the_row_bound():
    from tasks.engine.planning import RowGroupSize, group_row_groups

    plan = group_row_groups([RowGroupSize(5000, 10)] * 10, 20_000)
    assert ranges(plan) == [(0, 15_000), (15_000, 35_000), (35_000, 50_000)]  # 3 shards, none over 20k
    assert all(s.start == 0 and s.stop == 5000 for _, _, slices in plan for s in slices)  # row groups whole


def test_bytes_bound_a_shard_too():
    from tasks.engine.planning import RowGroupSize, group_row_groups

    plan = group_row_groups([RowGroupSize(1000, 10 * 2**20)] * 10, 20_000, shard_bytes=32 * 2**20)
    assert [stop - start for start, stop, _ in plan] == [3000, 2000, 3000, 2000]  # 10 MiB each: <= 3 per shard


def test_a_row_group_over_a_bound_is_cut_into_even_row_ranges():
    """#28: one huge row group is no longer one shard (one task, one GPU): it is cut to the bounds."""
    from tasks.engine.planning import RowGroupSize, group_row_groups

    plan = group_row_groups([RowGroupSize(5, 1), RowGroupSize(100, 1), RowGroupSize(5, 1)], 30)
    assert ranges(plan) == [(0, 30), (30, 55), (55, 80), (80, 110)]
    assert all(stop - start <= 30 for start, stop in ranges(plan))
    one_million = group_row_groups([RowGroupSize(1_000_000, 10)], 20_000)
    assert len(one_million) == 50 and {stop - start for start, stop, _ in one_million} == {20_000}
    assert all(len(slices) == 1 and slices[0].index == 0 for _, _, slices in one_million)


def test_small_objects_are_packed_in_listing_order_within_the_bounds():
    from tasks.engine.planning import pack_plans
    from tasks.io.listing import ObjectRef
    from tasks.io.shards import ObjectPlan, RowGroupSlice, Shard

    def plan(name: str, rows: int, key: str = "id:string", shards: int = 1, error: str | None = None) -> ObjectPlan:
        obj = ObjectRef(f"s3://b/{name}", f"e-{name}", 100)
        cut = rows // shards
        return ObjectPlan(obj, tuple(Shard(obj, i * cut, (i + 1) * cut, (RowGroupSlice(i, 0, cut),), bytes=cut)
                                     for i in range(shards)), error, rows, key)

    plans = [plan("a", 40), plan("b", 40), plan("bad", 0, error="bad footer"), plan("c", 40), plan("big", 200, shards=2),
             plan("d", 10), plan("e", 10, key="id:int64"), plan("f", 10)]
    shards = pack_plans(plans, shard_rows=100)
    assert [[p.object.uri.rsplit("/", 1)[-1] for p in s.pieces] for s in shards] == [
        ["a", "b"], ["c"], ["big"], ["big"], ["d"], ["e"], ["f"]]
    assert shards[0].packed and shards[0].rows == 80 and not shards[1].packed
    assert shards[1].shard_id == plans[3].shards[0].shard_id  # a shard of one object keeps its id
    assert pack_plans(plans, shard_rows=100) == shards  # deterministic: a rerun finds its parts
    assert len({s.shard_id for s in shards}) == len(shards)


def test_grouping_covers_every_row_and_keeps_the_bounds():
    import random

    from tasks.engine.planning import RowGroupSize, group_row_groups

    rng = random.Random(3)
    for _ in range(500):
        sizes = [RowGroupSize(rng.randint(0, 50), rng.randint(0, 500)) for _ in range(rng.randint(0, 30))]
        rows, size = rng.randint(1, 120), rng.randint(1, 900)
        plan = group_row_groups(sizes, rows, size)
        assert [r for start, stop, _ in plan for r in range(start, stop)] == list(range(sum(s.rows for s in sizes)))
        for start, stop, slices in plan:
            assert sum(s.stop - s.start for s in slices) == stop - start
            if len(slices) > 1:
                taken = sum(sizes[s.index].bytes * (s.stop - s.start) / sizes[s.index].rows for s in slices)
                assert stop - start <= rows and taken <= size + 1e-6  # a cut row group counts its share


def test_row_group_sizes_count_only_the_columns_read():
    import io

    import pyarrow.parquet as pq

    from tasks.engine.planning import row_group_sizes

    table = pa.table({"id": list(range(1000)), "text": ["t" * 10] * 1000, "blob": [f"{i:05d}" * 200 for i in range(1000)]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=400, compression="zstd")
    metadata = pq.ParquetFile(io.BytesIO(buffer.getvalue())).metadata
    narrow, wide = row_group_sizes(metadata, ["id", "text"]), row_group_sizes(metadata, ["id", "text", "blob"])
    assert [s.rows for s in narrow] == [400, 400, 200]
    assert all(w.bytes > 20 * n.bytes > 0 for n, w in zip(narrow, wide))


def test_a_packed_shard_holds_at_most_max_pieces_objects():
    from tasks.engine.planning import MAX_PIECES_PER_SHARD, pack_plans
    from tasks.io.listing import ObjectRef
    from tasks.io.shards import ObjectPlan, RowGroupSlice, Shard

    plans = []
    for n in range(MAX_PIECES_PER_SHARD + 500):  # one-row objects: the rows bound alone would allow 20,000
        obj = ObjectRef(f"s3://b/o-{n:05d}", "e", 10)
        plans.append(ObjectPlan(obj, (Shard(obj, 0, 1, (RowGroupSlice(0, 0, 1),), bytes=10),), None, 1, "k"))
    assert [len(s.pieces) for s in pack_plans(plans, shard_rows=20_000)] == [MAX_PIECES_PER_SHARD, 500]


def test_planning_runs_a_bounded_distance_ahead_of_the_shards():
    """At most `ahead` chunks are submitted and not yet collected; a chunk's shards are started (the
    caller's loop body) before the next chunk is submitted, so they queue ahead of its planning."""
    from tasks.engine.planning import plan_ahead

    events, in_flight, most = [], set(), [0]

    def submit(chunk):
        events.append(f"submit {chunk}")
        in_flight.add(chunk)
        most[0] = max(most[0], len(in_flight))
        return f"future {chunk}"

    def collect(future, chunk):
        assert future == f"future {chunk}"
        in_flight.discard(chunk)
        return [f"plan {chunk}"]

    for plans in plan_ahead(range(5), submit, collect, ahead=2):
        events.append(f"start shards of {plans[0]}")
    assert most[0] == 2
    assert events == ["submit 0", "submit 1", "start shards of plan 0", "submit 2", "start shards of plan 1",
                      "submit 3", "start shards of plan 2", "submit 4", "start shards of plan 3",
                      "start shards of plan 4"]
    assert list(plan_ahead([], submit, collect)) == []

