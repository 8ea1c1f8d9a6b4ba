"""Invalid UTF-8 in string cells (parquet readers do not check it) is repaired at the reader and the
rows are listed, so one bad cell fails its row, not its shard."""
import pyarrow as pa

from tasks.io.reader import invalid_utf8_rows, repair_utf8
from tasks.translate.batch import TranslateSettings, _RowBatch, classify_rows


def not_utf8(values: list[bytes | None]) -> pa.Array:
    return pa.array(values, pa.binary()).view(pa.string())


def test_bad_cells_are_replaced_and_their_rows_listed_per_column():
    batch = pa.RecordBatch.from_arrays(
        [not_utf8([b"a", b"\xff\xfeb", None]), not_utf8([b"Guten Tag.", b"Gr\xfc\xdfe", b"Hallo."])],
        names=["id", "text"])
    repaired = repair_utf8(batch)
    assert repaired.column("text").to_pylist() == ["Guten Tag.", "Gr\ufffd\ufffde", "Hallo."]
    assert repaired.column("id").to_pylist() == ["a", "\ufffd\ufffdb", None]
    assert invalid_utf8_rows(repaired, "text") == {1} and invalid_utf8_rows(repaired, "id") == {1}
    repaired.validate(full=True)


def test_valid_batches_pass_through_untouched():
    batch = pa.RecordBatch.from_pydict({"id": [1, 2], "text": ["ä", None]})
    assert repair_utf8(batch) is batch and invalid_utf8_rows(batch, "text") == set()


def test_the_row_fails_with_a_reason_and_the_others_are_translated():
    settings = TranslateSettings(text_column="text", id_column="id", target_lang="en", source_lang="de")
    rows = _RowBatch(["Guten Tag.", "Gr\ufffd\ufffde", "  "], settings)
    assert classify_rows(rows, settings, {1}) == [0]
    assert rows.status == ["ok", "failed", "skipped_empty"]
    assert "'text' is not valid UTF-8" in rows.error[1]
