"""Prefect block: thresholds and weights of the MT hallucination guards.

The settings themselves are the plain pydantic `MTGuardSettings` (tasks/checks/settings.py,
re-exported here) so the checks run and test without a Prefect server; this block stores them.

    MTGuardConfig().save("mt-guards")                       # calibrated defaults
    settings = MTGuardConfig.load("mt-guards").to_settings()
    score_table(table, settings)
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field

from tasks.checks.settings import (
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

__all__ = ["MTGuardConfig", "MTGuardSettings"]


class MTGuardConfig(Block):
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

    def to_settings(self) -> MTGuardSettings:
        """The plain settings the checks take."""
        return MTGuardSettings.model_validate(
            {name: getattr(self, name).model_dump() for name in MTGuardSettings.model_fields}
        )

    @classmethod
    def from_settings(cls, settings: MTGuardSettings) -> MTGuardConfig:
        return cls(**{name: getattr(settings, name).model_copy(deep=True) for name in MTGuardSettings.model_fields})
