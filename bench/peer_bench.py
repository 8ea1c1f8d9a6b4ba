"""Peer comparison (issue 16): the default `sentinel translate` against a Ray Data job doing the same
work and against the direct batched client, on the same inputs, S3 and Triton, whole runs,
alternating, median of 3.

  sentinel  `.venv/bin/sentinel translate --input … --output … --model M --source-lang de` as a user
            runs it (defaults: data-quality suites on, guards on; `--no-guards` on `translate`,
            the issue's "guards off"); wall time of the whole command
  ray       bench/peer_ray_job.py in `.venv-ray` (ray[data] pinned, installed here by uv): read the
            parquet from S3, `map_batches` on 2 actors calling Triton in requests of 32 rows with
            8 in flight, write parquet back; wall time of the whole command (ray.init included)
  direct    bench/measure.py direct: texts already in memory, the pipeline's own async client
            with its default sizing (tasks/inference/model_config.py); inference seconds only
  direct_b32  the same at 32 rows x 8 in flight (the issue's direct client; the default before)

Each case runs at two sizes; the marginal rate = extra rows ÷ extra seconds between them (median
runs), i.e. without the fixed cost per run. Peak RSS is the sampled process tree's (Ray: driver,
raylet, workers). The 1-minute load average is recorded before and after every run: on 2 shared
cores the figures move with whatever else runs.

    .venv/bin/python bench/peer_bench.py [--cases echo,translate] [--repeats 3] [--memory-rows 1M]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import (
    ROOT,
    default_s3_pid,
    default_triton_pid,
    delete_prefix,
    ensure_dataset,
    human,
    machine,
    now,
    parse_rows,
    run_measure,
    run_sampled,
    write_result,
)

RAY_VERSION = "2.60.0"
RAY_VENV = ROOT / ".venv-ray"
RAY_REQUIREMENTS = [f"ray[data]=={RAY_VERSION}", "tritonclient[grpc]", "aiohttp"]
# model: (rows, rows of the small run for the marginal rate, objects)
CASES = {"echo": (200_000, 50_000, 4), "translate": (20_000, 5_000, 4)}
SYSTEMS = ("sentinel", "ray", "direct", "direct_b32")  # direct_b32: the direct client at the 32 x 8
ROW_GROUP_ROWS = 5_000
OUTPUT = "s3://sentinel-bench/outputs/peer"
TARGETS = {"sentinel_over_ray": 2.0, "sentinel_over_direct_echo": 0.7}


def ensure_ray_venv() -> Path:
    """`.venv-ray` with ray[data] pinned (uv); reused while its marker names the same requirements."""
    marker = RAY_VENV / ".sentinel-requirements"
    python = RAY_VENV / "bin" / "python"
    if python.exists() and marker.exists() and marker.read_text() == "\n".join(RAY_REQUIREMENTS):
        return python
    subprocess.run(["uv", "venv", "--allow-existing", "--python", sys.executable, str(RAY_VENV)], check=True)
    subprocess.run(["uv", "pip", "install", "--python", str(python), *RAY_REQUIREMENTS], check=True)
    marker.write_text("\n".join(RAY_REQUIREMENTS))
    return python


def load() -> float:
    return round(os.getloadavg()[0], 2)


def timed_command(cmd: list[str], env: dict, roots: dict[str, int | None], timeout: float = 1800) -> dict:
    """Wall time, exit status, sampled peak RSS of the command's process tree (and the servers')."""
    before = load()
    started = time.perf_counter()
    import psutil

    # servers can be restarted between runs (a shared stack): sample those alive now
    alive = {k: v for k, v in roots.items() if v and psutil.pid_exists(v)}
    returncode, out, err, sampler = run_sampled(cmd, env, alive, "run", timeout)
    seconds = time.perf_counter() - started
    if returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({returncode}):\n{err[-3000:]}\n{out[-2000:]}")
    return {"seconds": round(seconds, 3), "stdout_tail": out.strip().splitlines()[-1:] if out.strip() else [],
            "peak_rss_mb": sampler.peaks().get("run"), "cpu_s": sampler.cpu_used.get("run"),
            "server_cpu_s": {k: v for k, v in sampler.cpu_used.items() if k != "run"},
            "load_before": before, "load_after": load()}


def run_sentinel(model: str, input_uri: str, rows: int, env: dict, roots: dict) -> dict:
    output = f"{OUTPUT}/sentinel-{model}-{int(time.time() * 1000)}/"
    cmd = [str(ROOT / ".venv" / "bin" / "sentinel"), "translate", "--input", input_uri, "--output", output,
           "--model", model, "--source-lang", "de"] + (["--no-guards"] if model != "echo" else [])
    try:
        result = timed_command(cmd, env, roots)
    finally:
        delete_prefix(output)
    return result | {"rows": rows, "rows_per_s": round(rows / result["seconds"], 1), "command": " ".join(cmd[1:])}


def run_ray(python: Path, model: str, input_uri: str, rows: int, env: dict, roots: dict, request_rows: int) -> dict:
    output = f"{OUTPUT}/ray-{model}-{int(time.time() * 1000)}/"
    cmd = [str(python), str(ROOT / "bench" / "peer_ray_job.py"), "--input", input_uri, "--output", output,
           "--model", model, "--request-rows", str(request_rows)]
    # a loaded machine can outlast Ray's 30 s wait for its raylet: wait longer, and retry once
    env = env | {"RAY_raylet_start_wait_time_s": "180", "RAY_AUTH_MODE": "disabled"}
    try:
        try:
            result = timed_command(cmd, env, roots)
        except RuntimeError as exc:
            print(f"peer bench: ray run failed, retrying once: {str(exc)[-300:]}", flush=True)
            delete_prefix(output)
            result = timed_command(cmd, env, roots) | {"retried": True}
    finally:
        delete_prefix(output)
    job = json.loads(result.pop("stdout_tail")[-1])
    if job["rows"] != rows:
        raise RuntimeError(f"ray job wrote {job['rows']} rows, expected {rows}")
    return result | {"rows": rows, "rows_per_s": round(rows / result["seconds"], 1), "job": job}


def run_direct(model: str, input_uri: str, rows: int, sizes: tuple[int, int] | None = None) -> dict:
    before = load()
    extra = ["--batch-size", str(sizes[0]), "--concurrency", str(sizes[1])] if sizes else []
    result = run_measure(["direct", "--model", model, "--input", input_uri, *extra])
    return {"seconds": round(result["seconds"], 3), "rows": result["rows"],
            "rows_per_s": round(result["rows_per_s"], 1),
            "batch_size": result["batch_size"], "concurrency": result["concurrency"],
            "peak_rss_mb": result["peak_rss_mb"], "load_before": before, "load_after": load()}


def median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def measure_size(model: str, rows: int, objects: int, repeats: int, ray_python: Path, env: dict,
                 request_rows: int) -> dict:
    input_uri = ensure_dataset(f"peer-{model}-{human(rows)}-{objects}", rows, objects, row_group_size=ROW_GROUP_ROWS)
    def roots() -> dict:  # looked up for each run: a server restarted meanwhile has a new pid
        return {"triton_server": default_triton_pid(), "s3_server": default_s3_pid()}

    runners = {"sentinel": lambda: run_sentinel(model, input_uri, rows, env, roots()),
               "ray": lambda: run_ray(ray_python, model, input_uri, rows, env, roots(), request_rows),
               "direct": lambda: run_direct(model, input_uri, rows),
               "direct_b32": lambda: run_direct(model, input_uri, rows, (32, 8))}
    runs: dict[str, list[dict]] = {name: [] for name in SYSTEMS}
    for repeat in range(repeats):
        order = SYSTEMS[repeat % len(SYSTEMS):] + SYSTEMS[:repeat % len(SYSTEMS)]  # alternate who goes first
        for name in order:
            runs[name].append(runners[name]())
            last = runs[name][-1]
            print(f"peer bench: {model} {rows} rows, {name} run {repeat + 1}: {last['rows_per_s']:.0f} rows/s "
                  f"(load {last['load_before']} -> {last['load_after']})", flush=True)
    medians = {name: median_run(r) for name, r in runs.items()}
    return {"rows": rows, "objects": objects, "input": input_uri, "runs": runs,
            "median_rows_per_s": {name: m["rows_per_s"] for name, m in medians.items()},
            "median_seconds": {name: m["seconds"] for name, m in medians.items()},
            "peak_rss_mb": {name: max((r.get("peak_rss_mb") or 0) for r in runs[name]) for name in SYSTEMS}}


def marginal(large: dict, small: dict) -> dict:
    out = {}
    for name in SYSTEMS:
        extra_s = large["median_seconds"][name] - small["median_seconds"][name]
        out[name] = round((large["rows"] - small["rows"]) / extra_s, 1) if extra_s > 0 else None
    return out


def measure_case(model: str, repeats: int, ray_python: Path, env: dict, request_rows: int) -> dict:
    rows, small_rows, objects = CASES[model]
    large = measure_size(model, rows, objects, repeats, ray_python, env, request_rows)
    small = measure_size(model, small_rows, objects, repeats, ray_python, env, request_rows)
    rates, margin = large["median_rows_per_s"], marginal(large, small)
    ratios = {"sentinel_over_ray": round(rates["sentinel"] / rates["ray"], 3),
              "sentinel_over_direct": round(rates["sentinel"] / rates["direct"], 3),
              "sentinel_over_direct_b32": round(rates["sentinel"] / rates["direct_b32"], 3),
              "ray_over_direct": round(rates["ray"] / rates["direct"], 3)}
    targets = {"sentinel >= 2.0x ray": ratios["sentinel_over_ray"] >= TARGETS["sentinel_over_ray"],
               "marginal rate >= ray's": bool(margin["sentinel"] and margin["ray"]
                                              and margin["sentinel"] >= margin["ray"])}
    if model == "echo":
        targets["sentinel >= 0.7x direct"] = ratios["sentinel_over_direct"] >= TARGETS["sentinel_over_direct_echo"]
        targets["sentinel >= 0.7x direct at 32 x 8"] = (ratios["sentinel_over_direct_b32"]
                                                         >= TARGETS["sentinel_over_direct_echo"])
    return {"model": model, "large": large, "small": small, "ratios": ratios, "marginal_rows_per_s": margin,
            "targets_met": targets, "ray_request_rows": request_rows,
            "guards": "on (echo: never applied)" if model == "echo" else "off (--no-guards)"}


def memory_run(rows: int, env: dict) -> dict:
    """The default CLI once on a large echo input: peak RSS against the case's own runs."""
    objects = 4
    input_uri = ensure_dataset(f"peer-echo-{human(rows)}-{objects}", rows, objects, row_group_size=ROW_GROUP_ROWS)
    roots = {"triton_server": default_triton_pid(), "s3_server": default_s3_pid()}
    result = run_sentinel("echo", input_uri, rows, env, roots)
    return {"rows": rows, "objects": objects, "seconds": result["seconds"], "rows_per_s": result["rows_per_s"],
            "peak_rss_mb": result["peak_rss_mb"], "load_before": result["load_before"],
            "load_after": result["load_after"]}


def register_blocks(env: dict) -> None:
    """The blocks `sentinel translate` loads by default (as after `make demo` / `sentinel blocks register`)."""
    subprocess.run([str(ROOT / ".venv" / "bin" / "sentinel"), "blocks", "register"], check=True, cwd=ROOT, env=env,
                   stdout=subprocess.DEVNULL)


def run(prefect=None, cases: tuple[str, ...] = tuple(CASES), repeats: int = 3, memory_rows: int = 0,
        request_rows: int = 32) -> dict:
    """`prefect`: the bench's Prefect server (bench/prefect_pg.py); None = the environment's."""
    env = dict(os.environ) | (prefect.env() if prefect else {}) | {"PREFECT_LOGGING_LEVEL": "WARNING"}
    ray_python = ensure_ray_venv()
    register_blocks(env)
    started_load = load()
    doc = {"when": now(), "machine": machine(), "load_at_start": started_load, "ray_version": RAY_VERSION,
           "repeats": repeats, "prefect_database": getattr(prefect, "database", "the environment's"),
           "cases": [measure_case(model, repeats, ray_python, env, request_rows) for model in cases]}
    if memory_rows:
        doc["memory"] = {"large": memory_run(memory_rows, env),
                         "default_case_peak_rss_mb": next((c["large"]["peak_rss_mb"]["sentinel"] for c in doc["cases"]
                                                           if c["model"] == "echo"), None)}
    doc["load_at_end"] = load()
    write_result("peer", doc)
    for case in doc["cases"]:
        print(f"peer bench: {case['model']}: {case['large']['median_rows_per_s']} ratios {case['ratios']} "
              f"marginal {case['marginal_rows_per_s']} targets {case['targets_met']}")
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-rows", default="0", help="also one default CLI run on this many echo rows (e.g. 1M)")
    parser.add_argument("--ray-request-rows", type=int, default=32, help="rows per Triton request in the Ray job")
    args = parser.parse_args()
    run(None, tuple(c.strip() for c in args.cases.split(",") if c.strip()), args.repeats, parse_rows(args.memory_rows),
        args.ray_request_rows)


if __name__ == "__main__":
    main()
