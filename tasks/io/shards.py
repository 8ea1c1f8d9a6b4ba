"""What a shard reads: an object's rows [row_start, row_stop), as slices of its row groups, and an
object's plan (its shards, or the error that keeps it out of the run). Made by the planners
(tasks/engine/planning.py for text, tasks/transcribe/audio_columns.py for audio), read by
tasks/io/reader.py; `Shard.shard_id` names the output part, so it must not change for the same
object bytes and row range."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from tasks.io.listing import ObjectRef


@dataclass(frozen=True)
class RowGroupSlice:
    """Rows [start, stop) of row group `index` (offsets inside that row group)."""

    index: int
    start: int
    stop: int


@dataclass(frozen=True)
class Shard:
    object: ObjectRef
    row_start: int  # first row (object-global index)
    row_stop: int  # one past the last row
    slices: tuple[RowGroupSlice, ...] = field(default=())

    @property
    def rows(self) -> int:
        return self.row_stop - self.row_start

    @property
    def shard_id(self) -> str:
        """Deterministic: same object bytes and row range -> same id, whatever else is in the run."""
        digest = hashlib.sha256(f"{self.object.uri}\0{self.object.etag}".encode()).hexdigest()[:12]
        return f"{digest}-{self.row_start:010d}-{self.row_stop:010d}"


@dataclass(frozen=True)
class ObjectPlan:
    object: ObjectRef
    shards: tuple[Shard, ...] = ()
    error: str | None = None
    rows: int = 0
