"""Guard translated rows: score every `ok` translation for hallucinations, retry the flagged ones
once through Triton with beam search and a repetition guard, re-check, keep the better of the
two, and mark what is still flagged (it goes to the shard's quarantine part with its reasons).

    guarded = await guard_translations(client, translated_batch, guard, clock)
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pyarrow as pa

from tasks.checks.mt_checker import GuardResult, score_translations
from tasks.checks.settings import MTGuardSettings
from tasks.shard_runner import STATUS_FLAGGED, STATUS_OK, GuardClock
from tasks.triton_client import TritonRequestRejected, TritonTranslateClient

# The retry of a flagged translation: beam search, no repeated trigram, a mild repetition penalty.
REDECODE_PARAMETERS = {"beam_size": 4, "no_repeat_ngram_size": 3, "repetition_penalty": 1.2}

GUARD_FIELDS = [
    pa.field("hallucination_score", pa.float32()),
    pa.field("reasons", pa.list_(pa.string())),
    pa.field("redecoded", pa.bool_()),
]


@dataclass(frozen=True)
class TranslationGuard:
    """What to check (the MT guard settings) and how to retry (decoding parameters, or None)."""

    checks: MTGuardSettings = field(default_factory=MTGuardSettings)
    redecode: dict | None = field(default_factory=lambda: dict(REDECODE_PARAMETERS))

    def config(self) -> dict:
        """For the run's config hash: changing a threshold changes the output."""
        return {"checks": self.checks.model_dump(), "redecode": self.redecode}


@dataclass
class _Rows:
    """The guarded rows of one batch (indices into the batch) and their current state."""

    index: list[int]
    src: list[str]
    mt: list[str]
    src_lang: list[str]
    tgt_lang: list[str]
    logprob: list[float | None]
    checked: list[GuardResult] | None = None


def no_guard_columns(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The guard columns, empty: for runs with the guards off."""
    columns = dict(zip(batch.schema.names, batch.columns))
    for f in GUARD_FIELDS:
        columns[f.name] = pa.nulls(batch.num_rows, f.type)
    return pa.RecordBatch.from_pydict(columns)


def _score(rows: _Rows, guard: TranslationGuard) -> list[GuardResult]:
    return score_translations(rows.src, rows.mt, rows.src_lang, rows.tgt_lang, rows.logprob, guard.checks)


async def _redecode(client: TritonTranslateClient, rows: _Rows, flagged: list[int], guard: TranslationGuard
                    ) -> tuple[list[int], list[str], list[float]]:
    """Retranslate rows[flagged] with the retry decoding, per source language; rows Triton refuses
    keep their first translation."""
    by_lang: dict[tuple[str, str], list[int]] = {}
    for j in flagged:
        by_lang.setdefault((rows.src_lang[j], rows.tgt_lang[j]), []).append(j)
    decoding = {**client.settings.decoding, **(guard.redecode or {})}
    done: list[int] = []
    texts: list[str] = []
    logprobs: list[float] = []

    async def one_pair(pair: tuple[str, str], members: list[int]) -> None:
        try:
            out = await client.translate([rows.src[j] for j in members], *pair, decoding=decoding)
        except TritonRequestRejected:
            return
        done.extend(members)
        texts.extend(out.texts)
        logprobs.extend(out.logprobs)

    await asyncio.gather(*(one_pair(pair, members) for pair, members in by_lang.items()))
    return done, texts, logprobs


async def guard_translations(client: TritonTranslateClient, batch: pa.RecordBatch, guard: TranslationGuard,
                             clock: GuardClock) -> pa.RecordBatch:
    """`batch` (translate_record_batch's output) plus hallucination_score, reasons, redecoded;
    rows still flagged after the retry get status `flagged`."""
    data = batch.to_pydict()
    index = [i for i, (status, mt) in enumerate(zip(data["status"], data["translation"]))
             if status == STATUS_OK and mt is not None]
    rows = _Rows(index, *([data[c][i] for i in index] for c in ("source_text", "translation", "source_lang",
                                                                  "target_lang", "logprob")))
    with clock.timed():
        rows.checked = await asyncio.to_thread(_score, rows, guard)
        flagged = [j for j, result in enumerate(rows.checked) if result.flagged]
        redecoded = [False] * len(index)
        if flagged and guard.redecode is not None:
            done, texts, logprobs = await _redecode(client, rows, flagged, guard)
            retry = _Rows(done, [rows.src[j] for j in done], texts, [rows.src_lang[j] for j in done],
                          [rows.tgt_lang[j] for j in done], logprobs)
            for j, text, logprob, result in zip(done, texts, logprobs, await asyncio.to_thread(_score, retry, guard)):
                redecoded[j] = True
                if result.hallucination_score < rows.checked[j].hallucination_score:
                    rows.mt[j], rows.logprob[j], rows.checked[j] = text, logprob, result

    score: list[float | None] = [None] * batch.num_rows
    reasons: list[list[str] | None] = [None] * batch.num_rows
    retried = [False] * batch.num_rows
    for j, i in enumerate(index):
        result = rows.checked[j]
        data["translation"][i], data["logprob"][i] = rows.mt[j], rows.logprob[j]
        score[i], reasons[i], retried[i] = result.hallucination_score, result.reasons, redecoded[j]
        if result.flagged:
            data["status"][i] = STATUS_FLAGGED
    columns = dict(zip(batch.schema.names, batch.columns))
    for name in ("translation", "logprob", "status"):
        columns[name] = pa.array(data[name], batch.schema.field(name).type)
    columns.update(hallucination_score=pa.array(score, pa.float32()), reasons=pa.array(reasons, pa.list_(pa.string())),
                   redecoded=pa.array(retried, pa.bool_()))
    return pa.RecordBatch.from_pydict(columns)
