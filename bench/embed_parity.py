"""Triton's `embed` model against the in-process USE encoder on the labelled dev set.

    python bench/embed_parity.py [--triton-url HOST:PORT] [--data ../shared/data/mt_hallucination_dev.csv]

Encodes every source and translation both ways and reports: the largest absolute difference of
an embedding component, the smallest cosine between a text's two embeddings, the largest
difference of a source/translation cosine, the similarity detector's AUROC and the combined
guard's AUROC (hallucination label) and flagged rows both ways. Writes bench/results/embed_parity.json.
Tolerances the tests hold the model to: vector cosine >= 0.9999, pair cosines within 1e-4.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine, now, write_result

from bench import calibration as cal
from tasks.guards.mt.check_file import read_rows, score_table
from tasks.guards.mt.settings import MTGuardSettings
from tasks.guards.mt.similarity import cosine_similarity, embed

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mt_hallucination_dev.csv"
VECTOR_COSINE_MIN = 0.9999
PAIR_COSINE_TOLERANCE = 1e-4


def parity(triton_url: str, data: Path = DEFAULT_DATA) -> dict:
    with open(data, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    src, mt = [r["src"] for r in rows], [r["mt"] for r in rows]
    labels = np.array([int(r["hallucination"]) for r in rows])
    texts = list(dict.fromkeys(src + mt))
    local, remote = embed(texts), embed(texts, triton_url=triton_url)
    vector_cosine = np.einsum("ij,ij->i", local, remote)
    pair_local, pair_remote = cosine_similarity(src, mt), cosine_similarity(src, mt, triton_url=triton_url)

    table = read_rows(data)
    settings = MTGuardSettings()
    on_triton = settings.model_copy(deep=True)
    on_triton.similarity.triton_url = triton_url
    scored = {name: score_table(table, s, detector_columns=True)
              for name, s in (("in_process", settings), ("triton", on_triton))}

    def column(name: str, key: str) -> np.ndarray:
        return np.array(scored[name].column(key).to_pylist(), dtype=np.float64)

    flagged = {name: np.array(t.column("flagged").to_pylist()) for name, t in scored.items()}
    doc = {
        "when": now(), "machine": machine(), "data": str(data.name), "rows": len(rows), "texts": len(texts),
        "triton_url": triton_url,
        "max_abs_component_difference": float(np.abs(local - remote).max()),
        "min_vector_cosine": float(vector_cosine.min()),
        "max_pair_cosine_difference": float(np.abs(pair_local - pair_remote).max()),
        "tolerance": {"vector_cosine_min": VECTOR_COSINE_MIN, "pair_cosine_difference_max": PAIR_COSINE_TOLERANCE},
        "auroc": {name: {"similarity": cal.auroc(column(name, "similarity_score"), labels),
                         "combined": cal.auroc(column(name, "hallucination_score"), labels)} for name in scored},
        "flagged": {name: int(f.sum()) for name, f in flagged.items()},
        "flagged_rows_differing": int((flagged["in_process"] != flagged["triton"]).sum()),
    }
    doc["within_tolerance"] = bool(doc["min_vector_cosine"] >= VECTOR_COSINE_MIN
                                   and doc["max_pair_cosine_difference"] <= PAIR_COSINE_TOLERANCE)
    return doc


def main(argv: list[str] | None = None) -> int:
    from deployments.stack.config import StackConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triton-url", default=StackConfig().triton_grpc_url)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    doc = parity(args.triton_url, args.data)
    write_result("embed_parity", doc)
    a = doc["auroc"]
    print(f"embed parity: {doc['texts']} texts, max |diff| {doc['max_abs_component_difference']:.2e}, "
          f"min vector cosine {doc['min_vector_cosine']:.7f}, max pair-cosine diff "
          f"{doc['max_pair_cosine_difference']:.2e}; similarity AUROC {a['in_process']['similarity']:.4f} "
          f"in process vs {a['triton']['similarity']:.4f} Triton, combined {a['in_process']['combined']:.4f} "
          f"vs {a['triton']['combined']:.4f}; flagged {doc['flagged']} ({doc['flagged_rows_differing']} differ)")
    return 0 if doc["within_tolerance"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
