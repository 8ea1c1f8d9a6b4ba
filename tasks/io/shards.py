"""Plan shards from parquet metadata. Validates the schema before any inference.

Text inputs (`plan_object`, `group_row_groups`): shards of whole row groups, at most `shard_rows`
rows AND at most `shard_bytes` bytes (uncompressed, of the columns a shard reads, from the footer),
as few shards as those bounds allow and balanced between them (no 20k + 20k + 10k tail when 3
even shards fit). A row group is never split: a reader can only start a row group at its first
row, so a split one would be decoded again by each of its shards; one row group over a bound is
a shard of its own. Audio inputs (tasks/transcribe/audio_columns.py) use `split_rows`: clips are few and costly,
so a large row group is split into row ranges there."""
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
