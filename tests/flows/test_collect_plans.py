"""collect_plans (flows/run_steps.py) without a server: a planning chunk that failed."""
from types import SimpleNamespace

from prefect.logging import disable_run_logger

from flows.run_steps import collect_plans
from tasks.engine.run_record import RunRecord
from tasks.io import object_cache
from tasks.io.listing import ObjectRef


class FailedPlanning:
    """A planning task's future after its retries failed."""

    state = SimpleNamespace(is_completed=lambda: False, result=lambda raise_on_failure: OSError("S3 is down"))

    def wait(self) -> None:
        pass


def test_a_chunk_whose_planning_failed_is_each_objects_error_and_leaves_the_object_cache(monkeypatch):
    objects = [ObjectRef(f"s3://b/in/{i}.parquet", f"e{i}", 10) for i in range(3)]
    monkeypatch.setattr(object_cache, "_planned", object_cache.OrderedDict(
        ((o.uri, o.etag), b"x" * 10) for o in objects))
    monkeypatch.setattr(object_cache, "_held", [30])
    record = RunRecord(run_key="k", config_hash="h", config={}, input_uri="s3://b/in/", output_dir="s3://b/out/k",
                       model="echo")
    with disable_run_logger():
        plans = collect_plans(FailedPlanning(), objects, record)
    assert [p.error for p in plans] == [f"{o.uri}: planning failed (S3 is down)" for o in objects]
    assert [e["error_kind"] for e in record.inputs] == ["rerun"] * 3
    assert not object_cache._planned and object_cache._held == [0]
