"""Helpers of the chaos suite: inputs, flow subprocesses, and the id accounting of a run's outputs
(`<run_dir>/part-*.parquet` + `<run_dir>/quarantine/part-*.parquet`)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.reliability.private_stack import PrivateStack

RUNNER = Path(__file__).resolve().parent / "flow_runner.py"


# ---- inputs ------------------------------------------------------------------------------------

def parquet_bytes(table: pa.Table, row_group_size: int | None = None) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=row_group_size)
    return buffer.getvalue()


def ensure_bucket(s3, bucket: str) -> None:
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)


def upload_echo_inputs(s3, bucket: str, prefix: str, objects: int, rows: int, row_group: int) -> set[str]:
    """`objects` parquet objects of `rows` rows (ids unique across objects); returns every id."""
    ensure_bucket(s3, bucket)
    ids: set[str] = set()
    for n in range(objects):
        names = [f"o{n:02d}-r{i:06d}" for i in range(rows)]
        texts = [f"Satz {i} aus Objekt {n}: Der Zug kommt heute in München an." for i in range(rows)]
        table = pa.table({"id": names, "text": texts})
        s3.put_object(Bucket=bucket, Key=f"{prefix}obj-{n:02d}.parquet", Body=parquet_bytes(table, row_group))
        ids.update(names)
    return ids


# ---- flows in subprocesses -----------------------------------------------------------------------

@dataclass
class FlowProcess:
    proc: subprocess.Popen
    out_path: Path
    started: float = field(default_factory=time.monotonic)

    def wait(self, timeout: float = 540) -> dict:
        self.proc.wait(timeout)
        doc = json.loads(self.out_path.read_text()) if self.out_path.exists() else {
            "state": "Killed", "completed": False, "error": f"exit code {self.proc.returncode}"}
        doc["wall_s"] = round(time.monotonic() - self.started, 2)
        doc["log"] = self.out_path.with_suffix(".log")
        return doc

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no finally blocks, no Prefect state hooks
        self.proc.wait(30)


def start_flow(stack: PrivateStack, kind: str, params: dict, work_dir: Path, name: str,
               env: dict[str, str] | None = None) -> FlowProcess:
    work_dir.mkdir(parents=True, exist_ok=True)
    out_path = work_dir / f"{name}.json"
    out_path.unlink(missing_ok=True)
    log = open(work_dir / f"{name}.log", "wb")
    proc = subprocess.Popen([sys.executable, str(RUNNER), kind, json.dumps(params), str(out_path)],
                            cwd=stack.cfg.repo_root, env=env or stack.env(), stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    return FlowProcess(proc, out_path)


def run_flow(stack: PrivateStack, kind: str, params: dict, work_dir: Path, name: str, **kw) -> dict:
    return start_flow(stack, kind, params, work_dir, name, **kw).wait()


# ---- outputs ------------------------------------------------------------------------------------

def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def list_keys(s3, bucket: str, prefix: str) -> dict[str, dict]:
    """key -> {etag, modified, size} of every object under the prefix."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = {"etag": item["ETag"], "modified": item["LastModified"].isoformat(),
                                  "size": item["Size"]}
    return found


def part_keys(s3, run_dir: str) -> dict[str, dict]:
    bucket, key = split_uri(run_dir)
    return {k: v for k, v in list_keys(s3, bucket, key.rstrip("/") + "/").items()
            if k.rsplit("/", 1)[-1].startswith("part-")}


def read_parquet(s3, bucket: str, key: str) -> pa.Table:
    return pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


@dataclass
class Accounting:
    """Every id found in a run's parts and quarantine parts, with its status and reason."""

    ids: Counter
    statuses: Counter
    kept_parts: int
    quarantine_parts: int
    rows: list[dict]

    def check(self, expected: set) -> dict:
        """held/lost/duplicated against the input ids."""
        found = set(self.ids)
        return {"expected": len(expected), "found_once": sum(1 for i in expected if self.ids.get(i) == 1),
                "lost": len(expected - found), "duplicated": sum(1 for c in self.ids.values() if c > 1),
                "unexpected": len(found - expected), "statuses": dict(self.statuses),
                "kept_parts": self.kept_parts, "quarantine_parts": self.quarantine_parts}


def account(s3, run_dir: str, columns: tuple[str, ...] = ("id", "status", "error")) -> Accounting:
    bucket, _ = split_uri(run_dir)
    ids, statuses, rows = Counter(), Counter(), []
    kept = quarantined = 0
    for key in sorted(part_keys(s3, run_dir)):
        table = read_parquet(s3, bucket, key)
        names = [c for c in (*columns, "reasons") if c in table.column_names]
        chunk = table.select(names).to_pylist()
        for row in chunk:
            row["part"] = key.rsplit("/", 2)[-2] if "/quarantine/" in key else "main"
        ids.update(r["id"] for r in chunk)
        statuses.update(r["status"] for r in chunk)
        rows.extend(chunk)
        if "/quarantine/" in key:
            quarantined += 1
        else:
            kept += 1
    return Accounting(ids, statuses, kept, quarantined, rows)


def read_json(s3, uri: str) -> dict:
    bucket, key = split_uri(uri)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def wait_for(predicate, timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def run_dirs_under(s3, output_uri: str) -> list[str]:
    bucket, key = split_uri(output_uri)
    prefix = key.rstrip("/") + "/"
    dirs = {k[len(prefix):].split("/", 1)[0] for k in list_keys(s3, bucket, prefix)}
    return sorted(f"s3://{bucket}/{prefix}{d}" for d in dirs if d and not d.startswith("_"))
