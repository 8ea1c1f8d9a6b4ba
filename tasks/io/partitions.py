"""Hive-style partitions: `key=value` folders under the input prefix are columns of every row below.

    s3://lake/events/dt=2026-12-01/lang=de/part-0.parquet   ->   dt = "2026-12-01", lang = "de"

as pyarrow's `write_dataset(partitioning_flavor="hive")`, DuckDB's `PARTITION_BY`, pandas'
`partition_cols`, polars' `partition_by` and Spark write them. Values are URI-decoded and
`__HIVE_DEFAULT_PARTITION__` is null. Types are inferred over the whole input as pyarrow's hive
discovery infers them: int32 when every value of a key is one, else string (a test pins this against
`pyarrow.dataset`). The shard reader appends the columns to each batch it reads; a column the file
itself holds wins over a folder of the same name.
"""
from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote

import pyarrow as pa

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
INT32 = (-(2**31), 2**31 - 1)
# partition column types: hive folders infer int32 or string; Delta and Iceberg tables declare theirs
TYPES = {"int32": pa.int32(), "int64": pa.int64(), "string": pa.string(), "date32": pa.date32(),
         "bool": pa.bool_(), "float64": pa.float64()}

# one object's partition: ((name, value or None, type name), ...), in folder order
Partition = tuple[tuple[str, str | None, str], ...]


def partition_values(relative_key: str) -> list[tuple[str, str | None]]:
    """(name, value) of each `name=value` folder of a key relative to the input prefix."""
    found = []
    for segment in relative_key.split("/")[:-1]:
        name, sep, value = segment.partition("=")
        if sep and name:
            value = unquote(value)
            found.append((unquote(name), None if value == NULL_PARTITION else value))
    return found


def _is_int32(value: str) -> bool:
    try:
        number = int(value)
    except ValueError:
        return False
    return INT32[0] <= number <= INT32[1] and value.strip() == value


def infer_types(partitions: Iterable[list[tuple[str, str | None]]]) -> dict[str, str]:
    """Each partition key's type name over every object: "int32" or "string"."""
    seen: dict[str, bool] = {}
    for values in partitions:
        for name, value in values:
            ok = seen.get(name, True)
            seen[name] = ok and (value is None or _is_int32(value))
    return {name: "int32" if ints else "string" for name, ints in seen.items()}


def typed(values: list[tuple[str, str | None]], types: dict[str, str]) -> Partition:
    """An object's partition over every key of the input (`types`, in first-seen order): an object not
    under a `key=value` folder of some key has null there, as pyarrow's hive discovery gives it."""
    found = dict(values)
    return tuple((name, found.get(name), kind) for name, kind in types.items())


def type_name(kind: pa.DataType) -> str:
    """A declared partition type's name in TYPES; others (timestamps, decimals) are kept as strings."""
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return "string"
    names = {v: k for k, v in TYPES.items()}
    return names.get(kind, "string")


def partition_fields(partition: Partition) -> list[pa.Field]:
    return [pa.field(name, TYPES[kind]) for name, _, kind in partition]


def partition_column(value: str | None, kind: str, rows: int) -> pa.Array:
    """`value` repeated `rows` times, in its partition type."""
    if value is None:
        return pa.nulls(rows, TYPES[kind])
    return pa.repeat(pa.scalar(value, pa.string()), rows).cast(TYPES[kind])
