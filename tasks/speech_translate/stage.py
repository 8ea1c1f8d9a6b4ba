"""SpeechTranslateStage: transcribe, then translate the transcripts — the composition of a
TranscribeStage and a TranslateStage (tasks/speech_translate/batch.py does one record batch).

A row's `status` is the first stage that did not succeed; `error` says which (`translate: ...`
for the second). A transcript already in the target language is copied (`translation_model`
"identity")."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import pyarrow as pa

from tasks.engine.row_status import GUARD_FIELDS
from tasks.engine.stage import BatchFn, ShardStage
from tasks.inference.asr_client import TritonAsrClient
from tasks.inference.translate_client import TritonTranslateClient
from tasks.io.listing import ObjectRef
from tasks.io.s3 import S3Connection
from tasks.io.shards import ObjectPlan
from tasks.quality.shard_checks import ShardQualityChecks
from tasks.speech_translate.batch import speech_translate_record_batch
from tasks.transcribe.stage import TranscribeStage, asr_fields, audio_config, speaker_client, write_batch_subtitles
from tasks.translate.stage import TranslateStage, settings_config

TRANSLATION_FIELDS = [
    pa.field("asr_model", pa.string()), pa.field("translation", pa.string()), pa.field("target_lang", pa.string()),
    pa.field("translation_logprob", pa.float32()), pa.field("translation_model", pa.string()),
]


def speech_translation_schema(id_type: pa.DataType, passthrough: list[pa.Field]) -> pa.Schema:
    """speech-translate parts: id, the ASR columns, the translation columns, status, error, the
    transcript's guard columns, the translation's guard columns (`translation_` + name), passthrough."""
    translation_guard = [pa.field(f"translation_{f.name}", f.type) for f in GUARD_FIELDS]
    return pa.schema([pa.field("id", id_type), *asr_fields(), *TRANSLATION_FIELDS, pa.field("status", pa.string()),
                      pa.field("error", pa.string()), *GUARD_FIELDS, *translation_guard, *passthrough])


@dataclass(frozen=True)
class SpeechTranslateStage(ShardStage):
    """`asr` hears the audio; `mt` translates what it heard (its text/id columns and source
    language are set per batch from the transcripts)."""

    asr: TranscribeStage
    mt: TranslateStage
    name = "speech-translate"

    @property
    def read_columns(self) -> list[str]:
        return self.asr.read_columns

    @property
    def id_column(self) -> str:
        return self.asr.id_column

    def with_passthrough(self, columns: list[str]) -> SpeechTranslateStage:
        return replace(self, asr=self.asr.with_passthrough(columns))

    @property
    def quality(self) -> ShardQualityChecks | None:
        return self.asr.quality

    @property
    def model_label(self) -> str:
        return f"{self.asr.model_label} -> {self.mt.model_label}:{self.mt.settings.target_lang}"

    @property
    def read_batch_rows(self) -> int:
        return self.asr.read_batch_rows

    @property
    def batches_in_flight(self) -> int:
        return self.asr.batches_in_flight

    def output_schema(self, input_schema: pa.Schema) -> pa.Schema:
        columns = self.asr.settings.columns
        passthrough = [input_schema.field(name) for name in columns.passthrough]
        return speech_translation_schema(input_schema.field(columns.id).type, passthrough)

    def config(self) -> dict:
        return audio_config(self.asr.settings) | {"translate": settings_config(self.mt.settings), "flow": self.name}

    def to_dict(self) -> dict:
        return {"asr": self.asr.to_dict(), "mt": self.mt.to_dict()}

    @classmethod
    def from_dict(cls, doc: dict) -> SpeechTranslateStage:
        return cls(TranscribeStage.from_dict(doc["asr"]), TranslateStage.from_dict(doc["mt"]))

    def plan(self, conn: S3Connection, obj: ObjectRef, shard_rows: int, shard_bytes: int) -> ObjectPlan:
        return self.asr.plan(conn, obj, shard_rows, shard_bytes)

    @asynccontextmanager
    async def open(self, conn: S3Connection, clock, run_dir: str) -> AsyncIterator[BatchFn]:
        heard, translate = self.asr.settings, self.mt.settings
        async with (TritonAsrClient(heard.triton) as asr, TritonTranslateClient(translate.triton) as mt,
                    speaker_client(heard) as speakers):
            async def process(record: pa.RecordBatch) -> pa.RecordBatch:
                done = await speech_translate_record_batch(asr, mt, conn, record, heard, translate, clock, speakers)
                await write_batch_subtitles(conn, run_dir, heard, done)
                return done

            yield process
