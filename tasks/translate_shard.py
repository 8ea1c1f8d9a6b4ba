"""Translate one record batch: classify its rows (empty, undecodable, too long), detect the
source language where it is not given, send the texts to Triton in concurrent client batches per
language pair, then guard the translations (tasks/translation_guard.py). TranslateStage
(tasks/stages/translate.py) runs this per batch of a shard."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pyarrow as pa

from tasks.language import detect_languages
from tasks.row_status import RowStatus
from tasks.shard_quality import ShardQualityChecks
from tasks.shard_reader import invalid_utf8_rows
from tasks.shard_runner import GuardClock
from tasks.translation_guard import TranslationGuard, guard_translations, no_guard_columns
from tasks.triton_client import TritonCallSettings, TritonRequestRejected, TritonTranslateClient


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


async def translate_record_batch(client: TritonTranslateClient, record: pa.RecordBatch,
                                 settings: TranslateSettings) -> pa.RecordBatch:
    batch = _RowBatch(record.column(settings.text_column).to_pylist(), settings)
    if settings.language_column:
        batch.source_lang = [lang or default for lang, default in
                             zip(record.column(settings.language_column).to_pylist(), batch.source_lang)]
    todo = classify_rows(batch, settings, invalid_utf8_rows(record, settings.text_column))
    groups = group_by_source_language(batch, todo, settings)

    async def run_group(lang: str, rows: list[int]) -> None:
        try:
            out = await client.translate([batch.texts[i] for i in rows], lang, settings.target_lang)
        except TritonRequestRejected as exc:
            batch.fail(rows, str(exc))
            return
        for i, text, lp, model in zip(rows, out.texts, out.logprobs, out.models):
            batch.translation[i], batch.logprob[i], batch.model[i] = text, lp, model

    await asyncio.gather(*(run_group(lang, rows) for lang, rows in groups.items()))
    columns = {
        "id": record.column(settings.id_column), "source_text": pa.array(batch.texts, pa.string()),
        "translation": pa.array(batch.translation, pa.string()),
        "source_lang": pa.array(batch.source_lang, pa.string()),
        "target_lang": pa.array([settings.target_lang] * record.num_rows, pa.string()),
        "logprob": pa.array(batch.logprob, pa.float32()), "model": pa.array(batch.model, pa.string()),
        "status": pa.array(batch.status, pa.string()), "error": pa.array(batch.error, pa.string()),
    }
    columns.update({name: record.column(name) for name in settings.passthrough_columns})
    return pa.RecordBatch.from_pydict(columns)


async def translate_and_guard(client: TritonTranslateClient, record: pa.RecordBatch, settings: TranslateSettings,
                              clock: GuardClock) -> pa.RecordBatch:
    translated = await translate_record_batch(client, record, settings)
    if settings.guard is None:
        return no_guard_columns(translated)
    return await guard_translations(client, translated, settings.guard, clock)
