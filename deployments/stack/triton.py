"""Run the real tritonserver (shipped in the nvidia-pytriton wheel) from .venv-triton.

Stdlib only: importable from the main venv, the Makefile and test fixtures. The server binds
127.0.0.1 only (gRPC: another loopback address where asked). Its python backend runs model.py files
with .venv-triton's interpreter: the 3.11 backend stub is copied next to libtriton_python.so and
.venv-triton/bin goes first on PATH.
"""
from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
PYTHON_VERSION = "3.11"


class TritonError(RuntimeError):
    """tritonserver could not be prepared, started or did not become ready."""


def triton_venv(repo_root: Path) -> Path:
    return Path(repo_root) / ".venv-triton"


def pytriton_dir(repo_root: Path) -> Path:
    path = triton_venv(repo_root) / "lib" / f"python{PYTHON_VERSION}" / "site-packages" / "pytriton" / "tritonserver"
    if not (path / "bin" / "tritonserver").exists():
        raise TritonError(f"no tritonserver under {path}; install requirements/triton.txt into .venv-triton")
    return path


@functools.cache
def python_libdir(venv_python: str) -> str:
    """The interpreter's LIBDIR (where libpython3.11.so lives), needed by the backend stub."""
    out = subprocess.run([venv_python, "-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def triton_env(repo_root: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for tritonserver: venv first on PATH, bundled libs + libpython on LD_LIBRARY_PATH."""
    env = dict(os.environ if base is None else base)
    venv = triton_venv(repo_root)
    libs = pytriton_dir(repo_root).parent.parent / "nvidia_pytriton.libs"
    lib_path = [str(libs), python_libdir(str(venv / "bin" / "python"))]
    if env.get("LD_LIBRARY_PATH"):
        lib_path.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = ":".join(lib_path)
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["VIRTUAL_ENV"] = str(venv)
    env.pop("PYTHONHOME", None)
    env.pop("PYTHONPATH", None)
    return env


def prepare_backends(repo_root: Path, state_dir: Path) -> Path:
    """Copy the python backend + the 3.11 stub to <state_dir>/triton/backends; return that dir."""
    src = pytriton_dir(repo_root)
    backends = Path(state_dir) / "triton" / "backends"
    target = backends / "python"
    target.mkdir(parents=True, exist_ok=True)
    files = [(p, target / p.name) for p in (src / "backends" / "python").iterdir() if p.is_file()]
    files.append((src / "python_backend_stubs" / PYTHON_VERSION / "triton_python_backend_stub",
                  target / "triton_python_backend_stub"))
    for source, dest in files:
        if not dest.exists() or dest.stat().st_size != source.stat().st_size \
                or dest.stat().st_mtime < source.stat().st_mtime:
            shutil.copy2(source, dest)
    return backends


def tritonserver_argv(*, repo_root: Path, backends: Path, model_repository: Path, http_port: int,
                      grpc_port: int, metrics_port: int, config_name: str | None = None,
                      model_control_mode: str = "none", grpc_address: str = HOST,
                      extra_args: tuple[str, ...] = ()) -> list[str]:
    """tritonserver's command line. `model_control_mode="explicit"`: every model is loaded at start
    and can then be unloaded / loaded through the repository API (the chaos suite's model reloads).
    `grpc_address`: another loopback address for gRPC (replicas that share one port and one DNS name,
    tests/reliability/triton_replicas.py); HTTP and metrics stay on 127.0.0.1."""
    if model_control_mode not in ("none", "explicit"):
        raise TritonError(f"model_control_mode {model_control_mode!r}: choose none or explicit")
    argv = [
        str(pytriton_dir(repo_root) / "bin" / "tritonserver"),
        f"--model-repository={model_repository}",
        f"--backend-directory={backends}",
        f"--cache-directory={pytriton_dir(repo_root) / 'caches'}",
        f"--model-control-mode={model_control_mode}",
        *(["--load-model=*"] if model_control_mode == "explicit" else []),
        "--exit-on-error=true",
        "--strict-readiness=true",
        "--disable-auto-complete-config",
        f"--http-address={HOST}", f"--http-port={http_port}",
        f"--grpc-address={grpc_address}", f"--grpc-port={grpc_port}",
        "--allow-metrics=true", f"--metrics-address={HOST}", f"--metrics-port={metrics_port}",
        # two servers on one host (stack + tests) must not share python-backend shm region names
        f"--backend-config=python,shm-region-prefix-name=sentinel_{http_port}_",
        "--log-verbose=0",
        *extra_args,
    ]
    if config_name:
        argv.append(f"--model-config-name={config_name}")
    return argv


def start_triton(*, repo_root: Path, state_dir: Path, model_repository: Path, models_dir: Path,
                 http_port: int, grpc_port: int, metrics_port: int, config_name: str | None = None,
                 log_path: Path, model_control_mode: str = "none", grpc_address: str = HOST,
                 extra_args: tuple[str, ...] = ()) -> subprocess.Popen:
    """Start tritonserver detached (own session) with SENTINEL_MODELS_DIR=models_dir; log to log_path."""
    backends = prepare_backends(repo_root, state_dir)
    argv = tritonserver_argv(repo_root=repo_root, backends=backends, model_repository=model_repository,
                             http_port=http_port, grpc_port=grpc_port, metrics_port=metrics_port,
                             config_name=config_name, model_control_mode=model_control_mode,
                             grpc_address=grpc_address, extra_args=extra_args)
    env = triton_env(repo_root)
    env["SENTINEL_MODELS_DIR"] = str(Path(models_dir).resolve())
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=str(state_dir), start_new_session=True)


def is_ready(http_port: int, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{http_port}/v2/health/ready", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_ready(http_port: int, timeout: float = 120.0, proc: subprocess.Popen | None = None,
               log_path: Path | None = None) -> None:
    """Poll /v2/health/ready until 200; fail early (with the log tail) if `proc` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_ready(http_port):
            return
        if proc is not None and proc.poll() is not None:
            raise TritonError(f"tritonserver exited with {proc.returncode} during start-up{_tail(log_path)}")
        time.sleep(0.5)
    raise TritonError(f"tritonserver not ready on port {http_port} after {timeout:.0f}s{_tail(log_path)}")


def stop_triton(proc: subprocess.Popen, timeout: float = 30.0) -> int | None:
    """SIGTERM the server's process group (server + backend stubs), SIGKILL after `timeout`."""
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
    return proc.returncode


def _tail(log_path: Path | None, lines: int = 10) -> str:
    """Error lines and the last lines of the log (without Triton's big status tables)."""
    if log_path is None or not Path(log_path).exists():
        return ""
    text = [ln for ln in Path(log_path).read_text(errors="replace").splitlines() if ln and ln[0] not in "|+"]
    errors = [ln for ln in text if ln.startswith("E") or ln.startswith("error")][-lines:]
    return f"; {log_path}:\n" + "\n".join(dict.fromkeys(errors + text[-lines:]))
