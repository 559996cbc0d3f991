"""The qtasks pytest plugin: fixtures for testing code that uses qtasks."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import pytest
from PyQt5.QtCore import QCoreApplication, QEvent, QEventLoop, QTimer
from PyQt5.QtWidgets import QApplication

from ._coroutine import as_task
from ._errors import TimeoutError as QtasksTimeoutError
from ._qt import _MAX_INTERVAL_MS, _check_seconds
from ._runtime import bridge
from ._task import Task
from .testing import ManualPool, manual_pool

__all__ = ["qtasks_manual_pool", "qtasks_run"]

# What QEventLoop.exec_() returns when it refuses to run.
_LOOP_REFUSED = -1


def run_until_done(awaitable: object, timeout: float = 5) -> Any:
    """Spin the Qt event loop until `awaitable` is done; return its result or raise.

    GUI thread. After `timeout` s (inf: never) it cancels the task, lets the
    cancellation run (its `finally` blocks included) and raises
    `qtasks.TimeoutError` naming it. Raises TypeError for something not
    awaitable and ValueError for a negative timeout.
    """
    seconds = _check_seconds(timeout, f"qtasks_run(..., timeout={timeout!r})")
    task = as_task(awaitable)
    if task is None:
        msg = (
            f"qtasks_run() needs a qtasks task or a coroutine, got {awaitable!r}: pass a handle, "
            "such as qtasks.run(fn, ...) or what calling a @qtasks.coroutine returns"
        )
        raise TypeError(msg)
    if not task.done():
        _spin(task, seconds)
    if not task.done():
        # Named before the cancel, which stops it waiting on anything.
        msg = f"{task!r} was not done after {timeout} s"
        task.cancel()
        # The test goes on with the task cancelled, not about to be.
        bridge().run_pending()
        raise QtasksTimeoutError(msg)
    return task.result()


def _spin(task: Task[Any], seconds: float) -> None:
    """Run a Qt event loop until `task` is done or `seconds` pass. GUI thread.

    Why a function of its own: the event loop and the timer live only in its
    frame, so a traceback of the task's exception, raised by the caller,
    cannot keep these QObjects alive in a reference cycle for a garbage
    collection that may run on a worker thread, where deleting them crashes.
    """
    loop = QEventLoop()
    timed_out: list[bool] = []

    def time_out() -> None:
        timed_out.append(True)
        loop.quit()

    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(time_out)
    if not math.isinf(seconds):
        timer.start(min(_MAX_INTERVAL_MS, math.ceil(seconds * 1000)))
    task.add_done_callback(lambda _task: loop.quit())
    while not task.done() and not timed_out:
        if loop.exec_() == _LOOP_REFUSED:
            # Why: once QApplication.quit() has run outside app.exec_()
            # (in a test of a Quit action, say), every QEventLoop returns
            # at once; the events are then processed here, as it would.
            QCoreApplication.processEvents(QEventLoop.AllEvents | QEventLoop.WaitForMoreEvents)
            QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    timer.stop()


@pytest.fixture
def qtasks_run(qapp: QApplication) -> Callable[..., Any]:
    """Return `run(awaitable_or_handle, timeout=5)`: spin Qt until done, return its result."""
    return run_until_done


@pytest.fixture
def qtasks_manual_pool(qapp: QApplication) -> Iterator[ManualPool]:
    """Make a `ManualPool` the pool `qtasks.run` uses for one test; restore the real one after.

    Tasks the test leaves pending are cancelled at teardown.
    """
    with manual_pool() as pool:
        yield pool
