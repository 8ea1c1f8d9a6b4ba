"""Start, health-check and stop the local stack's server processes by PID file.

Stdlib only, so it works from any interpreter (Makefile, fixtures, CLI).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


class StackError(RuntimeError):
    """A local-stack service failed to start or answer its health check."""


def pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / "run" / f"{name}.pid"


def read_pid(state_dir: Path, name: str) -> int | None:
    path = pid_file(state_dir, name)
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still "exists"; treat it as dead
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def spawn_detached(
    name: str, argv: list[str], *, state_dir: Path, env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen:
    """Start `argv` in its own session (survives the caller), log to state_dir/logs/<name>.log."""
    (state_dir / "run").mkdir(parents=True, exist_ok=True)
    (state_dir / "logs").mkdir(parents=True, exist_ok=True)
    log = open(state_dir / "logs" / f"{name}.log", "ab")
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, cwd=cwd, start_new_session=True,
    )
    log.close()
    pid_file(state_dir, name).write_text(str(proc.pid))
    return proc


def stop_process(state_dir: Path, name: str, timeout: float = 40.0, resend_after: float = 10.0) -> bool:
    """Stop the process group recorded for `name` (stop_group). True if one was running."""
    pid = read_pid(state_dir, name)
    pid_file(state_dir, name).unlink(missing_ok=True)
    if pid is None:
        return False
    stop_group(pid, timeout, resend_after)
    return True


def stop_group(pid: int, timeout: float = 40.0, resend_after: float = 10.0) -> str:
    """SIGTERM process group `pid`; SIGTERM again after `resend_after` seconds; SIGKILL after
    `timeout` in all. Returns what stopped it: "SIGTERM", "second SIGTERM" or "SIGKILL".

    The second SIGTERM is for Prefect's worker: its first SIGTERM only starts a drain (it becomes
    a SIGINT: take no new runs, wait for the running ones), and that drain was seen to last for
    minutes with no run in flight; its second SIGTERM ends it. Other services stop on the first."""
    resend = min(resend_after, timeout)
    steps = ((signal.SIGTERM, resend, "SIGTERM"), (signal.SIGTERM, timeout - resend, "second SIGTERM"),
             (signal.SIGKILL, 5.0, "SIGKILL"))
    for sig, wait, label in steps:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:  # gone since the last look
            return label
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return label
            time.sleep(0.2)
    return "SIGKILL"


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str, timeout: float = 2.0, accept: tuple[int, ...] = (200,)) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status in accept
    except urllib.error.HTTPError as exc:
        return exc.code in accept
    except (urllib.error.URLError, OSError):
        return False


def wait_until(check, *, name: str, timeout: float, state_dir: Path, pid: int | None = None) -> None:
    """Poll `check()` until true; fail fast if the process died, naming its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if pid is not None and not pid_alive(pid):
            raise StackError(f"{name} exited during start-up; see {log_tail(state_dir, name)}")
        time.sleep(0.5)
    raise StackError(f"{name} not healthy after {timeout:.0f}s; see {log_tail(state_dir, name)}")


def log_tail(state_dir: Path, name: str, lines: int = 15) -> str:
    path = state_dir / "logs" / f"{name}.log"
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except FileNotFoundError:
        return str(path)
    return f"{path}:\n" + "\n".join(tail)
