"""Many objects on one Prefect server (issue 28): 100,000 echo rows as 10,000 objects of 10 rows,
through `sentinel translate` as a user runs it, while a second run (the 2,000-object input of
bench/small_objects.py) starts on the same server 5 s later; on the shared stack's embedded SQLite
Prefect server and on the bench's PostgreSQL one (bench/prefect_pg.py). Records whether both runs
Completed, their wall time, task runs, and the time from the command's start to the first committed
part of the 10,000-object run.

    .venv/bin/python bench/many_objects.py [--objects 10000] [--servers sqlite,postgresql] [--no-second]
        [--malloc-tuning-off-too]

Writes bench/results/many_objects.json; docs/benchmarks.md section 8 quotes it.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import threading
import time

import psutil  # the bench extra: imported here, so that a missing one stops the bench, not its RSS thread
from common import ROOT, ensure_dataset, load_result, machine, now, read_manifest, s3, write_result
from peer_bench import OUTPUT, register_blocks
from small_objects import task_runs

from tasks.io.s3_uri import S3Uri

ROWS = 100_000


def peak_rss(pid: int, stop: threading.Event, found: dict) -> None:
    """The run's process tree's peak RSS (MB), sampled every 0.5 s."""
    root = psutil.Process(pid)
    while not stop.is_set():
        try:
            rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            break
        found["peak_rss_mb"] = max(found.get("peak_rss_mb", 0), round(rss / 2**20, 1))
        time.sleep(0.5)


def first_part_after(output: str, started: float, stop: threading.Event, found: dict) -> None:
    root = S3Uri.parse(output)
    client = s3().boto3_client()
    while not stop.is_set():
        listing = client.list_objects_v2(Bucket=root.bucket, Prefix=root.key).get("Contents", [])
        if any("/part-" in o["Key"] and "/quarantine/" not in o["Key"] for o in listing):
            found["first_part_s"] = round(time.monotonic() - started, 2)
            return
        time.sleep(0.25)


def sentinel(input_uri: str, output: str, env: dict) -> subprocess.Popen:
    cmd = [str(ROOT / ".venv" / "bin" / "sentinel"), "translate", "--input", input_uri, "--output", output,
           "--model", "echo", "--source-lang", "de"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(proc: subprocess.Popen, output: str, started: float, api_url: str) -> dict:
    out, err = proc.communicate(timeout=3600)
    doc = {"exit_code": proc.returncode, "seconds": round(time.monotonic() - started, 2),
           "tail": (out + err).strip().splitlines()[-2:]}
    root = S3Uri.parse(output)
    keys = [o["Key"] for page in s3().boto3_client().get_paginator("list_objects_v2").paginate(
        Bucket=root.bucket, Prefix=root.key) for o in page.get("Contents", [])]
    manifests = [k for k in keys if k.endswith("/manifest.json")]
    if manifests:
        manifest = read_manifest(f"s3://{root.bucket}/" + manifests[0].rsplit("/", 1)[0])
        doc |= {"status": manifest["status"], "rows": manifest["rows"], "shards": len(manifest["shards"]),
                "task_runs": task_runs(manifest["flow_run"]["id"], api_url)}
    return doc


def measure(server: str, api_url: str, inputs: dict[str, str], env: dict, second: bool = True) -> dict:
    stamp = int(time.time() * 1000)
    outputs = {name: f"{OUTPUT}/many-{server}-{name}-{stamp}/" for name in inputs}
    found: dict = {}
    stop = threading.Event()
    started = {"many": time.monotonic()}
    procs = {"many": sentinel(inputs["many"], outputs["many"], env)}
    watchers = [threading.Thread(target=first_part_after, args=(outputs["many"], started["many"], stop, found)),
                threading.Thread(target=peak_rss, args=(procs["many"].pid, stop, found))]
    for watcher in watchers:
        watcher.start()
    if second:
        time.sleep(5)
        started["second"] = time.monotonic()
        procs["second"] = sentinel(inputs["second"], outputs["second"], env)
    result = {name: finished(procs[name], outputs[name], started[name], api_url) for name in procs}
    stop.set()
    for watcher in watchers:
        watcher.join()
    result["many"] |= {k: found.get(k) for k in ("first_part_s", "peak_rss_mb")}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--servers", default="sqlite,postgresql")
    parser.add_argument("--no-second", action="store_true", help="the many-object run alone (no second run)")
    parser.add_argument("--malloc-tuning-off-too", action="store_true",
                        help="also measure each server with SENTINEL_MALLOC_TUNING=0 (tasks/engine/allocator.py)")
    args = parser.parse_args()
    inputs = {"many": ensure_dataset(f"rows-100k-{args.objects}-objects", ROWS, args.objects,
                                     row_group_size=ROWS // args.objects),
              "second": ensure_dataset("rows-100k-2000-objects", ROWS, 2000, row_group_size=50)}
    doc = {"measured_at": now(), "machine": machine(), "objects": args.objects, "rows": ROWS, "servers": {}}
    name = "many_objects" if args.objects == 10_000 else f"many_objects_{args.objects}"
    earlier = load_result(name)  # a run of one server keeps the other's figures
    if earlier and earlier.get("objects") == args.objects:
        doc["servers"] = earlier.get("servers", {})
    for server in args.servers.split(","):
        if server == "sqlite":
            env = dict(os.environ)
            doc["servers"]["sqlite"] = measure("sqlite", env["PREFECT_API_URL"], inputs, env, not args.no_second)
            if args.malloc_tuning_off_too:  # the same run, glibc's malloc left as it is
                doc["servers"]["sqlite, malloc tuning off"] = measure(
                    "sqlite", env["PREFECT_API_URL"], inputs, env | {"SENTINEL_MALLOC_TUNING": "0"}, not args.no_second)
        else:
            from prefect_pg import bench_prefect_server

            with bench_prefect_server() as prefect:
                env = dict(os.environ) | prefect.env()
                register_blocks(env)
                doc["servers"][prefect.database] = measure(prefect.database, prefect.api_url, inputs, env,
                                                           not args.no_second)
        print(server, doc["servers"], flush=True)
    print(write_result(name, doc))


if __name__ == "__main__":
    main()
