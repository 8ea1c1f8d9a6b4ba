"""Work units by the data (issue 28): the same 100,000 echo rows as 4 objects and as 2,000 objects of 50
rows (how streams land in S3), through `sentinel translate --model echo` as a user runs it, side by
side in one run, with the Prefect task runs each run made (from the Prefect API) and, with --ray, the
Ray Data peer (bench/peer_ray_job.py) on the 2,000 objects.

    .venv/bin/python bench/small_objects.py [--repeats 1] [--ray] [--objects 2000]

Writes bench/results/small_objects.json; docs/benchmarks.md "Small objects" quotes it.
"""
from __future__ import annotations

import argparse
import json
import os
import time

from common import default_s3_pid, default_triton_pid, ensure_dataset, machine, now, read_manifest, write_result
from peer_bench import OUTPUT, ensure_ray_venv, run_ray, timed_command

from tasks.io.s3_uri import S3Uri

ROWS = 100_000
TARGETS = {"many_over_few": 1.5, "sentinel_over_ray": 2.0, "task_runs": 20}


def task_runs(flow_run_id: str, api_url: str | None = None) -> int:
    """Task runs of a flow run, from the Prefect API at `api_url` (default: the environment's)."""
    from contextlib import nullcontext

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    found, offset = 0, 0
    with temporary_settings({PREFECT_API_URL: api_url}) if api_url else nullcontext(), \
            get_client(sync_client=True) as client:
        while True:  # the API pages at 200
            page = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                                         limit=200, offset=offset)
            found, offset = found + len(page), offset + len(page)
            if len(page) < 200:
                return found


def run_sentinel(input_uri: str, env: dict, roots: dict) -> dict:
    output = f"{OUTPUT}/small-objects-{int(time.time() * 1000)}/"
    cmd = [os.path.join(os.path.dirname(__file__), "..", ".venv", "bin", "sentinel"), "translate",
           "--input", input_uri, "--output", output, "--model", "echo", "--source-lang", "de"]
    result = timed_command(cmd, env, roots)
    root = S3Uri.parse(output)
    from common import s3

    keys = [o["Key"] for page in s3().boto3_client().get_paginator("list_objects_v2").paginate(
        Bucket=root.bucket, Prefix=root.key) for o in page.get("Contents", [])]
    run_dir = f"s3://{root.bucket}/" + next(k for k in keys if k.endswith("/manifest.json")).rsplit("/", 1)[0]
    manifest = read_manifest(run_dir)
    writes = len(keys)
    return result | {"rows": manifest["rows"], "rows_per_s": round(manifest["rows"] / result["seconds"], 1),
                     "shards": len(manifest["shards"]), "task_runs": task_runs(manifest["flow_run"]["id"]),
                     "s3_objects_written": writes, "status": manifest["status"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--ray", action="store_true", help="also run the Ray Data peer on the many objects")
    args = parser.parse_args()
    env = dict(os.environ)
    roots = {"s3": default_s3_pid(), "triton": default_triton_pid()}
    inputs = {"few": ensure_dataset("rows-100k-4-objects", ROWS, 4, row_group_size=5_000),
              "many": ensure_dataset(f"rows-100k-{args.objects}-objects", ROWS, args.objects,
                                     row_group_size=ROWS // args.objects)}
    runs: dict[str, list[dict]] = {"few": [], "many": []}
    for _ in range(args.repeats):  # alternating, so load drifts hit both alike
        for name in ("few", "many"):
            runs[name].append(run_sentinel(inputs[name], env, roots))
            print(name, json.dumps(runs[name][-1]), flush=True)
    best = {name: min(r, key=lambda x: x["seconds"]) for name, r in runs.items()}
    doc = {"measured_at": now(), "machine": machine(), "rows": ROWS, "objects": {"few": 4, "many": args.objects},
           "runs": runs, "best": best, "targets": TARGETS,
           "many_over_few": round(best["many"]["seconds"] / best["few"]["seconds"], 2)}
    if args.ray:
        ray = run_ray(ensure_ray_venv(), "echo", inputs["many"], ROWS, env, roots, request_rows=32)
        doc["ray_many"] = ray
        doc["sentinel_over_ray"] = round(ray["seconds"] / best["many"]["seconds"], 2)
    path = write_result("small_objects", doc)
    print(json.dumps({k: doc.get(k) for k in ("many_over_few", "sentinel_over_ray")}
                     | {"task_runs_many": best["many"]["task_runs"], "result": str(path)}))


if __name__ == "__main__":
    main()
