"""S3 notifications in, Prefect events out."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from tasks.io.commit_protocols import hidden_segment

EVENT_NAME = "s3.object.created"
_NAMESPACE = uuid.UUID("6f1c3f3e-5b8e-4a59-9a51-2f0f6c0b7a11")


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str
    size: int
    etag: str
    occurred: str  # ISO-8601

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def event_id(self) -> str:
        """One id per object version (ETag): Prefect processes an event id once, so a repeated
        notification of the same bytes starts no second run."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.uri}#{self.etag}"))

    def matches(self, prefix: str = "", suffix: str = "") -> bool:
        """Under `prefix`, ending in `suffix`, and data: no segment under the prefix starts with `_` or
        `.` (Spark's `_temporary/`, `_delta_log/`, `.spark-staging`, `_SUCCESS`: files that are about to
        move, or are not rows at all)."""
        return (self.key.startswith(prefix) and self.key.endswith(suffix)
                and hidden_segment(self.key[len(prefix):]) is None)


def to_prefect_event(obj: ObjectCreated) -> dict:
    return {
        "id": obj.event_id,
        "occurred": obj.occurred,
        "event": EVENT_NAME,
        "resource": {
            "prefect.resource.id": obj.uri,
            "prefect.resource.name": obj.key.rsplit("/", 1)[-1],
            "s3.bucket": obj.bucket,
            "s3.key": obj.key,
        },
        "payload": {"bucket": obj.bucket, "key": obj.key, "size": obj.size, "etag": obj.etag},
    }


def parse_notification(body: str | dict) -> list[ObjectCreated]:
    """S3 event notifications, also wrapped in SNS or delivered through EventBridge."""
    doc = json.loads(body) if isinstance(body, str) else body
    if "Message" in doc and isinstance(doc["Message"], str):  # SNS envelope
        return parse_notification(doc["Message"])
    if doc.get("detail-type") == "Object Created":  # EventBridge
        detail = doc["detail"]
        return [ObjectCreated(detail["bucket"]["name"], detail["object"]["key"], int(detail["object"].get("size", 0)),
                              detail["object"].get("etag", ""), doc.get("time") or _now())]
    found = []
    for record in doc.get("Records", []):  # s3:TestEvent has none
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        found.append(ObjectCreated(
            bucket=s3["bucket"]["name"], key=unquote_plus(s3["object"]["key"]),
            size=int(s3["object"].get("size", 0)), etag=s3["object"].get("eTag", "").strip('"'),
            occurred=record.get("eventTime") or _now(),
        ))
    return found


def _now() -> str:
    return datetime.now(UTC).isoformat()
