"""One measurement in its own process (so peak RSS is this measurement's own):

  python bench/measure.py pipeline --model echo --input s3://… --rows N
  python bench/measure.py direct   --model echo --input s3://… --rows N

Prints one JSON line: rows, seconds, rows_per_s, peak_rss_mb.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deployments.cli import use_local_stack_env  # noqa: E402

use_local_stack_env()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pipeline(args) -> dict:
    from flows.translate_batch import translate_batch

    out = f"{args.output}/{args.model}-{int(time.time() * 1000)}/"
    started = time.perf_counter()
    state = translate_batch(input_uri=args.input, output_uri=out, model=args.model, source_lang="de",
                            shard_rows=args.shard_rows, return_state=True)
    seconds = time.perf_counter() - started
    summary = state.result()
    return {"rows": summary["rows"], "seconds": seconds, "shards": len(summary["shards"])}


def load_texts(input_uri: str) -> list[str]:
    import pyarrow.parquet as pq

    from tasks.listing import list_objects
    from tasks.s3_uri import S3Uri
    from tasks.storage import S3Connection

    conn = S3Connection.from_env()
    texts: list[str] = []
    for obj in list_objects(conn, input_uri):
        target = S3Uri.parse(obj.uri)
        body = conn.boto3_client().get_object(Bucket=target.bucket, Key=target.key)["Body"].read()
        texts += pq.read_table(io.BytesIO(body), columns=["text"]).column("text").to_pylist()
    return texts


def run_direct(args) -> dict:
    """The baseline: texts already in memory, batched async tritonclient calls, same batch/concurrency."""
    from blocks.triton_endpoint import TritonEndpoint
    from tasks.triton_client import TritonTranslateClient

    texts = load_texts(args.input)
    settings = TritonEndpoint(url=args.triton_url).call_settings(args.model)

    async def go() -> int:
        async with TritonTranslateClient(settings) as client:
            out = await client.translate(texts, "de", "en")
        return len(out.texts)

    started = time.perf_counter()
    rows = asyncio.run(go())
    return {"rows": rows, "seconds": time.perf_counter() - started}


def run_per_row(args) -> dict:
    """What a naive service does: one synchronous request per row."""
    import numpy as np
    import tritonclient.grpc as grpcclient

    texts = load_texts(args.input)[: args.rows]
    client = grpcclient.InferenceServerClient(args.triton_url)
    started = time.perf_counter()
    for text in texts:
        inputs = []
        for name, value in (("TEXT", text), ("SRC_LANG", "de"), ("TGT_LANG", "en")):
            tensor = grpcclient.InferInput(name, [1, 1], "BYTES")
            tensor.set_data_from_numpy(np.array([[value.encode()]], dtype=np.object_))
            inputs.append(tensor)
        client.infer(args.model, inputs)
    return {"rows": len(texts), "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["pipeline", "direct", "per-row"])
    parser.add_argument("--model", default="echo")
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", default="")
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--shard-rows", type=int, default=5000)
    parser.add_argument("--triton-url", default="127.0.0.1:8001")
    args = parser.parse_args()
    result = {"pipeline": run_pipeline, "direct": run_direct, "per-row": run_per_row}[args.mode](args)
    result.update(mode=args.mode, model=args.model, rows_per_s=result["rows"] / result["seconds"],
                  peak_rss_mb=round(peak_rss_mb(), 1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
