"""The bridge loop: receive -> filter -> emit (accepted) -> acknowledge. Restart-safe: an
unacknowledged notification comes back, and a repeated one has the same event id."""
from __future__ import annotations

import logging
import threading
import time

from deployments.bridge.emitter import EmitFailed, PrefectEventsEmitter
from deployments.bridge.events import to_prefect_event

log = logging.getLogger("sentinel.bridge")


def pump_once(source, emitter: PrefectEventsEmitter, prefix: str = "", suffix: str = "") -> int:
    """One receive round; returns the number of events emitted."""
    emitted = 0
    for batch in source.receive():
        wanted = [obj for obj in batch.objects if obj.matches(prefix, suffix)]
        try:
            emitter.emit([to_prefect_event(obj) for obj in wanted])
        except EmitFailed as exc:
            log.error("%s; not acknowledged, will be retried", exc)
            continue
        source.ack(batch)
        for obj in wanted:
            log.info("emitted s3.object.created %s etag=%s size=%d", obj.uri, obj.etag, obj.size)
        skipped = len(batch.objects) - len(wanted)
        if skipped:
            log.info("ignored %d objects outside prefix=%r suffix=%r", skipped, prefix, suffix)
        emitted += len(wanted)
    return emitted


def run_bridge(source, emitter: PrefectEventsEmitter, *, prefix: str = "", suffix: str = "",
               idle_sleep_s: float = 5.0, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    log.info("bridge started: %s -> %s", type(source).__name__, emitter.url)
    while not stop.is_set():
        try:
            if pump_once(source, emitter, prefix, suffix) == 0 and idle_sleep_s:
                stop.wait(idle_sleep_s)
        except Exception:  # noqa: BLE001 - a long-running service logs and keeps going
            log.exception("bridge round failed; retrying")
            time.sleep(idle_sleep_s or 1.0)
    log.info("bridge stopped")
