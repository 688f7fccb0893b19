"""BusyThreads: the GIL switch interval is short only while background work runs."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from service.api.runtime import BusyThreads


@pytest.fixture
def interval() -> Iterator[float]:
    before = sys.getswitchinterval()
    yield before
    sys.setswitchinterval(before)


def test_short_while_busy_and_restored_after_the_last_block(interval: float) -> None:
    busy = BusyThreads(0.0005)
    with busy.busy():
        assert sys.getswitchinterval() == pytest.approx(0.0005)
        with busy.busy():  # a rescreen starting during a reload
            assert sys.getswitchinterval() == pytest.approx(0.0005)
        assert sys.getswitchinterval() == pytest.approx(0.0005)  # the reload still runs
    assert sys.getswitchinterval() == pytest.approx(interval)


def test_overlapping_blocks_in_threads(interval: float) -> None:
    busy = BusyThreads(0.0005)
    inside, release = threading.Event(), threading.Event()

    def background() -> None:
        with busy.busy():
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=background)
    with busy.busy():
        worker.start()
        assert inside.wait(10)
    assert sys.getswitchinterval() == pytest.approx(0.0005)  # the other thread is still busy
    release.set()
    worker.join(10)
    assert sys.getswitchinterval() == pytest.approx(interval)


def test_left_alone_until_enabled(interval: float) -> None:
    busy = BusyThreads()
    with busy.busy():
        assert sys.getswitchinterval() == pytest.approx(interval)
    busy.enable(0.001)
    with busy.busy():
        assert sys.getswitchinterval() == pytest.approx(0.001)
    assert sys.getswitchinterval() == pytest.approx(interval)
