"""bench/document_guards.py's helpers: documents from rows, the good-sentence curve, naming."""
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from document_guards import build_documents, consistent_labels, good_sentence_curve, named_share


def rows(n: int) -> pa.Table:
    return pa.table({"src": [f"Satz Nummer {i}." for i in range(n)], "mt": [f"Sentence number {i}." for i in range(n)],
                     "hallucination": [int(i == 3) for i in range(n)]})


def test_documents_are_k_consecutive_shuffled_rows_bad_when_any_row_is():
    docs = build_documents(rows(12), k=5)
    assert len(docs["src"]) == 2 and all(len(r) == 5 for r in docs["rows"])  # the remainder is dropped
    for src, spans, members, label in zip(docs["src"], docs["row_spans"], docs["rows"], docs["label"]):
        assert [src[a:b] for a, b in spans] == [f"Satz Nummer {r}." for r in members]
        assert label == int(3 in members)
    assert build_documents(rows(12), k=5)["rows"] == docs["rows"]  # fixed shuffle


def test_curve_knots_rise_in_score_and_fall_in_share():
    scores = np.linspace(0, 1, 1001)
    curve = good_sentence_curve(scores, np.zeros(1001, int), leak=0.0)
    assert curve[0] == (0.0, 1.0)
    assert all(a[0] < b[0] and a[1] > b[1] for a, b in zip(curve, curve[1:]))
    assert abs(dict((s, x) for x, s in curve)[0.03] - 0.97) < 0.002


def test_named_counts_a_flagged_sentence_overlapping_a_bad_row():
    docs = build_documents(rows(5), k=5)
    bad_position = docs["rows"][0].index(3)
    assert named_share(docs, [True], [[bad_position]]) == 1.0
    assert named_share(docs, [True], [[(bad_position + 1) % 5]]) == 0.0
    assert np.isnan(named_share(docs, [False], [[]]))


def test_only_a_clear_majority_of_one_output_relabels_its_minority():
    mt = ["Same."] * 10 + ["Split."] * 2 + ["Mixed."] * 4
    labels = [1] * 9 + [0] + [1, 0] + [1, 1, 1, 0]
    table = pa.table({"src": [f"Quelle {i}" for i in range(len(mt))], "mt": mt, "hallucination": labels})
    relabelled, changed = consistent_labels(table)
    assert changed == [9]  # 9 of 10 sources say hallucination; 2 rows are too few; 3 of 4 is no clear majority
    assert relabelled.column("hallucination").to_pylist() == [1] * 10 + [1, 0] + [1, 1, 1, 0]
