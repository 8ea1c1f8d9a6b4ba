"""The translate stage: `stage.py` (the stage), `batch.py` (one record batch through Triton),
`guard.py` (score, re-decode, mark)."""
