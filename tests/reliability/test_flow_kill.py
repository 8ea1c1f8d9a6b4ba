"""The flow-run process SIGKILLed mid-run: the rerun recomputes zero committed shards and writes
no duplicates (checked by the parts' ETag + LastModified, the manifest's `reused` flags, the
rerun's task-run states, and the ids in the outputs)."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.reliability.chaos import (
    account,
    part_keys,
    read_json,
    run_dirs_under,
    run_flow,
    start_flow,
    upload_echo_inputs,
    wait_for,
)
from tests.reliability.conftest import BUCKET
from tests.reliability.prefect_api import PrefectApi

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

# layout: (objects, rows each, rows per row group, shard rows, parts committed before the kill)
LAYOUTS = {
    "objects": (4, 5000, 500, 500, 8),  # 20,000 echo rows in 40 shards
    # issue #28: one object holding a single 1,000,000-row row group is spread over 5 shards
    "one-row-group": (1, 1_000_000, 1_000_000, 200_000, 2),
}
HEARTBEAT_S, SILENCE_S = 30, 45  # Prefect's minimum heartbeat interval; the zombie automation's window


def install_zombie_automation(stack) -> bool:
    """deployments/deploy_local.py's automation (marks a run Crashed when its heartbeats stop), if present."""
    code = ("from deployments import deploy_local as d\n"
            "f = getattr(d, 'ensure_zombie_automation', None)\n"
            f"print(bool(f and f({SILENCE_S})))")
    out = subprocess.run([sys.executable, "-c", code], env=stack.env(), cwd=stack.cfg.repo_root,
                         capture_output=True, text=True)
    return out.stdout.strip().endswith("True")


def shard_of(key: str) -> str:
    return key.rsplit("/part-", 1)[-1].removesuffix(".parquet")


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_flow_process_killed_then_rerun(chaos_stack, chaos_results, scenario_prefix, tmp_path, layout):
    objects, rows, row_group, shard_rows, kill_after_parts = LAYOUTS[layout]
    s3 = chaos_stack.s3()
    api = PrefectApi(chaos_stack.cfg.prefect_api_url)
    prefix = f"flow-kill-{layout}/{scenario_prefix}"
    ids = upload_echo_inputs(s3, BUCKET, f"{prefix}in/", objects, rows, row_group)
    output_uri = f"s3://{BUCKET}/{prefix}out/"
    params = dict(input_uri=f"s3://{BUCKET}/{prefix}in/", output_uri=output_uri, model="echo",
                  shard_rows=shard_rows, triton_endpoint=None, s3_credentials=None)

    zombie_automation = install_zombie_automation(chaos_stack)
    env = chaos_stack.env(SENTINEL_SPOOL_DIR=str(tmp_path / "spool"),
                          PREFECT_RUNNER_HEARTBEAT_FREQUENCY=str(HEARTBEAT_S))
    (tmp_path / "spool").mkdir()
    first = start_flow(chaos_stack, "translate", params, tmp_path, "first", env=env)
    kept = lambda: [k for d in run_dirs_under(s3, output_uri) for k in part_keys(s3, d) if "/quarantine/" not in k]  # noqa: E731
    wait_for(lambda: len(kept()) >= kill_after_parts or first.proc.poll() is not None, 600, "committed parts")
    assert first.proc.poll() is None, "the first run finished before it could be killed: use more rows"
    first.kill()
    killed_at = time.monotonic()
    [run_dir] = run_dirs_under(s3, output_uri)
    before = part_keys(s3, run_dir)
    spool_files = lambda: sum(1 for p in (tmp_path / "spool").rglob("*") if p.is_file())  # noqa: E731
    leftover_spool = spool_files()  # local part files the kill left behind
    killed_log = first.out_path.with_suffix(".log").read_text(errors="replace")
    killed_id = re.search(r"/flow-run/([0-9a-f-]{36})", killed_log)

    def killed_state() -> str | None:
        return api.http.get(f"{api.url}/flow_runs/{killed_id.group(1)}").json()["state"]["name"] if killed_id else None

    second = run_flow(chaos_stack, "translate", params, tmp_path, "rerun", env=env)
    assert second["completed"], second.get("error")
    assert second["result"]["output_dir"] == run_dir  # same inputs + config: same run key, same place
    after = part_keys(s3, run_dir)
    spool_after_rerun = spool_files()  # a new process sweeps what dead ones left
    rewritten = sorted(k for k, meta in before.items() if after.get(k) != meta)
    manifest = read_json(s3, f"{run_dir}/manifest.json")
    shards = manifest["shards"]
    committed = {shard_of(k) for k in before if "/quarantine/" not in k}
    state_of = {t["name"].removeprefix("translate-shard-"): t["state"]["name"]
                for t in api.task_runs(second["flow_run_id"]) if t["name"].startswith("translate-shard-")}
    states = Counter(state_of.values())
    reused_flag = sum(1 for s in shards if s.get("reused"))
    per_shard = Counter(shard_of(k) for k in after if "/quarantine/" not in k)
    figures = account(s3, run_dir).check(ids)
    # a committed shard comes back from Prefect's cache (state Cached) or from its part (reused=True)
    recomputed = [s["shard_id"] for s in shards if s["shard_id"] in committed and not s.get("reused")
                  and state_of.get(s["shard_id"]) != "Cached"]
    crashed_after = None
    if zombie_automation and killed_id:  # heartbeats stop with the process: the automation marks it Crashed
        try:
            wait_for(lambda: killed_state() == "Crashed", SILENCE_S + HEARTBEAT_S + 90, "the killed run Crashed",
                     every=2)
            crashed_after = round(time.monotonic() - killed_at, 1)
        except AssertionError:
            pass
    held = (not rewritten and not recomputed and max(per_shard.values()) == 1 and figures["lost"] == 0
            and figures["duplicated"] == 0)
    chaos_results.record(
        "flow_kill" if layout == "objects" else f"flow_kill_{layout}",
        title="Flow-run process killed mid-run, then rerun" + ("" if layout == "objects" else
                                                               " (one 1,000,000-row row group)"),
        outcome="held" if held else "lost", rows=len(ids), shards=len(shards),
        parts_committed_before_kill=len(committed), committed_parts_rewritten_by_rerun=len(rewritten),
        committed_shards_recomputed=len(recomputed), spool_files_left_by_kill=leftover_spool,
        spool_files_after_rerun=spool_after_rerun,
        rerun_shard_task_states=dict(states), rerun_shards_reused_flag=reused_flag,
        duplicate_parts=sum(c - 1 for c in per_shard.values()), killed_run_state_in_prefect=killed_state(),
        zombie_automation=zombie_automation, killed_run_crashed_after_s=crashed_after,
        rerun_wall_s=second["wall_s"], **figures)
    assert not rewritten, f"the rerun rewrote committed parts: {rewritten[:5]}"
    assert not recomputed, f"committed shards recomputed: {recomputed[:5]} ({states})"
    assert len(shards) == objects * rows // shard_rows and max(per_shard.values()) == 1
    assert figures["found_once"] == len(ids) and figures["duplicated"] == 0 and figures["unexpected"] == 0
    if zombie_automation:
        assert crashed_after is not None, f"the killed run is still {killed_state()}"
