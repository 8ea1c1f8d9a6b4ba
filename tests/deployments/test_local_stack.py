"""The local stack's S3: starts on the ports it is given, binds 127.0.0.1 only, keeps its
data across restarts, stops cleanly by PID."""
import socket
import subprocess
import sys
import time
from dataclasses import replace

import boto3
import pytest

from deployments.stack import seaweedfs
from deployments.stack.config import StackConfig, local_s3_identity
from deployments.stack.processes import read_pid, stop_process

pytestmark = pytest.mark.integration


_TAKEN: set[int] = set()


def free_port() -> int:
    """A port that, with its +10000 twin (SeaweedFS's gRPC port), can be bound now and lies below the
    kernel's ephemeral range, so no outgoing connection takes it before SeaweedFS binds it (a port only
    checked for a listener was once held by a client socket: "bind: address already in use")."""
    import random

    try:
        first_ephemeral = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = 32768
    while True:
        port = random.randrange(12000, first_ephemeral - 10000)
        if port not in _TAKEN and all(_bindable(p) for p in (port, port + 10000)):
            _TAKEN.add(port)
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def listening_addresses(pid: int) -> set[str]:
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if f"pid={pid}," in line}


def test_seaweedfs_persists_data_across_restart_and_binds_loopback(tmp_path):
    cfg = replace(StackConfig(), state_dir=tmp_path, s3_port=free_port(), seaweed_master_port=free_port(),
                  seaweed_volume_port=free_port(), seaweed_filer_port=free_port())
    identity = local_s3_identity(cfg)
    def client():
        return boto3.client("s3", endpoint_url=cfg.s3_endpoint, region_name="us-east-1",
                            aws_access_key_id=identity.access_key, aws_secret_access_key=identity.secret_key)
    try:
        seaweedfs.start(cfg)
        pid = read_pid(cfg.state_dir, seaweedfs.NAME)
        assert listening_addresses(pid) <= {"127.0.0.1", "[::ffff:127.0.0.1]"}
        client().create_bucket(Bucket="persist")
        client().put_object(Bucket="persist", Key="a/b.txt", Body=b"kept")
        assert stop_process(cfg.state_dir, seaweedfs.NAME, seaweedfs.STOP_TIMEOUT_S)
        assert read_pid(cfg.state_dir, seaweedfs.NAME) is None and not seaweedfs.s3_healthy(cfg)
        seaweedfs.start(cfg)
        assert client().get_object(Bucket="persist", Key="a/b.txt")["Body"].read() == b"kept"
    finally:
        stop_process(cfg.state_dir, seaweedfs.NAME, seaweedfs.STOP_TIMEOUT_S)


def test_secret_is_not_in_the_repr_of_a_connection():
    from tasks.io.s3 import S3Connection

    conn = S3Connection(endpoint_url="http://127.0.0.1:1", access_key="AKIA", secret_key="very-secret")
    assert "very-secret" not in repr(conn)


def test_down_stops_only_the_services_named(monkeypatch, tmp_path):
    """`sentinel stack down --services triton` restarts Triton without taking S3 and Prefect down."""
    from deployments.stack import local_stack

    stopped = []
    monkeypatch.setattr(local_stack, "stop", lambda cfg, name: stopped.append(name) or True)
    cfg = StackConfig(state_dir=tmp_path)
    local_stack.down(cfg, services=("triton",))
    assert stopped == ["triton"]
    stopped.clear()
    local_stack.down(cfg)
    assert stopped == ["prefect-worker", *reversed(local_stack.SERVICES)]


def test_stop_sends_a_second_sigterm_to_a_process_that_only_drains_on_the_first(tmp_path):
    """Prefect's worker turns its first SIGTERM into a drain; the second one ends it."""
    from deployments.stack.processes import spawn_detached

    script = ("import signal, time\n"
              "signal.signal(signal.SIGTERM, lambda *a: signal.signal(signal.SIGTERM, signal.SIG_DFL))\n"
              "print('ready', flush=True)\n"
              "time.sleep(120)\n")
    proc = spawn_detached("drainer", [sys.executable, "-c", script], state_dir=tmp_path, env={})
    deadline = time.monotonic() + 10
    while b"ready" not in (tmp_path / "logs" / "drainer.log").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    assert stop_process(tmp_path, "drainer", timeout=30, resend_after=1)
    assert proc.wait(5) == -15  # ended by the second SIGTERM, not by SIGKILL
    assert time.monotonic() - started < 10
