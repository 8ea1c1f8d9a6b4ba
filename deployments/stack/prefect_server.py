"""The Prefect API server, on SQLite under .local/prefect/ by default (its transactions begin
IMMEDIATE: deployments/stack/prefect_sqlite.py).

Set SENTINEL_PREFECT_DATABASE_URL (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/prefect)
to run it on PostgreSQL for load.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from deployments.stack.config import HOST, StackConfig
from deployments.stack.processes import http_ok, read_pid, spawn_detached, wait_until

NAME = "prefect-server"
REPO_ROOT = Path(__file__).resolve().parents[2]


def database_url(cfg: StackConfig) -> str:
    default = f"sqlite+aiosqlite:///{cfg.state_dir / 'prefect' / 'prefect.db'}"
    return os.environ.get("SENTINEL_PREFECT_DATABASE_URL", default)


def prefect_command(database_url: str) -> list[str]:
    """The `prefect` command line the server runs under: on SQLite, the one whose transactions begin
    IMMEDIATE (deployments/stack/prefect_sqlite.py; SENTINEL_PREFECT_SQLITE_IMMEDIATE=0: Prefect's own,
    to measure the difference); on PostgreSQL, Prefect's own."""
    if database_url.startswith("sqlite") and os.environ.get("SENTINEL_PREFECT_SQLITE_IMMEDIATE", "1") != "0":
        return [sys.executable, "-m", "deployments.stack.prefect_sqlite"]
    return [str(Path(sys.executable).parent / "prefect")]


def healthy(cfg: StackConfig) -> bool:
    return http_ok(f"{cfg.prefect_api_url}/health")


def start(cfg: StackConfig, timeout: float = 120.0) -> None:
    if read_pid(cfg.state_dir, NAME) and healthy(cfg):
        return
    home = cfg.state_dir / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url(cfg),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": cfg.prefect_api_url,
        "PREFECT_SERVER_API_HOST": HOST,
        "PREFECT_SERVER_API_PORT": str(cfg.prefect_port),
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": os.environ.get("SENTINEL_SCHEDULER_LOOP_S", "10"),
    })
    env.pop("PREFECT_API_URL", None)
    argv = [*prefect_command(env["PREFECT_API_DATABASE_CONNECTION_URL"]),
            "server", "start", "--host", HOST, "--port", str(cfg.prefect_port)]
    if argv[0] == sys.executable:  # our module: importable from the state dir the server runs in
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = spawn_detached(NAME, argv, state_dir=cfg.state_dir, env=env, cwd=home)
    wait_until(lambda: healthy(cfg), name=NAME, timeout=timeout, state_dir=cfg.state_dir, pid=proc.pid)


def reset_postgres_database(dsn: str, name: str) -> bool:
    """Drop and re-create database `name` on the PostgreSQL server at `dsn`
    (postgresql://user@host:port); False when no server answers there."""
    import asyncio

    import asyncpg

    async def reset() -> bool:
        try:
            admin = await asyncpg.connect(f"{dsn}/postgres", timeout=5)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return False
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        return True

    return asyncio.run(reset())
