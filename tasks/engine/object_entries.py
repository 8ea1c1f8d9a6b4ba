"""What a run record holds for each input object, held as columns instead of one dict per object.

A run of 100,000 objects keeps every object's manifest entry until manifest.json is written: as dicts
that was ~400 bytes an object for its input entry and ~200 more for its line in a packed shard's
lineage, all of it small Python objects mixed with the run's short-lived ones. Here:

- `InputEntries`: the record's `inputs` (uri, etag, size, rows, shards, error, error_kind per object),
  ~30 bytes an object: an entry's uri and etag are read from the run's listing (tasks/io/object_table.py)
  when they are its object's at the same index, as a run's entries are;
- `Lineage`: a packed shard's pieces as the manifest lists them (uri, etag, row_start, row_stop),
  the shard's own `Piece`s, so nothing more than a reference each.

Both read like the lists of dicts they replace (`DictRows`: len, iteration, indexing, `==` a list);
`streamed` hands them to run_record.put_json's encoder one dict at a time, `json_ready` and `plain`
to any other serializer as lists.
"""
from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tasks.io.object_table import ObjectTable
from tasks.io.shards import Piece

INPUT_FIELDS = ("uri", "etag", "size", "rows", "shards", "error", "error_kind")
_NUMBER_AT = {"size": 0, "rows": 1, "shards": 2}  # an entry's numbers, in _numbers
_NONE = -(2**63)  # a number given as None


class DictRows:
    """Reads like the list of dicts it stands for: len, iteration, indexing (ints and slices) and `==`
    another such list; a subclass says how many rows it has and makes row `index` (`row`)."""

    __slots__ = ()

    def __len__(self) -> int:
        raise NotImplementedError

    def row(self, index: int) -> dict:
        raise NotImplementedError

    def __getitem__(self, index: int | slice) -> dict | list[dict]:
        if isinstance(index, slice):
            return [self.row(i) for i in range(*index.indices(len(self)))]
        return self.row(range(len(self))[index])

    def __iter__(self) -> Iterator[dict]:
        return map(self.row, range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DictRows | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # mutable, like the list it stands for


class InputEntries(DictRows):
    """The record's input entries, in the order they were added. `append` takes the dict that
    flows/run_steps.collect_plans makes (any subset of INPUT_FIELDS, and other keys); reading gives
    back equal dicts, with the keys given, in INPUT_FIELDS order then the others."""

    __slots__ = ("_objects", "_own", "_numbers", "_given", "_errors", "_other")

    def __init__(self, entries: Iterable[dict] = (), objects: ObjectTable | None = None):
        """`objects`: the run's listing, whose object i entry i is (its uri and etag are not kept twice)."""
        self._objects = objects
        self._own: dict[int, tuple[Any, Any]] = {}  # entry -> (uri, etag), where not objects' at that index
        self._numbers = array("q")  # size, rows, shards of each entry
        self._given = array("B")  # which of INPUT_FIELDS each entry has, a bit each
        self._errors: dict[int, tuple[Any, Any]] = {}  # entry -> (error, error_kind), where either is set
        self._other: dict[int, dict] = {}  # entry -> its keys outside INPUT_FIELDS
        self.extend(entries)

    def append(self, entry: dict) -> None:
        index = len(self._given)
        self._given.append(sum(1 << bit for bit, name in enumerate(INPUT_FIELDS) if name in entry))
        uri, etag = entry.get("uri"), entry.get("etag")
        table = self._objects
        if table is None or index >= len(table) or table.uri(index) != uri or table.etag(index) != etag:
            self._own[index] = (uri, etag)
        self._numbers.extend(_NONE if entry.get(n) is None else entry[n] for n in _NUMBER_AT)
        if entry.get("error") is not None or entry.get("error_kind") is not None:
            self._errors[index] = (entry.get("error"), entry.get("error_kind"))
        if other := {k: v for k, v in entry.items() if k not in INPUT_FIELDS}:
            self._other[index] = other

    def extend(self, entries: Iterable[dict]) -> None:
        for entry in entries:
            self.append(entry)

    def __iadd__(self, entries: Iterable[dict]) -> InputEntries:
        self.extend(entries)
        return self

    def __len__(self) -> int:
        return len(self._given)

    def __repr__(self) -> str:
        return f"InputEntries({len(self)} objects, {len(self._errors)} with an error)"

    def row(self, index: int, names: tuple[str, ...] | None = None) -> dict:
        """Entry `index` as it was given, or only its keys among `names`."""
        error, kind = self._errors.get(index, (None, None))
        uri, etag = self._own[index] if index in self._own else (self._objects.uri(index), self._objects.etag(index))
        values = {"uri": uri, "etag": etag, "error": error, "error_kind": kind}
        doc = {}
        for bit, name in enumerate(INPUT_FIELDS):
            if self._given[index] >> bit & 1 and (names is None or name in names):
                if name in _NUMBER_AT:
                    number = self._numbers[3 * index + _NUMBER_AT[name]]
                    doc[name] = None if number == _NONE else number
                else:
                    doc[name] = values[name]
        return doc | self._other.get(index, {}) if names is None else doc

    def failed(self) -> list[dict]:
        """The entries with an error (few: no walk over every object)."""
        return [self.row(i) for i in sorted(self._errors) if self._errors[i][0]]

    def rows(self) -> int:
        """Rows of every object, from the footers."""
        return sum(n for n in self._numbers[_NUMBER_AT["rows"]::3] if n != _NONE)

    def only(self, *names: str) -> Streamed:
        """The entries with only these keys (report.json's per-object list), made one at a time."""
        return Streamed(lambda: (self.row(i, names) for i in range(len(self))), len(self))


class Lineage(DictRows):
    """A packed shard's pieces as the manifest lists them: uri, etag, row_start, row_stop each."""

    __slots__ = ("pieces",)

    def __init__(self, pieces: tuple[Piece, ...]):
        self.pieces = pieces

    def __len__(self) -> int:
        return len(self.pieces)

    def row(self, index: int) -> dict:
        piece = self.pieces[index]
        return {"uri": piece.object.uri, "etag": piece.object.etag, "row_start": piece.row_start,
                "row_stop": piece.row_stop}

    def __repr__(self) -> str:
        return f"Lineage({len(self)} pieces)"


class Streamed(list):
    """A list to json's pure-Python encoder (the one an indent selects, which asks a list only for its
    length and its items) whose items are made as it walks them."""

    def __init__(self, items: Callable[[], Iterator], length: int):
        super().__init__()
        self._items, self._length = items, length

    def __iter__(self) -> Iterator:
        return self._items()

    def __len__(self) -> int:
        return self._length

    def __bool__(self) -> bool:
        return self._length > 0


def json_ready(value: object) -> object:
    """`default=` for json.dumps: entries and lineage as lists of dicts (anything else as its str)."""
    return list(value) if isinstance(value, DictRows) else str(value)


def streamed(value: object) -> object:
    """`default=` for json's pure-Python encoder only (an indent given): entries and lineage as lists
    whose dicts are made one at a time. json.dumps without an indent walks a list's own items in C,
    and would find none here: use json_ready there."""
    if isinstance(value, DictRows):
        return Streamed(lambda: iter(value), len(value))
    return str(value)


def plain(value: object) -> object:
    """`value` with every InputEntries and Lineage inside it made a list of dicts (for a serializer
    other than put_json's, e.g. a child flow run's result)."""
    if isinstance(value, DictRows):
        return list(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
