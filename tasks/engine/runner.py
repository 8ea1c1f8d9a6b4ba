"""Run one shard through its stage's batch function (tasks/engine/stage.py) and commit its two output parts.

    <run_dir>/part-<shard>.parquet             rows kept: status ok / skipped_empty
    <run_dir>/quarantine/part-<shard>.parquet  rows quarantined: status failed (with `error`) or
                                               flagged by the guards (with `reasons`)

Every input row lands in exactly one of the two. Reading, processing and writing overlap: up to
`batches_in_flight` record batches are being processed while the next one is read. The quarantine
part is uploaded first and the main part last, so the main part (and its metadata) is the shard's
commit record: a part already committed by an earlier attempt is reused, not recomputed.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields

import pyarrow as pa
import pyarrow.compute as pc

from tasks.engine.guard_clock import GuardClock
from tasks.engine.object_entries import Lineage
from tasks.engine.row_status import QUARANTINED
from tasks.engine.stage import BatchFn, ShardStage
from tasks.io.part_writer import PartWriter, committed_part_metadata
from tasks.io.reader import iter_shard_batches
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri
from tasks.io.shards import Shard
from tasks.quality.shard_checks import OutputSample, check_input, check_output

QUARANTINED_STATUSES = tuple(sorted(QUARANTINED))
# Rows read per batch by the input data-quality suite (it reads only the columns it checks).
QUALITY_READ_ROWS = 8192


@dataclass(frozen=True)
class ShardResult:
    shard_id: str
    object_uri: str
    row_start: int
    row_stop: int
    output_uri: str
    rows: int
    status_counts: dict[str, int]
    seconds: float
    quarantined: int = 0
    quarantine_uri: str | None = None
    guard_seconds: float = 0.0  # time spent in the hallucination guards (scoring + re-decoding)
    quality: list[dict] = field(default_factory=list)  # data-quality suite summaries (tasks/quality)
    reused: bool = False  # True when an earlier attempt had already committed this part
    error: str | None = None  # set on a shard that failed (ShardResult.failed): nothing committed
    error_kind: str | None = None  # a failed shard's: "input" (fix the input) or "rerun" (tasks/engine/run_record.py)
    # a packed shard's objects (uri, etag, row_start, row_stop): which part holds which object's rows
    pieces: Lineage | list[dict] = field(default_factory=list)
    # pieces of a packed shard whose input failed its suite: set aside (not in the part), each with its error
    failed_pieces: list[dict] = field(default_factory=list)

    @classmethod
    def failed(cls, shard: Shard, error: str, quality: list[dict] | None = None,
               error_kind: str | None = None) -> ShardResult:
        """A shard that did not commit (its task failed, or its child run ended without it)."""
        return cls(**which_shard(shard), output_uri="", rows=0, status_counts={}, seconds=0.0,
                   quality=list(quality or []), error=error, error_kind=error_kind)

    def to_record(self) -> dict:
        """The run record's (manifest's) entry: a committed shard's result, or a failed shard's
        id, rows, error and quality summaries."""
        if self.error is None:  # the fields themselves, not asdict's deep copy (a piece dict per object)
            doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("error", "error_kind")}
            return {k: v for k, v in doc.items() if v or k not in ("pieces", "failed_pieces")}
        doc = {"shard_id": self.shard_id, "object_uri": self.object_uri, "row_start": self.row_start,
               "row_stop": self.row_stop, "error": self.error, "error_kind": self.error_kind,
               "quality": self.quality}
        return doc | ({"pieces": self.pieces} if self.pieces else {})


def which_shard(shard: Shard) -> dict:
    """The fields every ShardResult of `shard` starts with: its id, its first object, its rows (a
    packed shard: from its first piece's first row, as many as all its pieces hold) and its lineage."""
    return {"shard_id": shard.shard_id, "object_uri": shard.object.uri, "row_start": shard.row_start,
            "row_stop": shard.row_start + shard.rows, "pieces": lineage(shard)}


def lineage(shard: Shard) -> Lineage | list[dict]:
    """A packed shard's pieces as the manifest lists them (its own pieces: no dict per object
    until the manifest is written); [] for a shard of one object (its object_uri / row_start /
    row_stop say it)."""
    return Lineage(shard.pieces) if shard.packed else []


def failed_piece(shard: Shard, index: int, error: str, quality: list[dict]) -> dict:
    piece = shard.pieces[index]
    return {"shard_id": piece.piece_id, "object_uri": piece.object.uri, "row_start": piece.row_start,
            "row_stop": piece.row_stop, "error": error, "error_kind": "input", "quality": quality,
            "packed_in": shard.shard_id}


class OutputSchemaMismatch(RuntimeError):
    """A stage's batch function returned other columns than its declared output schema (a bug)."""


def part_target(run_dir: str, shard: Shard) -> S3Uri:
    return S3Uri.parse(run_dir).join(f"part-{shard.shard_id}.parquet")


def quarantine_target(run_dir: str, shard: Shard) -> S3Uri:
    return S3Uri.parse(run_dir).join("quarantine", f"part-{shard.shard_id}.parquet")


def committed_result(conn: S3Connection, shard: Shard, run_dir: str) -> ShardResult | None:
    """The result an earlier attempt committed for this shard, or None."""
    target = part_target(run_dir, shard)
    meta = committed_part_metadata(conn, target)
    if not meta or meta.get("sentinel-shard") != shard.shard_id or "sentinel-status-counts" not in meta:
        return None
    counts = json.loads(meta["sentinel-status-counts"])
    quarantined = int(meta.get("sentinel-quarantined", "0"))
    quality = json.loads(meta.get("sentinel-quality", "[]"))
    set_aside = [int(i) for i in meta.get("sentinel-failed-pieces", "").split(",") if i]
    failed = [failed_piece(shard, i, f"{shard.pieces[i].label}: failed its input suite (see "
                                     f"{run_dir}/quality/input/{shard.pieces[i].piece_id}.json)", [])
              for i in set_aside]
    return ShardResult(
        **which_shard(shard), output_uri=str(target), rows=sum(counts.values()), status_counts=counts,
        seconds=0.0, quarantined=quarantined,
        quarantine_uri=str(quarantine_target(run_dir, shard)) if quarantined else None,
        guard_seconds=float(meta.get("sentinel-guard-seconds", "0")), quality=quality, reused=True,
        failed_pieces=failed)


class ShardOutputs:
    """The two parts of one shard, split by each row's `status`."""

    def __init__(self, conn: S3Connection, shard: Shard, run_dir: str, schema: pa.Schema,
                 sample: OutputSample | None = None):
        self.conn, self.shard, self.run_dir, self.sample = conn, shard, run_dir, sample
        # one object: its ETag; a packed shard's id already pins every object's (Shard.shard_id)
        self.metadata = {"sentinel-shard": shard.shard_id, "sentinel-etag": shard.object.etag if not shard.packed
                         else "packed"}
        self.kept = PartWriter(conn, part_target(run_dir, shard), schema, dict(self.metadata))
        self.quarantine = PartWriter(conn, quarantine_target(run_dir, shard), schema, dict(self.metadata))
        self.counts: Counter = Counter()

    @property
    def schema(self) -> pa.Schema:
        return self.kept.schema

    def write(self, batch: pa.RecordBatch) -> None:
        if set(batch.schema.names) != set(self.schema.names):
            missing = sorted(set(self.schema.names) - set(batch.schema.names))
            extra = sorted(set(batch.schema.names) - set(self.schema.names))
            raise OutputSchemaMismatch(f"shard {self.shard.shard_id}: the batch function's columns differ from the "
                                       f"stage's output schema (missing {missing}, not declared {extra})")
        batch = batch.select(self.schema.names).cast(self.schema)
        status = batch.column("status")
        for count in pc.value_counts(status).to_pylist():
            self.counts[count["values"]] += count["counts"]
        quarantined = pc.is_in(status, value_set=pa.array(QUARANTINED_STATUSES))
        kept, held = batch.filter(pc.invert(quarantined)), batch.filter(quarantined)
        self.quarantine.write(held)
        self.kept.write(kept)
        if self.sample is not None:
            self.sample.add(kept, held)

    def commit(self, guard_seconds: float, quality: list[dict],
               failed_pieces: tuple[int, ...] = ()) -> tuple[str, str | None]:
        quarantine_uri = None
        if self.quarantine.rows:
            quarantine_uri = self.quarantine.commit()
        else:
            self.quarantine.abort()
        self.kept.metadata.update({
            "sentinel-status-counts": json.dumps(dict(self.counts), sort_keys=True),
            "sentinel-quarantined": str(self.quarantine.rows),
            "sentinel-guard-seconds": f"{guard_seconds:.3f}",
            "sentinel-failed-pieces": ",".join(map(str, failed_pieces)),
            "sentinel-quality": json.dumps([{"suite": q["suite"], "kind": q["kind"], "source": q["source"],
                                             "success": q["success"], "rows": q["rows"], "failed": q["failed"],
                                             "message": q["message"][:200]} for q in quality]),
        })
        return self.kept.commit(), quarantine_uri

    def abort(self) -> None:
        self.kept.abort()
        self.quarantine.abort()


async def pipeline_batches(batches: Iterator[pa.RecordBatch], process: BatchFn,
                           sink: Callable[[pa.RecordBatch], None], in_flight: int) -> None:
    """Read the next batch while up to `in_flight` batches are processed; sink results in order."""
    pending: deque[asyncio.Task] = deque()
    try:
        while (record := await asyncio.to_thread(next, batches, None)) is not None:
            pending.append(asyncio.create_task(process(record)))
            while len(pending) > in_flight:
                sink(await pending.popleft())
        while pending:
            sink(await pending.popleft())
    finally:
        for task in pending:
            task.cancel()


def run_shard(conn: S3Connection, shard: Shard, run_dir: str, stage: ShardStage, schema: pa.Schema) -> ShardResult:
    """Commit `shard`'s parts, or return what an earlier attempt committed.

    Reads `stage.read_columns` in batches of `stage.read_batch_rows`, runs them through the batch
    function `stage.open(conn, clock, run_dir)` yields (up to `stage.batches_in_flight` at once) and writes
    each result, split by status, against `schema`. With `stage.quality`, the input suite runs on
    the shard's rows before any inference and the output suite on the rows before commit
    (tasks/quality/shard_checks.py)."""
    started = time.perf_counter()
    if (done := committed_result(conn, shard, run_dir)) is not None:
        return done
    quality = stage.quality
    summaries: list[dict] = []
    sample = None
    read_shard, set_aside, aside, output_spec = shard, [], (), None
    if quality is not None:
        read = lambda part, wanted: iter_shard_batches(  # noqa: E731
            conn, part, wanted, QUALITY_READ_ROWS, stage.text_columns)
        checked = check_input(conn, shard, run_dir, quality.input_spec, read)
        if checked.summary is not None:
            summaries.append(checked.summary)
        set_aside = [failed_piece(shard, index, str(error), [error.summary]) for index, error in checked.failed]
        aside = tuple(index for index, _ in checked.failed)
        read_shard = shard.without(set(aside))
        output_spec = quality.output_spec.model_copy(update={"unique_ids": not checked.ids_shared_across_pieces})
        sample = OutputSample(quality.output_spec.columns_to_read(set(schema.names)))
    clock = GuardClock()
    outputs = ShardOutputs(conn, shard, run_dir, schema, sample)
    try:
        async def stream() -> None:
            source = iter_shard_batches(conn, read_shard, stage.read_columns, stage.read_batch_rows,
                                        stage.text_columns)
            if sample is not None:
                source = sample.count_input(source, quality.input_spec.id_column)
            async with stage.open(conn, clock, run_dir) as process:
                await pipeline_batches(source, process, outputs.write, stage.batches_in_flight)

        asyncio.run(stream())
        if quality is not None:
            summaries.append(check_output(conn, read_shard, run_dir, output_spec, sample, schema))
        output_uri, quarantine_uri = outputs.commit(clock.seconds, summaries, aside)
    except BaseException:
        outputs.abort()
        raise
    return ShardResult(
        **which_shard(shard), output_uri=output_uri, rows=sum(outputs.counts.values()),
        status_counts=dict(outputs.counts), seconds=round(time.perf_counter() - started, 3),
        quarantined=outputs.quarantine.rows, quarantine_uri=quarantine_uri, guard_seconds=round(clock.seconds, 3),
        quality=summaries, failed_pieces=set_aside)
