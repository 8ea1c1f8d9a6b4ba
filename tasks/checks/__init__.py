"""Hallucination guards for machine translation: one module per detector family, a noisy-OR
combiner (`combine`), and `mt_checker` with the plain functions the pipeline and CLI call."""

from tasks.checks.mt_checker import (
    DETECTOR_NAMES,
    CheckSummary,
    GuardResult,
    MissingColumnsError,
    add_check_mt_arguments,
    check_mt_file,
    main_check_mt,
    score_table,
    score_translations,
)
from tasks.checks.settings import MTGuardSettings

__all__ = [
    "DETECTOR_NAMES",
    "CheckSummary",
    "GuardResult",
    "MTGuardSettings",
    "MissingColumnsError",
    "add_check_mt_arguments",
    "check_mt_file",
    "main_check_mt",
    "score_table",
    "score_translations",
]
