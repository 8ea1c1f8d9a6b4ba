"""Run identity and run records: the config hash, the run key, manifest.json, _SUCCESS
and the run report."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from prefect import task

from tasks.listing import ObjectRef
from tasks.output_parts import put_bytes, put_json
from tasks.s3_uri import S3Uri
from tasks.storage import S3Connection


def config_hash(config: dict) -> str:
    """Stable hash of everything that changes the output bytes (model, languages, columns, decoding)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def run_key(objects: list[ObjectRef], cfg_hash: str) -> str:
    """Same input bytes (by ETag) + same config -> same key -> same output location."""
    digest = hashlib.sha256()
    for obj in sorted(objects, key=lambda o: o.uri):
        digest.update(f"{obj.uri}\0{obj.etag}\n".encode())
    digest.update(cfg_hash.encode())
    return digest.hexdigest()[:16]


@dataclass
class RunRecord:
    """What a run read, what it wrote, and what needs a rerun."""

    run_key: str
    config_hash: str
    config: dict
    input_uri: str
    output_dir: str
    model: str
    inputs: list[dict] = field(default_factory=list)  # uri, etag, size, rows, shards, error
    shards: list[dict] = field(default_factory=list)  # ShardResult as dict, or failure
    object_checks: list[dict] = field(default_factory=list)  # ids across an object's shards (tasks/object_ids.py)
    started_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    finished_at: str | None = None
    seconds: float = 0.0

    @property
    def failed_objects(self) -> list[dict]:
        return [i for i in self.inputs if i.get("error")]

    @property
    def failed_shards(self) -> list[dict]:
        return [s for s in self.shards if s.get("error")]

    @property
    def failed_object_checks(self) -> list[dict]:
        return [c for c in self.object_checks if not c.get("success")]

    @property
    def succeeded(self) -> bool:
        return not self.failed_objects and not self.failed_shards and not self.failed_object_checks

    def status_counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for shard in self.shards:
            for status, count in (shard.get("status_counts") or {}).items():
                totals[status] = totals.get(status, 0) + count
        return totals

    def to_dict(self) -> dict:
        doc = asdict(self)
        doc.update(succeeded=self.succeeded, status_counts=self.status_counts(),
                   rows=sum(self.status_counts().values()))
        return doc


def write_run_record(conn: S3Connection, record: RunRecord) -> dict[str, str]:
    """manifest.json always (so a failed run says what to rerun); _SUCCESS only when all succeeded."""
    out = S3Uri.parse(record.output_dir)
    written = {"manifest": put_json(conn, out.join("manifest.json"), record.to_dict())}
    if record.succeeded:
        written["success"] = put_bytes(conn, out.join("_SUCCESS"), b"")
    return written


@task(name="write-manifest", retries=2, retry_delay_seconds=5)
def write_run_record_task(conn: S3Connection, record: RunRecord) -> dict[str, str]:
    return write_run_record(conn, record)
