"""A private local stack for the chaos suite: its own state dir, its own ports (10xxx), its own
Prefect database. The shared stack on the default ports is never touched: every process this
module stops or kills is one it started (by the PID files under its own state dir).

    stack = PrivateStack.create(Path("/tmp/sentinel-chaos-xyz"))
    stack.up()                  # SeaweedFS S3, Prefect server (PostgreSQL if reachable), Triton
    stack.kill("triton"); stack.start("triton")
    stack.down()
"""
from __future__ import annotations

import asyncio
import glob
import json
import os
import secrets
import signal
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path

from deployments.stack import local_stack, prefect_server, seaweedfs
from deployments.stack.config import REPO_ROOT, StackConfig, client_env, local_s3_identity
from deployments.stack.processes import pid_alive, read_pid

SHARED_STORE = REPO_ROOT / ".local" / "model-store"
PG_DSN = os.environ.get("SENTINEL_CHAOS_PG_DSN", "postgresql://postgres@127.0.0.1:5432")
PG_DB = os.environ.get("SENTINEL_CHAOS_PG_DB", "sentinel_chaos")
DEFAULT_PORTS = {8333, 9333, 8380, 8888, 4200, 8000, 8001, 8002}
# services in start order; the name is also the PID file's name under <state>/run/
SERVICES = ("seaweedfs", "prefect-server", "triton")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def pick_ports(base: int = int(os.environ.get("SENTINEL_CHAOS_PORT_BASE", "10000"))) -> dict[str, int]:
    """Eight free ports in the 10xxx range (SeaweedFS also binds each of its ports + 10000)."""
    for start in range(base, base + 5000, 20):
        ports = {"s3_port": start + 1, "seaweed_master_port": start + 2, "seaweed_volume_port": start + 3,
                 "seaweed_filer_port": start + 4, "prefect_port": start + 5, "triton_http_port": start + 6,
                 "triton_grpc_port": start + 7, "triton_metrics_port": start + 8}
        wanted = list(ports.values()) + [p + 10000 for p in list(ports.values())[:4]]
        if all(_free(p) for p in wanted):
            return ports
    raise RuntimeError(f"no free block of ports from {base}")


def link_model_store(state_dir: Path) -> Path:
    """<state>/model-store: the translate models and Whisper tiny.en of the shared store, by symlink."""
    store = state_dir / "model-store"
    (store / "transcribe").mkdir(parents=True, exist_ok=True)
    links = {store / "translate": SHARED_STORE / "translate",
             store / "transcribe" / "whisper-tiny.en": SHARED_STORE / "transcribe" / "whisper-tiny.en"}
    for link, target in links.items():
        if not link.exists() and target.exists():
            link.symlink_to(target, target_is_directory=True)
    return store


async def _drop_database(name: str) -> None:
    import asyncpg

    try:
        admin = await asyncpg.connect(f"{PG_DSN}/postgres", timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass
class PrivateStack:
    cfg: StackConfig

    @property
    def database(self) -> str:
        """"postgresql" or "sqlite": what the private Prefect server runs on."""
        marker = self.cfg.state_dir / "prefect-database"
        return marker.read_text().strip() if marker.exists() else "unknown"

    @classmethod
    def create(cls, state_dir: Path) -> PrivateStack:
        """The stack of `state_dir`: the ports it was given the first time (kept in ports.json)."""
        saved = Path(state_dir) / "ports.json"
        if saved.exists():
            ports = json.loads(saved.read_text())
        else:
            ports = pick_ports()
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(json.dumps(ports))
        cfg = replace(StackConfig(), state_dir=Path(state_dir), **ports)
        used = {cfg.s3_port, cfg.prefect_port, cfg.triton_grpc_port, cfg.triton_http_port}
        assert not used & DEFAULT_PORTS, "the chaos stack must not use the shared stack's ports"
        assert Path(state_dir).resolve() != (REPO_ROOT / ".local").resolve()
        link_model_store(Path(state_dir))
        identity = Path(state_dir) / "s3" / "identity.json"
        if not identity.exists():  # both halves random: a leak scan then has no false positives
            identity.parent.mkdir(parents=True, exist_ok=True)
            identity.write_text(json.dumps({"access_key": f"chaos{secrets.token_hex(8)}",
                                            "secret_key": secrets.token_urlsafe(24)}))
            identity.chmod(0o600)
        return cls(cfg)

    # ---- what clients need ------------------------------------------------------------------
    @property
    def identity(self):
        return local_s3_identity(self.cfg)

    def env(self, **extra: str) -> dict[str, str]:
        """A client process's environment: this stack only, no blocks needed, quiet logs."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PREFECT_", "SENTINEL_"))}
        env.update(client_env(self.cfg))
        env.update({"PREFECT_HOME": str(self.cfg.state_dir / "client-home"), "SENTINEL_S3_FROM_ENV": "1",
                    "PREFECT_LOGGING_LEVEL": "INFO", "PYTHONPATH": str(REPO_ROOT),
                    "SENTINEL_SPOOL_DIR": str(self.spool_dir)})
        env.update(extra)
        return env

    @property
    def spool_dir(self) -> Path:
        path = self.cfg.state_dir / "spool"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def s3(self, endpoint: str | None = None):
        import boto3
        import botocore.config

        return boto3.client("s3", endpoint_url=endpoint or self.cfg.s3_endpoint, region_name="us-east-1",
                            aws_access_key_id=self.identity.access_key,
                            aws_secret_access_key=self.identity.secret_key,
                            config=botocore.config.Config(retries={"max_attempts": 8, "mode": "standard"},
                                                          s3={"addressing_style": "path"}))

    # ---- lifecycle --------------------------------------------------------------------------
    def up(self) -> None:
        for name in SERVICES:
            self.start(name)

    def start(self, name: str) -> float:
        """Start one service (no-op when healthy); returns the seconds it took."""
        started = time.monotonic()
        if name == "seaweedfs":
            seaweedfs.start(self.cfg, timeout=120)
        elif name == "prefect-server":
            self._start_prefect()
        elif name == "triton":
            local_stack.start_triton(self.cfg, timeout=240)
        else:
            raise ValueError(name)
        return time.monotonic() - started

    def _start_prefect(self) -> None:
        if prefect_server.healthy(self.cfg):
            return
        on_pg = prefect_server.reset_postgres_database(PG_DSN, PG_DB)
        url = (f"{PG_DSN.replace('postgresql://', 'postgresql+asyncpg://')}/{PG_DB}" if on_pg
               else f"sqlite+aiosqlite:///{self.cfg.state_dir / 'prefect' / 'prefect.db'}")
        (self.cfg.state_dir / "prefect-database").write_text("postgresql" if on_pg else "sqlite")
        previous = os.environ.get("SENTINEL_PREFECT_DATABASE_URL")
        os.environ["SENTINEL_PREFECT_DATABASE_URL"] = url
        try:
            prefect_server.start(self.cfg, timeout=240)
        finally:
            if previous is None:
                os.environ.pop("SENTINEL_PREFECT_DATABASE_URL", None)
            else:
                os.environ["SENTINEL_PREFECT_DATABASE_URL"] = previous

    def pid(self, name: str) -> int | None:
        return read_pid(self.cfg.state_dir, name)

    def kill(self, name: str) -> int:
        """SIGKILL the service's whole process group (a crash, no graceful shutdown)."""
        pid = self.pid(name)
        assert pid, f"{name} of the chaos stack is not running"
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if name == "triton":  # the python backend's shared-memory regions outlive a SIGKILL
            for path in glob.glob(f"/dev/shm/sentinel_{self.cfg.triton_http_port}_*"):
                Path(path).unlink(missing_ok=True)
        return pid

    def stop(self, name: str) -> bool:
        return local_stack.stop(self.cfg, name)

    def down(self, drop_database: bool = False) -> None:
        for name in ("prefect-worker", *reversed(SERVICES)):
            self.stop(name)
        if drop_database and self.database == "postgresql":
            asyncio.run(_drop_database(PG_DB))
        for path in glob.glob(f"/dev/shm/sentinel_{self.cfg.triton_http_port}_*"):
            Path(path).unlink(missing_ok=True)
