"""The qtasks pytest plugin: fixtures for testing code that uses qtasks."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
from PyQt5.QtWidgets import QApplication

from ._loop import until_complete
from ._qt import _check_seconds
from .testing import ManualPool, manual_pool

__all__ = ["qtasks_manual_pool", "qtasks_run"]


def run_until_done(awaitable: object, timeout: float = 5) -> Any:
    """Spin the Qt event loop until `awaitable` is done; return its result or raise.

    GUI thread. `qtasks.run_until_complete()` with a 5 s default timeout that
    must be a number (inf: never): a test that hangs fails instead. On timeout
    the task is cancelled, its `finally` blocks run, and `qtasks.TimeoutError`
    naming it is raised. Raises TypeError for something not awaitable and
    ValueError for a negative timeout.
    """
    __tracebackhide__ = True  # a failing test points at its own line
    seconds = _check_seconds(timeout, f"qtasks_run(..., timeout={timeout!r})")
    return until_complete(awaitable, seconds, "qtasks_run()")


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
