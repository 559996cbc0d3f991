"""Regressions: each test pins a bug that once slipped through."""

from __future__ import annotations

import gc
import sys
import threading
import weakref
from typing import Any

import pytest
from qt import QEventLoop, QLineEdit, QObject, QTimer, sip
from support import Gate

import qtasks


@qtasks.coroutine
def fails_in_its_clean_up(awaitable: qtasks.Task[Any]) -> Any:
    """Wait on `awaitable`, then raise KeyError from the finally block, however it ends."""
    try:
        yield awaitable
    finally:
        raise KeyError("clean-up failed")


def settle(qtasks_run: Any) -> None:
    """Let a few scheduler steps pass, then collect garbage."""
    for _ in range(3):
        qtasks_run(qtasks.sleep(0))
    gc.collect()


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


def test_a_task_cancelled_while_queued_is_freed_on_the_gui_thread(qtasks_run: Any) -> None:
    """The worker that skips a task cancelled in the queue does not drop the last reference to it."""
    pool = qtasks.Pool(max_threads=1)
    gate = Gate()
    blocking = pool.run(gate)
    assert gate.entered.wait(10)
    queued = pool.run(int, 1)
    freed_on: list[int] = []
    weakref.finalize(queued, lambda: freed_on.append(threading.get_ident()))
    assert queued.cancel()
    del queued
    settle(qtasks_run)
    assert [] == freed_on  # only the pool's queue holds it now
    gate.opened.set()
    qtasks_run(blocking)
    assert 2 == qtasks_run(pool.run(int, 2))
    settle(qtasks_run)
    assert [threading.get_ident()] == freed_on


class SelfDeleting(QObject):
    """An owner whose slot yields a coroutine object that deletes the owner when it starts."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    async def delete_owner(self) -> None:
        self.log.append("child deletes the owner")
        sip.delete(self)
        await qtasks.sleep(60)
        self.log.append("child resumed")

    @qtasks.slot
    def go(self) -> Any:
        log = self.log
        try:
            yield qtasks.sleep(0)
            log.append("slot resumed")
            yield self.delete_owner()
            log.append("slot resumed again")
        finally:
            log.append("slot finally")


def test_owner_deleted_while_a_yielded_coroutine_starts_cancels_at_the_next_suspension(
    qtasks_run: Any, qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A slot whose yielded coroutine object deletes the owner is cancelled with it, not re-entered."""
    log: list[str] = []
    handle = SelfDeleting(log).go()
    qtbot.waitUntil(handle.done)
    settle(qtasks_run)
    assert handle.cancelled()
    assert ["slot resumed", "child deletes the owner", "slot finally"] == log
    assert [] == qtasks.running()
    assert [] == hook_calls


def test_wait_for_the_same_task_twice_finishes(qtasks_run: Any) -> None:
    """wait() given one task twice returns once that task is done instead of waiting forever."""
    task = qtasks.run(int, 1)
    done, pending = qtasks_run(qtasks.wait([task, task]))
    assert ({task}, set()) == (done, pending)


def test_a_finished_coroutine_is_not_freed_by_the_worker_that_runs_its_last_submission(
    qtasks_run: Any,
) -> None:
    """A coroutine that ends with its submitted work still queued is not released on a worker thread."""
    pool = qtasks.Pool(max_threads=1)
    gate = Gate()
    blocking = pool.run(gate)
    assert gate.entered.wait(10)

    @qtasks.coroutine
    def fire_and_forget() -> Any:
        pool.run(int, 1)
        return "submitted"
        yield  # a generator coroutine that never suspends

    handle = fire_and_forget()
    freed_on: list[int] = []
    weakref.finalize(handle, lambda: freed_on.append(threading.get_ident()))
    assert "submitted" == handle.result()
    del handle
    gate.opened.set()
    qtasks_run(blocking)
    assert 2 == qtasks_run(pool.run(int, 2))
    settle(qtasks_run)
    assert [threading.get_ident()] == freed_on


class Normalizing(QLineEdit):
    """A line edit whose slot rewrites the text, which emits textChanged into the same slot."""

    def __init__(self, reentry: str) -> None:
        super().__init__()
        self.log: list[str] = []
        self.normalize = qtasks.slot(reentry=reentry)(Normalizing._normalize)
        self.textChanged.connect(lambda text: self.normalize(self, text))

    def _normalize(self, text: str) -> Any:
        self.log.append(f"start {text}")
        self.setText(text.upper())
        yield qtasks.sleep(0)
        self.log.append(f"end {text}")


@pytest.mark.parametrize(
    ("reentry", "expected"),
    [
        ("ignore", ["start abc", "end abc"]),
        ("queue", ["start abc", "end abc", "start ABC", "end ABC"]),
        ("restart", ["start abc", "start ABC", "end ABC"]),
    ],
)
def test_reentry_policy_applies_to_a_call_made_before_the_first_suspension(
    qtasks_run: Any, qtbot: Any, reentry: str, expected: list[str]
) -> None:
    """A slot re-entered from its own first step sees the running call, as its reentry policy says."""
    edit = Normalizing(reentry)
    qtbot.addWidget(edit)
    edit.setText("abc")
    qtbot.waitUntil(lambda: not qtasks.running())
    assert expected == edit.log


@qtasks.coroutine
def link(child: qtasks.Task[Any]) -> Any:
    """Await `child` and return its result: one link of a chain."""
    return (yield child)


def deep_chain(bottom: qtasks.Task[Any]) -> list[qtasks.Task[Any]]:
    """Return coroutines each awaiting the one before, more of them than the recursion limit."""
    chain = [link(bottom)]
    for _ in range(sys.getrecursionlimit() + 100):
        chain.append(link(chain[-1]))
    return chain


def test_cancelling_a_chain_deeper_than_the_recursion_limit(qtbot: Any) -> None:
    """cancel() on a coroutine at the top of a chain of coroutines awaiting each other cancels them all."""
    bottom = qtasks.sleep(60)
    chain = deep_chain(bottom)
    assert chain[-1].cancel()
    qtbot.waitUntil(chain[0].done)
    assert [True] * len(chain) == [task.cancelled() for task in chain]
    assert bottom.cancelled()


def test_cancelling_a_chain_unwinds_the_innermost_coroutine_first(qtasks_run: Any) -> None:
    """The finally blocks of a cancelled chain of coroutines run from the innermost out."""
    log: list[str] = []

    @qtasks.coroutine
    def level(name: str, child: qtasks.Task[Any]) -> Any:
        try:
            yield child
        finally:
            log.append(name)

    inner = level("inner", qtasks.sleep(60))
    outer = level("outer", level("middle", inner))
    assert outer.cancel()
    with pytest.raises(qtasks.CancelledError):
        qtasks_run(outer)
    assert ["inner", "middle", "outer"] == log


def test_messages_naming_a_chain_deeper_than_the_recursion_limit_still_raise(
    qtasks_run: Any, qtbot: Any
) -> None:
    """result() too early and an expired timeout() raise their own errors for a very deep chain."""
    top = deep_chain(qtasks.sleep(60))[-1]
    assert 4 == repr(top).count("waiting on")
    with pytest.raises(RuntimeError, match="not done yet"):
        top.result()
    with pytest.raises(qtasks.TimeoutError, match="did not finish in time"):
        qtasks_run(qtasks.timeout(0, top))
    qtbot.waitUntil(top.done)
    assert top.cancelled()


def test_coroutine_that_cancels_itself_and_returns_ends_cancelled(qtasks_run: Any) -> None:
    """cancel() said True, so a coroutine that returns before suspending again ends cancelled."""
    handles: list[qtasks.CoroutineTask[Any]] = []

    @qtasks.coroutine
    def body() -> Any:
        yield qtasks.run(int, "1")
        assert handles[0].cancel() is True
        return "returned"

    handles.append(body())
    with pytest.raises(qtasks.CancelledError):
        qtasks_run(handles[0])
    assert handles[0].cancelled()


def test_a_coroutine_awaiting_its_own_handle_gets_an_error(qtasks_run: Any) -> None:
    """Awaiting one's own handle raises RuntimeError at that yield instead of hanging."""
    handles: list[qtasks.CoroutineTask[Any]] = []

    @qtasks.coroutine
    def body() -> Any:
        yield qtasks.run(int, "1")
        try:
            yield handles[0]
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    handles.append(body())
    assert "awaits its own handle" in qtasks_run(handles[0])


def test_gather_with_a_bad_argument_starts_no_coroutine(qapp: Any) -> None:
    """gather() validates every argument before it starts any coroutine object."""
    started: list[str] = []

    async def child() -> None:
        started.append("started")

    coro = child()
    with pytest.raises(TypeError, match="argument 1 is 'x'"):
        qtasks.gather(coro, "x")
    coro.close()
    assert [] == started


def test_wait_repr_keeps_its_count_after_finishing(qtasks_run: Any) -> None:
    """A finished wait's repr still says how many tasks it waited on."""
    waited = qtasks.wait([qtasks.run(int, "1"), qtasks.run(int, "2")])
    qtasks_run(waited)
    assert "ALL_COMPLETED of 2" in repr(waited)


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


def test_each_queued_slot_call_adds_a_constant_number_of_watchers(qtasks_run: Any) -> None:
    """reentry="queue" chains the calls: the running call is not watched once per waiting call."""
    gate = Gate()

    class Box(QObject):
        @qtasks.slot(reentry="queue")
        def go(self, n: int) -> Any:
            yield qtasks.run(gate)
            return n

    box = Box()
    calls = [box.go(n) for n in range(200)]
    watchers = [len(call._callbacks or ()) for call in calls]
    gate.opened.set()
    assert list(range(200)) == qtasks_run(qtasks.gather(*calls), timeout=30)
    assert max(watchers) <= 4, watchers[:5]


@qtasks.coroutine
def fails_after_a_step() -> Any:
    """Raise KeyError on the step after the first suspension."""
    yield qtasks.sleep(0)
    raise KeyError("nobody looked")


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
