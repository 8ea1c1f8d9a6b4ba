"""Small objects fetched whole, once: one GET serves the footer (planning), the input suite's read and
the shard's batches, instead of a HEAD and a GET for each of them. Streams land in S3 as thousands of
such objects; larger ones are never held whole (the reader streams them by row group).

A shard task forgets its objects when it ends (`forget`): the cache then holds the objects planned
and not yet read, not the last 64 MiB of a run's objects for the rest of the run."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from tasks.io.listing import ObjectRef
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri

# objects up to this size are fetched whole; the cache keeps up to _SMALL_CACHE_BYTES of them (LRU)
WHOLE_OBJECT_BYTES = 4 * 2**20
_SMALL_CACHE_BYTES = 64 * 2**20
_small: OrderedDict[tuple[str, str], bytes] = OrderedDict()
_small_lock = threading.Lock()
_small_held = [0]  # bytes in _small


def small_object(conn: S3Connection, obj: ObjectRef) -> bytes:
    key = (obj.uri, obj.etag)
    with _small_lock:
        if key in _small:
            _small.move_to_end(key)
            return _small[key]
    # arrow's C++ S3 client: no GIL held while waiting, half boto3's CPU per small GET (measured)
    with conn.arrow_fs.open_input_stream(S3Uri.parse(obj.uri).arrow_path) as stream:
        data = stream.read()
    with _small_lock:
        if key not in _small:
            _small[key] = data
            _small_held[0] += len(data)
        while _small_held[0] > _SMALL_CACHE_BYTES and len(_small) > 1:
            _small_held[0] -= len(_small.popitem(last=False)[1])
    return data


def forget(objects: Iterable[ObjectRef]) -> None:
    """Drop these objects' bytes (their shard has read them; a retry fetches them again)."""
    with _small_lock:
        for obj in objects:
            data = _small.pop((obj.uri, obj.etag), None)
            if data is not None:
                _small_held[0] -= len(data)
