"""The qtasks pytest plugin: fixtures for testing code that uses qtasks."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
from PyQt5.QtCore import QEventLoop, QTimer
from PyQt5.QtWidgets import QApplication

from ._coroutine import as_task
from ._errors import TimeoutError as QtasksTimeoutError
from .testing import ManualPool, manual_pool

__all__ = ["qtasks_manual_pool", "qtasks_run"]


def run_until_done(awaitable: object, timeout: float = 5) -> Any:
    """Spin the Qt event loop until `awaitable` is done; return its result or raise.

    GUI thread. Raises `qtasks.TimeoutError` (and cancels it) after `timeout` s.
    """
    task = as_task(awaitable)
    if task is None:
        msg = f"qtasks_run() needs a qtasks task or a coroutine, got {awaitable!r}"
        raise TypeError(msg)
    if not task.done():
        loop = QEventLoop()
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(loop.quit)
        timer.start(int(timeout * 1000))
        task.add_done_callback(lambda _task: loop.quit())
        loop.exec_()
        timer.stop()
    if not task.done():
        task.cancel()
        msg = f"{task!r} was not done after {timeout} s"
        raise QtasksTimeoutError(msg)
    return task.result()


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
