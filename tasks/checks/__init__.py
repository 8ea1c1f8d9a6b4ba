"""Hallucination guards for machine translation and speech recognition: one module per detector
family, a noisy-OR combiner (`combine`), `mt_checker` and `asr_checker` with the plain functions the
pipeline and CLI call."""

from tasks.checks.asr_checker import ASR_REDECODE_PARAMETERS, score_asr_table, score_transcripts
from tasks.checks.asr_settings import ASRGuardSettings
from tasks.checks.check_mt_cli import add_check_mt_arguments, main_check_mt
from tasks.checks.mt_checker import (
    DETECTOR_NAMES,
    CheckSummary,
    GuardResult,
    MissingColumnsError,
    check_mt_file,
    score_table,
    score_translations,
)
from tasks.checks.settings import MTGuardSettings

__all__ = [
    "ASR_REDECODE_PARAMETERS",
    "ASRGuardSettings",
    "DETECTOR_NAMES",
    "CheckSummary",
    "GuardResult",
    "MTGuardSettings",
    "MissingColumnsError",
    "add_check_mt_arguments",
    "check_mt_file",
    "main_check_mt",
    "score_asr_table",
    "score_table",
    "score_transcripts",
    "score_translations",
]
