"""Run identity and run records: the config hash, the run key, and what a run writes beside its
parts — `report.json` and `report.md` (what a person reads), `manifest.json` (summary first,
shards next, config last) and `_SUCCESS` (only for a run that Completed).

A run's outcome is decided here, once, from what it did:

- **Failed** when an object or a shard failed, ids repeat across an object's shards, more than
  `max_quarantined_share` of the rows written went to quarantine, or the input was empty and the
  run was asked to fail on that;
- **Completed** otherwise — also for an input with no objects ("nothing to do").

Every failure carries a kind: `input` (fix the input: a corrupt file, a wrong schema, bad rows
found by the input suite — a rerun meets the same bytes) or `rerun` (S3, Triton, a crash: a rerun
finishes the job, reusing what was committed).
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.engine.object_entries import InputEntries, streamed
from tasks.io.listing import ObjectRef
from tasks.io.object_table import ObjectTable
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri

COMPLETED, FAILED = "Completed", "Failed"
INPUT_ERROR, RERUN_ERROR = "input", "rerun"
ADVICE = {INPUT_ERROR: "fix the input", RERUN_ERROR: "rerun to finish"}
REPORT_JSON, REPORT_MD, MANIFEST, SUCCESS_MARKER = "report.json", "report.md", "manifest.json", "_SUCCESS"
REPORT_SKIPPED = 20  # skipped input objects named in report.json (the manifest names up to 1,000)
SPOOLED_JSON_BYTES = 16 * 2**20  # a report or manifest larger than this is spooled to disk before its PUT


def config_hash(config: dict) -> str:
    """Stable hash of everything that changes the output bytes (model, languages, columns, decoding)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def run_key(objects: Sequence[ObjectRef], cfg_hash: str) -> str:
    """Same input bytes (by ETag) + same config -> same key -> same output location. An ObjectTable
    (a listing, sorted) is read a column at a time, not as an ObjectRef per object."""
    digest = hashlib.sha256()
    if isinstance(objects, ObjectTable):
        order = range(len(objects)) if objects.is_sorted() else sorted(range(len(objects)), key=objects.uri)
        pairs = ((objects.uri(i), objects.etag(i)) for i in order)
    else:
        pairs = ((obj.uri, obj.etag) for obj in sorted(objects, key=lambda o: o.uri))
    for uri, etag in pairs:
        digest.update(f"{uri}\0{etag}\n".encode())
    digest.update(cfg_hash.encode())
    return digest.hexdigest()[:16]


def error_kind(error: BaseException | None) -> str:
    """`input` for bad input (tasks.io.parquet.InputError and the input suite's InputQualityError,
    which subclasses it), `rerun` for anything else (S3, Triton, a crash, an output check)."""
    from tasks.io.parquet import InputError

    return INPUT_ERROR if isinstance(error, InputError) else RERUN_ERROR


def shard_error_kind(shard: dict) -> str:
    """A failed shard's kind: its `error_kind` when set, else `input` when the input suite failed it."""
    if shard.get("error_kind"):
        return shard["error_kind"]
    quality = shard.get("quality") or []
    return INPUT_ERROR if any(q.get("kind") == "input" and not q.get("success") for q in quality) else RERUN_ERROR


def input_error_kind(entry: dict) -> str:
    """A failed object's kind: its `error_kind` when set, else `input` (the planner reports only bad
    input as an object error; a plan task that failed on S3 says "planning failed")."""
    if entry.get("error_kind"):
        return entry["error_kind"]
    return RERUN_ERROR if "planning failed" in str(entry.get("error")) else INPUT_ERROR


def unprefixed(error: object, *names: str) -> str:
    """An error without the object URI (or "URI rows a–b") it starts with: the report names it already."""
    text = str(error)
    for name in names:
        if name and text.startswith(f"{name}: "):
            return text.removeprefix(f"{name}: ")
    return text


def share(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


@dataclass
class RunRecord:
    """What a run read, what it wrote, and how it ended."""

    run_key: str
    config_hash: str
    config: dict
    input_uri: str
    output_dir: str
    model: str
    # uri, etag, size, rows, shards, error, error_kind of each object (object_entries: columns, not dicts)
    inputs: InputEntries = field(default_factory=InputEntries)
    shards: list[dict] = field(default_factory=list)  # ShardResult as dict, or a failed shard
    object_checks: list[dict] = field(default_factory=list)  # ids across an object's shards (object_ids.py)
    # the input as read: layout, table version, objects skipped with their reasons, warnings (tasks/io/inputs.py)
    input_listing: dict = field(default_factory=dict)
    delta_output: dict = field(default_factory=dict)  # the kept rows appended to a Delta table (delta_output.py)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    seconds: float = 0.0
    flow: str = ""  # translate-batch, transcribe-batch, speech-translate (from the flow run when empty)
    flow_run: dict = field(default_factory=dict)  # id, name, deployment of the Prefect flow run
    max_quarantined_share: float = 1.0
    empty_input_fails: bool = False
    status: str = "Running"

    def __post_init__(self) -> None:
        if not isinstance(self.inputs, InputEntries):  # entries given as a list of dicts
            self.inputs = InputEntries(self.inputs)

    # --- what failed -------------------------------------------------------------------------
    @property
    def failed_objects(self) -> list[dict]:
        return self.inputs.failed()

    @property
    def failed_shards(self) -> list[dict]:
        return [s for s in self.shards if s.get("error")]

    @property
    def failed_object_checks(self) -> list[dict]:
        return [c for c in self.object_checks if not c.get("success")]

    # --- counts ------------------------------------------------------------------------------
    def status_counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for shard in self.shards:
            for status, count in (shard.get("status_counts") or {}).items():
                totals[status] = totals.get(status, 0) + count
        return totals

    def counts(self) -> dict:
        """Objects, shards and rows: kept (in the parts), quarantined (in quarantine/), failed (in
        shards that failed, so written nowhere yet)."""
        written = [s for s in self.shards if not s.get("error")]
        rows_written = sum(sum((s.get("status_counts") or {}).values()) for s in written)
        quarantined = sum(s.get("quarantined") or 0 for s in written)
        failed = sum((s.get("row_stop") or 0) - (s.get("row_start") or 0) for s in self.failed_shards)
        return {
            "objects": len(self.inputs), "objects_failed": len(self.failed_objects),
            "shards": len(self.shards), "shards_failed": len(self.failed_shards),
            "shards_reused": sum(1 for s in written if s.get("reused")),
            "rows_in": self.inputs.rows(),
            "rows_kept": rows_written - quarantined, "rows_quarantined": quarantined, "rows_failed": failed,
            "quarantined_share": share(quarantined, rows_written),
        }

    def timings(self) -> dict:
        """Wall time of the run; shard and guard time summed the same way: over the shards this run
        computed (a reused part cost nothing now), each shard's own clock."""
        computed = [s for s in self.shards if not s.get("error") and not s.get("reused")]
        shard_s = sum(s.get("seconds") or 0.0 for s in computed)
        guard_s = sum(s.get("guard_seconds") or 0.0 for s in computed)
        rows = sum(sum((s.get("status_counts") or {}).values()) for s in computed)
        return {"started_at": self.started_at, "finished_at": self.finished_at, "wall_s": self.seconds,
                "shards_computed": len(computed), "shard_s": round(shard_s, 3), "guard_s": round(guard_s, 3),
                "guard_share_of_shard_time": share(guard_s, shard_s),
                "rows_per_s": round(rows / self.seconds, 1) if self.seconds else 0.0}

    # --- outcome -----------------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return not self.inputs

    def problems(self) -> list[dict]:
        """Everything that makes the run Failed, each with its kind and what to do about it."""
        found = [{"what": o["uri"], "kind": input_error_kind(o), "error": unprefixed(o["error"], o["uri"])}
                 for o in self.failed_objects]
        for s in self.failed_shards:
            what = f"{s.get('object_uri', '?')} rows {s.get('row_start')}–{s.get('row_stop')}"
            found.append({"what": what, "kind": shard_error_kind(s),
                          "error": unprefixed(s["error"], what, s.get("object_uri", ""))})
        found += [{"what": c.get("source", self.input_uri), "kind": INPUT_ERROR, "error": c.get("message", "")}
                  for c in self.failed_object_checks]
        counts = self.counts()
        if counts["quarantined_share"] > self.max_quarantined_share:
            found.append({"what": self.quarantine_dir, "kind": "quarantine", "error": (
                f"{counts['rows_quarantined']} of {counts['rows_kept'] + counts['rows_quarantined']} rows written "
                f"({counts['quarantined_share']:.1%}) went to quarantine, more than max_quarantined_share="
                f"{self.max_quarantined_share:.0%}: look at their `error` and `reasons` columns")})
        if self.delta_output.get("error"):
            found.append({"what": self.delta_output["table"], "kind": RERUN_ERROR,
                          "error": f"appending the kept rows to the Delta table failed: {self.delta_output['error']}"})
        if self.empty and self.empty_input_fails:
            found.append({"what": self.input_uri, "kind": INPUT_ERROR,
                          "error": "an empty input fails this run (fail_on_empty_input)"})
        for problem in found:
            problem["advice"] = ADVICE.get(problem["kind"], "review the quarantined rows")
        return found

    @property
    def succeeded(self) -> bool:
        return not self.problems()

    def headline(self) -> str:
        """One line: how the run ended and what happened to the rows."""
        status = COMPLETED if self.succeeded else FAILED
        if self.empty:
            return f"{status}: nothing to do, no input objects under {self.input_uri}"
        c = self.counts()
        line = (f"{status}: {c['rows_kept']:,} rows kept, {c['rows_quarantined']:,} quarantined, "
                f"{c['rows_failed']:,} failed")
        if c["objects_failed"]:
            line += f"; {c['objects_failed']} objects (of {c['objects']}) failed"
        kinds = sorted({p["advice"] for p in self.problems()})
        return line + (f" ({'; '.join(kinds)})" if kinds else "")

    def failure_message(self, report_uri: str, shown: int = 3) -> str:
        """The Failed state's message: the headline, the first problems, where the report is."""
        problems = self.problems()
        parts = [f"{p['what']}: {p['error'][:300]}" for p in problems[:shown]]
        if len(problems) > shown:
            parts.append(f"and {len(problems) - shown} more")
        return f"{self.headline()}: {'; '.join(parts)}; see {report_uri}"

    def finish(self, seconds: float) -> None:
        """Stamp the end of the run: finished_at, wall time and status."""
        self.seconds = round(seconds, 3)
        self.finished_at = datetime.now(UTC).isoformat()
        self.status = COMPLETED if self.succeeded else FAILED

    # --- documents ---------------------------------------------------------------------------
    @property
    def quarantine_dir(self) -> str:
        return self.output_dir.rstrip("/") + "/quarantine/"

    def summary(self) -> dict:
        """What report.json, manifest.json and the flow's result share: everything but the per-object
        and per-shard lists (problems and counts computed once)."""
        problems, counts, status_counts = self.problems(), self.counts(), self.status_counts()
        return {
            "run_key": self.run_key, "flow": self.flow, "status": self.status, "succeeded": not problems,
            "headline": self.headline(), "problems": problems, "counts": counts,
            "status_counts": status_counts, "rows": sum(status_counts.values()),
            "input_uri": self.input_uri, "output_dir": self.output_dir, "quarantine_dir": self.quarantine_dir,
            "inputs": None,  # its place in the documents: report() and to_dict() fill it in
            "started_at": self.started_at, "finished_at": self.finished_at, "seconds": self.seconds,
            "input": {**self.input_listing, "skipped": self.input_listing.get("skipped", [])[:REPORT_SKIPPED]},
            "timings": self.timings(), "model": self.model, "flow_run": self.flow_run,
            **({"delta_output": self.delta_output} if self.delta_output else {}),
            "limits": {"max_quarantined_share": self.max_quarantined_share,
                       "empty_input_fails": self.empty_input_fails},
        }

    def report(self, summary: dict | None = None) -> dict:
        """report.json: the summary a person (or `sentinel runs`) reads first, with each input object's
        uri, rows, shards and error."""
        return (summary or self.summary()) | {"inputs": self.inputs.only("uri", "rows", "shards", "error")}

    def to_dict(self, summary: dict | None = None) -> dict:
        """manifest.json: the summary first, then inputs, shards and checks, config last."""
        return (summary or self.summary()) | {
            "input": self.input_listing, "inputs": self.inputs, "shards": self.shards,
            "object_checks": self.object_checks, "config_hash": self.config_hash, "config": self.config}

    def flow_result(self, summary: dict | None = None) -> dict:
        """What a flow returns: the manifest less what grows with the input's objects (the per-object
        `inputs` and a packed shard's `pieces`: manifest.json has them), so that a run of 100,000
        objects returns a few KB for Prefect to handle, not every object's lineage."""
        doc = self.to_dict(summary)
        doc["inputs"] = {"objects": len(self.inputs), "failed": doc["counts"]["objects_failed"],
                         "listed_in": "manifest.json"}
        doc["shards"] = [{k: v for k, v in shard.items() if k != "pieces"}
                         | ({"objects": len(shard["pieces"])} if shard.get("pieces") else {}) for shard in self.shards]
        return doc


def put_document(conn: S3Connection, target: S3Uri, body: bytes | BinaryIO, content_type: str) -> str:
    """One PUT: S3 makes the object visible whole or not at all, so a reader never sees half a file."""
    conn.boto3_client().put_object(Bucket=target.bucket, Key=target.key, Body=body, ContentType=content_type)
    return str(target)


def put_json(conn: S3Connection, target: S3Uri, document: dict) -> str:
    """`document` as indented JSON in one PUT, encoded a megabyte at a time into a file spooled to
    disk past SPOOLED_JSON_BYTES: with an indent, json.dumps builds the whole text from one small
    string per value first (a 100,000-object manifest is 45 MB of JSON and millions of them). The
    per-object lists (object_entries) are encoded one dict at a time."""
    encoder = json.JSONEncoder(indent=2, default=streamed, ensure_ascii=False)  # indent: streamed needs it
    with tempfile.SpooledTemporaryFile(max_size=SPOOLED_JSON_BYTES) as body:
        pending: list[str] = []
        held = 0
        for chunk in encoder.iterencode(document):
            pending.append(chunk)
            held += len(chunk)
            if held >= 2**20:
                body.write("".join(pending).encode())
                pending, held = [], 0
        body.write("".join(pending).encode())
        body.seek(0)
        return put_document(conn, target, body, "application/json")


def write_run_record(conn: S3Connection, record: RunRecord, report_markdown: str) -> dict[str, str]:
    """report.json, report.md and manifest.json always (a failed run says what to do); then
    `_SUCCESS` when the run Completed, else any `_SUCCESS` an earlier run left is removed."""
    out = S3Uri.parse(record.output_dir)
    summary = record.summary()
    written = {
        "report_json": put_json(conn, out.join(REPORT_JSON), record.report(summary)),
        "report_md": put_document(conn, out.join(REPORT_MD), report_markdown.encode(), "text/markdown; charset=utf-8"),
        "manifest": put_json(conn, out.join(MANIFEST), record.to_dict(summary)),
    }
    marker = out.join(SUCCESS_MARKER)
    if record.succeeded:
        written["success"] = put_document(conn, marker, b"", "text/plain")
    else:
        conn.boto3_client().delete_object(Bucket=marker.bucket, Key=marker.key)
    return written


@task(name="write-report-and-manifest", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def write_run_record_task(conn: S3Connection, record: RunRecord, report_markdown: str) -> dict[str, str]:
    return write_run_record(conn, record, report_markdown)
