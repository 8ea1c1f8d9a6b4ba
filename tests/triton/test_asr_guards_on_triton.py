"""The ASR hallucination guards on real `transcribe` output (the running local stack's Triton): what
Whisper writes on silence, noise and a tone without VAD is flagged when it writes anything, and the
spoken espeak-ng fixture clips are not. Loose on purpose: no exact scores or transcripts."""
from __future__ import annotations

import asyncio
import io
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from tasks.guards.asr.batch import TranscriptBatch, has_content
from tasks.guards.asr.checker import ASR_REDECODE_PARAMETERS, score_transcripts

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
CLIPS = json.loads((FIXTURES / "clips.json").read_text())
# the decoder's first pass as is: no VAD, Whisper's no-speech gate and temperature fallback off
RAW = {"vad_filter": False, "no_speech_threshold": 1.0, "temperature_increment": 0.0}


def _tone_wav(seconds: float = 4.0, freq: float = 440.0) -> bytes:
    t = np.arange(int(seconds * 16000)) / 16000
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1), writer.setsampwidth(2), writer.setframerate(16000)
        writer.writeframes((0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16).tobytes())
    return out.getvalue()


def _transcribe(url: str, clips: list[bytes], parameters: dict, model: str | None = None):
    from tasks.inference.asr_client import TritonAsrClient, asr_parameters
    from tasks.inference.client import TritonCallSettings

    extra = {k: v for k, v in parameters.items() if k != "vad_filter"}
    decoding = asr_parameters(vad_filter=parameters["vad_filter"], model=model, **extra)
    settings = TritonCallSettings(url=url, model_name="transcribe", batch_size=4, concurrency=2, timeout_s=300,
                                  max_retries=2, decoding=decoding)

    async def run():
        client = TritonAsrClient(settings)
        try:
            return await client.transcribe(clips)
        finally:
            await client.close()

    return asyncio.run(run())


def _scored(results):
    assert not [r.error for r in results if r.error]
    batch = TranscriptBatch.build([r.text for r in results], [r.avg_logprob for r in results],
                                  [r.no_speech_prob for r in results], [r.compression_ratio for r in results],
                                  [r.duration_s for r in results], [r.speech_s for r in results],
                                  [r.language for r in results])
    return score_transcripts(batch)


@pytest.fixture(scope="module")
def triton_url(triton_stack) -> str:
    return triton_stack.triton_grpc_url


@pytest.fixture(scope="module")
def non_speech() -> dict[str, bytes]:
    clips = {c["id"]: (FIXTURES / c["file"]).read_bytes() for c in CLIPS if not c["speech"]}
    return clips | {"tone": _tone_wav()}


@pytest.mark.parametrize("model", [None, "whisper-base"], ids=["default-model", "whisper-base"])
def test_text_on_silence_noise_and_tone_without_vad_is_flagged(triton_url, non_speech, model):
    results = _transcribe(triton_url, list(non_speech.values()), RAW, model)
    if model and any(r.error and "no transcribe model" in r.error for r in results):
        pytest.skip(f"{model} is not loaded on this Triton")
    score, flagged, reasons = _scored(results)
    for clip_id, result, is_flagged, why in zip(non_speech, results, flagged, reasons):
        print(f"  {model or 'default'} {clip_id}: {result.text!r} flagged={is_flagged} {why[:2]}")
        if has_content(result.text):
            assert is_flagged and why, (clip_id, result.text)


def test_spoken_fixture_clips_are_not_flagged(triton_url):
    spoken = [c for c in CLIPS if c["speech"]]
    results = _transcribe(triton_url, [(FIXTURES / c["file"]).read_bytes() for c in spoken], RAW)
    score, flagged, reasons = _scored(results)
    assert all(has_content(r.text) for r in results)
    assert not flagged.any(), [(c["id"], r.text, why) for c, r, why in zip(spoken, results, reasons) if why]


def test_redecode_parameters_drop_non_speech(triton_url, non_speech):
    results = _transcribe(triton_url, list(non_speech.values()), ASR_REDECODE_PARAMETERS)
    score, flagged, _ = _scored(results)
    assert not flagged.any()


# ---- speech left out (VAD regions vs segment timestamps) -----------------------------------------

def _guarded(url: str, clip: bytes, **parameters):
    from tasks.engine.guard_clock import GuardClock
    from tasks.inference.asr_client import TritonAsrClient, asr_parameters
    from tasks.inference.client import TritonCallSettings
    from tasks.transcribe.guard import TranscriptGuard, drop_non_words, guard_transcripts_of_clips

    settings = TritonCallSettings(url=url, model_name="transcribe", batch_size=1, timeout_s=300, max_retries=2,
                                  decoding=asr_parameters(**parameters))

    async def run():
        async with TritonAsrClient(settings) as client:
            [first] = await client.transcribe([clip])
            assert first.error is None, first.error
            kept, [verdict] = await guard_transcripts_of_clips(client, [clip], [drop_non_words(first)], [0], None,
                                                               TranscriptGuard(), GuardClock())
            return first, kept[0], verdict

    return asyncio.run(run())


@pytest.fixture(scope="module")
def code_switched(tmp_path_factory):
    import sys

    sys.path.insert(0, str(FIXTURES))
    import recordings

    if why := recordings.tools_missing():
        pytest.skip(why)
    return recordings.code_switched(tmp_path_factory.mktemp("code-switched"))


def _uncovered(result) -> float:
    from tasks.transcribe.coverage import uncovered_speech

    return sum(g.seconds for g in uncovered_speech(result.region_list, result.segment_list))


def test_speech_left_out_is_retried_per_region_and_spliced_in(triton_url, code_switched):
    # a first pass whose silence gate drops every window (any CPU): all the speech is left out
    first, kept, verdict = _guarded(triton_url, code_switched.wav, no_speech_threshold=0.0, log_prob_threshold=0.0,
                                    temperature_increment=0.0)
    before = _uncovered(first)
    print(f"\n  left out before the guard {before:.1f} s: {first.text!r}")
    print(f"  after {verdict.missing_s:.1f} s: {kept.text!r}")
    assert before >= 10.0 and verdict.redecoded, (first.text, verdict)
    if "whisper-base" not in (kept.model or ""):
        assert verdict.flagged  # no multilingual model: the German region stays uncovered and says so
        pytest.skip("whisper-base is not loaded on this Triton")
    assert verdict.missing_s < 1.5 and not verdict.flagged, verdict
    _, (de_start, _, _) = code_switched.spans
    german = [s for s in kept.segment_list if s["start"] >= de_start - 1.0]
    english = [s for s in kept.segment_list if s["start"] < de_start - 1.0]
    assert german and english and {s["language"] for s in german} == {"de"}
    assert {s["language"] for s in english} == {"en"}
    starts = [s["start"] for s in kept.segment_list]
    assert starts == sorted(starts) and set(kept.languages) == {"en", "de"}


def test_speech_no_loaded_model_can_write_is_flagged_with_the_seconds_missing(triton_url, code_switched):
    first, kept, verdict = _guarded(triton_url, code_switched.wav, model="whisper-tiny.en")
    if "de" not in {r.get("language") for r in first.region_list}:
        pytest.skip("no multilingual model loaded to detect the German region")
    print(f"\n  flagged={verdict.flagged} missing {verdict.missing_s} s: {verdict.reasons}")
    assert verdict.flagged and verdict.missing_s >= 5.0
    [reason] = [r for r in verdict.reasons if r.startswith("untranscribed speech")]
    assert "not covered by the transcript" in reason and "(de)" in reason
    assert kept.text == first.text  # nothing English was written over the German speech


def test_split_channels_left_out_speech_is_retried_per_channel(triton_url, tmp_path):
    import sys

    sys.path.insert(0, str(FIXTURES))
    import recordings

    if why := recordings.tools_missing():
        pytest.skip(why)
    call = recordings.two_channel(tmp_path / "call")
    first, kept, verdict = _guarded(triton_url, call.wav, channels="split", no_speech_threshold=0.0,
                                    log_prob_threshold=0.0, temperature_increment=0.0)
    assert [c.text for c in first.channels] == ["", ""]  # the forced silence gate dropped everything
    print(f"\n  {verdict}\n  {kept.text!r}")
    assert verdict.redecoded and not verdict.flagged and verdict.missing_s < 1.5, verdict
    agent, customer = kept.channels
    assert "internet" in customer.text.lower() and "internet" not in agent.text.lower()
    assert "[ch0]" in kept.text and "[ch1]" in kept.text
    starts = [s["start"] for s in kept.segment_list]
    assert starts == sorted(starts)
