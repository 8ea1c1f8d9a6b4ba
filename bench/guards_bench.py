"""Item 4: share of shard wall time spent in the hallucination guards, from the run's own
manifest: sum(shards[].guard_seconds) / sum(shards[].seconds), on the tiny Marian `translate`
model with guards on (scoring every translation, re-decoding the flagged ones). The same input is
also run with guards off, so the end-to-end cost shows too. Skipped, saying so, when the
manifest's shards carry no `guard_seconds`.
"""
from __future__ import annotations

import os

from common import delete_prefix, ensure_dataset, human, machine, now, read_manifest, run_measure, write_result

ROWS = int(os.environ.get("BENCH_GUARD_ROWS", 1_000))
OBJECTS = 2
SHARD_ROWS = 500
OUTPUT = "s3://sentinel-bench/outputs/guards"


def pipeline(input_uri: str, prefect, guards: bool) -> tuple[dict, dict]:
    args = ["pipeline", "--model", "translate", "--input", input_uri, "--output", OUTPUT,
            "--shard-rows", str(SHARD_ROWS)] + (["--guards"] if guards else [])
    result = run_measure(args, env=prefect.env())
    manifest = read_manifest(result["output_dir"])
    delete_prefix(result["output_dir"].rsplit("/", 1)[0] + "/")
    return result, manifest


def detector_costs(rows: int = 1000) -> dict:
    """Milliseconds per 1,000 rows of each MT detector, in this process (one BLAS thread, the shipped
    settings), on development-set rows made distinct so nothing is deduplicated; bench texts when
    the development set is absent."""
    import time

    from calibrate_mt_guards import DEFAULT_DATA

    from tasks.guards.mt.base import TranslationBatch
    from tasks.guards.mt.checker import build_detectors
    from tasks.guards.mt.settings import MTGuardSettings

    if DEFAULT_DATA.exists():
        import csv

        with open(DEFAULT_DATA, newline="", encoding="utf-8") as handle:
            pairs = [(r["src"], r["mt"]) for r in csv.DictReader(handle)]
        source = "development set"
    else:
        from common import bench_texts

        texts = bench_texts(rows).to_pylist()
        pairs, source = list(zip(texts, texts[::-1])), "bench texts"
    src = [f"{pairs[i % len(pairs)][0]} ({i})" for i in range(rows)]
    mt = [f"{pairs[i % len(pairs)][1]} ({i})" for i in range(rows)]
    batch = TranslationBatch.build(src, mt, ["de"] * rows, ["en"] * rows, [-0.5] * rows)
    detectors = build_detectors(MTGuardSettings())
    for detector in detectors:  # load models (USE, language ID) outside the timing
        detector.score(TranslationBatch.build(src[:4], mt[:4], ["de"] * 4, ["en"] * 4, [-0.5] * 4))
    costs = {}
    for detector in detectors:
        started = time.perf_counter()
        detector.score(batch)
        costs[detector.name] = round((time.perf_counter() - started) * 1000 * 1000 / rows, 1)
    total = sum(costs.values())
    return {"rows": rows, "source": source, "ms_per_1000_rows": costs, "total_ms_per_1000_rows": round(total, 1),
            "rows_per_s_one_core": round(1000 / total * 1000, 0) if total else None,
            "threads_at_once": scoring_threads(src, mt)}


def scoring_threads(src: list[str], mt: list[str]) -> dict:
    """Rows/s of whole-row scoring (score_translations) with 1 thread, then with as many threads
    at once as there are cores (shard threads score concurrently)."""
    import os
    import time
    from concurrent.futures import ThreadPoolExecutor

    from tasks.guards.mt.checker import score_translations

    workers = max(2, os.cpu_count() or 2)
    chunks = [(src[i::workers], mt[i::workers]) for i in range(workers)]
    score = lambda chunk: score_translations(chunk[0], chunk[1], ["de"] * len(chunk[0]), ["en"] * len(chunk[0]))  # noqa: E731
    started = time.perf_counter()
    for chunk in chunks:
        score(chunk)
    one = time.perf_counter() - started
    with ThreadPoolExecutor(workers) as pool:
        started = time.perf_counter()
        list(pool.map(score, chunks))
        together = time.perf_counter() - started
    return {"threads": workers, "rows_per_s_1_thread": round(len(src) / one), "rows_per_s_together": round(len(src) / together),
            "speedup": round(one / together, 2)}


def run(prefect) -> dict:
    input_uri = ensure_dataset(f"guards-{human(ROWS)}-{OBJECTS}", ROWS, OBJECTS, row_group_size=SHARD_ROWS)
    doc = {"when": now(), "machine": machine(), "model": "translate (tiny random-weight Marian, CPU)",
           "rows": ROWS, "objects": OBJECTS, "shard_rows": SHARD_ROWS}
    guarded, manifest = pipeline(input_uri, prefect, guards=True)
    shards = [s for s in manifest.get("shards", []) if not s.get("error")]
    if not shards or not all("guard_seconds" in s for s in shards):
        doc["skipped"] = ("the manifest's shards carry no guard_seconds field (ShardResult.guard_seconds in "
                          "tasks/translate/batch.py / tasks/engine/runner.py): nothing to measure")
        print(f"guards bench: skipped: {doc['skipped']}")
        write_result("guards", doc)
        return doc
    unguarded, _ = pipeline(input_uri, prefect, guards=False)
    shard_s = sum(s["seconds"] for s in shards)
    guard_s = sum(s["guard_seconds"] for s in shards)
    doc.update({
        "shards": len(shards), "shard_seconds": round(shard_s, 3), "guard_seconds": round(guard_s, 3),
        "guard_share": round(guard_s / shard_s, 3) if shard_s else None,
        "status_counts": manifest.get("status_counts"),
        "flagged_rows": (manifest.get("status_counts") or {}).get("flagged", 0),
        "with_guards": {"seconds": round(guarded["seconds"], 3), "rows_per_s": round(guarded["rows_per_s"], 1)},
        "without_guards": {"seconds": round(unguarded["seconds"], 3),
                           "rows_per_s": round(unguarded["rows_per_s"], 1)},
        "slowdown": round(guarded["seconds"] / unguarded["seconds"], 3),
    })
    doc["scoring_cost"] = detector_costs()
    print(f"guards bench: {doc['guard_share']:.1%} of shard wall time in the guards "
          f"({guard_s:.1f} of {shard_s:.1f} s); with guards {doc['with_guards']['rows_per_s']:.0f} rows/s, "
          f"without {doc['without_guards']['rows_per_s']:.0f}")
    write_result("guards", doc)
    return doc
