"""The `transcribe` model on a real tritonserver with the real Whisper tiny.en / base (CTranslate2),
on the espeak-ng clips of tests/fixtures/audio/ (WER against their scripts)."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from triton_fixtures import REPO_ROOT, TRITON_PYTHON, run_tool, start_server, triton_launcher
from tritonclient.utils import InferenceServerException

from bench.wer import word_error_rate

pytestmark = pytest.mark.integration

STORE = REPO_ROOT / ".local" / "model-store"
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "audio"
CLIPS = {c["id"]: c | {"bytes": (FIXTURES / c["file"]).read_bytes()}
         for c in json.loads((FIXTURES / "clips.json").read_text())}
SPOKEN = [c for c in CLIPS.values() if c["speech"]]
WER_BOUND = 0.30  # measured 0.136 (6 edits / 44 words) with tiny.en int8 greedy; see docs/asr.md


@pytest.fixture(scope="module")
def whisper_models_dir(triton_venv, tmp_path_factory) -> Path:
    """Triton models dir synced from .local/model-store (installing the Whisper models there if missing)."""
    if not (STORE / "transcribe" / "whisper-tiny.en" / "sentinel-model.json").exists():
        run_tool("install_whisper_models.py", "--store", str(STORE), timeout=900)
    dest = tmp_path_factory.mktemp("whisper-models")
    run_tool("sync_model_store.py", "--store", str(STORE), "--dest", str(dest), "--quiet")
    return dest


@pytest.fixture(scope="module")
def asr_server(whisper_models_dir, tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("asr-triton"), whisper_models_dir)
    try:
        triton_launcher.wait_ready(server.http_port, timeout=120, proc=server.proc, log_path=server.log_path)
        yield server
    finally:
        triton_launcher.stop_triton(server.proc)


def infer(url: str, clips: list[bytes], languages: list[str] | None = None, **parameters) -> dict[str, list]:
    client = grpcclient.InferenceServerClient(url)
    try:
        inputs = [bytes_input("AUDIO", clips)]
        if languages is not None:
            inputs.append(bytes_input("LANGUAGE", [lang.encode() for lang in languages]))
        result = client.infer("transcribe", inputs, parameters=parameters or None)
    finally:
        client.close()
    names = ("TEXT", "LANGUAGE", "MODEL", "SEGMENTS", "AVG_LOGPROB", "NO_SPEECH_PROB", "COMPRESSION_RATIO",
             "DURATION_S", "SPEECH_S", "LANGUAGES", "SPEECH_REGIONS", "CHANNELS")
    out = {n: result.as_numpy(n).reshape(-1).tolist() for n in names}
    for name in ("TEXT", "LANGUAGE", "MODEL", "SEGMENTS", "LANGUAGES", "SPEECH_REGIONS", "CHANNELS"):
        out[name] = [v.decode("utf-8") for v in out[name]]
    return out


def bytes_input(name: str, values: list[bytes]):
    array = np.array(values, dtype=np.object_).reshape(-1, 1)
    tensor = grpcclient.InferInput(name, list(array.shape), "BYTES")
    tensor.set_data_from_numpy(array)
    return tensor


def rejection(url: str, clips: list[bytes], **parameters) -> str:
    with pytest.raises(InferenceServerException) as info:
        infer(url, clips, **parameters)
    assert "INVALID_ARG" in str(info.value.status()), info.value
    return info.value.message()


def wav(samples: np.ndarray, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1), writer.setsampwidth(2), writer.setframerate(rate)
        writer.writeframes(samples.astype(np.int16).tobytes())
    return out.getvalue()


def pcm16(clip_id: str) -> np.ndarray:
    """A fixture clip as 16 kHz int16 samples (the WAV fixture is 22.05 kHz: resampled linearly)."""
    with wave.open(io.BytesIO(CLIPS[clip_id]["bytes"])) as reader:
        rate, data = reader.getframerate(), np.frombuffer(reader.readframes(reader.getnframes()), np.int16)
    positions = np.arange(int(len(data) * 16000 / rate)) * rate / 16000
    return np.interp(positions, np.arange(len(data)), data).astype(np.int16)


def unknown_codec_wav() -> bytes:
    data = bytearray(CLIPS["fox"]["bytes"])
    data[20:22] = (0x9999).to_bytes(2, "little")  # WAVE format tag (1 = PCM)
    return bytes(data)


def test_spoken_clips_transcribe_with_low_wer(asr_server):
    out = infer(asr_server.grpc_url, [c["bytes"] for c in SPOKEN], languages=["en"] * len(SPOKEN))
    wer = word_error_rate([c["text"] for c in SPOKEN], out["TEXT"])
    print(f"\nWER whisper-tiny.en on {len(SPOKEN)} espeak-ng clips: {wer:.3f}")
    for clip, text in zip(SPOKEN, out["TEXT"]):
        print(f"  {clip['id']:8s} {clip['format']:4s} {clip['sample_rate']:5d} Hz x{clip['channels']}: {text!r}")
    assert wer <= WER_BOUND
    assert set(out["MODEL"]) == {"whisper-tiny.en"} and set(out["LANGUAGE"]) == {"en"}
    for clip, duration, speech, logprob, segments in zip(SPOKEN, out["DURATION_S"], out["SPEECH_S"],
                                                         out["AVG_LOGPROB"], out["SEGMENTS"]):
        assert abs(duration - clip["seconds"]) < 0.15 and 0.5 * duration < speech <= duration + 0.01
        assert logprob <= 0.0
        [segment] = json.loads(segments)
        assert set(segment) == {"start", "end", "text", "language", "avg_logprob", "no_speech_prob",
                                "compression_ratio"}
        assert segment["language"] == "en"


def test_stereo_44k_flac_is_downmixed_and_resampled(asr_server):
    stereo = CLIPS["stereo"]
    assert (stereo["channels"], stereo["sample_rate"]) == (2, 44100)
    out = infer(asr_server.grpc_url, [stereo["bytes"]])
    assert "good morning everyone" in out["TEXT"][0].lower()
    assert abs(out["DURATION_S"][0] - stereo["seconds"]) < 0.1


@pytest.mark.parametrize("vad_filter", [True, False])
def test_silence_and_noise_give_no_text(asr_server, vad_filter):
    out = infer(asr_server.grpc_url, [CLIPS["silence"]["bytes"], CLIPS["noise"]["bytes"]], vad_filter=vad_filter)
    assert out["TEXT"] == ["", ""]
    assert out["SPEECH_S"] == [0.0, 0.0]  # measured by silero VAD with or without vad_filter
    assert out["NO_SPEECH_PROB"] == [1.0, 1.0] and out["COMPRESSION_RATIO"] == [0.0, 0.0]


def test_long_audio_goes_through_30s_windows_not_truncated(asr_server):
    gap = np.zeros(16000 * 12, np.int16)
    long = np.concatenate([pcm16("fox"), gap, gap, pcm16("fox")])  # ~31 s: the second fox is past 30 s
    out = infer(asr_server.grpc_url, [wav(long)], languages=["en"])
    assert out["DURATION_S"][0] > 30.0
    assert out["TEXT"][0].lower().count("lazy dog") == 2, out["TEXT"][0]  # the words past 30 s are there
    assert len(json.loads(out["SEGMENTS"][0])) == 2  # (tiny.en's timestamps after a long gap are not reliable)


@pytest.mark.parametrize("clip, params, reason", [
    (b"definitely not audio" * 10, {}, "undecodable audio (200 bytes)"),
    (b"", {}, "audio is empty (0 bytes)"),
    (CLIPS["fox"]["bytes"][:44], {}, "undecodable audio (44 bytes)"),  # a WAV header, no samples
    (CLIPS["fox"]["bytes"], {"max_audio_s": 2}, "audio is 3.4 s long, over max_audio_s=2"),
    (CLIPS["fox"]["bytes"], {"beam_size": 0}, "parameter beam_size=0 is outside [1, 10]"),
    (CLIPS["fox"]["bytes"], {"max_audio_s": 7200}, "above the server's limit 3600"),
    (CLIPS["fox"]["bytes"], {"model": "whisper-huge"}, "no transcribe model 'whisper-huge'"),
    (CLIPS["fox"]["bytes"], {"channels": "both"}, "parameter channels='both' is not one of mix, split"),
    (CLIPS["fox"]["bytes"], {"regions": "[[3, 1]]"}, "parameter regions: [3, 1] is not a span of seconds"),
    (CLIPS["fox"]["bytes"], {"regions": "[[9, 12]]"}, "every region starts after the audio's end (3.4 s)"),
    (CLIPS["fox"]["bytes"], {"channel": 1}, "parameter channel=1: the audio has 1 channel(s)"),
    # a WAV whose format tag names no codec: FFmpeg opens it with no codec context, which was an
    # AttributeError (INTERNAL, 'NoneType' object has no attribute 'channels') where channels are counted
    (unknown_codec_wav(), {"channels": "split"}, "its audio stream has no codec FFmpeg can decode"),
], ids=["undecodable", "empty", "header-only", "too-long", "bad-beam", "over-cap", "unknown-model", "bad-channels",
        "bad-region", "region-past-end", "missing-channel", "unknown-codec"])
def test_bad_audio_or_parameters_get_a_clear_reason(asr_server, clip, params, reason):
    assert reason in rejection(asr_server.grpc_url, [clip], **params)


def test_a_bad_row_fails_only_its_own_request(asr_server):
    good, bad = CLIPS["report"]["bytes"], b"garbage" * 50
    assert "row 1: undecodable audio" in rejection(asr_server.grpc_url, [good, bad])
    with ThreadPoolExecutor(4) as pool:  # concurrent requests: the dynamic batcher puts them in one execute()
        futures = [pool.submit(infer, asr_server.grpc_url, [clip]) for clip in (good, bad, good, bad)]
        outcomes = [f.exception() or f.result() for f in futures]
    assert [isinstance(o, InferenceServerException) for o in outcomes] == [False, True, False, True]
    assert all("send the report" in o["TEXT"][0].lower() for o in outcomes[::2])


def test_multilingual_base_detects_and_other_languages_route_to_it(asr_server):
    detected = infer(asr_server.grpc_url, [CLIPS["report"]["bytes"]], model="whisper-base")
    assert detected["MODEL"] == ["whisper-base"] and detected["LANGUAGE"] == ["en"]
    assert word_error_rate([CLIPS["report"]["text"]], detected["TEXT"]) <= 0.2
    routed = infer(asr_server.grpc_url, [CLIPS["report"]["bytes"]], languages=["de"])
    assert routed["MODEL"] == ["whisper-base"] and routed["LANGUAGE"] == ["de"]


def test_english_only_model_refuses_another_language(asr_server):
    client = grpcclient.InferenceServerClient(asr_server.grpc_url)
    try:
        with pytest.raises(InferenceServerException, match="English-only"):
            inputs = [bytes_input("AUDIO", [CLIPS["fox"]["bytes"]]), bytes_input("LANGUAGE", [b"fr"])]
            client.infer("transcribe", inputs,
                         parameters={"model": "whisper-tiny.en"})
    finally:
        client.close()


@pytest.fixture(scope="module")
def rare_name_clip(tmp_path_factory):
    import sys

    sys.path.insert(0, str(FIXTURES))
    import recordings

    if why := recordings.tools_missing():
        pytest.skip(why)
    return recordings.rare_name(tmp_path_factory.mktemp("vocabulary"), 0)


def with_prompts(url: str, clips: list[bytes], prompts: list[str], **parameters) -> list[str]:
    client = grpcclient.InferenceServerClient(url)
    try:
        inputs = [bytes_input("AUDIO", clips), bytes_input("PROMPT", [p.encode() for p in prompts])]
        result = client.infer("transcribe", inputs, parameters={"vad_filter": True, **parameters})
    finally:
        client.close()
    return [v.decode() for v in result.as_numpy("TEXT").reshape(-1)]


def test_hotwords_and_prompts_bring_out_a_rare_name(asr_server, rare_name_clip):
    """The name a general model mishears comes out with hotwords, with an initial prompt, and with a
    row's own PROMPT; a row without a prompt in the same request is what it is alone."""
    clip, name = rare_name_clip.wav, rare_name_clip.scripts["names"]
    greedy = {"vad_filter": True, "temperature_increment": 0}
    assert name in infer(asr_server.grpc_url, [clip], hotwords=name, **greedy)["TEXT"][0]
    assert name in infer(asr_server.grpc_url, [clip], initial_prompt=f"Mister {name}.", **greedy)["TEXT"][0]
    # greedy only: the temperature fallback samples, so a hard clip's text would differ run to run
    alone = infer(asr_server.grpc_url, [clip], vad_filter=True, temperature_increment=0)["TEXT"][0]
    prompted, plain = with_prompts(asr_server.grpc_url, [clip, clip], [f"Invoice for Mister {name}.", ""],
                                   temperature_increment=0)
    assert name in prompted and plain == alone


def test_vocabulary_is_bounded(asr_server, rare_name_clip):
    clip = rare_name_clip.wav
    assert rejection(asr_server.grpc_url, [clip], hotwords="x" * 2001) == (
        "parameter hotwords is 2001 characters, over 2000")
    with pytest.raises(InferenceServerException, match="row 1: prompt is 2005 characters, over 2000"):
        with_prompts(asr_server.grpc_url, [clip, clip], ["", "y" * 2001], initial_prompt="abc")


def test_server_without_whisper_models_stays_up_and_says_why(whisper_models_dir, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(whisper_models_dir / "translate", models / "translate")  # translate needs its models
    server = start_server(tmp_path, models)
    try:
        triton_launcher.wait_ready(server.http_port, timeout=60, proc=server.proc, log_path=server.log_path)
        assert "no Whisper models" in rejection(server.grpc_url, [CLIPS["fox"]["bytes"]])
    finally:
        triton_launcher.stop_triton(server.proc)


def test_batched_pipeline_path_on_cpu(whisper_models_dir):
    """The GPU config's BatchedInferencePipeline path, run here on the CPU (no Triton): whole clips
    and given regions (clip_timestamps)."""
    script = f"""
import sys, json
sys.path.insert(0, {str(REPO_ROOT / 'triton/model_repository/transcribe/1')!r})
import whisper_engine as we
[(path, meta)] = [m for m in we.find_model_dirs({str(whisper_models_dir)!r}) if m[1]['name'] == 'whisper-tiny.en']
engine = we.WhisperEngine(path, meta, compute_type='int8', batched=True)
out = {{}}
for name in ('report.flac', 'silence.wav'):
    audio = we.decode(open({str(FIXTURES)!r} + '/' + name, 'rb').read(), 600)
    segments, _ = engine.decode(audio, 'en', we.AsrOptions())
    out[name] = we.summarize(segments, 'en', audio.size / 16000, 0.0, engine.name).text
segments, _ = engine.decode(audio, 'en', we.AsrOptions(), clips=[(0.0, 1.0)])
out['clips'] = len(segments)
print(json.dumps(out))
"""
    proc = subprocess.run([str(TRITON_PYTHON), "-P", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "send the report" in out["report.flac"].lower() and out["silence.wav"] == ""


def test_engine_summary_drops_non_word_segments():
    """The engine's side of the one rule for non-words: '...', '♪', '[Music]' segments are dropped, and a
    transcript of only those is the silent clip's (text '', no_speech_prob 1.0, compression ratio 0)."""
    script = f"""
import sys, json
sys.path.insert(0, {str(REPO_ROOT / 'triton/model_repository/transcribe/1')!r})
import whisper_engine as we
def seg(start, text):
    return {{"start": start, "end": start + 1.0, "text": text, "avg_logprob": -1.3, "no_speech_prob": 0.4,
             "compression_ratio": 0.5, "language": "nn", "model": "whisper-base", "tokens": 3}}
only = we.summarize([seg(0.0, '...'), seg(1.0, '♪'), seg(2.0, '[Music]')], 'nn', 3.0, 0.0, 'whisper-base')
mixed = we.summarize([seg(1.0, 'Hello there.'), seg(0.0, '(music)')], 'en', 3.0, 1.0, 'whisper-base')
print(json.dumps([only.text, only.no_speech_prob, only.compression_ratio, only.segments, mixed.text,
                  len(mixed.segments)]))
"""
    proc = subprocess.run([str(TRITON_PYTHON), "-P", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == ["", 1.0, 0.0, [], "Hello there.", 1]
