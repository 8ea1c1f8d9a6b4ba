"""The transcribe model's speech regions helpers (numpy only: loaded straight from the model dir)."""
import importlib.util
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "triton" / "model_repository" / "transcribe" / "1" / "speech_regions.py"
spec = importlib.util.spec_from_file_location("speech_regions_under_test", PATH)
sr = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = sr  # dataclasses look their module up
spec.loader.exec_module(sr)


def test_long_regions_are_cut_into_whisper_windows():
    pieces = sr.split_long([sr.Region(0.0, 75.0), sr.Region(80.0, 90.0)])
    assert [(round(p.start, 2), round(p.end, 2)) for p in pieces] == [(0.0, 25.0), (25.0, 50.0), (50.0, 75.0),
                                                                       (80.0, 90.0)]


def test_blocks_cut_long_audio_in_pauses_only():
    regions = [sr.Region(t, t + 20.0) for t in range(0, 3600, 25)]  # 20 s of speech, 5 s pauses, one hour
    spans = sr.blocks(regions, 3600.0, 300.0)
    assert spans[0][0] == 0.0 and spans[-1][1] == 3600.0
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # contiguous: nothing skipped
    assert all(e - s <= 300.0 for s, e in spans) and len(spans) <= 14
    for cut in (e for _, e in spans[:-1]):  # every cut in a pause
        assert not any(r.start < cut < r.end for r in regions), cut
    assert sr.blocks(regions[:3], 70.0, 300.0) == [(0.0, 70.0)]
    assert sr.blocks([], 700.0, 300.0) == [(0.0, 300.0), (300.0, 600.0), (600.0, 700.0)]


def test_regions_parameter_is_checked_and_clipped():
    regions = sr.parse_regions("[[20, 25.5], {\"start\": 1, \"end\": 4}]", duration_s=22.0)
    assert [(r.start, r.end) for r in regions] == [(1.0, 4.0), (20.0, 22.0)]
    for raw, message in (("[[3, 1]]", "is not a span"), ("[]", "non-empty"), ("nope", "not JSON"),
                         ("[[1]]", r"is not \[start, end\]")):
        with pytest.raises(sr.RegionError, match=message):
            sr.parse_regions(raw)
