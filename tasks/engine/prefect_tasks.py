"""The Prefect tasks of every flow: thin wrappers around plain functions of the stage contract
(tasks/engine/stage.py), planning and the shard engine (tasks/engine/runner.py).

    list_input_task(conn, input_uri, table_version)            -> InputListing (tasks/io/inputs.py)
    plan_objects_task(conn, objects, stage, rows, bytes)       -> ChunkPlans    a chunk of objects, footers only
    shard_task(conn, shard, stage, run_dir, run_key, slot)     -> ShardResult   (committed parts)

A run's task runs grow with its shards, not its objects: objects are planned in a few chunks and
packed into shards (planning.ShardPacker)."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from tasks.engine.planning import DEFAULT_SHARD_BYTES
from tasks.engine.runner import ShardResult, run_shard
from tasks.engine.stage import ShardStage
from tasks.inference.client import TRITON_CONCURRENCY_LIMIT
from tasks.io.inputs import InputListing, list_input
from tasks.io.listing import ObjectRef
from tasks.io.object_cache import forget
from tasks.io.parquet import InputError, input_schema, is_transient_io_error, read_footer
from tasks.io.s3 import S3Connection
from tasks.io.shards import ObjectPlan, Shard
from tasks.quality import OutputQualityError

# footers read at once by one planning task (a few concurrent chunks share the S3 client's 32 connections)
PLAN_THREADS = 8
T, R = TypeVar("T"), TypeVar("R")


def process_shard(conn: S3Connection, shard: Shard, stage: ShardStage, run_dir: str) -> ShardResult:
    """Plain function: run `shard` through `stage` and commit `<run_dir>/part-<shard_id>.parquet`
    (and `<run_dir>/quarantine/part-<shard_id>.parquet` if any row is failed or flagged). A shard
    an earlier attempt committed is reused, not recomputed. The output's id and passthrough columns
    have the types the reader hands on (plain_schema: a categorical id comes out as strings)."""
    try:
        schema = stage.output_schema(input_schema(read_footer(conn, shard.object), shard.object, stage.read_columns))
        return run_shard(conn, shard, run_dir, stage, schema)
    finally:
        forget(piece.object for piece in shard.pieces)  # small objects' bytes, fetched whole (object_cache)


def retry_unless_bad_data(_task, _task_run, state) -> bool:
    """Retry a shard after an outage, not after input or output that failed its checks."""
    try:
        state.result()
    except (InputError, OutputQualityError):
        return False
    except Exception:
        return True
    return True


# No Prefect result persistence or cache: a shard's committed part (its metadata) is its result, which
# run_shard finds and reuses on any rerun; persisting results cost an S3 write per shard and a result
# storage block per run (a Prefect API write that a busy server can refuse).
@task(name="process-shard", task_run_name="{stage.name}-shard-{shard.shard_id}", persist_result=False,
      cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10, retry_condition_fn=retry_unless_bad_data)
def shard_task(conn: S3Connection, shard: Shard, stage: ShardStage, run_dir: str, run_key: str,
               slot_limit: str | None = None) -> ShardResult:
    """`slot_limit`: a global concurrency limit to hold a slot of while the shard runs (protects Triton)."""
    with concurrency(slot_limit, occupy=1) if slot_limit else nullcontext():
        return process_shard(conn, shard, stage, run_dir)


@task(name="list-input-objects", retries=2, retry_delay_seconds=5, retry_condition_fn=retry_unless_bad_data,
      cache_policy=NO_CACHE)
def list_input_task(conn: S3Connection, input_uri: str, table_version: str | None = None) -> InputListing:
    """The input as its writer meant it (tasks/io/inputs.py); a bad table or version fails the run."""
    return list_input(conn, input_uri, table_version)


def plan_objects(conn: S3Connection, objects: list[ObjectRef], stage: ShardStage, shard_rows: int,
                 shard_bytes: int = DEFAULT_SHARD_BYTES, threads: int = PLAN_THREADS) -> list[ObjectPlan]:
    """Plain function: every object's plan (footers read `threads` at a time), in the objects' order.
    Bad input is that object's plan error; S3 trouble raises (the task retries the chunk)."""
    if not objects:
        return []

    def plan(obj: ObjectRef) -> ObjectPlan:
        try:
            return stage.plan(conn, obj, shard_rows, shard_bytes)
        except Exception as exc:  # not bad input (plan() returns that) and not S3 trouble: this object's alone
            if is_transient_io_error(exc):
                raise
            return ObjectPlan(obj, error=f"{obj.uri}: planning failed ({type(exc).__name__}: {exc})")

    with ThreadPoolExecutor(max_workers=min(threads, len(objects))) as pool:
        plans = list(map_ahead(pool, plan, objects, ahead=4 * threads))
    forget(p.object for p in plans if p.error)  # no shard will read them (object_cache)
    return plans


def map_ahead(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[R]:
    """`pool.map(fn, items)` (results in order, the first error raised) with at most `ahead` items
    submitted and not yet returned: Executor.map submits every item at once, and a chunk of 20,000
    objects held 20,000 futures (each with its lock and condition, ~12 MB) until its last plan."""
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


@dataclass(frozen=True, slots=True)
class ChunkPlans:
    """What a planning task returns: its chunk's plans, in order, inside one object. Prefect links each
    item of a returned list to the task's state for the rest of the flow run (a dict entry and a weak
    reference each: ~20 MB for 100,000 objects); one object is one link."""

    plans: list[ObjectPlan]


# NO_CACHE: Prefect's default cache policy hashes a task's inputs (a chunk of 20,000 objects, a shard of
# 20,000 pieces) on every call; nothing here is cached by Prefect (a committed part is the cache)
@task(name="plan-objects", task_run_name="plan-{label}", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def plan_objects_task(conn: S3Connection, objects: list[ObjectRef], stage: ShardStage, shard_rows: int,
                      shard_bytes: int = DEFAULT_SHARD_BYTES, label: str = "objects") -> ChunkPlans:
    """A chunk of a run's objects planned in one task run (not one per object: a run's task runs grow
    with its shards, not its files)."""
    return ChunkPlans(plan_objects(conn, objects, stage, shard_rows, shard_bytes))


@task(name="append-to-delta-table", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def append_delta_task(conn: S3Connection, table_uri: str, run_key: str, part_uris: list[str]) -> dict:
    """The run's kept rows appended to a Delta table, once per run key (tasks/io/delta_output.py)."""
    from tasks.io.delta_output import append_run

    return append_run(conn, table_uri, run_key, part_uris)


def triton_slot_limit() -> str | None:
    """The Triton concurrency limit, if this Prefect server has one (`sentinel deploy-local` makes it)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(TRITON_CONCURRENCY_LIMIT)
        except ObjectNotFound:
            return None
    return TRITON_CONCURRENCY_LIMIT
