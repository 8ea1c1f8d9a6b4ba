"""Per-call cost of the suites on a realistic shard, in each validation mode (docs/data_quality.md quotes it):

    python -m bench.quality_timing [--rows 5000] [--calls 50]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from tasks.quality.specs import InputSpec, OutputSpec
from tasks.quality.validate import ARROW_FIRST, GE_FULL, validate_input, validate_output

INPUT_SPEC = InputSpec(id_column="id", text_column="text", language_column="lang", allowed_languages=("de", "en", "fr"),
                       min_text_chars=2, max_text_chars=20_000, expected_columns={"id": "int64"})
OUTPUT_SPEC = OutputSpec.for_translation()


def input_table(rows: int, bad: bool = False) -> pa.Table:
    ids = list(range(rows))
    if bad:
        ids[7] = None
    text = [f"Das ist der Satz Nummer {i}, mit etwas mehr Text, damit er wie ein echter Satz aussieht."
            for i in range(rows)]
    return pa.table({"id": pa.array(ids, pa.int64()), "text": text, "lang": ["de"] * rows})


def output_parts(rows: int, bad: bool = False) -> tuple[pa.Table, pa.Table]:
    quarantined = rows // 50
    status = ["ok"] * (rows - quarantined) + ["flagged"] * quarantined
    score = [0.1] * rows
    if bad:
        score[3] = 1.5
    table = pa.table({
        "id": pa.array(range(rows), pa.int64()), "source_text": [f"Satz {i}" for i in range(rows)],
        "translation": [f"Sentence number {i}" for i in range(rows)], "source_lang": ["de"] * rows,
        "target_lang": ["en"] * rows, "logprob": pa.array([-0.3] * rows, pa.float32()), "model": ["m"] * rows,
        "status": status, "error": pa.nulls(rows, pa.string()),
        "hallucination_score": pa.array(score, pa.float32()),
        "reasons": pa.array([[]] * rows, pa.list_(pa.string())), "redecoded": [False] * rows,
    })
    return table.slice(0, rows - quarantined), table.slice(rows - quarantined)


def milliseconds(fn, calls: int) -> dict:
    fn()  # warm: suite built, GE imported
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return {"min_ms": round(min(times), 1), "median_ms": round(statistics.median(times), 1),
            "p90_ms": round(sorted(times)[int(0.9 * calls)], 1)}


def measure(rows: int, calls: int, modes: tuple[str, ...] = (ARROW_FIRST, GE_FULL)) -> dict:
    """ms per call of each suite, passing and failing, in each validation mode (validate.py)."""
    started = time.perf_counter()
    validate_input(input_table(10), INPUT_SPEC, "warm-up")
    first_call_s = round(time.perf_counter() - started, 2)
    ids = pa.array(range(rows), pa.int64())
    out = {"rows": rows, "first_call_s (GE import + context)": first_call_s}
    for mode in modes:
        for bad in (False, True):
            table = input_table(rows, bad)
            output, quarantine = output_parts(rows, bad)
            label = f"{mode}: {'failing' if bad else 'passing'}"
            out[f"input {label}"] = milliseconds(
                lambda t=table, m=mode: validate_input(t, INPUT_SPEC, "s3://b/k", mode=m), calls)
            out[f"output {label}"] = milliseconds(
                lambda o=output, q=quarantine, m=mode: validate_output(o, q, rows, OUTPUT_SPEC, "s3://b/k",
                                                                       input_ids=ids, mode=m), calls)
        table = input_table(rows)
        with ThreadPoolExecutor(4) as pool:
            started = time.perf_counter()
            list(pool.map(lambda _, t=table, m=mode: validate_input(t, INPUT_SPEC, "s3://b/k", mode=m), range(calls)))
            out[f"input {mode}: passing, 4 threads: ms per call"] = round(
                (time.perf_counter() - started) * 1000 / calls, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(measure(args.rows, args.calls), indent=2))


if __name__ == "__main__":
    main()
