"""The bridge loop: receive -> filter -> batch window -> write the input list, record it in the
ledger, emit one event per batch -> acknowledge. Restart-safe: an unacknowledged notification comes
back, and an object version already in a batch (the ledger) is never batched again."""
from __future__ import annotations

import logging
import signal
import threading

from deployments.bridge.batcher import Batcher
from deployments.bridge.batches import is_state_key
from deployments.bridge.events import ObjectCreated
from tasks.io.commit_protocols import hidden_reason, hidden_segment

log = logging.getLogger("sentinel.bridge")


def describe_filter(source, prefix: str = "", suffix: str = "") -> str:
    """What the bridge passes on, in words: where it watches and which keys."""
    rules = [f"starting {prefix!r}" if prefix else "", f"ending {suffix!r}" if suffix else ""]
    keys = " and ".join(filter(None, rules))
    return f"{getattr(source, 'watching', type(source).__name__)}" + (f", keys {keys}" if keys else ", every key")


def receive_round(source, batcher: Batcher, prefix: str = "", suffix: str = "") -> int:
    """One receive: every object is logged by name, ignored (with the filter it did not pass) or
    taken into the window (batched and emitted when the window closes). Returns the notifications
    received."""
    batches = source.receive(max_wait_s=batcher.time_left())
    for batch in batches:
        batcher.offer(batch, wanted_objects(batch.objects, source, prefix, suffix))
    return len(batches)


def wanted_objects(objects: list[ObjectCreated], source, prefix: str = "", suffix: str = "") -> list[ObjectCreated]:
    """The objects that pass the bridge's filter; every other one is logged by name with why not
    (the bridge's own state, a hidden file under the prefix, or outside the filter)."""
    wanted = []
    for obj in objects:
        if obj.matches(prefix, suffix):
            wanted.append(obj)
        elif is_state_key(obj.key):  # the bridge's own lists and ledger
            log.debug("ignored %s: the bridge's own state", obj.uri)
        elif obj.key.startswith(prefix) and obj.key.endswith(suffix):
            relative = obj.key[len(prefix):]
            log.info("ignored %s: %s", obj.uri, hidden_reason(relative, hidden_segment(relative)))
        else:
            log.info("ignored %s: not in %s", obj.uri, describe_filter(source, prefix, suffix))
    return wanted


def pump_once(source, batcher: Batcher, prefix: str = "", suffix: str = "", *, flush_all: bool = False) -> int:
    """One receive round, then the batches that are due (all of them with `flush_all`); returns the
    number of objects in the batches emitted."""
    receive_round(source, batcher, prefix, suffix)
    return sum(n for _, n in batcher.flush(everything=flush_all))


def stop_on_signals(stop: threading.Event, signals=(signal.SIGTERM, signal.SIGINT)) -> dict:
    """Set `stop` on SIGTERM / SIGINT (the round in progress finishes and the open window is
    flushed first); returns a dict that gets the signal's name."""
    received: dict = {}

    def handle(signum, _frame) -> None:
        received["signal"] = signal.Signals(signum).name
        stop.set()

    for signum in signals:
        signal.signal(signum, handle)
    return received


def run_bridge(source, batcher: Batcher, *, prefix: str = "", suffix: str = "", idle_sleep_s: float = 5.0,
               stop: threading.Event | None = None, received: dict | None = None) -> None:
    stop = stop or threading.Event()
    log.info("bridge started: %s -> %s, one batch per %s", describe_filter(source, prefix, suffix),
             batcher.emitter.url, batcher.window)
    while not stop.is_set():
        try:
            got = receive_round(source, batcher, prefix, suffix)
            batcher.flush()
            if not got and idle_sleep_s:
                left = batcher.time_left()
                stop.wait(idle_sleep_s if left is None else min(idle_sleep_s, left))
        except Exception:
            log.exception("bridge round failed; retrying")
            stop.wait(idle_sleep_s or 1.0)
    try:
        if batcher.open or batcher.held:
            log.info("stopping: flushing %d objects in the open window", len(batcher.open))
        batcher.flush(everything=True)
    except Exception:
        log.exception("flushing on stop failed; the unacknowledged notifications come back")
    why = (received or {}).get("signal")
    log.info("bridge stopped%s", f" ({why})" if why else "")
