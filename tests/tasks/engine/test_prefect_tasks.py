"""The Prefect tasks as Prefect sees them: a planning task's chunk of plans is one result to the flow
run, however many objects it holds (Prefect links each item of a returned list to the task's state
for the rest of the run: 100,000 objects were 100,000 links)."""
import pytest

from tasks.io.listing import ObjectRef
from tasks.io.s3 import S3Connection
from tasks.io.shards import ObjectPlan

pytestmark = pytest.mark.integration


class OneRowStage:
    """Plans every object as one row, without reading it."""

    def plan(self, conn, obj, shard_rows, shard_bytes):
        return ObjectPlan(obj, rows=1)


def test_a_chunk_of_plans_is_one_result_to_the_flow_run(prefect_stack):
    from prefect import flow
    from prefect.context import FlowRunContext
    from prefect.utilities.annotations import quote

    from tasks.engine.prefect_tasks import plan_objects_task

    objects = [ObjectRef(f"s3://b/in/obj-{i:04d}.parquet", f"etag{i}", 100) for i in range(500)]

    @flow(name="test-planning-links")
    def planning():
        before = len(FlowRunContext.get().run_results)
        chunk = plan_objects_task(S3Connection(), quote(objects), OneRowStage(), 1000, label="links")
        return chunk, len(FlowRunContext.get().run_results) - before

    chunk, linked = planning()
    assert [plan.object for plan in chunk.plans] == objects and all(plan.rows == 1 for plan in chunk.plans)
    assert linked <= 2  # the chunk (and its list), not one per plan
