"""Hallucination guards: pure scoring, shared by the pipeline's guard steps, `sentinel check-mt` and
the benchmarks. `mt/` scores translations, `asr/` transcripts; `combine` (the noisy-OR of detector
scores), `scores` (what every detector returns) and `text` (language codes, scripts, tokens) serve both.

Importing this package imports nothing: each caller imports the module it needs
(`tasks.guards.mt.checker`, `tasks.guards.asr.checker`, `tasks.guards.mt.settings`, ...).
"""
