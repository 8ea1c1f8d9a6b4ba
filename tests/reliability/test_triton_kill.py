"""Triton SIGKILLed mid-run and restarted a few seconds later: the run completes and every input
id appears exactly once across the outputs and the quarantine."""
from __future__ import annotations

import re
import time

import pytest

from tests.reliability.chaos import account, part_keys, run_dirs_under, start_flow, upload_echo_inputs, wait_for
from tests.reliability.conftest import BUCKET
from tests.reliability.prefect_api import PrefectApi

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

OBJECTS, ROWS, SHARD_ROWS = 4, 6000, 500  # 24,000 echo rows in 48 shards
DOWN_S = 4.0  # Triton stays dead this long before the restart begins


def test_triton_killed_mid_run(chaos_stack, chaos_results, scenario_prefix, tmp_path):
    s3 = chaos_stack.s3()
    prefix = f"triton-kill/{scenario_prefix}"
    ids = upload_echo_inputs(s3, BUCKET, f"{prefix}in/", OBJECTS, ROWS, SHARD_ROWS)
    output_uri = f"s3://{BUCKET}/{prefix}out/"
    params = dict(input_uri=f"s3://{BUCKET}/{prefix}in/", output_uri=output_uri, model="echo",
                  shard_rows=SHARD_ROWS, triton_endpoint=None, s3_credentials=None)
    flow = start_flow(chaos_stack, "translate", params, tmp_path, "triton-kill")

    def committed() -> int:
        return sum(len(part_keys(s3, d)) for d in run_dirs_under(s3, output_uri))

    wait_for(lambda: committed() >= 2 or flow.proc.poll() is not None, 180, "the first committed parts")
    before_kill = committed()
    assert flow.proc.poll() is None, "the run ended before Triton could be killed: use more rows"
    killed_at = time.monotonic()
    chaos_stack.kill("triton")
    time.sleep(DOWN_S)
    restart_s = chaos_stack.start("triton")
    outage_s = time.monotonic() - killed_at
    result = flow.wait()

    log = result["log"].read_text(errors="replace")
    client_retries = len(re.findall(r"Triton call failed", log))
    api = PrefectApi(chaos_stack.cfg.prefect_api_url)
    task_runs = api.task_runs(result["flow_run_id"]) if result.get("flow_run_id") else []
    task_retries = sum(max(t["run_count"] - 1, 0) for t in task_runs)
    run_dir = (result.get("result") or {}).get("output_dir") or run_dirs_under(s3, output_uri)[0]
    figures = account(s3, run_dir).check(ids)
    survived = result["completed"] and figures["found_once"] == len(ids) and not figures["duplicated"]
    chaos_results.record(
        "triton_kill", title="Triton killed mid-run and restarted",
        outcome="survived" if survived else "lost",
        rows=len(ids), shards=OBJECTS * ROWS // SHARD_ROWS, parts_committed_before_kill=before_kill,
        triton_down_s=round(outage_s, 1), triton_restart_s=round(restart_s, 1),
        client_retry_warnings=client_retries, shard_task_retries=task_retries,
        flow_state=result["state"], flow_wall_s=result["wall_s"], **figures)
    assert result["completed"], result.get("error")
    assert figures["lost"] == 0 and figures["duplicated"] == 0 and figures["unexpected"] == 0, figures
    assert figures["found_once"] == len(ids)
