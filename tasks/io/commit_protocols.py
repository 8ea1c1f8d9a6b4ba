"""Which listed objects are a folder's data, by the commit protocol of the tool that wrote it.

Folders written by Spark, Databricks or Hadoop are tables, not piles of files: objects under a
path segment that starts with `_` or `.` (`_temporary/`, `_delta_log/`, `.spark-staging-…/`,
`_SUCCESS`, `.part-0.parquet.crc`) are never data (the Hadoop/Spark convention), and a Databricks
folder says in its `_committed_<tid>` markers which files each transaction added and removed:

    _started_<tid>                      a transaction began (empty)
    _committed_<tid>                    {"added": ["part-00000-tid-<tid>-<uuid>-c000.snappy.parquet", …],
                                         "removed": ["part-…-tid-<older tid>-….parquet", …]}
    part-00000-tid-<tid>-<uuid>-c000…   a data file of transaction <tid>

A file of a transaction that started and never committed, a file its committed transaction does not
list (a failed task attempt), and a file a later transaction removed are not live; each is named,
with the reason, in the run's record. A Spark-style folder without `_SUCCESS` may still be being
written: that is a warning, not an error (a job that does not write markers is common).

    resolve_commit_protocols(keys) -> Resolution(live, skipped, warnings, markers)

`keys` are relative to the input prefix; `read_marker(key) -> bytes` reads a `_committed_` file.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

DATABRICKS_TID = re.compile(r"-tid-(\d+)-")
DATABRICKS_MARKER = re.compile(r"^_(started|committed)_(\d+)$")
SPARK_PART = re.compile(r"^part-\d{5}")


@dataclass(frozen=True)
class Skipped:
    key: str  # relative to the input prefix
    reason: str


@dataclass
class Resolution:
    live: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def hidden_segment(key: str) -> str | None:
    """The first segment of `key` (relative to the input prefix) that hides it, or None. As Spark
    decides: `.anything` and `_anything`, except a `_name=value` partition folder."""
    segments = key.split("/")
    for n, segment in enumerate(segments):
        if segment.startswith(".") or (segment.startswith("_") and ("=" not in segment or n == len(segments) - 1)):
            return segment
    return None


def hidden_reason(key: str, segment: str) -> str:
    last = key.rsplit("/", 1)[-1]
    if segment == last:
        return f"hidden name {segment!r} (names starting with '_' or '.' are not data: markers, checksums, drafts)"
    return f"inside hidden folder {segment + '/'!r} (folders starting with '_' or '.' hold temporary or metadata files)"


def folder_of(key: str) -> str:
    return key.rsplit("/", 1)[0] if "/" in key else ""


def _name(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def _committed(markers: dict[str, dict[int, str]], folder: str, read_marker: Callable[[str], bytes]
               ) -> dict[int, dict] | str:
    """Each committed transaction's {"added": set, "removed": set} in `folder`, or an error text."""
    out: dict[int, dict] = {}
    for tid, marker in markers.get(folder, {}).items():
        try:
            doc = json.loads(read_marker(marker) or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            return f"{marker}: not a readable Databricks commit marker ({exc})"
        out[tid] = {"added": set(doc.get("added", [])), "removed": set(doc.get("removed", []))}
    return out


def resolve_commit_protocols(keys: Iterable[str], read_marker: Callable[[str], bytes]) -> Resolution:
    """Split `keys` (every object under the prefix, relative to it) into live data files and skipped
    ones with their reasons; see the module docstring."""
    resolution = Resolution()
    visible: list[str] = []
    started: dict[str, set[int]] = {}
    committed_markers: dict[str, dict[int, str]] = {}
    has_success: set[str] = set()
    for key in keys:
        segment = hidden_segment(key)
        if segment is None:
            visible.append(key)
            continue
        folder, name = folder_of(key), _name(key)
        if name == "_SUCCESS" and segment == name:
            has_success.add(folder)
        elif (marker := DATABRICKS_MARKER.match(name)) and segment == name:
            kind, tid = marker.group(1), int(marker.group(2))
            if kind == "started":
                started.setdefault(folder, set()).add(tid)
            else:
                committed_markers.setdefault(folder, {})[tid] = key
            continue  # markers are bookkeeping of the protocol: not listed as skipped data
        if name.endswith(".crc") or name == "_SUCCESS":
            continue  # checksums and success markers: never data, not worth a line each
        resolution.skipped.append(Skipped(key, hidden_reason(key, segment)))

    transactions: dict[str, dict[int, dict] | str] = {}
    for key in visible:
        folder, name = folder_of(key), _name(key)
        tid_match = DATABRICKS_TID.search(name)
        if tid_match is None or (folder not in started and folder not in committed_markers):
            resolution.live.append(key)
            continue
        if folder not in transactions:
            transactions[folder] = _committed(committed_markers, folder, read_marker)
        done = transactions[folder]
        if isinstance(done, str):
            resolution.skipped.append(Skipped(key, done))
            continue
        tid = int(tid_match.group(1))
        removed_by = [t for t, doc in done.items() if name in doc["removed"]]
        if removed_by:
            resolution.skipped.append(Skipped(key, f"removed by Databricks transaction {max(removed_by)} "
                                                   f"(_committed_{max(removed_by)})"))
        elif tid in done and name not in done[tid]["added"]:
            resolution.skipped.append(Skipped(key, f"not listed in _committed_{tid}: written by a task attempt "
                                                   f"that transaction {tid} did not commit"))
        elif tid not in done and tid in started.get(folder, set()):
            resolution.skipped.append(Skipped(key, f"uncommitted Databricks transaction {tid} "
                                                   f"(_started_{tid} without _committed_{tid})"))
        else:  # committed, or so old that its markers were vacuumed away
            resolution.live.append(key)

    spark_folders = sorted({folder_of(k) for k in resolution.live if SPARK_PART.match(_name(k))})
    unmarked = [f for f in spark_folders
                if not any(done == "" or f == done or f.startswith(done + "/") for done in has_success)]
    if unmarked:
        in_progress = any("_temporary" in s.key.split("/") for s in resolution.skipped)
        state = "a _temporary/ folder shows a write in progress" if in_progress else "the writer may not have finished"
        where = ", ".join(repr(f or ".") for f in unmarked[:3])
        if len(unmarked) > 3:
            where += f" and {len(unmarked) - 3} more folders"
        resolution.warnings.append(f"Spark-style part files without a _SUCCESS marker in {where} ({state}): "
                                   "rows of files still being written may be missing")
    return resolution
