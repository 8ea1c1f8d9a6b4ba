"""Hallucination detectors for machine translation, their settings and the scoring (`checker.py`);
`check_file.py` and `cli.py` serve `sentinel check-mt`. Importing this package imports nothing."""
