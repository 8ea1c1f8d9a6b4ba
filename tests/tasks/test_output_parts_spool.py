"""Spool files live in a per-process directory; directories of dead processes are removed."""
import subprocess
import sys

from tasks import output_parts


def test_spool_dir_is_per_process_and_dead_processes_are_swept(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_SPOOL_DIR", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"sentinel-spool-{int(dead.stdout)}"
    stale.mkdir()
    (stale / "sentinel-part-x.parquet").write_bytes(b"left by a SIGKILL")
    output_parts.spool_dir.cache_clear()
    try:
        mine = output_parts.spool_dir()
    finally:
        output_parts.spool_dir.cache_clear()
    assert mine.parent == tmp_path and mine.is_dir() and not stale.exists()
