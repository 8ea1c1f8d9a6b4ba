"""`make bench`: every benchmark of docs/benchmarks.md, side by side in one run on this machine,
then the plots (docs/img/*.png) and docs/benchmarks.md from all results JSONs.

    .venv/bin/python bench/run_benchmarks.py                         # everything (about 15 min on 2 idle cores)
    .venv/bin/python bench/run_benchmarks.py --only scale --sizes 10k,100k --objects 1,10
    .venv/bin/python bench/run_benchmarks.py --only tuning --quick
    .venv/bin/python bench/run_benchmarks.py --only report           # plots + docs from the JSONs there are

Parts: pipeline (items 1-2: echo, tiny Marian), asr (item 1: Whisper tiny.en), scale (item 3),
guards (item 4), tuning (item 5), profile (where the echo pipeline's time goes), peer (the default
`sentinel translate` against a Ray Data job and the direct client, issue 16), report.
Needs the local stack (make stack-up): its S3 and Triton; the flows run on the bench's own Prefect
server on PostgreSQL (bench/prefect_pg.py, port 4300), tuning on the bench's own Triton (8100-8102).
A part that fails is reported and the others go on; the exit status says whether all succeeded.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import traceback

from common import ROOT, parse_rows

PARTS = ("pipeline", "asr", "scale", "guards", "tuning", "profile", "documents", "embed", "peer")


def run_asr(prefect) -> None:
    """bench/asr_bench.py in its own process, its flow on the bench Prefect server."""
    env = dict(os.environ) | prefect.env() | {"PREFECT_LOGGING_LEVEL": "WARNING"}
    subprocess.run([sys.executable, str(ROOT / "bench" / "asr_bench.py")], check=True, cwd=ROOT, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS + ("report",)),
                        help=f"comma-separated parts: {', '.join(PARTS)}, report (default: all)")
    parser.add_argument("--sizes", default="10k,100k,1M", help="scale: input sizes in rows")
    parser.add_argument("--objects", default="1,10,100", help="scale: object counts")
    parser.add_argument("--shard-rows", type=int, default=0,
                        help="the flow's shard size for pipeline/scale (default: the flow's own, 20,000)")
    parser.add_argument("--alt-shard-rows", default="50000", help="scale: larger shard sizes on the largest input")
    parser.add_argument("--quick", action="store_true", help="tuning: concurrency 1 and 8 only")
    parser.add_argument("--peer-memory-rows", default="1M", help="peer: one default CLI run this large (0: none)")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS) - {"report"}
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}")

    failed: list[str] = []
    timings: dict[str, float] = {}

    def attempt(name: str, fn) -> None:
        started = time.perf_counter()
        print(f"== bench: {name}", flush=True)
        try:
            fn()
        except Exception:
            traceback.print_exc()
            failed.append(name)
        timings[name] = round(time.perf_counter() - started, 1)
        print(f"== bench: {name} took {timings[name]:.0f} s", flush=True)

    needs_prefect = [p for p in parts if p in ("pipeline", "asr", "scale", "guards", "profile", "peer")]
    if needs_prefect:
        from prefect_pg import bench_prefect_server

        with bench_prefect_server() as prefect:
            print(f"bench: Prefect server {prefect.api_url} on {prefect.database}")
            if "pipeline" in parts:
                import pipeline_bench

                attempt("pipeline", lambda: pipeline_bench.run(prefect, args.shard_rows))
            if "asr" in parts:
                attempt("asr", lambda: run_asr(prefect))
            if "scale" in parts:
                import scale_bench

                sizes = tuple(parse_rows(s) for s in args.sizes.split(","))
                objects = tuple(int(o) for o in args.objects.split(","))
                alt = tuple(parse_rows(s) for s in args.alt_shard_rows.split(",") if s.strip())
                attempt("scale", lambda: scale_bench.run(prefect, sizes, objects, args.shard_rows, alt))
            if "guards" in parts:
                import guards_bench

                attempt("guards", lambda: guards_bench.run(prefect))
            if "profile" in parts:
                import profile_pipeline

                attempt("profile", lambda: profile_pipeline.run(prefect))
            if "peer" in parts:  # bench/peer_bench.py: default `sentinel translate` vs a Ray Data job vs direct
                import peer_bench

                attempt("peer", lambda: peer_bench.run(prefect, memory_rows=parse_rows(args.peer_memory_rows)))
    if "documents" in parts:  # bench/documents_bench.py: k=5 documents vs the same sentences as rows
        attempt("documents", lambda: __import__("documents_bench").run())
    if "embed" in parts:  # bench/embed_bench.py: similarity encoder in process vs the stack Triton's `embed`
        attempt("embed", lambda: __import__("embed_bench").run())
    if "tuning" in parts:
        import tuning_bench

        attempt("tuning", lambda: tuning_bench.run(quick=args.quick))
    import report  # always: the docs and plots from whatever results exist

    attempt("report", report.main)
    print(f"bench: parts took {timings}; " + (f"FAILED: {failed}" if failed else "all succeeded"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
