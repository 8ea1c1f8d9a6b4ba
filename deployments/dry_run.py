"""`sentinel translate | transcribe | speech-translate … --dry-run`: what a run would do, without it.

The plan comes from the job itself (flows/job.py `plan_run`: the same listing, run identity and
per-object planning as `run_job`, from the stage the flow builds, `build_stage`); this module only
prints it: the objects, the planned shards (rows, bytes, objects per shard), the run key and where
the outputs will go. Nothing is read past the parquet footers, nothing is sent to Triton, nothing
is written.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.job import RunPlan, plan_run
from tasks.engine.planning import DEFAULT_SHARD_BYTES, row_group_sizes
from tasks.engine.run_record import unprefixed
from tasks.engine.runner import part_target
from tasks.engine.stage import ShardStage
from tasks.io.listing import ObjectRef
from tasks.io.parquet import read_footer
from tasks.io.s3 import S3Connection
from tasks.io.shards import Shard


def dry_run(flow_name: str, build_stage, params: Mapping[str, Any]) -> str:
    """The report of a dry run of `flow_name` with its validated `params` (every parameter)."""
    from blocks.s3_access import load_s3_connection

    conn = load_s3_connection(params["s3_credentials"])
    stage = build_stage(params)
    shard_bytes = params.get("shard_bytes", DEFAULT_SHARD_BYTES)
    plan = plan_run(stage, conn, input_uri=params["input_uri"], output_uri=params["output_uri"],
                    shard_rows=params["shard_rows"], shard_bytes=shard_bytes,
                    table_version=params.get("table_version"))
    return format_plan(flow_name, plan, conn, stage, params["shard_rows"], shard_bytes)


def shard_objects(shard: Shard) -> tuple[ObjectRef, ...]:
    """The objects a shard reads (several when small objects are packed together)."""
    return tuple(piece.object for piece in shard.pieces)


def shard_bytes_read(conn: S3Connection, shard: Shard, stage: ShardStage) -> int:
    """Uncompressed bytes of the columns the shard reads, from the footers (what `shard_bytes` bounds)."""
    total = 0.0
    for piece in shard.pieces:
        sizes = row_group_sizes(read_footer(conn, piece.object), stage.read_columns)
        for part in piece.slices:
            group = sizes[part.index]
            total += group.bytes * (part.stop - part.start) / group.rows if group.rows else 0
    return round(total)


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"


def format_plan(flow_name: str, plan: RunPlan, conn: S3Connection, stage: ShardStage, shard_rows: int,
                shard_bytes: int) -> str:
    record = plan.record
    shards = plan.shards
    failed = [p for p in plan.plans if p.error]
    rows = sum(p.rows for p in plan.plans)
    stored = sum(p.object.size for p in plan.plans)
    lines = [
        f"{flow_name} dry run: nothing is sent to Triton and nothing is written",
        f"input    {record.input_uri}  {plural(len(plan.plans), 'object')}, {rows:,} rows, {size(stored)} stored"
        + (f"; {len(failed)} of them would fail" if failed else ""),
        f"run key  {record.run_key}  (config hash {record.config_hash}: the same inputs and config land here again)",
        f"outputs  {record.output_dir}/  part-<shard>.parquet, quarantine/, quality/, manifest.json, report.md, "
        "_SUCCESS",
        f"shards   {len(shards)} (at most {shard_rows:,} rows"
        + (f" and {size(shard_bytes)} of the columns read" if stage.name == "translate" else "") + " each)",
    ]
    if not plan.plans:
        lines.append("no input objects: a run would end with nothing to do")
        return "\n".join(lines)
    lines += ["", "objects"]
    width = max(len(p.object.uri) for p in plan.plans)
    for p in plan.plans:
        what = (f"error: {unprefixed(p.error, p.object.uri)}" if p.error
                else f"{p.rows:>10,} rows  {size(p.object.size):>10}  {plural(len(p.shards), 'shard')}")
        lines.append(f"  {p.object.uri:<{width}}  {what}")
    if shards:
        lines += ["", "shards (bytes: uncompressed, of the columns read)",
                  f"  {'rows':>10}  {'bytes':>10}  {'objects':>7}  part"]
        for shard in shards:
            objects = shard_objects(shard)
            where = ", ".join(f"{p.object.uri} rows {p.row_start:,}-{p.row_stop:,}" for p in shard.pieces[:3])
            where += f" and {len(objects) - 3:,} more objects" if len(objects) > 3 else ""
            part = part_target(record.output_dir, shard).key.rsplit("/", 1)[-1]
            lines.append(f"  {shard.rows:>10,}  {size(shard_bytes_read(conn, shard, stage)):>10}  {len(objects):>7}  "
                         f"{part}  <- {where}")
    return "\n".join(lines)
