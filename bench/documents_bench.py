"""Documents vs sentences: translate-batch's per-batch function (tasks.translate.batch.translate_and_guard,
what every shard runs on each record batch) on the same sentences sent as rows of one sentence and
as documents of k = 5 consecutive sentences, side by side in one run on the local Triton (tiny
Marian `translate` with guards off and on; `echo`). Reports rows/s and sentences/s, the guards'
share of the wall time (1 - guards-off time / guards-on time; `guard_seconds` sums the guard time of
the batches in flight, as the manifest does, so it can exceed the wall time), and what segmentation
alone costs (the flow-process vs inside-Triton
decision: docs/documents.md).

    .venv/bin/python bench/documents_bench.py [--sentences 1000]   # or: run_benchmarks.py --only documents

Sentences: the development set's German sources (bench texts when it is absent); batches of
`read_batch_rows` rows with `batches_in_flight` batches at once, as the shard runner does.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import machine, now, write_result  # noqa: E402

from tasks.engine.guard_clock import GuardClock  # noqa: E402
from tasks.inference.client import TritonCallSettings  # noqa: E402
from tasks.inference.translate_client import TritonTranslateClient  # noqa: E402
from tasks.text.segmentation import segment_text  # noqa: E402
from tasks.translate.batch import TranslateSettings, translate_and_guard  # noqa: E402
from tasks.translate.guard import TranslationGuard  # noqa: E402

DEV = ROOT.parent / "shared" / "data" / "mt_hallucination_dev.csv"
K = 5
BATCH_ROWS, IN_FLIGHT = 256, 4


def sentences(n: int) -> list[str]:
    if DEV.exists():
        with DEV.open(newline="", encoding="utf-8") as f:
            rows = [r["src"].strip() for r in csv.DictReader(f) if r["src"].strip().endswith((".", "!", "?"))]
    else:
        from common import bench_texts

        rows = [t.rstrip(".") + "." for t in bench_texts(n).to_pylist()]
    return [f"{rows[i % len(rows)][:-1]} ({i}){rows[i % len(rows)][-1]}" for i in range(n)]  # distinct


async def run_rows(texts: list[str], model: str, guard: TranslationGuard | None, url: str) -> dict:
    settings = TranslateSettings(text_column="text", id_column="id", target_lang="en", source_lang="de",
                                 read_batch_rows=BATCH_ROWS, batches_in_flight=IN_FLIGHT,
                                 triton=TritonCallSettings(url=url, model_name=model), guard=guard)
    clock = GuardClock()
    batches = [pa.RecordBatch.from_pydict({"id": list(range(i, i + len(texts[i:i + BATCH_ROWS]))),
                                           "text": texts[i:i + BATCH_ROWS]}) for i in range(0, len(texts), BATCH_ROWS)]
    slots = asyncio.Semaphore(IN_FLIGHT)
    async with TritonTranslateClient(settings.triton) as client:
        async def one(batch):
            async with slots:
                return await translate_and_guard(client, batch, settings, clock)

        await one(batches[0].slice(0, 8))  # warm-up: model, encoder, language ID
        clock = GuardClock()
        started = time.perf_counter()
        outs = await asyncio.gather(*(one(b) for b in batches))
        seconds = time.perf_counter() - started
    statuses: dict[str, int] = {}
    for out in outs:
        for status in out.column("status").to_pylist():
            statuses[status] = statuses.get(status, 0) + 1
    return {"rows": len(texts), "seconds": round(seconds, 3), "rows_per_s": round(len(texts) / seconds, 1),
            "guard_seconds": round(clock.seconds, 3), "guard_seconds_over_wall": round(clock.seconds / seconds, 3),
            "statuses": statuses}


def segmentation_cost(documents: list[str]) -> dict:
    started = time.perf_counter()
    count = sum(len(segment_text(d, "de")) for d in documents)
    seconds = time.perf_counter() - started
    chars = sum(map(len, documents))
    return {"documents": len(documents), "sentences": count, "seconds": round(seconds, 4),
            "chars_per_s": round(chars / seconds), "us_per_document": round(seconds / len(documents) * 1e6, 1)}


def run(n_sentences: int = 1000, url: str | None = None) -> dict:
    url = url or os.environ.get("SENTINEL_TRITON_URL", "127.0.0.1:8001")
    single = sentences(n_sentences - n_sentences % K)
    documents = [" ".join(single[i:i + K]) for i in range(0, len(single), K)]
    cases, wall = [], {}
    for model, guard in (("echo", None), ("translate", None), ("translate", TranslationGuard())):
        as_rows = asyncio.run(run_rows(single, model, guard, url))
        as_docs = asyncio.run(run_rows(documents, model, guard, url))
        wall[(model, guard is not None)] = (as_rows["seconds"], as_docs["seconds"])
        case = {"model": model, "guards": guard is not None, "sentences": len(single),
                "sentence_rows": as_rows, "documents_of_5": as_docs,
                "documents_sentences_per_s": round(len(single) / as_docs["seconds"], 1),
                "sentences_per_s_ratio": round(as_rows["seconds"] / as_docs["seconds"], 3)}
        if guard is not None:  # the guards' share of batch wall time: 1 - (guards off) / (guards on)
            off_rows, off_docs = wall[(model, False)]
            case["guard_share_of_wall"] = {"sentence_rows": round(1 - off_rows / as_rows["seconds"], 3),
                                           "documents_of_5": round(1 - off_docs / as_docs["seconds"], 3)}
        cases.append(case)
        share = case.get("guard_share_of_wall")
        print(f"documents bench: {model}{' + guards' if guard else ''}: {len(single)} sentences as rows "
              f"{as_rows['rows_per_s']:.0f} rows/s; as {len(documents)} documents of {K}: "
              f"{as_docs['rows_per_s']:.0f} rows/s = {case['documents_sentences_per_s']:.0f} sentences/s; "
              f"sentences/s documents/rows {case['sentences_per_s_ratio']:.2f}"
              + (f"; guards' share of wall time: rows {share['sentence_rows']:.0%}, documents "
                 f"{share['documents_of_5']:.0%}" if share else ""), flush=True)
    seg = segmentation_cost(documents)
    print(f"documents bench: segmentation {seg['chars_per_s'] / 1e6:.1f} M chars/s, "
          f"{seg['us_per_document']:.0f} µs per 5-sentence document", flush=True)
    doc = {"when": now(), "machine": machine(), "batch_rows": BATCH_ROWS, "batches_in_flight": IN_FLIGHT,
           "k": K, "cases": cases, "segmentation": seg}
    write_result("documents", doc)
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=int(os.environ.get("BENCH_DOCUMENT_SENTENCES", 1000)))
    parser.add_argument("--triton-url", default=None)
    args = parser.parse_args(argv)
    run(args.sentences, args.triton_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
