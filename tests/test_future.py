"""qtasks.Task() as a future settled by hand on the GUI thread."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from qt import QTimer

import qtasks


def test_a_coroutine_awaiting_a_future_resumes_with_the_value_set_later(qtasks_run: Any) -> None:
    """A value given to set_result() from a callback on the GUI thread reaches the awaiting coroutine."""
    future: qtasks.Task[str] = qtasks.Task()
    log: list[str] = []

    @qtasks.coroutine
    async def body() -> str:
        log.append("waiting")
        value = await future
        log.append(f"got {value}")
        return value

    handle = body()
    QTimer.singleShot(0, lambda: future.set_result("reply"))
    assert "reply" == qtasks_run(handle)
    assert ["waiting", "got reply"] == log
    assert "reply" == future.result()


def test_set_exception_raises_that_exception_in_the_awaiting_coroutine(qtasks_run: Any) -> None:
    """The exception given to set_exception() is raised, the same object, at the await."""
    future: qtasks.Task[int] = qtasks.Task()
    error = OSError("the callback said no")

    @qtasks.coroutine
    def body() -> Any:
        try:
            yield future
        except OSError as caught:
            return caught
        return None

    handle = body()
    future.set_exception(error)
    assert error is qtasks_run(handle)


def test_done_callbacks_of_a_future_run_once_with_it(qtasks_run: Any, qtbot: Any) -> None:
    """add_done_callback() on a future fires once, on the GUI thread, after set_result()."""
    future: qtasks.Task[int] = qtasks.Task()
    calls: list[tuple[int, int]] = []
    future.add_done_callback(lambda done: calls.append((done.result(), threading.get_ident())))
    future.set_result(7)
    qtbot.waitUntil(lambda: bool(calls))
    assert [(7, threading.get_ident())] == calls
    assert [] == qtasks.running()


def test_a_future_is_settled_once(qapp: Any) -> None:
    """A second set_result() or set_exception() raises RuntimeError and keeps the first outcome."""
    future: qtasks.Task[int] = qtasks.Task()
    future.set_result(1)
    with pytest.raises(RuntimeError, match=r"set_result\(\) on <Task finished>: the task is done already"):
        future.set_result(2)
    with pytest.raises(RuntimeError, match=r"set_exception\(\) on <Task finished>: the task is done already"):
        future.set_exception(ValueError("late"))
    assert 1 == future.result()


def test_set_result_off_the_gui_thread_is_refused(qapp: Any) -> None:
    """set_result() on a worker thread raises RuntimeError saying to settle it on the GUI thread."""
    future: qtasks.Task[int] = qtasks.Task()
    errors: list[BaseException] = []

    def settle() -> None:
        try:
            future.set_result(1)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=settle)
    thread.start()
    thread.join(10)
    [error] = errors
    assert "called off the GUI thread" in str(error)
    assert not future.done()
    future.cancel()


def test_a_handle_qtasks_made_cannot_be_settled_by_hand(qtasks_manual_pool: Any) -> None:
    """set_result() on a ThreadTask raises RuntimeError: its own work settles it."""
    task = qtasks.run(abs, -1)
    expected = r"cannot settle <ThreadTask abs\(\) pending, queued>: its own work"
    with pytest.raises(RuntimeError, match=expected):
        task.set_result(5)
    qtasks_manual_pool.complete(task)
    assert 1 == task.result()


def test_set_exception_needs_an_exception_instance(qapp: Any) -> None:
    """set_exception() with something not an exception, or a cancellation, raises TypeError naming it."""
    future: qtasks.Task[int] = qtasks.Task()
    with pytest.raises(TypeError, match=r"needs an exception instance, got 'oops'"):
        future.set_exception("oops")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"to cancel the task, call task.cancel\(\)"):
        future.set_exception(qtasks.CancelledError())
    assert not future.done()
    assert future.cancel() is True


def test_a_failure_set_on_a_future_nobody_awaits_is_reported(
    qapp: Any, hook_calls: list[BaseException]
) -> None:
    """A future failed by hand whose failure nobody consumes reaches sys.excepthook at shutdown()."""
    future: qtasks.Task[int] = qtasks.Task()
    error = ValueError("nobody listened")
    future.set_exception(error)
    qtasks.shutdown()
    assert [error] == hook_calls
