"""Where suite results go: a JSON document per suite run at `<run_dir>/quality/<name>.json` next to
the run's parts, and one Prefect markdown artifact summarising them all."""
from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from tasks.io.part_writer import put_json
from tasks.io.s3 import S3Connection
from tasks.io.s3_uri import S3Uri
from tasks.quality.result import QualityResult

MAX_TABLE_ROWS = 200  # every failed suite is listed, passing ones up to this many rows in all


def quality_target(run_dir: str, name: str) -> S3Uri:
    """`<run_dir>/quality/<name>.json`; `name` may contain '/' (e.g. 'input/<shard_id>')."""
    return S3Uri.parse(run_dir).join("quality", f"{name}.json")


def write_quality_result(conn: S3Connection, run_dir: str, name: str, result: QualityResult | dict) -> str:
    """Upload the result (our summary + GE's validation result); returns its s3:// URI."""
    document = result.to_json_dict() if isinstance(result, QualityResult) else result
    return put_json(conn, quality_target(run_dir, name), document)


def _summary(result: QualityResult | dict) -> dict:
    if isinstance(result, QualityResult):
        return result.summary()
    return result.get("summary", result)  # a summary() or a to_json_dict() document


def _cell(text: object, limit: int = 300) -> str:
    text = str(text).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


def quality_markdown(results: Iterable[QualityResult | dict], title: str = "Data quality") -> str:
    """A table: suite, source, result, failed expectations; failed suites first, each failure's
    message below the table. Takes `QualityResult`s or their `summary()` dicts."""
    summaries = [_summary(r) for r in results]
    failed = [s for s in summaries if not s["success"]]
    passed = [s for s in summaries if s["success"]]
    lines = [f"# {title}: {len(summaries) - len(failed)} of {len(summaries)} suite runs passed", ""]
    if not summaries:
        return lines[0] + "\n\nNo suite ran."
    shown = failed + passed[:max(0, MAX_TABLE_ROWS - len(failed))]
    lines += ["| suite | source | result | failed expectations |", "|---|---|---|---|"]
    for s in shown:
        verdict = "passed" if s["success"] else "**FAILED**"
        lines.append(f"| {_cell(s['suite'])} | `{_cell(s['source'])}` | {verdict} | "
                     f"{_cell(', '.join(s.get('failed') or []) or '—')} |")
    if len(shown) < len(summaries):
        lines.append(f"\n… and {len(summaries) - len(shown)} more passed suite runs.")
    if failed:
        lines += ["", "## Failures", ""] + [f"- {_cell(s['message'], 1000)}" for s in failed]
    return "\n".join(lines)


def publish_quality_artifact(results: Iterable[QualityResult | dict], key: str,
                             description: str = "Sentinel Batch data quality") -> UUID:
    """A Prefect markdown artifact (`key`: lowercase letters, digits and dashes). Call it inside
    a flow or task run to attach it there."""
    from prefect.artifacts import create_markdown_artifact

    return create_markdown_artifact(markdown=quality_markdown(results), key=key, description=description)
