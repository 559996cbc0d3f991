"""The qtasks pytest plugin: fixtures for testing code that uses qtasks."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

import pytest

from ._binding import QT_API
from ._loop import until_complete
from ._qt import _check_seconds
from .testing import ManualPool, manual_pool

__all__ = ["qtasks_manual_pool", "qtasks_run"]


def binding_mismatch(pytest_qt_api: str, source: str) -> str:
    """The one line that says qtasks and pytest-qt would run on different bindings, and the fix."""
    return (
        f"qtasks runs on {QT_API} but pytest-qt is set to {pytest_qt_api} ({source}); "
        f"one process cannot use both: set QT_API={pytest_qt_api} so qtasks uses it too, "
        f"or PYTEST_QT_API={QT_API}"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Make pytest-qt use the binding qtasks chose, or refuse in one line when it is set to another.

    Runs before pytest-qt's own pytest_configure, which reads PYTEST_QT_API
    first. Also sets QT_API for subprocesses a test starts, so they run on
    the same binding.
    """
    os.environ.setdefault("QT_API", QT_API)
    requested = os.environ.get("PYTEST_QT_API", "").strip().lower()
    source = "PYTEST_QT_API"
    if not requested:
        try:
            requested = str(config.getini("qt_api") or "").strip().lower()
        except ValueError:  # pytest-qt is not installed: nothing to agree with
            return
        source = "the qt_api ini option"
    if not requested:
        os.environ["PYTEST_QT_API"] = QT_API
    elif requested != QT_API:
        raise pytest.UsageError(binding_mismatch(requested, source))


def run_until_done(awaitable: object, timeout: float = 5) -> Any:
    """Spin the Qt event loop until `awaitable` is done; return its result or raise.

    GUI thread. `qtasks.run_until_complete()` with a 5 s default timeout that
    must be a number (inf: never): a test that hangs fails instead. On timeout
    the task is cancelled, its `finally` blocks run, and `qtasks.TimeoutError`
    naming it, and drawing the tree of tasks still live then, is raised.
    Raises TypeError for something not awaitable and
    ValueError for a negative timeout.
    """
    __tracebackhide__ = True  # a failing test points at its own line
    seconds = _check_seconds(timeout, f"qtasks_run(..., timeout={timeout!r})")
    return until_complete(awaitable, seconds, "qtasks_run()", _live_tree)


def _live_tree() -> str:
    """Return `qtasks.debug.format_tasks()`, imported only when a test hangs."""
    from .debug import format_tasks  # noqa: PLC0415 - imports QtWidgets: only when a test hangs

    return format_tasks()


@pytest.fixture
def qtasks_run(qapp: Any) -> Callable[..., Any]:
    """Return `run(awaitable_or_handle, timeout=5)`: spin Qt until done, return its result."""
    return run_until_done


@pytest.fixture
def qtasks_manual_pool(qapp: Any) -> Iterator[ManualPool]:
    """Make a `ManualPool` the pool `qtasks.run` uses for one test; restore the real one after.

    Tasks the test leaves pending are cancelled at teardown.
    """
    with manual_pool() as pool:
        yield pool
