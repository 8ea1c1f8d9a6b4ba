"""Memory of a many-object run (issue 28, "memory stays flat"), two measures side by side, for this tree
and optionally an earlier checkout (`--before-tree`, alternated with this one):

1. `held`: the bytes a run holds for every object from listing to manifest (its listing, its input
   entries, its packed shards' pieces and their lineage), built for N synthetic objects with the tree's
   own classes and measured with tracemalloc: bytes per object (deterministic, no S3).
2. `runs`: peak RSS (process tree, sampled every 0.5 s) and wall time of `sentinel translate --model
   echo` over the same 100,000 rows as 2,000, 20,000 and 100,000 objects (bench/common datasets; past
   100,000 objects, one row each), on the stack's Prefect server. A run of some sizes keeps the others'.

    .venv/bin/python bench/run_memory.py [--objects 2000,20000,100000] [--before-tree /tmp/old] [--held-only | --no-held]

Writes bench/results/run_memory.json; docs/benchmarks.md section 8 quotes it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

from common import ROOT, ensure_dataset, load_result, machine, now, write_result
from many_objects import peak_rss
from peer_bench import OUTPUT

ROWS = 100_000

# Run in a fresh interpreter with the tree first on sys.path; prints {"objects", "bytes", "per_object"}.
HELD = r'''
import gc, inspect, json, sys, tracemalloc
n = int(sys.argv[1])
from flows.job import plan_chunks
from tasks.engine.object_entries import InputEntries
from tasks.engine.planning import ShardPacker
from tasks.engine.runner import lineage
from tasks.io.input_listing import InputListing
from tasks.io.listing import ObjectRef
from tasks.io.shards import ObjectPlan, RowGroupSlice, Shard

SLICES = (RowGroupSlice(0, 0, 1),)
gc.collect()
tracemalloc.start()
start = tracemalloc.get_traced_memory()[0]
listing = InputListing([ObjectRef(f"s3://sentinel-bench/inputs/rows-100k-{n}-objects/part-{i:06d}.parquet",
                                  f"{i * 7919:032x}", 1500 + i % 100) for i in range(n)], "folder")
takes_objects = "objects" in inspect.signature(InputEntries).parameters
inputs = InputEntries(objects=listing.objects) if takes_objects else InputEntries()
packer, shards = ShardPacker(20_000), []
for chunk in plan_chunks(listing.objects):
    plans = [ObjectPlan(o, shards=(Shard(o, 0, 1, SLICES, bytes=300),), rows=1, schema_key="id:string;text:string")
             for o in chunk]
    for plan in plans:
        inputs.append({"uri": plan.object.uri, "etag": plan.object.etag, "size": plan.object.size, "rows": 1,
                       "shards": 1, "error": None, "error_kind": None})
    shards += packer.add(plans, chunk) if takes_objects else packer.add(plans)
    del plans
shards += packer.finish()
records = [{"shard_id": s.shard_id, "pieces": lineage(s)} for s in shards]  # what record.shards holds
gc.collect()
held = tracemalloc.get_traced_memory()[0] - start
print(json.dumps({"objects": n, "shards": len(shards), "bytes": held, "per_object": round(held / n, 1)}))
'''


def held(tree: str, objects: int) -> dict:
    env = dict(os.environ) | {"PYTHONPATH": tree}
    out = subprocess.run([sys.executable, "-c", HELD, str(objects)], env=env, cwd=tree, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(tree: str, input_uri: str, label: str) -> dict:
    output = f"{OUTPUT}/run-memory-{label}-{int(time.time() * 1000)}/"
    env = dict(os.environ) | {"PYTHONPATH": tree, "PREFECT_LOGGING_LEVEL": "WARNING"}
    cmd = [str(ROOT / ".venv" / "bin" / "sentinel"), "translate", "--input", input_uri, "--output", output,
           "--model", "echo", "--source-lang", "de"]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found: dict = {}
    stop = threading.Event()
    watcher = threading.Thread(target=peak_rss, args=(proc.pid, stop, found))
    watcher.start()
    out, _ = proc.communicate(timeout=3600)
    stop.set()
    watcher.join()
    return {"exit_code": proc.returncode, "seconds": round(time.monotonic() - started, 1),
            "peak_rss_mb": found.get("peak_rss_mb"), "tail": out.strip().splitlines()[-1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", default="2000,20000,100000")
    parser.add_argument("--before-tree")
    parser.add_argument("--held-only", action="store_true", help="only the held bytes (no S3, no runs)")
    parser.add_argument("--no-held", action="store_true", help="only the runs")
    args = parser.parse_args()
    sizes = [int(n) for n in args.objects.split(",")]
    trees = {"after": str(ROOT)} | ({"before": args.before_tree} if args.before_tree else {})
    earlier = load_result("run_memory") or {}  # a run of some sizes or trees keeps the others' figures
    doc: dict = {"measured_at": now(), "machine": machine(), "rows": ROWS, "trees": earlier.get("trees", {}) | trees,
                 "held": earlier.get("held", {}), "runs": earlier.get("runs", {})}
    if not args.no_held:
        for name, tree in trees.items():
            doc["held"][name] = [held(tree, n) for n in (*sizes, 1_000_000)]
            print(name, doc["held"][name], flush=True)
    if not args.held_only:
        for n in sizes:
            rows = max(ROWS, n)  # past 100,000 objects, one row each
            input_uri = ensure_dataset(f"rows-{rows // 1000}k-{n}-objects", rows, n, row_group_size=rows // n)
            for name, tree in trees.items():  # alternated: the machine's load drifts over minutes
                result = run(tree, input_uri, f"{name}-{n}") | {"rows": rows, "measured_at": now()}
                doc["runs"].setdefault(name, {})[str(n)] = result
                print(name, n, result, flush=True)
    print(write_result("run_memory", doc))


if __name__ == "__main__":
    main()
