"""`sentinel runs list|show`: find runs by what they processed, without opening every manifest.

    sentinel runs list --output s3://sentinel-demo/outputs/ [--input x1.parquet] [--limit 50]
    sentinel runs show 13733 --output s3://sentinel-demo/outputs/      (a run key or its first characters)
    sentinel runs show s3://sentinel-demo/outputs/inbox/1373387041897a63/

Every run directory holds `report.json` (runs before it existed: `manifest.json`, read for the
same fields); `list` reads them all under `--output` (any depth: dated folders too), newest first.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from tasks.engine.run_record import MANIFEST, REPORT_JSON, REPORT_MD
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri

READ_THREADS = 8
COLUMNS = ("run_key", "flow", "started", "finished", "input", "kept", "quarantined", "failed", "status")


def run_documents(conn: S3Connection, output_uri: str) -> list[tuple[str, str]]:
    """(run dir, key of its report.json or, for older runs, manifest.json) under `output_uri`."""
    root = S3Uri.parse(output_uri)
    client = conn.listing_client()  # keys only: no timestamps parsed
    found: dict[str, dict[str, str]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=root.bucket, Prefix=root.prefix):
        for item in page.get("Contents", []):
            folder, _, name = item["Key"].rpartition("/")
            if name in (REPORT_JSON, MANIFEST) and "/_sentinel/" not in f"/{folder}/":
                found.setdefault(folder, {})[name] = item["Key"]
    return [(f"s3://{root.bucket}/{folder}", names.get(REPORT_JSON) or names[MANIFEST])
            for folder, names in found.items()]


def read_json(conn: S3Connection, bucket: str, key: str) -> dict:
    return json.loads(conn.boto3_client().get_object(Bucket=bucket, Key=key)["Body"].read())


def summary_row(run_dir: str, doc: dict) -> dict:
    """The list's columns from a report.json, or from an older manifest.json."""
    counts = doc.get("counts") or {}
    statuses = doc.get("status_counts") or {}
    quarantined = counts.get("rows_quarantined", statuses.get("failed", 0) + statuses.get("flagged", 0))
    inputs = [i.get("uri", "") for i in doc.get("inputs") or []]
    status = doc.get("status") or ("Completed" if doc.get("succeeded") else "Failed")
    return {
        "run_key": doc.get("run_key") or run_dir.rstrip("/").rsplit("/", 1)[-1], "run_dir": run_dir,
        "flow": doc.get("flow") or (doc.get("config") or {}).get("flow") or "",
        "started": (doc.get("started_at") or "")[:19], "finished": (doc.get("finished_at") or "")[:19],
        "input": inputs[0] if len(inputs) == 1 else doc.get("input_uri", ""), "inputs": inputs,
        "kept": counts.get("rows_kept", sum(statuses.values()) - quarantined), "quarantined": quarantined,
        "failed": counts.get("rows_failed", 0), "status": status, "headline": doc.get("headline", ""),
    }


def list_runs(conn: S3Connection, output_uri: str, input_filter: str | None = None) -> list[dict]:
    """Every run under `output_uri`, newest first; with `input_filter`, only runs that read an
    object (or prefix) whose URI contains it."""
    bucket = S3Uri.parse(output_uri).bucket
    documents = run_documents(conn, output_uri)
    with ThreadPoolExecutor(READ_THREADS) as pool:
        docs = list(pool.map(lambda item: read_json(conn, bucket, item[1]), documents))
    rows = [summary_row(run_dir, doc) for (run_dir, _), doc in zip(documents, docs, strict=True)]
    if input_filter:
        rows = [r for r in rows if any(input_filter in uri for uri in [r["input"], *r["inputs"]])]
    return sorted(rows, key=lambda r: r["started"], reverse=True)


def format_table(rows: list[dict]) -> str:
    if not rows:
        return "no runs"
    cells = [[str(r[c]) if not isinstance(r[c], int) else f"{r[c]:,}" for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(COLUMNS, widths, strict=True)).rstrip()]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


class RunNotFound(LookupError):
    pass


def find_run(conn: S3Connection, key_or_uri: str, output_uri: str | None) -> str:
    """The run directory of a run key, a key's first characters, or an s3:// run directory (or a
    prefix holding exactly one run)."""
    if key_or_uri.startswith("s3://"):
        below = sorted({run_dir.rstrip("/") for run_dir, _ in run_documents(conn, key_or_uri.rstrip("/") + "/")})
        if len(below) == 1:
            return below[0]
        if not below:
            raise RunNotFound(f"no run under {key_or_uri} (no report.json or manifest.json there)")
        raise RunNotFound(f"{key_or_uri} holds {len(below)} runs, give one: " + ", ".join(below[:10]))
    if not output_uri:
        raise RunNotFound("give --output s3://… (where to look for the run) or the run's s3:// directory")
    matches = sorted({run_dir for run_dir, _ in run_documents(conn, output_uri)
                      if run_dir.rstrip("/").rsplit("/", 1)[-1].startswith(key_or_uri)})
    if not matches:
        raise RunNotFound(f"no run key starting with {key_or_uri!r} under {output_uri}")
    if len(matches) > 1:
        raise RunNotFound(f"{key_or_uri!r} matches {len(matches)} runs: " + ", ".join(matches[:10]))
    return matches[0]


def first_rows(conn: S3Connection, run_dir: str, quarantine: bool, limit: int) -> list[dict]:
    """The first `limit` rows of the run's first kept (or quarantine) part."""
    import pyarrow.parquet as pq

    root = S3Uri.parse(run_dir + ("/quarantine/" if quarantine else "/"))
    listing = conn.boto3_client().list_objects_v2(Bucket=root.bucket, Prefix=root.prefix + "part-")
    keys = sorted(o["Key"] for o in listing.get("Contents", []) if o["Key"].endswith(".parquet"))
    rows: list[dict] = []
    for key in keys:
        table = pq.read_table(f"{root.bucket}/{key}", filesystem=conn.arrow_fs)
        rows += table.slice(0, limit - len(rows)).to_pylist()
        if len(rows) >= limit:
            break
    return rows


SHOWN_COLUMNS = ("id", "status", "source_text", "translation", "transcript", "error", "reasons")


def format_rows(rows: list[dict], width: int = 60) -> str:
    if not rows:
        return "  (none)"
    columns = [c for c in SHOWN_COLUMNS if c in rows[0]]

    def cell(value) -> str:
        text = "" if value is None else (", ".join(map(str, value)) if isinstance(value, list) else str(value))
        text = text.replace("\n", " ")
        return text if len(text) <= width else text[: width - 1] + "…"

    return "\n".join("  " + " | ".join(f"{c}={cell(row.get(c))}" for c in columns) for row in rows)


def show_run(conn: S3Connection, run_dir: str, rows: int = 5) -> str:
    """The run's report.md (or its manifest's summary), then its first kept and quarantined rows."""
    root = S3Uri.parse(run_dir + "/")
    client = conn.boto3_client()
    try:
        report = client.get_object(Bucket=root.bucket, Key=root.prefix + REPORT_MD)["Body"].read().decode()
    except client.exceptions.NoSuchKey:
        doc = read_json(conn, root.bucket, root.prefix + MANIFEST)
        report = json.dumps({k: v for k, v in doc.items() if k not in ("config", "shards")}, indent=2, default=str)
    parts = [report.rstrip(), "", f"## First kept rows ({run_dir}/part-*.parquet)",
             format_rows(first_rows(conn, run_dir, quarantine=False, limit=rows)), "",
             f"## First quarantined rows ({run_dir}/quarantine/)",
             format_rows(first_rows(conn, run_dir, quarantine=True, limit=rows))]
    return "\n".join(parts) + "\n"
