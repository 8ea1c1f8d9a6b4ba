"""AWS Lambda variant of the bridge: subscribe the function to an SQS queue fed by the bucket's
notifications (or to the bucket itself). One invocation's objects are one window: the event source
mapping's batch size and batching window (`BatchSize`, `MaximumBatchingWindowInSeconds`) set it, and
`BRIDGE_BATCH_OBJECTS` (default 500) caps the objects per input list. The ledger is the long-running
bridge's (batcher.py, ledger.py), so give the function a reserved concurrency of 1: one writer.
Raising makes Lambda retry the invocation; the versions already batched are then skipped.

Environment: PREFECT_API_URL, optional PREFECT_API_KEY, BRIDGE_PREFIX, BRIDGE_SUFFIX, BRIDGE_BATCH_OBJECTS.
"""
from __future__ import annotations

import os

from deployments.bridge.batcher import Batcher, Window
from deployments.bridge.batches import root_prefix
from deployments.bridge.emitter import PrefectEventsEmitter
from deployments.bridge.events import parse_notification
from deployments.bridge.service import wanted_objects
from deployments.bridge.sources import Batch
from tasks.io.s3 import S3Connection


class _Invocation:
    """Lambda deletes the SQS messages of an invocation that returns: nothing to acknowledge here."""

    watching = "Lambda invocation"

    def ack_all(self, batches: list[Batch]) -> None:
        pass


def handler(event: dict, context=None) -> dict:
    records = event.get("Records", [])
    if records and records[0].get("eventSource") == "aws:sqs":  # SQS trigger: S3 notifications in bodies
        objects = [obj for record in records for obj in parse_notification(record["body"])]
    else:
        objects = parse_notification(event)
    prefix, suffix = os.environ.get("BRIDGE_PREFIX", ""), os.environ.get("BRIDGE_SUFFIX", "")
    wanted = wanted_objects(objects, _Invocation(), prefix, suffix)
    emitter = PrefectEventsEmitter(os.environ["PREFECT_API_URL"], os.environ.get("PREFECT_API_KEY"), retries=2)
    window = Window(0, int(os.environ.get("BRIDGE_BATCH_OBJECTS", "500")))
    batcher = Batcher(S3Connection.from_env(), emitter, _Invocation(), window, root=root_prefix("", prefix))
    batcher.offer(Batch(objects), wanted)
    posted = batcher.flush(everything=True)
    pending = [uri for ledger in batcher.ledgers.values() for uri in ledger.pending]
    if pending:
        raise RuntimeError(f"Prefect did not accept batches {pending}; Lambda retries the invocation")
    return {"batches": [uri for uri, _ in posted], "emitted": sum(n for _, n in posted),
            "ignored": len(objects) - len(wanted)}
