"""S3 object-created notifications (plain, SNS- or EventBridge-wrapped) as `ObjectCreated`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from tasks.io.commit_protocols import hidden_segment


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

    def matches(self, prefix: str = "", suffix: str = "") -> bool:
        """Under `prefix`, ending in `suffix`, and data: no segment under the prefix starts with `_` or
        `.` (Spark's `_temporary/`, `_delta_log/`, `.spark-staging`, `_SUCCESS`: files that are about to
        move, or are not rows at all)."""
        return (self.key.startswith(prefix) and self.key.endswith(suffix)
                and hidden_segment(self.key[len(prefix):]) is None)


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
