"""TranscribeStage: transcribe an audio column (bytes or s3:// URIs) through Triton's `transcribe`
model and guard every transcript (tasks/transcribe/batch.py does one record batch)."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace

import pyarrow as pa

from tasks.diarization.speakers import DiarizeSettings
from tasks.engine.row_status import GUARD_FIELDS, RowStatus
from tasks.engine.stage import BatchFn, SettingsStage, quality_from_dict, settings_to_dict
from tasks.guards.asr.settings import ASRGuardSettings, SpeechCoverageSettings
from tasks.inference.asr_client import ASR_MODEL, TritonAsrClient
from tasks.inference.client import TritonCallSettings
from tasks.inference.speaker_client import TritonSpeakerClient
from tasks.io.listing import ObjectRef
from tasks.io.s3 import S3Connection
from tasks.io.shards import ObjectPlan
from tasks.quality import InputSpec, OutputSpec
from tasks.quality.shard_checks import ShardQualityChecks
from tasks.transcribe.audio_columns import AudioColumns, plan_audio_object
from tasks.transcribe.batch import ASR_FIELDS, TranscribeSettings, transcribe_record_batch
from tasks.transcribe.guard import TranscriptGuard
from tasks.transcribe.subtitles import write_subtitles


def asr_fields() -> list[pa.Field]:
    return [pa.field(name, kind) for name, kind in ASR_FIELDS]


def transcription_schema(id_type: pa.DataType, passthrough: list[pa.Field]) -> pa.Schema:
    """transcribe-batch parts: id, the ASR columns, model, status, error, the guard columns, passthrough."""
    return pa.schema([pa.field("id", id_type), *asr_fields(), pa.field("model", pa.string()),
                      pa.field("status", pa.string()), pa.field("error", pa.string()), *GUARD_FIELDS, *passthrough])


def audio_quality_checks(columns: AudioColumns, with_translation: bool) -> ShardQualityChecks:
    """Ids (and the URI column, when audio is held by URI) before inference; audio bytes are not
    read twice: the bytes column's presence and type are checked from the footer at planning."""
    return ShardQualityChecks(
        InputSpec(suite_name="audio-input", id_column=columns.id, audio_column=columns.audio_uri),
        OutputSpec.for_transcription(with_translation=with_translation))


def settings_from_dict(doc: dict) -> TranscribeSettings:
    doc = dict(doc)
    columns = dict(doc.pop("columns"))
    columns["passthrough"] = tuple(columns.get("passthrough", ()))
    guard, quality = doc.pop("guard", None), doc.pop("quality", None)
    if guard is not None:
        guard = TranscriptGuard(ASRGuardSettings.model_validate(guard["checks"]), guard["redecode"],
                                SpeechCoverageSettings.model_validate(guard.get("coverage") or {}))
    quality = quality_from_dict(quality)
    triton = TritonCallSettings(**doc.pop("triton"))
    diarize, speaker = doc.pop("diarize", None), doc.pop("speaker", None)
    doc["subtitles"] = tuple(doc.get("subtitles") or ())
    return TranscribeSettings(columns=AudioColumns(**columns), triton=triton, guard=guard, quality=quality,
                              diarize=DiarizeSettings(**diarize) if diarize else None,
                              speaker=TritonCallSettings(**speaker) if speaker else None, **doc)


def audio_config(settings: TranscribeSettings) -> dict:
    """What of TranscribeSettings changes the outputs: columns, language, limits, decoding, guard,
    quality, and the subtitle formats written, the prompt column and the diarization (these three only
    when used: runs without them keep their key)."""
    columns = asdict(settings.columns)
    if columns.get("prompt") is None:
        columns.pop("prompt", None)
    config = {"columns": columns, "language": settings.language,
              "max_audio_bytes": settings.max_audio_bytes, "asr": settings.triton.decoding,
              "quality": settings.quality.config() if settings.quality else None,
              "guard": settings.guard.config() if settings.guard else None}
    if settings.subtitles:
        config["subtitles"] = list(settings.subtitles)
    if settings.diarize is not None:
        config["diarize"] = settings.diarize.config()
    return config


async def write_batch_subtitles(conn: S3Connection, run_dir: str, settings: TranscribeSettings,
                                heard: pa.RecordBatch) -> None:
    """Subtitles of the batch's transcribed rows (`ok` or `flagged` with segments), one file per
    format and clip; rewritten as they were by a retried shard (deterministic names)."""
    if not settings.subtitles:
        return
    rows = [(row["id"], row["segments"]) for row in heard.select(["id", "status", "segments"]).to_pylist()
            if row["status"] in (RowStatus.OK, RowStatus.FLAGGED) and row["segments"]]
    words = bool(settings.triton.decoding.get("word_timestamps"))

    def write_all() -> None:
        for clip_id, segments in rows:
            write_subtitles(conn, run_dir, clip_id, segments, formats=settings.subtitles, words=words)

    await asyncio.to_thread(write_all)


async def transcribe_with_subtitles(asr: TritonAsrClient, conn: S3Connection, record: pa.RecordBatch,
                                    settings: TranscribeSettings, clock, run_dir: str,
                                    speakers: TritonSpeakerClient | None = None) -> pa.RecordBatch:
    heard = await transcribe_record_batch(asr, conn, record, settings, clock, speakers)
    await write_batch_subtitles(conn, run_dir, settings, heard)
    return heard


@dataclass(frozen=True)
class TranscribeStage(SettingsStage):
    """Audio rows -> transcripts (+ guard verdicts). `asr_model` names the requested Whisper model
    for reports (`default`: chosen by the server); the request parameters are in settings.triton."""

    settings: TranscribeSettings
    asr_model: str = "default"
    name = "transcribe"

    @property
    def read_columns(self) -> list[str]:
        return self.settings.columns.read

    @property
    def id_column(self) -> str:
        return self.settings.columns.id

    def with_passthrough(self, columns: list[str]) -> TranscribeStage:
        now = self.settings.columns
        added = tuple(c for c in columns if c not in (*now.passthrough, now.id, now.source))
        return replace(self, settings=replace(self.settings, columns=replace(now, passthrough=now.passthrough + added)))

    @property
    def model_label(self) -> str:
        return f"{ASR_MODEL}:{self.asr_model}"

    def output_schema(self, input_schema: pa.Schema) -> pa.Schema:
        columns = self.settings.columns
        passthrough = [input_schema.field(name) for name in columns.passthrough]
        return transcription_schema(input_schema.field(columns.id).type, passthrough)

    def config(self) -> dict:
        return audio_config(self.settings) | {"flow": self.name}

    def to_dict(self) -> dict:
        return {"settings": settings_to_dict(self.settings), "asr_model": self.asr_model}

    @classmethod
    def from_dict(cls, doc: dict) -> TranscribeStage:
        return cls(settings_from_dict(doc["settings"]), doc.get("asr_model", "default"))

    def plan(self, conn: S3Connection, obj: ObjectRef, shard_rows: int, shard_bytes: int) -> ObjectPlan:
        return plan_audio_object(conn, obj, self.settings.columns, shard_rows)  # audio: by rows (row groups split)

    @asynccontextmanager
    async def open(self, conn: S3Connection, clock, run_dir: str) -> AsyncIterator[BatchFn]:
        async with TritonAsrClient(self.settings.triton) as asr, speaker_client(self.settings) as speakers:
            yield lambda record: transcribe_with_subtitles(asr, conn, record, self.settings, clock, run_dir, speakers)


@asynccontextmanager
async def speaker_client(settings: TranscribeSettings) -> AsyncIterator[TritonSpeakerClient | None]:
    """The `speaker` model's client when the settings diarize, else None."""
    if settings.diarize is None:
        yield None
        return
    if settings.speaker is None:
        raise ValueError("diarize needs the `speaker` model's call settings (TranscribeSettings.speaker)")
    async with TritonSpeakerClient(settings.speaker) as client:
        yield client
