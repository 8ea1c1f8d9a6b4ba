"""The local stack's Prefect server on SQLite: every transaction Prefect begins takes the write lock
when it begins (`BEGIN IMMEDIATE`), so concurrent writers wait for each other instead of failing.

Prefect 3.8 begins most write transactions `DEFERRED` (only `with_for_update` ones are `IMMEDIATE`).
A deferred transaction that reads and then writes, while another connection writes, cannot upgrade
its read lock: SQLite answers `database is locked` at once, without waiting its busy timeout (a wait
could deadlock), and Prefect answers the request 503. Seen on this stack:

- the shard task's slot of the `triton-shards` limit (`POST /v2/concurrency_limits/increment-with-lease`
  reads the limit, then updates its active slots) failed in 6 of 10 100-row runs while the server
  recorded the run's own events; Prefect's client retries after 2 s, a third of such a run's time;
- automation buckets and worker heartbeats failed the same way (the server log's `Failed in
  consume_loop` and `Worker channel heartbeat persistence failed`).

With `IMMEDIATE`, two writers contend when they begin, and the second waits (Prefect's busy timeout,
60 s) for the first to commit. Reads outside a transaction are untouched (WAL: readers never wait).
PostgreSQL servers are not changed: row locks there do not fail this way.

    python -m deployments.stack.prefect_sqlite server start --host ... --port ...   (the `prefect` CLI)
"""
from __future__ import annotations

import sys
from contextlib import asynccontextmanager


def begin_transactions_immediate() -> None:
    """Make the SQLite configuration of Prefect's server begin every transaction IMMEDIATE (idempotent)."""
    from prefect.server.database.configurations import AioSqliteConfiguration

    original = AioSqliteConfiguration.begin_transaction
    if getattr(original, "sentinel_immediate", False):
        return

    @asynccontextmanager
    async def begin_transaction(self, session, with_for_update: bool = False):
        async with original(self, session, with_for_update=True) as transaction:
            yield transaction

    begin_transaction.sentinel_immediate = True
    AioSqliteConfiguration.begin_transaction = begin_transaction


def main() -> None:
    """The `prefect` command line, in a process whose SQLite transactions begin IMMEDIATE
    (`prefect server start` serves its API and runs its services in this process)."""
    begin_transactions_immediate()
    from prefect.cli import app

    sys.exit(app())


if __name__ == "__main__":
    main()
