"""Fixtures for the Triton tests: tiny models built into a tmp store, a real tritonserver on free ports.

Needs .venv-triton (make setup); tests that need it are skipped with a reason when it is missing.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = REPO_ROOT / "triton" / "tools"
TRITON_PYTHON = REPO_ROOT / ".venv-triton" / "bin" / "python"
TINY_PAIRS = ("de-en", "fr-en")

if str(REPO_ROOT) not in sys.path:
    sys.path.append(str(REPO_ROOT))  # deployments.stack when the package is not installed
sys.path.insert(0, str(TOOLS_DIR))  # model_store, sync_model_store, ... (stdlib-only imports)

from deployments.stack import triton as triton_launcher  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_tool(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run triton/tools/<script> with .venv-triton's interpreter; fail with its output."""
    proc = subprocess.run([str(TRITON_PYTHON), str(TOOLS_DIR / script), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=TOOLS_DIR)
    if proc.returncode != 0:
        pytest.fail(f"{script} {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def triton_venv() -> Path:
    if not TRITON_PYTHON.exists():
        pytest.skip(".venv-triton missing (run `make setup`)")
    try:
        triton_launcher.pytriton_dir(REPO_ROOT)
    except triton_launcher.TritonError as exc:
        pytest.skip(str(exc))
    return TRITON_PYTHON


@pytest.fixture(scope="session")
def tiny_store(triton_venv, tmp_path_factory) -> Path:
    """A model store with tiny marian de-en, fr-en and nllb-tiny (en/de/fr); Marian HF dirs kept in ../hf."""
    root = tmp_path_factory.mktemp("model-store")
    store, hf = root / "store", root / "hf"
    build_all = (  # one process: torch/transformers are imported once
        f"import sys; sys.path.insert(0, {str(TOOLS_DIR)!r}); import build_tiny_marian, build_tiny_nllb; "
        f"build_tiny_marian.main(['--pairs', {','.join(TINY_PAIRS)!r}, '--store', {str(store)!r}, "
        f"'--keep-hf', {str(hf)!r}]); build_tiny_nllb.main(['--store', {str(store)!r}])")
    # -P + cwd elsewhere: the repo's triton/ dir must not shadow the `triton` package torch probes for
    proc = subprocess.run([str(TRITON_PYTHON), "-P", "-c", build_all], capture_output=True, text=True,
                          timeout=300, cwd=root)
    if proc.returncode != 0:
        pytest.fail(f"building tiny models failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return store


@pytest.fixture(scope="session")
def tiny_models_dir(tiny_store, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("triton-models")
    run_tool("sync_model_store.py", "--store", str(tiny_store), "--dest", str(dest), "--quiet")
    return dest


class TritonServer:
    def __init__(self, proc: subprocess.Popen, http_port: int, grpc_port: int, metrics_port: int, log_path: Path):
        self.proc, self.log_path = proc, log_path
        self.http_port, self.grpc_port, self.metrics_port = http_port, grpc_port, metrics_port
        self.http_url, self.grpc_url = f"127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}"


def start_server(state_dir: Path, models_dir: Path, config_name: str | None = None) -> TritonServer:
    ports = free_port(), free_port(), free_port()
    log_path = state_dir / "tritonserver.log"
    proc = triton_launcher.start_triton(
        repo_root=REPO_ROOT, state_dir=state_dir, model_repository=REPO_ROOT / "triton" / "model_repository",
        models_dir=models_dir, http_port=ports[0], grpc_port=ports[1], metrics_port=ports[2],
        config_name=config_name, log_path=log_path)
    return TritonServer(proc, *ports, log_path)


@pytest.fixture(scope="module")
def triton_server(tiny_models_dir, tmp_path_factory):
    """tritonserver (echo + translate with the tiny models) on free ports; stopped after the module."""
    server = start_server(tmp_path_factory.mktemp("triton-state"), tiny_models_dir)
    try:
        started = time.monotonic()
        triton_launcher.wait_ready(server.http_port, timeout=90, proc=server.proc, log_path=server.log_path)
        server.startup_seconds = time.monotonic() - started
        yield server
    finally:
        triton_launcher.stop_triton(server.proc)
