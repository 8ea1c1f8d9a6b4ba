"""Flow-run names that say what a run processes: `@flow(flow_run_name=flow_run_name)`.

    translate-batch  input_uri=s3://sentinel-demo/inbox/x1.parquet          -> "translate inbox/x1.parquet"
    translate-batch  input_uri=s3://sentinel-demo/inputs/daily/{scheduled_date}/ (nightly, 2026-12-01)
                                                                             -> "translate daily/2026-12-01/"
    transcribe-batch input_uri=s3://sentinel-demo/inputs/speech/             -> "transcribe inputs/speech/"

An event-triggered run gets the object the event named (its `input_uri`), so the runs list
reads as the list of objects that landed.
"""
from __future__ import annotations

from datetime import UTC

MAX_NAME = 100  # the UI's run list cuts longer names


def input_label(uri: str, scheduled: str | None = None) -> str:
    """The last two parts of an s3:// URI (bucket dropped), `{scheduled_date}` filled in."""
    if scheduled:
        uri = uri.replace("{scheduled_date}", scheduled)
    path = uri.removeprefix("s3://").partition("/")[2] or uri.removeprefix("s3://")
    slash = "/" if path.endswith("/") else ""
    parts = [p for p in path.split("/") if p]
    return "/".join(parts[-2:]) + slash if parts else uri


def name_for(flow_name: str, parameters: dict, scheduled: str | None = None) -> str:
    verb = flow_name.removesuffix("-batch") or "run"
    uri = parameters.get("input_uri")
    if not isinstance(uri, str) or not uri:
        return verb
    return f"{verb} {input_label(uri, scheduled)}"[:MAX_NAME]


def flow_run_name() -> str:
    """For `@flow(flow_run_name=...)`: Prefect calls it when the run starts."""
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time
    day = scheduled.astimezone(UTC).strftime("%Y-%m-%d") if scheduled else None
    return name_for(flow_run.flow_name or "run", dict(flow_run.parameters or {}), day)
