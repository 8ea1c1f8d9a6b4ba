"""Score machine translations for hallucinations: lists, Arrow tables, files, and `sentinel check-mt`.

score_translations(src, mt, src_lang, tgt_lang, logprob, settings) -> list[GuardResult]
score_table(table, settings) -> table + hallucination_score, flagged, reasons (+ <detector>_score)
check_mt_file(input_path, output_path, settings) -> CheckSummary
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasks.checks.base import Detector, DetectorResult, TranslationBatch
from tasks.checks.combine import combine
from tasks.checks.copy_source import CopySourceDetector
from tasks.checks.entities import EntityDetector
from tasks.checks.language import LanguageDetector
from tasks.checks.length import LengthRatioDetector
from tasks.checks.logprob import LogprobDetector
from tasks.checks.numbers import NumberDetector
from tasks.checks.repetition import RepetitionDetector
from tasks.checks.settings import MTGuardSettings
from tasks.checks.similarity import SimilarityDetector

DETECTORS: tuple[type[Detector], ...] = (
    SimilarityDetector,
    LanguageDetector,
    CopySourceDetector,
    RepetitionDetector,
    LengthRatioDetector,
    NumberDetector,
    EntityDetector,
    LogprobDetector,
)
DETECTOR_NAMES = tuple(d.name for d in DETECTORS)
REQUIRED_COLUMNS = ("src", "mt", "src_lang", "tgt_lang")
OUTPUT_COLUMNS = ("hallucination_score", "flagged", "reasons")


@dataclass(frozen=True)
class GuardResult:
    hallucination_score: float
    flagged: bool
    reasons: list[str]
    detector_scores: dict[str, float]  # NaN where a detector does not apply (or is disabled)


@dataclass(frozen=True)
class CheckSummary:
    input_path: str
    output_path: str
    rows: int
    flagged: int
    seconds: float


class MissingColumnsError(ValueError):
    pass


def build_detectors(settings: MTGuardSettings) -> list[Detector]:
    return [
        cls(settings.detector_settings(cls.name)) for cls in DETECTORS if settings.detector_settings(cls.name).enabled
    ]


def run_detectors(batch: TranslationBatch, settings: MTGuardSettings) -> list[DetectorResult]:
    return [detector.score(batch) for detector in build_detectors(settings)]


def detector_weights(settings: MTGuardSettings) -> dict[str, float]:
    return {name: settings.detector_settings(name).weight for name in DETECTOR_NAMES}


def guard_batch(batch: TranslationBatch, settings: MTGuardSettings):
    """(detector results, hallucination_score, flagged, reasons). An empty translation of a
    non-empty source is always flagged when `combine.flag_empty_translation`."""
    results = run_detectors(batch, settings)
    hallucination, flagged, reasons = combine(results, detector_weights(settings), settings.combine, len(batch))
    if settings.combine.flag_empty_translation:
        for i, (src, mt) in enumerate(zip(batch.src, batch.mt)):
            if src.strip() and not mt.strip():
                flagged[i] = True
                reasons[i].insert(0, "empty translation")
    return results, hallucination, flagged, reasons


def score_translations(
    src: Sequence[str],
    mt: Sequence[str],
    src_lang: Sequence[str],
    tgt_lang: Sequence[str],
    logprob: Sequence[float | None] | None = None,
    settings: MTGuardSettings | None = None,
) -> list[GuardResult]:
    """One GuardResult per row (all detectors run batched over the whole list)."""
    settings = settings or MTGuardSettings()
    batch = TranslationBatch.build(src, mt, src_lang, tgt_lang, logprob)
    results, hallucination, flagged, reasons = guard_batch(batch, settings)
    per_detector = _detector_columns(results, len(batch))
    return [
        GuardResult(
            float(hallucination[i]),
            bool(flagged[i]),
            reasons[i],
            {name: float(values[i]) for name, values in per_detector.items()},
        )
        for i in range(len(batch))
    ]


def _detector_columns(results: list[DetectorResult], n: int) -> dict[str, np.ndarray]:
    by_name = {r.name: r.scores for r in results}
    return {name: by_name.get(name, np.full(n, np.nan)) for name in DETECTOR_NAMES}


def require_columns(table: pa.Table, source: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise MissingColumnsError(
            f"{source}: missing required column(s) {', '.join(map(repr, missing))} "
            f"(need {', '.join(REQUIRED_COLUMNS)}, optional logprob; found {', '.join(table.column_names) or 'none'})"
        )


def _strings(table: pa.Table, name: str) -> list[str]:
    return pc.cast(table.column(name), pa.string()).to_pylist()


def score_table(
    table: pa.Table, settings: MTGuardSettings | None = None, detector_columns: bool = True, source: str = "table"
) -> pa.Table:
    """The input table, every column unchanged, plus hallucination_score, flagged, reasons and
    (detector_columns) one `<detector>_score` column per detector. Existing output columns are replaced."""
    require_columns(table, source)
    settings = settings or MTGuardSettings()
    logprob = pc.cast(table.column("logprob"), pa.float64()).to_pylist() if "logprob" in table.column_names else None
    batch = TranslationBatch.build(*(_strings(table, c) for c in REQUIRED_COLUMNS), logprob)
    results, hallucination, flagged, reasons = guard_batch(batch, settings)
    added = {
        "hallucination_score": pa.array(hallucination, pa.float64()),
        "flagged": pa.array(flagged, pa.bool_()),
        "reasons": pa.array(reasons, pa.list_(pa.string())),
    }
    if detector_columns:
        for name, values in _detector_columns(results, len(batch)).items():
            added[f"{name}_score"] = pa.array(values, pa.float64(), mask=np.isnan(values))
    out = table.drop_columns([c for c in added if c in table.column_names])
    for name, column in added.items():
        out = out.append_column(name, column)
    return out


def read_rows(path: str | Path) -> pa.Table:
    """CSV (text columns kept as strings, others type-inferred) or parquet."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() in {".csv", ".tsv"}:
        from pyarrow import csv

        text_types = {name: pa.string() for name in REQUIRED_COLUMNS}
        return csv.read_csv(
            path,
            parse_options=csv.ParseOptions(delimiter="\t" if path.suffix.lower() == ".tsv" else ","),
            convert_options=csv.ConvertOptions(column_types=text_types),
        )
    import pyarrow.parquet as pq

    return pq.read_table(path)


def check_mt_file(
    input_path: str | Path,
    output_path: str | Path,
    settings: MTGuardSettings | None = None,
    detector_columns: bool = False,
) -> CheckSummary:
    """Read CSV/parquet rows (src, mt, src_lang, tgt_lang[, logprob]); write them with the guard columns as parquet."""
    import pyarrow.parquet as pq

    started = time.perf_counter()
    table = read_rows(input_path)
    scored = score_table(table, settings, detector_columns=detector_columns, source=str(input_path))
    Path(output_path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(scored, output_path)
    flagged = int(pc.sum(scored.column("flagged")).as_py() or 0)
    return CheckSummary(str(input_path), str(output_path), scored.num_rows, flagged, time.perf_counter() - started)


def load_settings(path: str | None = None, block: str | None = None) -> MTGuardSettings:
    """Settings from a JSON file, from a saved MTGuardConfig block, or the defaults."""
    if path and block:
        raise ValueError("give either a settings file or a block name, not both")
    if path:
        return MTGuardSettings.model_validate(json.loads(Path(path).read_text()))
    if block:
        from blocks.guards import MTGuardConfig

        return MTGuardConfig.load(block).to_settings()
    return MTGuardSettings()


def add_check_mt_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of `sentinel check-mt`; the caller sets func=main_check_mt."""
    parser.add_argument("--input", required=True, help="CSV or parquet with src, mt, src_lang, tgt_lang [, logprob]")
    parser.add_argument(
        "--output", required=True, help="parquet to write: the input rows + hallucination_score, flagged, reasons"
    )
    parser.add_argument("--settings", help="JSON file with MTGuardSettings (default: built-in calibrated defaults)")
    parser.add_argument("--block", help="name of a saved MTGuardConfig Prefect block to take the settings from")
    parser.add_argument("--threshold", type=float, help="override the flagging threshold on hallucination_score")
    parser.add_argument(
        "--detector-scores", action="store_true", help="also write one <detector>_score column per detector"
    )
    return parser


def main_check_mt(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.settings, args.block)
        if args.threshold is not None:
            settings.combine.threshold = args.threshold
        summary = check_mt_file(args.input, args.output, settings, detector_columns=args.detector_scores)
    except (MissingColumnsError, FileNotFoundError, ValueError) as exc:
        print(f"check-mt: {exc}")
        return 2
    share = summary.flagged / summary.rows if summary.rows else 0.0
    print(
        f"check-mt: {summary.rows} rows, {summary.flagged} flagged ({share:.1%}) -> {summary.output_path} "
        f"in {summary.seconds:.1f}s"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = add_check_mt_arguments(argparse.ArgumentParser(prog="check-mt", description=__doc__.splitlines()[0]))
    return main_check_mt(parser.parse_args(argv))
