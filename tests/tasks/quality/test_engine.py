"""The shared GE context: built once, quiet, and safe to validate from the shard thread pool."""
import logging
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from tasks.quality import InputSpec, OutputSpec, validate_input, validate_output
from tasks.quality.engine import gx_engine
from tasks.quality.suites import input_suite

SPEC = InputSpec(id_column="id", text_column="text", max_text_chars=50)


def shard_with_null_at(row: int, n: int = 5000) -> pa.Table:
    ids = list(range(n))
    ids[row] = None
    return pa.table({"id": pa.array(ids, pa.int64()), "text": ["t"] * n})


def test_four_threads_each_get_their_own_shard_checked():
    # GE's execution engine keeps the batch being validated as shared state: without the lock,
    # threads see each other's frames. Each shard has its null id at a different row.
    jobs = [(k, 100 * k + 7) for k in range(24)]

    def check(job):
        k, row = job
        spec = SPEC.model_copy(update={"max_text_chars": 50 + k % 3})  # suites get built while others validate
        result = validate_input(shard_with_null_at(row), spec, f"s3://b/obj-{k}", row_offset=1000 * k)
        return k, row, result

    with ThreadPoolExecutor(4) as pool:
        for k, row, result in pool.map(check, jobs):
            assert not result.success
            assert result.message() == f"s3://b/obj-{k}: column 'id' has 1 null value (row {1000 * k + row})"


def test_outputs_validate_concurrently_too():
    n = 1000
    out = pa.table({"id": pa.array(range(n), pa.int64()), "translation": ["x"] * n, "status": ["ok"] * n})

    def check(k):
        rows_in = n + (k % 2)  # odd jobs are one row short
        return k, validate_output(out, None, rows_in, OutputSpec(), f"s3://b/o-{k}")

    with ThreadPoolExecutor(4) as pool:
        for k, result in pool.map(check, range(16)):
            assert result.success == (k % 2 == 0), result.message()


def test_context_and_suites_are_built_once():
    assert gx_engine() is gx_engine()
    present = frozenset({"id", "text"})
    assert input_suite(SPEC, present, True) is input_suite(SPEC, present, True)
    assert input_suite(SPEC, present, True) is not input_suite(SPEC.model_copy(update={"max_text_chars": 60}), present, True)


class Recorder(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_validation_prints_and_logs_nothing(capfd):
    root, recorder = logging.getLogger(), Recorder()
    level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    try:
        validate_input(shard_with_null_at(3), SPEC, "s3://b/k")  # failing: runs the SUMMARY pass too
        validate_input(shard_with_null_at(3).slice(4), SPEC, "s3://b/k")
    finally:
        root.removeHandler(recorder)
        root.setLevel(level)
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no progress bars, no warnings
    assert not [r for r in recorder.records if r.name.startswith("great_expectations")]
