"""The peer bench's arithmetic and its report section, on made-up figures (no servers)."""
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import peer_bench  # noqa: E402
import report  # noqa: E402


def size(rows, seconds):
    runs = {name: [{"seconds": s, "rows_per_s": rows / s, "load_before": 1.0, "load_after": 2.5, "peak_rss_mb": 100}
                   for s in (seconds[name] * 1.1, seconds[name], seconds[name] * 0.9)]
            for name in peer_bench.SYSTEMS}
    medians = {name: peer_bench.median_run(r) for name, r in runs.items()}
    return {"rows": rows, "objects": 4, "runs": runs,
            "median_rows_per_s": {n: m["rows_per_s"] for n, m in medians.items()},
            "median_seconds": {n: m["seconds"] for n, m in medians.items()},
            "peak_rss_mb": {n: 100 for n in peer_bench.SYSTEMS}}


def test_median_run_and_marginal_rate():
    assert peer_bench.median_run([{"seconds": 3}, {"seconds": 1}, {"seconds": 2}]) == {"seconds": 2}
    large = size(200_000, {"sentinel": 20, "ray": 50, "direct": 3, "direct_b32": 10})
    small = size(50_000, {"sentinel": 8, "ray": 20, "direct": 1, "direct_b32": 3})
    margin = peer_bench.marginal(large, small)
    assert margin["sentinel"] == 12_500 and margin["ray"] == 5_000
    flat = size(50_000, {"sentinel": 20, "ray": 50, "direct": 3, "direct_b32": 10})
    assert peer_bench.marginal(large, flat)["sentinel"] is None  # no extra time: no rate


def test_report_section_shows_ratios_targets_and_load():
    large = size(200_000, {"sentinel": 20, "ray": 50, "direct": 3, "direct_b32": 10})
    ratios = {"sentinel_over_ray": 2.5, "sentinel_over_direct": 0.15, "sentinel_over_direct_b32": 0.5,
              "ray_over_direct": 0.06}
    case = {"model": "echo", "large": large, "small": large, "ratios": ratios,
        "marginal_rows_per_s": {"sentinel": 12_500.0, "ray": 5_000.0, "direct": 1.0, "direct_b32": 1.0},
        "targets_met": {"sentinel >= 2.0x ray": True, "sentinel >= 0.7x direct": False}, "ray_request_rows": 32}
    doc = {"repeats": 3, "ray_version": "2.60.0", "cases": [case], "load_at_start": 1.0, "load_at_end": 2.0}
    text = "\n".join(report.peer_section(doc))
    assert "**2.50×**" in text and "sentinel >= 0.7x direct: **no**" in text and "1.0–2.5" in text
    assert "_No figures" in "\n".join(report.peer_section(None))


def test_other_parts_sections_are_kept():
    previous = "# Benchmarks\n\n## 3. Scale\nold\n\n## 8. Documents\nkept line\n\n## 7. Peer\nold peer\n"
    assert report.other_sections(previous) == ["## 8. Documents", "kept line", "", ""]
