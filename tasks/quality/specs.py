"""What the data-quality suites check: `InputSpec` for a shard's input rows (before inference),
`OutputSpec` for a shard's output and quarantine parts (after processing)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

STATUSES = ("ok", "skipped_empty", "failed", "flagged")


class InputSpec(BaseModel):
    """Checks on one shard's input rows.

    * schema: the id, text, audio and language columns and every `expected_columns` entry exist;
      `expected_columns` maps a column to its arrow type (`"int64"`, `"string|large_string"`: any
      of several; `""`: any type). A text column must be a string type.
    * ids: no null, no duplicate `id_column` value within the shard.
    * text length: non-blank texts have `min_text_chars`..`max_text_chars` characters (Python
      `len`, as the translate task counts them). Null and blank texts are allowed: inference skips
      them (status `skipped_empty`), so they are not input errors. No bound set: no length check.
    * languages: non-null `language_column` values are in `allowed_languages` (null = detect).
    * audio: `audio_column` exists. Null audio is allowed (skipped like empty text); the column
      may be passed as bytes, s3:// URI strings or a boolean presence mask.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    suite_name: str = "input"
    id_column: str = "id"
    text_column: str | None = None
    audio_column: str | None = None
    language_column: str | None = None
    allowed_languages: tuple[str, ...] | None = None
    min_text_chars: int | None = Field(None, ge=0)
    max_text_chars: int | None = Field(None, ge=1)
    expected_columns: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> InputSpec:
        if self.allowed_languages is not None and not self.language_column:
            raise ValueError("allowed_languages needs language_column")
        if (self.min_text_chars is not None or self.max_text_chars is not None) and not self.text_column:
            raise ValueError("min_text_chars / max_text_chars need text_column")
        if self.min_text_chars is not None and self.max_text_chars is not None \
                and self.min_text_chars > self.max_text_chars:
            raise ValueError(f"min_text_chars={self.min_text_chars} > max_text_chars={self.max_text_chars}")
        return self

    @property
    def required_columns(self) -> list[str]:
        named = [self.id_column, self.text_column, self.audio_column, self.language_column]
        return list(dict.fromkeys([c for c in named if c] + list(self.expected_columns)))

    @property
    def checks_text_length(self) -> bool:
        return self.text_column is not None and (
            (self.min_text_chars or 0) > 1 or self.max_text_chars is not None)


class OutputSpec(BaseModel):
    """Checks on one shard's output part + quarantine part together.

    * rows: output rows + quarantined rows = rows in.
    * ids: `id_column` has no null and no duplicate across both parts; with the input ids given,
      every output/quarantine id is an input id and every input id is in one of the parts.
    * status: `status_column` is non-null and in `allowed_statuses`.
    * `ok_text_columns` (the translation / transcript) are non-null where status == `ok_status`.
    * `score_columns` are in [0, 1] and `logprob_columns` are <= 0 where non-null (a listed
      score or logprob column absent from the parts is not checked).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    suite_name: str = "output"
    id_column: str = "id"
    # False for a packed shard whose objects share ids (ids are unique per object, not across objects);
    # decided per shard, so not part of the spec's config (the run key)
    unique_ids: bool = Field(default=True, exclude=True)
    status_column: str = "status"
    allowed_statuses: tuple[str, ...] = STATUSES
    ok_status: str = "ok"
    ok_text_columns: tuple[str, ...] = ("translation",)
    score_columns: tuple[str, ...] = ("hallucination_score",)
    logprob_columns: tuple[str, ...] = ("logprob",)

    @classmethod
    def for_translation(cls, **changes) -> OutputSpec:
        """translate-batch parts (tasks/translate/batch.py `output_schema`)."""
        return cls(**{"suite_name": "translate-output", **changes})

    @classmethod
    def for_transcription(cls, with_translation: bool = False, **changes) -> OutputSpec:
        """transcribe-batch / speech-translate parts (tasks/transcribe/batch.py `output_schema`)."""
        base = {
            "suite_name": "speech-translate-output" if with_translation else "transcribe-output",
            "ok_text_columns": ("transcript", "translation") if with_translation else ("transcript",),
            "score_columns": ("no_speech_prob",),
            "logprob_columns": ("avg_logprob", "translation_logprob") if with_translation else ("avg_logprob",),
        }
        return cls(**{**base, **changes})

    @property
    def required_columns(self) -> list[str]:
        return list(dict.fromkeys([self.id_column, self.status_column, *self.ok_text_columns]))

    def columns_to_read(self, present: set[str]) -> list[str]:
        """The columns the suite looks at, of those present."""
        wanted = [*self.required_columns, *self.score_columns, *self.logprob_columns]
        return [c for c in dict.fromkeys(wanted) if c in present]
