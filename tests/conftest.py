"""Shared fixtures: headless Qt, the thread count under test, a clean scheduler per test."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator

import pytest
from PyQt5.QtCore import QThreadPool
from PyQt5.QtWidgets import QApplication

import qtasks
from qtasks import _scheduler

# Every test must pass with 1, 2 and 8 threads: CI runs the suite once per value.
THREADS = int(os.environ.get("QTASKS_TEST_THREADS", "2"))


def pytest_report_header() -> str:
    return f"qtasks: global QThreadPool with {THREADS} thread(s) (QTASKS_TEST_THREADS)"


@pytest.fixture(autouse=True)
def _qtasks_clean(qapp: QApplication) -> Iterator[None]:
    """Run each test on a pool of THREADS threads and leave no task behind it."""
    QThreadPool.globalInstance().setMaxThreadCount(THREADS)
    yield
    leftover = qtasks.running()
    qtasks.shutdown(timeout=10)
    if _scheduler.STATE.bridge is not None:
        _scheduler.STATE.bridge.run_pending()
    assert [] == leftover, "the test left tasks running"
