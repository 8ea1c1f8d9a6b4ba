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


class FooterStage:
    """Plans every object from its footer (tasks/engine/planning.plan_object)."""

    def plan(self, conn, obj, shard_rows, shard_bytes):
        from tasks.engine.planning import plan_object

        return plan_object(conn, obj, text_column="text", id_column="id", shard_rows=shard_rows)


def test_planning_forgets_the_objects_it_found_bad(s3_conn, bucket):
    """No shard reads an object whose plan failed: its bytes leave the object cache with its plan."""
    from tasks.engine.prefect_tasks import plan_objects
    from tasks.io import object_cache
    from tasks.io.listing import single_object
    from tasks.io.s3_uri import S3Uri

    where = S3Uri(bucket, "planning-forgets/not-parquet.parquet")
    s3_conn.boto3_client().put_object(Bucket=bucket, Key=where.key, Body=b"not parquet" * 100)
    obj = single_object(s3_conn, where)
    (plan,) = plan_objects(s3_conn, [obj], FooterStage(), 1000)
    assert plan.error and "not a readable parquet file" in plan.error
    assert (obj.uri, obj.etag) not in object_cache._planned and (obj.uri, obj.etag) not in object_cache._reading


def test_map_ahead_keeps_order_and_few_items_in_flight():
    """Planning maps a chunk's objects over its threads with a bounded number submitted (Executor.map
    submits all of them: a future each for 20,000 objects), results in order, the first error raised."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from tasks.engine.prefect_tasks import map_ahead

    lock, started, most_ahead = threading.Lock(), [0], [0]
    returned = [0]

    def work(n: int) -> int:
        with lock:
            started[0] += 1
            most_ahead[0] = max(most_ahead[0], started[0] - returned[0])
        return n * n

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = []
        for value in map_ahead(pool, work, range(1000), ahead=8):
            results.append(value)
            returned[0] += 1
    assert results == [n * n for n in range(1000)]
    assert most_ahead[0] <= 9  # `ahead` submitted and not yet returned, and the one being returned

    def fails_at_3(n: int) -> int:
        if n == 3:
            raise ValueError("object 3")
        return n

    with ThreadPoolExecutor(max_workers=2) as pool, pytest.raises(ValueError, match="object 3"):
        list(map_ahead(pool, fails_at_3, range(100), ahead=4))
