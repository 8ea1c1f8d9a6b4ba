"""The peer of bench/peer_bench.py: a Ray Data job doing what `sentinel translate` does, written the
way a Ray user would. Runs in its own venv (`.venv-ray`, ray[data] pinned); imports nothing of
this project.

  .venv-ray/bin/python bench/peer_ray_job.py --input s3://b/in/ --output s3://b/out/run/ --model echo

read the parquet objects under --input from S3 (Arrow's S3 filesystem) -> `map_batches` on an actor
pool (--actors, default 2): each actor holds one gRPC channel to Triton and sends its batch's
texts in requests of --request-rows (default 32, the issue's setting) with up to --in-flight
requests in flight -> write parquet (id, text, translation, logprob, model) back under --output.
Prints one JSON line: rows, seconds (inside the job, after `ray.init`), init seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa


def s3_filesystem():
    import pyarrow.fs as pafs

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
    parsed = urlparse(endpoint)
    return pafs.S3FileSystem(
        access_key=os.environ.get("AWS_ACCESS_KEY_ID"), secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
        region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        endpoint_override=parsed.netloc or None, scheme=parsed.scheme or "https")


def parquet_paths(input_uri: str) -> list[str]:
    """bucket/key paths of the .parquet objects under an s3:// prefix."""
    import pyarrow.fs as pafs

    root = input_uri.removeprefix("s3://").rstrip("/")
    infos = s3_filesystem().get_file_info(pafs.FileSelector(root, recursive=True))
    return sorted(i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(".parquet"))


class TritonTranslator:
    """One actor: an event loop and a tritonclient gRPC aio channel, reused across batches."""

    def __init__(self, url: str, model: str, request_rows: int, in_flight: int, src: str, tgt: str):
        import tritonclient.grpc.aio as grpcclient

        self.grpcclient = grpcclient
        self.model, self.request_rows, self.in_flight, self.src, self.tgt = model, request_rows, in_flight, src, tgt
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.client = grpcclient.InferenceServerClient(url)

    def _inputs(self, texts: list[str]):
        rows = len(texts)
        inputs = []
        for name, values in (("TEXT", texts), ("SRC_LANG", [self.src] * rows), ("TGT_LANG", [self.tgt] * rows)):
            tensor = self.grpcclient.InferInput(name, [rows, 1], "BYTES")
            tensor.set_data_from_numpy(np.array([v.encode("utf-8") for v in values], dtype=np.object_).reshape(-1, 1))
            inputs.append(tensor)
        return inputs

    async def _infer(self, texts: list[str], slots: asyncio.Semaphore):
        async with slots:
            result = await self.client.infer(self.model, self._inputs(texts))
        return ([v.decode("utf-8") for v in result.as_numpy("TRANSLATION").reshape(-1)],
                result.as_numpy("LOGPROB").reshape(-1).tolist(),
                [v.decode("utf-8") for v in result.as_numpy("MODEL").reshape(-1)])

    async def _translate(self, texts: list[str]):
        slots = asyncio.Semaphore(self.in_flight)
        size = self.request_rows
        parts = await asyncio.gather(*(self._infer(texts[i:i + size], slots) for i in range(0, len(texts), size)))
        return ([t for p in parts for t in p[0]], [lp for p in parts for lp in p[1]], [m for p in parts for m in p[2]])

    def __call__(self, batch: pa.Table) -> pa.Table:
        texts = [t or "" for t in batch.column("text").to_pylist()]
        translations, logprobs, models = self.loop.run_until_complete(self._translate(texts))
        return pa.table({"id": batch.column("id"), "text": batch.column("text"),
                         "translation": pa.array(translations, pa.string()),
                         "logprob": pa.array(logprobs, pa.float32()), "model": pa.array(models, pa.string())})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--model", default="echo")
    parser.add_argument("--triton-url", default=os.environ.get("SENTINEL_TRITON_URL", "127.0.0.1:8001"))
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--request-rows", type=int, default=32)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--batch-rows", type=int, default=1024, help="rows per map_batches call")
    parser.add_argument("--actor-cpus", type=float, default=0.5)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--source-lang", default="de")
    parser.add_argument("--target-lang", default="en")
    args = parser.parse_args()

    import ray

    started = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False,
             object_store_memory=512 * 2**20, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    init_s = time.perf_counter() - started
    fs = s3_filesystem()
    job_started = time.perf_counter()
    paths = parquet_paths(args.input)
    # at least two blocks per actor: Ray would read a small input as one block, which one actor maps alone
    ds = ray.data.read_parquet(paths, filesystem=fs, columns=["id", "text"],
                               override_num_blocks=max(len(paths), 2 * args.actors))
    # half a CPU per actor: whole-CPU actors would hold both cores and leave none for the read tasks
    ds = ds.map_batches(TritonTranslator, batch_size=args.batch_rows, batch_format="pyarrow", concurrency=args.actors,
                        num_cpus=args.actor_cpus,
                        fn_constructor_args=(args.triton_url, args.model, args.request_rows, args.in_flight,
                                             args.source_lang, args.target_lang))
    ds.write_parquet(args.output.removeprefix("s3://").rstrip("/"), filesystem=fs)
    seconds = time.perf_counter() - job_started
    rows = sum(pq_rows(fs, path) for path in parquet_paths(args.output))
    ray.shutdown()
    print(json.dumps({"rows": rows, "job_seconds": round(seconds, 3), "init_seconds": round(init_s, 3)}))


def pq_rows(fs, path: str) -> int:
    import pyarrow.parquet as pq

    with fs.open_input_file(path) as handle:
        return pq.ParquetFile(handle).metadata.num_rows


if __name__ == "__main__":
    main()
