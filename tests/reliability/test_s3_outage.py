"""S3 unavailable for a few seconds mid-run: (a) SeaweedFS SIGKILLed and restarted (connections
refused), (b) a proxy answering 503 SlowDown to every request (throttling). The run is retried,
completes, and every input id is in the outputs exactly once."""
from __future__ import annotations

import re
import time
from contextlib import nullcontext

import pytest

from tests.reliability.chaos import account, part_keys, run_dirs_under, start_flow, upload_echo_inputs, wait_for
from tests.reliability.conftest import BUCKET
from tests.reliability.prefect_api import PrefectApi
from tests.reliability.s3_fault_proxy import S3FaultProxy

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

OBJECTS, ROWS, SHARD_ROWS = 4, 5000, 500  # 20,000 echo rows in 40 shards
OUTAGE_S = 6.0


@pytest.mark.parametrize("fault", ["seaweedfs_killed", "throttled_503"])
def test_s3_unavailable_for_seconds(fault, chaos_stack, chaos_results, scenario_prefix, tmp_path):
    s3 = chaos_stack.s3()
    prefix = f"s3-outage/{scenario_prefix}"
    ids = upload_echo_inputs(s3, BUCKET, f"{prefix}in/", OBJECTS, ROWS, SHARD_ROWS)
    output_uri = f"s3://{BUCKET}/{prefix}out/"
    params = dict(input_uri=f"s3://{BUCKET}/{prefix}in/", output_uri=output_uri, model="echo",
                  shard_rows=SHARD_ROWS, triton_endpoint=None, s3_credentials=None)
    proxy = S3FaultProxy(chaos_stack.cfg.s3_endpoint) if fault == "throttled_503" else None
    with proxy or nullcontext():
        env = chaos_stack.env(**({"AWS_ENDPOINT_URL_S3": proxy.endpoint} if proxy else {}))
        flow = start_flow(chaos_stack, "translate", params, tmp_path, fault, env=env)
        committed = lambda: sum(len(part_keys(s3, d)) for d in run_dirs_under(s3, output_uri))  # noqa: E731
        wait_for(lambda: committed() >= 2 or flow.proc.poll() is not None, 240, "the first committed parts")
        assert flow.proc.poll() is None, "the run ended before the outage: use more rows"
        before = committed()
        began = time.monotonic()
        if proxy:
            proxy.fail_for(OUTAGE_S)
            time.sleep(OUTAGE_S)
        else:
            chaos_stack.kill("seaweedfs")
            time.sleep(OUTAGE_S / 2)
            chaos_stack.start("seaweedfs")
        outage_s = time.monotonic() - began
        result = flow.wait()
    log = result["log"].read_text(errors="replace")
    task_runs = PrefectApi(chaos_stack.cfg.prefect_api_url).task_runs(result["flow_run_id"]) \
        if result.get("flow_run_id") else []
    retried = {t["name"]: t["run_count"] for t in task_runs if t["run_count"] > 1}
    dirs = run_dirs_under(s3, output_uri)
    figures = account(s3, (result.get("result") or {}).get("output_dir") or dirs[0]).check(ids)
    survived = result["completed"] and figures["found_once"] == len(ids) and not figures["duplicated"]
    chaos_results.record(
        f"s3_outage_{fault}", outcome="survived" if survived else "lost",
        title={"seaweedfs_killed": "S3 down (SeaweedFS killed, restarted)",
               "throttled_503": "S3 throttling (503 SlowDown for every request)"}[fault],
        rows=len(ids), shards=OBJECTS * ROWS // SHARD_ROWS, parts_committed_before_outage=before,
        outage_s=round(outage_s, 1), requests_refused_by_proxy=proxy.counts["refused"] if proxy else None,
        task_runs_retried=len(retried), retried_tasks=sorted(retried)[:10],
        misclassified_as_bad_input=len(re.findall(r"is unreadable|not a readable parquet", log)),
        flow_state=result["state"], flow_error=result.get("error"), flow_wall_s=result["wall_s"], **figures)
    assert result["completed"], result.get("error")
    assert figures["found_once"] == len(ids) and figures["duplicated"] == 0 and figures["unexpected"] == 0, figures
