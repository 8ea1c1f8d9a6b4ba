"""Speech -> translation for one record batch: transcribe (and guard the transcripts), then
translate the transcripts grouped by the language Whisper reported (and guard the translations).
A row's `status` is the first stage that did not succeed; `error` / `reasons` say why."""
from __future__ import annotations

from dataclasses import replace

import pyarrow as pa

from tasks.guard_clock import GuardClock
from tasks.row_status import RowStatus
from tasks.storage import S3Connection
from tasks.transcribe_shard import ASR_FIELDS, TranscribeSettings, transcribe_record_batch
from tasks.translate_shard import TranslateSettings, translate_record_batch
from tasks.translation_guard import GUARD_FIELDS, guard_translations
from tasks.triton_asr_client import TritonAsrClient
from tasks.triton_client import TritonTranslateClient

TRANSLATION_GUARD_NAMES = [f.name for f in GUARD_FIELDS]


async def speech_translate_record_batch(asr: TritonAsrClient, mt: TritonTranslateClient, conn: S3Connection,
                                        record: pa.RecordBatch, settings: TranscribeSettings,
                                        translate: TranslateSettings, clock: GuardClock) -> pa.RecordBatch:
    """Transcribe, then translate the transcripts, grouped by the language Whisper reported. Long
    transcripts are translated as documents (translate_record_batch: split into sentences, the sentences
    of all transcripts of a language sent together, reassembled), and guarded per sentence."""
    heard = await transcribe_record_batch(asr, conn, record, settings, clock)
    target = translate.target_lang
    rows = heard.to_pylist()
    names = ["translation", "translation_logprob", "translation_model",
             *(f"translation_{name}" for name in TRANSLATION_GUARD_NAMES)]
    translation = {name: [None] * len(rows) for name in names}
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if row["status"] == RowStatus.OK and row["transcript"]:
            groups.setdefault(row["language"], []).append(i)
        elif row["status"] == RowStatus.OK:  # nothing heard: nothing to translate
            row["status"] = RowStatus.EMPTY
    for language, members in groups.items():
        if language == target:  # already in the target language
            for i in members:
                translation["translation"][i], translation["translation_model"][i] = rows[i]["transcript"], "identity"
            continue
        subset = pa.RecordBatch.from_pydict({"id": [rows[i]["id"] for i in members],
                                             "transcript": [rows[i]["transcript"] for i in members]})
        group_settings = replace(translate, source_lang=language)
        done = await translate_record_batch(mt, subset, group_settings)
        if group_settings.guard is not None:
            done = await guard_translations(mt, done, group_settings.guard, clock)
        for i, out in zip(members, done.to_pylist()):
            translation["translation"][i], translation["translation_logprob"][i] = out["translation"], out["logprob"]
            translation["translation_model"][i] = out["model"]
            for name in TRANSLATION_GUARD_NAMES:
                translation[f"translation_{name}"][i] = out.get(name)
            if out["status"] != RowStatus.OK:
                rows[i]["status"], rows[i]["error"] = out["status"], out["error"] and f"translate: {out['error']}"
    columns = {name: heard.column(name) for name in ["id", *(n for n, _ in ASR_FIELDS)]}
    columns["asr_model"] = heard.column("model")
    columns["translation"] = pa.array(translation["translation"], pa.string())
    columns["target_lang"] = pa.array([target] * len(rows), pa.string())
    columns["translation_logprob"] = pa.array(translation["translation_logprob"], pa.float32())
    columns["translation_model"] = pa.array(translation["translation_model"], pa.string())
    for f in GUARD_FIELDS:  # the transcript's guard columns (flagged_sentences: none for a transcript)
        columns[f.name] = heard.column(f.name) if f.name in heard.schema.names else pa.nulls(len(rows), f.type)
        columns[f"translation_{f.name}"] = pa.array(translation[f"translation_{f.name}"], f.type)
    columns["status"] = pa.array([r["status"] for r in rows], pa.string())
    columns["error"] = pa.array([r["error"] for r in rows], pa.string())
    columns.update({name: heard.column(name) for name in settings.columns.passthrough})
    return pa.RecordBatch.from_pydict(columns)
