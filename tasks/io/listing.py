"""List the objects under an `s3://` prefix (paginated), and what each listed object is to a run.

`list_keys` is the raw listing (every object, relative key, ETag, size). `list_objects` is the data
of a plain folder: every object its writer's commit protocol says is live (tasks/io/commit_protocols.py:
hidden folders, `_SUCCESS`, Databricks transaction markers), with its Hive partition values
(tasks/io/partitions.py). Table formats (Delta Lake, Iceberg) are read by tasks/io/inputs.py.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tasks.io.commit_protocols import Resolution, resolve_commit_protocols
from tasks.io.object_table import ObjectRef, ObjectTable
from tasks.io.partitions import infer_types, partition_values, typed
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri, validate_key


@dataclass(frozen=True, slots=True)
class ListedKey:
    key: str  # relative to the listed prefix
    etag: str
    size: int


@dataclass
class FolderListing:
    """A plain folder's data objects, and what was left out and why."""

    objects: ObjectTable
    resolution: Resolution


def single_object(conn: S3Connection, root: S3Uri) -> ObjectRef | None:
    """The object a URI names exactly (not a prefix), or None."""
    if not root.key or root.key.endswith("/"):
        return None
    client = conn.boto3_client()
    try:
        head = client.head_object(Bucket=root.bucket, Key=root.key)
    except client.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
            raise
        return None
    return ObjectRef(str(root), head["ETag"].strip('"'), head["ContentLength"])


def list_keys(conn: S3Connection, root: S3Uri) -> Iterator[ListedKey]:
    """Every object under `root.prefix` (folder markers left out), in S3's key order."""
    paginator = conn.listing_client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=root.bucket, Prefix=root.prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if item["Size"] == 0 and key.endswith("/"):
                continue
            yield ListedKey(key[len(root.prefix):], item["ETag"].strip('"'), item["Size"])


def read_small_object(conn: S3Connection, uri: str) -> bytes:
    parsed = S3Uri.parse(uri)
    return conn.boto3_client().get_object(Bucket=parsed.bucket, Key=parsed.key)["Body"].read()


def folder_objects(conn: S3Connection, root: S3Uri, listed: list[ListedKey]) -> FolderListing:
    """The live data objects of a plain folder (commit protocols honoured, partitions typed), sorted."""
    by_key = {item.key: item for item in listed}
    resolution = resolve_commit_protocols(by_key, lambda key: read_small_object(conn, str(root.join(key))))
    types = infer_types(partition_values(key) for key in resolution.live)
    folder = f"s3://{root.bucket}/{root.prefix}"
    objects = ObjectTable(prefix=folder)  # appended in key order: one prefix, so in URI order
    for key in sorted(resolution.live):
        uri = folder + key
        validate_key(root.prefix + key, uri)
        item = by_key[key]
        objects.append(ObjectRef(uri, item.etag, item.size, typed(partition_values(key), types)))
    return FolderListing(objects, resolution)


def list_objects(conn: S3Connection, prefix_uri: str) -> Sequence[ObjectRef]:
    """Every data object under the prefix, sorted by key. A URI naming one object lists that object."""
    root = S3Uri.parse(prefix_uri)
    if (one := single_object(conn, root)) is not None:
        return [one]
    return folder_objects(conn, root, list(list_keys(conn, root))).objects
