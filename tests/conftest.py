"""Shared fixtures: headless Qt, the thread count under test, a clean scheduler per test."""

from __future__ import annotations

import gc
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator

import pytest
from qt import QApplication, QThreadPool, QTimer

import qtasks
from qtasks import _pool, _runtime

# Every test must pass with 1, 2 and 8 threads: CI runs the suite once per value.
THREADS = int(os.environ.get("QTASKS_TEST_THREADS", "2"))


def pytest_report_header() -> str:
    return f"qtasks: global QThreadPool with {THREADS} thread(s) (QTASKS_TEST_THREADS)"


@pytest.fixture(autouse=True)
def _qtasks_clean(qapp: QApplication) -> Iterator[None]:
    """Run each test on THREADS pool threads; fail it if it leaves tasks, pool work, timers or a pool behind.

    Like Twisted's "leave the reactor as you found it": whatever a test started
    ends inside that test, so a late error is reported against it, not the next.
    """
    QThreadPool.globalInstance().setMaxThreadCount(THREADS)
    yield
    leftover = qtasks.running()
    # shutdown() also waits for functions still running after their cancel,
    # and run_pending() delivers their completions here, within this test.
    still_running = qtasks.shutdown(timeout=10)
    timers: list[QTimer] = []
    if _runtime.STATE.bridge is not None:
        _runtime.STATE.bridge.run_pending()
        # qtasks parents its QTimers to the bridge while they run, and lets go when they stop.
        timers = _runtime.STATE.bridge.findChildren(QTimer)
        for timer in timers:  # so the next test starts clean
            timer.stop()
            timer.setParent(None)
    # Why: what the test left in reference cycles (widgets, event loops) must
    # be freed here, on the GUI thread; a later collection may run on a worker
    # thread, and deleting a GUI-thread QObject there can crash the process.
    gc.collect()
    pool_left = _pool.set_default_pool(None)
    _pool.set_default_pool(pool_left if isinstance(pool_left, qtasks.Pool) else None)
    assert [] == leftover, "the test left tasks running"
    assert [] == still_running, "the test left functions running on a pool"
    assert [] == timers, "the test left qtasks timers behind"
    left_manual = pool_left is not None and not isinstance(pool_left, qtasks.Pool)
    assert not left_manual, f"the test left {pool_left!r} as default pool"


@pytest.fixture
def hook_calls(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Collect what reaches sys.excepthook instead of printing it."""
    calls: list[BaseException] = []
    monkeypatch.setattr(sys, "excepthook", lambda _type, exc, _tb: calls.append(exc))
    return calls
