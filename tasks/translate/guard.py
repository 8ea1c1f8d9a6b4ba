"""Guard translated rows sentence by sentence: score every sentence of every `ok` translation for
hallucinations, judge each row by its sentences (tasks.guards.mt.checker.judge_text: worst sentence,
mapped for the row's sentence count), retry only the flagged sentences once through Triton with beam
search and a repetition guard, re-check them, keep the better of the two per sentence, splice the
kept sentences back into the row's translation, and mark what is still flagged (it goes to the
shard's quarantine part with its reasons, which name the sentence).

    guarded = await guard_translations(client, translated_batch, guard, clock)

translate_record_batch passes each row's sentences in the internal SENTENCE_FIELDS columns; a batch
without them (a translation made elsewhere) is guarded one row = one sentence.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pyarrow as pa

from tasks.engine.guard_clock import GuardClock
from tasks.engine.row_status import GUARD_FIELDS, RowStatus
from tasks.guards.mt.checker import GuardResult, judge_text, score_sentence_groups, score_translations
from tasks.guards.mt.settings import MTGuardSettings
from tasks.inference.client import TritonRequestRejected
from tasks.inference.translate_client import TritonTranslateClient
from tasks.text.segmentation import decoding_bound, join_sentences, length_weighted_mean

# The retry of a flagged sentence: beam search, no repeated trigram, a mild repetition penalty.
REDECODE_PARAMETERS = {"beam_size": 4, "no_repeat_ngram_size": 3, "repetition_penalty": 1.2}

# Internal columns from translate_record_batch to the guard (dropped before a batch is written):
# each row's source sentences, their translations and logprobs, and the separators around them.
SENTENCE_FIELDS = [
    pa.field("_sentences", pa.list_(pa.string())),
    pa.field("_sentence_translations", pa.list_(pa.string())),
    pa.field("_sentence_logprobs", pa.list_(pa.float64())),
    pa.field("_separators", pa.list_(pa.string())),
]
SENTENCE_COLUMNS = [f.name for f in SENTENCE_FIELDS]


@dataclass(frozen=True)
class TranslationGuard:
    """What to check (the MT guard settings) and how to retry (decoding parameters, or None)."""

    checks: MTGuardSettings = field(default_factory=MTGuardSettings)
    redecode: dict | None = field(default_factory=lambda: dict(REDECODE_PARAMETERS))

    def config(self) -> dict:
        """For the run's config hash: changing a threshold changes the output."""
        return {"checks": self.checks.model_dump(), "redecode": self.redecode}


@dataclass
class _Sentences:
    """The guarded rows' sentences, flattened: unit k is sentence `position[k]` of row `row[k]`."""

    row: list[int]
    position: list[int]
    src: list[str]
    mt: list[str]
    logprob: list[float | None]
    src_lang: list[str]
    tgt_lang: list[str]


def drop_sentence_columns(batch: pa.RecordBatch) -> dict[str, pa.Array]:
    return {name: column for name, column in zip(batch.schema.names, batch.columns) if name not in SENTENCE_COLUMNS}


def no_guard_columns(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The guard columns, empty: for runs with the guards off."""
    columns = drop_sentence_columns(batch)
    for f in GUARD_FIELDS:
        columns[f.name] = pa.nulls(batch.num_rows, f.type)
    return pa.RecordBatch.from_pydict(columns)


def _row_sentences(data: dict, i: int) -> tuple[list[str], list[str], list[float | None], list[str]]:
    """(source sentences, translations, logprobs, separators) of row i; one unit when not segmented."""
    if data.get("_sentences") is not None and data["_sentences"][i] is not None:
        return (data["_sentences"][i], data["_sentence_translations"][i], data["_sentence_logprobs"][i],
                data["_separators"][i])
    return [data["source_text"][i]], [data["translation"][i]], [data["logprob"][i]], ["", ""]


async def _redecode(client: TritonTranslateClient, units: _Sentences, flagged: list[int], guard: TranslationGuard
                    ) -> tuple[list[int], list[str], list[float]]:
    """Retranslate units[flagged] with the retry decoding, per language pair and decoding bound;
    units Triton refuses keep their first translation."""
    by_call: dict[tuple[str, str, int | None], list[int]] = {}
    for k in flagged:
        bound = None if "max_decoding_length" in client.settings.decoding else decoding_bound(len(units.src[k]))
        by_call.setdefault((units.src_lang[k], units.tgt_lang[k], bound), []).append(k)
    done: list[int] = []
    texts: list[str] = []
    logprobs: list[float] = []

    async def one_call(key: tuple[str, str, int | None], members: list[int]) -> None:
        src_lang, tgt_lang, bound = key
        decoding = {**client.settings.decoding, **(guard.redecode or {})}
        if bound is not None:
            decoding["max_decoding_length"] = bound
        try:
            out = await client.translate([units.src[k] for k in members], src_lang, tgt_lang, decoding=decoding)
        except TritonRequestRejected:
            return
        done.extend(members)
        texts.extend(out.texts)
        logprobs.extend(out.logprobs)

    await asyncio.gather(*(one_call(key, members) for key, members in by_call.items()))
    return done, texts, logprobs


async def guard_translations(client: TritonTranslateClient, batch: pa.RecordBatch, guard: TranslationGuard,
                             clock: GuardClock) -> pa.RecordBatch:
    """`batch` (translate_record_batch's output) plus hallucination_score, reasons, redecoded and
    flagged_sentences; rows still flagged after the retry get status `flagged`."""
    data = batch.to_pydict()
    index = [i for i, (status, mt) in enumerate(zip(data["status"], data["translation"]))
             if status == RowStatus.OK and mt is not None]
    per_row = [_row_sentences(data, i) for i in index]
    units = _Sentences([], [], [], [], [], [], [])
    for j, (i, (src, mt, logprob, _)) in enumerate(zip(index, per_row)):
        for position, (s, m, lp) in enumerate(zip(src, mt, logprob)):
            units.row.append(j)
            units.position.append(position)
            units.src.append(s)
            units.mt.append(m)
            units.logprob.append(lp)
            units.src_lang.append(data["source_lang"][i])
            units.tgt_lang.append(data["target_lang"][i])
    redecoded = [False] * len(index)
    with clock.timed():
        verdicts = await asyncio.to_thread(
            score_sentence_groups, units.src, units.mt, units.src_lang, units.tgt_lang, units.logprob,
            units.row, len(index), guard.checks)
        results: list[GuardResult] = [r for v in verdicts for r in v.sentences]  # unit order
        flagged_units = [k for k in range(len(units.src))
                         if units.position[k] in verdicts[units.row[k]].flagged_sentences]
        if flagged_units and guard.redecode is not None:
            done, texts, logprobs = await _redecode(client, units, flagged_units, guard)
            retried = await asyncio.to_thread(
                score_translations, [units.src[k] for k in done], texts, [units.src_lang[k] for k in done],
                [units.tgt_lang[k] for k in done], logprobs, guard.checks) if done else []
            for k, text, logprob, result in zip(done, texts, logprobs, retried):
                redecoded[units.row[k]] = True
                if result.hallucination_score < results[k].hallucination_score:
                    units.mt[k], units.logprob[k], results[k] = text, logprob, result
            first = {}
            for k, j in enumerate(units.row):
                first.setdefault(j, k)
            for j in {units.row[k] for k in done}:
                count = len(per_row[j][0])
                verdicts[j] = judge_text(results[first[j]:first[j] + count], guard.checks)

    score: list[float | None] = [None] * batch.num_rows
    reasons: list[list[str] | None] = [None] * batch.num_rows
    flagged_sentences: list[list[int] | None] = [None] * batch.num_rows
    retried_rows = [False] * batch.num_rows
    start = 0
    for j, i in enumerate(index):
        count = len(per_row[j][0])
        mt, logprob = units.mt[start:start + count], units.logprob[start:start + count]
        data["translation"][i] = join_sentences(per_row[j][3], mt)
        data["logprob"][i] = length_weighted_mean(per_row[j][0], logprob)
        start += count
        verdict = verdicts[j]
        score[i], reasons[i], retried_rows[i] = verdict.hallucination_score, verdict.reasons, redecoded[j]
        flagged_sentences[i] = verdict.flagged_sentences
        if verdict.flagged:
            data["status"][i] = RowStatus.FLAGGED
    columns = drop_sentence_columns(batch)
    for name in ("translation", "logprob", "status"):
        columns[name] = pa.array(data[name], batch.schema.field(name).type)
    columns.update(hallucination_score=pa.array(score, pa.float32()), reasons=pa.array(reasons, pa.list_(pa.string())),
                   redecoded=pa.array(retried_rows, pa.bool_()),
                   flagged_sentences=pa.array(flagged_sentences, pa.list_(pa.int32())))
    return pa.RecordBatch.from_pydict(columns)
