import pickle

from tasks.engine.planning import ShardPacker
from tasks.io.listing import ObjectRef
from tasks.io.object_table import ObjectTable
from tasks.io.shards import ObjectPlan, Piece, PieceList, RowGroupSlice, Shard


def one_piece_plans(objects) -> list[ObjectPlan]:
    return [ObjectPlan(o, shards=(Shard(o, 0, 5, (RowGroupSlice(0, 0, 5),), bytes=50),), rows=5, schema_key="k")
            for o in objects]


def test_a_packed_shard_refers_to_the_listing_and_reads_like_its_pieces():
    table = ObjectTable(ObjectRef(f"s3://b/in/{i:04d}.parquet", f"e{i}", 100) for i in range(10))
    chunk = table[2:8]
    packer = ShardPacker(shard_rows=20, shard_bytes=10_000)
    shards = packer.add(one_piece_plans(chunk), chunk) + packer.finish()
    assert [s.rows for s in shards] == [20, 10]
    first = shards[0]
    assert isinstance(first.more, PieceList) and isinstance(first.pieces, PieceList)
    assert first.pieces._columns.objects is table  # no copy of the objects
    expected = tuple(Piece(o, 0, 5, (RowGroupSlice(0, 0, 5),)) for o in table[2:6])
    assert first.pieces == expected and tuple(first.pieces) == expected and first.pieces[-1] == expected[-1]
    # the same id, equality and hash as the shard of the same pieces as a tuple (every run before)
    as_tuple = Shard.of_pieces(expected, 200)
    assert not isinstance(as_tuple.more, PieceList)
    assert first.shard_id == as_tuple.shard_id and first == as_tuple and hash(first) == hash(as_tuple)
    assert first.label == as_tuple.label and first.rows == as_tuple.rows == 20
    # without the listing (a dry run's own plans), the pieces carry their objects
    alone = ShardPacker(20, 10_000)
    assert alone.add(one_piece_plans(chunk)) + alone.finish() == shards


def test_piece_lists_pickle_their_own_pieces_and_drop_pieces_like_tuples():
    table = ObjectTable(ObjectRef(f"s3://b/in/{i:04d}.parquet", f"e{i}", 100) for i in range(1000))
    pieces = PieceList.of_objects(table, [3, 4, 5], [Piece(table[i], 0, 2) for i in (3, 4, 5)])
    copy = pickle.loads(pickle.dumps(pieces))
    assert copy == pieces and len(copy._columns.objects) == 3
    shard = Shard.of_pieces(pieces, 30)
    assert shard.without({1}).pieces == (pieces[0], pieces[2]) and shard.without(set()) == shard
