"""Fixtures of the chaos suite (`make chaos`): a private stack and the results collector.

The private stack lives in SENTINEL_CHAOS_STATE_DIR when set (kept running afterwards, reused by the
next session: handy while developing), else in a fresh temporary dir that is torn down at the end.
Nothing here reads or changes the shared stack on the default ports.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.reliability.private_stack import REPO_ROOT, PrivateStack

RESULTS = REPO_ROOT / "bench" / "results" / "reliability.json"
BUCKET = "chaos"


@pytest.fixture(scope="session")
def chaos_stack():
    keep = os.environ.get("SENTINEL_CHAOS_STATE_DIR")
    state_dir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="sentinel-chaos-"))
    stack = PrivateStack.create(state_dir)
    try:
        stack.up()
        from tests.reliability.chaos import ensure_bucket

        ensure_bucket(stack.s3(), BUCKET)
        yield stack
    finally:
        if not keep:
            stack.down(drop_database=True)
            shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def scenario_prefix() -> str:
    """A fresh key prefix per test: a rerun of the suite never reuses an earlier run's outputs."""
    return f"run-{uuid.uuid4().hex[:8]}/"


class Results:
    """Scenario outcomes, merged into bench/results/reliability.json at the end of the session
    (scenarios not run this session keep their last figures) and rendered to docs/reliability.md."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.scenarios: dict[str, dict] = {}

    def record(self, name: str, *, outcome: str, title: str, **figures) -> None:
        assert outcome in ("survived", "held", "lost", "failed"), outcome
        self.scenarios[name] = {"title": title, "outcome": outcome,
                                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                **figures}

    def save(self, database: str | None) -> None:
        if not self.scenarios:
            return
        doc = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"scenarios": {}}
        doc["scenarios"].update(self.scenarios)
        doc["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
        doc["last_session"] = {"finished": datetime.now(UTC).isoformat(timespec="seconds"),
                               "scenarios": sorted(self.scenarios), "prefect_database": database,
                               "wall_s": round(time.monotonic() - self.started, 1)}
        if {"triton_kill", "flow_kill", "bad_input", "security", "event_burst"} <= set(self.scenarios):
            # every scenario, the spec's 1,000-upload burst included
            doc["full_session"] = {**doc["last_session"], "burst_events": self.scenarios["event_burst"]["events"]}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
        from tests.reliability.report import write_markdown

        write_markdown(doc)


@pytest.fixture(scope="session")
def chaos_results(chaos_stack):
    results = Results()
    yield results
    results.save(chaos_stack.database)


@pytest.fixture(scope="session")
def moto_endpoint(chaos_stack):
    """moto's server (S3 + SQS) on a 10xxx port: an S3 that, like AWS, accepts any key."""
    import subprocess
    import sys

    from deployments.stack.processes import http_ok, wait_until
    from tests.reliability.private_stack import pick_ports

    port = pick_ports(base=chaos_stack.cfg.s3_port + 100)["s3_port"]
    log = open(chaos_stack.cfg.state_dir / "moto.log", "ab")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(endpoint + "/moto-api/", accept=(200, 404)), name="moto", timeout=60,
                   state_dir=chaos_stack.cfg.state_dir, pid=proc.pid)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)
