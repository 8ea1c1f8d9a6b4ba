"""Calibrate the MT hallucination guards on a labelled dev set.

    python bench/calibrate_mt_guards.py [--data ../shared/data/mt_hallucination_dev.csv]

Computes each detector's AUROC and recall at FPR <= 3 % alone, fits the noisy-OR combination
(weights, leak, similarity curve) and its threshold, estimates the combination honestly with
repeated stratified cross-validation (everything fitted on the training folds only), times
3,000 rows, writes bench/results/mt_guards.json and regenerates the tables in docs/guards.md.
The fitted values are printed as MTGuardSettings defaults to copy into tasks/guards/mt/settings.py.
Then bench/document_guards.py: the good-sentence curve (combine.good_sentence_curve, printed) and
the dev-set documents table (k = 1, 3, 5, 10; whole texts vs per sentence); --no-documents skips it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench import calibration as cal  # noqa: E402
from tasks.guards.mt.base import TranslationBatch  # noqa: E402
from tasks.guards.mt.check_file import read_rows, score_table  # noqa: E402
from tasks.guards.mt.checker import DETECTOR_NAMES, run_detectors  # noqa: E402
from tasks.guards.mt.settings import PRIOR_WEIGHTS, MTGuardSettings  # noqa: E402
from tasks.guards.mt.similarity import cosine_similarity, sentence_encoder  # noqa: E402
from tasks.guards.scores import logistic  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mt_hallucination_dev.csv"
RESULTS = ROOT / "bench" / "results" / "mt_guards.json"
DOC = ROOT / "docs" / "guards.md"
MAX_FPR = 0.03
FOLDS, REPEATS = 5, 5
PRIOR_STRENGTH = 1.0
MIDPOINTS = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
WIDTHS = (0.04, 0.06, 0.09)
BEGIN, END = "<!-- BEGIN calibrate_mt_guards: generated, do not edit -->", "<!-- END calibrate_mt_guards -->"


def detector_matrix(batch: TranslationBatch, settings: MTGuardSettings) -> tuple[np.ndarray, np.ndarray]:
    """(scores of every detector but similarity with default settings, raw source/translation cosine)."""
    no_similarity = settings.model_copy(deep=True)
    no_similarity.similarity.enabled = False
    results = {r.name: r.scores for r in run_detectors(batch, no_similarity)}
    cosine = cosine_similarity(batch.src, batch.mt, settings.similarity.threads)
    others = np.column_stack([results[name] for name in DETECTOR_NAMES if name != "similarity"])
    return others, cosine


def with_similarity(others: np.ndarray, cosine: np.ndarray, midpoint: float, width: float) -> np.ndarray:
    similarity = logistic(-cosine, -midpoint, width)
    return np.column_stack([similarity, others])  # DETECTOR_NAMES order: similarity first


def fit_combination(others, cosine, y) -> dict:
    """Grid over the similarity curve; per point a MAP noisy-OR fit; keep the best training likelihood."""
    prior = np.array([PRIOR_WEIGHTS[name] for name in DETECTOR_NAMES])
    best = None
    for midpoint in MIDPOINTS:
        for width in WIDTHS:
            scores = with_similarity(others, cosine, midpoint, width)
            fit = cal.fit_noisy_or(scores, y, prior, PRIOR_STRENGTH)
            p = np.clip(cal.noisy_or_predict(scores, fit), 1e-9, 1 - 1e-9)
            nll = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
            if best is None or nll < best["nll"]:
                best = {
                    "nll": nll,
                    "midpoint": midpoint,
                    "width": width,
                    "fit": fit,
                    "threshold": cal.threshold_at_fpr(cal.noisy_or_predict(scores, fit), y, MAX_FPR),
                }
    return best


def predict(model: dict, others, cosine) -> np.ndarray:
    return cal.noisy_or_predict(with_similarity(others, cosine, model["midpoint"], model["width"]), model["fit"])


def cross_validate(others, cosine, y) -> dict:
    """Out-of-fold figures; thresholds are chosen on the training folds, as in production."""
    aurocs, recalls, fprs, oof_recalls, lr_aurocs, lr_recalls = [], [], [], [], [], []
    for repeat in range(REPEATS):
        folds = cal.stratified_folds(y, FOLDS, seed=repeat)
        oof, flagged, lr_oof = np.zeros(len(y)), np.zeros(len(y), bool), np.zeros(len(y))
        for k in range(FOLDS):
            train, test = folds != k, folds == k
            model = fit_combination(others[train], cosine[train], y[train])
            oof[test] = predict(model, others[test], cosine[test])
            flagged[test] = oof[test] >= model["threshold"]
            features = np.column_stack([cosine, np.nan_to_num(others)])
            lr_oof[test] = cal.logistic_predict(features[test], cal.fit_logistic(features[train], y[train]))
        aurocs.append(cal.auroc(oof, y))
        recalls.append(flagged[y == 1].mean())
        fprs.append(flagged[y == 0].mean())
        oof_recalls.append(cal.recall_at_fpr(oof, y, MAX_FPR))
        lr_aurocs.append(cal.auroc(lr_oof, y))
        lr_recalls.append(cal.recall_at_fpr(lr_oof, y, MAX_FPR))
    summary = lambda xs: {"mean": float(np.mean(xs)), "sd": float(np.std(xs))}  # noqa: E731
    return {
        "folds": FOLDS,
        "repeats": REPEATS,
        "auroc": summary(aurocs),
        "recall_at_train_threshold": summary(recalls),
        "fpr_at_train_threshold": summary(fprs),
        "recall_at_fpr_oof": summary(oof_recalls),
        "logistic_regression_baseline": {"auroc": summary(lr_aurocs), "recall_at_fpr_oof": summary(lr_recalls)},
    }


def detector_table(scores: np.ndarray, labels: dict[str, np.ndarray]) -> list[dict]:
    rows = []
    for j, name in enumerate(DETECTOR_NAMES):
        column = scores[:, j]
        applicable = np.isfinite(column)
        row = {
            "detector": name,
            "auroc": cal.auroc(column, labels["hallucination"]),
            "recall_at_fpr": cal.recall_at_fpr(column, labels["hallucination"], MAX_FPR),
            "rows_scored": int(applicable.sum()),
            "fires_on_hallucinations": int((np.nan_to_num(column) >= 0.5)[labels["hallucination"] == 1].sum()),
            "fires_on_others": int((np.nan_to_num(column) >= 0.5)[labels["hallucination"] == 0].sum()),
        }
        for sub in ("repetitions", "detached"):
            row[f"auroc_{sub}"] = cal.auroc(column, labels[sub])
        rows.append(row)
    return rows


def time_rows(table, n_rows: int = 3000) -> dict:
    """Scoring time for n_rows distinct rows (dev rows with a suffix, so nothing is deduplicated)."""
    import pyarrow as pa

    reps = -(-n_rows // table.num_rows)
    src = [f"{s} ({k})" for k in range(reps) for s in table.column("src").to_pylist()][:n_rows]
    mt = [f"{m} ({k})" for k in range(reps) for m in table.column("mt").to_pylist()][:n_rows]
    rows = pa.table({"src": src, "mt": mt, "src_lang": ["de"] * n_rows, "tgt_lang": ["en"] * n_rows})
    sentence_encoder.cache_clear()
    started = time.perf_counter()
    sentence_encoder(MTGuardSettings().similarity.threads).encode(["warm up"])
    load = time.perf_counter() - started
    started = time.perf_counter()
    score_table(rows)
    return {"rows": n_rows, "encoder_load_s": round(load, 2), "score_s": round(time.perf_counter() - started, 2)}


def settings_snippet(model: dict) -> str:
    lines = [f"similarity.midpoint = {model['midpoint']}", f"similarity.width = {model['width']}"]
    lines += [f"{name}.weight = {w:.2f}" for name, w in zip(DETECTOR_NAMES, model["fit"].weights)]
    lines += [
        f"combine.leak = {model['fit'].leak:.3f}",
        f"combine.threshold = {np.ceil(model['threshold'] * 1000) / 1000:.3f}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--no-documents", action="store_true", help="skip bench/document_guards.py")
    args = parser.parse_args(argv)

    table = read_rows(args.data)
    settings = MTGuardSettings()
    batch = TranslationBatch.build(*(table.column(c).to_pylist() for c in ("src", "mt", "src_lang", "tgt_lang")))
    column = lambda name: np.array(table.column(name).to_pylist(), dtype=int)  # noqa: E731
    labels = {
        "hallucination": column("hallucination"),
        "repetitions": column("repetitions"),
        "detached": np.maximum(column("strong-unsupport"), column("full-unsupport")),
    }
    y = labels["hallucination"]
    others, cosine = detector_matrix(batch, settings)
    default_scores = with_similarity(others, cosine, settings.similarity.midpoint, settings.similarity.width)

    model = fit_combination(others, cosine, y)
    fitted = predict(model, others, cosine)
    shipped = cal.noisy_or_predict(
        default_scores,
        cal.NoisyOrFit(np.array([settings.detector_settings(n).weight for n in DETECTOR_NAMES]), settings.combine.leak),
    )
    shipped_recall, shipped_fpr = cal.rates_at(shipped, y, settings.combine.threshold)
    results = {
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "path": Path(args.data).name,
            "sha256": hashlib.sha256(Path(args.data).read_bytes()).hexdigest(),
            "rows": int(len(y)),
            "hallucinations": int(y.sum()),
        },
        "max_fpr": MAX_FPR,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "detectors": detector_table(default_scores, labels),
        "combined_in_sample": {"auroc": cal.auroc(fitted, y), "recall_at_fpr": cal.recall_at_fpr(fitted, y, MAX_FPR)},
        "combined_shipped_defaults": {
            "auroc": cal.auroc(shipped, y),
            "recall": shipped_recall,
            "fpr": shipped_fpr,
            "threshold": settings.combine.threshold,
        },
        "combined_cv": cross_validate(others, cosine, y),
        "fitted": {
            "similarity_midpoint": model["midpoint"],
            "similarity_width": model["width"],
            "weights": dict(zip(DETECTOR_NAMES, map(float, model["fit"].weights))),
            "leak": model["fit"].leak,
            "threshold": model["threshold"],
            "prior_weights": PRIOR_WEIGHTS,
            "prior_strength": PRIOR_STRENGTH,
        },
    }
    if not args.no_timing:
        results["timing"] = time_rows(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    write_doc(results)
    print(render_tables(results))
    print("\nfitted MTGuardSettings defaults (copy into tasks/guards/mt/settings.py):\n" + settings_snippet(model))
    if not args.no_documents:
        import document_guards

        document_guards.main(["--data", args.data])
        curve = json.loads(document_guards.RESULTS.read_text())["good_sentence_curve"]
        print(f"combine.good_sentence_curve = {[tuple(knot) for knot in curve]}")
    return 0


def render_tables(r: dict) -> str:
    pct = lambda x: f"{100 * x:.1f} %"  # noqa: E731
    cv = r["combined_cv"]
    lines = [
        f"Generated by `bench/calibrate_mt_guards.py` on {r['generated']} from `{r['data']['path']}` "
        f"({r['data']['rows']} rows, {r['data']['hallucinations']} hallucinations; sha256 {r['data']['sha256'][:12]}).",
        "",
        f"| detector | AUROC | recall @ FPR ≤ {pct(r['max_fpr'])} | AUROC: oscillation | AUROC: detached "
        "| rows scored | fires (≥ 0.5) on hallucinations / others |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in r["detectors"]:
        fires = f"{d['fires_on_hallucinations']} / {d['fires_on_others']}"
        lines.append(
            f"| {d['detector']} | {d['auroc']:.3f} | {pct(d['recall_at_fpr'])} | {d['auroc_repetitions']:.3f} "
            f"| {d['auroc_detached']:.3f} | {d['rows_scored']} | {fires} |"
        )
    lines.append(
        f"| **combined, in-sample** (fitted on all rows) | {r['combined_in_sample']['auroc']:.3f} "
        f"| {pct(r['combined_in_sample']['recall_at_fpr'])} | | | | |"
    )
    spread = lambda m: f"{pct(m['mean'])} ± {pct(m['sd'])}"  # noqa: E731
    lines.append(
        f"| **combined, {cv['repeats']}× {cv['folds']}-fold CV** (out-of-fold) "
        f"| {cv['auroc']['mean']:.3f} ± {cv['auroc']['sd']:.3f} | {spread(cv['recall_at_fpr_oof'])} | | | | |"
    )
    shipped, baseline = r["combined_shipped_defaults"], cv["logistic_regression_baseline"]
    lines += [
        "",
        f"Operating point, CV: the threshold chosen on the training folds flags "
        f"{spread(cv['recall_at_train_threshold'])} of held-out hallucinations "
        f"at a held-out FPR of {spread(cv['fpr_at_train_threshold'])}. "
        f"Shipped defaults (threshold {shipped['threshold']}) on this file: recall {pct(shipped['recall'])}, "
        f"FPR {pct(shipped['fpr'])}, AUROC {shipped['auroc']:.3f}.",
        f"Baseline, logistic regression on the same features (CV): AUROC {baseline['auroc']['mean']:.3f}, "
        f"recall @ FPR ≤ {pct(r['max_fpr'])} {pct(baseline['recall_at_fpr_oof']['mean'])}.",
    ]
    if "timing" in r:
        t = r["timing"]
        lines.append(
            f"Speed ({r['machine']}): {t['rows']} distinct rows scored in {t['score_s']} s "
            f"(+ {t['encoder_load_s']} s one-off encoder load)."
        )
    return "\n".join(lines)


def write_doc(results: dict) -> None:
    block = f"{BEGIN}\n{render_tables(results)}\n{END}"
    text = DOC.read_text() if DOC.exists() else f"# Guards\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(head + block + rest.split(END, 1)[1])


if __name__ == "__main__":
    raise SystemExit(main())
