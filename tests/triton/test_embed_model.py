"""Triton model `embed` on a real tritonserver serving only it: the in-process encoder's vectors
within the stated tolerance, rows independent of their batch, concurrent requests, bad requests,
and a GPU config that fails loudly without the CUDA provider."""
from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from triton_fixtures import REPO_ROOT, TRITON_PYTHON, free_port, triton_launcher
from tritonclient.utils import InferenceServerException

MODEL_DIR = REPO_ROOT / "triton" / "model_repository" / "embed"
VECTOR_COSINE_MIN = 0.9999  # tolerance vs the in-process numpy encoder (measured: >= 0.999999)
TEXTS = [
    "Die Phoneme werden dem übergeordneten Sprachsystem zugeordnet.",
    "Phonemes are assigned to the superordinate language system.",
    "The staff were very friendly and helpful.",
    "スタッフはとても親切でした。",
    "员工非常友好和乐于助人。",
    "Сотрудники были очень дружелюбны.",
    "",
    "ok",
    "Prix : 12,50 € (TVA 20 %) — voir https://example.org/a?b=1 😀",
    " ".join(["Ein sehr langer Satz über das Wetter und die Sprache"] * 40),
]


def _infer(url: str, texts: list, model: str = "embed") -> np.ndarray:
    client = grpcclient.InferenceServerClient(url)
    try:
        tensor = grpcclient.InferInput("TEXT", [len(texts), 1], "BYTES")
        tensor.set_data_from_numpy(np.array([t if isinstance(t, bytes) else t.encode() for t in texts],
                                            dtype=np.object_).reshape(-1, 1))
        return client.infer(model, [tensor]).as_numpy("EMBEDDING")
    finally:
        client.close()


@pytest.fixture(scope="module")
def embed_server(triton_venv, tmp_path_factory):
    """tritonserver with a repository holding only `embed` (linked to the source dir)."""
    root = tmp_path_factory.mktemp("embed-triton")
    repository = root / "repository"
    repository.mkdir()
    (repository / "embed").symlink_to(MODEL_DIR, target_is_directory=True)
    ports = free_port(), free_port(), free_port()
    log_path = root / "tritonserver.log"
    proc = triton_launcher.start_triton(repo_root=REPO_ROOT, state_dir=root, model_repository=repository,
                                        models_dir=root, http_port=ports[0], grpc_port=ports[1],
                                        metrics_port=ports[2], log_path=log_path)
    try:
        triton_launcher.wait_ready(ports[0], timeout=120, proc=proc, log_path=log_path)
        yield f"127.0.0.1:{ports[1]}"
    finally:
        triton_launcher.stop_triton(proc)


@pytest.mark.integration
def test_vectors_match_the_in_process_encoder(embed_server):
    from tasks.guards.mt.similarity import embed

    served = _infer(embed_server, TEXTS)
    local = embed(TEXTS)
    assert served.shape == (len(TEXTS), 512) and served.dtype == np.float32
    assert np.allclose(np.linalg.norm(served, axis=1), 1.0, atol=1e-5)
    assert np.einsum("ij,ij->i", served, local).min() >= VECTOR_COSINE_MIN


@pytest.mark.integration
def test_a_row_does_not_depend_on_its_batch(embed_server):
    alone = np.concatenate([_infer(embed_server, [text]) for text in TEXTS])
    together = _infer(embed_server, TEXTS[::-1])[::-1]
    assert np.allclose(alone, together, atol=1e-5)


@pytest.mark.integration
def test_concurrent_requests_get_their_own_rows(embed_server):
    expected = _infer(embed_server, TEXTS)
    requests = [TEXTS[i:] + TEXTS[:i] for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda texts: _infer(embed_server, texts), requests))
    for i, vectors in enumerate(results):
        assert np.allclose(vectors, np.roll(expected, -i, axis=0), atol=1e-5)


@pytest.mark.integration
def test_invalid_utf8_is_replaced_not_refused(embed_server):
    bad, replaced = _infer(embed_server, [b"caf\xe9 au lait", "caf\ufffd au lait"])
    assert np.allclose(bad, replaced, atol=1e-6)


@pytest.mark.integration
def test_a_request_without_text_is_refused(embed_server):
    client = grpcclient.InferenceServerClient(embed_server)
    try:
        tensor = grpcclient.InferInput("WORDS", [1, 1], "BYTES")
        tensor.set_data_from_numpy(np.array([b"x"], dtype=np.object_).reshape(1, 1))
        with pytest.raises(InferenceServerException, match="WORDS|TEXT"):
            client.infer("embed", [tensor])
    finally:
        client.close()


def _io_lines(config: Path) -> list[str]:
    text = config.read_text()
    return re.findall(r'\{ name: "[A-Z]+", data_type: \w+, dims: \[ \d+ \] \}', text)


def test_gpu_config_is_a_gpu_instance_with_the_same_interface():
    cpu, gpu = MODEL_DIR / "config.pbtxt", MODEL_DIR / "configs" / "gpu.pbtxt"
    assert _io_lines(cpu) == _io_lines(gpu) and len(_io_lines(cpu)) == 2
    text = gpu.read_text()
    assert "KIND_GPU" in text and "KIND_CPU" not in text
    assert re.search(r'key: "device", value: \{ string_value: "cuda" \}', text)
    assert 'key: "device", value: { string_value: "cpu" }' in cpu.read_text()


def test_cuda_device_without_the_cuda_provider_fails_loudly(triton_venv):
    """On a machine whose onnxruntime has no CUDAExecutionProvider, device cuda is an error naming
    onnxruntime-gpu, not a quiet CPU fallback (skipped where the provider exists)."""
    probe = (f"import sys; sys.path.insert(0, {str(MODEL_DIR / '1')!r}); import onnxruntime as ort; "
             "import use_onnx\n"
             "if 'CUDAExecutionProvider' in ort.get_available_providers(): print('HAS_CUDA'); raise SystemExit(0)\n"
             "try:\n    use_onnx.UseOnnxEncoder(device='cuda')\n"
             "except RuntimeError as exc:\n    print('ERROR', exc)\n")
    out = subprocess.run([str(TRITON_PYTHON), "-P", "-c", probe], capture_output=True, text=True, timeout=120,
                         cwd=REPO_ROOT / "triton").stdout
    if "HAS_CUDA" in out:
        pytest.skip("this onnxruntime has the CUDA provider")
    assert "ERROR" in out and "onnxruntime-gpu" in out
