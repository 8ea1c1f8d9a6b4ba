"""`sentinel check-mt` / `python -m tasks.guards.mt`: score a CSV or parquet file of translations made
elsewhere (tasks.guards.mt.check_file.check_mt_file) with settings from the defaults, a JSON file or a
saved MTGuardConfig block."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tasks.guards.mt.check_file import MissingColumnsError, check_mt_file
from tasks.guards.mt.settings import MTGuardSettings


def load_settings(path: str | None = None, block: str | None = None) -> MTGuardSettings:
    """Settings from a JSON file, from a saved MTGuardConfig block, or the defaults."""
    if path and block:
        raise ValueError("give either a settings file or a block name, not both")
    if path:
        return MTGuardSettings.model_validate(json.loads(Path(path).read_text()))
    if block:
        from blocks.guards import MTGuardConfig
        from blocks.loading import load_block

        return load_block(MTGuardConfig, block).to_settings()
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
    parser.add_argument(
        "--triton-url",
        metavar="HOST:PORT",
        help="encode the similarity guard's sentences with the `embed` model of this Triton (gRPC) instead of "
        "in this process (overrides similarity.triton_url of the settings)",
    )
    return parser


def main_check_mt(args: argparse.Namespace) -> int:
    from tasks.inference.client import TritonRequestRejected, TritonUnavailable

    try:
        settings = load_settings(args.settings, args.block)
        if args.threshold is not None:
            settings.combine.threshold = args.threshold
        if getattr(args, "triton_url", None):
            settings.similarity.triton_url = args.triton_url
        summary = check_mt_file(args.input, args.output, settings, detector_columns=args.detector_scores)
    except (MissingColumnsError, FileNotFoundError, ValueError) as exc:
        print(f"check-mt: {exc}")
        return 2
    except (TritonUnavailable, TritonRequestRejected) as exc:
        print(f"check-mt: similarity encoder on Triton: {exc}")
        return 3
    share = summary.flagged / summary.rows if summary.rows else 0.0
    print(
        f"check-mt: {summary.rows} rows, {summary.flagged} flagged ({share:.1%}) -> {summary.output_path} "
        f"in {summary.seconds:.1f}s"
    )
    if summary.languages_not_checked:
        codes = ", ".join(f"{code or 'missing'!r}: {n}" for code, n in list(summary.languages_not_checked.items())[:5])
        print(f"check-mt: warning: {sum(summary.languages_not_checked.values())} rows have a tgt_lang the language "
              f"check does not know ({codes}): their translation's language was not checked")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="check-mt", description="Score machine translations for hallucinations.")
    parser = add_check_mt_arguments(parser)
    return main_check_mt(parser.parse_args(argv))
