"""A shard's data-quality suites (tasks/quality, Great Expectations): the input suite on the
shard's rows before any inference, the output suite on its kept + quarantined rows before commit.
Each result is written to `<run_dir>/quality/{input,output}/<shard>.json`; a failed input suite
stops the shard (InputQualityError), a failed output suite fails it (OutputQualityError) and
nothing is committed."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from tasks.io.s3 import S3Connection
from tasks.io.shards import Shard
from tasks.quality import InputSpec, OutputSpec, validate_input, validate_output, write_quality_result


def shard_source(shard: Shard) -> str:
    return f"{shard.object.uri} rows {shard.row_start}–{shard.row_stop}"


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


def check_input(conn: S3Connection, shard: Shard, run_dir: str, spec: InputSpec,
                read: Callable[[list[str]], Iterator[pa.RecordBatch]]) -> dict | None:
    """Validate the shard's input columns; raises InputQualityError (naming object, rows, columns)."""
    batches = list(read(spec.required_columns))
    if not batches:
        return None
    result = validate_input(pa.Table.from_batches(batches), spec, shard_source(shard), row_offset=shard.row_start)
    write_quality_result(conn, run_dir, f"input/{shard.shard_id}", result)
    result.raise_for_failure()
    return result.summary()


def check_output(conn: S3Connection, shard: Shard, run_dir: str, spec: OutputSpec, sample: OutputSample,
                 schema: pa.Schema) -> dict:
    """Validate kept + quarantined rows against the rows read; raises OutputQualityError."""
    fields = pa.schema([schema.field(c) for c in sample.columns])
    input_ids = pa.chunked_array(sample.input_ids, fields.field(spec.id_column).type) if sample.input_ids else None
    kept, quarantined = pa.Table.from_batches(sample.kept, fields), pa.Table.from_batches(sample.quarantined, fields)
    result = validate_output(kept, quarantined, sample.rows_in, spec, shard_source(shard), input_ids=input_ids,
                             input_row_offset=shard.row_start)
    write_quality_result(conn, run_dir, f"output/{shard.shard_id}", result)
    result.raise_for_failure()
    return result.summary()
