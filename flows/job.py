"""The job every batch flow runs, whatever its stage (tasks/engine/stage.py):

    list objects -> plan shards from parquet footers -> process shards (mapped, cached; or fanned out
    to child runs of the `shard-group` flow) -> ids across shards -> report.md/json, manifest,
    _SUCCESS -> the run's outcome

An input with no objects ends Completed with a "nothing to do" report (or Failed, with
`fail_on_empty_input`).

Rerunning the same inputs and config lands in the same `<output_uri>/<run_key>/` and recomputes
nothing already committed.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC

from prefect import get_run_logger
from prefect.utilities.annotations import quote

from blocks.loading import load_block
from blocks.triton_endpoint import TritonEndpoint
from flows.fan_out import run_shard_groups
from flows.parameters import blank_is_none
from flows.run_report import ShardProgress
from flows.run_steps import (
    DEFAULT_MAX_QUARANTINED_SHARE,
    collect_plans,
    collect_shards,
    finish_empty_run,
    finish_run,
)
from tasks.engine.object_entries import InputEntries
from tasks.engine.planning import DEFAULT_SHARD_BYTES, ShardPacker, pack_plans, plan_ahead
from tasks.engine.prefect_tasks import list_input_task, plan_objects, plan_objects_task, shard_task, triton_slot_limit
from tasks.engine.run_record import RunRecord, config_hash, run_key
from tasks.engine.stage import ShardStage
from tasks.io.inputs import InputListing, list_input
from tasks.io.object_table import ObjectTable, ObjectView
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri
from tasks.io.shards import ObjectPlan, Shard
from tasks.quality import warm_up_in_background
from tasks.quality.validate import GE_FULL, quality_mode

# Shard tasks in flight in one flow run (the flows' ThreadPoolTaskRunner).
SHARD_WORKERS = int(os.environ.get("SENTINEL_SHARD_WORKERS", "4"))


def load_triton(block_name: str | None) -> TritonEndpoint:
    """The named Sentinel Triton Endpoint block, else SENTINEL_TRITON_URL (default 127.0.0.1:8001)."""
    if block_name:
        return load_block(TritonEndpoint, block_name)
    return TritonEndpoint(url=os.environ.get("SENTINEL_TRITON_URL", "127.0.0.1:8001"))


# objects planned by one task: the first chunk small (shards start soon), doubling up to this
FIRST_PLAN_CHUNK, MAX_PLAN_CHUNK = 250, 20_000
# planning tasks in flight at once: the next chunk is planned while the last one's shards run, and a
# run holds at most this many chunks' plans (not the whole input's)
PLANNING_AHEAD = 2


def plan_chunks(objects: ObjectTable) -> Iterator[ObjectView]:
    """The run's objects in listing order, cut into chunks of 250, 500, 1000, ... objects (at most
    MAX_PLAN_CHUNK): 2,000 objects are 4 planning task runs, 100,000 are 11. Each is a view of the
    listing (no copy)."""
    start, size = 0, FIRST_PLAN_CHUNK
    while start < len(objects):
        yield objects[start:start + size]
        start, size = start + size, min(size * 2, MAX_PLAN_CHUNK)


def with_scheduled_date(uri: str) -> str:
    """`{scheduled_date}` in a URI becomes this run's scheduled date (UTC, YYYY-MM-DD)."""
    if "{scheduled_date}" not in uri:
        return uri
    from prefect.runtime import flow_run

    when = flow_run.scheduled_start_time  # a timezone-aware datetime
    return uri.replace("{scheduled_date}", when.astimezone(UTC).strftime("%Y-%m-%d"))


def check_locations(input_uri: str, output_uri: str) -> tuple[S3Uri, S3Uri]:
    source, target = S3Uri.parse(input_uri), S3Uri.parse(output_uri)
    if source.bucket == target.bucket and target.prefix.startswith(source.prefix):
        raise ValueError(f"output_uri {output_uri} is inside input_uri {input_uri}: outputs would become inputs")
    return source, target


def run_config(stage: ShardStage, shard_rows: int, shard_bytes: int = DEFAULT_SHARD_BYTES,
               table: dict | None = None) -> dict:
    """Everything that changes the outputs: the stage's config and the shard bounds (they decide
    the shards, so the part names: a run key must never mix parts of two plans), and for a Delta or
    Iceberg input the table version read (a rerun of that key reads the same snapshot)."""
    config = stage.config() | {"shard_rows": shard_rows, "shard_bytes": shard_bytes}
    if table:
        config["table"] = {k: v for k, v in table.items() if k in ("format", "version", "snapshot_id")}
    return config


def read_input(stage: ShardStage, listing: InputListing) -> ShardStage:
    """The stage for this input: Hive/Delta/Iceberg partition values are columns of every row, kept."""
    return stage.with_passthrough(listing.partition_columns) if listing.partition_columns else stage


def identify_run(stage: ShardStage, listing: InputListing, input_uri: str, output: S3Uri, shard_rows: int,
                 shard_bytes: int = DEFAULT_SHARD_BYTES) -> RunRecord:
    """The run's identity and where it writes: config, config hash, run key (the objects' ETags and
    the config hash), `<output>/<run_key>/`, and what the input listing found."""
    config = run_config(stage, shard_rows, shard_bytes, listing.table)
    cfg_hash = config_hash(config)
    key = run_key(listing.objects, cfg_hash)
    return RunRecord(run_key=key, config_hash=cfg_hash, config=config, input_uri=input_uri,
                     output_dir=str(output.join(key)), model=stage.model_label, input_listing=listing.record(),
                     inputs=InputEntries(objects=listing.objects))


@dataclass
class RunPlan:
    """What a run would do before any inference (`sentinel translate … --dry-run`)."""

    record: RunRecord  # run key, config, output directory
    plans: list[ObjectPlan]  # one per input object, in listing order: its shards, or its error
    shards: list[Shard]  # what the run would process: the plans' shards, small objects packed together


def plan_run(stage: ShardStage, conn: S3Connection, *, input_uri: str, output_uri: str, shard_rows: int,
             shard_bytes: int = DEFAULT_SHARD_BYTES, table_version: str | None = None) -> RunPlan:
    """run_job's steps up to the shards, as plain functions (no task runs, nothing written): the same
    locations check, listing, run identity, planning (`plan_objects`, what plan_objects_task runs) and
    packing."""
    input_uri, output_uri = with_scheduled_date(input_uri), with_scheduled_date(output_uri)
    _, output = check_locations(input_uri, output_uri)
    listing = list_input(conn, input_uri, blank_is_none(table_version))
    stage = read_input(stage, listing)
    record = identify_run(stage, listing, input_uri, output, shard_rows, shard_bytes)
    objects = listing.objects[:]  # a view of the listing: packed shards refer to its objects
    plans = plan_objects(conn, objects, stage, shard_rows, shard_bytes)
    return RunPlan(record, plans, pack_plans(plans, shard_rows, shard_bytes, objects))


def run_job(stage: ShardStage, *, conn: S3Connection, input_uri: str, output_uri: str, shard_rows: int,
            shard_bytes: int = DEFAULT_SHARD_BYTES,
            s3_credentials: str | None, fan_out_deployment: str | None = None, shards_per_child: int = 8,
            max_quarantined_share: float = DEFAULT_MAX_QUARANTINED_SHARE, fail_on_empty_input: bool = False,
            table_version: str | None = None, delta_output_uri: str | None = None) -> dict:
    """Process every row of the input (the parquet objects under `input_uri`, read as their writer
    meant them: tasks/io/inputs.py; `table_version` for a Delta or Iceberg table) with `stage`; returns the run
    summary, or raises RunIncomplete (flows/run_steps.py) when an object or shard failed, ids repeat
    across shards, more than `max_quarantined_share` of the rows were quarantined, or (with
    `fail_on_empty_input`) there was nothing to do."""
    logger = get_run_logger()
    started = time.perf_counter()
    input_uri, output_uri = with_scheduled_date(input_uri), with_scheduled_date(output_uri)
    _, output = check_locations(input_uri, output_uri)
    if stage.quality is not None and quality_mode() == GE_FULL:
        warm_up_in_background()  # every shard goes to GE: overlap its import with listing and planning

    listing = list_input_task(conn, input_uri, blank_is_none(table_version))
    stage = read_input(stage, listing)
    for warning in listing.warnings:
        logger.warning("%s: %s", input_uri, warning)
    if listing.skipped:
        logger.info("%s: %d objects are not data of this input and were not read (first: %s: %s)", input_uri,
                    len(listing.skipped), listing.skipped[0]["uri"], listing.skipped[0]["reason"])
    record = identify_run(stage, listing, input_uri, output, shard_rows, shard_bytes)
    objects = listing.objects
    if not objects:  # e.g. a nightly run over a day nothing arrived for
        return finish_empty_run(conn, record, started, stage.name, fail_on_empty_input=fail_on_empty_input)
    key, run_dir = record.run_key, record.output_dir
    logger.info("%s run %s: %d objects (%s) -> %s", stage.name, key, len(objects), listing.layout, run_dir)

    # plan in a few chunks (small first: the first shards start within seconds), at most PLANNING_AHEAD
    # at once; pack small objects into shards as each chunk comes back, and start every shard as soon
    # as it is packed (ahead of the next chunk's planning in the task runner's queue)
    fan_out = blank_is_none(fan_out_deployment)
    slot = None if fan_out else triton_slot_limit()
    packer, shards, futures = ShardPacker(shard_rows, shard_bytes), [], []

    def start(new: list[Shard]) -> None:
        shards.extend(new)
        if not fan_out:
            futures.extend(shard_task.submit(conn, quote(shard), stage, run_dir, key, slot) for shard in new)

    def submit_planning(numbered: tuple[int, ObjectView]):
        number, chunk = numbered
        return plan_objects_task.submit(conn, quote(chunk), stage, shard_rows, shard_bytes, label=f"{key}-{number}")

    def collect(future, numbered: tuple[int, ObjectView]) -> tuple[ObjectView, list[ObjectPlan]]:
        return numbered[1], collect_plans(future, numbered[1], record)

    for chunk, plans in plan_ahead(enumerate(plan_chunks(objects), start=1), submit_planning, collect,
                                   PLANNING_AHEAD):
        start(packer.add(plans, chunk))
    start(packer.finish())
    logger.info("%s run %s: %d objects planned into %d shards", stage.name, key, len(objects), len(shards))

    progress = ShardProgress(len(shards), f"shards of {stage.name} run {key}", rows=sum(s.rows for s in shards))
    if fan_out:
        record.shards = run_shard_groups(conn, fan_out_deployment, shards, stage, run_dir, key, s3_credentials,
                                         shards_per_child, progress)
    else:
        collect_shards(futures, shards, record, progress)
    return finish_run(conn, record, started, report_prefix=stage.name, check_object_ids=stage.quality is not None,
                      delta_output_uri=blank_is_none(delta_output_uri),
                      max_quarantined_share=max_quarantined_share, progress=progress)
