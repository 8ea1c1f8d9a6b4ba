"""A rolling update: two private tritonservers behind one client endpoint list
(SENTINEL_TRITON_URL="a,b"), each stopped gracefully (SIGTERM) and restarted, one at a time, while
transcribe-batch runs. The client fails over to the server that is up; no row may end `failed`."""
from __future__ import annotations

import time

import pytest

from tests.reliability.restart_scenarios import FaultRun, assert_no_row_lost_or_failed, outcome, seconds_lost
from tests.reliability.triton_servers import TritonServer

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

ROWS, SHARD_ROWS = 32, 4
MODELS = ("echo", "translate", "transcribe")


def test_rolling_restart_of_two_servers(chaos_stack, chaos_results, scenario_prefix, tmp_path):
    root = chaos_stack.cfg.state_dir
    servers = [TritonServer.start(root / "triton-rolling-a", models=MODELS)]
    try:
        servers.append(TritonServer.start(root / "triton-rolling-b", models=MODELS))
        env = chaos_stack.env(SENTINEL_TRITON_URL=",".join(s.grpc_url for s in servers))
        runs = FaultRun(chaos_stack, "transcribe-batch", ROWS, SHARD_ROWS, tmp_path,
                        prefix=f"rolling/{scenario_prefix}", env=env)
        baseline = runs.run("baseline")

        def rolling_update() -> dict:
            steps = []
            for server in servers:
                how, stop_s = server.graceful_stop()
                steps.append({"server": server.grpc_url, "stopped_by": how, "stop_s": round(stop_s, 1),
                              "restart_s": round(server.restart(), 1)})
                time.sleep(2.0)  # the next pod is replaced once this one is ready
            return {"rolling_steps": steps}

        faulted = runs.run("rolling", rolling_update)
    finally:
        for server in servers:
            server.stop()
    figures = {k: v for k, v in faulted.items() if k != "log"}
    chaos_results.record(
        "triton_rolling_restart", title="Two Triton servers restarted one at a time behind one endpoint list: "
        "transcribe-batch", outcome=outcome(faulted, ROWS), flow="transcribe-batch", rows=ROWS,
        shards=-(-ROWS // SHARD_ROWS), baseline_wall_s=baseline["flow_wall_s"],
        seconds_lost=seconds_lost(faulted, baseline), **figures)
    assert_no_row_lost_or_failed(faulted, ROWS)
    assert faulted["client_failovers"] > 0, "no request met a stopping server: the run outran the update"
