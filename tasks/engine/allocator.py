"""glibc's malloc in a long run: hand freed memory back to the system instead of keeping it.

A run of 100,000 small objects allocates and frees gigabytes in medium-sized blocks from a dozen
threads (parquet footers, S3 responses, list and dict tables that grow with the run). glibc's malloc
keeps what is freed inside each thread's arena: measured, a 100,000-object run's arenas held
~1.1 GB of free space, ~250 MB of it resident, most of its peak RSS beyond the 2,000-object run's.

`release()` gives the arenas' free pages back (malloc_trim); the flows call it between planning
chunks and as shards finish, at most every RELEASE_EVERY_S. Off with SENTINEL_MALLOC_TUNING=0; a
no-op where the C library is not glibc.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time

RELEASE_EVERY_S = 2.0  # release() does the work at most this often

_libc = None
_state = {"released_at": 0.0}
_lock = threading.Lock()


def _glibc():
    global _libc
    if _libc is None:
        _libc = False
        if os.environ.get("SENTINEL_MALLOC_TUNING", "1") != "0":
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                if hasattr(libc, "malloc_trim") and hasattr(libc, "gnu_get_libc_version"):
                    _libc = libc
            except OSError:
                pass
    return _libc


def release() -> bool:
    """Give the arenas' free pages back to the system, unless that was done less than RELEASE_EVERY_S
    ago; True when it did."""
    libc = _glibc()
    if not libc:
        return False
    now = time.monotonic()
    with _lock:
        if now - _state["released_at"] < RELEASE_EVERY_S:
            return False
        _state["released_at"] = now
    libc.malloc_trim(0)
    return True
