"""What a person sees of a run: a progress artifact updated as shards finish, and the run report —
the same markdown as a Prefect artifact and as `<run_key>/report.md` in S3."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact

from tasks.engine.run_record import ADVICE, INPUT_ERROR, RERUN_ERROR, RunRecord, shard_error_kind

SECTIONS = {  # problem kind -> section title
    INPUT_ERROR: "Fix the input (a rerun meets the same bytes)",
    RERUN_ERROR: "Rerun to finish (S3, Triton or a crash; committed parts are reused)",
    "quarantine": "Too much quarantined",
}


@dataclass(frozen=True)
class ProgressUpdate:
    """What a progress listener is told after each shard (and once at the end)."""

    description: str
    shards_done: int
    shards_total: int
    rows_done: int
    rows_total: int | None  # None when the flow did not say how many rows it planned
    failed: int
    finished: bool = False
    headline: str = ""


_listeners: list[Callable[[ProgressUpdate], None]] = []


def rate(per_s: float) -> str:
    """Rows per second as a person reads them: 1,234 / 12 / 0.4 (a small run is not '0 rows/s')."""
    return f"{per_s:,.0f}" if per_s >= 10 else f"{per_s:.1f}"


@contextmanager
def progress_listener(listener: Callable[[ProgressUpdate], None]) -> Iterator[None]:
    """Call `listener` with every ShardProgress update made in this process while inside (the CLI
    draws its progress bar from these: it runs the flow in-process)."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


class ShardProgress:
    """A progress artifact: shards done of total, rows done of the planned rows, and how many
    shards failed, by kind (fix the input / rerun)."""

    def __init__(self, total: int, description: str, rows: int | None = None):
        self.total, self.done, self.description = total, 0, description
        self.rows_total, self.rows_done = rows, 0
        self.failed = {INPUT_ERROR: 0, RERUN_ERROR: 0}
        self.artifact_id = create_progress_artifact(progress=0.0 if total else 100.0, description=self.text())
        self.notify()

    def text(self) -> str:
        parts = [f"{self.description}: {self.done} of {self.total} shards done"]
        if self.rows_total is not None:
            parts[0] += f" ({self.rows_done:,} of {self.rows_total:,} rows)"
        parts += [f"{count} failed ({ADVICE[kind]})" for kind, count in self.failed.items() if count]
        return ", ".join(parts)

    def notify(self, finished: bool = False, headline: str = "") -> None:
        update = ProgressUpdate(self.description, self.done, self.total, self.rows_done, self.rows_total,
                                sum(self.failed.values()), finished, headline)
        for listener in list(_listeners):
            listener(update)

    def advance(self, shard: dict | None = None) -> None:
        """One more shard finished; `shard` (its manifest entry) says its rows and whether it failed and why."""
        self.done += 1
        if shard is not None:
            self.rows_done += (shard.get("row_stop") or 0) - (shard.get("row_start") or 0)
            if shard.get("error"):
                self.failed[shard_error_kind(shard)] += 1
        percent = round(100.0 * self.done / self.total, 1) if self.total else 100.0
        update_progress_artifact(self.artifact_id, progress=percent, description=self.text())
        self.notify()

    def finish(self, record: RunRecord) -> None:
        """The run is over: 100 % and its headline (a run whose objects all failed planning has no
        shards, and must not sit at 0 %)."""
        update_progress_artifact(self.artifact_id, progress=100.0,
                                 description=f"{self.description}: {record.headline()}")
        self.notify(finished=True, headline=record.headline())


def count_list(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "none"


def input_lines(listing: dict, named: int = 10) -> list[str]:
    """How the input was read (a table's version, partitions), what was left out and why, warnings."""
    lines: list[str] = []
    table = listing.get("table")
    if table:
        version = table.get("version", table.get("snapshot_id"))
        lines += ["", f"Read as a {table['format'].title()} table: version `{version}` of `{table['uri']}`."]
    if listing.get("partition_columns"):
        lines += ["", "Partition columns (from `key=value` folders, written to the output): "
                  + ", ".join(f"`{c}`" for c in listing["partition_columns"])]
    for warning in listing.get("warnings", []):
        lines += ["", f"**Warning**: {warning}"]
    skipped = listing.get("skipped") or []
    if listing.get("skipped_count"):
        lines += ["", f"## Objects not read ({listing['skipped_count']:,})", ""]
        lines += [f"- `{s['uri']}`: {s['reason']}" for s in skipped[:named]]
        if listing["skipped_count"] > named:
            lines.append(f"- … and {listing['skipped_count'] - named:,} more: see the manifest's `input.skipped`")
    return lines


def summary_markdown(record: RunRecord) -> str:
    """The run report: headline, where things are, counts, time, then what to do about each problem."""
    counts, times, statuses = record.counts(), record.timings(), record.status_counts()
    kept = {k: v for k, v in statuses.items() if k in ("ok", "skipped_empty")}
    held = {k: v for k, v in statuses.items() if k not in kept}
    written = counts["rows_kept"] + counts["rows_quarantined"]
    lines = [f"# {record.flow or 'run'} `{record.run_key}`: {record.headline()}", ""]
    lines += [
        f"- **input**: `{record.input_uri}`",
        f"- **kept rows**: `{record.output_dir}/part-*.parquet`",
        f"- **quarantined rows**: `{record.quarantine_dir}`",
        f"- **manifest**: `{record.output_dir}/manifest.json` (this report: `{record.output_dir}/report.md`)",
        "",
        f"| status | **{record.status}** |", "|---|---|",
        f"| rows in | {counts['rows_in']:,} |",
        f"| kept | {counts['rows_kept']:,} ({count_list(kept)}) |",
        f"| quarantined | {counts['rows_quarantined']:,} of {written:,} written ({counts['quarantined_share']:.1%}; "
        f"limit {record.max_quarantined_share:.0%}) — {count_list(held)} |",
        f"| failed (not written) | {counts['rows_failed']:,} rows in {counts['shards_failed']} failed shards |",
        f"| objects | {counts['objects']} ({counts['objects_failed']} failed) |",
        f"| shards | {counts['shards']} ({counts['shards_failed']} failed, {counts['shards_reused']} reused "
        "from an earlier attempt) |",
        f"| model | `{record.model}` |",
        f"| wall time | {record.seconds:.1f} s ({rate(times['rows_per_s'])} rows/s), "
        f"{record.started_at[:19]} → {(record.finished_at or '')[:19]} UTC |",
    ]
    if times["shards_computed"]:
        lines.append(f"| shard time | {times['shard_s']:.1f} s summed over {times['shards_computed']} shards "
                     "computed now (in parallel: can exceed wall time) |")
    if times["guard_s"]:
        lines.append(f"| guards | {times['guard_s']:.1f} s summed over the same shards: "
                     f"{times['guard_share_of_shard_time']:.0%} of their shard time |")
    lines += input_lines(record.input_listing)
    if record.empty:
        lines += ["", f"Nothing to do: no objects under `{record.input_uri}`."
                  + (" The run was asked to fail on an empty input." if record.empty_input_fails else "")]
    by_kind: dict[str, list[dict]] = {}
    for problem in record.problems():
        by_kind.setdefault(problem["kind"], []).append(problem)
    for kind, problems in by_kind.items():
        lines += ["", f"## {SECTIONS.get(kind, kind)}", ""]
        lines += [f"- `{p['what']}`: {p['error'][:2000]}" for p in problems]
    return "\n".join(lines) + "\n"


def publish_summary(record: RunRecord, key: str, markdown: str | None = None) -> None:
    create_markdown_artifact(markdown=markdown or summary_markdown(record), key=key,
                             description=f"Sentinel Batch run report: {record.headline()}"[:500])
