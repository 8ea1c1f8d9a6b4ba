import pytest
from pydantic import ValidationError

from tasks.guards.mt.settings import MTGuardSettings


def test_defaults_are_valid_and_strict():
    settings = MTGuardSettings()
    assert 0 < settings.combine.threshold < 1
    with pytest.raises(ValidationError):
        MTGuardSettings.model_validate({"combine": {"treshold": 0.3}})
    with pytest.raises(ValidationError):
        settings.similarity.weight = 1.5


def test_unambiguous_detectors_flag_on_their_own():
    """A certain wrong-language output, copy or loop must flag even when nothing else fires."""
    settings = MTGuardSettings()
    leak = settings.combine.leak
    for name in ("language", "copy_source", "repetition", "similarity"):
        weight = settings.detector_settings(name).weight
        assert 1 - (1 - leak) * (1 - weight) >= settings.combine.threshold, name


def test_block_round_trips_the_settings():
    pytest.importorskip("prefect")
    from blocks.guards import MTGuardConfig

    settings = MTGuardSettings()
    settings.combine.threshold = 0.42
    settings.length.script_weights["han"] = 2.5
    block = MTGuardConfig.from_settings(settings)
    assert block.combine.threshold == 0.42
    assert block.to_settings() == settings
    assert MTGuardConfig().to_settings() == MTGuardSettings()
    assert "similarity" in MTGuardConfig.model_json_schema()["properties"]
