import pytest
from pydantic import ValidationError

from tasks.guards.asr.settings import ASR_DETECTOR_SECTIONS, ASRGuardSettings


def test_defaults_are_valid_strict_and_documented():
    settings = ASRGuardSettings()
    assert 0 < settings.combine.threshold < 1
    assert settings.compression_ratio.full == 2.4  # Whisper's limit
    with pytest.raises(ValidationError):
        ASRGuardSettings.model_validate({"combine": {"treshold": 0.3}})
    with pytest.raises(ValidationError):
        settings.no_speech_prob.weight = 1.5
    for section in ASR_DETECTOR_SECTIONS:
        model = type(settings.detector_settings(section))
        assert model.__doc__, section
        assert {"enabled", "weight"} <= set(model.model_fields), section
        assert model.model_fields["weight"].description, section


def test_settings_round_trip_through_json():
    settings = ASRGuardSettings()
    settings.non_speech_phrase.phrases.append(r"ciao( ciao)*")
    assert ASRGuardSettings.model_validate_json(settings.model_dump_json()) == settings


def test_block_round_trips_the_settings():
    pytest.importorskip("prefect")
    from blocks.guards import ASRGuardConfig

    settings = ASRGuardSettings()
    settings.combine.threshold = 0.42
    settings.speech_rate.script_weights["han"] = 2.5
    block = ASRGuardConfig.from_settings(settings)
    assert block.combine.threshold == 0.42
    assert block.to_settings() == settings
    assert ASRGuardConfig().to_settings() == ASRGuardSettings()
    assert ASRGuardConfig.get_block_type_slug() == "sentinel-asr-guards"
    assert set(ASR_DETECTOR_SECTIONS) <= set(ASRGuardConfig.model_json_schema()["properties"])
