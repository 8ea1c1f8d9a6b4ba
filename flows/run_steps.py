"""Steps every batch flow ends with: collect the mapped shard tasks, then write the manifest,
`_SUCCESS` and the report, failing the run if anything failed."""
from __future__ import annotations

import time
from dataclasses import asdict

from prefect import get_run_logger
from prefect.futures import as_completed

from flows.run_report import ShardProgress, publish_summary
from tasks.object_ids import object_id_checks_task
from tasks.object_ids import summary as object_check_summary
from tasks.quality import publish_quality_artifact
from tasks.run_manifest import RunRecord, write_run_record_task
from tasks.listing import ObjectRef
from tasks.sharding import ObjectPlan, Shard
from tasks.storage import S3Connection


class RunIncomplete(RuntimeError):
    """Some objects or shards failed; the manifest lists them and a rerun finishes the job."""


def collect_plans(futures, objects: list[ObjectRef], record: RunRecord) -> list[Shard]:
    """Record every object's plan in the run record and return all shards. A plan task that failed
    (after its retries) is that object's error: one object never sinks the run."""
    logger = get_run_logger()
    shards: list[Shard] = []
    for future, obj in zip(futures, objects):
        future.wait()
        if future.state.is_completed():
            plan = future.result()
        else:
            plan = ObjectPlan(obj, error=f"{obj.uri}: planning failed ({future.state.result(raise_on_failure=False)})")
        record.inputs.append({"uri": plan.object.uri, "etag": plan.object.etag, "size": plan.object.size,
                              "rows": plan.rows, "shards": len(plan.shards), "error": plan.error})
        if plan.error:
            logger.error("skipping %s", plan.error)
        shards.extend(plan.shards)
    return shards


def collect_shards(futures, shards, record: RunRecord, progress: ShardProgress) -> None:
    """Wait for every shard task; a failed shard is recorded with its error, never raised."""
    shard_of = {future.task_run_id: shard for future, shard in zip(futures, shards)}
    for future in as_completed(list(futures)):
        future.wait()  # the engine's final state; the API's copy of it can lag behind
        state, shard = future.state, shard_of[future.task_run_id]
        if state.is_completed():
            record.shards.append(asdict(future.result()))
        else:
            error = state.result(raise_on_failure=False)
            quality = [error.summary] if isinstance(getattr(error, "summary", None), dict) else []
            record.shards.append({"shard_id": shard.shard_id, "object_uri": shard.object.uri,
                                  "row_start": shard.row_start, "row_stop": shard.row_stop,
                                  "error": str(error), "quality": quality})
        progress.advance()


def object_ids_or_error(conn: S3Connection, record: RunRecord) -> list[dict]:
    """The object id checks; if the parts cannot be read back, one failed check saying so (the
    manifest must still be written)."""
    try:
        return object_id_checks_task(conn, record.shards)
    except Exception as exc:  # noqa: BLE001 - recorded, and the run fails with it
        return [object_check_summary(
            record.input_uri, success=False, rows=0, failed=["ids across shards not checked"],
            message=f"{record.input_uri}: ids across shards not checked, reading the parts failed: {exc}")]


def finish_run(conn: S3Connection, record: RunRecord, started: float, report_prefix: str,
               check_object_ids: bool = False) -> dict:
    """Manifest, _SUCCESS, report; raises RunIncomplete if anything failed. With
    `check_object_ids` (data quality on), ids must also be unique across each object's shards."""
    record.shards.sort(key=lambda s: (s["object_uri"], s["row_start"]))
    if check_object_ids:
        record.object_checks = object_ids_or_error(conn, record)
    record.seconds = round(time.perf_counter() - started, 3)
    written = write_run_record_task(conn, record)
    publish_summary(record, key=f"{report_prefix}-report-{record.run_key}")
    quality = [q for shard in record.shards for q in shard.get("quality") or []] + record.object_checks
    if quality:
        publish_quality_artifact(quality, key=f"{report_prefix}-quality-{record.run_key}")
    summary = record.to_dict() | {"written": written}
    if record.failed_object_checks:
        get_run_logger().error("%s", "; ".join(c["message"] for c in record.failed_object_checks))
    if not record.succeeded:
        problems = [f"{len(record.failed_objects)} objects and {len(record.failed_shards)} shards failed"]
        if record.failed_object_checks:
            problems.append(f"{len(record.failed_object_checks)} objects repeat ids across shards (fix the input: "
                            "a rerun reuses the committed parts and finds the same ids)")
        raise RunIncomplete(f"{'; '.join(problems)}; see {written['manifest']} and rerun to finish")
    return summary
