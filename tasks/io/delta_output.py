"""A run's kept rows appended to a Delta Lake table as one commit, exactly once per run key: for
users whose downstream reads Delta rather than parquet parts.

The commit carries a Delta app transaction (`appId` = `sentinel-<run_key>`, version 1): before
writing, the table's transaction version for that id is read, and a run key that already committed
writes nothing (a rerun, a retried flow); two writers racing on one key conflict in delta-rs, and
the loser's commit fails instead of duplicating rows. Objects are written with S3's conditional
PUT (`AWS_CONDITIONAL_PUT=etag`), which delta-rs needs for safe concurrent commits on S3.
"""
from __future__ import annotations

import pyarrow.dataset as ds

from tasks.io.delta import storage_options
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri

APP_PREFIX = "sentinel-"


def committed_version(uri: str, options: dict[str, str], app_id: str) -> int | None:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(uri, storage_options=options).transaction_version(app_id)
    except TableNotFoundError:
        return None


def append_run(conn: S3Connection, table_uri: str, run_key: str, part_uris: list[str]) -> dict:
    """Append the rows of `part_uris` (a run's kept parts) to the Delta table at `table_uri` (created
    if missing) in one commit, unless run `run_key` already did; returns what happened."""
    from deltalake import CommitProperties, Transaction, write_deltalake

    uri = table_uri.rstrip("/")
    options = storage_options(conn) | {"AWS_CONDITIONAL_PUT": "etag"}
    app_id = APP_PREFIX + run_key
    if committed_version(uri, options, app_id):
        return {"table": uri, "appended": False, "reason": f"run {run_key} already committed to this table"}
    parts = [S3Uri.parse(u).arrow_path for u in part_uris]
    if not parts:
        return {"table": uri, "appended": False, "reason": "the run kept no rows"}
    rows = ds.dataset(parts, filesystem=conn.arrow_fs, format="parquet")
    write_deltalake(uri, rows.scanner().to_reader(), mode="append", storage_options=options,
                    commit_properties=CommitProperties(custom_metadata={"sentinel.run_key": run_key},
                                                       app_transactions=[Transaction(app_id, 1)]))
    return {"table": uri, "appended": True, "rows": rows.count_rows(), "app_id": app_id}
