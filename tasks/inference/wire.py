"""Triton's BYTES tensors on the wire: encoded and decoded directly (each element a 4-byte
little-endian length, then its bytes), without tritonclient's numpy round trips, and handed to
tritonclient as an InferInput's raw contents."""
from __future__ import annotations

import struct

import numpy as np
import tritonclient.grpc.aio as grpcclient

_LENGTH = struct.Struct("<I")


def encode_bytes_tensor(values: list[str] | list[bytes]) -> bytes:
    """Triton's BYTES wire format (each element: 4-byte little-endian length, then its bytes);
    the same bytes as tritonclient's serialize_byte_tensor, without the numpy round trips."""
    pack = _LENGTH.pack
    encoded = [v if isinstance(v, bytes) else v.encode("utf-8") for v in values]
    return b"".join([part for item in encoded for part in (pack(len(item)), item)])


def decode_bytes_tensor(raw: bytes, count: int | None = None) -> list[str]:
    """The strings of a BYTES tensor (invalid UTF-8 replaced). When every element is the same
    (e.g. MODEL), one comparison instead of a loop."""
    if not raw:
        return []
    unpack = _LENGTH.unpack_from
    first = unpack(raw, 0)[0] + 4
    if count and len(raw) == first * count and raw == raw[:first] * count:
        return [raw[4:first].decode("utf-8", "replace")] * count
    out, pos, end = [], 0, len(raw)
    while pos < end:
        size = unpack(raw, pos)[0]
        pos += 4
        out.append(raw[pos:pos + size].decode("utf-8", "replace"))
        pos += size
    return out


def raw_input(name: str, rows: int, raw: bytes, shape: list[int] | None = None) -> grpcclient.InferInput:
    """A BYTES input of `rows` elements, shaped [rows, 1] (a batching model's) unless `shape` is given."""
    tensor = grpcclient.InferInput(name, shape or [rows, 1], "BYTES")
    if hasattr(tensor, "_raw_content"):  # tritonclient keeps a tensor's wire bytes here
        tensor._raw_content = raw
    else:  # pragma: no cover - another tritonclient layout: the public (slower) path
        values = decode_bytes_tensor(raw)
        array = np.array([v.encode("utf-8") for v in values], dtype=np.object_)
        tensor.set_data_from_numpy(array.reshape(shape or (-1, 1)))
    return tensor


def bytes_input(name: str, values: list[str]) -> grpcclient.InferInput:
    return raw_input(name, len(values), encode_bytes_tensor(values))


def repeated_input(name: str, value: str, rows: int) -> grpcclient.InferInput:
    item = value.encode("utf-8")
    return raw_input(name, rows, (_LENGTH.pack(len(item)) + item) * rows)
