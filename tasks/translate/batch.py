"""Translate one record batch: classify its rows (empty, undecodable, too long), detect the
source language where it is not given, send the texts to Triton in concurrent client batches per
language pair, then guard the translations (tasks/translate/guard.py). TranslateStage
(tasks/translate/stage.py) runs this per batch of a shard."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pyarrow as pa

from tasks.engine.guard_clock import GuardClock
from tasks.engine.row_status import RowStatus
from tasks.inference.client import TritonCallSettings, TritonRequestRejected
from tasks.inference.translate_client import TritonTranslateClient
from tasks.io.reader import invalid_utf8_rows
from tasks.quality.shard_checks import ShardQualityChecks
from tasks.text.language_id import detect_languages
from tasks.text.segmentation import (
    DEFAULT_MAX_SENTENCE_CHARS,
    SegmentedText,
    TooLongSentence,
    decoding_bound,
    length_weighted_mean,
    segment_text,
)
from tasks.translate.guard import SENTENCE_FIELDS, TranslationGuard, guard_translations, no_guard_columns


@dataclass(frozen=True)
class TranslateSettings:
    text_column: str
    id_column: str
    target_lang: str
    source_lang: str = "auto"
    candidate_source_langs: tuple[str, ...] = ()
    passthrough_columns: tuple[str, ...] = ()
    language_column: str | None = None  # each row's source language; null there = source_lang
    max_text_chars: int = 20_000
    segment: bool = True  # split texts into sentences before translating (tasks/text/segmentation.py)
    max_sentence_chars: int = DEFAULT_MAX_SENTENCE_CHARS  # longer sentences split at clauses / spaces
    read_batch_rows: int = 1024
    batches_in_flight: int = 4
    triton: TritonCallSettings = field(default_factory=TritonCallSettings)
    guard: TranslationGuard | None = None  # None: no hallucination checks (e.g. the echo model)
    quality: ShardQualityChecks | None = None  # None: no data-quality suites


class _RowBatch:
    """Mutable per-row outcome columns for one input batch."""

    def __init__(self, texts: list[str | None], settings: TranslateSettings):
        n = len(texts)
        self.texts = texts
        self.source_lang: list[str | None] = [None if settings.source_lang == "auto" else settings.source_lang] * n
        self.translation: list[str | None] = [None] * n
        self.logprob: list[float | None] = [None] * n
        self.model: list[str | None] = [None] * n
        self.status = [RowStatus.OK] * n
        self.error: list[str | None] = [None] * n
        # per row, once translated: its sentences, their translations and logprobs, the separators around them
        self.sentences: list[list[str] | None] = [None] * n
        self.sentence_translations: list[list[str] | None] = [None] * n
        self.sentence_logprobs: list[list[float] | None] = [None] * n
        self.separators: list[list[str] | None] = [None] * n

    def fail(self, rows: list[int], reason: str) -> None:
        for i in rows:
            self.status[i], self.error[i] = RowStatus.FAILED, reason


def classify_rows(batch: _RowBatch, settings: TranslateSettings, invalid_utf8: set[int] = frozenset()) -> list[int]:
    """Mark empty, undecodable and oversized rows; return the rows to translate."""
    todo = []
    for i, text in enumerate(batch.texts):
        if i in invalid_utf8:
            batch.fail([i], f"column {settings.text_column!r} is not valid UTF-8 (shown with U+FFFD for the bad bytes)")
        elif text is None or not text.strip():
            batch.status[i] = RowStatus.EMPTY
        elif len(text) > settings.max_text_chars:
            batch.fail([i], f"text is {len(text)} characters, over max_text_chars={settings.max_text_chars}")
        else:
            todo.append(i)
    return todo


def group_by_source_language(batch: _RowBatch, rows: list[int], settings: TranslateSettings) -> dict[str, list[int]]:
    unknown = [i for i in rows if batch.source_lang[i] is None]  # source_lang "auto" and no language column value
    if unknown:
        detected = detect_languages([batch.texts[i] for i in unknown], settings.candidate_source_langs)
        for i, (lang, _prob) in zip(unknown, detected):
            batch.source_lang[i] = lang
    groups: dict[str, list[int]] = {}
    for i in rows:
        groups.setdefault(batch.source_lang[i], []).append(i)
    return groups


def segment_rows(batch: _RowBatch, groups: dict[str, list[int]],
                 settings: TranslateSettings) -> dict[int, SegmentedText]:
    """Each row to translate as sentences (settings `segment`, default on; off: the whole text as one
    unit). A row with a stretch that cannot be split under `max_sentence_chars` fails with the reason and
    leaves its group: no text is cut."""
    segment, max_chars = settings.segment, settings.max_sentence_chars
    docs: dict[int, SegmentedText] = {}
    for lang, rows in groups.items():
        kept = []
        for i in rows:
            text = batch.texts[i]
            try:
                doc = segment_text(text, lang, max_chars) if segment else None
                docs[i] = doc if doc else SegmentedText([text], ["", ""], [0])  # whole: one unit
            except TooLongSentence as exc:
                batch.fail([i], f"cannot be translated whole: {exc}")
                continue
            kept.append(i)
        rows[:] = kept
    return docs


async def translate_sentences(client: TritonTranslateClient, batch: _RowBatch, docs: dict[int, SegmentedText],
                              lang: str, rows: list[int], settings: TranslateSettings) -> None:
    """Translate the sentences of all `rows` (one source language) together, in one request per
    decoding bound (client batches of sentences, so Triton's dynamic batcher sees sentences), and
    put each row's translation back together around its separators. A refused request fails the rows
    that had a sentence in it."""
    units = [(i, j) for i in rows for j in range(len(docs[i]))]
    sentences = [docs[i].sentences[j] for i, j in units]
    explicit_bound = "max_decoding_length" in client.settings.decoding
    by_bound: dict[int | None, list[int]] = {}
    for k, sentence in enumerate(sentences):
        by_bound.setdefault(None if explicit_bound else decoding_bound(len(sentence)), []).append(k)
    texts: list[str | None] = [None] * len(units)
    logprobs: list[float | None] = [None] * len(units)
    models: list[str | None] = [None] * len(units)

    async def one_bound(bound: int | None, members: list[int]) -> None:
        decoding = None if bound is None else {**client.settings.decoding, "max_decoding_length": bound}
        try:
            out = await client.translate([sentences[k] for k in members], lang,
                                         settings.target_lang, decoding=decoding)
        except TritonRequestRejected as exc:
            batch.fail(sorted({units[k][0] for k in members}), str(exc))
            return
        for k, text, lp, model in zip(members, out.texts, out.logprobs, out.models):
            texts[k], logprobs[k], models[k] = text, lp, model

    await asyncio.gather(*(one_bound(bound, members) for bound, members in by_bound.items()))
    start = 0
    for i in rows:
        count, doc = len(docs[i]), docs[i]
        mine = slice(start, start + count)
        start += count
        if batch.status[i] != RowStatus.OK:
            continue
        batch.sentences[i], batch.sentence_translations[i] = doc.sentences, texts[mine]
        batch.sentence_logprobs[i], batch.separators[i] = logprobs[mine], doc.separators
        batch.translation[i] = doc.reassemble(texts[mine])
        batch.logprob[i] = length_weighted_mean(doc.sentences, logprobs[mine])
        batch.model[i] = models[mine][0]


async def translate_record_batch(client: TritonTranslateClient, record: pa.RecordBatch,
                                 settings: TranslateSettings) -> pa.RecordBatch:
    """Classify the rows, detect languages, split the texts into sentences, translate the sentences of
    all rows per source language together and reassemble them. The output carries the per-sentence
    detail in SENTENCE_FIELDS for the guard (guard_translations / no_guard_columns drop them)."""
    batch = _RowBatch(record.column(settings.text_column).to_pylist(), settings)
    if settings.language_column:
        batch.source_lang = [lang or default for lang, default in
                             zip(record.column(settings.language_column).to_pylist(), batch.source_lang)]
    todo = classify_rows(batch, settings, invalid_utf8_rows(record, settings.text_column))
    groups = group_by_source_language(batch, todo, settings)
    docs = segment_rows(batch, groups, settings)
    await asyncio.gather(*(translate_sentences(client, batch, docs, lang, rows, settings)
                           for lang, rows in groups.items() if rows))
    columns = {
        "id": record.column(settings.id_column), "source_text": pa.array(batch.texts, pa.string()),
        "translation": pa.array(batch.translation, pa.string()),
        "source_lang": pa.array(batch.source_lang, pa.string()),
        "target_lang": pa.array([settings.target_lang] * record.num_rows, pa.string()),
        "logprob": pa.array(batch.logprob, pa.float32()), "model": pa.array(batch.model, pa.string()),
        "status": pa.array(batch.status, pa.string()), "error": pa.array(batch.error, pa.string()),
    }
    columns.update({name: record.column(name) for name in settings.passthrough_columns})
    for f in SENTENCE_FIELDS:
        columns[f.name] = pa.array(getattr(batch, f.name.lstrip("_")), f.type)
    return pa.RecordBatch.from_pydict(columns)


async def translate_and_guard(client: TritonTranslateClient, record: pa.RecordBatch, settings: TranslateSettings,
                              clock: GuardClock) -> pa.RecordBatch:
    translated = await translate_record_batch(client, record, settings)
    if settings.guard is None:
        return no_guard_columns(translated)
    return await guard_translations(client, translated, settings.guard, clock)
