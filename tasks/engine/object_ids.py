"""Ids unique across an object's shards.

The input suite (tasks/quality) checks each shard's ids, so an id repeated inside one shard stops
that shard. An id that appears in two shards of one object passes both. Once the shards are done,
the run reads back only the `id` column of every part it committed for the object (kept and
quarantined rows) and reports each id found in more than one shard, naming the object and the
row ranges. The summary has the shape of a suite summary (QualityResult.summary), so it shows in
the run's data-quality artifact and manifest like the shard suites.
"""
from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri

ID_COLUMN = "id"  # every part's id column (the output schema names the input's id column so)
SUITE = "object_ids"
EXPECTATION = "expect_column_values_to_be_unique_across_shards"
MAX_EXAMPLES = 5
READ_THREADS = 8


def object_id_checks(conn: S3Connection, shards: list[dict]) -> list[dict]:
    """One summary per object with two or more committed shards (failed shards wrote nothing). A
    packed shard holds whole small objects, each checked by that shard's input suite: not here."""
    by_object: dict[str, list[dict]] = defaultdict(list)
    for shard in shards:
        if not shard.get("error") and shard.get("output_uri") and not shard.get("pieces"):
            by_object[shard["object_uri"]].append(shard)
    return [check_object_ids(conn, uri, sorted(group, key=lambda s: s["row_start"]))
            for uri, group in sorted(by_object.items()) if len(group) > 1]


def summary(source: str, success: bool, rows: int, message: str, failed: list[str], seconds: float = 0.0) -> dict:
    """A check's result in the shape of QualityResult.summary()."""
    return {"suite": SUITE, "kind": "object", "source": source, "success": success, "rows": rows,
            "expectations": 1, "seconds": round(seconds, 4), "failed": failed, "message": message}


def read_ids(fs: pafs.FileSystem, part_uri: str) -> pa.ChunkedArray:
    return pq.read_table(S3Uri.parse(part_uri).arrow_path, columns=[ID_COLUMN], filesystem=fs).column(ID_COLUMN)


def shard_ids(conn: S3Connection, shards: list[dict]) -> pa.Table:
    """(id, shard index) for every row the shards committed; null ids left out (the input suite
    reports those). Parts are read READ_THREADS at a time."""
    parts = [(index, part) for index, shard in enumerate(shards)
             for part in (shard["output_uri"], shard.get("quarantine_uri")) if part]
    fs = conn.arrow_fs  # one client for every part (the property builds a new one per access)
    with ThreadPoolExecutor(READ_THREADS) as pool:
        columns = list(pool.map(lambda item: read_ids(fs, item[1]), parts))
    tables = [pa.table({ID_COLUMN: ids, "shard": pa.array([index] * len(ids), pa.int32())})
              for (index, _), ids in zip(parts, columns)]
    table = pa.concat_tables(tables, promote_options="permissive")
    return table.filter(pc.is_valid(table.column(ID_COLUMN)))


def check_object_ids(conn: S3Connection, object_uri: str, shards: list[dict]) -> dict:
    started = time.perf_counter()
    table = shard_ids(conn, shards)
    counts = table.group_by(ID_COLUMN).aggregate([("shard", "count_distinct")])
    repeated = counts.filter(pc.greater(counts.column("shard_count_distinct"), 1)).column(ID_COLUMN)
    repeated = repeated.take(pc.sort_indices(repeated))  # group_by's order varies between runs: name them sorted
    examples = []
    for value in repeated.slice(0, MAX_EXAMPLES).to_pylist():
        found_in = sorted(set(table.filter(pc.equal(table.column(ID_COLUMN), value)).column("shard").to_pylist()))
        examples.append(f"id {value!r}: rows " + " and ".join(
            f"{shards[i]['row_start']}–{shards[i]['row_stop']}" for i in found_in))
    success = len(repeated) == 0
    if success:
        message = f"{object_uri}: ids unique across {len(shards)} shards ({table.num_rows} rows)"
    else:
        values = "value" if len(repeated) == 1 else "values"
        message = (f"{object_uri}: column 'id' has {len(repeated)} {values} in more than one shard ("
                   + "; ".join(examples) + (", …" if len(repeated) > MAX_EXAMPLES else "") + ")")
    return summary(object_uri, success, table.num_rows, message, [] if success else [f"{EXPECTATION}(id)"],
                   time.perf_counter() - started)


@task(name="check-object-ids", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def object_id_checks_task(conn: S3Connection, shards: list[dict]) -> list[dict]:
    return object_id_checks(conn, shards)
