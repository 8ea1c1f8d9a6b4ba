"""A terminal progress bar for runs the CLI starts in-process: rows done of total, shards, ETA.

Fed by flows.run_report.progress_listener (every ShardProgress update). On a terminal the bar
redraws in place; otherwise (a log file, CI) a line is printed at most every `every_s` seconds.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

from flows.run_report import ProgressUpdate

BAR_WIDTH = 30


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def progress_line(update: ProgressUpdate, elapsed_s: float) -> str:
    """`[#####-----]  12,000/40,000 rows  30%  3/8 shards  1 failed  ETA 00:42`."""
    if update.rows_total:
        done, total, unit = update.rows_done, update.rows_total, "rows"
    else:
        done, total, unit = update.shards_done, update.shards_total, "shards"
    fraction = done / total if total else 1.0
    filled = int(BAR_WIDTH * fraction)
    eta = elapsed_s * (1 - fraction) / fraction if 0 < fraction < 1 else (0.0 if fraction >= 1 else None)
    line = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done:,}/{total:,} {unit} {fraction:4.0%}"
    if unit == "rows":
        line += f"  {update.shards_done}/{update.shards_total} shards"
    if update.failed:
        line += f"  {update.failed} failed"
    return line + f"  ETA {format_eta(eta)}"


class ProgressBar:
    """A listener for flows.run_report.progress_listener."""

    def __init__(self, stream: TextIO | None = None, every_s: float = 5.0):
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.every_s, self.started, self.last_print = every_s, time.monotonic(), 0.0

    def __call__(self, update: ProgressUpdate) -> None:
        now = time.monotonic()
        line = progress_line(update, now - self.started)
        if self.interactive:
            self.stream.write("\r" + line + ("\n" if update.finished else ""))
        elif update.finished or now - self.last_print >= self.every_s or update.shards_done == update.shards_total:
            self.stream.write(line + "\n")
            self.last_print = now
        if update.finished and update.headline:
            self.stream.write(update.headline + "\n")
        self.stream.flush()
