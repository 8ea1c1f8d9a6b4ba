"""The bridge loop: receive -> filter -> emit (accepted) -> acknowledge. Restart-safe: an
unacknowledged notification comes back, and a repeated one has the same event id."""
from __future__ import annotations

import logging
import signal
import threading

from deployments.bridge.emitter import EmitFailed, PrefectEventsEmitter
from deployments.bridge.events import to_prefect_event

log = logging.getLogger("sentinel.bridge")


def describe_filter(source, prefix: str = "", suffix: str = "") -> str:
    """What the bridge passes on, in words: where it watches and which keys."""
    rules = [f"starting {prefix!r}" if prefix else "", f"ending {suffix!r}" if suffix else ""]
    keys = " and ".join(filter(None, rules))
    return f"{getattr(source, 'watching', type(source).__name__)}" + (f", keys {keys}" if keys else ", every key")


def pump_once(source, emitter: PrefectEventsEmitter, prefix: str = "", suffix: str = "") -> int:
    """One receive round; returns the number of events emitted. Every object is logged by name:
    emitted, or ignored (with the filter it did not pass)."""
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
        for obj in batch.objects:
            if not obj.matches(prefix, suffix):
                log.info("ignored %s: not in %s", obj.uri, describe_filter(source, prefix, suffix))
        emitted += len(wanted)
    return emitted


def stop_on_signals(stop: threading.Event, signals=(signal.SIGTERM, signal.SIGINT)) -> dict:
    """Set `stop` on SIGTERM / SIGINT (the round in progress finishes first); returns a dict that
    gets the signal's name."""
    received: dict = {}

    def handle(signum, _frame) -> None:
        received["signal"] = signal.Signals(signum).name
        stop.set()

    for signum in signals:
        signal.signal(signum, handle)
    return received


def run_bridge(source, emitter: PrefectEventsEmitter, *, prefix: str = "", suffix: str = "",
               idle_sleep_s: float = 5.0, stop: threading.Event | None = None, received: dict | None = None) -> None:
    stop = stop or threading.Event()
    log.info("bridge started: %s -> %s", describe_filter(source, prefix, suffix), emitter.url)
    while not stop.is_set():
        try:
            if pump_once(source, emitter, prefix, suffix) == 0 and idle_sleep_s:
                stop.wait(idle_sleep_s)
        except Exception:
            log.exception("bridge round failed; retrying")
            stop.wait(idle_sleep_s or 1.0)
    why = (received or {}).get("signal")
    log.info("bridge stopped%s", f" ({why})" if why else "")
