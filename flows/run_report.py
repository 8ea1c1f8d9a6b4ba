"""Prefect artifacts for a run: a progress bar updated as shards finish, and a markdown summary."""
from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact

from tasks.run_manifest import RunRecord


class ShardProgress:
    def __init__(self, total: int, description: str):
        self.total, self.done = max(total, 1), 0
        self.artifact_id = create_progress_artifact(progress=0.0, description=description)

    def advance(self) -> None:
        self.done += 1
        update_progress_artifact(self.artifact_id, progress=round(100.0 * self.done / self.total, 1))


def summary_markdown(record: RunRecord) -> str:
    counts = record.status_counts()
    rows = sum(counts.values())
    quarantined = counts.get("failed", 0) + counts.get("flagged", 0)
    rate = rows / record.seconds if record.seconds else 0.0
    lines = [
        f"# Run `{record.run_key}` — {'succeeded' if record.succeeded else 'FAILED: rerun needed'}",
        "",
        "| | |", "|---|---|",
        f"| input | `{record.input_uri}` |",
        f"| output | `{record.output_dir}` |",
        f"| model | `{record.model}` |",
        f"| objects | {len(record.inputs)} ({len(record.failed_objects)} failed) |",
        f"| shards | {len(record.shards)} ({len(record.failed_shards)} failed) |",
        f"| rows | {rows} ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items())) or 'none'}) |",
        f"| quarantined | {quarantined} rows (failed: {counts.get('failed', 0)}, flagged by the guards: "
        f"{counts.get('flagged', 0)}) under `{record.output_dir}/quarantine/` |",
        f"| wall time | {record.seconds:.1f} s ({rate:.0f} rows/s) |",
    ]
    shard_seconds = sum(s.get("seconds") or 0.0 for s in record.shards)
    guard_seconds = sum(s.get("guard_seconds") or 0.0 for s in record.shards)
    if guard_seconds:
        lines.append(f"| guards | {guard_seconds:.1f} s, {guard_seconds / max(shard_seconds, 1e-9):.0%} of shard time |")
    problems = [(o["uri"], o["error"]) for o in record.failed_objects]
    problems += [(s.get("object_uri", "?") + f" rows {s.get('row_start')}–{s.get('row_stop')}", s["error"])
                 for s in record.failed_shards]
    if problems:
        lines += ["", "## Needs a rerun", "", "| what | error |", "|---|---|"]
        lines += [f"| `{what}` | {str(err).replace('|', '/')[:300]} |" for what, err in problems]
    if record.failed_object_checks:
        lines += ["", "## Ids repeated across shards (fix the input)", ""]
        lines += [f"- {c['message'][:1000]}" for c in record.failed_object_checks]
    return "\n".join(lines)


def publish_summary(record: RunRecord, key: str) -> None:
    create_markdown_artifact(markdown=summary_markdown(record), key=key, description="Sentinel Batch run report")
