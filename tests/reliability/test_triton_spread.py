"""Issue 26: a translate-batch run spreads over every Triton replica, new replicas join it, a drained
one costs no row. Three echo-only tritonservers on 127.0.0.2-4 share one gRPC port behind one DNS
name, answered by a private DNS server the way a headless Service answers (the ready pods only;
tests/reliability/triton_replicas.py), with the Deployment's connection age (30 s). The flow runs in
its own process with a Triton block at dns://<private DNS>/<name>:<port>, 16-row requests, 4 in flight
per shard, and the client's defaults (round robin, channel replaced every 20 s); two shards, so each
shard's client lives through the whole run. Requests per replica come from each server's metrics.

1. spread: three replicas from the start; each one's share of the run's requests (>= 25 % each);
2. scale-up, then drain, in one run that starts on two replicas: once its shards call Triton a
   third is started and published — seconds until it served its first request (<= 30 s) — then
   replica 0 is drained like a deleted pod, but early (out of the answer, DRAIN_WAIT_S = 5 s, SIGTERM while
   it still gets calls): 0 rows failed, and calls go on after the SIGTERM.

"before": the same runs with the flows of an older checkout when SENTINEL_CHAOS_BEFORE_TREE names one
(`git archive 55e8dfb | tar -x -C /tmp/before`, the commit before issue 26: pick_first, all on one);
otherwise the before figures of the last such session are kept. ~3 min."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.private_stack import REPO_ROOT
from tests.reliability.restart_scenarios import FaultRun, assert_no_row_lost_or_failed

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

ROWS = int(os.environ.get("SENTINEL_CHAOS_SPREAD_ROWS", "4000"))
# the scale-up run must call Triton for longer than the join (<= 30 s) plus the drain wait: ~3,000 echo
# rows/s on 2 cores, so ~80 s
SCALE_ROWS = int(os.environ.get("SENTINEL_CHAOS_SPREAD_SCALE_ROWS", "240000"))
BATCH_ROWS, IN_FLIGHT = 16, 4  # small requests, many of them: a request stream through the whole run
BLOCK = "spread-triton"
CONNECTION_AGE_MS = 30_000  # k8s/base/triton-deployment.yaml --grpc-max-connection-age
JOIN_LIMIT_S = 30.0
# The pod's preStop waits 45 s after readiness turns false: longer than the client's channel age (20 s),
# so no call is left at SIGTERM (test_spreading.py shows it at a scaled time). Here SIGTERM comes 5 s after
# the replica left the DNS answer, while the running clients still send it calls: the harder case.
DRAIN_WAIT_S = 5.0
BEFORE_TREE = os.environ.get("SENTINEL_CHAOS_BEFORE_TREE")
SCENARIO = "triton_spread"
KEEP = ("flow_state", "flow_wall_s", "rows_failed", "found_once", "lost", "duplicated", "rows_retried_by_client",
        "shard_task_retries", "parts_committed_before_fault")


def shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [round(c / total, 3) if total else 0.0 for c in counts]


def save_triton_block(stack, tree: Path | None, url: str) -> None:
    """The flows' Triton endpoint block, saved by the code that runs (an older checkout's own class)."""
    code = (f"from blocks.triton_endpoint import TritonEndpoint; TritonEndpoint(url={url!r}, "
            f"batch_size={BATCH_ROWS}, concurrency={IN_FLIGHT}).save({BLOCK!r}, overwrite=True)")
    tree = tree or REPO_ROOT
    subprocess.run([sys.executable, "-c", code], env=stack.env(PYTHONPATH=str(tree)), cwd=tree, check=True,
                   capture_output=True, timeout=120)


def measure(stack, work_dir: Path, prefix: str, tree: Path | None) -> dict:
    from tests.reliability.triton_replicas import ReplicaSet

    figures: dict = {}
    with ReplicaSet(work_dir / "spread-replicas", replicas=3, connection_age_ms=CONNECTION_AGE_MS) as rs:
        save_triton_block(stack, tree, rs.target)
        runs = FaultRun(stack, "translate-batch", ROWS, ROWS // 2, work_dir / "spread", prefix=f"{prefix}spread/",
                        code_tree=tree, extra_params={"triton_endpoint": BLOCK})
        run = runs.run("spread")
        served = rs.served()
        figures["spread"] = {"requests_per_replica": served, "shares": shares(served),
                             **{k: run.get(k) for k in KEEP}}
    with ReplicaSet(work_dir / "scale-replicas", replicas=2, connection_age_ms=CONNECTION_AGE_MS) as rs:
        save_triton_block(stack, tree, rs.target)
        runs = FaultRun(stack, "translate-batch", SCALE_ROWS, SCALE_ROWS // 2, work_dir / "scale",
                        prefix=f"{prefix}scale/", code_tree=tree, extra_params={"triton_endpoint": BLOCK},
                        after_parts=0)

        def scale_up_then_drain() -> dict:
            deadline = time.monotonic() + 300
            while sum(rs.served()) < 20:  # the shards' clients are calling Triton
                assert time.monotonic() < deadline, "the run never called Triton"
                time.sleep(0.5)
            index = rs.add()
            published, joined_s, timeline = time.monotonic(), None, []
            while time.monotonic() - published < 2 * JOIN_LIMIT_S:
                served = rs.served()
                timeline.append((round(time.monotonic() - published, 1), served))
                if served[index]:
                    joined_s = timeline[-1][0]
                    break
                time.sleep(0.5)
            at_drain = rs.served()
            rs.unpublish(0)  # the pod deleted: readiness false, out of the answer; preStop waits, then SIGTERM
            time.sleep(DRAIN_WAIT_S)
            after_wait = rs.served()
            how, stop_s = rs.servers[0].graceful_stop()
            return {"new_replica_first_request_s": joined_s, "served_before_drain": at_drain,
                    "served_after_publish": timeline[::10] + timeline[-1:],
                    "drained_replica_requests_during_wait": after_wait[0] - at_drain[0],
                    "served_at_sigterm": after_wait,
                    "drained_by": how, "drain_stop_s": round(stop_s, 1)}

        run = runs.run("scale", scale_up_then_drain)
        served = rs.served()
        figures["scale_and_drain"] = {"requests_per_replica": served, "shares": shares(served),
                                      **{k: run.get(k) for k in (*KEEP, "new_replica_first_request_s",
                                                                  "served_before_drain", "drained_by", "drain_stop_s",
                                                                  "drained_replica_requests_during_wait",
                                                                  "served_after_publish", "served_at_sigterm")},
                                      "rows": SCALE_ROWS, "run": run}
    return figures


def test_a_run_spreads_over_every_replica_and_new_ones_join(chaos_stack, chaos_results, scenario_prefix, tmp_path):
    from tests.reliability.conftest import RESULTS

    previous = json.loads(RESULTS.read_text()).get("scenarios", {}).get(SCENARIO, {}) if RESULTS.exists() else {}
    before = previous.get("before")
    if BEFORE_TREE:
        before = measure(chaos_stack, tmp_path / "before", f"spread/{scenario_prefix}before/", Path(BEFORE_TREE))
        before["code"] = BEFORE_TREE
        for part in before.values():
            if isinstance(part, dict):
                part.pop("run", None)
    after = measure(chaos_stack, tmp_path / "after", f"spread/{scenario_prefix}after/", None)
    scaled = after["scale_and_drain"].pop("run")
    ok = (min(after["spread"]["shares"]) >= 0.25 and after["spread"]["rows_failed"] == 0
          and (after["scale_and_drain"]["new_replica_first_request_s"] or 1e9) <= JOIN_LIMIT_S
          and after["scale_and_drain"]["rows_failed"] == 0 and scaled["flow_completed"])
    chaos_results.record(
        SCENARIO, title="Issue 26: translate-batch over three Triton replicas behind one DNS name (headless "
        "Service); a replica added mid-run, one drained mid-run", outcome="survived" if ok else "lost",
        flow="translate-batch", rows=ROWS, scale_rows=SCALE_ROWS, connection_age_s=CONNECTION_AGE_MS / 1000,
        drain_wait_s=DRAIN_WAIT_S, before=before, after=after)
    assert min(after["spread"]["shares"]) >= 0.25, after["spread"]
    joined = after["scale_and_drain"]["new_replica_first_request_s"]
    assert joined is not None and joined <= JOIN_LIMIT_S, after["scale_and_drain"]
    assert_no_row_lost_or_failed(scaled, SCALE_ROWS)
    drained = after["scale_and_drain"]
    assert sum(drained["requests_per_replica"]) > sum(drained["served_at_sigterm"]), "the run outlasted the SIGTERM"
