"""S3 reads of a many-object run whose small objects outgrow the object cache (issue 28): how many
whole-object GETs, footer GETs and bytes `sentinel translate --model echo` makes per input object, this
tree alternated with an earlier checkout (`--before-tree`, e.g. the tree whose cache was LRU).

Planning runs ahead of the shards (two chunks of up to 20,000 objects) and fetches small objects whole
for their footers, keeping them for the shard that reads them (tasks/io/object_cache.py). The cache holds
64 MiB: 2,000 objects of 500 KB outgrow it as 2,000 objects of 1.7 KB outgrow a 256 KiB one, so the run
here lowers the bound (`--cache-kib`) instead of writing gigabytes, and the shard bound with it
(`--shard-rows`: 40 objects of 50 rows a shard, as a 32 MiB shard holds ~60 objects of 500 KB), so that the
shards in flight fit in the cache as they do at full scale.

Counted in the run's process, the same way for both trees: GETs of pyarrow's S3 filesystem
(`open_input_stream`: whole objects) and boto3 GetObject calls with a Range (footers).

    .venv/bin/python bench/object_fetches.py [--before-tree /tmp/old-checkout] [--objects 2000] [--cache-kib 256]
        [--shard-rows 2000] [--repeats 2]

Writes bench/results/object_fetches.json (object_fetches_<N>kib.json for another `--cache-kib`).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from common import ROOT, ensure_dataset, machine, now, write_result
from peer_bench import OUTPUT

ROWS = 100_000

# run inside the measured tree's process: count S3 reads, lower the cache bound, run the command
HARNESS = r"""
import json, sys, threading
from collections import Counter
from tasks.io import object_cache, s3

counts, lock = Counter(), threading.Lock()
for name in ("CACHE_BYTES", "_SMALL_CACHE_BYTES"):  # this tree's name of the bound
    if hasattr(object_cache, name):
        setattr(object_cache, name, int(sys.argv[1]))


class CountingStream:
    def __init__(self, stream):
        self.stream = stream
    def read(self, *args):
        data = self.stream.read(*args)
        with lock:
            counts["whole_bytes"] += len(data)
        return data
    def __enter__(self):
        self.stream.__enter__()
        return self
    def __exit__(self, *exc):
        return self.stream.__exit__(*exc)


class CountingFS:
    def __init__(self, fs):
        self.fs = fs
    def open_input_stream(self, path, *args, **kwargs):
        with lock:
            counts["whole_gets"] += 1
        return CountingStream(self.fs.open_input_stream(path, *args, **kwargs))
    def __getattr__(self, name):
        return getattr(self.fs, name)


real_fs = s3.S3Connection.arrow_fs.func
s3.S3Connection.arrow_fs = property(lambda conn: CountingFS(real_fs(conn)))
real_client_for = s3._client_for


def count_ranged_get(params, **_):
    if params.get("Range"):
        with lock:
            counts["footer_gets"] += 1


def client_for(*args, **kwargs):
    client = real_client_for(*args, **kwargs)
    if not getattr(client, "_bench_counted", False):
        client.meta.events.register("before-parameter-build.s3.GetObject", count_ranged_get)
        client._bench_counted = True
    return client


s3._client_for = client_for
from deployments.cli import main
code = main(sys.argv[2:])
print("BENCH-COUNTS " + json.dumps(dict(counts)), flush=True)
sys.exit(code)
"""


def one_run(tree: str | None, input_uri: str, cache_bytes: int, shard_rows: int) -> dict:
    env = dict(os.environ) | {"PYTHONPATH": tree or str(ROOT), "PREFECT_LOGGING_LEVEL": "WARNING"}
    cmd = [sys.executable, "-c", HARNESS, str(cache_bytes), "translate", "--input", input_uri,
           "--output", f"{OUTPUT}/fetches-{int(time.time() * 1000)}/", "--model", "echo", "--source-lang", "de", "--shard-rows", str(shard_rows)]
    started = time.perf_counter()
    out = subprocess.run(cmd, env=env, cwd=tree or ROOT, capture_output=True, text=True)
    seconds = round(time.perf_counter() - started, 2)
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH-COUNTS ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"run failed ({out.returncode}): {out.stderr[-2000:]}")
    return {"seconds": seconds} | json.loads(line.removeprefix("BENCH-COUNTS "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-tree")
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--cache-kib", type=int, default=256)
    parser.add_argument("--shard-rows", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    input_uri = ensure_dataset(f"rows-100k-{args.objects}-objects", ROWS, args.objects,
                               row_group_size=ROWS // args.objects)
    trees = {"after": None} | ({"before": args.before_tree} if args.before_tree else {})
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(args.repeats):
        for name, tree in trees.items():  # alternating
            runs[name].append(one_run(tree, input_uri, args.cache_kib * 1024, args.shard_rows))
    per_object = {name: {k: round(sum(r.get(k, 0) for r in rs) / len(rs) / args.objects, 3)
                         for k in ("whole_gets", "footer_gets", "whole_bytes")} for name, rs in runs.items()}
    doc = {"measured_at": now(), "machine": machine(), "objects": args.objects, "rows": ROWS,
           "cache_kib": args.cache_kib, "shard_rows": args.shard_rows, "runs": runs, "per_object": per_object}
    name = "object_fetches" if args.cache_kib == 256 else f"object_fetches_{args.cache_kib}kib"
    print(write_result(name, doc), json.dumps(per_object))


if __name__ == "__main__":
    main()
