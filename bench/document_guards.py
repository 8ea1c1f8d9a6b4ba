"""MT guards on documents: rows of the dev set joined into documents, scored whole (before: one
unit per text, as the guards worked until issue 12) and per sentence (after: check-mt's path,
segment + align + judge, tasks.guards.mt.checker.score_documents). Also fits the good-sentence
curve (CombineSettings.good_sentence_curve) from the dev set's good rows.

    python bench/document_guards.py [--data ../shared/data/mt_hallucination_dev.csv]

Documents: the rows in a fixed shuffled order (seed 0), k consecutive rows joined with a space
(source and translation alike); a document is bad when any of its rows is. Reported per k and
method: AUROC, recall at FPR <= 3 % (threshold picked on those documents), the shipped flag's FPR
and recall, and the share of flagged bad documents whose flagged_sentences include a sentence that
overlaps a truly bad row. Writes bench/results/mt_documents.json and the table in docs/guards.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import calibration as cal  # noqa: E402
from tasks.guards.mt.check_file import read_rows, score_table  # noqa: E402
from tasks.guards.mt.checker import judge_text, score_sentence_groups, score_translations  # noqa: E402
from tasks.guards.mt.settings import MTGuardSettings  # noqa: E402
from tasks.text.segmentation import sentence_spans  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mt_hallucination_dev.csv"
RESULTS = ROOT / "bench" / "results" / "mt_documents.json"
DOC = ROOT / "docs" / "guards.md"
KS = (1, 3, 5, 10)
MAX_FPR = 0.03
CURVE_SHARES = (0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005, 0.003, 0.002, 0.001)
METHODS = ("whole", "sentences", "sentences_fragment_lines", "true_boundaries", "sentences_consistent_labels")
MAJORITY_MIN_ROWS, MAJORITY_MIN_SHARE = 3, 0.9  # see consistent_labels
BEGIN, END = "<!-- BEGIN document_guards: generated, do not edit -->", "<!-- END document_guards -->"
LONG_NS, LONG_GOOD_TEXTS, LONG_MIXED_TEXTS = (10, 20, 40, 100), 2000, 300  # long_texts


def good_sentence_curve(scores: np.ndarray, labels: np.ndarray, leak: float) -> list[tuple[float, float]]:
    """(score, share of good rows scoring >= score) knots at CURVE_SHARES, scores strictly rising."""
    good = np.sort(np.asarray(scores)[np.asarray(labels) == 0])[::-1]
    knots = [(round(float(leak), 4), 1.0)]
    for share in CURVE_SHARES:
        value = round(float(good[min(int(np.floor(share * len(good))), len(good) - 1)]), 4)
        if value > knots[-1][0]:
            knots.append((value, share))
    return knots


FINAL = tuple(".!?:;…\"'“”»«)")


def build_documents(table: pa.Table, k: int, seed: int = 0, fragment_lines: bool = False) -> dict:
    """Documents of k consecutive rows of a fixed shuffle: texts, labels, and each row's source span.
    Rows are joined with a space; with `fragment_lines`, a row whose source does not end like a
    sentence (a title, a fragment) ends its line instead, as it would stand in a real document."""
    order = np.random.default_rng(seed).permutation(table.num_rows)
    order = order[: len(order) // k * k].reshape(-1, k)
    src, mt, y = (table.column(c).to_pylist() for c in ("src", "mt", "hallucination"))
    docs = {"src": [], "mt": [], "label": [], "row_spans": [], "row_bad": [], "rows": order.tolist()}
    for rows in order:
        spans, pos = [], 0
        joins = ["\n" if fragment_lines and not src[r].rstrip().endswith(FINAL) else " " for r in rows[:-1]]
        for r in rows:
            spans.append((pos, pos + len(src[r])))
            pos += len(src[r]) + 1
        docs["src"].append("".join(src[r] + j for r, j in zip(rows, [*joins, ""])))
        docs["mt"].append("".join(mt[r] + j for r, j in zip(rows, [*joins, ""])))
        docs["label"].append(int(max(y[r] for r in rows)))
        docs["row_spans"].append(spans)
        docs["row_bad"].append([int(y[r]) for r in rows])
    return docs


def consistent_labels(table: pa.Table) -> tuple[pa.Table, list[int]]:
    """The dev set with its self-contradicting labels made consistent: a translation that appears
    for at least MAJORITY_MIN_ROWS different sources with one label on at least MAJORITY_MIN_SHARE of
    them gets that label on the rest too ("The staff were very friendly and helpful." is a
    hallucination for 20 of its 21 sources). Only for the diagnostic row of the table: nothing is
    fitted on these labels. Returns the relabelled table and the rows changed."""
    mt, y = table.column("mt").to_pylist(), table.column("hallucination").to_pylist()
    by_output: dict[str, list[int]] = {}
    for i, text in enumerate(mt):
        by_output.setdefault(text.strip(), []).append(i)
    labels, changed = list(y), []
    for rows in by_output.values():
        if len(rows) < MAJORITY_MIN_ROWS:
            continue
        bad = sum(y[r] for r in rows) / len(rows)
        majority = 1 if bad >= MAJORITY_MIN_SHARE else 0 if bad <= 1 - MAJORITY_MIN_SHARE else None
        for r in rows:
            if majority is not None and y[r] != majority:
                labels[r] = majority
                changed.append(r)
    column = table.schema.get_field_index("hallucination")
    return table.set_column(column, "hallucination", pa.array(labels, table.column("hallucination").type)), changed


def named_share(docs: dict, flagged: list[bool], flagged_sentences: list[list[int]]) -> float:
    """Of the flagged bad documents, the share whose flagged sentences overlap a truly bad row."""
    hits = total = 0
    for d, (is_flagged, named) in enumerate(zip(flagged, flagged_sentences)):
        if not (is_flagged and docs["label"][d]):
            continue
        total += 1
        spans = sentence_spans(docs["src"][d], "de")
        bad_rows = [s for s, bad in zip(docs["row_spans"][d], docs["row_bad"][d]) if bad]
        hits += any(a < e and s < b for i in named if i < len(spans) for a, b in [spans[i]] for s, e in bad_rows)
    return hits / total if total else float("nan")


def evaluate(table: pa.Table, settings: MTGuardSettings, consistent: pa.Table) -> dict:
    """Per k and method; `consistent`: the same rows with consistent_labels, for the diagnostic row."""
    out = {}
    for k in KS:
        docs = build_documents(table, k)
        relabelled = build_documents(consistent, k)  # the same documents, the consistent labels
        rows = pa.table({"src": docs["src"], "mt": docs["mt"], "src_lang": ["de"] * len(docs["src"]),
                         "tgt_lang": ["en"] * len(docs["src"])})
        y = np.array(docs["label"])
        per_k = {"documents": len(y), "bad": int(y.sum())}
        for method, segment in (("whole", False), ("sentences", True)):
            started = time.perf_counter()
            scored = score_table(rows, settings, detector_columns=False, segment=segment)
            seconds = time.perf_counter() - started
            score = np.array(scored.column("hallucination_score").to_pylist())
            flagged = scored.column("flagged").to_pylist()
            recall, fpr = cal.rates_at(np.array(flagged, dtype=float), y, 0.5)
            per_k[method] = {
                "auroc": cal.auroc(score, y), "recall_at_fpr": cal.recall_at_fpr(score, y, MAX_FPR),
                "flag_recall": recall, "flag_fpr": fpr, "seconds": round(seconds, 2),
                "named": named_share(docs, flagged, scored.column("flagged_sentences").to_pylist()) if segment
                else None,
            }
            if segment:  # the shipped path's scores against the consistent labels
                y_consistent = np.array(relabelled["label"])
                recall_c, fpr_c = cal.rates_at(np.array(flagged, dtype=float), y_consistent, 0.5)
                per_k["sentences_consistent_labels"] = {
                    "auroc": cal.auroc(score, y_consistent),
                    "recall_at_fpr": cal.recall_at_fpr(score, y_consistent, MAX_FPR),
                    "flag_recall": recall_c, "flag_fpr": fpr_c,
                    "named": named_share(relabelled, flagged, scored.column("flagged_sentences").to_pylist()),
                    "bad": int(y_consistent.sum()),
                }
        # the shipped path on the same documents with titles and fragments on their own lines
        lines = build_documents(table, k, fragment_lines=True)
        scored = score_table(pa.table({"src": lines["src"], "mt": lines["mt"], "src_lang": ["de"] * len(y),
                                       "tgt_lang": ["en"] * len(y)}), settings, detector_columns=False)
        score = np.array(scored.column("hallucination_score").to_pylist())
        flagged = scored.column("flagged").to_pylist()
        recall, fpr = cal.rates_at(np.array(flagged, dtype=float), y, 0.5)
        per_k["sentences_fragment_lines"] = {
            "auroc": cal.auroc(score, y), "recall_at_fpr": cal.recall_at_fpr(score, y, MAX_FPR),
            "flag_recall": recall, "flag_fpr": fpr,
            "named": named_share(lines, flagged, scored.column("flagged_sentences").to_pylist()),
        }
        # the same judgement with the true sentence boundaries (each row one unit): what segmentation costs
        src, mt = table.column("src").to_pylist(), table.column("mt").to_pylist()
        units = [r for rows_of_doc in docs["rows"] for r in rows_of_doc]
        group = [d for d, rows_of_doc in enumerate(docs["rows"]) for _ in rows_of_doc]
        verdicts = score_sentence_groups([src[r] for r in units], [mt[r] for r in units], ["de"] * len(units),
                                         ["en"] * len(units), None, group, len(y), settings)
        score = np.array([v.hallucination_score for v in verdicts])
        flagged = [v.flagged for v in verdicts]
        recall, fpr = cal.rates_at(np.array(flagged, dtype=float), y, 0.5)
        hits = [any(docs["row_bad"][d][i] for i in v.flagged_sentences) for d, v in enumerate(verdicts)
                if v.flagged and y[d]]
        per_k["true_boundaries"] = {
            "auroc": cal.auroc(score, y), "recall_at_fpr": cal.recall_at_fpr(score, y, MAX_FPR),
            "flag_recall": recall, "flag_fpr": fpr, "named": float(np.mean(hits)) if hits else float("nan"),
        }
        out[str(k)] = per_k
        print(f"k={k}: " + " | ".join(
            f"{m}: AUROC {per_k[m]['auroc']:.3f} rec@3% {per_k[m]['recall_at_fpr']:.3f} "
            f"flag FPR {per_k[m]['flag_fpr']:.3f} flag recall {per_k[m]['flag_recall']:.3f}"
            + (f" named {per_k[m]['named']:.3f}" if per_k[m]["named"] is not None else "")
            for m in METHODS), flush=True)
    return out


def long_texts(table: pa.Table, settings: MTGuardSettings, seed: int = 1) -> dict:
    """Texts longer than the dev documents, drawn from the dev rows (true boundaries): per length n,
    LONG_GOOD_TEXTS of good rows only (the flag's FPR) and LONG_MIXED_TEXTS with a quarter and with half
    of their rows hallucinations (flag recall, share of the bad sentences named), judged by the worst
    sentence alone (several_flagged_share 0) and with the count test (combine.several_flagged)."""
    src, mt, y = (table.column(c).to_pylist() for c in ("src", "mt", "hallucination"))
    y = np.array(y)
    results = score_translations(src, mt, ["de"] * len(src), ["en"] * len(src), None, settings)
    worst_only = settings.model_copy(deep=True)
    worst_only.combine.several_flagged_share = 0.0
    rng = np.random.default_rng(seed)
    good, bad = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    out = {}
    for n in LONG_NS:
        texts = [("good", [rng.choice(good, n) for _ in range(LONG_GOOD_TEXTS)])]
        for name, n_bad in (("quarter_bad", max(1, n // 4)), ("half_bad", n // 2)):
            texts.append((name, [rng.permutation(np.concatenate([rng.choice(bad, n_bad), rng.choice(good, n - n_bad)]))
                                 for _ in range(LONG_MIXED_TEXTS)]))
        per_n = {}
        for name, draws in texts:
            for method, s in (("worst_sentence", worst_only), ("count_test", settings)):
                verdicts = [judge_text([results[r] for r in rows], s) for rows in draws]
                named = [np.mean([bool(y[rows[i]]) for i in v.flagged_sentences]) if v.flagged_sentences else 0.0
                         for rows, v in zip(draws, verdicts)]
                bad_named = [sum(bool(y[rows[i]]) for i in v.flagged_sentences) / max(1, int(y[rows].sum()))
                             for rows, v in zip(draws, verdicts)]
                per_n.setdefault(name, {})[method] = {
                    "flagged": float(np.mean([v.flagged for v in verdicts])),
                    "bad_sentences_named": float(np.mean(bad_named)) if name != "good" else None,
                    "named_that_are_bad": float(np.mean(named)) if name != "good" else None}
        out[str(n)] = per_n
        print(f"long n={n}: " + " | ".join(f"{name} {m}: {v['flagged']:.3f}" for name, d in per_n.items()
                                            for m, v in d.items()), flush=True)
    return out


def render_long(long: dict) -> list[str]:
    pct = lambda x: "–" if x is None else f"{100 * x:.1f} %"  # noqa: E731
    lines = ["", f"Longer texts drawn from the dev rows (true boundaries; seed 1): per length, {LONG_GOOD_TEXTS} texts "
             f"of good rows (flagged = the flag's FPR) and {LONG_MIXED_TEXTS} with a quarter / half of their rows "
             "hallucinations (flagged = recall; *bad named*: share of the hallucinated sentences in "
             "flagged_sentences), judged by the worst sentence alone and with the count test.", "",
             "| sentences | texts | judged by | flagged | bad sentences named |", "|---|---|---|---|---|"]
    for n, per_n in long.items():
        for name, methods in per_n.items():
            for method, v in methods.items():
                lines.append(f"| {n} | {name.replace('_', ' ')} | {method.replace('_', ' ')} | {pct(v['flagged'])} "
                             f"| {pct(v['bad_sentences_named'])} |")
    return lines


def render(results: dict) -> str:
    pct = lambda x: "–" if x is None or x != x else f"{100 * x:.1f} %"  # noqa: E731
    lines = [
        f"Generated by `bench/document_guards.py` on {results['generated']} from `{results['data']}`; "
        f"documents of k consecutive rows after a fixed shuffle (seed 0), bad when any row is. "
        f"*whole*: the text scored as one unit (before); *sentences*: segmented, aligned, every sentence "
        f"scored, the row judged by its worst sentence mapped for its sentence count and by the count test (after, the shipped path); "
        f"*sentences_fragment_lines*: the same, on the same documents with each row that does not end like a "
        f"sentence (a title, a fragment) ending its line, as it would in a real document; "
        f"*true_boundaries*: the same judgement with each dev row as one sentence (no segmentation or alignment "
        f"error: what the segmenter costs); *sentences_consistent_labels*: the *sentences* scores against the "
        f"dev set's labels made consistent (a translation given for ≥ {MAJORITY_MIN_ROWS} sources with one label on "
        f"≥ {MAJORITY_MIN_SHARE:.0%} of them gets it on the rest: {results.get('relabelled_rows', '?')} rows; "
        f"a diagnostic of what the labels' own contradictions cost, nothing is fitted on them).",
        "",
        f"| k | documents (bad) | method | AUROC | recall @ FPR ≤ {pct(MAX_FPR)} | flag FPR | flag recall "
        "| flagged bad docs naming a bad sentence |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k, r in results["documents"].items():
        for method in METHODS:
            m = r[method]
            lines.append(f"| {k} | {r['documents']} ({m.get('bad', r['bad'])}) | {method} | {m['auroc']:.3f} "
                         f"| {pct(m['recall_at_fpr'])} | {pct(m['flag_fpr'])} | {pct(m['flag_recall'])} "
                         f"| {pct(m['named'])} |")
    if "long_texts" in results:
        lines += render_long(results["long_texts"])
    lines += ["", f"Good-sentence curve fitted on the dev set's good rows (score, share ≥ score): "
              f"`{results['good_sentence_curve']}`."]
    return "\n".join(lines)


def write_doc(results: dict) -> None:
    block = f"{BEGIN}\n{render(results)}\n{END}"
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(head + block + rest.split(END, 1)[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/guards.md and bench/results/mt_documents.json alone")
    args = parser.parse_args(argv)
    table = read_rows(args.data)
    settings = MTGuardSettings()
    rows = score_table(table, settings, detector_columns=False, segment=False)
    curve = good_sentence_curve(np.array(rows.column("hallucination_score").to_pylist()),
                                np.array(table.column("hallucination").to_pylist()), settings.combine.leak)
    consistent, relabelled_rows = consistent_labels(table)
    results = {"generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "data": Path(args.data).name,
               "good_sentence_curve": curve, "shipped_curve": settings.combine.good_sentence_curve,
               "documents": evaluate(table, settings, consistent), "relabelled_rows": len(relabelled_rows),
               "long_texts": long_texts(table, settings)}
    if not args.no_doc:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        write_doc(results)
    print(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
