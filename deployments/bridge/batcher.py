"""The window: new object versions collect until `Window.seconds` have passed since the first of them
arrived, or `Window.objects` are in it; then they become one batch (batches.py), recorded in the
ledger (ledger.py) and posted as one event. Objects of different buckets, or under different Hive
`key=value` folder names (`dt=…/` vs none), go to separate batches of the same window: a run's
partition columns are the same for every object it reads. A notification (an SQS message, a page of
a listing) is acknowledged only when every object it named is in a batch that Prefect accepted.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from deployments.bridge.batches import state_prefix, write_batch
from deployments.bridge.emitter import EmitFailed
from deployments.bridge.events import ObjectCreated
from deployments.bridge.ledger import Ledger
from deployments.bridge.sources import Batch
from tasks.io.partitions import partition_values
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri

log = logging.getLogger("sentinel.bridge")


@dataclass(frozen=True)
class Window:
    seconds: float = 30.0
    objects: int = 500

    def __post_init__(self) -> None:
        if self.seconds < 0 or int(self.objects) < 1:
            raise ValueError(f"a batch window needs seconds >= 0 and objects >= 1 (got {self.seconds:g} s, "
                             f"{self.objects} objects)")

    def __str__(self) -> str:
        return f"{self.seconds:g} s or {self.objects} objects"


@dataclass
class _Held:
    """A notification not acknowledged yet: how many of its objects are still in the window, and
    the batches that hold the others."""

    batch: Batch
    waiting: int = 0
    lists: set[str] = field(default_factory=set)


class Batcher:
    def __init__(self, conn: S3Connection, emitter, source, window: Window = Window(), root: str = "",
                 clock=time.monotonic):
        self.conn, self.emitter, self.source, self.window, self.root = conn, emitter, source, window, root
        self.clock = clock
        self.ledgers: dict[str, Ledger] = {}
        self.open: dict[tuple[str, str], tuple[ObjectCreated, float]] = {}  # (uri, etag) -> (object, arrived)
        self.waiters: dict[tuple[str, str], list[_Held]] = {}
        self.held: list[_Held] = []

    def ledger(self, bucket: str) -> Ledger:
        if bucket not in self.ledgers:
            uri = S3Uri(bucket, f"{state_prefix(self.root)}ledger.json")
            self.ledgers[bucket] = Ledger.load(self.conn.boto3_client(), uri)
        return self.ledgers[bucket]

    # ---- in ------------------------------------------------------------------------------------------
    def offer(self, batch: Batch, wanted: list[ObjectCreated]) -> None:
        """Take one notification's objects (those that passed the bridge's filter)."""
        held, now = _Held(batch), self.clock()
        for obj in {(o.uri, o.etag): o for o in wanted}.values():
            key = (obj.uri, obj.etag)
            if (in_list := self.ledger(obj.bucket).batch_of(obj)) is not None:
                held.lists.add(in_list)
                log.info("skipped %s etag=%s: this version is already in batch %s (a repeated notification, "
                         "or the same bytes uploaded again)", obj.uri, obj.etag, in_list)
                continue
            if key not in self.open:
                if not self.open:
                    log.info("batch window opened by %s (closes after %s)", obj.uri, self.window)
                self.open[key] = (obj, now)
            self.waiters.setdefault(key, []).append(held)
            held.waiting += 1
        self.held.append(held)
        self._ack_ready()

    def time_left(self) -> float | None:
        """Seconds until the open window closes by time; None when no window is open."""
        if not self.open:
            return None
        _, first = next(iter(self.open.values()))
        return max(0.0, self.window.seconds - (self.clock() - first))

    def due(self) -> bool:
        return bool(self.open) and (len(self.open) >= self.window.objects or self.time_left() == 0)

    # ---- out -----------------------------------------------------------------------------------------
    def flush(self, everything: bool = False) -> list[tuple[str, int]]:
        """Post the batches that are due (all that the window holds if `everything`: on shutdown);
        returns (list URI, objects) of each batch posted. A batch Prefect did not accept stays pending
        in the ledger and is posted again next time; its notifications stay unacknowledged."""
        posted = self.retry_pending()
        if posted is None:
            return []
        while self.open and (everything or self.due()):
            chunk = [obj for obj, _ in list(self.open.values())[: self.window.objects]]
            groups: dict[tuple, list[ObjectCreated]] = {}
            for obj in chunk:
                groups.setdefault((obj.bucket, self._partition_names(obj)), []).append(obj)
            for (bucket, _), objects in sorted(groups.items()):
                list_uri = self._record(bucket, objects)
                if not self._post(bucket, list_uri):
                    self._ack_ready()
                    return posted
                posted.append((list_uri, len(objects)))
        self._ack_ready()
        return posted

    def retry_pending(self) -> list[tuple[str, int]] | None:
        """Post again the batches recorded but not confirmed; None if one is still not accepted."""
        posted = []
        for bucket, ledger in self.ledgers.items():
            for list_uri, event in list(ledger.pending.items()):
                if not self._post(bucket, list_uri):
                    return None
                posted.append((list_uri, event["payload"]["objects"]))
        return posted

    def _partition_names(self, obj: ObjectCreated) -> tuple[str, ...]:
        return tuple(name for name, _ in partition_values(obj.key.removeprefix(self.root)))

    def _record(self, bucket: str, objects: list[ObjectCreated]) -> str:
        list_uri, event = write_batch(self.conn, bucket, self.root, objects)
        self.ledger(bucket).record(list_uri, objects, event)
        for obj in objects:
            key = (obj.uri, obj.etag)
            del self.open[key]
            for held in self.waiters.pop(key, []):
                held.waiting -= 1
                held.lists.add(list_uri)
            log.info("batched %s etag=%s size=%d in %s", obj.uri, obj.etag, obj.size, list_uri)
        return list_uri

    def _post(self, bucket: str, list_uri: str) -> bool:
        ledger = self.ledger(bucket)
        event = ledger.pending[list_uri]
        try:
            self.emitter.emit([event])
        except EmitFailed as exc:
            log.error("%s; batch %s stays pending, its notifications unacknowledged; will be retried", exc, list_uri)
            return False
        log.info("emitted %s %s: %d objects under %s", event["event"], list_uri, event["payload"]["objects"],
                 event["payload"]["root"])
        ledger.posted(list_uri)
        return True

    def _ack_ready(self) -> None:
        pending = {uri for ledger in self.ledgers.values() for uri in ledger.pending}
        ready = [h for h in self.held if h.waiting == 0 and not h.lists & pending]
        if ready:
            self.source.ack_all([h.batch for h in ready])
            self.held = [h for h in self.held if h.waiting or h.lists & pending]
