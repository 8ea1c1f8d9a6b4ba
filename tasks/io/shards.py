"""What a shard reads: one or more pieces, each an object's rows [row_start, row_stop) as slices of its
row groups, and an object's plan (its shards, or the error that keeps it out of the run). Made by the
planners (tasks/engine/planning.py for text, tasks/transcribe/audio_columns.py for audio) and the
packer (planning.pack_plans: many small objects share one shard), read by tasks/io/reader.py.

`Shard(object, row_start, row_stop, slices)` is its first piece; `more` holds the pieces of the other
objects packed with it. `Shard.shard_id` names the output part, so it must not change for the same
object bytes and row ranges: a one-piece shard keeps the id it always had."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from tasks.io.listing import ObjectRef


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


@dataclass(frozen=True, slots=True)
class Shard:
    object: ObjectRef  # the first piece's object
    row_start: int  # the first piece's first row (object-global index)
    row_stop: int  # one past the first piece's last row
    slices: tuple[RowGroupSlice, ...] = field(default=())
    more: tuple[Piece, ...] = ()  # pieces of the other objects packed into this shard, in listing order
    bytes: int = field(default=0, compare=False)  # uncompressed bytes of the columns read (planning), 0: unknown

    @classmethod
    def of_pieces(cls, pieces: list[Piece] | tuple[Piece, ...], bytes: int = 0) -> Shard:
        first, *rest = pieces
        return cls(first.object, first.row_start, first.row_stop, first.slices, tuple(rest), bytes)

    @property
    def pieces(self) -> tuple[Piece, ...]:
        return (Piece(self.object, self.row_start, self.row_stop, self.slices), *self.more)

    @property
    def packed(self) -> bool:
        return bool(self.more)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.pieces)

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
        digest = hashlib.sha256("\n".join(f"{p.object.uri}\0{p.object.etag}\0{p.row_start}\0{p.row_stop}"
                                          for p in self.pieces).encode()).hexdigest()[:12]
        return f"{digest}-{len(self.pieces):05d}pieces-{self.rows:010d}"

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
