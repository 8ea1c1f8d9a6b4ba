"""What a run reads: the input URI resolved as its writer meant it.

    s3://b/k/file.parquet        one object
    s3://b/k/ (has _delta_log/)  a Delta Lake table: the files of one version (tasks/io/delta.py)
    s3://b/k/ (has metadata/*.metadata.json), or s3://b/k/metadata/….metadata.json
                                 an Apache Iceberg table: the files of its current snapshot (tasks/io/iceberg.py)
    s3://b/k/                    a folder: its live data files, commit protocols honoured and Hive
                                 partitions typed (tasks/io/listing.py, commit_protocols.py, partitions.py)
    s3://b/k/<name>.inputs.json  an input list: exactly the object versions it names (the S3 event
                                 bridge writes one per batch of new objects; `write_input_list`)

`list_input` returns the objects with what was left out and why (`skipped`: every object under the
prefix that is not data, each with its reason), warnings (a Spark folder still being written) and,
for a table, its identity (`table`: format and version), which the run key pins.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from tasks.io.commit_protocols import hidden_reason, hidden_segment
from tasks.io.input_listing import ICEBERG_METADATA, InputListing
from tasks.io.listing import ListedKey, ObjectRef, folder_objects, list_keys, read_small_object, single_object
from tasks.io.parquet import InputError
from tasks.io.partitions import infer_types, partition_values, typed
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri, validate_key


def list_input(conn: S3Connection, input_uri: str, table_version: str | int | None = None) -> InputListing:
    root = S3Uri.parse(input_uri)
    if root.key.endswith(".metadata.json") and "/metadata/" in f"/{root.key}":
        from tasks.io.iceberg import iceberg_listing

        table_root = S3Uri.parse(str(root).rsplit("/metadata/", 1)[0] + "/")
        return iceberg_listing(conn, table_root, str(root), table_version)
    if root.key.endswith(INPUT_LIST_SUFFIX):
        _no_version(table_version, input_uri, "an input list")
        return input_list(conn, root)
    if (one := single_object(conn, root)) is not None:
        _no_version(table_version, input_uri, "one object")
        return InputListing([one], "object")
    listed = list(list_keys(conn, root))
    if any(item.key.startswith("_delta_log/") for item in listed):
        return delta_listing(conn, root, listed, table_version)
    if any(ICEBERG_METADATA.match(item.key) for item in listed):
        from tasks.io.iceberg import iceberg_listing

        return iceberg_listing(conn, root, None, table_version, listed)
    _no_version(table_version, input_uri, "a folder of parquet files (no _delta_log/, no Iceberg metadata/)")
    folder = folder_objects(conn, root, listed)
    skipped = [{"uri": f"s3://{root.bucket}/{root.prefix}{s.key}", "reason": s.reason}
               for s in folder.resolution.skipped]
    return InputListing(folder.objects, "folder", skipped, folder.resolution.warnings)


def _no_version(table_version, input_uri: str, what: str) -> None:
    if table_version not in (None, ""):
        raise InputError(f"{input_uri}: table_version={table_version!r} applies to Delta Lake and Iceberg "
                         f"tables; this input is {what}")


def delta_listing(conn: S3Connection, root: S3Uri, listed: list[ListedKey],
                  table_version: str | int | None) -> InputListing:
    from tasks.io.delta import snapshot

    table_uri = f"s3://{root.bucket}/{root.prefix}".rstrip("/")
    found = snapshot(conn, table_uri, table_version)
    by_key = {item.key: item for item in listed}
    objects, missing = [], []
    for data in found.files:
        item = by_key.get(data.key)
        uri = f"{table_uri}/{data.key}"
        if item is None:
            missing.append(uri)
            continue
        validate_key(root.prefix + data.key, uri)
        objects.append(ObjectRef(uri, item.etag, item.size, data.partition))
    if missing:
        raise InputError(f"{table_uri}: Delta table version {found.version} lists {len(missing)} files that are "
                         f"not in S3 (vacuumed or deleted; first: {missing[0]}); name a later table_version")
    live = {data.key for data in found.files}
    skipped = [{"uri": f"{table_uri}/{item.key}",
                "reason": f"not in Delta table version {found.version} (replaced, deleted or never committed)"}
               for item in listed if item.key not in live and not item.key.startswith("_delta_log/")
               and item.key.endswith(".parquet")]
    return InputListing(sorted(objects, key=lambda o: o.uri), "delta", skipped,
                        table={"format": "delta", "uri": table_uri, "version": found.version})


INPUT_LIST_SUFFIX = ".inputs.json"


def write_input_list(conn: S3Connection, target: S3Uri, root: str, objects: list[ObjectRef]) -> str:
    """An input list at `target` (a key ending in .inputs.json): the object versions (URI + ETag) a run
    reads, sorted, and the prefix they were watched under (`root`, for their Hive partitions). The same
    objects give the same bytes, so the same run key."""
    doc = {"sentinel_input_list": 1, "root": root,
           "objects": [{"uri": o.uri, "etag": o.etag, "size": o.size} for o in sorted(objects, key=lambda o: o.uri)]}
    body = json.dumps(doc, indent=1, sort_keys=True).encode()
    conn.boto3_client().put_object(Bucket=target.bucket, Key=target.key, Body=body, ContentType="application/json")
    return str(target)


def input_list(conn: S3Connection, uri: S3Uri) -> InputListing:
    """The object versions an input list names; one replaced or deleted since is skipped with the
    reason (its new bytes are another list's), never read in other bytes than the list's."""
    try:
        doc = json.loads(read_small_object(conn, str(uri)))
        entries, root = doc["objects"], S3Uri.parse(doc.get("root") or str(uri).rsplit("/", 1)[0] + "/")
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{uri}: not a Sentinel input list ({exc}); expected {{\"sentinel_input_list\": 1, "
                         '"root": "s3://…/", "objects": [{"uri", "etag", "size"}, …]}') from exc
    with ThreadPoolExecutor(max_workers=16) as pool:
        current = list(pool.map(lambda e: single_object(conn, S3Uri.parse(e["uri"])), entries))
    objects, skipped = [], []
    relative = [e["uri"].removeprefix(f"s3://{root.bucket}/{root.prefix}") for e in entries]
    types = infer_types(partition_values(key) for key in relative)
    for entry, now, key in zip(entries, current, relative):
        if (segment := hidden_segment(key)) is not None:
            skipped.append({"uri": entry["uri"], "reason": hidden_reason(key, segment)})
        elif now is None:
            skipped.append({"uri": entry["uri"], "reason": "listed, but deleted since"})
        elif now.etag != entry["etag"]:
            skipped.append({"uri": entry["uri"], "reason": f"listed as ETag {entry['etag']}, replaced since "
                                                           f"(now {now.etag}): the new bytes are another run's"})
        else:
            objects.append(ObjectRef(entry["uri"], entry["etag"], now.size, typed(partition_values(key), types)))
    return InputListing(sorted(objects, key=lambda o: o.uri), "list", skipped)
