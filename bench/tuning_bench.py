"""Item 5: tuning. Client batch size x concurrency (direct calls with the pipeline's own client,
TritonTranslateClient) against `echo` and the tiny Marian `translate` model, then Triton's side:
instance count and dynamic batching (preferred sizes, max queue delay, none) — each server
setting is its own model name in the bench's own Triton (bench/triton_variants.py).

Per point: rows/s, and CPU per row of the client process and of the Triton server tree (on a
2-core machine both share the same cores, so client CPU is throughput lost to the server).
"""
from __future__ import annotations

import asyncio
import os
import time

from common import bench_texts, machine, now, write_result
from triton_variants import Variant, tuning_triton

CLIENT_BATCH = {"echo": (8, 32, 128, 512), "translate": (8, 32, 64, 128)}
CONCURRENCY = (1, 4, 8, 16)
ROWS = {"echo": int(os.environ.get("BENCH_TUNING_ECHO_ROWS", 40_000)),
        "translate": int(os.environ.get("BENCH_TUNING_MARIAN_ROWS", 768))}
DEFAULT_CLIENT = (32, 8)  # TritonCallSettings / TritonEndpoint today

# The "_b" variants are the shipped configs with max_batch_size raised so every client batch fits.
VARIANTS = [
    Variant("echo_b", "echo", 512),
    Variant("echo_i2", "echo", 512, instances=2),
    Variant("echo_q0", "echo", 512, preferred=(), queue_delay_us=0),
    Variant("echo_q5ms", "echo", 512, queue_delay_us=5000),
    Variant("echo_nodb", "echo", 512, dynamic_batching=False),
    Variant("translate_b", "translate", 128),
    Variant("translate_i2", "translate", 128, instances=2),
    # the tiny models choose 1 CTranslate2 thread (their metadata); t2 forces 2 through the config
    Variant("translate_t2", "translate", 128, intra_threads=2),
    Variant("translate_q0", "translate", 128, preferred=(), queue_delay_us=0),
    Variant("translate_q20ms", "translate", 128, queue_delay_us=20_000),
    Variant("translate_nodb", "translate", 128, dynamic_batching=False),
]
SERVER_CLIENTS = {"echo": ((32, 8), (128, 8)), "translate": ((32, 8), (64, 8))}


def tree_cpu_s(pid: int) -> float:
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return total


def measure(url: str, server_pid: int, model: str, texts: list[str], batch_size: int, concurrency: int) -> dict:
    from tasks.inference.client import TritonCallSettings
    from tasks.inference.translate_client import TritonTranslateClient

    settings = TritonCallSettings(url=url, model_name=model, batch_size=batch_size, concurrency=concurrency,
                                  timeout_s=600)

    async def go() -> tuple[float, float, float]:
        async with TritonTranslateClient(settings) as client:
            await client.translate(texts[:batch_size], "de", "en")  # connect, warm the instance
            server0, client0, started = tree_cpu_s(server_pid), time.process_time(), time.perf_counter()
            out = await client.translate(texts, "de", "en")
            assert len(out.texts) == len(texts)
            return time.perf_counter() - started, time.process_time() - client0, tree_cpu_s(server_pid) - server0

    seconds, client_cpu, server_cpu = asyncio.run(go())
    rows = len(texts)
    return {"model": model, "batch_size": batch_size, "concurrency": concurrency, "rows": rows,
            "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1),
            "client_cpu_us_per_row": round(client_cpu / rows * 1e6, 1),
            "server_cpu_us_per_row": round(server_cpu / rows * 1e6, 1)}


def run(quick: bool = False) -> dict:
    texts = {model: bench_texts(rows, seed=3).to_pylist() for model, rows in ROWS.items()}
    concurrency = (1, 8) if quick else CONCURRENCY
    client_sweep, server_sweep = [], []
    with tuning_triton(VARIANTS) as (url, pid):
        for model, base in (("echo", "echo_b"), ("translate", "translate_b")):
            for batch_size in CLIENT_BATCH[model]:
                for conc in concurrency:
                    point = measure(url, pid, base, texts[model], batch_size, conc) | {"base_model": model}
                    client_sweep.append(point)
                    print(f"tuning: {base} batch {batch_size} x {conc}: {point['rows_per_s']:.0f} rows/s")
        for v in VARIANTS:
            for batch_size, conc in SERVER_CLIENTS[v.base]:
                point = measure(url, pid, v.name, texts[v.base], batch_size, conc)
                point.update(base_model=v.base, variant=v.name, setting=v.describe())
                server_sweep.append(point)
                print(f"tuning: {v.name} ({v.describe()}) batch {batch_size} x {conc}: "
                      f"{point['rows_per_s']:.0f} rows/s")
    doc = {"when": now(), "machine": machine(), "default_client": list(DEFAULT_CLIENT),
           "variants": {v.name: v.describe() for v in VARIANTS},
           "client_sweep": client_sweep, "server_sweep": server_sweep, "summary": summarize(client_sweep)}
    write_result("tuning", doc)
    return doc


def summarize(client_sweep: list[dict]) -> dict:
    """Per model: the best client point and today's default, and their ratio."""
    out = {}
    for model in CLIENT_BATCH:
        points = [p for p in client_sweep if p["base_model"] == model]
        if not points:
            continue
        best = max(points, key=lambda p: p["rows_per_s"])
        default = next((p for p in points if (p["batch_size"], p["concurrency"]) == DEFAULT_CLIENT), None)
        out[model] = {"best": {k: best[k] for k in ("batch_size", "concurrency", "rows_per_s")},
                      "default": default and {k: default[k] for k in ("batch_size", "concurrency", "rows_per_s")},
                      "best_over_default": round(best["rows_per_s"] / default["rows_per_s"], 2) if default else None}
    return out
