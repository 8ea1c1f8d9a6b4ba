"""Standalone tritonservers for the restart scenarios: each on its own free ports (from 10000 up by
default, never the shared stack's), serving triton/model_repository with the tiny models of the shared
store (echo, the Marian translate models, Whisper tiny.en), stopped the way a cluster stops them.

    server = TritonServer.start(state_dir / "a", model_control_mode="explicit")
    server.graceful_stop()      # SIGTERM to tritonserver's process group: drain, unload, exit
    server.restart()            # the same ports again
    server.unload("echo"); server.load("echo")
    server.kill()               # SIGKILL (a crash)
    server.stop()

Every process stopped here is one this module started (its own Popen).
"""
from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from deployments.stack import triton as launcher
from deployments.stack.processes import stop_group
from tests.reliability.private_stack import REPO_ROOT, link_model_store, pick_ports

MODEL_REPOSITORY = REPO_ROOT / "triton" / "model_repository"
# `sentinel stack down` waits this long before SIGKILL (deployments/stack/local_stack.py STOP_TIMEOUTS_S)
STOP_TIMEOUT_S = 40.0


def sync_models(state_dir: Path) -> Path:
    """<state>/triton/models from the shared store's tiny models (the same tool the stack uses)."""
    store, dest = link_model_store(state_dir), state_dir / "triton" / "models"
    subprocess.run([str(REPO_ROOT / ".venv-triton" / "bin" / "python"),
                    str(REPO_ROOT / "triton" / "tools" / "sync_model_store.py"),
                    "--store", str(store), "--dest", str(dest), "--quiet"], check=True, timeout=300)
    return dest


@dataclass
class TritonServer:
    state_dir: Path
    http_port: int
    grpc_port: int
    metrics_port: int
    model_control_mode: str = "none"
    models: tuple[str, ...] | None = None  # a subset of the repository's models (None: all of them)
    grpc_host: str = "127.0.0.1"  # another loopback address: replicas behind one name (triton_replicas.py)
    extra_args: tuple[str, ...] = ()  # more tritonserver flags (e.g. --grpc-max-connection-age=...)
    proc: subprocess.Popen | None = None
    starts: list[float] = field(default_factory=list)  # seconds each start took until ready

    @classmethod
    def start(cls, state_dir: Path, model_control_mode: str = "none", models: tuple[str, ...] | None = None,
              port_base: int | None = None, timeout: float = 240, grpc_host: str = "127.0.0.1",
              grpc_port: int | None = None, extra_args: tuple[str, ...] = ()) -> TritonServer:
        state_dir.mkdir(parents=True, exist_ok=True)
        saved = state_dir / "triton-ports.json"
        if saved.exists():
            ports = json.loads(saved.read_text())
        else:
            picked = pick_ports(port_base) if port_base else pick_ports()
            ports = {k.removeprefix("triton_"): v for k, v in picked.items() if k.startswith("triton_")}
            if grpc_port:
                ports["grpc_port"] = grpc_port
            saved.write_text(json.dumps(ports))
        server = cls(state_dir, model_control_mode=model_control_mode, models=models, grpc_host=grpc_host,
                     extra_args=tuple(extra_args), **ports)
        server.restart(timeout)
        return server

    @property
    def grpc_url(self) -> str:
        return f"{self.grpc_host}:{self.grpc_port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "logs" / "triton.log"

    @property
    def model_repository(self) -> Path:
        """triton/model_repository, or a dir of links to the chosen models of it."""
        if self.models is None:
            return MODEL_REPOSITORY
        repository = self.state_dir / "model-repository"
        repository.mkdir(parents=True, exist_ok=True)
        for name in self.models:
            link = repository / name
            if not link.exists():
                link.symlink_to(MODEL_REPOSITORY / name, target_is_directory=True)
        return repository

    def restart(self, timeout: float = 240) -> float:
        """Start (again) on the same ports; returns the seconds until ready."""
        assert self.proc is None or self.proc.poll() is not None, "still running"
        started = time.monotonic()
        models = self.state_dir / "triton" / "models"
        if not models.exists():
            sync_models(self.state_dir)
        self.proc = launcher.start_triton(
            repo_root=REPO_ROOT, state_dir=self.state_dir, model_repository=self.model_repository, models_dir=models,
            http_port=self.http_port, grpc_port=self.grpc_port, metrics_port=self.metrics_port,
            log_path=self.log_path, model_control_mode=self.model_control_mode, grpc_address=self.grpc_host,
            extra_args=self.extra_args)
        launcher.wait_ready(self.http_port, timeout, proc=self.proc, log_path=self.log_path)
        self.starts.append(time.monotonic() - started)
        return self.starts[-1]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def graceful_stop(self, timeout: float = STOP_TIMEOUT_S) -> tuple[str, float]:
        """SIGTERM the process group, as `sentinel stack down --services triton` does (a second
        SIGTERM after 10 s, SIGKILL at `timeout`); returns what stopped it and the seconds it took."""
        assert self.running()
        started = time.monotonic()
        how = stop_group(self.proc.pid, timeout)
        self.proc.wait(10)
        self._clean_shm()
        return how, time.monotonic() - started

    def kill(self) -> None:
        assert self.running()
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(15)
        self._clean_shm()

    def stop(self) -> None:
        if self.running():
            launcher.stop_triton(self.proc, timeout=30)
        self._clean_shm()

    def _clean_shm(self) -> None:  # the python backend's regions outlive a SIGKILL
        for path in glob.glob(f"/dev/shm/sentinel_{self.http_port}_*"):
            Path(path).unlink(missing_ok=True)

    # ---- model control (explicit mode) ------------------------------------------------------------
    def _post(self, path: str, timeout: float = 240) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            assert response.status == 200, response.status

    def unload(self, model: str) -> None:
        self._post(f"/v2/repository/models/{model}/unload")

    def load(self, model: str) -> float:
        started = time.monotonic()
        self._post(f"/v2/repository/models/{model}/load")
        return time.monotonic() - started

    def model_state(self, model: str) -> str | None:
        """The repository index's state of `model`: READY, UNLOADING, UNAVAILABLE (unloaded), LOADING..."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}/v2/repository/index", data=b"{}",
                                         method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            states = [m.get("state") for m in json.loads(response.read()) if m.get("name") == model]
        return states[0] if states else None

    def wait_unloaded(self, model: str, timeout: float = 120) -> float:
        """Until the model's last version is gone (an unload first waits for the requests in flight)."""
        started = time.monotonic()
        while self.model_state(model) not in ("UNAVAILABLE", None):
            if time.monotonic() - started > timeout:
                raise AssertionError(f"model {model} still {self.model_state(model)} after {timeout:.0f}s")
            time.sleep(0.1)
        return time.monotonic() - started

    def model_ready(self, model: str) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/v2/models/{model}/ready",
                                        timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def wait_model(self, model: str, ready: bool, timeout: float = 60) -> float:
        started = time.monotonic()
        while self.model_ready(model) != ready:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"model {model} not {'ready' if ready else 'gone'} after {timeout:.0f}s")
            time.sleep(0.1)
        return time.monotonic() - started
