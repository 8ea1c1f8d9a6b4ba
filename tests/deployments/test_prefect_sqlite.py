"""The local stack's Prefect server on SQLite: a transaction that reads then writes, while another
connection writes, fails at once with Prefect's own DEFERRED transactions (what made the shard's
slot request answer 503), and waits its turn with deployments/stack/prefect_sqlite.py's IMMEDIATE ones.
Prefect's real SQLite configuration and engine, on a database file of the test's own."""
import asyncio
import sys

import pytest
import sqlalchemy as sa
from prefect.server.database.configurations import AioSqliteConfiguration

from deployments.stack.prefect_server import prefect_command
from deployments.stack.prefect_sqlite import begin_transactions_immediate


async def read_then_write_while_another_writes(db_path) -> None:
    """Transaction A reads; B updates and commits (or waits for A); A then updates."""
    config = AioSqliteConfiguration(connection_url=f"sqlite+aiosqlite:///{db_path}")
    engine = await config.engine()
    setup = await config.session(engine)
    async with setup, config.begin_transaction(setup):
        await setup.execute(sa.text("CREATE TABLE slots (id INTEGER PRIMARY KEY, active INTEGER)"))
        await setup.execute(sa.text("INSERT INTO slots VALUES (1, 0)"))

    first_read = asyncio.Event()

    async def transaction_a() -> None:
        session = await config.session(engine)
        async with session, config.begin_transaction(session):
            await session.execute(sa.text("SELECT active FROM slots WHERE id = 1"))
            first_read.set()
            await asyncio.sleep(0.3)  # B writes meanwhile (or waits to begin)
            await session.execute(sa.text("UPDATE slots SET active = active + 1 WHERE id = 1"))

    async def transaction_b() -> None:
        await first_read.wait()
        session = await config.session(engine)
        async with session, config.begin_transaction(session):
            await session.execute(sa.text("UPDATE slots SET active = active + 1 WHERE id = 1"))

    try:
        await asyncio.gather(transaction_a(), transaction_b())
        check = await config.session(engine)
        async with check:
            assert (await check.execute(sa.text("SELECT active FROM slots"))).scalar() == 2
    finally:
        await engine.dispose()


def test_prefects_deferred_transactions_fail_a_read_then_write(tmp_path):
    with pytest.raises(sa.exc.OperationalError, match="database is locked"):
        asyncio.run(read_then_write_while_another_writes(tmp_path / "deferred.db"))


def test_immediate_transactions_wait_for_each_other(tmp_path, monkeypatch):
    monkeypatch.setattr(AioSqliteConfiguration, "begin_transaction", AioSqliteConfiguration.begin_transaction)
    begin_transactions_immediate()
    begin_transactions_immediate()  # idempotent: wrapped once
    asyncio.run(read_then_write_while_another_writes(tmp_path / "immediate.db"))


def test_the_stack_runs_prefect_on_sqlite_with_immediate_transactions(monkeypatch):
    monkeypatch.delenv("SENTINEL_PREFECT_SQLITE_IMMEDIATE", raising=False)
    assert prefect_command("sqlite+aiosqlite:///x/prefect.db") == [sys.executable, "-m",
                                                                    "deployments.stack.prefect_sqlite"]
    assert prefect_command("postgresql+asyncpg://postgres@127.0.0.1:5432/prefect")[0].endswith("/prefect")
    monkeypatch.setenv("SENTINEL_PREFECT_SQLITE_IMMEDIATE", "0")  # Prefect's own, to measure the difference
    assert prefect_command("sqlite+aiosqlite:///x/prefect.db")[0].endswith("/prefect")
