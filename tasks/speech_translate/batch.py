"""Speech -> translation for one record batch: transcribe (and guard the transcripts), then
translate each transcript from the language(s) Whisper heard in it (and guard the translations).
A row's `status` is the first stage that did not succeed; `error` / `reasons` say why."""
from __future__ import annotations

from dataclasses import replace

import pyarrow as pa

from tasks.engine.guard_clock import GuardClock
from tasks.engine.row_status import GUARD_FIELDS, RowStatus
from tasks.inference.asr_client import TritonAsrClient
from tasks.inference.speaker_client import TritonSpeakerClient
from tasks.inference.translate_client import TritonTranslateClient
from tasks.io.s3 import S3Connection
from tasks.speech_translate.language_runs import LanguageRun, language_runs, merge_runs
from tasks.text.segmentation import TooLongSentence, segment_text
from tasks.transcribe.batch import ASR_FIELDS, TranscribeSettings, transcribe_record_batch
from tasks.translate.batch import TranslateSettings, translate_record_batch
from tasks.translate.guard import guard_translations

TRANSLATION_GUARD_NAMES = [f.name for f in GUARD_FIELDS]


def sentence_count(text: str, language: str, translate: TranslateSettings) -> int:
    """How many sentences translate_record_batch would make of `text`: for a run kept as heard (in the
    target language already), which is not translated but still counts in the row's sentence numbers."""
    if not translate.segment:
        return 1
    try:
        return max(len(segment_text(text, language, translate.max_sentence_chars)), 1)
    except TooLongSentence:
        return 1


async def speech_translate_record_batch(asr: TritonAsrClient, mt: TritonTranslateClient, conn: S3Connection,
                                        record: pa.RecordBatch, settings: TranscribeSettings,
                                        translate: TranslateSettings, clock: GuardClock,
                                        speakers: TritonSpeakerClient | None = None) -> pa.RecordBatch:
    """Transcribe, then translate the transcripts, each stretch from the language Whisper heard in it
    (tasks/speech_translate/language_runs.py: a code-switched clip is translated per language, a clip in one language
    whole), grouped by language across the batch. Long transcripts are translated as documents
    (translate_record_batch: split into sentences, the sentences of all transcripts of a language sent
    together, reassembled), and guarded per sentence."""
    heard = await transcribe_record_batch(asr, conn, record, settings, clock, speakers)
    target = translate.target_lang
    rows = heard.to_pylist()
    names = ["translation", "translation_logprob", "translation_model",
             *(f"translation_{name}" for name in TRANSLATION_GUARD_NAMES)]
    translation = {name: [None] * len(rows) for name in names}
    runs_of: dict[int, list[LanguageRun]] = {}  # row -> its transcript's stretches, one per spoken language
    units: dict[str, list[tuple[int, int]]] = {}  # language -> (row, run)
    for i, row in enumerate(rows):
        if row["status"] == RowStatus.OK and row["transcript"]:
            runs_of[i] = language_runs(row["transcript"], row.get("segments"), row["language"])
            for k, run in enumerate(runs_of[i]):
                units.setdefault(run.language, []).append((i, k))
        elif row["status"] == RowStatus.OK:  # nothing heard: nothing to translate
            row["status"] = RowStatus.EMPTY
    outputs: dict[tuple[int, int], dict] = {}
    for language, members in units.items():
        texts = [rows[i]["transcript"][runs_of[i][k].start:runs_of[i][k].end] for i, k in members]
        if language == target:  # already in the target language
            for unit, text in zip(members, texts):
                outputs[unit] = {"translation": text, "logprob": None, "model": "identity", "status": RowStatus.OK,
                                 "error": None, **dict.fromkeys(TRANSLATION_GUARD_NAMES),
                                 "sentences": sentence_count(text, language, translate)}
            continue
        subset = pa.RecordBatch.from_pydict({"id": [rows[i]["id"] for i, _ in members], "transcript": texts})
        group_settings = replace(translate, source_lang=language)
        done = await translate_record_batch(mt, subset, group_settings)
        # the sentences translate made of each run (none for a run that failed): numbering across runs
        counts = [len(sentences) if sentences else 1 for sentences in done.column("_sentences").to_pylist()]
        if group_settings.guard is not None:
            done = await guard_translations(mt, done, group_settings.guard, clock)
        for unit, count, out in zip(members, counts, done.to_pylist()):
            outputs[unit] = {"translation": out["translation"], "logprob": out["logprob"], "model": out["model"],
                             "status": out["status"], "error": out["error"],
                             **{name: out.get(name) for name in TRANSLATION_GUARD_NAMES}, "sentences": count}
    for i, runs in runs_of.items():
        out = merge_runs(rows[i]["transcript"], runs, [outputs[(i, k)] for k in range(len(runs))])
        translation["translation"][i], translation["translation_logprob"][i] = out["translation"], out["logprob"]
        translation["translation_model"][i] = out["model"]
        for name in TRANSLATION_GUARD_NAMES:
            translation[f"translation_{name}"][i] = out[name]
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
