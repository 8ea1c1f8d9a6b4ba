"""Run the rendered dev Triton Deployment's container command lines on the local tritonserver.

The init container's sync command fills a models dir from the local model store (`make models`
builds it into .local/model-store), the dir is made read-only (the pod mounts it so), and
tritonserver 2.51 (the nvidia-pytriton build used by the local stack) is started with exactly the
Deployment's args — only paths, ports and bind addresses are adapted to this machine. Catches flags
the server does not know, a broken init command line and probe paths that do not answer.

The prod args differ only by --model-config-name=gpu / --allow-gpu-metrics=true, which need a GPU.
Skipped without .venv-triton or the local model store; a few seconds otherwise.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TRITON_PYTHON = ROOT / ".venv-triton" / "bin" / "python"
LOCAL_STORE = ROOT / ".local" / "model-store"

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rendered_triton_pod(overlay: str) -> dict:
    kubectl = shutil.which("kubectl")
    cmd = [kubectl, "kustomize"] if kubectl else [shutil.which("kustomize") or "", "build"]
    if not cmd[0]:
        pytest.skip("neither kubectl nor kustomize is on PATH")
    out = subprocess.run([*cmd, str(ROOT / "k8s/overlays" / overlay)], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    (deploy,) = [d for d in yaml.safe_load_all(out)
                 if d and d["kind"] == "Deployment" and d["metadata"]["name"] == "sentinel-triton"]
    return deploy["spec"]["template"]["spec"]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


def test_grace_period_covers_triton_exit_timeout():
    pod = _rendered_triton_pod("prod")
    (server,) = pod["containers"]
    (timeout,) = [int(a.split("=")[1]) for a in server["args"] if a.startswith("--exit-timeout-secs=")]
    assert timeout < pod["terminationGracePeriodSeconds"]
    assert server["args"][0] == "tritonserver" and "command" not in server, "keep the NGC entrypoint"


def test_dev_deployment_command_lines_start_triton(tmp_path):
    if not TRITON_PYTHON.exists() or not any(LOCAL_STORE.glob("translate/*/sentinel-model.json")):
        pytest.skip("needs .venv-triton and the local model store (make models)")
    sys.path.insert(0, str(ROOT))
    from deployments.stack import triton as launcher

    try:
        tritonserver = launcher.pytriton_dir(ROOT) / "bin" / "tritonserver"
    except launcher.TritonError as exc:
        pytest.skip(str(exc))

    pod = _rendered_triton_pod("dev")
    (init,) = pod["initContainers"]
    (server,) = pod["containers"]

    # init container, as written in the manifest: python3 <tool> --store $(SENTINEL_MODEL_STORE) --dest /models ...
    models = tmp_path / "models"
    assert init["command"][0] == "python3"
    tool = ROOT / "triton/tools" / Path(init["command"][1]).name
    args = [a.replace("$(SENTINEL_MODEL_STORE)", str(LOCAL_STORE)) for a in init["args"]]
    args = [str(models) if a == "/models" else a for a in args]
    subprocess.run([str(TRITON_PYTHON), str(tool), *args], check=True, timeout=300, capture_output=True)
    for path in [models, *models.rglob("*")]:  # mounted readOnly in the pod
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))

    ports = {"8000": _free_port(), "8001": _free_port(), "8002": _free_port()}
    argv = [str(tritonserver)]
    for arg in server["args"][1:]:
        arg = arg.replace("/opt/sentinel/model_repository", str(ROOT / "triton/model_repository"))
        for container_port, port in ports.items():
            arg = arg.replace(f"-port={container_port}", f"-port={port}")
        argv.append(arg)
    argv += [f"--backend-directory={launcher.prepare_backends(ROOT, tmp_path / 'state')}",
             "--http-address=127.0.0.1", "--grpc-address=127.0.0.1", "--metrics-address=127.0.0.1",
             f"--backend-config=python,shm-region-prefix-name=k8stest_{ports['8000']}_"]
    env = launcher.triton_env(ROOT)
    env.update({e["name"]: e["value"] for e in server["env"] if "value" in e})
    env["SENTINEL_MODELS_DIR"] = str(models)  # /models in the pod
    env["HOME"] = str(tmp_path)
    log = tmp_path / "triton.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    http = f"http://127.0.0.1:{ports['8000']}"
    try:
        deadline = time.monotonic() + 120
        ready = server["startupProbe"]["httpGet"]["path"]
        while _get(http + ready)[0] != 200:
            assert proc.poll() is None, f"tritonserver exited {proc.returncode}:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"not ready:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        assert _get(http + server["livenessProbe"]["httpGet"]["path"])[0] == 200
        assert _get(http + server["readinessProbe"]["httpGet"]["path"])[0] == 200
        for model in ("translate", "echo"):
            assert _get(f"{http}/v2/models/{model}/ready")[0] == 200, model
        status, metrics = _get(f"http://127.0.0.1:{ports['8002']}/metrics")
        assert status == 200 and "nv_inference_request_success" in metrics
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            code = proc.wait(timeout=pod["terminationGracePeriodSeconds"])
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
        for path in [models, *models.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert code == 0, "tritonserver must stop cleanly within the pod's grace period"
