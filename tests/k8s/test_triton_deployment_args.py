"""Run the rendered dev Triton Deployment's container command lines on the local tritonserver.

The init container's sync command fills a models dir from the local model store (`make models`
builds it into .local/model-store), the dir is made read-only (the pod mounts it so), and
tritonserver 2.51 (the nvidia-pytriton build used by the local stack) is started with exactly the
Deployment's args — only paths, ports, bind addresses and (to keep the test short) the gRPC
connection age are adapted to this machine. Catches flags the server does not know, a broken init
command line and probe paths that do not answer, and runs the drain sequence of a terminating pod:
the readiness command, gRPC connections recycled without a failed call, the preStop command turning
readiness false while the server still serves, then SIGTERM and a clean exit.

The prod args differ only by --model-config-name=gpu / --allow-gpu-metrics=true, which need a GPU
(checked statically below). Skipped without .venv-triton or the local model store; ~15 s otherwise.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.k8s.rendering import _find, _render

ROOT = Path(__file__).resolve().parents[2]
TRITON_PYTHON = ROOT / ".venv-triton" / "bin" / "python"
LOCAL_STORE = ROOT / ".local" / "model-store"

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rendered_triton_pod(overlay: str) -> dict:
    return _find(_render(overlay), "Deployment", "sentinel-triton")["spec"]["template"]["spec"]


def _flag(args: list[str], name: str) -> int:
    (value,) = [int(a.split("=", 1)[1]) for a in args if a.startswith(f"--{name}=")]
    return value


def _prestop_sleep_s(server: dict) -> int:
    (seconds,) = re.findall(r"\bsleep (\d+)\s*$", server["lifecycle"]["preStop"]["exec"]["command"][-1])
    return int(seconds)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


# Seconds the endpoint controller + kube-proxy may take to stop sending new connections to a deleted pod.
ENDPOINT_PROPAGATION_S = 5


def test_drain_timeline_fits_the_grace_period():
    """preStop outlasts the recycling of every gRPC connection; the grace period covers preStop plus
    tritonserver's own wait for in-flight inferences; a recycled connection's calls are not cut
    before the client's own timeout."""
    from tasks.inference.client import TritonCallSettings

    pod = _rendered_triton_pod("prod")
    (server,) = pod["containers"]
    args = server["args"]
    assert args[0] == "tritonserver" and "command" not in server, "keep the NGC entrypoint"
    exit_timeout = _flag(args, "exit-timeout-secs")
    age_s = _flag(args, "grpc-max-connection-age") / 1000
    age_grace_s = _flag(args, "grpc-max-connection-age-grace") / 1000
    prestop = _prestop_sleep_s(server)
    assert prestop >= 1.1 * age_s + ENDPOINT_PROPAGATION_S, "gRPC core jitters the max age by +-10 %"
    assert pod["terminationGracePeriodSeconds"] >= prestop + exit_timeout + 10
    assert age_grace_s >= TritonCallSettings().timeout_s
    readiness = server["readinessProbe"]
    assert readiness["failureThreshold"] == 1 and readiness["periodSeconds"] <= 5, "unready within 5 s of draining"
    assert readiness["timeoutSeconds"] < readiness["periodSeconds"]


def test_dev_and_prod_triton_args_differ_only_by_gpu_flags():
    (dev,) = _rendered_triton_pod("dev")["containers"]
    (prod,) = _rendered_triton_pod("prod")["containers"]
    assert set(prod["args"]) - set(dev["args"]) == {"--model-config-name=gpu", "--allow-gpu-metrics=true"}
    assert set(dev["args"]) - set(prod["args"]) == {"--allow-gpu-metrics=false"}
    for key in ("readinessProbe", "livenessProbe", "startupProbe", "lifecycle", "ports", "env"):
        assert dev[key] == prod[key], key


def _echo_inputs(grpcclient, np):
    inputs = []
    for name, value in (("TEXT", b"Guten Morgen."), ("SRC_LANG", b"de"), ("TGT_LANG", b"en")):
        tensor = grpcclient.InferInput(name, [4, 1], "BYTES")
        tensor.set_data_from_numpy(np.array([[value]] * 4, dtype=object))
        inputs.append(tensor)
    return inputs


def _client_connections(grpc_port: int) -> set[str] | None:
    """Peer addresses of the established connections to the server's gRPC port (None without `ss`)."""
    if not shutil.which("ss"):
        return None
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{grpc_port} )"],
                         capture_output=True, text=True, timeout=10).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def test_dev_deployment_command_lines_start_and_drain_triton(tmp_path):
    if not TRITON_PYTHON.exists() or not any(LOCAL_STORE.glob("translate/*/sentinel-model.json")):
        pytest.skip("needs .venv-triton and the local model store (make models)")
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import tritonclient.grpc as grpcclient

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
    age_ms = 1000  # the pod's 30 s, shortened so that a few recyclings fit in the test
    argv = [str(tritonserver)]
    for arg in server["args"][1:]:
        arg = arg.replace("/opt/sentinel/model_repository", str(ROOT / "triton/model_repository"))
        for container_port, port in ports.items():
            arg = arg.replace(f"-port={container_port}", f"-port={port}")
        if arg.startswith("--grpc-max-connection-age="):
            arg = f"--grpc-max-connection-age={age_ms}"
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

    def in_pod(command: list[str]) -> list[str]:
        """A probe/hook command of the manifest, with the pod's paths and ports mapped to this machine
        (/tmp is the pod's emptyDir, /proc/1 its tritonserver)."""
        return [c.replace("/tmp/", f"{tmp_path}/").replace("/proc/1/", f"/proc/{proc.pid}/")
                 .replace("127.0.0.1:8000", f"127.0.0.1:{ports['8000']}") for c in command]

    def ready() -> int:
        return subprocess.run(in_pod(server["readinessProbe"]["exec"]["command"]), capture_output=True,
                              timeout=server["readinessProbe"]["timeoutSeconds"]).returncode

    http = f"http://127.0.0.1:{ports['8000']}"
    code = None
    try:
        deadline = time.monotonic() + 120
        while _get(http + server["startupProbe"]["httpGet"]["path"])[0] != 200:
            assert proc.poll() is None, f"tritonserver exited {proc.returncode}:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"not ready:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        assert _get(http + server["livenessProbe"]["httpGet"]["path"])[0] == 200
        assert ready() == 0
        # every model of the repository is served (--model-control-mode=none), embed included
        models_in_repo = sorted(p.parent.name for p in (ROOT / "triton/model_repository").glob("*/config.pbtxt"))
        assert {"translate", "echo"} <= set(models_in_repo)
        for model in models_in_repo:
            assert _get(f"{http}/v2/models/{model}/ready")[0] == 200, model
        status, metrics = _get(f"http://127.0.0.1:{ports['8002']}/metrics")
        assert status == 200 and "nv_inference_request_success" in metrics
        for series in ("nv_inference_pending_request_count", "nv_inference_queue_duration_us"):
            assert series in metrics, f"{series}: the HPA's prometheus-adapter rules read it"

        # a marker left by an earlier container of the pod (restarted after a liveness failure) is ignored
        (tmp_path / "sentinel-draining").write_text("1\n")
        assert ready() == 0

        # gRPC connections are recycled (GOAWAY at max age) while calls go on: no call fails
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{ports['8001']}")
        failures, calls, stop, peers = [], [0], threading.Event(), set()

        def call_continuously():
            while not stop.is_set():
                try:
                    client.infer("echo", _echo_inputs(grpcclient, np))
                    calls[0] += 1
                except Exception as exc:
                    failures.append(str(exc))

        caller = threading.Thread(target=call_continuously)
        caller.start()
        try:
            until = time.monotonic() + 3.5 * age_ms / 1000
            while time.monotonic() < until:
                peers |= _client_connections(ports["8001"]) or set()
                time.sleep(0.05)
        finally:
            stop.set()
            caller.join(timeout=30)
        assert not failures, failures[:3]
        assert calls[0] > 10
        if shutil.which("ss"):
            assert len(peers) >= 2, f"one connection for {3.5 * age_ms} ms: max connection age not applied"

        # preStop (its wait shortened): readiness false at once, while the server still serves
        hook = in_pod(server["lifecycle"]["preStop"]["exec"]["command"])
        hook[-1] = re.sub(r"\bsleep \d+\s*$", "sleep 0", hook[-1])
        subprocess.run(hook, check=True, timeout=10)
        assert ready() != 0, "readiness must turn false as soon as draining starts"
        assert _get(http + server["livenessProbe"]["httpGet"]["path"])[0] == 200
        assert client.infer("echo", _echo_inputs(grpcclient, np)).as_numpy("TRANSLATION").shape == (4, 1)
        client.close()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # what the kubelet sends after preStop
            code = proc.wait(timeout=pod["terminationGracePeriodSeconds"])
        except ProcessLookupError:  # already gone: an assertion above says why
            code = proc.wait()
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for path in [models, *models.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert code == 0, "tritonserver must stop cleanly within the pod's grace period"
