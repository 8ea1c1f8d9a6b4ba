"""A shard's data-quality suites (tasks/quality, Great Expectations): the input suite on the
shard's rows before any inference, the output suite on its kept + quarantined rows before commit.
A passing result's summary travels in the part's metadata and the manifest; a failing one is also
written whole to `<run_dir>/quality/{input,output}/<shard or piece>.json`. A failed input suite stops
the shard (InputQualityError), a failed output suite fails it (OutputQualityError) and nothing is
committed.

A packed shard (many small objects) is validated whole first; when that fails, each object's piece
is validated alone, so ids need only be unique per object (as for a shard of one object) and a bad
object is named and set aside (`InputCheck.failed`) while the others' rows go on."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from tasks.io.s3 import S3Connection
from tasks.io.shards import Shard
from tasks.quality import InputSpec, OutputSpec, validate_input, validate_output, write_quality_result
from tasks.quality.result import InputQualityError


def shard_source(shard: Shard) -> str:
    return shard.label


def first_row(shard: Shard) -> int:
    """The object row a suite's row 0 is: a one-object shard's first row; 0 in a packed shard, whose
    rows a failure names piece by piece (check_input) instead."""
    return 0 if shard.packed else shard.row_start


@dataclass(frozen=True)
class ShardQualityChecks:
    input_spec: InputSpec
    output_spec: OutputSpec

    def config(self) -> dict:
        return {"input": self.input_spec.model_dump(), "output": self.output_spec.model_dump()}


@dataclass
class OutputSample:
    """The columns the output suite reads, collected as parts are written (no text bodies beyond
    the `ok` text columns), plus the input ids as they were read."""

    columns: list[str]
    kept: list[pa.RecordBatch] = field(default_factory=list)
    quarantined: list[pa.RecordBatch] = field(default_factory=list)
    input_ids: list[pa.Array] = field(default_factory=list)
    rows_in: int = 0

    def count_input(self, batches: Iterator[pa.RecordBatch], id_column: str) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            self.rows_in += batch.num_rows
            self.input_ids.append(batch.column(id_column))
            yield batch

    def add(self, kept: pa.RecordBatch, quarantined: pa.RecordBatch) -> None:
        self.kept.append(kept.select(self.columns))
        self.quarantined.append(quarantined.select(self.columns))


@dataclass
class InputCheck:
    """The input suite's verdict on a shard: its summary, the pieces that failed (index, error) and
    whether ids repeat across the other pieces (allowed: ids are unique per object)."""

    summary: dict | None
    failed: list[tuple[int, InputQualityError]] = field(default_factory=list)
    ids_shared_across_pieces: bool = False


def check_input(conn: S3Connection, shard: Shard, run_dir: str, spec: InputSpec,
                read: Callable[[Shard, list[str]], Iterator[pa.RecordBatch]]) -> InputCheck:
    """Validate the shard's input columns; raises InputQualityError (naming object, rows, columns)
    when every piece fails."""
    batches = list(read(shard, spec.required_columns))
    if not batches:
        return InputCheck(None)
    table = pa.Table.from_batches(batches)
    result = validate_input(table, spec, shard_source(shard), row_offset=first_row(shard))
    if result.success:
        return InputCheck(result.summary())
    if not shard.packed:
        write_quality_result(conn, run_dir, f"input/{shard.shard_id}", result)
        result.raise_for_failure()
    failed, passed, ids, offset = [], [], [], 0
    for index, piece in enumerate(shard.pieces):
        rows = table.slice(offset, piece.rows)
        offset += piece.rows
        alone = validate_input(rows, spec, piece.label, row_offset=piece.row_start)
        if alone.success:
            passed.append(alone.summary())
            ids.append(rows.column(spec.id_column))
            continue
        write_quality_result(conn, run_dir, f"input/{piece.piece_id}", alone)
        failed.append((index, InputQualityError(alone)))
    if not passed:
        raise failed[0][1]
    summary = {**passed[0], "source": shard.label, "rows": sum(s["rows"] for s in passed),
               "seconds": round(sum(s["seconds"] for s in passed), 4)}
    kept_ids = pa.chunked_array([c for column in ids for c in column.chunks], table.schema.field(spec.id_column).type)
    shared = len(pc.unique(kept_ids)) < kept_ids.length() - kept_ids.null_count
    return InputCheck(summary, failed, ids_shared_across_pieces=shared)


def check_output(conn: S3Connection, shard: Shard, run_dir: str, spec: OutputSpec, sample: OutputSample,
                 schema: pa.Schema) -> dict:
    """Validate kept + quarantined rows against the rows read; raises OutputQualityError."""
    fields = pa.schema([schema.field(c) for c in sample.columns])
    input_ids = pa.chunked_array(sample.input_ids, fields.field(spec.id_column).type) if sample.input_ids else None
    kept, quarantined = pa.Table.from_batches(sample.kept, fields), pa.Table.from_batches(sample.quarantined, fields)
    result = validate_output(kept, quarantined, sample.rows_in, spec, shard_source(shard), input_ids=input_ids,
                             input_row_offset=first_row(shard))
    if not result.success:
        write_quality_result(conn, run_dir, f"output/{shard.shard_id}", result)
        result.raise_for_failure()
    return result.summary()
