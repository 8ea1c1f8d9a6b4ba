"""A run's objects as columns, not as one Python object each: `ObjectTable`.

A listing of 100,000 objects held as ObjectRefs was ~300 bytes an object in four small Python objects
(the ref, its URI and ETag strings, its size), kept from listing to manifest and scattered through the
heap among the run's short-lived objects (so the allocator could not give their pages back). Here an
object is its URI (after the folder all share) and ETag bytes in two growing buffers with their offsets,
its size, and the index of its partition among the listing's distinct ones: ~80 bytes in a handful of
buffers. The pieces of
packed shards (tasks/io/shards.PieceList) and the run record's input entries
(tasks/engine/object_entries.InputEntries) refer to objects by their index here.

Reading gives ObjectRefs, made on demand; `table[a:b]` is a view (no copy), the chunks planning gets.
"""
from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

from tasks.io.partitions import Partition


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """One input object as listed: its ETag pins the exact bytes a run read; `partition` holds the
    values of its `key=value` folders (name, value, type), columns of each of its rows. (Imported
    everywhere from tasks.io.listing.)"""

    uri: str
    etag: str
    size: int
    partition: Partition = ()


class TextColumn:
    """Strings appended one after another: their UTF-8 bytes in one buffer, and where each ends. A
    `prefix` most of them share (a listing's folder) is kept once: a string that starts with it is
    stored without it."""

    __slots__ = ("_data", "_ends", "_prefix", "_whole")

    def __init__(self, texts: Iterable[str] = (), prefix: str = ""):
        self._data = bytearray()
        self._ends = array("q")
        self._prefix = prefix
        self._whole: set[int] = set()  # strings stored whole: not starting with the prefix
        for text in texts:
            self.append(text)

    def append(self, text: str) -> None:
        if self._prefix:
            if text.startswith(self._prefix):
                text = text[len(self._prefix):]
            else:
                self._whole.add(len(self._ends))
        self._data += text.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._data))

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        start = self._ends[index - 1] if index else 0
        text = self._data[start:self._ends[index]].decode("utf-8", "surrogatepass")
        return text if not self._prefix or index in self._whole else self._prefix + text

    @property
    def nbytes(self) -> int:
        return len(self._data) + self._ends.itemsize * len(self._ends)


class ObjectTable(Sequence[ObjectRef]):
    """Objects in the order appended (a listing: sorted by URI). `uri(i)` and `etag(i)` read one
    column; `table[i]` makes the ObjectRef; `table[a:b]` is an ObjectView of those rows."""

    __slots__ = ("_uris", "_etags", "_sizes", "_partitions", "_partition_of", "_partition_index")

    def __init__(self, objects: Iterable[ObjectRef] = (), prefix: str | None = None):
        """`prefix`: the folder most URIs start with, kept once (by default the folder the first and last
        of `objects` share: in a sorted listing, what all share)."""
        if prefix is None:
            if not isinstance(objects, Sequence):
                objects = list(objects)
            shared = os.path.commonprefix([objects[0].uri, objects[-1].uri]) if objects else ""
            prefix = shared[:shared.rfind("/") + 1]
        self._uris, self._etags = TextColumn(prefix=prefix), TextColumn()
        self._sizes = array("q")
        self._partitions: list[Partition] = []  # distinct, in first-seen order
        self._partition_of = array("I")
        self._partition_index: dict[Partition, int] = {}
        self.extend(objects)

    def append(self, obj: ObjectRef) -> None:
        self._uris.append(obj.uri)
        self._etags.append(obj.etag)
        self._sizes.append(obj.size)
        index = self._partition_index.get(obj.partition)
        if index is None:
            index = self._partition_index[obj.partition] = len(self._partitions)
            self._partitions.append(obj.partition)
        self._partition_of.append(index)

    def extend(self, objects: Iterable[ObjectRef]) -> None:
        for obj in objects:
            self.append(obj)

    def __len__(self) -> int:
        return len(self._sizes)

    def uri(self, index: int) -> str:
        return self._uris[index]

    def etag(self, index: int) -> str:
        return self._etags[index]

    def object(self, index: int) -> ObjectRef:
        return ObjectRef(self._uris[index], self._etags[index], self._sizes[index],
                         self._partitions[self._partition_of[index]])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ObjectView(self, range(len(self))[index])
        return self.object(range(len(self))[index])

    def __iter__(self) -> Iterator[ObjectRef]:
        return map(self.object, range(len(self)))

    def partitions(self) -> list[Partition]:
        """The distinct partitions of the objects, in first-seen order."""
        return list(self._partitions)

    def is_sorted(self) -> bool:
        return all(a <= b for a, b in pairwise(map(self._uris.__getitem__, range(len(self)))))  # each decoded once

    @property
    def nbytes(self) -> int:
        return (self._uris.nbytes + self._etags.nbytes + self._sizes.itemsize * len(self._sizes)
                + self._partition_of.itemsize * len(self._partition_of))

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)

    __hash__ = None  # mutable: objects can be appended

    def __repr__(self) -> str:
        return f"ObjectTable({len(self)} objects, {len(self._partitions)} partitions)"


class ObjectView(Sequence[ObjectRef]):
    """Rows `rows` (a range) of an ObjectTable, read through it (a planning chunk: no copy).
    `position(i)` is row i's index in the table."""

    __slots__ = ("table", "rows")

    def __init__(self, table: ObjectTable, rows: range):
        self.table, self.rows = table, rows

    def __len__(self) -> int:
        return len(self.rows)

    def position(self, index: int) -> int:
        return self.rows[index]

    def uri(self, index: int) -> str:
        return self.table.uri(self.rows[index])

    def etag(self, index: int) -> str:
        return self.table.etag(self.rows[index])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ObjectView(self.table, self.rows[index])
        return self.table.object(self.rows[index])

    def __iter__(self) -> Iterator[ObjectRef]:
        return map(self.table.object, self.rows)

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)

    __hash__ = None

    def __repr__(self) -> str:
        return f"ObjectView(rows {self.rows.start}-{self.rows.stop} of {self.table!r})"


def _equal(objects: Sequence[ObjectRef], other: object) -> bool:
    if not isinstance(other, ObjectTable | ObjectView | list | tuple):
        return NotImplemented
    return len(objects) == len(other) and all(a == b for a, b in zip(objects, other, strict=True))


def object_table(objects: Iterable[ObjectRef]) -> ObjectTable:
    """`objects` as an ObjectTable (itself when it is one)."""
    return objects if isinstance(objects, ObjectTable) else ObjectTable(objects)
