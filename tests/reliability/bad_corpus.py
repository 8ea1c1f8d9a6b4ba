"""The bad-input corpus: one parquet object (or row, or key, or parameter) per kind of bad input,
next to good objects whose rows must all come through.

Each `Case` says where its outcome is expected: an object-level error in the manifest (`input`), a
failed shard in the manifest (`shard`), row statuses in the parts (`rows`), or a run refused with an
error before any inference (`run`)."""
from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.reliability.chaos import parquet_bytes

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
ONE_MB = 1024 * 1024


@dataclass
class Case:
    kind: str
    key: str  # relative to the corpus prefix
    body: bytes
    expect: str  # input | shard | rows | run
    good_ids: list = field(default_factory=list)  # rows of this object that must come through
    bad_ids: dict = field(default_factory=dict)  # id -> expected status of a bad row


def good_table(prefix: str, rows: int) -> tuple[pa.Table, list[str]]:
    ids = [f"{prefix}-{i:03d}" for i in range(rows)]
    return pa.table({"id": ids, "text": [f"Der Zug {i} kommt heute in München an." for i in range(rows)]}), ids


def invalid_utf8_strings(values: list[bytes]) -> pa.Array:
    """A string array holding bytes that are not UTF-8 (pyarrow does not validate on read either)."""
    offsets = [0]
    for value in values:
        offsets.append(offsets[-1] + len(value))
    return pa.Array.from_buffers(pa.string(), len(values),
                                 [None, pa.array(offsets, pa.int32()).buffers()[1], pa.py_buffer(b"".join(values))])


def corrupt_page(table: pa.Table) -> bytes:
    """Valid footer, garbage in the text column's pages: planning succeeds, reading the row group fails."""
    raw = bytearray(parquet_bytes(table, row_group_size=table.num_rows))
    column = pq.ParquetFile(io.BytesIO(bytes(raw))).metadata.row_group(0).column(1)
    start = column.dictionary_page_offset or column.data_page_offset
    rng = random.Random(3)
    for i in range(start + 10, start + column.total_compressed_size):
        raw[i] = rng.randrange(256)
    return bytes(raw)


def corrupt_footer(table: pa.Table) -> bytes:
    """Magic bytes and footer length intact, the footer's thrift metadata garbled."""
    raw = bytearray(parquet_bytes(table))
    footer = int.from_bytes(raw[-8:-4], "little")
    rng = random.Random(4)
    for i in range(len(raw) - 8 - footer + 5, len(raw) - 8):
        raw[i] = rng.randrange(256)
    return bytes(raw)


def footer_corpus() -> list[Case]:
    """Run on its own: today a garbled footer fails the whole run (see KNOWN_BUGS)."""
    good, good_ids = good_table("footer-good", 10)
    return [Case("good object", "good.parquet", parquet_bytes(good), "rows", good_ids),
            Case("corrupt parquet footer (thrift metadata)", "corrupt-footer.parquet", corrupt_footer(good), "input")]


def translate_corpus() -> list[Case]:
    good, good_ids = good_table("good", 50)
    odd, odd_ids = good_table("odd", 5)
    utf8_ids = ["utf8-ok-1", "utf8-bad", "utf8-ok-2"]
    utf8 = pa.table({"id": utf8_ids,
                     "text": invalid_utf8_strings([b"Guten Tag.", b"Gr\xfc\xdfe \xff\xfe aus", b"Hallo."])})
    mixed_ids = ["mixed-ok-1", "mixed-null", "mixed-empty", "mixed-blank", "mixed-1mb", "mixed-ok-2"]
    mixed = pa.table({"id": mixed_ids, "text": pa.array(
        ["Guten Morgen.", None, "", "   \t ", "x" * ONE_MB, "Bonne nuit."], pa.string())})
    page_table, _ = good_table("page", 20)
    empty_schema = pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})
    return [
        Case("good object", "good.parquet", parquet_bytes(good), "rows", good_ids),
        Case("corrupt parquet (random bytes)", "corrupt.parquet",
             b"PAR1" + random.Random(1).randbytes(2000), "input"),
        Case("truncated parquet", "truncated.parquet", parquet_bytes(good)[: len(parquet_bytes(good)) // 2], "input"),
        Case("corrupt data page (valid footer)", "corrupt-page.parquet", corrupt_page(page_table), "shard"),
        Case("missing text column", "missing-column.parquet",
             parquet_bytes(pa.table({"id": ["m-1"], "body": ["Guten Tag."]})), "input"),
        Case("wrong dtype (text is int64)", "wrong-dtype.parquet",
             parquet_bytes(pa.table({"id": ["w-1"], "text": [42]})), "input"),
        Case("empty object (0 bytes)", "empty.parquet", b"", "input"),
        Case("parquet with zero rows", "zero-rows.parquet", parquet_bytes(empty_schema), "rows"),
        Case("null / empty / blank text", "mixed.parquet", parquet_bytes(mixed), "rows",
             ["mixed-ok-1", "mixed-ok-2"],
             {"mixed-null": "skipped_empty", "mixed-empty": "skipped_empty", "mixed-blank": "skipped_empty",
              "mixed-1mb": "failed"}),
        Case("invalid UTF-8 in a text cell", "invalid-utf8.parquet", parquet_bytes(utf8), "rows",
             ["utf8-ok-1", "utf8-ok-2"], {"utf8-bad": "failed"}),
        Case("odd characters in the key (space, ü, +%#&=)", "odd name ü+%#&=.parquet", parquet_bytes(odd),
             "rows", odd_ids),
    ]


def audio_corpus() -> tuple[pa.Table, dict[str, str]]:
    """Rows for transcribe-batch: real speech, bytes that are no audio, truncated audio, empty."""
    fox = (AUDIO / "fox.wav").read_bytes()
    rows = {"fox": fox, "not-audio": b"this is plain text, not an audio file" * 20,
            "png-bytes": b"\x89PNG\r\n\x1a\n" + bytes(300), "truncated-wav": fox[:60], "empty": None}
    expected = {"fox": "ok", "not-audio": "failed", "png-bytes": "failed", "truncated-wav": "failed",
                "empty": "skipped_empty"}
    table = pa.table({"id": list(rows), "audio": pa.array(list(rows.values()), pa.binary())})
    return table, expected


def read_table_bytes(body: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(body))
