"""Nothing is swallowed: a failure nobody consumed reaches sys.excepthook once, on the GUI thread.

A failure a coroutine, a combinator, a callback or result() consumed is never reported.
"""

from __future__ import annotations

import gc
import sys
import threading
from typing import Any

import pytest
from qt import QEventLoop, QTimer
from support import Gate, double, fail_with_value_error, settle

import qtasks


@qtasks.coroutine
def fails_in_its_clean_up(awaitable: qtasks.Task[Any]) -> Any:
    """Wait on `awaitable`, then raise KeyError from the finally block, however it ends."""
    try:
        yield awaitable
    finally:
        raise KeyError("clean-up failed")


@qtasks.coroutine
def fails_after_a_step() -> Any:
    """Raise KeyError on the step after the first suspension."""
    yield qtasks.sleep(0)
    raise KeyError("nobody looked")


# -- coroutines and thread tasks ----------------------------------------------


def test_unawaited_failing_coroutine_goes_to_excepthook(
    qtasks_run: Any, hook_calls: list[BaseException], qtbot: Any
) -> None:
    """A coroutine failure that nobody consumes reaches sys.excepthook, once."""

    @qtasks.coroutine
    def body() -> Any:
        yield qtasks.run(double, 1)
        raise KeyError("lost")

    body()
    # Why not probe runs: with several threads they can finish before body's.
    qtbot.waitUntil(lambda: [] != hook_calls)
    gc.collect()  # collecting the handle reports nothing more
    qtasks_run(qtasks.run(double, 1))
    assert 1 == len(hook_calls)
    assert isinstance(hook_calls[0], KeyError)


def test_consumed_failure_is_not_reported(qtasks_run: Any, hook_calls: list[BaseException]) -> None:
    """A failure someone awaits is theirs: nothing reaches sys.excepthook."""

    @qtasks.coroutine
    def failing() -> Any:
        yield qtasks.run(double, 1)
        raise KeyError("mine")

    @qtasks.coroutine
    def outer() -> Any:
        try:
            yield failing()
        except KeyError:
            return "handled"

    assert "handled" == qtasks_run(outer())
    qtasks_run(qtasks.run(double, 1))
    assert [] == hook_calls


def test_unconsumed_thread_task_failure_reported_when_collected(
    hook_calls: list[BaseException], qtbot: Any
) -> None:
    """A failed handle nobody looks at is reported when it is garbage-collected."""
    failing = qtasks.run(fail_with_value_error, 5)
    # Why not probe runs: with several threads they can finish before it.
    qtbot.waitUntil(failing.done)
    assert [] == hook_calls  # failed, but still held
    del failing
    gc.collect()
    assert ["bad value 5"] == [str(exc) for exc in hook_calls]


def test_child_failing_after_its_awaiter_was_cancelled_is_reported(
    qtasks_run: Any, qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A child coroutine that fails in its clean-up after its awaiter was cancelled reaches sys.excepthook."""
    gate = Gate()

    @qtasks.coroutine
    def parent() -> Any:
        yield fails_in_its_clean_up(qtasks.run(gate))

    handle = parent()
    handle.cancel()
    gate.opened.set()
    qtbot.waitUntil(handle.done)
    settle(qtasks_run)
    assert ["'clean-up failed'"] == [str(exc) for exc in hook_calls]


def test_a_failed_task_yielded_after_a_self_cancel_is_still_reported(
    qtasks_run: Any, qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """The cancel a coroutine asked for wins at its next yield; the failure it skips reaches the hook."""
    handles: list[qtasks.CoroutineTask[Any]] = []
    failed = [qtasks.run(int, "not a number")]
    qtbot.waitUntil(failed[0].done)

    @qtasks.coroutine
    def body() -> Any:
        yield qtasks.sleep(0)
        handles[0].cancel()
        yield failed[0]

    handles.append(body())
    with pytest.raises(qtasks.CancelledError):
        qtasks_run(handles[0])
    failed.clear()
    settle(qtasks_run)
    assert [ValueError] == [type(exc) for exc in hook_calls]


# -- callbacks ----------------------------------------------------------------


def test_an_error_in_a_done_or_progress_callback_is_reported_at_once(
    qtasks_run: Any, hook_calls: list[BaseException]
) -> None:
    """An exception raised by a done callback or a progress listener reaches sys.excepthook, once each."""

    def work() -> str:
        qtasks.report_progress(1)
        return "ok"

    def broken_listener(value: object) -> None:
        raise ValueError(f"listener broke on {value}")

    def broken_callback(task: qtasks.Task[Any]) -> None:
        raise KeyError("callback broke")

    task = qtasks.run(work)
    task.on_progress(broken_listener)
    task.add_done_callback(broken_callback)
    assert "ok" == qtasks_run(task)
    qtasks_run(qtasks.sleep(0))
    assert ["listener broke on 1", "'callback broke'"] == [str(exc) for exc in hook_calls]


# -- gather -------------------------------------------------------------------


def test_gather_child_failing_after_the_gather_was_cancelled_is_reported(
    qtasks_run: Any, qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A gathered coroutine failing in its clean-up after the gather was cancelled reaches sys.excepthook."""
    gate = Gate()

    handle = fails_in_its_clean_up(qtasks.run(gate))
    assert qtasks.gather(handle).cancel()
    gate.opened.set()
    qtbot.waitUntil(handle.done)
    settle(qtasks_run)
    assert ["'clean-up failed'"] == [str(exc) for exc in hook_calls]


def test_gather_of_one_failing_task_given_twice_reports_nothing(
    qtasks_run: Any, hook_calls: list[BaseException]
) -> None:
    """A failing task given twice fails the gather once, and is not reported besides."""
    failing = qtasks.run(int, "x")
    with pytest.raises(ValueError, match="invalid literal"):
        qtasks_run(qtasks.gather(failing, failing))
    settle(qtasks_run)
    assert [] == hook_calls


def test_a_failed_task_given_to_a_gather_cancelled_at_once_is_reported(
    qtasks_run: Any, qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A gather cancelled before it read an already failed child leaves that failure to be reported."""
    failed = qtasks.run(int, "x")
    qtbot.waitUntil(failed.done)
    assert qtasks.gather(failed).cancel()
    del failed
    settle(qtasks_run)
    assert [ValueError] == [type(exc) for exc in hook_calls]


def test_the_second_of_two_already_failed_children_of_a_gather_is_reported(
    qtasks_run: Any, qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """gather() raises the first failure; a later child's failure that nobody reads reaches the hook."""
    failed = [qtasks.run(int, "first"), qtasks.run(int, "second")]
    qtbot.waitUntil(lambda: all(task.done() for task in failed))
    with pytest.raises(ValueError, match="'first'"):
        qtasks_run(qtasks.gather(*failed))
    failed.clear()
    settle(qtasks_run)
    assert ["invalid literal for int() with base 10: 'second'"] == [str(exc) for exc in hook_calls]


def test_a_coroutine_failed_at_its_start_and_gathered_at_once_is_not_reported(
    qtasks_run: Any, hook_calls: list[BaseException]
) -> None:
    """A gather made in the same step as its child failed reads that failure; nothing reaches the hook."""

    @qtasks.coroutine
    def fails_at_once() -> Any:
        raise KeyError("read by the gather")
        yield

    with pytest.raises(KeyError, match="read by the gather"):
        qtasks_run(qtasks.gather(fails_at_once()))
    settle(qtasks_run)
    assert [] == hook_calls


def test_a_failure_a_cancelled_gather_with_return_exceptions_had_collected_is_reported(
    qtasks_run: Any, qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A gather(return_exceptions=True) cancelled before it finished does not swallow the failures it held."""
    gate = Gate()
    failing = qtasks.run(int, "x")
    slow = qtasks.run(gate)
    gathered = qtasks.gather(failing, slow, return_exceptions=True)
    qtbot.waitUntil(failing.done)
    qtasks_run(qtasks.sleep(0))
    assert gathered.cancel()
    gate.opened.set()
    del failing, gathered
    settle(qtasks_run)
    assert [ValueError] == [type(exc) for exc in hook_calls]


def test_a_gather_with_return_exceptions_that_finished_owns_its_failures(
    qtasks_run: Any, hook_calls: list[BaseException]
) -> None:
    """The failures a finished gather(return_exceptions=True) lists are the caller's: none is reported."""

    @qtasks.coroutine
    def fails_later() -> Any:
        yield qtasks.sleep(0)
        raise KeyError("listed")

    results = qtasks_run(qtasks.gather(qtasks.run(int, "x"), fails_later(), return_exceptions=True))
    assert [ValueError, KeyError] == [type(result) for result in results]
    del results
    settle(qtasks_run)
    assert [] == hook_calls


# -- wait ---------------------------------------------------------------------


def test_failure_of_a_task_still_pending_when_wait_returned_is_reported(
    qtasks_run: Any, qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A child that fails after wait(FIRST_COMPLETED) returned it as pending is not swallowed."""
    gate = Gate()

    @qtasks.coroutine
    def late_failure() -> Any:
        yield qtasks.run(gate)
        raise KeyError("failed later")

    fast = qtasks.run(int, 1)
    slow = late_failure()
    done, pending = qtasks_run(qtasks.wait([fast, slow], return_when=qtasks.FIRST_COMPLETED))
    assert ({fast}, {slow}) == (done, pending)
    gate.opened.set()
    qtbot.waitUntil(slow.done)
    del done, pending, slow
    settle(qtasks_run)
    assert ["'failed later'"] == [str(exc) for exc in hook_calls]


@pytest.mark.parametrize("kind", ["function", "coroutine"])
def test_a_failed_task_wait_returned_is_reported_if_nobody_looks_at_it(
    qtasks_run: Any, hook_calls: list[BaseException], kind: str
) -> None:
    """wait() returns handles, not outcomes: a failure in its done set that nobody reads reaches the hook."""

    @qtasks.coroutine
    def count_done() -> Any:
        child = qtasks.run(int, "x") if kind == "function" else fails_after_a_step()
        done, _pending = yield qtasks.wait([child])
        return len(done)

    assert 1 == qtasks_run(count_done())
    settle(qtasks_run)
    assert [ValueError if kind == "function" else KeyError] == [type(exc) for exc in hook_calls]


def test_a_failed_task_wait_returned_is_the_callers_to_read(
    qtasks_run: Any, hook_calls: list[BaseException]
) -> None:
    """A coroutine failure that wait() returned is not reported if the caller reads it, even steps later."""

    @qtasks.coroutine
    def read_later() -> Any:
        done, _pending = yield qtasks.wait([fails_after_a_step()])
        yield qtasks.sleep(0)
        yield qtasks.sleep(0)
        return [str(task.exception()) for task in done]

    assert ["'nobody looked'"] == qtasks_run(read_later())
    settle(qtasks_run)
    assert [] == hook_calls


def test_a_failure_a_cancelled_wait_had_seen_is_reported(
    qtasks_run: Any, qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A child that failed before its wait() was cancelled is not swallowed with the wait."""
    gate = Gate()
    failing = qtasks.run(int, "x")
    slow = qtasks.run(gate)
    waited = qtasks.wait([failing, slow])
    qtbot.waitUntil(failing.done)
    qtasks_run(qtasks.sleep(0))
    assert waited.cancel()
    gate.opened.set()
    assert qtasks_run(slow) is None
    del failing, waited
    settle(qtasks_run)
    assert [ValueError] == [type(exc) for exc in hook_calls]


# -- timeout ------------------------------------------------------------------


def test_a_child_failing_after_its_timeout_is_reported_once(
    qtasks_run: Any, qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A timed-out child that fails in its clean-up reaches sys.excepthook once."""
    child = fails_in_its_clean_up(qtasks.sleep(10))
    with pytest.raises(qtasks.TimeoutError):
        qtasks_run(qtasks.timeout(0.01, child))
    qtbot.waitUntil(lambda: bool(hook_calls))
    qtasks_run(qtasks.sleep(0.01))
    assert ["'clean-up failed'"] == [str(exc) for exc in hook_calls]


def test_a_child_failing_after_its_timeout_is_left_to_its_other_awaiter(
    qtasks_run: Any, hook_calls: list[BaseException]
) -> None:
    """A timed-out child's failure belongs to another coroutine awaiting it: nothing is reported."""
    child = fails_in_its_clean_up(qtasks.sleep(10))
    seen: list[str] = []

    @qtasks.coroutine
    def other() -> Any:
        try:
            yield child
        except KeyError as exc:
            seen.append(str(exc))

    watcher = other()
    with pytest.raises(qtasks.TimeoutError):
        qtasks_run(qtasks.timeout(0.01, child))
    qtasks_run(watcher)
    qtasks_run(qtasks.sleep(0.01))
    assert (["'clean-up failed'"], []) == (seen, hook_calls)


# -- the hook and the GUI thread ----------------------------------------------


def test_a_failure_collected_on_a_worker_thread_is_reported_on_the_gui_thread(
    qtasks_run: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unconsumed failure freed by a collection on a worker reaches sys.excepthook on the GUI thread."""
    reported_on: list[int] = []
    monkeypatch.setattr(sys, "excepthook", lambda _t, _v, _tb: reported_on.append(threading.get_ident()))
    box: list[Any] = [qtasks.run(int, "x")]
    qtbot.waitUntil(box[0].done)
    box.append(box)  # only the collector can free it now
    del box
    gc.disable()  # so that only the worker's gc.collect() frees it
    try:
        qtasks_run(qtasks.run(gc.collect))
    finally:
        gc.enable()
    qtbot.waitUntil(lambda: bool(reported_on))
    assert [threading.get_ident()] == reported_on


def test_a_hook_with_a_nested_event_loop_sees_coroutines_resume_when_a_delivery_frees_a_failure(
    qtasks_run: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An excepthook with a modal loop, reporting a failure a delivery freed, sees coroutines resume."""
    resumed_in_hook: list[bool] = []

    @qtasks.coroutine
    def short_nap() -> Any:
        yield qtasks.sleep(0.01)

    def modal_hook(_type: object, _exc: object, _tb: object) -> None:
        # What a message box's exec_() does: a nested loop until the user acts.
        nap = short_nap()
        loop = QEventLoop()
        nap.add_done_callback(lambda _task: loop.quit())
        give_up = QTimer()
        give_up.setSingleShot(True)
        give_up.timeout.connect(loop.quit)
        give_up.start(5000)
        loop.exec()
        give_up.stop()
        resumed_in_hook.append(nap.done())
        nap.cancel()

    gathered = qtasks.gather(qtasks.run(int, "x"))  # in no cycle: freed as soon as dropped
    qtbot.waitUntil(gathered.done)
    monkeypatch.setattr(sys, "excepthook", modal_hook)
    holder = qtasks.run(len, [gathered])  # its delivery drops the last reference
    del gathered
    qtasks_run(holder)
    qtbot.waitUntil(lambda: bool(resumed_in_hook))
    assert [True] == resumed_in_hook
