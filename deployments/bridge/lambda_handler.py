"""AWS Lambda variant of the bridge: subscribe the function to the bucket's notifications (or
an SQS queue); it posts the events to the Prefect events API. Raising makes Lambda retry.

Environment: PREFECT_API_URL, optional PREFECT_API_KEY, BRIDGE_PREFIX, BRIDGE_SUFFIX.
"""
from __future__ import annotations

import logging
import os

from deployments.bridge.emitter import PrefectEventsEmitter
from deployments.bridge.events import parse_notification, to_prefect_event

log = logging.getLogger("sentinel.bridge")


def handler(event: dict, context=None) -> dict:
    records = event.get("Records", [])
    if records and records[0].get("eventSource") == "aws:sqs":  # SQS trigger: S3 notifications in bodies
        objects = [obj for record in records for obj in parse_notification(record["body"])]
    else:
        objects = parse_notification(event)
    prefix, suffix = os.environ.get("BRIDGE_PREFIX", ""), os.environ.get("BRIDGE_SUFFIX", "")
    wanted = [obj for obj in objects if obj.matches(prefix, suffix)]
    for obj in objects:
        if not obj.matches(prefix, suffix):
            log.info("ignored %s: key not starting %r and ending %r", obj.uri, prefix, suffix)
    emitter = PrefectEventsEmitter(os.environ["PREFECT_API_URL"], os.environ.get("PREFECT_API_KEY"), retries=2)
    emitter.emit([to_prefect_event(obj) for obj in wanted])
    for obj in wanted:
        log.info("emitted s3.object.created %s etag=%s size=%d", obj.uri, obj.etag, obj.size)
    return {"emitted": len(wanted), "ignored": len(objects) - len(wanted)}
