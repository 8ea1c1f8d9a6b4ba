"""The status of one output row: one enum for every stage.

    ok             processed; the row is kept in `part-<shard>.parquet`
    skipped_empty  nothing to process (empty text, silent clip); kept, with no output text
    failed         the input could not be processed (`error` says why); quarantined
    flagged        processed, but the guards still flag it after the retry (`reasons`); quarantined

The values are the strings written to the `status` column (a StrEnum compares equal to them).
"""
from __future__ import annotations

from enum import StrEnum


class RowStatus(StrEnum):
    OK = "ok"
    EMPTY = "skipped_empty"
    FAILED = "failed"
    FLAGGED = "flagged"

    @property
    def quarantined(self) -> bool:
        return self in QUARANTINED


QUARANTINED = frozenset({RowStatus.FAILED, RowStatus.FLAGGED})
