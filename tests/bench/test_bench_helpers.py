"""The benchmark helpers that decide what is measured: Triton config variants and row counts."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from common import human, parse_rows
from triton_variants import Variant, variant_config

REPO = Path(__file__).resolve().parents[2] / "triton" / "model_repository"


@pytest.mark.parametrize("text,rows", [("10k", 10_000), ("1M", 1_000_000), ("2500", 2500), ("1.5k", 1500)])
def test_parse_rows(text, rows):
    assert parse_rows(text) == rows


def test_human():
    assert [human(n) for n in (10_000, 1_000_000, 2500)] == ["10k", "1M", "2500"]


def test_variant_config_changes_only_what_it_says():
    base = (REPO / "translate" / "config.pbtxt").read_text()
    text = variant_config(base, Variant("translate_x", "translate", 128, instances=2, preferred=(),
                                        queue_delay_us=0, intra_threads=1))
    assert 'name: "translate_x"' in text and "max_batch_size: 128" in text and "count: 2" in text
    assert "preferred_batch_size" not in text and "max_queue_delay_microseconds: 0" in text
    assert '"intra_threads", value: { string_value: "1" }' in text
    assert text.count("input [") == 1 and 'key: "device"' in text


def test_variant_without_dynamic_batching():
    base = (REPO / "echo" / "config.pbtxt").read_text()
    text = variant_config(base, Variant("echo_nodb", "echo", 512, dynamic_batching=False))
    assert "dynamic_batching" not in text and "max_batch_size: 512" in text
    assert variant_config(base, Variant("echo_b", "echo", 256)).replace('"echo_b"', '"echo"') == base
