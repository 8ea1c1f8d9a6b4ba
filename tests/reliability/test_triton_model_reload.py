"""A model unloaded and loaded again while a run goes (Triton's model-control API, explicit mode:
what a model update or an operator's reload does): speech-translate on a private tritonserver, its
`transcribe` and `translate` models unloaded once the first parts are committed and loaded 5 s
later. No row may end `failed`; every input id exactly once."""
from __future__ import annotations

import time

import pytest

from tests.reliability.restart_scenarios import FaultRun, assert_no_row_lost_or_failed, outcome, seconds_lost
from tests.reliability.triton_servers import TritonServer

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

ROWS, SHARD_ROWS = 24, 4
MODELS = ("transcribe", "translate")
GONE_S = 5.0  # after the last version is gone


def test_models_unloaded_and_loaded_mid_run(chaos_stack, chaos_results, scenario_prefix, tmp_path):
    server = TritonServer.start(chaos_stack.cfg.state_dir / "triton-explicit", model_control_mode="explicit",
                                models=("echo", *MODELS))
    try:
        env = chaos_stack.env(SENTINEL_TRITON_URL=server.grpc_url)
        runs = FaultRun(chaos_stack, "speech-translate", ROWS, SHARD_ROWS, tmp_path,
                        prefix=f"model-reload/{scenario_prefix}", env=env)
        baseline = runs.run("baseline")

        def reload_models() -> dict:
            started = time.monotonic()
            for model in MODELS:
                server.unload(model)
            gone_s = max(server.wait_unloaded(model) for model in MODELS)
            time.sleep(GONE_S)
            load_s = {model: round(server.load(model), 1) for model in MODELS}
            return {"models": list(MODELS), "unload_s": round(gone_s, 1), "load_s": load_s,
                    "models_unavailable_s": round(time.monotonic() - started, 1)}

        faulted = runs.run("reload", reload_models)
    finally:
        server.stop()
    figures = {k: v for k, v in faulted.items() if k != "log"}
    chaos_results.record(
        "triton_model_reload", title="Models unloaded and loaded again mid-run (explicit model control): "
        "speech-translate", outcome=outcome(faulted, ROWS), flow="speech-translate", rows=ROWS,
        shards=-(-ROWS // SHARD_ROWS), baseline_wall_s=baseline["flow_wall_s"],
        seconds_lost=seconds_lost(faulted, baseline), **figures)
    assert_no_row_lost_or_failed(faulted, ROWS)
    assert faulted["requests_retried_by_client"] + faulted["shard_task_retries"] > 0, "the reload was not seen"
