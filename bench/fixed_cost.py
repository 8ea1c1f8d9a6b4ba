"""A run's fixed cost (issue 28): `sentinel translate --model echo` on a 100-row input, the whole
command, alternating this tree with an earlier checkout (`--before-tree`, run with PYTHONPATH set to
it and this venv), median of `--repeats`; with and without the data-quality suites. Runs are `--pause` seconds apart (default 3):
the Prefect server digests a run's events and automations after it ends, and on this 2-core machine a
run started at once shares the CPU with that (runs from S3 events are at least the bridge's window apart).

    .venv/bin/python bench/fixed_cost.py [--before-tree /tmp/old-checkout] [--repeats 3] [--pause 3]

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


def one_run(tree: str | None, input_uri: str, quality: bool) -> float:
    env = dict(os.environ) | ({"PYTHONPATH": tree} if tree else {})
    cmd = [str(ROOT / ".venv" / "bin" / "python"), "-m", "deployments.cli", "translate", "--input", input_uri,
           "--output", f"{OUTPUT}/fixed-{int(time.time() * 1000)}/", "--model", "echo", "--source-lang", "de"]
    if not quality:
        cmd.append("--no-data-quality")
    started = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=tree or ROOT, check=True, capture_output=True)
    return round(time.perf_counter() - started, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-tree")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pause", type=float, default=3.0, help="seconds between runs")
    args = parser.parse_args()
    input_uri = ensure_dataset("rows-100-1-object", 100, 1, row_group_size=100)
    trees = {"after": None} | ({"before": args.before_tree} if args.before_tree else {})
    runs: dict[str, dict[str, list[float]]] = {name: {"quality": [], "no_quality": []} for name in trees}
    for _ in range(args.repeats):
        for name, tree in trees.items():  # alternating
            for quality in (True, False):
                time.sleep(args.pause)
                runs[name]["quality" if quality else "no_quality"].append(one_run(tree, input_uri, quality))
    doc = {"measured_at": now(), "machine": machine(), "rows": 100, "pause_s": args.pause, "runs": runs,
           "median_s": {name: {k: statistics.median(v) for k, v in r.items()} for name, r in runs.items()}}
    print(write_result("fixed_cost", doc), doc["median_s"])


if __name__ == "__main__":
    main()
