"""Golden test: the run identity (config dicts, config hashes, run keys) of fixed inputs and
settings, for every flow. A rerun must find the parts committed before a change; a change that
moves a run key must be deliberate: regenerate with

    .venv/bin/python -m tests.flows.test_run_identity --write

and say in the commit that reruns of older runs will not reuse their parts. The golden file was
first captured from the code before the stage contract (tasks/engine/stage.py) existed."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from blocks.triton_endpoint import TritonEndpoint
from flows.job import run_config
from flows.stage_builders import speech_translate_stage, transcribe_stage, translate_stage
from tasks.engine.run_record import config_hash, run_key
from tasks.io.listing import ObjectRef
from tasks.registry import stage_from_dict

GOLDEN = Path(__file__).parent / "golden" / "run_identity.json"
OBJECTS = [ObjectRef(uri="s3://in/a.parquet", etag='"etag-a"', size=1234),
           ObjectRef(uri="s3://in/b/c.parquet", etag='"etag-c"', size=99)]
TRITON = TritonEndpoint(url="triton:8001", batch_size=32, concurrency=8)  # sized here: no model-config read


def translate(*, model="translate", guards=True, data_quality=True, language_column=None, beam_size=1,
              source_lang="auto", passthrough=(), redecode=True):
    return translate_stage(
        TRITON, model=model, text_column="text", id_column="id", target_lang="en", source_lang=source_lang,
        candidate_source_langs=["de", "fr"], passthrough_columns=list(passthrough), language_column=language_column,
        max_text_chars=20_000, beam_size=beam_size, guards=guards, guard_settings=None, redecode_flagged=redecode,
        data_quality=data_quality)


def transcribe(*, guards=True, data_quality=True, uri_column=None, language="auto", asr_model="default", vad=True,
               beam=1, with_translation=False):
    return transcribe_stage(
        TRITON, audio_column="audio", audio_uri_column=uri_column, id_column="id", passthrough_columns=[],
        language=language, asr_model=asr_model, vad_filter=vad, beam_size=beam, max_audio_s=600.0,
        max_audio_bytes=100 * 1024 * 1024, clips_per_request=4, request_timeout_s=900.0, guards=guards,
        guard_settings=None, redecode_flagged=True, data_quality=data_quality, with_translation=with_translation)


def speech(*, target, guards=True, data_quality=True, beam=1):
    heard = transcribe(guards=guards, data_quality=data_quality, with_translation=True)
    return speech_translate_stage(TRITON, heard, target_lang=target, beam_size=beam, guards=guards,
                                  guard_settings=None, redecode_flagged=True)


def cases() -> dict:
    """name -> (stage, shard_rows)."""
    return {
        "translate-defaults": (translate(), 20_000),
        "translate-echo": (translate(model="echo"), 20_000),
        "translate-lean": (translate(guards=False, data_quality=False), 5_000),
        "translate-langcol-beam": (translate(language_column="lang", beam_size=4, source_lang="de", passthrough=("x",),
                                             redecode=False), 20_000),
        "transcribe-defaults": (transcribe(), 200),
        "transcribe-uri-lean": (transcribe(uri_column="uri", guards=False, data_quality=False, language="de",
                                           asr_model="whisper-base", vad=False, beam=5), 50),
        "speech-translate-defaults": (speech(target="de"), 200),
        "speech-translate-lean": (speech(target="en", guards=False, data_quality=False, beam=3), 200),
    }


def identity(stage, shard_rows: int) -> dict:
    config = json.loads(json.dumps(run_config(stage, shard_rows), default=str))
    cfg_hash = config_hash(config)
    return {"config": config, "config_hash": cfg_hash, "run_key": run_key(OBJECTS, cfg_hash)}


@pytest.mark.parametrize("name", sorted(json.loads(GOLDEN.read_text())))
def test_run_identity_is_unchanged(name):
    golden = json.loads(GOLDEN.read_text())[name]
    stage, shard_rows = cases()[name]
    now = identity(stage, shard_rows)
    assert now["config"] == golden["config"]
    assert (now["config_hash"], now["run_key"]) == (golden["config_hash"], golden["run_key"])


@pytest.mark.parametrize("name", sorted(cases()))
def test_a_stage_rebuilt_from_its_dict_has_the_same_identity(name):
    """Child runs (flows/shard_group.py) rebuild the stage from its dict: same config, same run key."""
    stage, shard_rows = cases()[name]
    rebuilt = stage_from_dict(json.loads(json.dumps(stage.stage_dict())))
    assert rebuilt == stage
    assert identity(rebuilt, shard_rows) == identity(stage, shard_rows)


def speech_options() -> dict:
    """Speech stages with the issue-29 options (diarize, vocabulary): not in the golden file, whose
    stages are built without them and must keep their keys."""
    from dataclasses import replace

    from tasks.diarization.speakers import DiarizeSettings
    from tasks.inference.client import TritonCallSettings
    from tasks.transcribe.stage import TranscribeStage

    vocabulary = transcribe_stage(
        TRITON, audio_column="audio", audio_uri_column=None, id_column="id", passthrough_columns=[], language="auto",
        asr_model="default", vad_filter=True, beam_size=1, max_audio_s=600.0, max_audio_bytes=100 * 1024 * 1024,
        clips_per_request=4, request_timeout_s=900.0, guards=True, guard_settings=None, redecode_flagged=True,
        data_quality=True, hotwords="Nakagawa, Wojciechowski", initial_prompt="Board minutes.", prompt_column="context")
    plain = transcribe()
    diarized = TranscribeStage(replace(plain.settings, diarize=DiarizeSettings(num_speakers=2),
                                       speaker=TritonCallSettings(url="triton:8001", model_name="speaker", batch_size=1)))
    return {"vocabulary": (vocabulary, 200), "diarized": (diarized, 200)}


def test_new_speech_options_enter_the_config_only_when_used():
    plain = transcribe().config()
    assert "diarize" not in plain and "prompt" not in plain["columns"]
    assert not {"hotwords", "initial_prompt"} & set(plain["asr"])
    vocabulary, diarized = (stage.config() for stage, _ in speech_options().values())
    assert vocabulary["asr"]["hotwords"] == "Nakagawa, Wojciechowski" and vocabulary["asr"]["initial_prompt"] == "Board minutes."
    assert vocabulary["columns"]["prompt"] == "context"
    assert diarized["diarize"]["num_speakers"] == 2 and diarized["diarize"]["threshold"] == 0.4
    keys = {identity(*case)["run_key"] for case in speech_options().values()} | {identity(transcribe(), 200)["run_key"]}
    assert len(keys) == 3


@pytest.mark.parametrize("name", ["vocabulary", "diarized"])
def test_a_stage_with_the_new_speech_options_rebuilds_from_its_dict(name):
    stage, shard_rows = speech_options()[name]
    rebuilt = stage_from_dict(json.loads(json.dumps(stage.stage_dict())))
    assert rebuilt == stage and identity(rebuilt, shard_rows) == identity(stage, shard_rows)


if __name__ == "__main__" and "--write" in sys.argv:
    GOLDEN.write_text(json.dumps({name: identity(*case) for name, case in cases().items()}, indent=1,
                                 sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
