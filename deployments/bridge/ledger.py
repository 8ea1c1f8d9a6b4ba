"""The bridge's durable record, one JSON object per watched folder in S3 (batches.py says where):

    {"versions": {key: [etag, list URI]},      every object version put in a batch (the latest per key)
     "pending":  {list URI: event}}            batches written but not yet accepted by Prefect

The order that makes each object version land in exactly one batch: the list is written, then the
ledger records its versions and its event as pending, then the event is posted, then the ledger
drops it from `pending`, and only then are the notifications acknowledged. A version found in the
ledger is never batched again (a repeated notification, the same bytes uploaded again); a pending
batch is posted again, with the same event id, before anything else (a restart between recording and
posting). One bridge process writes one ledger.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from deployments.bridge.events import ObjectCreated
from tasks.io.s3_uri import S3Uri

log = logging.getLogger("sentinel.bridge")


@dataclass
class Ledger:
    s3_client: object
    uri: S3Uri
    versions: dict[str, list[str]] = field(default_factory=dict)
    pending: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, s3_client, uri: S3Uri) -> Ledger:
        try:
            body = s3_client.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read()
        except s3_client.exceptions.NoSuchKey:
            return cls(s3_client, uri)
        doc = json.loads(body)
        ledger = cls(s3_client, uri, doc.get("versions", {}), doc.get("pending", {}))
        if ledger.pending:
            log.warning("%s: %d batches written but not confirmed as posted; posting them again (same event ids)",
                        uri, len(ledger.pending))
        return ledger

    def save(self) -> None:
        body = json.dumps({"sentinel_bridge_ledger": 1, "versions": self.versions, "pending": self.pending},
                          separators=(",", ":"), sort_keys=True).encode()
        self.s3_client.put_object(Bucket=self.uri.bucket, Key=self.uri.key, Body=body,
                                  ContentType="application/json")

    def batch_of(self, obj: ObjectCreated) -> str | None:
        """The list that holds this object version, if one does."""
        entry = self.versions.get(obj.key)
        return entry[1] if entry and entry[0] == obj.etag else None

    def record(self, list_uri: str, objects: list[ObjectCreated], event: dict) -> None:
        self.versions.update({obj.key: [obj.etag, list_uri] for obj in objects})
        self.pending[list_uri] = event
        self.save()

    def posted(self, list_uri: str) -> None:
        if self.pending.pop(list_uri, None) is not None:
            self.save()
