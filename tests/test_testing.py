"""qtasks.testing: ManualPool, the qtasks_manual_pool fixture and drive()."""

from __future__ import annotations

import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qt import QObject
from support import double, run_pytest

import qtasks
from qtasks import _pool
from qtasks.testing import CANCEL, COMPLETE, FAIL, ManualPool, drive, manual_pool


def test_tasks_wait_in_pending_until_completed(qtasks_manual_pool: ManualPool) -> None:
    """Submitted work waits in pending, in submission order, and runs only on complete()."""
    ran: list[int] = []

    def record(x: int) -> int:
        ran.append(x)
        return x

    first = qtasks.run(record, 1)
    second = qtasks.run(record, 2)
    assert [first, second] == qtasks_manual_pool.pending
    assert [] == ran
    qtasks_manual_pool.complete(second)
    assert [2] == ran
    assert [first] == qtasks_manual_pool.pending
    assert 2 == second.result()
    assert not first.done()
    qtasks_manual_pool.complete(first)
    assert [2, 1] == ran


def test_complete_resumes_the_waiting_coroutine_before_returning(qtasks_manual_pool: ManualPool) -> None:
    """complete() returns with the awaiting coroutine already at its next suspension."""
    log: list[object] = []

    @qtasks.coroutine
    def body() -> Any:
        log.append((yield qtasks.run(double, 1)))
        log.append((yield qtasks.run(double, 2)))
        return "end"

    handle = body()
    [first] = qtasks_manual_pool.pending
    qtasks_manual_pool.complete(first)
    assert [2] == log
    [second] = qtasks_manual_pool.pending
    qtasks_manual_pool.complete(second, result=40)
    assert [2, 40] == log
    assert "end" == handle.result()


def test_complete_resumes_waiters_through_combinators_and_chains(qtasks_manual_pool: ManualPool) -> None:
    """complete() returns with the coroutines resumed that wait via gather, wait, timeout or a coroutine."""
    log: list[object] = []

    @qtasks.coroutine
    def inner(task: qtasks.Task[int]) -> Any:
        value = yield task
        log.append(("inner", value))
        return value

    @qtasks.coroutine
    def outer() -> Any:
        a, b, c, d = (qtasks.run(double, i) for i in range(1, 5))
        log.append(("gather", (yield qtasks.gather(inner(a), qtasks.timeout(5, b)))))
        done, _pending = yield qtasks.wait([c])
        log.append(("wait", [task.result() for task in done]))
        log.append(("timeout", (yield qtasks.timeout(5, inner(d)))))
        yield qtasks.sleep(3600)

    handle = outer()
    a, b, c, d = qtasks_manual_pool.pending
    qtasks_manual_pool.complete(a)
    assert [("inner", 2)] == log
    qtasks_manual_pool.complete(b)
    assert ("gather", [2, 4]) == log[-1]
    qtasks_manual_pool.complete(c)
    assert ("wait", [6]) == log[-1]
    qtasks_manual_pool.complete(d)
    assert [("inner", 8), ("timeout", 8)] == log[-2:]
    assert handle.cancel() is True


def test_fail_throws_the_exception_in_at_the_yield(qtasks_manual_pool: ManualPool) -> None:
    """fail(task, exc) throws that very exception into the awaiting coroutine."""
    error = OSError("disk gone")

    @qtasks.coroutine
    async def body() -> object:
        try:
            await qtasks.run(double, 1)
        except OSError as exc:
            return exc
        return None

    handle = body()
    qtasks_manual_pool.fail(qtasks_manual_pool.pending[0], error)
    assert error is handle.result()


def test_fail_needs_an_exception_instance(qtasks_manual_pool: ManualPool) -> None:
    """fail() with something that is not an exception says what to pass."""
    task = qtasks.run(double, 1)
    with pytest.raises(TypeError, match=r"needs an exception instance, got 'oops'"):
        qtasks_manual_pool.fail(task, "oops")  # type: ignore[arg-type]
    assert [task] == qtasks_manual_pool.pending


def test_complete_runs_the_function_with_progress_and_cancel_flag(qtasks_manual_pool: ManualPool) -> None:
    """The real function runs on the GUI thread with report_progress and cancel_requested working."""
    seen: list[object] = []

    def work() -> str:
        qtasks.report_progress(50)
        seen.append(qtasks.cancel_requested())
        seen.append(threading.current_thread() is threading.main_thread())
        return "ok"

    task = qtasks.run(work)
    task.on_progress(seen.append)
    qtasks_manual_pool.complete(task)
    assert [False, True, 50] == seen
    assert "ok" == task.result()


def test_cancelled_tasks_leave_pending_and_never_run(qtasks_manual_pool: ManualPool) -> None:
    """A cancelled task leaves pending; completing it names it and says why."""
    ran: list[int] = []
    task = qtasks.run(ran.append, 1)
    assert task.cancel() is True
    assert [] == qtasks_manual_pool.pending
    expected = r"complete\(<ThreadTask list.append\(\) cancelled>\): the task is not pending"
    with pytest.raises(ValueError, match=expected):
        qtasks_manual_pool.complete(task)
    assert [] == ran


def test_completing_twice_or_a_foreign_task_raises(qtasks_manual_pool: ManualPool) -> None:
    """Completing a finished task, or one from another pool, raises a clear error."""
    task = qtasks.run(double, 3)
    qtasks_manual_pool.complete(task)
    expected = r"fail\(<ThreadTask double\(\) finished>\): the task is not pending"
    with pytest.raises(ValueError, match=expected):
        qtasks_manual_pool.fail(task, OSError())
    other = ManualPool()
    with pytest.raises(ValueError, match=r"was not submitted to this pool"):
        other.complete(task)


def test_run_all_completes_work_submitted_meanwhile(qtasks_manual_pool: ManualPool) -> None:
    """run_all() also completes the work that completing other work submits."""

    @qtasks.coroutine
    def chain(n: int) -> Any:
        total = 0
        for i in range(n):
            total += yield qtasks.run(double, i)
        return total

    handle = chain(4)
    ran = qtasks_manual_pool.run_all()
    assert 4 == len(ran)
    assert 12 == handle.result()
    assert [] == qtasks_manual_pool.pending


def test_manual_tasks_are_live_and_shutdown_cancels_them(qtasks_manual_pool: ManualPool) -> None:
    """Manual tasks appear in running(), and shutdown() cancels them without running them."""
    ran: list[int] = []
    task = qtasks.run(ran.append, 1)
    assert [task] == qtasks.running()
    assert [] == qtasks.shutdown(timeout=1)
    assert task.cancelled()
    assert [] == qtasks_manual_pool.pending
    assert [] == ran


def test_fixture_restores_the_real_pool(qtasks_run: Any) -> None:
    """Outside the fixture, qtasks.run runs the function on a worker thread, with nobody completing it."""
    assert threading.get_ident() != qtasks_run(qtasks.run(threading.get_ident))


def test_fixture_installs_the_manual_pool(qtasks_manual_pool: ManualPool) -> None:
    """Inside the fixture, qtasks.run submits to the ManualPool: the task waits there until completed."""
    task = qtasks.run(threading.get_ident)
    assert [task] == qtasks_manual_pool.pending
    assert not task.done()
    qtasks_manual_pool.complete(task)
    assert threading.get_ident() == task.result()
    assert "<qtasks.testing.ManualPool pending=0>" == repr(qtasks_manual_pool)


def test_drive_rejects_unknown_outcomes(qtasks_manual_pool: ManualPool) -> None:
    """drive() names the outcomes it knows."""
    with pytest.raises(ValueError, match=r"choose among qtasks.testing.COMPLETE"):
        drive(qtasks_manual_pool, None, outcomes=("explode",))  # type: ignore[arg-type]


@qtasks.coroutine
def run_then_log(log: list[str]) -> Any:
    """Await one run(), and note in `log` that its finally ran."""
    try:
        yield qtasks.run(double, 1)
    finally:
        log.append("finally")


def test_manual_pool_block_restores_the_pool_and_cancels_leftovers(qapp: Any) -> None:
    """Leaving manual_pool() restores the real pool and cancels what is pending, resuming its waiters."""
    log: list[str] = []
    real = _pool.default_pool()
    with manual_pool() as pool:
        assert pool is _pool.default_pool()
        handle = run_then_log(log)
        [task] = pool.pending
    assert real is _pool.default_pool()
    assert task.cancelled() and handle.cancelled()
    assert ["finally"] == log


def test_manual_pool_block_ends_what_the_block_cancelled_itself(qapp: Any) -> None:
    """A coroutine the block cancelled, with nothing left pending, has ended by the time the block is left."""
    log: list[str] = []
    with manual_pool():
        handle = run_then_log(log)
        handle.cancel()
    assert handle.cancelled()
    assert ["finally"] == log


def test_drive_finds_a_failure_that_needs_one_order_and_outcome(qapp: Any) -> None:
    """drive() explores orders and outcomes: it breaks a property that fails for one schedule only."""

    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(data=st.data())
    def only_one_schedule_breaks(data: Any) -> None:
        with manual_pool() as pool:
            tasks = [qtasks.run(double, i) for i in range(3)]
            steps = drive(pool, data, outcomes=(COMPLETE, FAIL))
        for task in tasks:
            task.exception()  # consumed: an injected failure is not reported
        order = [tasks.index(step.task) for step in steps]
        assert (order, steps[0].outcome) != ([2, 0, 1], FAIL), "the one bad schedule"

    with pytest.raises(AssertionError, match="the one bad schedule"):
        only_one_schedule_breaks()


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_drive_gather_matches_whatever_order_and_outcomes(qapp: Any, data: Any) -> None:
    """Under any completion order and outcomes, a gather with return_exceptions reports each child's fate."""

    @qtasks.coroutine
    def load_all() -> Any:
        return (yield qtasks.gather(*(qtasks.run(double, i) for i in range(3)), return_exceptions=True))

    with manual_pool() as pool:
        handle = load_all()
        submitted = pool.pending
        steps = drive(pool, data, outcomes=(COMPLETE, FAIL, CANCEL))
    assert sorted(map(id, submitted)) == sorted(id(step.task) for step in steps)
    assert handle.done()
    outcome_of = {id(step.task): step.outcome for step in steps}
    expected: list[object] = []
    for i, task in enumerate(submitted):
        outcome = outcome_of[id(task)]
        if outcome == COMPLETE:
            expected.append(2 * i)
        elif outcome == FAIL:
            expected.append(RuntimeError)
        else:
            expected.append(qtasks.CancelledError)
    actual = [value if isinstance(value, int) else type(value) for value in handle.result()]
    assert expected == actual


def test_map_items_are_tasks_a_test_can_finish_each_way(qtasks_manual_pool: ManualPool) -> None:
    """Under a ManualPool each item of qtasks.map is a task to complete, give a result, fail or cancel."""
    given = qtasks.map(double, range(3))
    first, second = qtasks_manual_pool.pending
    qtasks_manual_pool.complete(second, result=-1)
    qtasks_manual_pool.complete(first)
    qtasks_manual_pool.run_all()
    assert [0, -1, 4] == given.result()

    error = OSError("item lost")
    failed = qtasks.map(double, range(3))
    qtasks_manual_pool.fail(qtasks_manual_pool.pending[1], error)
    assert error is failed.exception()
    assert [] == qtasks_manual_pool.pending

    cancelled = qtasks.map(double, range(3))
    assert qtasks_manual_pool.pending[0].cancel() is True
    qtasks_manual_pool.run_all()
    assert cancelled.cancelled()
    assert [] == qtasks_manual_pool.pending


def test_a_map_left_pending_is_cancelled_when_the_block_ends(qapp: Any, hook_calls: list[Any]) -> None:
    """Leaving manual_pool() with a map's items still pending cancels the map and reports nothing."""
    with manual_pool():
        left = qtasks.map(double, range(3))
    assert left.cancelled()
    assert [] == hook_calls


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_drive_a_map_to_its_end_whatever_the_outcomes(qapp: Any, data: Any) -> None:
    """drive() with every outcome ends a map awaited by a coroutine, without errors reported."""
    reported: list[BaseException] = []
    hook = sys.excepthook
    sys.excepthook = lambda _type, exc, _tb: reported.append(exc)
    try:
        with manual_pool() as pool:
            handle = qtasks.gather(qtasks.map(double, range(4)), return_exceptions=True)
            steps = drive(pool, data, outcomes=(COMPLETE, FAIL, CANCEL))
        [outcome] = handle.result()
        qtasks.shutdown()  # what nobody consumed would be reported here at the latest
    finally:
        sys.excepthook = hook
    assert [] == reported
    if all(step.outcome == COMPLETE for step in steps):
        assert [0, 2, 4, 6] == outcome
    elif steps[-1].outcome == FAIL:
        assert isinstance(outcome, RuntimeError)
    else:
        assert isinstance(outcome, qtasks.CancelledError)


def test_qtasks_run_returns_the_result_or_raises_the_task_exception(qtasks_run: Any) -> None:
    """qtasks_run gives a handle's or a coroutine object's result, or raises the task's own exception."""

    async def add(a: int, b: int) -> int:
        return a + b

    def fail() -> None:
        raise KeyError("lost")

    assert 4 == qtasks_run(qtasks.run(double, 2))
    assert 5 == qtasks_run(add(2, 3))
    with pytest.raises(KeyError, match="lost"):
        qtasks_run(qtasks.run(fail))


def test_qtasks_run_timeout_names_the_task_and_leaves_it_cancelled(qtasks_run: Any) -> None:
    """On timeout qtasks_run names the task and what it waits on, and it has ended cancelled, finally run."""
    log: list[str] = []

    @qtasks.coroutine
    def stuck() -> Any:
        try:
            yield qtasks.sleep(3600)
        finally:
            log.append("finally")

    handle = stuck()
    with pytest.raises(qtasks.TimeoutError, match=r"<CoroutineTask .*stuck\(\) pending, waiting on .*3600"):
        qtasks_run(handle, timeout=0.01)
    assert handle.cancelled()
    assert ["finally"] == log


def test_qtasks_run_bad_arguments_name_the_fix(qtasks_run: Any) -> None:
    """Something not awaitable, or a timeout that is not a number of seconds, is refused with the fix."""
    with pytest.raises(TypeError, match=r"needs a qtasks task or a coroutine, got 42: pass a handle"):
        qtasks_run(42)
    with pytest.raises(TypeError, match=r"timeout=None\): seconds must be a number"):
        qtasks_run(qtasks.gather(), timeout=None)
    with pytest.raises(ValueError, match=r"timeout=-1\): seconds must be >= 0"):
        qtasks_run(qtasks.gather(), timeout=-1)


USER_TESTS = """
import qtasks
from qtasks import _pool


def test_fails_with_work_pending(qtasks_manual_pool):
    qtasks.run(abs, -1)
    raise AssertionError("the user's test fails")


def test_next_test_has_the_real_pool_and_nothing_left(qapp):
    assert isinstance(_pool.default_pool(), qtasks.Pool)
    assert [] == qtasks.running()
"""


def run_user_tests(tmp_path: Path, source: str) -> str:
    """Run `source` as a user's test module with only the installed plugin; return pytest's output."""
    (tmp_path / "test_user.py").write_text(source)
    proc = run_pytest(tmp_path)
    return proc.stdout + proc.stderr


def test_fixture_restores_the_pool_after_a_failing_test(tmp_path: Path) -> None:
    """When a test using qtasks_manual_pool fails, the next test still gets the real pool and no leftovers."""
    output = run_user_tests(tmp_path, USER_TESTS)
    assert "1 failed, 1 passed" in output, output
    assert "the user's test fails" in output


QUITTING_TESTS = """
import qtasks


@qtasks.coroutine
def quits_while_awaited(qapp):
    yield qtasks.sleep(0.01)
    qapp.quit()
    return (yield qtasks.run(abs, -4))


def test_quit_while_awaited(qapp, qtasks_run):
    assert 4 == qtasks_run(quits_while_awaited(qapp))


def test_a_quit_action(qapp):
    qapp.quit()


def test_after_it_qtasks_run_still_spins(qapp, qtasks_run):
    assert 4 == qtasks_run(qtasks.run(abs, -4))
    assert qtasks_run(qtasks.sleep(0.01)) is None
"""


def test_qtasks_run_still_waits_after_the_application_was_told_to_quit(tmp_path: Path) -> None:
    """After QApplication.quit(), before or during the wait, qtasks_run still waits for the task."""
    output = run_user_tests(tmp_path, QUITTING_TESTS)
    assert "3 passed" in output, output


def test_qtasks_run_keeps_no_qobject_in_the_traceback_of_what_it_raises(qtasks_run: Any) -> None:
    """The frames of the task's exception hold no QEventLoop or QTimer of qtasks_run.

    The exception and its frames form a reference cycle with the task, freed
    by whichever thread next collects garbage, and deleting a GUI-thread
    QObject on a worker thread can crash the process.
    """
    with pytest.raises(ValueError, match="invalid literal") as info:
        qtasks_run(qtasks.run(int, "x"))
    held = [
        (frame.f_code.co_name, name)
        for frame, _line in traceback.walk_tb(info.value.__traceback__)
        for name, value in frame.f_locals.items()
        if isinstance(value, QObject)
    ]
    assert [] == held


def test_complete_passes_keyword_arguments(qtasks_manual_pool: ManualPool) -> None:
    """complete() calls the real function with the keyword arguments qtasks.run was given."""
    calls: list[tuple[int, str]] = []

    def record(a: int, *, b: str = "") -> None:
        calls.append((a, b))

    task = qtasks.run(record, 1, b="x")
    qtasks_manual_pool.complete(task)
    assert [(1, "x")] == calls


@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_drive_gives_up_after_max_steps(qapp: Any, data: Any) -> None:
    """drive() raises RuntimeError naming the pool when work keeps coming after max_steps."""

    @qtasks.coroutine
    def endless() -> Any:
        while True:
            yield qtasks.run(double, 1)

    with manual_pool() as pool:
        handle = endless()
        with pytest.raises(RuntimeError, match=r"still had pending tasks after 3 steps"):
            drive(pool, data, max_steps=3)
        handle.cancel()
