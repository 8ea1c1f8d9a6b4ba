"""The one shard task of every flow, and the planning task: thin Prefect wrappers around the
stage contract (tasks/engine/stage.py) and the shard engine (tasks/engine/runner.py).

    plan_shards_task(conn, obj, stage, shard_rows, shard_bytes) -> ObjectPlan   (footer only; bad input fails the task)
    shard_task(conn, shard, stage, run_dir, run_key, slot_limit)   -> ShardResult (committed parts)
"""
from __future__ import annotations

from contextlib import nullcontext

from prefect import task
from prefect.concurrency.sync import concurrency

from tasks.engine.planning import DEFAULT_SHARD_BYTES
from tasks.engine.runner import ShardResult, run_shard
from tasks.engine.stage import ShardStage
from tasks.inference.client import TRITON_CONCURRENCY_LIMIT
from tasks.io.inputs import InputListing, list_input
from tasks.io.listing import ObjectRef
from tasks.io.parquet import InputError, input_schema, read_footer
from tasks.io.s3 import S3Connection
from tasks.io.shards import ObjectPlan, Shard
from tasks.quality import OutputQualityError


def process_shard(conn: S3Connection, shard: Shard, stage: ShardStage, run_dir: str) -> ShardResult:
    """Plain function: run `shard` through `stage` and commit `<run_dir>/part-<shard_id>.parquet`
    (and `<run_dir>/quarantine/part-<shard_id>.parquet` if any row is failed or flagged). A shard
    an earlier attempt committed is reused, not recomputed. The output's id and passthrough columns
    have the types the reader hands on (plain_schema: a categorical id comes out as strings)."""
    schema = stage.output_schema(input_schema(read_footer(conn, shard.object), shard.object, stage.read_columns))
    return run_shard(conn, shard, run_dir, stage, schema)


def shard_cache_key(_context, parameters: dict) -> str:
    """Cache on (stage, run key = input ETags + config hash, shard = object ETag + row range)."""
    return f"{parameters['stage'].name}-shard/{parameters['run_key']}/{parameters['shard'].shard_id}"


def retry_unless_bad_data(_task, _task_run, state) -> bool:
    """Retry a shard after an outage, not after input or output that failed its checks."""
    try:
        state.result()
    except (InputError, OutputQualityError):
        return False
    except Exception:
        return True
    return True


@task(name="process-shard", task_run_name="{stage.name}-shard-{shard.shard_id}", cache_key_fn=shard_cache_key,
      persist_result=True, retries=1, retry_delay_seconds=10, retry_condition_fn=retry_unless_bad_data)
def shard_task(conn: S3Connection, shard: Shard, stage: ShardStage, run_dir: str, run_key: str,
               slot_limit: str | None = None) -> ShardResult:
    """`slot_limit`: a global concurrency limit to hold a slot of while the shard runs (protects Triton)."""
    with concurrency(slot_limit, occupy=1) if slot_limit else nullcontext():
        return process_shard(conn, shard, stage, run_dir)


@task(name="list-input-objects", retries=2, retry_delay_seconds=5, retry_condition_fn=retry_unless_bad_data)
def list_input_task(conn: S3Connection, input_uri: str, table_version: str | None = None) -> InputListing:
    """The input as its writer meant it (tasks/io/inputs.py); a bad table or version fails the run."""
    return list_input(conn, input_uri, table_version)


@task(name="plan-shards", task_run_name="plan-{obj.uri}", retries=2, retry_delay_seconds=5,
      retry_condition_fn=retry_unless_bad_data)
def plan_shards_task(conn: S3Connection, obj: ObjectRef, stage: ShardStage, shard_rows: int,
                     shard_bytes: int = DEFAULT_SHARD_BYTES) -> ObjectPlan:
    """Bad input fails the task (red in the UI, not retried: the object is that run's error, the
    other objects go on); S3 trouble is retried."""
    plan = stage.plan(conn, obj, shard_rows, shard_bytes)
    if plan.error:
        raise InputError(plan.error)
    return plan


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
