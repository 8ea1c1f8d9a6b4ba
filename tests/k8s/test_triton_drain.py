"""A Triton replica drained the way the Deployment's pod spec drains it loses no call (issue 17 item 3).

Two real tritonservers (2.51, .venv-triton) with the rendered dev Deployment's args sit behind a small
TCP balancer that behaves like a ClusterIP Service under kube-proxy: it picks a ready backend per NEW
connection and never moves an established one. A gRPC client calls Triton without pause, without
retries, through the balancer. Then, as on a cluster:

1. scale-up: replica B joins the endpoints while the client's connection sits on A; with the
   server-side connection age, B receives calls from the running client (not only from new ones);
2. A is deleted: it leaves the endpoints, A's preStop command runs (drain marker, readiness false,
   wait), then SIGTERM; A exits 0.

Every call must succeed. Adapted to the machine: ports, bind addresses, the models (only `echo` is
loaded, explicit model control, no model store) and the time scale (connection age 1 s instead of
30 s, the preStop wait scaled by the same factor). Skipped without .venv-triton; ~15 s.
"""
from __future__ import annotations

import math
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.k8s.rendering import ROOT, _find, _render

TRITON_PYTHON = ROOT / ".venv-triton" / "bin" / "python"
AGE_MS = 1000

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceLikeBalancer:
    """Round-robin over `ready` backends per accepted connection; established pipes stay put."""

    def __init__(self, backends: list[int]):
        self.ready = list(backends)
        self.port = _free_port()
        self.chosen: list[int] = []  # backend of every connection, in order
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._turn = 0
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            ready = list(self.ready)
            if not ready:
                client.close()
                continue
            backend = ready[self._turn % len(ready)]
            self._turn += 1
            self.chosen.append(backend)
            try:
                upstream = socket.create_connection(("127.0.0.1", backend))
            except OSError:
                client.close()
                continue
            self._open += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._sock.close()
        for s in self._open:
            s.close()


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _echo_successes(metrics_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=3) as resp:
            text = resp.read().decode()
    except OSError:
        return 0
    match = re.search(r'^nv_inference_request_success\{model="echo",version="1"\} (\d+)', text, re.MULTILINE)
    return int(match.group(1)) if match else 0


class Replica:
    """One tritonserver started from the dev pod's container args (see the module docstring)."""

    def __init__(self, server: dict, tmp: Path, name: str, recycle: bool = True):
        from deployments.stack import triton as launcher

        self.dir = tmp / name
        self.dir.mkdir()
        self.ports = {"8000": _free_port(), "8001": _free_port(), "8002": _free_port()}
        argv = [str(launcher.pytriton_dir(ROOT) / "bin" / "tritonserver")]
        for arg in server["args"][1:]:
            arg = arg.replace("/opt/sentinel/model_repository", str(ROOT / "triton/model_repository"))
            for container_port, port in self.ports.items():
                arg = arg.replace(f"-port={container_port}", f"-port={port}")
            if arg == "--model-control-mode=none":
                arg = "--model-control-mode=explicit"
            if arg.startswith("--grpc-max-connection-age="):
                arg = f"--grpc-max-connection-age={AGE_MS}"
            if arg.startswith("--grpc-max-connection-age") and not recycle:
                continue
            argv.append(arg)
        argv += ["--load-model=echo", f"--backend-directory={launcher.prepare_backends(ROOT, self.dir / 'state')}",
                 "--http-address=127.0.0.1", "--grpc-address=127.0.0.1", "--metrics-address=127.0.0.1",
                 f"--backend-config=python,shm-region-prefix-name=k8sdrain_{self.ports['8000']}_"]
        env = launcher.triton_env(ROOT)
        env["HOME"] = str(self.dir)
        self.log = self.dir / "triton.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while _get(f"http://127.0.0.1:{self.ports['8000']}/v2/health/ready") != 200:
            assert self.proc.poll() is None, f"tritonserver exited:\n{self.log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"not ready:\n{self.log.read_text()[-3000:]}"
            time.sleep(0.2)

    def in_pod(self, command: list[str]) -> list[str]:
        return [c.replace("/tmp/", f"{self.dir}/").replace("/proc/1/", f"/proc/{self.proc.pid}/")
                 .replace("127.0.0.1:8000", f"127.0.0.1:{self.ports['8000']}") for c in command]

    def stop(self, grace_s: float) -> int | None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            return self.proc.wait(timeout=grace_s)
        except ProcessLookupError:
            return self.proc.wait()
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return None


@pytest.mark.parametrize("drain", ["pod-spec", "none"])
def test_a_replica_drained_like_the_pod_spec_says_fails_no_call(tmp_path, drain):
    """drain="pod-spec": the Deployment as it is, no call may fail. drain="none": the control, the
    spec before issue 17 (no connection age, no preStop): the running client never reaches the new
    replica and calls fail at SIGTERM, which shows the test can see what it guards against."""
    if not TRITON_PYTHON.exists():
        pytest.skip("needs .venv-triton")
    import numpy as np
    import tritonclient.grpc as grpcclient

    from deployments.stack import triton as launcher

    try:
        launcher.pytriton_dir(ROOT)
    except launcher.TritonError as exc:
        pytest.skip(str(exc))
    pod = _find(_render("dev"), "Deployment", "sentinel-triton")["spec"]["template"]["spec"]
    (server,) = pod["containers"]
    (age_pod_ms,) = [int(a.split("=")[1]) for a in server["args"] if a.startswith("--grpc-max-connection-age=")]
    prestop = server["lifecycle"]["preStop"]["exec"]["command"]
    (sleep_pod_s,) = [int(s) for s in re.findall(r"\bsleep (\d+)\s*$", prestop[-1])]
    sleep_s = math.ceil(sleep_pod_s * AGE_MS / age_pod_ms * 10) / 10  # 45 s at 30 s age -> 1.5 s at 1 s

    drained = drain == "pod-spec"
    a, b = Replica(server, tmp_path, "a", recycle=drained), Replica(server, tmp_path, "b", recycle=drained)
    balancer = None
    failures, calls, stop = [], [0], threading.Event()
    codes = {}
    try:
        a.wait_ready()
        b.wait_ready()
        balancer = ServiceLikeBalancer([a.ports["8001"]])  # only A is an endpoint yet
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{balancer.port}")
        inputs = []
        for name, value in (("TEXT", b"Guten Morgen."), ("SRC_LANG", b"de"), ("TGT_LANG", b"en")):
            tensor = grpcclient.InferInput(name, [4, 1], "BYTES")
            tensor.set_data_from_numpy(np.array([[value]] * 4, dtype=object))
            inputs.append(tensor)

        def call_continuously():
            while not stop.is_set():
                try:
                    client.infer("echo", inputs, client_timeout=30)
                    calls[0] += 1
                except Exception as exc:
                    failures.append(f"{time.monotonic():.2f} {exc}")

        caller = threading.Thread(target=call_continuously)
        caller.start()
        time.sleep(1.0)
        assert calls[0] > 0 and _echo_successes(a.ports["8002"]) > 0

        # 1. scale-up: B becomes an endpoint; the running client reaches it once A recycles its connection
        balancer.ready = [a.ports["8001"], b.ports["8001"]]
        deadline = time.monotonic() + 6 * AGE_MS / 1000
        while _echo_successes(b.ports["8002"]) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        if not drained:
            assert _echo_successes(b.ports["8002"]) == 0, "without recycling the connection stays on A"
        else:
            assert _echo_successes(b.ports["8002"]) > 0, "the new replica got no calls from the running client"

        # 2. A deleted: out of the endpoints at once, preStop (marker + scaled wait), then SIGTERM
        balancer.ready = [b.ports["8001"]]
        if not drained:
            time.sleep(0.3)  # what the endpoint update takes at most here; then SIGTERM at once
            a_calls_before_sigterm = _echo_successes(a.ports["8002"])
            codes["a"] = a.stop(pod["terminationGracePeriodSeconds"])
            time.sleep(1.0)
            return _assert_control(failures, calls, codes, a_calls_before_sigterm)
        hook = a.in_pod(prestop)
        hook[-1] = re.sub(r"\bsleep \d+\s*$", f"sleep {sleep_s}", hook[-1])
        readiness = a.in_pod(server["readinessProbe"]["exec"]["command"])
        assert subprocess.run(readiness, capture_output=True, timeout=5).returncode == 0
        hook_proc = subprocess.Popen(hook)
        deadline = time.monotonic() + 5  # the marker is written first thing; the wait goes on meanwhile
        while subprocess.run(readiness, capture_output=True, timeout=5).returncode == 0:
            assert time.monotonic() < deadline, "draining, yet ready"
            time.sleep(0.1)
        assert hook_proc.wait(timeout=sleep_s + 10) == 0
        a_calls_before_sigterm = _echo_successes(a.ports["8002"])
        codes["a"] = a.stop(pod["terminationGracePeriodSeconds"])
        calls_at_a_exit = calls[0]
        time.sleep(1.0)
        assert calls[0] > calls_at_a_exit, "calls go on through B"
    finally:
        stop.set()
        if "caller" in locals():
            caller.join(timeout=60)
        if balancer:
            balancer.close()
        codes.setdefault("a", a.stop(60))
        codes["b"] = b.stop(60)
    assert not failures, f"{len(failures)} of {calls[0] + len(failures)} calls failed: {failures[:3]}"
    assert codes["a"] == 0, "the drained replica exits cleanly"
    assert a_calls_before_sigterm > 0 and calls[0] > 20
    print(f"drain: {calls[0]} calls, 0 failed; connections chosen by the balancer: "
          f"{[('A' if p == a.ports['8001'] else 'B') for p in balancer.chosen]}")


def _assert_control(failures: list[str], calls: list[int], codes: dict, a_calls: int) -> None:
    """Called inside the try of the test; the finally still stops everything."""
    assert a_calls > 0
    times = [float(f.split()[0]) for f in failures] or [0.0]
    print(f"control (no drain): {len(failures)} of {calls[0] + len(failures)} calls failed over "
          f"{max(times) - min(times):.2f} s (a client without retries), e.g. {failures[:1]}")
    assert failures, "SIGTERM with the client's connection on A must fail calls when nothing drains"
