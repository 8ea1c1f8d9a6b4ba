"""GuardClock: the wall time a shard spends in its guards (scoring + re-decoding), shared by the
record batches in flight (tasks/engine/runner.py reports it beside the shard's own time)."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class GuardClock:
    """The seconds a shard spends in its guards (scoring + re-decoding), as wall time: while at
    least one of the batches in flight is in a guard call, the clock runs once, so guard time is
    comparable with the shard's own wall time (`ShardResult.seconds`)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._active = 0
        self._since = 0.0
        self._lock = threading.Lock()

    @contextmanager
    def timed(self) -> Iterator[None]:
        with self._lock:
            if self._active == 0:
                self._since = time.perf_counter()
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    self.seconds += time.perf_counter() - self._since
