"""Where the echo pipeline's time goes. Same texts, same Triton, one run:

  direct      texts in memory -> TritonTranslateClient (the baseline of item 1)
  function    a shard's translate + guard (process_shard with translate-batch's stage) over every shard, no Prefect (1 and 4 threads)
  read only   tasks.io.reader.iter_shard_batches over every shard (S3 + parquet decode)
  flow        the translate-batch flow (bench/measure.py), and its timeline from the Prefect API:
              time before the first shard, the first wave of shard tasks (cold process), task
              duration vs the shard function's own seconds (= Prefect's per-task overhead)

plus a cProfile of the function path split by component. cProfile slows Python calls, so its
shares are indicative; the throughput figures are measured without it.
"""
from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from common import (
    bench_texts,
    delete_prefix,
    ensure_dataset,
    flow_default_shard_rows,
    human,
    machine,
    now,
    read_manifest,
    run_measure,
    s3,
    write_result,
)

ROWS, OBJECTS = int(os.environ.get("BENCH_PROFILE_ROWS", 400_000)), 4
# the flow as shipped, and what it gains without the data-quality suites / the global Triton slot /
# with fewer or more shard threads than the shipped 4: (measure.py arguments, environment)
FLOW_VARIANTS = {"flow": ([], {}), "flow_no_quality": (["--no-quality"], {}),
                 "flow_no_concurrency_slot": (["--variant", "no-concurrency-slot"], {}),
                 "flow_2_shard_workers": ([], {"SENTINEL_SHARD_WORKERS": "2"}),
                 "flow_8_shard_workers": ([], {"SENTINEL_SHARD_WORKERS": "8"})}
# cProfile function name -> component (cumulative time of the outermost matching frames)
COMPONENTS = {
    "Triton client: build + serialize requests": [("inference/wire.py", "bytes_input"), ("inference/translate_client.py", "_inputs")],
    "Triton client: gRPC call + wait": [("inference/client.py", "_with_retries")],
    "Triton client: decode responses": [("inference/translate_client.py", "_decode")],
    "rows -> Arrow (python lists, pa.array)": [("translate/batch.py", "translate_record_batch")],
    "write parquet part (spool)": [("engine/runner.py", "write")],
    "commit: upload part to S3": [("engine/runner.py", "commit")],
    "reuse check (HEAD) + footer read": [("engine/runner.py", "committed_result"),
                                         ("io/parquet.py", "read_footer")],
    "data-quality suites (read + GE + write result)": [("quality/shard_checks.py", "check_input"),
                                                       ("quality/shard_checks.py", "check_output")],
}


def _settings(triton_url: str, quality: bool):
    """The flow's settings for echo: as `translate_batch` builds them (data-quality suites included)."""
    import dataclasses

    from blocks.triton_endpoint import TritonEndpoint
    from tasks.translate.batch import TranslateSettings

    settings = TranslateSettings(text_column="text", id_column="id", target_lang="en", source_lang="de",
                                 triton=TritonEndpoint(url=triton_url).call_settings("echo"))
    if quality:
        from tasks.translate.stage import translation_quality_checks

        settings = dataclasses.replace(settings, quality=translation_quality_checks("id", "text", None, None))
    return settings


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _component_seconds(stats: pstats.Stats) -> dict[str, float]:
    out = {}
    for component, names in COMPONENTS.items():
        out[component] = round(sum(v[3] for (path, _line, fn), v in stats.stats.items()
                                   if any(path.endswith(p) and fn == f for p, f in names)), 3)
    return out


def in_process(input_uri: str, triton_url: str) -> dict:
    from tasks.engine.planning import plan_object
    from tasks.engine.prefect_tasks import process_shard
    from tasks.inference.translate_client import TritonTranslateClient
    from tasks.io.listing import list_objects
    from tasks.io.reader import iter_shard_batches
    from tasks.translate.stage import TranslateStage

    def translate_shard(conn, shard, settings, run_dir):
        return process_shard(conn, shard, TranslateStage(settings), run_dir)

    conn, settings, bare = s3(), _settings(triton_url, quality=True), _settings(triton_url, quality=False)
    shards = [shard for obj in list_objects(conn, input_uri)
              for shard in plan_object(conn, obj, text_column="text", id_column="id", shard_rows=flow_default_shard_rows()).shards]
    rows = sum(s.rows for s in shards)
    texts = bench_texts(rows).to_pylist()
    run_dir = f"s3://sentinel-bench/outputs/profile-{int(time.time() * 1000)}"
    translate_shard(conn, shards[0], settings, run_dir + "/warm")  # imports, connections

    async def direct():
        async with TritonTranslateClient(settings.triton) as client:
            await client.translate(texts, "de", "en")

    figures = {"direct": rows / _timed(lambda: asyncio.run(direct()))}
    figures["read_only"] = rows / _timed(lambda: [sum(b.num_rows for b in iter_shard_batches(
        conn, s, ["id", "text"], settings.read_batch_rows)) for s in shards])
    figures["function_1_thread"] = rows / _timed(lambda: [translate_shard(conn, s, settings, run_dir + "/seq")
                                                          for s in shards])
    with ThreadPoolExecutor(4) as pool:
        figures["function_4_threads"] = rows / _timed(
            lambda: list(pool.map(lambda s: translate_shard(conn, s, settings, run_dir + "/thr"), shards)))
        figures["function_4_threads_no_quality"] = rows / _timed(
            lambda: list(pool.map(lambda s: translate_shard(conn, s, bare, run_dir + "/bare"), shards)))
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [translate_shard(conn, s, settings, run_dir + "/prof") for s in shards])
    stats = pstats.Stats(profiler)
    total = sum(v[3] for (path, _l, fn), v in stats.stats.items()
                if path.endswith("engine/prefect_tasks.py") and fn == "process_shard")
    delete_prefix(run_dir + "/")
    return {"rows": rows, "shards": len(shards), "shard_rows": flow_default_shard_rows(),
            "rows_per_s": {k: round(v, 1) for k, v in figures.items()},
            "cprofile_function_seconds": round(total, 3), "cprofile_components_s": _component_seconds(stats),
            "quality_suite_ms": quality_suite_ms()}


def quality_suite_ms() -> dict:
    """Median ms of one passing input / output suite on 100 rows and on a default shard's rows
    (bench/quality_timing.py): GE's cost per validation, against its cost per row."""
    from bench.quality_timing import measure
    from tasks.quality.validate import ARROW_FIRST, GE_FULL

    out = {}
    for rows in (100, flow_default_shard_rows()):
        timing = measure(rows, calls=10)
        out[str(rows)] = {  # input / output: the shipped mode (Arrow pass; GE only on what it finds)
            "input": timing[f"input {ARROW_FIRST}: passing"]["median_ms"],
            "output": timing[f"output {ARROW_FIRST}: passing"]["median_ms"],
            "ge_full_input": timing[f"input {GE_FULL}: passing"]["median_ms"],
            "ge_full_output": timing[f"output {GE_FULL}: passing"]["median_ms"],
            "failing_input": timing[f"input {ARROW_FIRST}: failing"]["median_ms"],
            "failing_output": timing[f"output {ARROW_FIRST}: failing"]["median_ms"]}
    return out


def _api(url: str, body: dict | None = None):
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"}, method="POST" if body else "GET")
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def flow_timeline(api_url: str, flow_run_id: str, manifest: dict) -> dict:
    """Task-run start/end times from the Prefect API, against the shards' own seconds."""
    ts = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()  # noqa: E731
    run = _api(f"{api_url}/flow_runs/{flow_run_id}")
    tasks, offset = [], 0
    while batch := _api(f"{api_url}/task_runs/filter",
                        {"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200, "offset": offset}):
        tasks += batch
        offset += len(batch)
    t0 = ts(run["start_time"])
    shard_tasks = sorted((t for t in tasks if t["name"].startswith("translate-shard") and t.get("end_time")),
                         key=lambda t: t["start_time"])
    durations = [ts(t["end_time"]) - ts(t["start_time"]) for t in shard_tasks]
    fn_seconds = [s["seconds"] for s in manifest["shards"] if "seconds" in s]
    workers = 4
    first, rest = durations[:workers], durations[workers:] or durations[:workers]
    return {
        "flow_seconds": round(ts(run["end_time"]) - t0, 3),
        "before_first_shard_s": round(ts(shard_tasks[0]["start_time"]) - t0, 3),
        "shard_phase_s": round(ts(shard_tasks[-1]["end_time"]) - ts(shard_tasks[0]["start_time"]), 3),
        "after_last_shard_s": round(ts(run["end_time"]) - ts(shard_tasks[-1]["end_time"]), 3),
        "first_wave_task_s": round(statistics.mean(first), 3),
        "steady_task_s": round(statistics.median(rest), 3),
        "shard_function_s": round(statistics.median(fn_seconds[workers:] or fn_seconds), 3),
        "prefect_overhead_per_task_s": round(statistics.median(rest) - statistics.median(fn_seconds[workers:]
                                                                                          or fn_seconds), 3),
        "shard_tasks": len(shard_tasks),
    }


def run(prefect, triton_url: str = "127.0.0.1:8001") -> dict:
    input_uri = ensure_dataset(f"echo-{human(ROWS)}-{OBJECTS}", ROWS, OBJECTS, row_group_size=2_000)
    inproc = in_process(input_uri, triton_url)
    timelines = {}
    for name, (extra, env) in FLOW_VARIANTS.items():
        flow = run_measure(["pipeline", "--model", "echo", "--input", input_uri, *extra], env=prefect.env() | env)
        manifest = read_manifest(flow["output_dir"])
        delete_prefix(flow["output_dir"].rsplit("/", 1)[0] + "/")
        timelines[name] = flow_timeline(prefect.api_url, flow["flow_run_id"], manifest)
        inproc["rows_per_s"][name] = round(flow["rows_per_s"], 1)
    doc = {"when": now(), "machine": machine(), "input": input_uri, "model": "echo"} | inproc | {
        "flow_timeline": timelines}
    print("profile: rows/s " + ", ".join(f"{k} {v:.0f}" for k, v in inproc["rows_per_s"].items()))
    write_result("profile", doc)
    return doc
