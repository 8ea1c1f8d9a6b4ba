"""A batch: the new objects one window collected, written as an input list and announced by one
Prefect event, so that one flow run (`input_uri` = the list) reads exactly those object versions.

Where the bridge keeps its state, in the watched bucket, under a hidden prefix (a `_` segment is
never data, so neither the bridge nor a run over the watched prefix reads it):

    s3://<bucket>/_sentinel/bridge/<watched prefix>ledger.json        what was batched (ledger.py)
    s3://<bucket>/_sentinel/bridge/<watched prefix>batches/<UTC time>-<digest>.inputs.json

The event's id is derived from the list's content (its root and object versions), so a batch
posted again (a retry, a restart between posting and recording) is one event to Prefect.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

from deployments.bridge.events import ObjectCreated
from tasks.io.inputs import INPUT_LIST_SUFFIX, write_input_list
from tasks.io.listing import ObjectRef
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri

EVENT_NAME = "sentinel.input-list.created"
STATE_PREFIX = "_sentinel/bridge/"
_NAMESPACE = uuid.UUID("0b7e1c55-3c2f-4f57-9d7e-5a1d2f4e8c90")


def root_prefix(watch_prefix: str = "", key_prefix: str = "") -> str:
    """The folder the batches' objects are read relative to (their Hive `key=value` partitions):
    the more specific of the watched prefix and the key filter, cut back to a whole folder."""
    prefix = key_prefix if key_prefix.startswith(watch_prefix) else watch_prefix
    return prefix[: prefix.rfind("/") + 1]


def state_prefix(root: str) -> str:
    """Key prefix of the bridge's own objects for the watched folder `root` (a key prefix)."""
    return f"{STATE_PREFIX}{root}"


def is_state_key(key: str) -> bool:
    return key.startswith(STATE_PREFIX)


def digest(root: str, objects: list[ObjectCreated]) -> str:
    """sha256 of what the list says: its root and its sorted object versions."""
    versions = sorted([o.uri, o.etag, o.size] for o in objects)
    return hashlib.sha256(json.dumps({"root": root, "objects": versions}).encode()).hexdigest()


def event_id(content_digest: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, content_digest))


def batch_event(list_uri: str, root: str, objects: list[ObjectCreated], content_digest: str) -> dict:
    uris = sorted(o.uri for o in objects)
    return {
        "id": event_id(content_digest),
        "occurred": datetime.now(UTC).isoformat(),
        "event": EVENT_NAME,
        "resource": {
            "prefect.resource.id": list_uri,
            "prefect.resource.name": f"{len(objects)} objects under {root}",
            "sentinel.root": root,
            "s3.bucket": S3Uri.parse(list_uri).bucket,
        },
        "payload": {"root": root, "objects": len(objects), "bytes": sum(o.size for o in objects),
                    "first": uris[0], "last": uris[-1]},
    }


def write_batch(conn: S3Connection, bucket: str, root: str, objects: list[ObjectCreated]) -> tuple[str, dict]:
    """Write the input list of `objects` (all in `bucket`, under key prefix `root`); returns its URI
    and the event that announces it."""
    root_uri = f"s3://{bucket}/{root}"
    content = digest(root_uri, objects)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = S3Uri(bucket, f"{state_prefix(root)}batches/{stamp}-{content[:16]}{INPUT_LIST_SUFFIX}")
    refs = [ObjectRef(o.uri, o.etag, o.size) for o in objects]
    list_uri = write_input_list(conn, target, root_uri, refs)
    return list_uri, batch_event(list_uri, root_uri, objects, content)
