"""Run shard groups as child flow runs of a `shard-group` deployment (flows/shard_group.py) and
collect what they committed (the parts' own metadata is the record, not the children's return
values). Any stage fans out: the child rebuilds it from `stage.stage_dict()`."""
from __future__ import annotations

import time
from dataclasses import asdict, replace

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment

from tasks.engine.run_record import RERUN_ERROR
from tasks.engine.runner import ShardResult, committed_result
from tasks.engine.stage import ShardStage
from tasks.io.listing import ObjectRef
from tasks.io.s3 import S3Connection
from tasks.io.shards import Piece, RowGroupSlice, Shard


def shard_to_dict(shard: Shard) -> dict:
    """The shard as a flow parameter (JSON): its packed pieces as a list (a PieceList refers to the run's
    listing, which a child run does not have)."""
    return asdict(replace(shard, more=())) | {"more": [asdict(piece) for piece in shard.more]}


def _object(doc: dict) -> ObjectRef:
    return ObjectRef(doc["uri"], doc["etag"], doc["size"], tuple(tuple(v) for v in doc.get("partition", ())))


def shard_from_dict(doc: dict) -> Shard:
    more = tuple(Piece(_object(p["object"]), p["row_start"], p["row_stop"],
                       tuple(RowGroupSlice(**s) for s in p["slices"])) for p in doc.get("more", ()))
    return Shard(_object(doc["object"]), doc["row_start"], doc["row_stop"],
                 tuple(RowGroupSlice(**piece) for piece in doc["slices"]), more, doc.get("bytes", 0))


def start_children(deployment: str, groups: list[list[Shard]], stage: ShardStage, run_dir: str,
                   run_key: str, s3_credentials: str | None) -> list:
    return [
        run_deployment(name=deployment, timeout=0, as_subflow=True, parameters={
            "shards": [shard_to_dict(s) for s in group], "stage": stage.stage_dict(),
            "run_dir": run_dir, "run_key": run_key, "s3_credentials": s3_credentials,
        })
        for group in groups
    ]


def wait_for_children(flow_runs: list, on_done, poll_s: float = 2.0) -> dict:
    """Poll until every child is final, calling `on_done(run_id, state)` for each as it ends;
    returns {flow_run_id: final state}."""
    pending = {run.id for run in flow_runs}
    final: dict = {}
    with get_client(sync_client=True) as client:
        while pending:
            for run_id in list(pending):
                state = client.read_flow_run(run_id).state
                if state is not None and state.is_final():
                    final[run_id] = state
                    pending.discard(run_id)
                    on_done(run_id, state)
            if pending:
                time.sleep(poll_s)
    return final


def committed_results(conn: S3Connection, shards: list[Shard], run_dir: str, child_state) -> list[dict]:
    results = []
    for shard in shards:
        done = committed_result(conn, shard, run_dir)
        if done is not None:
            results.append(replace(done, reused=False).to_record())
            results += done.failed_pieces
        else:
            results.append(ShardResult.failed(shard, f"child run ended {child_state.name}: {child_state.message}",
                                              error_kind=RERUN_ERROR).to_record())
    return results


def run_shard_groups(conn: S3Connection, deployment: str, shards: list[Shard], stage: ShardStage,
                     run_dir: str, run_key: str, s3_credentials: str | None, shards_per_child: int,
                     progress) -> list[dict]:
    logger = get_run_logger()
    groups = [shards[i:i + shards_per_child] for i in range(0, len(shards), shards_per_child)]
    children = start_children(deployment, groups, stage, run_dir, run_key, s3_credentials)
    logger.info("fanned %d shards out to %d runs of %s", len(shards), len(children), deployment)
    group_of = {run.id: group for run, group in zip(children, groups)}

    results: dict = {}

    def collect(run_id, state) -> None:
        """A child ended: read back what it committed; the progress moves by its shards."""
        results[run_id] = committed_results(conn, group_of[run_id], run_dir, state)
        for entry in results[run_id]:
            progress.advance(entry)

    wait_for_children(children, collect)
    return [entry for run in children for entry in results[run.id]]
