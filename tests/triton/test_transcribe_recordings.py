"""The `transcribe` model on recordings made at test time (espeak-ng + sox, tests/fixtures/audio/
recordings.py) on the running stack's Triton: code-switched speech (a language per speech region),
English-only models never writing English over German, two-channel calls (`channels=split`) and
retries of given regions (`regions`). Rules and loose WER bounds, never one exact decoding."""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from bench.wer import word_error_rate
from tasks.inference.asr_client import AsrResult, TritonAsrClient, asr_parameters
from tasks.inference.client import TritonCallSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "audio"))
import recordings

pytestmark = pytest.mark.integration
WER_BOUND = 0.5  # per language / channel: espeak-ng's German through whisper-base is rough (docs/asr.md)


def transcribe(url: str, clip: bytes, language: str | None = None, **parameters) -> AsrResult:
    settings = TritonCallSettings(url=url, model_name="transcribe", batch_size=1, timeout_s=300, max_retries=2,
                                  decoding=asr_parameters(**parameters))

    async def run():
        async with TritonAsrClient(settings) as client:
            [result] = await client.transcribe([clip], language)
            return result

    result = asyncio.run(run())
    assert result.error is None, result.error
    return result


def words_in(result: AsrResult, start: float, end: float) -> str:
    return " ".join(s["text"] for s in result.segment_list if start - 0.5 <= s["start"] < end)


@pytest.fixture(scope="module")
def url(triton_stack) -> str:
    return triton_stack.triton_grpc_url


@pytest.fixture(scope="module")
def needs_base(url):
    probe = TritonCallSettings(url=url, model_name="transcribe", batch_size=1, timeout_s=120,
                               decoding=asr_parameters(model="whisper-base"))

    async def run():
        async with TritonAsrClient(probe) as client:
            return await client.transcribe([b"not audio"])

    [result] = asyncio.run(run())
    if "no transcribe model" in (result.error or ""):
        pytest.skip("whisper-base is not loaded on this Triton")


@pytest.fixture(scope="module")
def code_switched(tmp_path_factory):
    if why := recordings.tools_missing():
        pytest.skip(why)
    return recordings.code_switched(tmp_path_factory.mktemp("code-switched"))


@pytest.fixture(scope="module")
def call(tmp_path_factory):
    if why := recordings.tools_missing():
        pytest.skip(why)
    return recordings.two_channel(tmp_path_factory.mktemp("call"))


def test_code_switched_clip_is_transcribed_in_each_language(url, needs_base, code_switched):
    result = transcribe(url, code_switched.wav)
    (en_start, en_end, _), (de_start, de_end, _) = code_switched.spans
    assert set(result.languages) == {"en", "de"} and result.language in ("en", "de"), result.languages
    languages = {s["language"] for s in result.segment_list if s["start"] >= de_start - 0.5}
    assert languages == {"de"}, result.segment_list
    regions = result.region_list
    assert regions and {r["language"] for r in regions} == {"en", "de"}
    for language, (start, end) in (("en", (en_start, en_end)), ("de", (de_start, de_end))):
        wer = word_error_rate([code_switched.scripts[language]], [words_in(result, start, end)])
        print(f"\n  {language}: WER {wer:.2f} {words_in(result, start, end)!r}")
        assert wer <= WER_BOUND, (language, wer)
    assert "whisper-base" in result.model and "whisper-tiny.en" in result.model  # English stays on tiny.en


def test_english_only_model_never_writes_english_over_german(url, needs_base, code_switched):
    result = transcribe(url, code_switched.wav, model="whisper-tiny.en")
    _, (de_start, _, _) = code_switched.spans
    assert result.model == "whisper-tiny.en"
    assert not [s for s in result.segment_list if s["start"] >= de_start], result.segment_list  # left out, not invented
    assert "de" in {r.get("language") for r in result.region_list}  # and the region says why
    assert word_error_rate([code_switched.scripts["en"]], [result.text]) <= WER_BOUND


def test_regions_parameter_decodes_only_those_regions_with_their_own_language(url, needs_base, code_switched):
    _, (de_start, de_end, _) = code_switched.spans
    result = transcribe(url, code_switched.wav, regions=json.dumps([[de_start, de_end]]))
    assert result.segment_list and all(s["start"] >= de_start - 0.5 for s in result.segment_list)
    assert result.languages == ["de"]
    assert word_error_rate([code_switched.scripts["de"]], [result.text]) <= WER_BOUND


def test_split_channels_transcribe_each_speaker_on_their_own(url, call):
    mixed = transcribe(url, call.wav)
    assert mixed.channels is None
    split = transcribe(url, call.wav, channels="split")
    assert split.channels is not None and len(split.channels) == 2
    agent, customer = split.channels
    for name, channel in (("agent", agent), ("customer", customer)):
        wer = word_error_rate([call.scripts[name]], [channel.text])
        print(f"\n  {name}: WER {wer:.2f} {channel.text!r}")
        assert wer <= WER_BOUND, (name, wer)
    assert "[ch0]" in split.text and "[ch1]" in split.text
    starts = [s["start"] for s in split.segment_list]
    assert starts == sorted(starts) and {s["channel"] for s in split.segment_list} == {0, 1}
    assert "internet" in customer.text.lower() and "internet" not in agent.text.lower()
    assert abs(split.speech_s - (agent.speech_s + customer.speech_s)) < 0.01


def test_six_minute_recording_is_decoded_whole_in_blocks(url, tmp_path):
    """Past `batched_from_s` (300 s) and one 5-min block: the batched pipeline, two blocks cut in a
    pause; nothing truncated or left out, timestamps on the original clip's clock."""
    from tasks.transcribe.coverage import uncovered_speech

    if why := recordings.tools_missing():
        pytest.skip(why)
    rec = recordings.long_recording(tmp_path, 6)
    result = transcribe(url, rec.wav, language="en")
    segments = result.segment_list
    assert abs(result.duration_s - rec.seconds) < 0.5 and rec.seconds > 330
    starts = [s["start"] for s in segments]
    assert starts == sorted(starts) and segments[-1]["end"] <= rec.seconds + 0.5
    assert segments[-1]["start"] > rec.seconds - 30  # the last minute is there
    assert sum(g.seconds for g in uncovered_speech(result.region_list, segments)) < 1.5
    wer = word_error_rate([rec.scripts["en"]], [result.text])
    print(f"\n  {rec.seconds:.0f} s: WER {wer:.3f}, {len(segments)} segments")
    assert wer <= 0.2
