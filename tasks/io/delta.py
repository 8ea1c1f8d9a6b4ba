"""Delta Lake tables as inputs, read with delta-rs (`deltalake`): the data files live in one version.

A Delta folder holds every file any version ever wrote (an overwrite leaves the replaced files in
place until VACUUM); `_delta_log/` says which are live. Reading the folder as plain parquet would
return deleted and replaced rows. Here the log is read by delta-rs, for the latest version or the
one a run names (`table_version`: a version number or an ISO timestamp), and only that version's
files become the run's objects, with their partition values from the log. Deletion vectors (rows
deleted inside a file that stays live) are refused with a message that says so: reading the file
would bring the deleted rows back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from tasks.io.parquet import InputError
from tasks.io.partitions import type_name
from tasks.io.s3 import S3Connection


@dataclass(frozen=True)
class DeltaFile:
    key: str  # relative to the table's root
    size: int
    partition: tuple[tuple[str, str | None, str], ...]


@dataclass(frozen=True)
class DeltaSnapshot:
    uri: str
    version: int
    files: list[DeltaFile]


def storage_options(conn: S3Connection) -> dict[str, str]:
    """delta-rs (object_store) options for the connection: endpoint and credentials, or AWS's chain."""
    options = {"AWS_REGION": conn.region}
    if conn.endpoint_url:
        options["AWS_ENDPOINT_URL"] = conn.endpoint_url
        if conn.endpoint_url.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    if conn.access_key:
        options.update(AWS_ACCESS_KEY_ID=conn.access_key, AWS_SECRET_ACCESS_KEY=conn.secret_key or "")
    if conn.session_token:
        options["AWS_SESSION_TOKEN"] = conn.session_token
    return options


def parse_version(table_version: str | int | None) -> int | datetime | None:
    """A version number, an ISO-8601 timestamp (the version current then), or None (the latest)."""
    if table_version is None or table_version == "":
        return None
    if isinstance(table_version, int) or str(table_version).strip().isdigit():
        return int(table_version)
    try:
        return datetime.fromisoformat(str(table_version).strip())
    except ValueError:
        raise InputError(f"table_version {table_version!r}: expected a version number or an ISO timestamp "
                         "such as 2026-12-01T00:00:00+00:00") from None


def open_table(conn: S3Connection, uri: str, table_version: str | int | None = None):
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    wanted = parse_version(table_version)
    try:
        table = DeltaTable(uri, storage_options=storage_options(conn),
                           version=wanted if isinstance(wanted, int) else None)
        if isinstance(wanted, datetime):
            table.load_as_version(wanted)
    except TableNotFoundError as exc:
        raise InputError(f"{uri}: has _delta_log/ but no readable Delta table ({exc})") from exc
    except DeltaError as exc:
        raise InputError(f"{uri}: Delta table version {table_version!r} cannot be read ({exc})") from exc
    return table


def snapshot(conn: S3Connection, uri: str, table_version: str | int | None = None) -> DeltaSnapshot:
    """The live files of one version of the Delta table at `uri`."""
    table = open_table(conn, uri, table_version)
    version = table.version()
    features = table.protocol().reader_features or []
    actions = pa.table(table.get_add_actions(flatten=True))
    if "deletionVectors" in features and _has_deletion_vectors(table):
        raise InputError(f"{uri}: Delta table version {version} has deletion vectors (rows deleted inside live "
                         "files); reading its files would bring those rows back. Purge them first (Spark: "
                         "REORG TABLE … APPLY (PURGE); delta-rs: optimize) or name an earlier table_version")
    schema = pa.schema(table.schema())
    partition_names = list(table.metadata().partition_columns)
    kinds = {name: type_name(schema.field(name).type) for name in partition_names}
    files = []
    for row in actions.to_pylist():
        values = tuple((name, partition_text(row.get(f"partition.{name}")), kinds[name]) for name in partition_names)
        files.append(DeltaFile(row["path"], int(row["size_bytes"]), values))
    return DeltaSnapshot(uri, version, sorted(files, key=lambda f: f.key))


def partition_text(value) -> str | None:
    """A partition value from the log as the text partition_column casts back to its type."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _has_deletion_vectors(table) -> bool:
    try:
        return pa.table(table.deletion_vectors()).num_rows > 0
    except Exception:  # an API without the call: the feature alone is enough to refuse
        return True
