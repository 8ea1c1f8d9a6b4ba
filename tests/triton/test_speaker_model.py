"""Triton model `speaker` on a real tritonserver serving only it, with the GE2E encoder
triton/tools/install_speaker_model.py builds from the resemblyzer wheel: windows inside the speech,
unit-length embeddings, one speaker's sentences closer to each other than to another speaker's (real
read speech from ../shared/data/speech), the `regions` parameter, bad requests, a server without
the encoder, and a GPU config that fails loudly without the CUDA provider."""
from __future__ import annotations

import io
import json
import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from triton_fixtures import REPO_ROOT, TRITON_PYTHON, free_port, run_tool, triton_launcher
from tritonclient.utils import InferenceServerException

MODEL_DIR = REPO_ROOT / "triton" / "model_repository" / "speaker"
STORE = REPO_ROOT / ".local" / "model-store"
SPEECH = REPO_ROOT.parent / "shared" / "data" / "speech"
needs_speech = pytest.mark.skipif(not (SPEECH / "spk1_snt1.wav").exists(), reason=f"no real speech in {SPEECH}")


def start(root: Path, models_dir: Path) -> tuple[subprocess.Popen, str]:
    repository = root / "repository"
    repository.mkdir()
    (repository / "speaker").symlink_to(MODEL_DIR, target_is_directory=True)
    ports = free_port(), free_port(), free_port()
    log_path = root / "tritonserver.log"
    proc = triton_launcher.start_triton(repo_root=REPO_ROOT, state_dir=root, model_repository=repository,
                                        models_dir=models_dir, http_port=ports[0], grpc_port=ports[1],
                                        metrics_port=ports[2], log_path=log_path)
    try:
        triton_launcher.wait_ready(ports[0], timeout=120, proc=proc, log_path=log_path)
    except BaseException:
        triton_launcher.stop_triton(proc)
        raise
    return proc, f"127.0.0.1:{ports[1]}"


@pytest.fixture(scope="module")
def speaker_server(triton_venv, tmp_path_factory):
    """tritonserver with only `speaker`, the encoder installed into .local/model-store if missing."""
    run_tool("install_speaker_model.py", "--store", str(STORE), timeout=600)
    models = tmp_path_factory.mktemp("speaker-models")
    run_tool("sync_model_store.py", "--store", str(STORE), "--dest", str(models), "--kind", "speaker", "--quiet")
    proc, url = start(tmp_path_factory.mktemp("speaker-triton"), models)
    try:
        yield url
    finally:
        triton_launcher.stop_triton(proc)


def embed(url: str, clip: bytes, **parameters) -> dict:
    client = grpcclient.InferenceServerClient(url)
    try:
        tensor = grpcclient.InferInput("AUDIO", [1], "BYTES")
        tensor.set_data_from_numpy(np.array([clip], dtype=np.object_))
        result = client.infer("speaker", [tensor], parameters=parameters or None)
    finally:
        client.close()
    return {"embedding": result.as_numpy("EMBEDDING"), "window": result.as_numpy("WINDOW"),
            "speech": json.loads(result.as_numpy("SPEECH")[0]), "duration": float(result.as_numpy("DURATION_S")[0])}


def refused(url: str, clip: bytes, **parameters) -> str:
    with pytest.raises(InferenceServerException) as info:
        embed(url, clip, **parameters)
    assert "INVALID_ARG" in str(info.value.status()), info.value
    return info.value.message()


def wav(samples: np.ndarray, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1), writer.setsampwidth(2), writer.setframerate(rate)
        writer.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()


def voice(url: str, name: str) -> np.ndarray:
    """The unit mean of a clip's window embeddings."""
    found = embed(url, (SPEECH / name).read_bytes())
    mean = found["embedding"].mean(axis=0)
    return mean / np.linalg.norm(mean)


@pytest.mark.integration
@needs_speech
def test_windows_lie_in_the_speech_and_embeddings_are_unit_vectors(speaker_server):
    found = embed(speaker_server, (SPEECH / "LJ050-0131.wav").read_bytes())  # 22.05 kHz: resampled
    windows, vectors = found["window"], found["embedding"]
    assert abs(found["duration"] - 7.658) < 0.01
    assert vectors.shape == (len(windows), 256) and windows.shape[1] == 2 and len(windows) >= 3
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5) and (vectors >= 0).all()
    for start, end in windows:
        assert any(a - 1e-3 <= start and end <= b + 1e-3 for a, b in found["speech"])
        assert end - start <= 1.0 + 1e-3  # the config's window_s
    assert all(0 <= a < b <= found["duration"] + 1e-3 for a, b in found["speech"])


@pytest.mark.integration
@needs_speech
def test_one_speakers_sentences_are_closer_than_anothers(speaker_server):
    spk1 = [voice(speaker_server, f"spk1_snt{i}.wav") for i in (1, 2, 3)]
    spk2 = [voice(speaker_server, f"spk2_snt{i}.wav") for i in (1, 2, 3)]
    same = min([spk1[0] @ spk1[1], spk1[0] @ spk1[2], spk2[0] @ spk2[1], spk2[0] @ spk2[2]])
    other = max(a @ b for a in spk1 for b in spk2)
    assert same > other + 0.1, (same, other)


@pytest.mark.integration
@needs_speech
def test_regions_limit_the_windows_and_refine_off_tiles_them(speaker_server):
    clip = (SPEECH / "LJ050-0131.wav").read_bytes()
    found = embed(speaker_server, clip, regions=json.dumps([[2.0, 5.0]]), refine=False, window_s=1.0, step_s=0.5)
    assert found["speech"] == [[2.0, 5.0]]
    assert found["window"].tolist() == [[2.0 + 0.5 * i, 3.0 + 0.5 * i] for i in range(5)]
    refined = embed(speaker_server, clip, regions=json.dumps([[2.0, 5.0]]))
    assert all(2.0 - 1e-3 <= a and b <= 5.0 + 1e-3 for a, b in refined["speech"])
    silence = embed(speaker_server, wav(np.zeros(32000)))
    assert silence["embedding"].shape == (0, 256) and silence["speech"] == []


@pytest.mark.integration
def test_bad_requests_are_refused_with_the_reason(speaker_server):
    assert refused(speaker_server, b"").startswith("audio is empty")
    assert refused(speaker_server, b"RIFF0000WAVEnot audio at all").startswith("undecodable audio (28 bytes)")
    tone = wav(np.sin(np.arange(16000) / 5) * 0.3)
    assert "longer than window_s" in refused(speaker_server, tone, step_s=2.0)
    assert "parameter regions" in refused(speaker_server, tone, regions="[[3, 1]]")
    assert "normalize" in refused(speaker_server, tone, normalize="loud")
    assert "over max_audio_s=0.5" in refused(speaker_server, tone, max_audio_s=0.5)


@pytest.mark.integration
def test_a_server_without_the_encoder_refuses_with_how_to_install_it(triton_venv, tmp_path):
    proc, url = start(tmp_path, tmp_path / "no-models")
    try:
        message = refused(url, wav(np.zeros(16000)))
    finally:
        triton_launcher.stop_triton(proc)
    assert "no speaker encoder" in message and "install_speaker_model.py" in message


@pytest.mark.integration
@needs_speech
def test_the_client_sends_regions_and_reports_a_refused_clip(speaker_server):
    import asyncio

    from tasks.inference.speaker_client import TritonSpeakerClient, speaker_settings

    clip = (SPEECH / "LJ050-0131.wav").read_bytes()

    async def go():
        async with TritonSpeakerClient(speaker_settings(speaker_server, decoding={"refine": False})) as client:
            return await client.embed([clip, b"not audio", clip], [[(1.0, 3.0)], None, []])

    inside, bad, nothing = asyncio.run(go())
    assert inside.error is None and inside.speech == [(1.0, 3.0)] and inside.embeddings.shape == (3, 256)
    assert bad.error.startswith("undecodable audio (9 bytes)") and len(bad.windows) == 0
    assert nothing.error is None and len(nothing.windows) == 0  # no speech: not sent


def _io_lines(config: Path) -> list[str]:
    return re.findall(r'\{ name: "[A-Z_]+", data_type: \w+, dims: \[[^\]]*\] \}', config.read_text())


def test_gpu_config_is_a_gpu_instance_with_the_same_interface():
    cpu, gpu = MODEL_DIR / "config.pbtxt", MODEL_DIR / "configs" / "gpu.pbtxt"
    assert _io_lines(cpu) == _io_lines(gpu) and len(_io_lines(cpu)) == 5
    text = gpu.read_text()
    assert "KIND_GPU" in text and "KIND_CPU" not in text
    assert re.search(r'key: "device", value: \{ string_value: "cuda" \}', text)


def test_cuda_device_without_the_cuda_provider_fails_loudly(triton_venv):
    probe = (f"import sys; sys.path.insert(0, {str(MODEL_DIR / '1')!r}); import onnxruntime as ort; "
             "import voice_encoder\n"
             "if 'CUDAExecutionProvider' in ort.get_available_providers(): print('HAS_CUDA'); raise SystemExit(0)\n"
             f"try:\n    voice_encoder.VoiceEncoder({str(STORE / 'speaker' / 'resemblyzer-ge2e')!r}, device='cuda')\n"
             "except RuntimeError as exc:\n    print('ERROR', exc)\n")
    if not (STORE / "speaker" / "resemblyzer-ge2e" / "encoder.onnx").exists():
        run_tool("install_speaker_model.py", "--store", str(STORE), timeout=600)
    out = subprocess.run([str(TRITON_PYTHON), "-P", "-c", probe], capture_output=True, text=True, timeout=120,
                         cwd=REPO_ROOT / "triton").stdout
    if "HAS_CUDA" in out:
        pytest.skip("this onnxruntime has the CUDA provider")
    assert "ERROR" in out and "onnxruntime-gpu" in out
