"""A shard handed to a shard-group child run (as JSON-ready parameters) comes back equal: packed
pieces, row-group slices and Hive partitions included, so the child writes the parent's part."""
import json

from flows.fan_out import shard_from_dict, shard_to_dict
from tasks.io.listing import ObjectRef
from tasks.io.shards import Piece, RowGroupSlice, Shard


def test_packed_shards_with_partitions_survive_the_trip_to_a_child_run():
    a = ObjectRef("s3://b/in/dt=1/a.parquet", "e1", 10, (("dt", "1", "int32"),))
    b = ObjectRef("s3://b/in/dt=2/b.parquet", "e2", 20, (("dt", "2", "int32"),))
    packed = Shard.of_pieces([Piece(a, 0, 5, (RowGroupSlice(0, 0, 5),)), Piece(b, 0, 7, (RowGroupSlice(0, 0, 7),))],
                             bytes=300)
    single = Shard(a, 100, 200, (RowGroupSlice(3, 10, 110),))
    for shard in (packed, single):
        back = shard_from_dict(json.loads(json.dumps(shard_to_dict(shard))))
        assert back == shard and back.shard_id == shard.shard_id and back.pieces == shard.pieces
        hash(back.object)  # footers are cached by object: it must stay hashable
