"""Plan shards from parquet metadata. Validates the schema before any inference.

Text inputs (`plan_object`, `group_row_groups`): shards of whole row groups, at most `shard_rows`
rows AND at most `shard_bytes` bytes (uncompressed, of the columns a shard reads, from the footer),
as few shards as those bounds allow and balanced between them (no 20k + 20k + 10k tail when 3
even shards fit). A row group over a bound is cut into even row ranges (each shard of it decodes the
row group from its start: measured in bench/, far cheaper than one shard for a million rows). Audio
inputs (tasks/transcribe/audio_columns.py) use `split_rows` by rows alone: clips are few and costly.

`pack_plans` then packs the shards of small objects together, in listing order, up to the same
bounds: many small objects share one shard (one task, one part) instead of one each."""
from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.io.listing import ObjectRef
from tasks.io.object_table import ObjectTable, ObjectView
from tasks.io.parquet import InputError, input_schema, is_binary_text_type, is_id_type, is_text_type, read_footer
from tasks.io.s3 import S3Connection
from tasks.io.shards import ObjectPlan, PieceList, RowGroupSlice, Shard

# The one default shard size (rows) of the CLI, the flows and the deployments.
DEFAULT_SHARD_ROWS = 20_000
# ... and the bytes bound that goes with it: uncompressed bytes of the columns a shard reads (for
# translation, work grows with text length: 20k texts of 2 KB are 40 MB and become two shards).
DEFAULT_SHARD_BYTES = 32 * 2**20


def check_columns(schema: pa.Schema, uri: str, wanted: list[tuple[str, str]]) -> None:
    """Every (parameter, column) in `wanted` is in `schema`; the error names the column, the parameter
    the user set it with (text_column, language_column, passthrough_columns, ...) and what there is."""
    names = set(schema.names)
    for parameter, column in wanted:
        if column not in names:
            role = parameter.removesuffix("_columns").removesuffix("_column").replace("_", " ").replace("uri", "URI")
            raise InputError(f"{uri}: {role} column {column!r} not found (set by {parameter}; columns: "
                             f"{sorted(names)}; a nested field is named by its path, e.g. payload.text)")


def validate_schema(schema: pa.Schema, uri: str, text_column: str, id_column: str,
                    passthrough: list[str], language_column: str | None = None) -> None:
    """`schema` as input_schema gives it (partition and nested columns included)."""
    check_columns(schema, uri, [("text_column", text_column), ("id_column", id_column),
                                *([("language_column", language_column)] if language_column else []),
                                *(("passthrough_columns", c) for c in passthrough)])
    text_type = schema.field(text_column).type
    if not (is_text_type(text_type) or is_binary_text_type(text_type) or pa.types.is_null(text_type)):
        raise InputError(f"{uri}: text column {text_column!r} has type {text_type}, expected string")
    id_type = schema.field(id_column).type
    if not is_id_type(id_type):
        raise InputError(f"{uri}: id column {id_column!r} has type {id_type}, expected string, integer or UUID")


def split_rows(row_group_sizes: list[int], shard_rows: int) -> list[tuple[int, int, tuple[RowGroupSlice, ...]]]:
    """Group row groups into shards of about `shard_rows`; split a row group bigger than that
    (audio inputs; text inputs use `group_row_groups`)."""
    shards: list[tuple[int, int, tuple[RowGroupSlice, ...]]] = []
    pending: list[RowGroupSlice] = []
    pending_start = offset = 0

    def flush(stop: int) -> None:
        nonlocal pending, pending_start
        if pending:
            shards.append((pending_start, stop, tuple(pending)))
        pending, pending_start = [], stop

    for index, size in enumerate(row_group_sizes):
        if size > shard_rows:
            flush(offset)
            for start in range(0, size, shard_rows):
                stop = min(start + shard_rows, size)
                shards.append((offset + start, offset + stop, (RowGroupSlice(index, start, stop),)))
            pending_start = offset + size
        else:
            if pending and (offset - pending_start) + size > shard_rows:
                flush(offset)
            pending.append(RowGroupSlice(index, 0, size))
        offset += size
    flush(offset)
    return shards


@dataclass(frozen=True, slots=True)
class RowGroupSize:
    rows: int
    bytes: int  # uncompressed, of the columns read


def row_group_sizes(metadata: pq.FileMetaData, columns: list[str]) -> list[RowGroupSize]:
    """Rows and uncompressed bytes of `columns` (top-level names or dotted paths of nested fields) in
    each row group, from the footer."""
    paths = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
    chunks = [i for i, path in enumerate(paths) if any(path == c or path.startswith(c + ".") for c in columns)]
    sizes = []
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        sizes.append(RowGroupSize(group.num_rows, sum(group.column(i).total_uncompressed_size for i in chunks)))
    return sizes


def group_row_groups(sizes: list[RowGroupSize], shard_rows: int, shard_bytes: int = DEFAULT_SHARD_BYTES,
                     ) -> list[tuple[int, int, tuple[RowGroupSlice, ...]]]:
    """Shards of row groups: as few as fit `shard_rows` rows and `shard_bytes` bytes each, then the
    most even ones with that count (the smallest largest shard, contiguous rows). A row group over a
    bound is first cut into that many even row ranges: each is read from the row group's start (parquet
    cannot start mid-group), which costs far less than one shard holding every GPU up."""
    if shard_rows < 1 or shard_bytes < 1:
        raise ValueError(f"shard_rows={shard_rows} and shard_bytes={shard_bytes} must be >= 1")
    units: list[tuple[RowGroupSlice, float]] = []  # (rows of one row group, weight: 1.0 = a full shard)
    for index, size in enumerate(sizes):
        weight = max(size.rows / shard_rows, size.bytes / shard_bytes)
        cuts = max(1, min(size.rows, math.ceil(weight - 1e-9)))
        for k in range(cuts):
            start, stop = size.rows * k // cuts, size.rows * (k + 1) // cuts
            share = (stop - start) / size.rows if size.rows else 1.0
            units.append((RowGroupSlice(index, start, stop), weight * share))
    weights = [w for _, w in units]
    fewest = _greedy(weights, 1.0)
    groups = _balanced(weights, len(fewest))
    if len(groups) > len(fewest) or any(sum(weights[i] for i in g) > 1.0 + 1e-9 for g in groups if len(g) > 1):
        groups = fewest
    shards, offset = [], 0
    for group in groups:
        slices = tuple(units[i][0] for i in group if units[i][0].stop > units[i][0].start)
        rows = sum(s.stop - s.start for s in slices)
        if rows:
            shards.append((offset, offset + rows, slices))
        offset += rows
    return shards


def _balanced(weights: list[float], count: int) -> list[list[int]]:
    """`count` contiguous groups near the mean of what is left: each closes when the next row
    group would take it further past its share than stopping short of it."""
    groups: list[list[int]] = []
    left, index = sum(weights), 0
    for remaining in range(count, 0, -1):
        share, current, total = left / remaining, [], 0.0
        while index < len(weights) and (not current or remaining == 1
                                        or (total + weights[index] / 2 <= share and total + weights[index] <= 1.0)):
            current.append(index)
            total += weights[index]
            index += 1
        groups.append(current)
        left -= total
    return [g for g in groups if g]


def _greedy(weights: list[float], cap: float) -> list[list[int]]:
    """Contiguous groups of indexes, each closed before it would pass `cap` (one over `cap` alone)."""
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0.0
    for index, weight in enumerate(weights):
        if current and total + weight > cap + 1e-12:
            groups.append(current)
            current, total = [], 0.0
        current.append(index)
        total += weight
    if current:
        groups.append(current)
    return groups


def plan_object(conn: S3Connection, obj: ObjectRef, *, text_column: str, id_column: str,
                shard_rows: int, passthrough: list[str] | None = None,
                shard_bytes: int = DEFAULT_SHARD_BYTES, language_column: str | None = None) -> ObjectPlan:
    """Read only the footer; return the object's shards (`group_row_groups`), or its error (never
    raises for bad input)."""
    columns = [text_column, id_column, *filter(None, [language_column]), *(passthrough or [])]
    try:
        metadata = read_footer(conn, obj)
        schema = input_schema(metadata, obj, columns)
        validate_schema(schema, obj.uri, text_column, id_column, passthrough or [], language_column)
    except InputError as exc:
        return ObjectPlan(obj, error=str(exc))
    sizes = row_group_sizes(metadata, columns)
    shards = tuple(Shard(obj, start, stop, shared(slices), bytes=_bytes(sizes, slices))
                   for start, stop, slices in group_row_groups(sizes, shard_rows, shard_bytes))
    if not shards:  # an empty object still gets its (empty) output part
        shards = (Shard(obj, 0, 0, ()),)
    return ObjectPlan(obj, shards=shards, rows=metadata.num_rows, schema_key=schema_key(schema, columns))


@functools.lru_cache(maxsize=4096)
def shared(slices: tuple[RowGroupSlice, ...]) -> tuple[RowGroupSlice, ...]:
    """One instance of each slices tuple: a run of 100,000 one-row-group objects holds a handful of
    them for its pieces, not 100,000 (slices are frozen: equal ones are interchangeable)."""
    return slices


def _bytes(sizes: list[RowGroupSize], slices: tuple[RowGroupSlice, ...]) -> int:
    return sum(sizes[s.index].bytes * (s.stop - s.start) // max(sizes[s.index].rows, 1) for s in slices)


def schema_key(schema: pa.Schema, columns: list[str]) -> str:
    """The types of `columns` as read: objects whose keys differ never share a shard (a part has one schema)."""
    return ";".join(f"{c}:{schema.field(c).type}" for c in dict.fromkeys(columns) if c in schema.names)


# objects in one packed shard at most: a shard of 20,000 one-row objects would be one task reading
# 20,000 objects one after the other (the first part of a 100,000-object prefix after minutes); 2,000
# keeps a shard's objects few enough to start parts soon and to spread over the shard workers
MAX_PIECES_PER_SHARD = 2_000


class ShardPacker:
    """Packs the plans of consecutive objects (listing order) into shards: an object planned as one
    shard under both bounds joins the open shard while rows, bytes, column types and the count of
    objects (MAX_PIECES_PER_SHARD) allow; an object
    of several shards keeps its own (its ids are checked across them), and so does an empty one.
    Deterministic: the same plans in the same order give the same shards, so a rerun finds its parts.
    Given the objects planned (`add(plans, chunk)`, a view of the run's ObjectTable), a packed shard's
    pieces refer to the objects there (tasks/io/shards.PieceList) instead of holding them.

        packer = ShardPacker(shard_rows, shard_bytes)
        for chunk, plans in planned_chunks: yield from packer.add(plans, chunk)
        yield from packer.finish()
    """

    def __init__(self, shard_rows: int, shard_bytes: int = DEFAULT_SHARD_BYTES):
        self.shard_rows, self.shard_bytes = shard_rows, shard_bytes
        self.open: list[Shard] = []
        self.positions: list[tuple[ObjectTable, int] | None] = []  # each open shard's object in the run's table
        self.open_key = ""
        self.rows = self.bytes = 0

    def add(self, plans: list[ObjectPlan], objects: ObjectView | None = None) -> list[Shard]:
        """`objects`: the objects planned, plans[i] being objects[i]'s."""
        out: list[Shard] = []
        for index, plan in enumerate(plans):
            if plan.error:
                continue
            if len(plan.shards) != 1 or not plan.shards[0].rows:
                out += self.finish()
                out += plan.shards
                continue
            shard = plan.shards[0]
            fits = (self.rows + shard.rows <= self.shard_rows and self.bytes + shard.bytes <= self.shard_bytes
                    and plan.schema_key == self.open_key and len(self.open) < MAX_PIECES_PER_SHARD)
            if self.open and not fits:
                out += self.finish()
            self.open.append(shard)
            self.positions.append((objects.table, objects.position(index)) if objects is not None else None)
            self.open_key, self.rows, self.bytes = plan.schema_key, self.rows + shard.rows, self.bytes + shard.bytes
        return out

    def finish(self) -> list[Shard]:
        if not self.open:
            return []
        if len(self.open) == 1:
            packed = self.open[0]
        else:
            pieces = [shard.pieces[0] for shard in self.open]  # planned as one shard: one piece each
            first = self.positions[0]
            if first is not None and all(ref is not None and ref[0] is first[0] for ref in self.positions):
                listed = PieceList.of_objects(first[0], (ref[1] for ref in self.positions), pieces)
            else:  # no listing given (or two): the pieces carry their objects
                listed = PieceList.of(pieces)
            packed = Shard.of_pieces(listed, self.bytes)
        self.open, self.positions, self.rows, self.bytes = [], [], 0, 0
        return [packed]


Chunk, Pending, Collected = TypeVar("Chunk"), TypeVar("Pending"), TypeVar("Collected")


def plan_ahead(chunks: Iterable[Chunk], submit: Callable[[Chunk], Pending],
               collect: Callable[[Pending, Chunk], Collected], ahead: int = 2) -> Iterator[Collected]:
    """Each chunk's plans, in order, with at most `ahead` chunks submitted and not yet collected: the
    next chunk is submitted only after the caller has had the last one's plans (and started their
    shards, which so queue ahead of it), and a run holds `ahead` chunks of plans, not all of them.

        for plans in plan_ahead(chunks, submit_planning_task, wait_for_plans):
            start_shards(packer.add(plans))
    """
    pending: deque[tuple[Pending, Chunk]] = deque()
    remaining = iter(chunks)
    for chunk in remaining:
        pending.append((submit(chunk), chunk))
        if len(pending) == ahead:
            break
    while pending:
        handle, chunk = pending.popleft()
        yield collect(handle, chunk)
        if (chunk := next(remaining, None)) is not None:
            pending.append((submit(chunk), chunk))


def pack_plans(plans: list[ObjectPlan], shard_rows: int, shard_bytes: int = DEFAULT_SHARD_BYTES,
               objects: ObjectView | None = None) -> list[Shard]:
    packer = ShardPacker(shard_rows, shard_bytes)
    return packer.add(plans, objects) + packer.finish()
