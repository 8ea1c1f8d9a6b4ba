"""A run's fixed cost (issue 28): `sentinel translate --model echo` on a 100-row input, the whole
command, alternating this tree with an earlier checkout (`--before-tree`, run with PYTHONPATH set to
it and this venv), median of `--repeats`; with and without the data-quality suites. Runs are `--pause` seconds apart (default 3):
the Prefect server digests a run's events and automations after it ends, and on this 2-core machine a
run started at once shares the CPU with that (runs from S3 events are at least the bridge's window apart).

`--servers sqlite,postgresql` also measures each tree on the bench's PostgreSQL Prefect server
(bench/prefect_pg.py), with the `triton-shards` limit made as `sentinel deploy-local` makes it, so that
a run's shard asks for its slot there as it does on the shared stack after deploy-local.
`sqlite-prefect-transactions` restarts the shared stack's Prefect server with Prefect's own SQLite
transactions (SENTINEL_PREFECT_SQLITE_IMMEDIATE=0, deployments/stack/prefect_sqlite.py), measures, and
restarts it as the stack runs it; give it before `sqlite` to compare the two in one run.

    .venv/bin/python bench/fixed_cost.py [--before-tree /tmp/old-checkout] [--repeats 3] [--pause 3]
        [--servers sqlite-prefect-transactions,sqlite,postgresql]

Writes bench/results/fixed_cost.json.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

from common import ROOT, ensure_dataset, machine, now, write_result
from peer_bench import OUTPUT


def one_run(tree: str | None, input_uri: str, quality: bool, server_env: dict | None = None) -> float:
    env = dict(os.environ) | (server_env or {}) | ({"PYTHONPATH": tree} if tree else {})
    cmd = [str(ROOT / ".venv" / "bin" / "python"), "-m", "deployments.cli", "translate", "--input", input_uri,
           "--output", f"{OUTPUT}/fixed-{int(time.time() * 1000)}/", "--model", "echo", "--source-lang", "de"]
    if not quality:
        cmd.append("--no-data-quality")
    started = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=tree or ROOT, check=True, capture_output=True)
    return round(time.perf_counter() - started, 2)


def slot_limit_exists(env: dict) -> bool:
    """Whether the server has the `triton-shards` limit (a run's shard then asks it for a slot)."""
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "prefect"), "gcl", "inspect", "triton-shards"], env=env,
                         capture_output=True, text=True)
    return out.returncode == 0


def measure(trees: dict[str, str | None], input_uri: str, repeats: int, pause: float,
            server_env: dict | None = None) -> dict[str, dict[str, list[float]]]:
    runs: dict[str, dict[str, list[float]]] = {name: {"quality": [], "no_quality": []} for name in trees}
    for _ in range(repeats):
        for name, tree in trees.items():  # alternating
            for quality in (True, False):
                time.sleep(pause)
                runs[name]["quality" if quality else "no_quality"].append(
                    one_run(tree, input_uri, quality, server_env))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-tree")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between runs")
    parser.add_argument("--servers", default="sqlite", help="sqlite (the stack's), postgresql (the bench's), or both")
    args = parser.parse_args()
    input_uri = ensure_dataset("rows-100-1-object", 100, 1, row_group_size=100)
    trees = {"after": None} | ({"before": args.before_tree} if args.before_tree else {})
    doc = {"measured_at": now(), "machine": machine(), "rows": 100, "pause_s": args.pause, "servers": {}}
    for server in args.servers.split(","):
        if server == "sqlite":
            runs = measure(trees, input_uri, args.repeats, args.pause)
            doc["servers"]["sqlite"] = {"slot_limit": slot_limit_exists(dict(os.environ)), "runs": runs}
        elif server == "sqlite-prefect-transactions":
            restart_stack_prefect({"SENTINEL_PREFECT_SQLITE_IMMEDIATE": "0"})
            try:
                runs = measure(trees, input_uri, args.repeats, args.pause)
                doc["servers"][server] = {"slot_limit": slot_limit_exists(dict(os.environ)), "runs": runs}
            finally:
                restart_stack_prefect({})
        else:
            from peer_bench import register_blocks
            from prefect_pg import bench_prefect_server

            from deployments.deploy_local import ensure_triton_limit

            with bench_prefect_server() as prefect:
                server_env = prefect.env()
                register_blocks(dict(os.environ) | server_env)
                with temporary_api_url(prefect.api_url):
                    ensure_triton_limit(4)
                runs = measure(trees, input_uri, args.repeats, args.pause, server_env)
                doc["servers"][prefect.database] = {
                    "slot_limit": slot_limit_exists(dict(os.environ) | server_env), "runs": runs}
    for entry in doc["servers"].values():
        entry["median_s"] = {name: {k: statistics.median(v) for k, v in r.items()} for name, r in entry["runs"].items()}
        entry["over_4_s"] = {name: {k: sum(t > 4 for t in v) for k, v in r.items()} for name, r in entry["runs"].items()}
    print(write_result("fixed_cost", doc), {server: e["median_s"] for server, e in doc["servers"].items()})


def restart_stack_prefect(env: dict) -> None:
    """Stop the shared stack's Prefect server and start it again with `env` (its worker reconnects)."""
    sentinel = str(ROOT / ".venv" / "bin" / "sentinel")
    for action in ("down", "up"):
        subprocess.run([sentinel, "stack", action, "--services", "prefect-server"], check=True, cwd=ROOT,
                       env=dict(os.environ) | env, stdout=subprocess.DEVNULL)
    time.sleep(10)  # its services settle (the worker's next poll, the automations loaded)


def temporary_api_url(api_url: str):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    return temporary_settings({PREFECT_API_URL: api_url})


if __name__ == "__main__":
    main()
