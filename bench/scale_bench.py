"""Item 3: scale. 10k / 100k / 1M rows over 1 / 10 / 100 objects through `echo`, the flow on the
bench's own Prefect server (PostgreSQL). Per run: rows/s, peak RSS of the flow process (its own
getrusage and a sampled peak), and the sampled peak RSS of the Triton server tree and the Prefect
server tree (with their RSS at the start, so growth shows). Memory must stay flat as input grows:
the flow streams row batches, it never holds a shard, let alone an object.

The shard size is the flow's default (20,000 rows); the largest input is also run with larger
shards (SHARD_ROWS_ALT) to show what the per-task overhead costs.
"""
from __future__ import annotations

from common import (
    default_s3_pid,
    default_triton_pid,
    delete_prefix,
    ensure_dataset,
    flow_default_shard_rows,
    human,
    machine,
    now,
    run_measure,
    write_result,
)

SIZES = (10_000, 100_000, 1_000_000)
OBJECTS = (1, 10, 100)
SHARD_ROWS_ALT = (50_000,)
ROW_GROUP_ROWS = 5000
OUTPUT = "s3://sentinel-bench/outputs/scale"


def one_run(rows: int, objects: int, shard_rows: int, prefect) -> dict:
    input_uri = ensure_dataset(f"scale-{human(rows)}-{objects}", rows, objects,
                               row_group_size=min(ROW_GROUP_ROWS, max(rows // objects, 1)))
    roots = {"triton_server": default_triton_pid(), "prefect_server": prefect.pid, "s3_server": default_s3_pid()}
    result = run_measure(["pipeline", "--model", "echo", "--input", input_uri, "--output", OUTPUT,
                          "--shard-rows", str(shard_rows)], env=prefect.env(), sampler_roots=roots)
    delete_prefix(result["output_dir"].rsplit("/", 1)[0] + "/")  # this run's parts, manifest, cached results
    peaks, starts = result["sampled_peak_rss_mb"], result["sampled_start_rss_mb"]
    entry = {
        "rows": rows, "objects": objects, "shard_rows": shard_rows, "shards": result["shards"],
        "seconds": round(result["seconds"], 3), "rows_per_s": round(result["rows_per_s"], 1),
        "flow_peak_rss_mb": result["peak_rss_mb"], "flow_sampled_peak_rss_mb": peaks.get("flow_process"),
        "triton_peak_rss_mb": peaks.get("triton_server"), "triton_start_rss_mb": starts.get("triton_server"),
        "prefect_server_peak_rss_mb": peaks.get("prefect_server"),
        "prefect_server_start_rss_mb": starts.get("prefect_server"),
        "status_counts": result["status_counts"],
        "cpu_s": {"flow": result["run_cpu_s"]} | {k.removesuffix("_server"): v for k, v in result["server_cpu_s"].items()},
    }
    print(f"scale bench: {human(rows)} rows / {objects} objects / shards of {shard_rows}: "
          f"{entry['rows_per_s']:.0f} rows/s, flow peak {entry['flow_peak_rss_mb']:.0f} MB, "
          f"triton peak {entry['triton_peak_rss_mb']} MB, prefect server peak {entry['prefect_server_peak_rss_mb']} MB")
    return entry


def run(prefect, sizes=SIZES, objects=OBJECTS, shard_rows: int = 0, alt_shard_rows=SHARD_ROWS_ALT) -> dict:
    shard_rows = shard_rows or flow_default_shard_rows()
    runs = []
    for rows in sizes:
        for count in objects:
            if rows // count < 1:
                continue
            runs.append(one_run(rows, count, shard_rows, prefect))
    largest = max(sizes)
    for alt in alt_shard_rows:
        for count in objects:
            if largest // count > shard_rows:  # only where a bigger shard changes the plan
                runs.append(one_run(largest, count, alt, prefect))
    doc = {"when": now(), "machine": machine(), "model": "echo", "prefect_database": prefect.database,
           "row_group_rows": ROW_GROUP_ROWS, "default_shard_rows": shard_rows, "runs": runs}
    write_result("scale", doc)
    return doc
