"""Small objects fetched whole, once: one GET serves the footer (planning), the input suite's read and
the shard's batches, instead of a ranged GET for the footer and a GET for the rows. Streams land in S3 as
thousands of such objects; larger ones are never held whole (the reader streams them by row group).

The cache holds up to CACHE_BYTES, in two parts:
- objects planning fetched (`planned_object`) and no shard has read yet. Planning runs ahead of the shards
  (two chunks of up to 20,000 objects), so it keeps an object only while there is room and otherwise reads
  its footer alone (one ranged GET): what it keeps is read by a shard before it is dropped. (An LRU cache
  evicted the oldest: the very objects the next shards read, each then fetched twice.)
- objects a shard is reading (`small_object`): the input suite's read and the batches share one GET. To
  keep one, the newest planned objects (read last) give way, then the oldest read ones.
A shard task drops its objects when it ends, and planning the objects it found bad (`forget`).
"""
from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable

from tasks.io.listing import ObjectRef
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri

# objects up to this size are fetched whole; the cache keeps up to CACHE_BYTES of them
WHOLE_OBJECT_BYTES = 4 * 2**20
CACHE_BYTES = 64 * 2**20
_planned: OrderedDict[tuple[str, str], bytes] = OrderedDict()  # in the order planning fetched them
_reading: OrderedDict[tuple[str, str], bytes] = OrderedDict()  # in the order shards fetched them
_lock = threading.Lock()
_held = [0]  # bytes in both, and reserved by fetches under way
# whole-object GETs and their bytes, and the reads the cache served, for this process (tests read it;
# nothing logs it yet)
fetched: Counter[str] = Counter()


def _cached(key: tuple[str, str]) -> bytes | None:
    data = _planned.get(key)
    if data is None:
        data = _reading.get(key)
    if data is not None:
        fetched["hits"] += 1
    return data


def _fetch(conn: S3Connection, obj: ObjectRef) -> bytes:
    # arrow's C++ S3 client: no GIL held while waiting, half boto3's CPU per small GET (measured)
    with conn.arrow_fs.open_input_stream(S3Uri.parse(obj.uri).arrow_path) as stream:
        data = stream.read()
    with _lock:
        fetched["objects"] += 1
        fetched["bytes"] += len(data)
    return data


def planned_object(conn: S3Connection, obj: ObjectRef) -> bytes | None:
    """For planning: the object's bytes if they are cached, or fetched and kept when they fit; None
    when the cache is full (read the footer alone: a shard fetches the object when it reads it)."""
    key = (obj.uri, obj.etag)
    with _lock:
        if (data := _cached(key)) is not None:
            return data
        if _held[0] + obj.size > CACHE_BYTES:
            return None
        _held[0] += obj.size  # reserved: planning threads fetching at once do not overfill it
    try:
        data = _fetch(conn, obj)
    except BaseException:
        with _lock:
            _held[0] -= obj.size
        raise
    with _lock:
        _held[0] += len(data) - obj.size
        if key in _planned or key in _reading:  # another thread fetched it meanwhile
            _held[0] -= len(data)
        else:
            _planned[key] = data
    return data


def small_object(conn: S3Connection, obj: ObjectRef) -> bytes:
    """For reading: the object's bytes, cached or fetched, and then kept for the shard's next read of it
    (the newest planned objects give way, then the oldest read ones)."""
    key = (obj.uri, obj.etag)
    with _lock:
        if (data := _cached(key)) is not None:
            return data
    data = _fetch(conn, obj)
    with _lock:
        if key in _planned or key in _reading:
            return data
        while _held[0] + len(data) > CACHE_BYTES and (_planned or _reading):
            _held[0] -= len(_planned.popitem(last=True)[1] if _planned else _reading.popitem(last=False)[1])
        if _held[0] + len(data) <= CACHE_BYTES:
            _reading[key] = data
            _held[0] += len(data)
    return data


def forget(objects: Iterable[ObjectRef]) -> None:
    """Drop these objects' bytes (their shard has read them; a retry fetches them again)."""
    with _lock:
        for obj in objects:
            key = (obj.uri, obj.etag)
            data = _planned.pop(key, None)
            if data is None:
                data = _reading.pop(key, None)
            if data is not None:
                _held[0] -= len(data)
