"""One measurement in its own process (so peak RSS is this measurement's own):

  python bench/measure.py pipeline --model echo --input s3://… [--shard-rows N] [--guards]
  python bench/measure.py direct   --model echo --input s3://… [--batch-size B --concurrency C]
  python bench/measure.py per-row  --model echo --input s3://… --rows N

Prints one JSON line: rows, seconds, rows_per_s, peak_rss_mb (+ the pipeline's shard figures).
The Prefect server, S3 and Triton come from the environment (PREFECT_API_URL, AWS_*,
SENTINEL_TRITON_URL), defaulting to the local stack.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deployments.cli import use_local_stack_env

use_local_stack_env()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def apply_variant(variant: str) -> None:
    """Experiments on the flow without editing it (bench/profile_pipeline.py compares them)."""
    if variant == "no-task-cache":  # no Prefect result persistence / cache lookup for shard tasks
        from prefect.cache_policies import NO_CACHE

        import flows.job as job_module

        job_module.shard_task = job_module.shard_task.with_options(
            cache_key_fn=None, cache_policy=NO_CACHE, persist_result=False)
    elif variant == "no-concurrency-slot":  # shard tasks skip the global `triton-shards` slot
        from contextlib import nullcontext

        import tasks.engine.prefect_tasks as shard_module

        shard_module.concurrency = lambda *args, **kwargs: nullcontext()
    elif variant:
        raise SystemExit(f"unknown variant {variant!r}")


def run_pipeline(args) -> dict:
    from flows.translate_batch import translate_batch

    apply_variant(args.variant)

    out = f"{args.output.rstrip('/')}/{args.model}-{int(time.time() * 1000)}/"
    extra = {"data_quality": False} if args.no_quality else {}
    cpu, started = time.process_time(), time.perf_counter()
    if args.shard_rows:
        extra["shard_rows"] = args.shard_rows
    state = translate_batch(input_uri=args.input, output_uri=out, model=args.model, source_lang="de",
                            guards=args.guards, triton_endpoint=None, s3_credentials=None, return_state=True,
                            **extra)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    summary = state.result()
    shards = summary["shards"]
    return {
        "rows": summary["rows"], "seconds": seconds, "run_cpu_s": round(cpu, 3), "shards": len(shards), "output_dir": summary["output_dir"],
        "flow_run_id": str(state.state_details.flow_run_id),
        "flow_seconds": summary["seconds"], "status_counts": summary["status_counts"],
        "shard_seconds": round(sum(s.get("seconds") or 0.0 for s in shards), 3),
        "guard_seconds": round(sum(s.get("guard_seconds") or 0.0 for s in shards), 3)
        if all("guard_seconds" in s for s in shards) else None,
    }


def load_texts(input_uri: str) -> list[str]:
    import pyarrow.parquet as pq

    from tasks.io.listing import list_objects
    from tasks.io.s3 import S3Connection
    from tasks.io.s3_uri import S3Uri

    conn = S3Connection.from_env()
    texts: list[str] = []
    for obj in list_objects(conn, input_uri):
        target = S3Uri.parse(obj.uri)
        body = conn.boto3_client().get_object(Bucket=target.bucket, Key=target.key)["Body"].read()
        texts += pq.read_table(io.BytesIO(body), columns=["text"]).column("text").to_pylist()
    return texts


def run_direct(args) -> dict:
    """The baseline: texts already in memory, batched async tritonclient calls (the pipeline's own
    client and default batch size / concurrency unless given)."""
    import dataclasses

    from blocks.triton_endpoint import TritonEndpoint
    from tasks.inference.translate_client import TritonTranslateClient

    texts = load_texts(args.input)
    if args.rows:
        texts = (texts * (args.rows // max(len(texts), 1) + 1))[: args.rows]
    settings = TritonEndpoint(url=args.triton_url).call_settings(args.model)
    changes = {k: v for k, v in (("batch_size", args.batch_size), ("concurrency", args.concurrency)) if v}
    settings = dataclasses.replace(settings, **changes)

    async def go() -> int:
        async with TritonTranslateClient(settings) as client:
            out = await client.translate(texts, "de", "en")
        return len(out.texts)

    cpu, started = time.process_time(), time.perf_counter()
    rows = asyncio.run(go())
    return {"rows": rows, "seconds": time.perf_counter() - started, "run_cpu_s": round(time.process_time() - cpu, 3),
            "batch_size": settings.batch_size,
            "concurrency": settings.concurrency}


def run_per_row(args) -> dict:
    """What a naive service does: one synchronous request per row."""
    import numpy as np
    import tritonclient.grpc as grpcclient

    texts = load_texts(args.input)[: args.rows]
    client = grpcclient.InferenceServerClient(args.triton_url)
    cpu, started = time.process_time(), time.perf_counter()
    for text in texts:
        inputs = []
        for name, value in (("TEXT", text), ("SRC_LANG", "de"), ("TGT_LANG", "en")):
            tensor = grpcclient.InferInput(name, [1, 1], "BYTES")
            tensor.set_data_from_numpy(np.array([[value.encode()]], dtype=np.object_))
            inputs.append(tensor)
        client.infer(args.model, inputs)
    return {"rows": len(texts), "seconds": time.perf_counter() - started, "run_cpu_s": round(time.process_time() - cpu, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["pipeline", "direct", "per-row"])
    parser.add_argument("--model", default="echo")
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", default="s3://sentinel-bench/outputs")
    parser.add_argument("--rows", type=int, default=0, help="per-row: rows sampled; direct: rows sent (repeating)")
    parser.add_argument("--shard-rows", type=int, default=0, help="pipeline: rows per shard (0: the flow's default)")
    parser.add_argument("--guards", action="store_true", help="pipeline: run the hallucination guards")
    parser.add_argument("--no-quality", action="store_true", help="pipeline: data_quality=False (no GE suites)")
    parser.add_argument("--batch-size", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=0)
    parser.add_argument("--triton-url", default=os.environ.get("SENTINEL_TRITON_URL", "127.0.0.1:8001"))
    parser.add_argument("--variant", default="", help="pipeline: no-task-cache | no-concurrency-slot (see apply_variant)")
    parser.add_argument("--profile", default="", help="write a cProfile of the measurement here")
    args = parser.parse_args()
    run = {"pipeline": run_pipeline, "direct": run_direct, "per-row": run_per_row}[args.mode]
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(run, args)
        profiler.dump_stats(args.profile)
    else:
        result = run(args)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.update(mode=args.mode, model=args.model, rows_per_s=result["rows"] / result["seconds"],
                  peak_rss_mb=round(peak_rss_mb(), 1), cpu_s=round(usage.ru_utime + usage.ru_stime, 3))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
