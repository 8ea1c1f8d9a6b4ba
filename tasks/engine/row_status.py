"""The status of one output row: one enum for every stage.

    ok             processed; the row is kept in `part-<shard>.parquet`
    skipped_empty  nothing to process (empty text, silent clip); kept, with no output text
    failed         the input could not be processed (`error` says why); quarantined
    flagged        processed, but the guards still flag it after the retry (`reasons`); quarantined

The values are the strings written to the `status` column (a StrEnum compares equal to them).
`GUARD_FIELDS` are the guard columns every stage writes beside `status` (the MT and ASR guards alike).
"""
from __future__ import annotations

from enum import StrEnum

import pyarrow as pa


class RowStatus(StrEnum):
    OK = "ok"
    EMPTY = "skipped_empty"
    FAILED = "failed"
    FLAGGED = "flagged"

    @property
    def quarantined(self) -> bool:
        return self in QUARANTINED


QUARANTINED = frozenset({RowStatus.FAILED, RowStatus.FLAGGED})


# What the hallucination guards add to every row of every stage (translate, transcribe, speech-translate).
GUARD_FIELDS = [
    pa.field("hallucination_score", pa.float32()),
    pa.field("reasons", pa.list_(pa.string())),
    pa.field("redecoded", pa.bool_()),
    pa.field("flagged_sentences", pa.list_(pa.int32())),
]
