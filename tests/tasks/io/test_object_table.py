import pickle
import sys

import pytest

from tasks.io.listing import ObjectRef
from tasks.io.object_table import ObjectTable, ObjectView, TextColumn, object_table

PARTITION = (("day", "2026-12-01", "date"),)


def refs(n: int, partition=()) -> list[ObjectRef]:
    return [ObjectRef(f"s3://b/in/part-{i:06d}.parquet", f"{i:032x}", 1000 + i, partition) for i in range(n)]


def test_an_object_table_reads_back_the_objects_that_went_in():
    given = refs(3) + refs(2, PARTITION)[1:] + [ObjectRef("s3://b/in/ünïcode ✓.parquet", "e-2", 0)]
    table = ObjectTable(given)
    assert len(table) == 5 and list(table) == given and table == given and given == list(table)
    assert table[0] == given[0] and table[-1] == given[-1] and table.uri(4) == "s3://b/in/ünïcode ✓.parquet"
    assert table.etag(1) == given[1].etag and table.partitions() == [(), PARTITION]
    with pytest.raises(IndexError):
        table[5]
    assert object_table(table) is table and object_table(given) == table
    assert pickle.loads(pickle.dumps(table)) == given
    assert ObjectTable(iter(given)) == given and ObjectTable([]) == [] and not ObjectTable()


def test_a_slice_is_a_view_of_the_same_columns():
    table = ObjectTable(refs(10))
    chunk = table[2:6]
    assert isinstance(chunk, ObjectView) and chunk.table is table and len(chunk) == 4
    assert list(chunk) == refs(10)[2:6] and chunk[0] == table[2] and chunk[-1] == table[5]
    assert chunk.position(1) == 3 and chunk.uri(1) == table.uri(3) and chunk[1:3] == refs(10)[3:5]
    assert table[:] == table and not table[10:]


def test_a_listing_is_held_in_about_its_bytes_not_four_python_objects_an_object():
    given = refs(20_000)
    table = ObjectTable(given)
    as_objects = sum(sys.getsizeof(o) + sys.getsizeof(o.uri) + sys.getsizeof(o.etag) + sys.getsizeof(o.size)
                     for o in given) / len(given)
    assert table.nbytes / len(table) < 80 < as_objects  # 19 + 32 bytes of text, offsets, size, partition
    assert table.is_sorted() and not ObjectTable(reversed(given)).is_sorted()


def test_text_column_keeps_any_string_and_a_shared_prefix_once():
    texts = ["", "a", "é/ü", "x" * 1000, "\udcff"]  # a lone surrogate (a key boto3 decoded with surrogateescape)
    column = TextColumn(texts)
    assert [column[i] for i in range(len(column))] == texts and len(column) == 5
    under = ["s3://b/in/a", "s3://b/in/", "s3://b/other", "", "s3://b/in/ü"]
    column = TextColumn(under, prefix="s3://b/in/")
    assert [column[i] for i in range(len(column))] == under and column._whole == {2, 3}
    assert column.nbytes < TextColumn(under).nbytes
