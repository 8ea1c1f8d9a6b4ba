"""The benchmarks' own Prefect server, on PostgreSQL, on its own port and state dir, so that the
shared local stack (Prefect on SQLite at :4200) is neither disturbed nor measured.

    with bench_prefect_server() as server:   # server.api_url, server.pid, server.database
        ...

PostgreSQL: SENTINEL_BENCH_PG_DSN (default postgresql://postgres@127.0.0.1:5432), database
SENTINEL_BENCH_PG_DB (default sentinel_bench, created if missing, emptied on start). Without a
reachable PostgreSQL the server falls back to SQLite in its state dir (said in the results).
Port: SENTINEL_BENCH_PREFECT_PORT (default 4300). A server this module did not start is never
stopped by it.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from common import ROOT

from deployments.stack.prefect_server import reset_postgres_database

PG_DSN = os.environ.get("SENTINEL_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432")
PG_DB = os.environ.get("SENTINEL_BENCH_PG_DB", "sentinel_bench")
PORT = int(os.environ.get("SENTINEL_BENCH_PREFECT_PORT", "4300"))
STATE_DIR = Path(os.environ.get("SENTINEL_BENCH_STATE_DIR", ROOT / ".local" / "bench"))


@dataclass
class BenchPrefect:
    api_url: str
    pid: int | None
    database: str  # "postgresql" or "sqlite"

    def env(self) -> dict[str, str]:
        """For a client process: this server, the environment's S3 credentials, no blocks needed."""
        return {"PREFECT_API_URL": self.api_url, "SENTINEL_S3_FROM_ENV": "1"}


@contextmanager
def bench_prefect_server():
    from deployments.stack import prefect_server
    from deployments.stack.config import StackConfig
    from deployments.stack.processes import read_pid, stop_process

    cfg = StackConfig(state_dir=STATE_DIR, prefect_port=PORT)
    api_url = cfg.prefect_api_url
    if prefect_server.healthy(cfg):  # already running (e.g. left by an interrupted bench): reuse, keep
        marker = STATE_DIR / "database"
        database = marker.read_text().strip() if marker.exists() else "unknown"
        yield BenchPrefect(api_url, read_pid(STATE_DIR, prefect_server.NAME), database)
        return
    on_pg = reset_postgres_database(PG_DSN, PG_DB)
    url = f"{PG_DSN.replace('postgresql://', 'postgresql+asyncpg://')}/{PG_DB}" if on_pg else \
        f"sqlite+aiosqlite:///{STATE_DIR / 'prefect' / 'prefect.db'}"
    if not on_pg:
        print(f"bench: no PostgreSQL at {PG_DSN}; the bench Prefect server runs on SQLite")
        (STATE_DIR / "prefect" / "prefect.db").unlink(missing_ok=True)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    (STATE_DIR / "database").write_text("postgresql" if on_pg else "sqlite")
    previous = os.environ.get("SENTINEL_PREFECT_DATABASE_URL")
    os.environ["SENTINEL_PREFECT_DATABASE_URL"] = url
    try:
        prefect_server.start(cfg, timeout=180)
    finally:
        if previous is None:
            os.environ.pop("SENTINEL_PREFECT_DATABASE_URL", None)
        else:
            os.environ["SENTINEL_PREFECT_DATABASE_URL"] = previous
    try:
        yield BenchPrefect(api_url, read_pid(STATE_DIR, prefect_server.NAME), "postgresql" if on_pg else "sqlite")
    finally:
        stop_process(STATE_DIR, prefect_server.NAME, timeout=20)


if __name__ == "__main__":  # python bench/prefect_pg.py: start, print, wait for Ctrl-C / SIGTERM, stop
    import signal
    import time

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with bench_prefect_server() as srv:
        print(srv)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
