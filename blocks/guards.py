"""Prefect blocks: thresholds and weights of the MT and ASR hallucination guards.

The settings themselves are the plain pydantic `MTGuardSettings` (tasks/guards/mt/settings.py) and
`ASRGuardSettings` (tasks/guards/asr/settings.py), re-exported here, so the checks run and test
without a Prefect server; these blocks store them.

    MTGuardConfig().save("mt-guards")                       # calibrated defaults
    settings = MTGuardConfig.load("mt-guards").to_settings()
    score_table(table, settings)

    ASRGuardConfig().save("asr-guards")                     # documented defaults
    score_asr_table(table, ASRGuardConfig.load("asr-guards").to_settings())
"""

from __future__ import annotations

from typing import ClassVar

from prefect.blocks.core import Block
from pydantic import Field

from tasks.guards.asr.settings import (
    ASRCombineSettings,
    ASRGuardSettings,
    ASRRepetitionSettings,
    CompressionRatioSettings,
    NonSpeechPhraseSettings,
    NoSpeechProbSettings,
    NoSpeechTextSettings,
    SpeechRateSettings,
)
from tasks.guards.mt.settings import (
    CombineSettings,
    CopySettings,
    EntitySettings,
    LanguageSettings,
    LengthSettings,
    LogprobSettings,
    MTGuardSettings,
    NumberSettings,
    RepetitionSettings,
    SimilaritySettings,
)

__all__ = ["ASRGuardConfig", "ASRGuardSettings", "MTGuardConfig", "MTGuardSettings"]


class GuardSettingsBlock(Block):
    """A block whose fields are the sections of a plain guard-settings model (`_settings_class`)."""

    _settings_class: ClassVar[type]

    def to_settings(self):
        """The plain settings the checks take."""
        return self._settings_class.model_validate(
            {name: getattr(self, name).model_dump() for name in self._settings_class.model_fields})

    @classmethod
    def from_settings(cls, settings):
        return cls(**{name: getattr(settings, name).model_copy(deep=True) for name in cls._settings_class.model_fields})


class MTGuardConfig(GuardSettingsBlock):
    """Hallucination guards for machine translation: one section per detector plus the combination.

    Defaults are calibrated by bench/calibrate_mt_guards.py (see docs/guards.md)."""

    _block_type_name = "Sentinel MT Guards"
    _block_type_slug = "sentinel-mt-guards"
    _description = "Detector thresholds, noisy-OR weights and the flagging threshold of the MT hallucination guards."

    similarity: SimilaritySettings = Field(default_factory=SimilaritySettings, description=SimilaritySettings.__doc__)
    language: LanguageSettings = Field(default_factory=LanguageSettings, description=LanguageSettings.__doc__)
    copy_source: CopySettings = Field(default_factory=CopySettings, description=CopySettings.__doc__)
    repetition: RepetitionSettings = Field(default_factory=RepetitionSettings, description=RepetitionSettings.__doc__)
    length: LengthSettings = Field(default_factory=LengthSettings, description=LengthSettings.__doc__)
    numbers: NumberSettings = Field(default_factory=NumberSettings, description=NumberSettings.__doc__)
    entities: EntitySettings = Field(default_factory=EntitySettings, description=EntitySettings.__doc__)
    logprob: LogprobSettings = Field(default_factory=LogprobSettings, description=LogprobSettings.__doc__)
    combine: CombineSettings = Field(default_factory=CombineSettings, description=CombineSettings.__doc__)

    _settings_class: ClassVar[type] = MTGuardSettings


class ASRGuardConfig(GuardSettingsBlock):
    """Hallucination guards for speech recognition: one section per detector plus the combination.

    Defaults are documented in tasks/guards/asr/settings.py and measured by bench/measure_asr_guards.py
    (see docs/guards.md, "ASR guards")."""

    _block_type_name = "Sentinel ASR Guards"
    _block_type_slug = "sentinel-asr-guards"
    _description = "Detector thresholds, noisy-OR weights and the flagging threshold of the ASR hallucination guards."

    no_speech_text: NoSpeechTextSettings = Field(
        default_factory=NoSpeechTextSettings, description=NoSpeechTextSettings.__doc__
    )
    no_speech_prob: NoSpeechProbSettings = Field(
        default_factory=NoSpeechProbSettings, description=NoSpeechProbSettings.__doc__
    )
    compression_ratio: CompressionRatioSettings = Field(
        default_factory=CompressionRatioSettings, description=CompressionRatioSettings.__doc__
    )
    speech_rate: SpeechRateSettings = Field(default_factory=SpeechRateSettings, description=SpeechRateSettings.__doc__)
    repetition: ASRRepetitionSettings = Field(
        default_factory=ASRRepetitionSettings, description=ASRRepetitionSettings.__doc__
    )
    non_speech_phrase: NonSpeechPhraseSettings = Field(
        default_factory=NonSpeechPhraseSettings, description=NonSpeechPhraseSettings.__doc__
    )
    combine: ASRCombineSettings = Field(default_factory=ASRCombineSettings, description=ASRCombineSettings.__doc__)

    _settings_class: ClassVar[type] = ASRGuardSettings
