"""The shard-stage contract: what one kind of work (translate, transcribe, speech-translate) tells
the shard engine (tasks/engine/runner.py), the one shard task (tasks/engine/prefect_tasks.py) and the job
runner (flows/job.py).

A stage is a small, immutable description of the work, in the style of datatrove's PipelineStep
and NeMo Curator's ProcessingStage:

    name              "translate" | "transcribe" | "speech-translate" (cache keys, task names, reports)
    read_columns      the input columns it reads (the shard reader reads only these)
    output_schema()   the schema of both output parts, from the input's footer (one place; every
                      output batch is checked against it before it is written)
    config()          what changes the output bytes: hashed into the run key (tasks/engine/run_record.py)
    to_dict() / from_dict()   JSON-ready, so a child flow run (flows/shard_group.py) rebuilds it
    quality           its data-quality suites (tasks/quality/shard_checks.py), or None
    plan()            validates an object's footer and splits it into shards (never raises for bad input)
    open(conn, clock, run_dir) async context: setup (open the Triton clients) / process (yields the batch
                      function: input RecordBatch -> output RecordBatch) / teardown (close them)

`tasks.registry.stage_from_dict` rebuilds any built-in stage from `stage.stage_dict()`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, replace
from typing import ClassVar

import pyarrow as pa

from tasks.engine.guard_clock import GuardClock
from tasks.io.listing import ObjectRef
from tasks.io.s3 import S3Connection
from tasks.io.shards import ObjectPlan
from tasks.quality.shard_checks import ShardQualityChecks

# A stage's batch function: one input record batch -> its output rows.
BatchFn = Callable[[pa.RecordBatch], Awaitable[pa.RecordBatch]]


class ShardStage(ABC):
    """One kind of shard work. Subclasses are frozen dataclasses; see the module docstring."""

    name: ClassVar[str]

    @property
    @abstractmethod
    def read_columns(self) -> list[str]:
        """Input columns the batch function reads, in order, without repeats."""

    @property
    @abstractmethod
    def id_column(self) -> str:
        """The input column identifying each row."""

    @property
    @abstractmethod
    def quality(self) -> ShardQualityChecks | None:
        """The data-quality suites of this stage (None: off)."""

    @property
    @abstractmethod
    def model_label(self) -> str:
        """What the run report and manifest name as the model (e.g. `translate`, `transcribe:default`)."""

    @property
    def read_batch_rows(self) -> int:
        """Rows per input record batch."""
        return 1024

    @property
    def text_columns(self) -> tuple[str, ...]:
        """Input columns read as text even when a writer stored them as bytes without the UTF-8
        annotation (Impala, Hive): the reader decodes them (tasks/io/reader.py)."""
        return ()

    def with_passthrough(self, columns: list[str]) -> ShardStage:
        """This stage, also passing `columns` through to the output (a run's Hive partition columns,
        also when one is the language column); the id, the text and what passes through already are
        not added twice."""
        raise NotImplementedError(f"{type(self).__name__} cannot pass columns through")

    @property
    def batches_in_flight(self) -> int:
        """Record batches processed at once while the next one is read."""
        return 4

    @abstractmethod
    def output_schema(self, input_schema: pa.Schema) -> pa.Schema:
        """The schema of both output parts, for an input object with `input_schema`."""

    @abstractmethod
    def config(self) -> dict:
        """What changes the output bytes (JSON-ready; hashed into the run key)."""

    @abstractmethod
    def to_dict(self) -> dict:
        """JSON-ready settings; `from_dict(to_dict())` rebuilds an equal stage."""

    @classmethod
    @abstractmethod
    def from_dict(cls, doc: dict) -> ShardStage:
        """The stage `to_dict` described."""

    @abstractmethod
    def plan(self, conn: S3Connection, obj: ObjectRef, shard_rows: int, shard_bytes: int) -> ObjectPlan:
        """Read `obj`'s footer, check its columns, split it into shards of at most `shard_rows` rows
        (and, where the stage plans by size, `shard_bytes` bytes); bad input is the plan's error."""

    @abstractmethod
    def open(self, conn: S3Connection, clock: GuardClock, run_dir: str) -> AbstractAsyncContextManager[BatchFn]:
        """Open the stage's clients and yield its batch function (guards time themselves on
        `clock`; files a stage writes beside the parts, e.g. subtitles, go under `run_dir`);
        closing the context closes the clients."""

    def stage_dict(self) -> dict:
        """`to_dict()` tagged with the stage's name, for `tasks.registry.stage_from_dict`."""
        return {"stage": self.name, "settings": self.to_dict()}


class SettingsStage(ShardStage):
    """A stage whose frozen `settings` dataclass holds its quality suites and streaming sizes
    (`quality`, `read_batch_rows`, `batches_in_flight`)."""

    settings: object

    @property
    def quality(self) -> ShardQualityChecks | None:
        return self.settings.quality

    @property
    def read_batch_rows(self) -> int:
        return self.settings.read_batch_rows

    @property
    def batches_in_flight(self) -> int:
        return self.settings.batches_in_flight


def settings_to_dict(settings) -> dict:
    """A stage's settings dataclass as JSON-ready data: its fields, with `guard` and `quality`
    (objects with a `config()`) as their config dicts, or None."""
    doc = asdict(replace(settings, guard=None, quality=None))
    doc["guard"] = settings.guard.config() if settings.guard else None
    doc["quality"] = settings.quality.config() if settings.quality else None
    return doc


def quality_from_dict(doc: dict | None) -> ShardQualityChecks | None:
    """The data-quality suites `ShardQualityChecks.config()` described."""
    from tasks.quality import InputSpec, OutputSpec

    if doc is None:
        return None
    return ShardQualityChecks(InputSpec.model_validate(doc["input"]), OutputSpec.model_validate(doc["output"]))
