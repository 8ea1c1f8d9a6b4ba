"""Items 1-2: pipeline rows/s ÷ direct batched tritonclient rows/s, and ÷ a per-row synchronous
loop, on the same model and texts, side by side in one run. Also the pipeline's fixed cost per
run (a 100-row input) and its marginal rate (the same flow on a quarter of the rows: extra rows ÷
extra seconds), which is what a long batch converges to.

Each measurement runs in its own process (bench/measure.py); the pipeline talks to the bench's
own Prefect server (bench/prefect_pg.py).
"""
from __future__ import annotations

import os

from common import (
    default_s3_pid,
    default_triton_pid,
    ensure_dataset,
    flow_default_shard_rows,
    human,
    machine,
    now,
    run_measure,
    write_result,
)

# model, rows, objects, per-row sample
CASES = [
    ("echo", int(os.environ.get("BENCH_ECHO_ROWS", 1_000_000)), 4, 2_000),
    ("translate", int(os.environ.get("BENCH_MARIAN_ROWS", 40_000)), 2, 1_000),
]
FIXED_ROWS = 100


def measure_case(model: str, rows: int, objects: int, per_row_rows: int, prefect_env: dict,
                 shard_rows: int = 0, prefect_pid: int | None = None) -> dict:
    input_uri = ensure_dataset(f"{model}-{human(rows)}-{objects}", rows, objects, row_group_size=2_000)
    servers = {"triton_server": default_triton_pid(), "s3_server": default_s3_pid(), "prefect_server": prefect_pid}
    run_measure(["direct", "--model", model, "--input", input_uri, "--rows", "256"])  # warm-up: model, caches
    direct = run_measure(["direct", "--model", model, "--input", input_uri], sampler_roots=servers)
    pipeline = run_measure(["pipeline", "--model", model, "--input", input_uri, "--shard-rows", str(shard_rows)],
                           env=prefect_env, sampler_roots=servers)
    per_row = run_measure(["per-row", "--model", model, "--input", input_uri, "--rows", str(per_row_rows)])
    # the same flow on a quarter of the rows: the difference is what the extra rows cost, without the
    # per-run fixed cost (flow-run creation, imports on first use, listing, manifest)
    small_rows = rows // 4
    small_uri = ensure_dataset(f"{model}-{human(small_rows)}-{objects}", small_rows, objects, row_group_size=2_000)
    small = run_measure(["pipeline", "--model", model, "--input", small_uri, "--shard-rows", str(shard_rows)],
                        env=prefect_env)
    extra_s = pipeline["seconds"] - small["seconds"]
    marginal = (rows - small_rows) / extra_s if extra_s > 0 else None
    return {
        "model": model, "rows": rows, "objects": objects, "shard_rows": shard_rows,
        "cpu_us_per_row": {"direct": cpu_per_row(direct, rows), "pipeline": cpu_per_row(pipeline, rows)},
        "direct": direct, "pipeline": pipeline, "per_row": per_row,
        "pipeline_over_direct": round(pipeline["rows_per_s"] / direct["rows_per_s"], 3),
        "pipeline_over_per_row": round(pipeline["rows_per_s"] / per_row["rows_per_s"], 2),
        "small_pipeline": {"rows": small_rows, "seconds": round(small["seconds"], 3)},
        "pipeline_marginal_rows_per_s": marginal and round(marginal, 1),
        "marginal_over_direct": marginal and round(marginal / direct["rows_per_s"], 3),
        "fixed_seconds_estimate": marginal and round(small["seconds"] - small_rows / marginal, 3),
    }


def cpu_per_row(result: dict, rows: int) -> dict:
    """CPU microseconds per row during the run: the measuring process and each server."""
    out = {"client": round(result["run_cpu_s"] / rows * 1e6, 1)}
    out.update({name.removesuffix("_server"): round(cpu / rows * 1e6, 1) for name, cpu in result["server_cpu_s"].items()})
    return out


def fixed_cost(prefect_env: dict) -> dict:
    """Wall time of the whole flow on a 100-row echo input: the per-run cost that does not shrink."""
    input_uri = ensure_dataset(f"echo-{FIXED_ROWS}-1", FIXED_ROWS, 1, row_group_size=FIXED_ROWS)
    runs = [run_measure(["pipeline", "--model", "echo", "--input", input_uri], env=prefect_env) for _ in range(2)]
    best = min(runs, key=lambda r: r["seconds"])
    return {"rows": FIXED_ROWS, "seconds": round(best["seconds"], 3), "flow_seconds": best["flow_seconds"]}


def run(prefect, shard_rows: int = 0) -> dict:
    """`shard_rows` 0: the flow's own default."""
    shard_rows = shard_rows or flow_default_shard_rows()
    env = prefect.env()
    fixed = fixed_cost(env)
    results = []
    for model, rows, objects, per_row_rows in CASES:
        result = measure_case(model, rows, objects, per_row_rows, env, shard_rows, prefect.pid)
        results.append(result)
        print(f"pipeline bench: {model} {rows} rows: pipeline {result['pipeline']['rows_per_s']:.0f} rows/s, "
              f"direct {result['direct']['rows_per_s']:.0f}, per-row {result['per_row']['rows_per_s']:.0f} "
              f"-> {result['pipeline_over_direct']:.2f} of direct, {result['pipeline_over_per_row']:.1f}x per-row")
    doc = {"when": now(), "machine": machine(), "prefect_database": prefect.database,
           "fixed_cost": fixed, "results": results}
    write_result("pipeline", doc)
    return doc
