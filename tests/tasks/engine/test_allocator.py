import platform

import pytest

from tasks.engine import allocator


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(allocator, "_libc", None)
    monkeypatch.setattr(allocator, "_state", {"released_at": 0.0})
    return monkeypatch


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_free_pages_are_handed_back_at_most_every_few_seconds(fresh):
    assert allocator.release()
    assert not allocator.release()  # within RELEASE_EVERY_S: nothing done
    fresh.setattr(allocator, "RELEASE_EVERY_S", 0.0)
    assert allocator.release()


def test_it_can_be_turned_off(fresh):
    fresh.setenv("SENTINEL_MALLOC_TUNING", "0")
    assert not allocator.release()
