"""The transcribe stage: `stage.py`, `batch.py`, `guard.py`, and its helpers (audio columns and
fetch, speech coverage, subtitles)."""
