"""Hallucination detectors for speech recognition, their settings and the scoring (`checker.py`).
Importing this package imports nothing."""
