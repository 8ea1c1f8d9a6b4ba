"""TranslateStage: translate a text column through Triton's `translate` (or `echo`) model and guard
every translation (tasks/translate/batch.py does one record batch; this is its stage contract)."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import pyarrow as pa

from tasks.engine.planning import plan_object
from tasks.engine.row_status import GUARD_FIELDS
from tasks.engine.stage import BatchFn, SettingsStage, quality_from_dict, settings_to_dict
from tasks.guards.mt.settings import MTGuardSettings
from tasks.inference.client import TritonCallSettings
from tasks.inference.translate_client import TritonTranslateClient
from tasks.io.listing import ObjectRef
from tasks.io.s3 import S3Connection
from tasks.io.shards import ObjectPlan
from tasks.quality import InputSpec, OutputSpec
from tasks.quality.shard_checks import ShardQualityChecks
from tasks.translate.batch import TranslateSettings, translate_and_guard
from tasks.translate.guard import TranslationGuard

TRANSLATION_FIELDS = [
    pa.field("source_text", pa.string()), pa.field("translation", pa.string()),
    pa.field("source_lang", pa.string()), pa.field("target_lang", pa.string()),
    pa.field("logprob", pa.float32()), pa.field("model", pa.string()),
]


def translation_schema(id_type: pa.DataType, passthrough: list[pa.Field]) -> pa.Schema:
    """translate-batch parts: id, the translation columns, status, error, the guard columns, passthrough."""
    return pa.schema([pa.field("id", id_type), *TRANSLATION_FIELDS, pa.field("status", pa.string()),
                      pa.field("error", pa.string()), *GUARD_FIELDS, *passthrough])


def translation_quality_checks(id_column: str, text_column: str, language_column: str | None,
                               allowed_languages: tuple[str, ...] | None) -> ShardQualityChecks:
    """Input: ids, the text column's type, the language column's codes; output: translate-output."""
    return ShardQualityChecks(
        InputSpec(suite_name="translate-input", id_column=id_column, text_column=text_column,
                  expected_columns={text_column: "string|large_string"}, language_column=language_column,
                  allowed_languages=allowed_languages if language_column else None),
        OutputSpec.for_translation())


def settings_from_dict(doc: dict) -> TranslateSettings:
    doc = dict(doc)
    triton = TritonCallSettings(**doc.pop("triton"))
    guard, quality = doc.pop("guard", None), doc.pop("quality", None)
    if guard is not None:
        guard = TranslationGuard(MTGuardSettings.model_validate(guard["checks"]), guard["redecode"])
    quality = quality_from_dict(quality)
    for name in ("candidate_source_langs", "passthrough_columns"):
        doc[name] = tuple(doc[name])
    return TranslateSettings(**doc, triton=triton, guard=guard, quality=quality)


def settings_config(settings: TranslateSettings) -> dict:
    """What of TranslateSettings changes the output bytes: all but the Triton connection."""
    config = {k: v for k, v in settings_to_dict(settings).items() if k != "triton"}
    config["decoding"] = settings.triton.decoding
    if config["guard"]:  # where the similarity encoder runs (in process or Triton's `embed`) is not what it computes
        config["guard"]["checks"].get("similarity", {}).pop("triton_url", None)
    return config


@dataclass(frozen=True)
class TranslateStage(SettingsStage):
    """Rows of `settings.text_column` -> translations (+ guard verdicts) into `settings.target_lang`."""

    settings: TranslateSettings
    name = "translate"

    @property
    def read_columns(self) -> list[str]:
        s = self.settings
        return list(dict.fromkeys(c for c in (s.id_column, s.text_column, s.language_column, *s.passthrough_columns)
                                  if c))

    @property
    def id_column(self) -> str:
        return self.settings.id_column

    @property
    def text_columns(self) -> tuple[str, ...]:
        return (self.settings.text_column,)

    def with_passthrough(self, columns: list[str]) -> TranslateStage:
        s = self.settings
        added = tuple(c for c in columns if c not in (*s.passthrough_columns, s.id_column, s.text_column))
        return replace(self, settings=replace(self.settings,
                                              passthrough_columns=self.settings.passthrough_columns + added))

    @property
    def model_label(self) -> str:
        return self.settings.triton.model_name

    def output_schema(self, input_schema: pa.Schema) -> pa.Schema:
        passthrough = [input_schema.field(name) for name in self.settings.passthrough_columns]
        return translation_schema(input_schema.field(self.settings.id_column).type, passthrough)

    def config(self) -> dict:
        return settings_config(self.settings) | {"model": self.settings.triton.model_name}

    def to_dict(self) -> dict:
        return settings_to_dict(self.settings)

    @classmethod
    def from_dict(cls, doc: dict) -> TranslateStage:
        return cls(settings_from_dict(doc))

    def plan(self, conn: S3Connection, obj: ObjectRef, shard_rows: int, shard_bytes: int) -> ObjectPlan:
        s = self.settings
        return plan_object(conn, obj, text_column=s.text_column, id_column=s.id_column, shard_rows=shard_rows,
                           shard_bytes=shard_bytes, passthrough=list(s.passthrough_columns),
                           language_column=s.language_column)

    @asynccontextmanager
    async def open(self, conn: S3Connection, clock, run_dir: str) -> AsyncIterator[BatchFn]:
        async with TritonTranslateClient(self.settings.triton) as client:
            yield lambda record: translate_and_guard(client, record, self.settings, clock)
