"""Where object-created notifications come from.

- `SqsSource`: an SQS queue fed by S3 notifications (or SNS / EventBridge -> SQS). A message is
  deleted only after the batch holding its objects was accepted; otherwise SQS redelivers it. It is
  received with a visibility timeout longer than the batch window, so that SQS does not hand it out
  again while the bridge still holds it.
- `PollingSource`: any S3-compatible store without notifications. Lists a prefix and remembers
  the ETag it has seen per key in a JSON state object in S3, written only after acceptance.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from deployments.bridge.events import ObjectCreated, parse_notification
from tasks.io.s3_uri import S3Uri

log = logging.getLogger("sentinel.bridge")


@dataclass
class Batch:
    objects: list[ObjectCreated]
    ack_token: object = None


class SqsSource:
    def __init__(self, sqs_client, queue_url: str, wait_s: int = 10, max_messages: int = 10,
                 visibility_s: int | None = None):
        self.sqs, self.queue_url = sqs_client, queue_url
        self.wait_s, self.max_messages, self.visibility_s = wait_s, max_messages, visibility_s

    @property
    def watching(self) -> str:
        return f"SQS queue {self.queue_url}"

    def receive(self, max_wait_s: float | None = None) -> list[Batch]:
        """One long poll of at most `wait_s` (and `max_wait_s`: the time left in the open window)."""
        wait = self.wait_s if max_wait_s is None else max(0, min(self.wait_s, int(max_wait_s)))
        extra = {"VisibilityTimeout": int(self.visibility_s)} if self.visibility_s else {}
        response = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=self.max_messages,
                                            WaitTimeSeconds=wait, **extra)
        batches = []
        for message in response.get("Messages", []):
            try:
                objects = parse_notification(message["Body"])
            except (ValueError, KeyError, TypeError) as exc:
                log.error("unparseable message %s left for the dead-letter queue: %s", message["MessageId"], exc)
                continue
            batches.append(Batch(objects, message["ReceiptHandle"]))
        return batches

    def ack_all(self, batches: list[Batch]) -> None:
        """Delete the messages, ten per request. One SQS did not delete comes back and is skipped then
        (its objects are in the ledger)."""
        for i in range(0, len(batches), 10):
            entries = [{"Id": str(n), "ReceiptHandle": b.ack_token} for n, b in enumerate(batches[i:i + 10])]
            failed = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries).get("Failed", [])
            for entry in failed:
                log.warning("SQS did not delete a message (%s: %s); it will come back and be skipped",
                            entry.get("Code"), entry.get("Message"))


@dataclass
class PollingSource:
    """Lists `prefix_uri`; an object is new when its ETag differs from the one remembered. A
    re-upload of the same bytes (same ETag, newer LastModified) is skipped with a log line."""

    s3_client: object
    prefix_uri: str
    state_uri: str
    seen: dict[str, str] = field(default_factory=dict)  # key -> ETag emitted
    modified: dict[str, str] = field(default_factory=dict)  # key -> LastModified of the version seen

    def __post_init__(self) -> None:
        self.prefix, self.state = S3Uri.parse(self.prefix_uri), S3Uri.parse(self.state_uri)
        self.seen, self.modified = self._load_state()

    @property
    def watching(self) -> str:
        return self.prefix_uri

    def _load_state(self) -> tuple[dict[str, str], dict[str, str]]:
        try:
            body = self.s3_client.get_object(Bucket=self.state.bucket, Key=self.state.key)["Body"].read()
        except self.s3_client.exceptions.NoSuchKey:
            return {}, {}
        doc = json.loads(body)
        return doc["seen"], doc.get("modified", {})

    def _save_state(self) -> None:
        body = json.dumps({"prefix": self.prefix_uri, "seen": self.seen, "modified": self.modified}).encode()
        self.s3_client.put_object(Bucket=self.state.bucket, Key=self.state.key, Body=body)

    def receive(self, max_wait_s: float | None = None) -> list[Batch]:
        fresh, reuploads = [], 0
        paginator = self.s3_client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.prefix.bucket, Prefix=self.prefix.prefix):
            for item in page.get("Contents", []):
                key, etag, when = item["Key"], item["ETag"].strip('"'), item["LastModified"].isoformat()
                if self.seen.get(key) != etag:
                    fresh.append(ObjectCreated(self.prefix.bucket, key, item["Size"], etag, when))
                elif self.modified.get(key) != when:
                    if key in self.modified:
                        log.info("skipped s3://%s/%s: uploaded again with the same bytes (etag %s), already emitted",
                                 self.prefix.bucket, key, etag)
                    self.modified[key] = when
                    reuploads += 1
        if reuploads and not fresh:
            self._save_state()  # otherwise ack_all saves it
        return [Batch(fresh[i:i + 100]) for i in range(0, len(fresh), 100)]

    def ack_all(self, batches: list[Batch]) -> None:
        for batch in batches:
            self.seen.update({obj.key: obj.etag for obj in batch.objects})
            self.modified.update({obj.key: obj.occurred for obj in batch.objects})
        self._save_state()
