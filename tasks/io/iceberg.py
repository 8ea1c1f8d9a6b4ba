"""Apache Iceberg tables as inputs, read with `pyiceberg`: the data files of one snapshot.

An Iceberg table's folder holds `metadata/` (table metadata JSON, manifest lists, manifests) and the
data files of every snapshot; a plain listing would read replaced and deleted rows. Here the table
metadata is opened without a catalog (`StaticTable`): the metadata file the input URI names, else
`metadata/version-hint.text` (Hadoop tables), else the newest `metadata/*.metadata.json`. With a
catalog (Glue, REST, SQL), name the table's current metadata file (`catalog.load_table(…)
.metadata_location`) as the input URI: a writer that lost a commit race can leave a newer metadata
file the catalog never pointed at. `table_version` picks a snapshot id (or the snapshot current at an
ISO timestamp). Delete files (merge-on-read deletes) are refused clearly: reading the data files
alone would bring deleted rows back.
"""
from __future__ import annotations

from datetime import datetime

from tasks.io.delta import parse_version, partition_text
from tasks.io.input_listing import ICEBERG_METADATA, InputListing
from tasks.io.listing import ListedKey, ObjectRef, list_keys, read_small_object, single_object
from tasks.io.parquet import InputError
from tasks.io.partitions import type_name
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri


def properties(conn: S3Connection) -> dict[str, str]:
    """pyiceberg FileIO properties for the connection."""
    props = {"s3.region": conn.region}
    if conn.endpoint_url:
        props["s3.endpoint"] = conn.endpoint_url
    if conn.access_key:
        props.update({"s3.access-key-id": conn.access_key, "s3.secret-access-key": conn.secret_key or ""})
    if conn.session_token:
        props["s3.session-token"] = conn.session_token
    return props


def current_metadata(conn: S3Connection, root: S3Uri, listed: list[ListedKey]) -> str:
    """The metadata file a catalog-less reader takes as current (module docstring)."""
    keys = {item.key for item in listed}
    if "metadata/version-hint.text" in keys:
        hint = read_small_object(conn, str(root.join("metadata", "version-hint.text"))).decode().strip()
        if f"metadata/v{hint}.metadata.json" in keys:
            return str(root.join("metadata", f"v{hint}.metadata.json"))
    versions = []
    for key in keys:
        if match := ICEBERG_METADATA.match(key):
            versions.append((int(match.group(1) or match.group(2)), key))
    return str(root.join(max(versions)[1]))


def _snapshot_id(table, wanted: int | datetime | None, uri: str) -> int | None:
    if wanted is None:
        return None
    if isinstance(wanted, int):
        if table.snapshot_by_id(wanted) is None:
            known = [s.snapshot_id for s in table.metadata.snapshots]
            raise InputError(f"{uri}: Iceberg table has no snapshot {wanted} (snapshots: {known})")
        return wanted
    millis = int(wanted.timestamp() * 1000)
    log = [entry for entry in table.metadata.snapshot_log if entry.timestamp_ms <= millis]
    if not log:
        raise InputError(f"{uri}: Iceberg table had no snapshot at {wanted.isoformat()}")
    return log[-1].snapshot_id


def iceberg_listing(conn: S3Connection, root: S3Uri, metadata_uri: str | None, table_version: str | int | None,
                    listed: list[ListedKey] | None = None):
    from pyiceberg.table import StaticTable

    listed = list(list_keys(conn, root)) if listed is None else listed
    metadata_uri = metadata_uri or current_metadata(conn, root, listed)
    table_uri = str(root).rstrip("/")
    try:
        table = StaticTable.from_metadata(metadata_uri, properties=properties(conn))
    except Exception as exc:  # pyiceberg raises many kinds for an unreadable metadata file
        raise InputError(f"{metadata_uri}: not readable Iceberg table metadata ({exc})") from exc
    snapshot_id = _snapshot_id(table, parse_version(table_version), table_uri)
    snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id else table.current_snapshot()
    if snapshot is None:  # a table created and never written
        return InputListing([], "iceberg", table={"format": "iceberg", "uri": table_uri, "snapshot_id": None,
                                                 "metadata": metadata_uri})
    spec = table.spec()
    schema = table.schema()
    partition_fields = [(f.name, type_name(_arrow_type(schema, f.source_id, f.transform))) for f in spec.fields]
    by_uri = {f"s3://{root.bucket}/{root.prefix}{item.key}": item for item in listed}
    objects = []
    try:
        tasks = list(table.scan(snapshot_id=snapshot.snapshot_id).plan_files())
    except ValueError as exc:  # pyiceberg refuses equality deletes while planning
        raise InputError(f"{table_uri}: Iceberg snapshot {snapshot.snapshot_id} cannot be read file by file "
                         f"({exc}); compact the table (rewrite_data_files) first") from exc
    for task in tasks:
        if task.delete_files:
            raise InputError(f"{table_uri}: Iceberg snapshot {snapshot.snapshot_id} has delete files for "
                             f"{task.file.file_path} (merge-on-read deletes); reading the data files would bring "
                             "deleted rows back. Compact the table (rewrite_data_files) first")
        uri = _s3(task.file.file_path)
        item = by_uri.get(uri)
        etag, size = (item.etag, item.size) if item else _head(conn, uri)
        values = tuple((name, partition_text(task.file.partition[i]), kind)
                       for i, (name, kind) in enumerate(partition_fields))
        objects.append(ObjectRef(uri, etag, size, values))
    live = {o.uri for o in objects}
    skipped = [{"uri": uri, "reason": f"not in Iceberg snapshot {snapshot.snapshot_id} (replaced or deleted)"}
               for uri, item in by_uri.items()
               if uri not in live and item.key.startswith("data/") and item.key.endswith(".parquet")]
    return InputListing(sorted(objects, key=lambda o: o.uri), "iceberg", skipped,
                        table={"format": "iceberg", "uri": table_uri, "snapshot_id": snapshot.snapshot_id,
                               "metadata": metadata_uri})


def _s3(path: str) -> str:
    return "s3://" + path.split("://", 1)[1] if path.startswith(("s3a://", "s3n://")) else path


def _head(conn: S3Connection, uri: str) -> tuple[str, int]:
    found = single_object(conn, S3Uri.parse(uri))
    if found is None:
        raise InputError(f"{uri}: listed in the Iceberg snapshot but not in S3")
    return found.etag, found.size


def _arrow_type(schema, source_id: int, transform):
    """The arrow type of a partition field: its source column's for identity partitions, else the
    transform's result (bucket, truncate, day, ...), which pyiceberg types."""
    from pyiceberg.io.pyarrow import schema_to_pyarrow
    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField

    result = transform.result_type(schema.find_field(source_id).field_type)
    return schema_to_pyarrow(Schema(NestedField(1, "v", result, required=False))).field("v").type
