"""List the objects under an `s3://` prefix (paginated)."""
from __future__ import annotations

from dataclasses import dataclass

from prefect import task

from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri, validate_key


@dataclass(frozen=True)
class ObjectRef:
    """One input object as listed: its ETag pins the exact bytes a run read."""

    uri: str
    etag: str
    size: int


def is_hidden(key: str) -> bool:
    """`_SUCCESS`, `_manifest`, `.tmp` files and folder markers are not data (Hadoop/Spark convention)."""
    name = key.rsplit("/", 1)[-1]
    return not name or name.startswith(("_", "."))


def list_objects(conn: S3Connection, prefix_uri: str) -> list[ObjectRef]:
    """Every data object under the prefix, sorted by key. A URI naming one object lists that object."""
    root = S3Uri.parse(prefix_uri)
    client = conn.boto3_client()
    found: list[ObjectRef] = []
    if root.key and not root.key.endswith("/"):
        try:
            head = client.head_object(Bucket=root.bucket, Key=root.key)
            return [ObjectRef(str(root), head["ETag"].strip('"'), head["ContentLength"])]
        except client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
                raise
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=root.bucket, Prefix=root.prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if is_hidden(key) or item["Size"] == 0 and key.endswith("/"):
                continue
            validate_key(key, f"s3://{root.bucket}/{key}")
            found.append(ObjectRef(f"s3://{root.bucket}/{key}", item["ETag"].strip('"'), item["Size"]))
    return sorted(found, key=lambda ref: ref.uri)


@task(name="list-input-objects", retries=2, retry_delay_seconds=5)
def list_objects_task(conn: S3Connection, prefix_uri: str) -> list[ObjectRef]:
    return list_objects(conn, prefix_uri)
