import json
import pickle
import sys

from tasks.engine.object_entries import InputEntries, Lineage, json_ready, plain, streamed
from tasks.io.listing import ObjectRef
from tasks.io.object_table import ObjectTable
from tasks.io.shards import Piece, RowGroupSlice


def entry(i: int, **changes) -> dict:
    return {"uri": f"s3://b/in/part-{i:06d}.parquet", "etag": f"e{i}", "size": 900 + i, "rows": i, "shards": 1,
            "error": None, "error_kind": None} | changes


def test_input_entries_read_back_as_the_dicts_that_went_in():
    given = [entry(0), entry(1, error="s3://b/in/part-000001.parquet: not parquet", error_kind="input", rows=0),
             {"uri": "s3://b/in/x", "rows": 4}, {"uri": "s3://b/in/y", "rows": None, "note": "kept"}]
    entries = InputEntries(given[:2])
    entries += given[2:3]
    entries.append(given[3])
    assert len(entries) == 4 and list(entries) == given and entries == given
    assert entries[1] == given[1] and entries[-1] == given[-1] and entries[1:3] == given[1:3]
    assert [list(e) for e in entries] == [list(g) for g in given]  # the same keys, in the same order
    assert entries.failed() == [given[1]] and entries.rows() == 0 + 0 + 4
    assert list(entries.only("uri", "error")) == [{k: g[k] for k in ("uri", "error") if k in g} for g in given]
    assert not InputEntries() and InputEntries() == []


def test_input_entries_read_uri_and_etag_from_the_runs_listing_not_a_copy():
    objects = ObjectTable(ObjectRef(f"s3://b/in/part-{i:06d}.parquet", f"e{i}", 900 + i) for i in range(10_000))
    entries = InputEntries(objects=objects)
    for i in range(len(objects)):
        entries.append(entry(i))
    entries.append(entry(10_000))  # past the listing: kept whole
    entries.append({"uri": "s3://b/elsewhere", "etag": "e", "rows": 1})
    held = sum(sys.getsizeof(part) for part in (entries._own, entries._numbers, entries._given))
    assert held / len(entries) < 40  # a dict of these seven keys alone is ~360 bytes; a uri string ~80
    assert len(entries._own) == 2
    assert entries[7] == entry(7) and entries[10_000] == entry(10_000) and entries[-1]["uri"] == "s3://b/elsewhere"
    assert list(entries) == [entry(i) for i in range(10_001)] + [{"uri": "s3://b/elsewhere", "etag": "e", "rows": 1}]


def test_an_entry_that_is_not_its_listed_object_keeps_its_own_uri_and_etag():
    objects = ObjectTable([ObjectRef("s3://b/in/a", "ea", 1), ObjectRef("s3://b/in/b", "eb", 1)])
    entries = InputEntries([{"uri": "s3://b/in/a", "etag": "other"}, {"uri": "s3://b/in/b", "etag": "eb"}],
                           objects=objects)
    assert list(entries) == [{"uri": "s3://b/in/a", "etag": "other"}, {"uri": "s3://b/in/b", "etag": "eb"}]
    assert list(entries._own) == [0]


def test_lineage_lists_a_packed_shards_pieces_from_the_pieces_themselves():
    a, b = ObjectRef("s3://b/in/a", "ea", 10), ObjectRef("s3://b/in/b", "eb", 10)
    pieces = (Piece(a, 0, 5, (RowGroupSlice(0, 0, 5),)), Piece(b, 2, 7, (RowGroupSlice(0, 2, 7),)))
    lineage = Lineage(pieces)
    expected = [{"uri": "s3://b/in/a", "etag": "ea", "row_start": 0, "row_stop": 5},
                {"uri": "s3://b/in/b", "etag": "eb", "row_start": 2, "row_stop": 7}]
    assert lineage == expected and len(lineage) == 2 and lineage[1] == expected[1] and lineage.pieces is pieces
    assert pickle.loads(pickle.dumps(lineage)) == expected  # a retried or child task's result


def test_documents_encode_the_entries_like_the_lists_they_stand_for():
    entries = InputEntries([entry(0), entry(1, error="bad", error_kind="input")])
    lineage = Lineage((Piece(ObjectRef("s3://b/in/a", "ea", 10), 0, 5),))
    document = {"inputs": entries, "shards": [{"pieces": lineage}], "empty": InputEntries(), "when": object}
    as_lists = {"inputs": list(entries), "shards": [{"pieces": list(lineage)}], "empty": [], "when": str(object)}
    indented = json.JSONEncoder(indent=2, default=streamed).encode(document)
    assert indented == json.dumps(as_lists, indent=2)
    assert json.dumps(document, default=json_ready) == json.dumps(as_lists)  # the C encoder: whole lists
    assert plain(document) == as_lists | {"when": object}
