"""Arrow tables to the small pandas frames the suites validate: only the columns a suite looks at,
integer columns as nullable pandas integers (a null id must not turn the ids into floats), floats
as float64 (GE's pandas range check is vectorised for float64 only; a float32 column costs a Python
call per row), the frame index = the row numbers reported in messages."""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from tasks.quality.specs import InputSpec, OutputSpec

if TYPE_CHECKING:
    import pandas as pd

OUTPUT_PART, QUARANTINE_PART = "output", "quarantine"


@cache
def _nullable() -> dict:
    """Arrow integer and bool types to pandas' nullable dtypes (pandas is imported on first use:
    only shards that go to GE need frames)."""
    import pandas as pd

    return {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
            pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
            pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype()}


def is_string_type(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


def is_binary_type(kind: pa.DataType) -> bool:
    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind) \
        or pa.types.is_fixed_size_binary(kind)


def widen_floats(table: pa.Table) -> pa.Table:
    """float16/float32 columns as float64 (see the module docstring)."""
    for index, column in enumerate(table.schema):
        if pa.types.is_floating(column.type) and column.type != pa.float64():
            table = table.set_column(index, column.name, table.column(index).cast(pa.float64()))
    return table


def to_frame(table: pa.Table, first_row: int = 0) -> pd.DataFrame:
    import pandas as pd

    frame = widen_floats(table).to_pandas(types_mapper=_nullable().get)
    frame.index = pd.RangeIndex(first_row, first_row + table.num_rows)
    return frame


def blank_to_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Null for blank texts: the length bounds apply to texts inference will translate."""
    blank = pc.equal(pc.utf8_trim_whitespace(column), "")
    return pc.if_else(blank, pa.scalar(None, column.type), column)


def input_frame(table: pa.Table, spec: InputSpec, row_offset: int) -> pd.DataFrame:
    """The spec's columns (`input_columns`) as pandas; index = the object's row numbers."""
    return to_frame(input_columns(table, spec), row_offset)


def input_columns(table: pa.Table, spec: InputSpec) -> pa.Table:
    """The spec's columns as the suite sees them: blank texts as null, audio bytes as their byte
    length (no copy of the audio into pandas), nested values as a presence flag."""
    columns = {}
    for name in spec.required_columns:
        if name not in table.column_names:
            continue
        column = table.column(name)
        if name == spec.text_column and spec.checks_text_length and is_string_type(column.type):
            column = blank_to_null(column)
        elif is_binary_type(column.type):
            column = pc.binary_length(column)
        elif pa.types.is_nested(column.type):  # the suite only needs presence: true or null
            column = pc.if_else(pc.is_valid(column), True, pa.scalar(None, pa.bool_()))
        columns[name] = column
    if not columns:  # no column at all: a table of `num_rows` rows and no columns
        return pa.table({"_": pa.nulls(table.num_rows)}).drop_columns(["_"])
    return pa.table(columns)


def output_parts_table(output: pa.Table, quarantine: pa.Table | None, spec: OutputSpec) -> pa.Table:
    """Output rows then quarantine rows, the spec's columns only (both parts share a schema)."""
    parts = [output] + ([quarantine] if quarantine is not None and quarantine.num_rows else [])
    present = set(output.column_names)
    for part in parts[1:]:
        present &= set(part.column_names)
    names = spec.columns_to_read(present)
    return pa.concat_tables([part.select(names) for part in parts], promote_options="permissive")


def output_frame(combined: pa.Table) -> pd.DataFrame:
    """Index = position in output-then-quarantine order (see `part_row`)."""
    return to_frame(combined, 0)


def part_row(position: int, output_rows: int) -> tuple[str, int]:
    """Which part and row a position of the combined output frame is."""
    if position < output_rows:
        return OUTPUT_PART, position
    return QUARANTINE_PART, position - output_rows
