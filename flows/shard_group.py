"""Fan-out: a group of shards of a batch run (any stage), as its own flow run.

A batch flow in-process maps shard tasks on one machine (the default). With `fan_out_deployment`
set, it instead starts one run of a `shard-group` deployment per group of shards (e.g. one
Kubernetes Job per group). Children rebuild the stage from its dict and write the same deterministic
parts (a part an earlier attempt committed is reused), so the parent's manifest reads what they
committed, and reruns recompute nothing.
"""
from __future__ import annotations

from prefect import flow, unmapped
from prefect.task_runners import ThreadPoolTaskRunner

from blocks.s3_access import load_s3_connection
from flows.fan_out import shard_from_dict
from flows.job import SHARD_WORKERS
from tasks.engine.object_entries import plain
from tasks.engine.prefect_tasks import shard_task, triton_slot_limit
from tasks.registry import stage_from_dict


@flow(name="shard-group", task_runner=ThreadPoolTaskRunner(max_workers=SHARD_WORKERS), log_prints=True)
def shard_group(shards: list[dict], stage: dict, run_dir: str, run_key: str,
                s3_credentials: str | None = None) -> list[dict]:
    """Process some shards of a batch run (started by the parent run, not by hand).

    Args:
        shards: the shards, as the parent planned them.
        stage: the parent's stage (`ShardStage.stage_dict()`: translate, transcribe or speech-translate).
        run_dir: the parent run's output directory.
        run_key: the parent run's key.
        s3_credentials: name of the AWS Credentials block (empty = the environment's credentials).
    """
    conn = load_s3_connection(s3_credentials)
    futures = shard_task.map(unmapped(conn), [shard_from_dict(d) for d in shards], unmapped(stage_from_dict(stage)),
                       unmapped(run_dir), unmapped(run_key), unmapped(triton_slot_limit()))
    return plain([entry for result in futures.result() for entry in (result.to_record(), *result.failed_pieces)])
