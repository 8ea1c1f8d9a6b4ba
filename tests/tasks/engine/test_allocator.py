import platform

import pytest

from tasks.engine import allocator


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(allocator, "_libc", None)
    monkeypatch.setattr(allocator, "_state", {"tuned": False, "released_at": 0.0})
    return monkeypatch


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_glibc_takes_the_fixed_mmap_threshold_and_trims(fresh):
    assert allocator.tune() and allocator.tune()  # once per process; asking again is harmless
    allocator.release(force=True)
    stamp = allocator._state["released_at"]
    allocator.release()  # within RELEASE_EVERY_S: nothing done
    assert stamp > 0 and allocator._state["released_at"] == stamp


def test_tuning_can_be_turned_off(fresh):
    fresh.setenv("SENTINEL_MALLOC_TUNING", "0")
    assert not allocator.tune()
    allocator.release(force=True)
    assert allocator._state["released_at"] == 0.0
