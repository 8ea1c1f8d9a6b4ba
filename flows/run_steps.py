"""Steps every batch flow ends with: collect the mapped shard tasks, then write the manifest,
`_SUCCESS` and the report, failing the run if anything failed.

A run's record grows with its objects (one input entry each, every packed shard's pieces): it goes
to tasks `quote`d, so that Prefect does not walk it looking for futures (seconds per task on 100,000
objects), and the flow returns its summary without the per-object lists (the manifest has them)."""
from __future__ import annotations

import time
from collections.abc import Sequence

from prefect import get_run_logger
from prefect.futures import as_completed
from prefect.utilities.annotations import quote

from flows.run_report import ShardProgress, publish_summary, summary_markdown
from tasks.engine import allocator
from tasks.engine.object_ids import object_id_checks_task
from tasks.engine.object_ids import summary as object_check_summary
from tasks.engine.prefect_tasks import append_delta_task
from tasks.engine.run_record import (
    ADVICE,
    RunRecord,
    error_kind,
    input_error_kind,
    write_run_record_task,
)
from tasks.engine.runner import ShardResult
from tasks.io.listing import ObjectRef
from tasks.io.object_cache import forget
from tasks.io.s3 import S3Connection
from tasks.io.shards import ObjectPlan
from tasks.quality import publish_quality_artifact

# More than this share of the rows written quarantined fails the run. The shipped MT guards flag
# ~3 % of good rows (docs/guards.md) and real hallucination rates are a few percent, so a review
# queue of a few percent is normal; past half the rows, the run as a whole did not do its job
# (wrong model or source language, a broken column, a degraded Triton) and must not look green.
DEFAULT_MAX_QUARANTINED_SHARE = 0.5


class RunIncomplete(RuntimeError):
    """The run ended Failed: objects or shards failed (fix the input, or rerun to finish), ids
    repeat across shards, too many rows were quarantined, or an empty input was not allowed.
    The message is the report's headline and names the report; report.md says what to do."""


def collect_plans(future, objects: Sequence[ObjectRef], record: RunRecord) -> list[ObjectPlan]:
    """Record the plans of one planning chunk in the run record and return them. A chunk whose task
    failed after its retries is each of its objects' error ("planning failed": rerun); an object
    with bad input is its own error (fix the input). One object never sinks the run."""
    logger = get_run_logger()
    future.wait()
    if future.state.is_completed():
        plans = future.result().plans
    else:
        exc = future.state.result(raise_on_failure=False)
        plans = [ObjectPlan(obj, error=f"{obj.uri}: planning failed ({exc})") for obj in objects]
        forget(objects)  # no shard reads them: what the failed attempts kept in the object cache goes
    for plan in plans:
        entry = {"uri": plan.object.uri, "etag": plan.object.etag, "size": plan.object.size, "rows": plan.rows,
                 "shards": len(plan.shards), "error": plan.error, "error_kind": None}
        if plan.error:
            entry["error_kind"] = input_error_kind(entry)
            logger.error("skipping %s (%s)", plan.error, ADVICE[entry["error_kind"]])
        record.inputs.append(entry)
    allocator.release()  # freed memory back to the system as the run goes (tasks/engine/allocator.py)
    return plans


def collect_shards(futures, shards, record: RunRecord, progress: ShardProgress) -> None:
    """Wait for every shard task; a failed shard is recorded with its error and its kind, never raised.
    A packed shard's objects that failed their input suite are recorded as failed shards of their own
    (their rows are in no part: fix the input), beside the shard that committed the others."""
    shard_of = {future.task_run_id: shard for future, shard in zip(futures, shards)}
    for future in as_completed(list(futures)):
        future.wait()  # the engine's final state; the API's copy of it can lag behind
        state, shard = future.state, shard_of[future.task_run_id]
        if state.is_completed():
            result = future.result()
            record.shards.append(result.to_record())
            record.shards += result.failed_pieces
        else:
            error = state.result(raise_on_failure=False)
            quality = [error.summary] if isinstance(getattr(error, "summary", None), dict) else []
            record.shards.append(ShardResult.failed(shard, str(error), quality, error_kind(error)).to_record())
        progress.advance(record.shards[-1])
        allocator.release()


def object_ids_or_error(conn: S3Connection, record: RunRecord) -> list[dict]:
    """The object id checks; if the parts cannot be read back, one failed check saying so (the
    manifest must still be written)."""
    try:
        return object_id_checks_task(conn, quote(record.shards))
    except Exception as exc:  # recorded, and the run fails with it
        return [object_check_summary(
            record.input_uri, success=False, rows=0, failed=["ids across shards not checked"],
            message=f"{record.input_uri}: ids across shards not checked, reading the parts failed: {exc}")]


def flow_run_details(record: RunRecord) -> None:
    """Fill in the flow and flow run (name, id, deployment) from Prefect's runtime context."""
    from prefect.runtime import deployment, flow_run

    record.flow = record.flow or flow_run.flow_name or ""
    record.flow_run = {"id": flow_run.id, "name": flow_run.name, "deployment": deployment.name}


def close_run(conn: S3Connection, record: RunRecord, started: float, report_prefix: str,
              progress: ShardProgress | None = None) -> dict:
    """Stamp the outcome, write report.json / report.md / manifest.json (+ `_SUCCESS` when it
    Completed), publish the report and quality artifacts; raise RunIncomplete when it Failed."""
    flow_run_details(record)
    record.finish(time.perf_counter() - started)
    markdown = summary_markdown(record)
    written = write_run_record_task(conn, quote(record), markdown)
    publish_summary(record, key=f"{report_prefix}-report-{record.run_key}", markdown=markdown)
    quality = [q for shard in record.shards for q in shard.get("quality") or []] + record.object_checks
    if quality:
        publish_quality_artifact(quality, key=f"{report_prefix}-quality-{record.run_key}")
    if progress is not None:
        progress.finish(record)
    logger = get_run_logger()
    for problem in record.problems():
        logger.error("%s: %s (%s)", problem["what"], problem["error"][:2000], problem["advice"])
    if not record.succeeded:
        raise RunIncomplete(record.failure_message(written["report_md"]))
    logger.info("%s; report %s", record.headline(), written["report_md"])
    return record.flow_result() | {"written": written}


def finish_run(conn: S3Connection, record: RunRecord, started: float, report_prefix: str,
               check_object_ids: bool = False, max_quarantined_share: float = DEFAULT_MAX_QUARANTINED_SHARE,
               progress: ShardProgress | None = None, delta_output_uri: str | None = None) -> dict:
    """End a run that had input: report, manifest, `_SUCCESS`; raises RunIncomplete when anything
    failed or more than `max_quarantined_share` of the rows written were quarantined. With
    `check_object_ids` (data quality on), ids must also be unique across each object's shards."""
    record.shards.sort(key=lambda s: (s["object_uri"], s["row_start"]))
    if check_object_ids:
        record.object_checks = object_ids_or_error(conn, record)
    record.max_quarantined_share = max_quarantined_share
    if delta_output_uri and record.succeeded:  # only a run that Completed hands its rows on
        parts = sorted(s["output_uri"] for s in record.shards if s.get("output_uri") and not s.get("error"))
        try:
            record.delta_output = append_delta_task(conn, delta_output_uri, record.run_key, quote(parts))
        except Exception as exc:  # the run fails with it ("rerun to finish": the append is once per run key)
            record.delta_output = {"table": delta_output_uri, "appended": False, "error": str(exc)}
    return close_run(conn, record, started, report_prefix, progress)


def finish_empty_run(conn: S3Connection, record: RunRecord, started: float, report_prefix: str,
                     fail_on_empty_input: bool = False) -> dict:
    """End a run whose input prefix has no objects: Completed with a report saying there was
    nothing to do (and `_SUCCESS`, so whatever waits for the day's output goes on), or, with
    `fail_on_empty_input`, Failed with that report."""
    record.empty_input_fails = fail_on_empty_input
    return close_run(conn, record, started, report_prefix)
