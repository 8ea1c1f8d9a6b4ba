"""The translate client's own BYTES tensor encoding/decoding matches tritonclient's."""
import numpy as np
import pytest
from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor

from tasks.inference.wire import bytes_input, decode_bytes_tensor, encode_bytes_tensor, repeated_input

VALUES = ["Der Zug kommt heute.", "", "naïve café ☕", "x" * 70_000, "zero\x00byte"]


def reference(values: list[str]) -> bytes:
    return serialize_byte_tensor(np.array([v.encode() for v in values], dtype=np.object_).reshape(-1, 1)).item()


@pytest.mark.parametrize("values", [VALUES, VALUES[:1], ["echo"] * 5, []])
def test_encode_matches_tritonclient(values):
    assert encode_bytes_tensor(values) == (reference(values) if values else b"")


@pytest.mark.parametrize("values", [VALUES, ["echo"] * 7, ["a", "a", "ab"], ["same"]])
def test_decode_round_trip(values):
    raw = reference(values)
    assert decode_bytes_tensor(raw, len(values)) == values
    assert decode_bytes_tensor(raw) == [v.decode() for v in deserialize_bytes_tensor(raw)]


def test_decode_replaces_invalid_utf8():
    raw = encode_bytes_tensor([b"ok", b"\xff\xfe"])
    assert decode_bytes_tensor(raw, 2) == ["ok", "\ufffd\ufffd"]


def test_inputs_carry_the_wire_bytes():
    tensor = bytes_input("TEXT", VALUES)
    assert list(tensor.shape()) == [len(VALUES), 1] and tensor.datatype() == "BYTES"
    assert tensor._get_content() == reference(VALUES)
    assert repeated_input("SRC_LANG", "de", 3)._get_content() == reference(["de"] * 3)
