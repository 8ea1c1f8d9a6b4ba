"""The folders of tasks/ depend on each other in one direction only (docs/architecture.md):

    text, io, inference,         depend on no other folder (io and inference: nor on each other)
    diarization
    guards                       text, inference (the similarity encoder served by Triton)
    quality                      io
    engine                       io, inference, quality; never a modality
    translate, transcribe        engine, io, inference, quality, text, guards; never each other
    speech_translate             the two stages it composes, and what they may use
    registry                     the one module that knows every stage

Every import counts, function-level and TYPE_CHECKING ones included (tests/test_import_cycles.py)."""
from __future__ import annotations

import pytest

from tests.test_import_cycles import import_graph

BASE = {"text": set(), "io": set(), "inference": set(), "diarization": set()}
ALLOWED = {
    **BASE,
    "guards": {"text", "inference"},
    "quality": {"io"},
    "engine": {"io", "inference", "quality"},
    "translate": {"engine", "io", "inference", "quality", "text", "guards"},
    "transcribe": {"engine", "io", "inference", "quality", "text", "guards", "diarization"},
    "speech_translate": {"translate", "transcribe", "engine", "io", "inference", "quality", "text", "guards",
                         "diarization"},
}
MODALITIES = ("translate", "transcribe", "speech_translate")


def folder(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "tasks" and len(parts) > 2 else None


def crossings() -> list[tuple[str, str]]:
    found = []
    for module, imported in import_graph().items():
        home = folder(module)
        if home not in ALLOWED:
            continue
        for other in imported:
            there = folder(other)
            if there is not None and there != home and there not in ALLOWED[home]:
                found.append((module, other))
            if there is None and other == "tasks.registry":
                found.append((module, other))
    return sorted(found)


def test_every_folder_of_tasks_is_known():
    import_graph()  # parses every module
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "tasks"
    folders = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(ALLOWED), "a new folder in tasks/ needs its place in ALLOWED (and docs/architecture.md)"


def test_folders_import_only_the_folders_below_them():
    assert crossings() == []


@pytest.mark.parametrize("low", ["engine", "io", "inference"])
def test_engine_io_and_inference_never_import_a_modality(low):
    graph = import_graph()
    bad = [(m, o) for m, imported in graph.items() if folder(m) == low
           for o in imported if folder(o) in MODALITIES or o == "tasks.registry"]
    assert bad == []
