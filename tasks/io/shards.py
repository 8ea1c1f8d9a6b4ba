"""What a shard reads: one or more pieces, each an object's rows [row_start, row_stop) as slices of its
row groups, and an object's plan (its shards, or the error that keeps it out of the run). Made by the
planners (tasks/engine/planning.py for text, tasks/transcribe/audio_columns.py for audio) and the
packer (planning.pack_plans: many small objects share one shard), read by tasks/io/reader.py.

`Shard(object, row_start, row_stop, slices)` is its first piece; `more` holds the pieces of the other
objects packed with it (a PieceList: columns that refer to the run's listing, not a Piece each).
`Shard.shard_id` names the output part, so it must not change for the same object bytes and row
ranges: a one-piece shard keeps the id it always had."""
from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from tasks.io.listing import ObjectRef
from tasks.io.object_table import ObjectTable


@dataclass(frozen=True, slots=True)
class RowGroupSlice:
    """Rows [start, stop) of row group `index` (offsets inside that row group)."""

    index: int
    start: int
    stop: int


@dataclass(frozen=True, slots=True)
class Piece:
    """Rows [row_start, row_stop) of one object (object-global indexes), as row-group slices."""

    object: ObjectRef
    row_start: int
    row_stop: int
    slices: tuple[RowGroupSlice, ...] = ()

    @property
    def rows(self) -> int:
        return self.row_stop - self.row_start

    @property
    def label(self) -> str:
        return f"{self.object.uri} rows {self.row_start}–{self.row_stop}"

    @property
    def piece_id(self) -> str:
        """The id a shard of this piece alone has."""
        digest = hashlib.sha256(f"{self.object.uri}\0{self.object.etag}".encode()).hexdigest()[:12]
        return f"{digest}-{self.row_start:010d}-{self.row_stop:010d}"


def pieces_digest(pieces: Iterable[tuple[str, str, int, int]]) -> str:
    """sha256 of pieces given as (URI, ETag, row_start, row_stop): what a packed shard's id is made from."""
    return hashlib.sha256("\n".join(f"{uri}\0{etag}\0{start}\0{stop}" for uri, etag, start, stop in pieces)
                          .encode()).hexdigest()


class _PieceColumns:
    __slots__ = ("objects", "positions", "starts", "stops", "slices", "digests")

    def __init__(self, objects: ObjectTable, positions: array, starts: array, stops: array,
                 slices: list[tuple[RowGroupSlice, ...]]):
        self.objects, self.positions, self.starts, self.stops, self.slices = objects, positions, starts, stops, slices
        self.digests: dict[tuple[int, int], str] = {}  # shard ids computed, by the rows they cover


class PieceList(Sequence[Piece]):
    """A packed shard's pieces as columns: each piece's object as its position in an ObjectTable (the
    run's listing, shared by all its shards: ~30 bytes a piece instead of a Piece and an ObjectRef),
    its rows and its row-group slices (shared tuples). Reads as a sequence of Pieces, made on demand;
    `pieces[1:]` is a view."""

    __slots__ = ("_columns", "_range")

    def __init__(self, columns: _PieceColumns, rows: range | None = None):
        self._columns = columns
        self._range = range(len(columns.positions)) if rows is None else rows

    @classmethod
    def of_objects(cls, objects: ObjectTable, positions: Iterable[int], pieces: Iterable[Piece]) -> PieceList:
        """Pieces whose objects are `objects`' at `positions` (in order)."""
        pieces = list(pieces)
        return cls(_PieceColumns(objects, array("q", positions), array("q", (p.row_start for p in pieces)),
                                 array("q", (p.row_stop for p in pieces)), [p.slices for p in pieces]))

    @classmethod
    def of(cls, pieces: Iterable[Piece]) -> PieceList:
        """Pieces of any objects (a table of their own)."""
        pieces = list(pieces)
        return cls.of_objects(ObjectTable(p.object for p in pieces), range(len(pieces)), pieces)

    def __len__(self) -> int:
        return len(self._range)

    def _piece(self, row: int) -> Piece:
        c = self._columns
        return Piece(c.objects.object(c.positions[row]), c.starts[row], c.stops[row], c.slices[row])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return PieceList(self._columns, self._range[index])
        return self._piece(self._range[index])

    def __iter__(self) -> Iterator[Piece]:
        return map(self._piece, self._range)

    @property
    def rows(self) -> int:
        c = self._columns
        return sum(c.stops[i] - c.starts[i] for i in self._range)

    def widened(self) -> PieceList | None:
        """The same pieces with the one before them (a packed shard's `more` -> all its pieces)."""
        if self._range.step != 1 or self._range.start == 0:
            return None
        return PieceList(self._columns, range(self._range.start - 1, self._range.stop))

    def digest(self) -> str:
        """`pieces_digest` of these pieces, read from the columns (cached: a shard's id is asked often)."""
        c, key = self._columns, (self._range.start, self._range.stop, self._range.step)
        if key not in c.digests:
            c.digests[key] = pieces_digest((c.objects.uri(c.positions[i]), c.objects.etag(c.positions[i]),
                                            c.starts[i], c.stops[i]) for i in self._range)
        return c.digests[key]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PieceList | list | tuple):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    def __hash__(self) -> int:
        return hash(tuple(self))  # as the tuple of the same pieces hashes (Shard's hash)

    def __repr__(self) -> str:
        return f"PieceList({len(self)} pieces, {self.rows} rows)"

    def __reduce__(self):
        return PieceList.of, (list(self),)  # its own pieces, not the whole listing it refers to


@dataclass(frozen=True, slots=True)
class Shard:
    object: ObjectRef  # the first piece's object
    row_start: int  # the first piece's first row (object-global index)
    row_stop: int  # one past the first piece's last row
    slices: tuple[RowGroupSlice, ...] = field(default=())
    # pieces of the other objects packed into this shard, in listing order (a PieceList, or Pieces)
    more: Sequence[Piece] = ()
    bytes: int = field(default=0, compare=False)  # uncompressed bytes of the columns read (planning), 0: unknown

    @classmethod
    def of_pieces(cls, pieces: Sequence[Piece], bytes: int = 0) -> Shard:
        """A shard of these pieces (a PieceList stays one: its first piece, and `more` a view of the rest)."""
        first = pieces[0]
        rest = pieces[1:] if isinstance(pieces, PieceList) else tuple(pieces[1:])
        return cls(first.object, first.row_start, first.row_stop, first.slices, rest, bytes)

    @property
    def pieces(self) -> Sequence[Piece]:
        if isinstance(self.more, PieceList) and (every := self.more.widened()) is not None:
            return every
        return (Piece(self.object, self.row_start, self.row_stop, self.slices), *self.more)

    @property
    def packed(self) -> bool:
        return bool(self.more)

    @property
    def rows(self) -> int:
        more = self.more.rows if isinstance(self.more, PieceList) else sum(p.rows for p in self.more)
        return self.row_stop - self.row_start + more

    @property
    def label(self) -> str:
        """How reports name the shard: `<uri> rows a–b`, or its first piece and how many objects follow."""
        first = self.pieces[0].label
        return first if not self.more else f"{first} and {len(self.more)} more objects ({self.rows} rows)"

    @property
    def shard_id(self) -> str:
        """Deterministic: same object bytes and row ranges -> same id, whatever else is in the run."""
        if not self.more:
            return self.pieces[0].piece_id
        pieces = self.pieces
        digest = pieces.digest() if isinstance(pieces, PieceList) else pieces_digest(
            (p.object.uri, p.object.etag, p.row_start, p.row_stop) for p in pieces)
        return f"{digest[:12]}-{len(pieces):05d}pieces-{self.rows:010d}"

    def without(self, dropped: set[int]) -> Shard:
        """The same shard (same id, same part) reading only the pieces whose index is not in `dropped`."""
        kept = [p for i, p in enumerate(self.pieces) if i not in dropped]
        return Shard.of_pieces(kept, self.bytes) if kept else self


@dataclass(frozen=True, slots=True)
class ObjectPlan:
    object: ObjectRef
    shards: tuple[Shard, ...] = ()
    error: str | None = None
    rows: int = 0
    # the types of the columns a stage reads: only objects with equal types share a shard (one part schema)
    schema_key: str = ""
