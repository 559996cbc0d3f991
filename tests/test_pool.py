"""qtasks.run and Pool: functions on a QThreadPool, cancelling them, their progress, the last reference."""

from __future__ import annotations

import gc
import os
import threading
import weakref
from typing import Any

import pytest
from qt import QRunnable, QThreadPool
from support import Gate, HandOverHook, double, run_python, settle

import qtasks
from qtasks import _runtime

# -- run and Pool -------------------------------------------------------------


def test_run_rejects_a_non_callable(qapp: Any) -> None:
    """run(load(path)) by mistake names the value and the fix."""
    with pytest.raises(TypeError, match=r"needs a callable, got 3.*qtasks.run\(load, path\)"):
        qtasks.run(3)  # type: ignore[call-overload]


def keywords(a: int, *, b: int = 0, c: str = "") -> tuple[int, int, str]:
    return a, b, c


def test_run_and_pool_run_pass_keyword_arguments(qtasks_run: Any) -> None:
    """qtasks.run and Pool.run call the function with the keyword arguments given."""
    pool = qtasks.Pool(max_threads=1)
    assert (1, 2, "x") == qtasks_run(qtasks.run(keywords, 1, b=2, c="x"))
    assert (3, 4, "y") == qtasks_run(pool.run(keywords, 3, c="y", b=4))
    assert [] == pool.shutdown(timeout=10)


def test_pool_rejects_a_bad_thread_count() -> None:
    """Pool(max_threads=0) says what is allowed."""
    with pytest.raises(ValueError, match=r"max_threads=0.*>= 1"):
        qtasks.Pool(max_threads=0)


def test_dedicated_pool_runs_and_shuts_down(qtasks_run: Any) -> None:
    """A Pool of its own runs work, and its shutdown cancels its queue."""
    pool = qtasks.Pool(max_threads=1)
    assert 1 == pool.max_threads
    assert 6 == qtasks_run(pool.run(double, 3))
    gate = Gate()
    blocking = pool.run(gate)
    assert gate.entered.wait(10)
    ran: list[int] = []
    queued = pool.run(ran.append, 1)
    # Why shut down with the gate closed: opened first, the worker may take
    # the queued function before shutdown() drops it.
    assert [blocking] == pool.shutdown(timeout=0.05)
    assert blocking.cancelled() and queued.cancelled()
    gate.opened.set()
    assert [] == pool.shutdown(timeout=10)
    assert [] == ran
    assert 8 == qtasks_run(pool.run(double, 4))


class StartCountingQThreadPool(QThreadPool):
    """A QThreadPool that counts how often qtasks starts its runnable on it."""

    def __init__(self) -> None:
        super().__init__()
        self.setMaxThreadCount(1)
        self.starts = 0

    def start(self, runnable: Any, priority: int = 0) -> None:
        self.starts += 1
        super().start(runnable, priority)


def test_a_pool_wraps_a_qthreadpool_it_is_given(qtasks_run: Any) -> None:
    """Pool(pool=q) runs its functions on q; Pool() makes its own QThreadPool."""
    qpool = StartCountingQThreadPool()
    wrapped = qtasks.Pool(pool=qpool)
    own = qtasks.Pool()
    assert qpool is wrapped.qthreadpool
    assert isinstance(own.qthreadpool, QThreadPool)
    assert own.qthreadpool is not QThreadPool.globalInstance()
    assert 4 == qtasks_run(wrapped.run(double, 2))
    assert qpool.starts >= 1
    assert 6 == qtasks_run(own.run(double, 3))
    assert [] == wrapped.shutdown(timeout=10)
    assert [] == own.shutdown(timeout=10)


def test_a_pool_given_something_else_names_it() -> None:
    """Pool(pool=...) with something not a QThreadPool, or with max_threads too, raises a clear TypeError."""
    with pytest.raises(TypeError, match=r"Pool\(pool='global'\): pool must be a QThreadPool"):
        qtasks.Pool(pool="global")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"pass one of them"):
        qtasks.Pool(max_threads=2, pool=QThreadPool())


# -- the lingering worker -----------------------------------------------------


def test_awaited_runs_in_a_row_reuse_the_parked_worker(qtasks_run: Any, monkeypatch: Any) -> None:
    """A run() submitted while a worker loop lingers is handed to it, not started anew."""
    monkeypatch.setattr(qtasks._pool, "LINGER_S", 30.0)
    qpool = StartCountingQThreadPool()
    pool = qtasks.Pool(pool=qpool)

    @qtasks.coroutine
    def in_a_row() -> Any:
        results = []
        for i in range(5):
            results.append((yield pool.run(double, i)))
        return results

    assert [0, 2, 4, 6, 8] == qtasks_run(in_a_row())
    assert 1 == qpool.starts
    assert [] == pool.shutdown(timeout=10)


def pool_with_a_parked_loop(qtasks_run: Any) -> tuple[StartCountingQThreadPool, qtasks.Pool]:
    """Return a one-thread pool, and its QThreadPool, whose worker loop ran one call and now lingers."""
    qpool = StartCountingQThreadPool()
    pool = qtasks.Pool(pool=qpool)
    assert 6 == qtasks_run(pool.run(double, 3))
    return qpool, pool


def test_shutdown_sends_a_parked_worker_back_to_qt_at_once(qtasks_run: Any, monkeypatch: Any) -> None:
    """shutdown() wakes a lingering worker loop, so the QThreadPool is idle right after."""
    monkeypatch.setattr(qtasks._pool, "LINGER_S", 30.0)
    qpool, pool = pool_with_a_parked_loop(qtasks_run)
    assert [] == pool.shutdown(timeout=10)
    assert qpool.waitForDone(5000)
    assert 4 == qtasks_run(pool.run(double, 2))
    assert [] == pool.shutdown(timeout=10)
    assert qpool.waitForDone(5000)


def test_a_parked_worker_gives_its_thread_back_while_the_gui_thread_is_blocked(qtasks_run: Any) -> None:
    """A lingering loop leaves on its own, with no event loop running: Qt gets its thread back.

    The GUI thread blocks in waitForDone(), so nothing it runs can wake the
    loop: qtasks' linger thread must.
    """
    qpool, pool = pool_with_a_parked_loop(qtasks_run)
    assert qpool.waitForDone(5000)
    assert [] == pool.shutdown(timeout=10)


def test_a_linger_raised_and_restored_does_not_hold_the_thread(qtasks_run: Any, monkeypatch: Any) -> None:
    """A loop parked while LINGER_S was long leaves soon once it is short again."""
    monkeypatch.setattr(qtasks._pool, "LINGER_S", 30.0)
    qpool, pool = pool_with_a_parked_loop(qtasks_run)
    assert not qpool.waitForDone(50)  # parked, as a 30 s linger says
    monkeypatch.setattr(qtasks._pool, "LINGER_S", 0.001)
    assert qpool.waitForDone(5000)
    assert [] == pool.shutdown(timeout=10)


def test_a_pool_dropped_as_its_last_loop_leaves_is_freed_on_the_gui_thread(qtbot: Any) -> None:
    """Dropped right after its work, a pool is freed on the GUI thread, never by its last worker leaving.

    The last loop tells the GUI thread the pool is idle a few lines before it
    lets go of the pool; dropped in between, the pool must still be freed here.
    Each round has that chance, so the test runs many.
    """
    gui_thread = threading.get_ident()
    freed_on: list[int] = []
    for _ in range(150):
        pool = qtasks.Pool(max_threads=2)
        qtasks.run_until_complete(qtasks.gather(pool.run(abs, 0), pool.run(abs, -1)))
        weakref.finalize(pool, lambda: freed_on.append(threading.get_ident()))
        count = len(freed_on)
        del pool
        qtbot.waitUntil(lambda: len(freed_on) > count, timeout=10_000)  # noqa: B023 - checked in the loop
    assert {gui_thread} == set(freed_on)


def test_a_call_made_while_a_worker_hands_its_result_over_is_left_to_it(qtasks_run: Any, qtbot: Any) -> None:
    """The loop that is handing a result over runs the next call: no second thread is started for it."""
    qpool = StartCountingQThreadPool()
    qpool.setMaxThreadCount(2)
    pool = qtasks.Pool(pool=qpool)
    second: list[qtasks.Task[int]] = []
    HandOverHook(pool, lambda: second.append(pool.run(threading.get_ident)))
    first = qtasks_run(pool.run(threading.get_ident))
    qtbot.waitUntil(lambda: bool(second) and second[0].done())
    assert first == second[0].result()
    assert 1 == qpool.starts
    assert [] == pool.shutdown(timeout=10)


def test_a_loop_past_its_slice_queues_the_call_made_during_its_hand_over_behind_qt(
    qtasks_run: Any, qtbot: Any, monkeypatch: Any
) -> None:
    """A loop that has run its slice gives its thread back even for a call made as it hands a result over.

    Its next start goes behind the QThreadPool's other runnables, and the call
    still runs, once.
    """
    monkeypatch.setattr(qtasks._pool, "SLICE_S", 0.0)
    qpool = StartCountingQThreadPool()
    pool = qtasks.Pool(pool=qpool)
    second: list[qtasks.Task[int]] = []
    HandOverHook(pool, lambda: second.append(pool.run(double, 2)))
    assert 2 == qtasks_run(pool.run(double, 1))
    qtbot.waitUntil(lambda: bool(second) and second[0].done())
    assert 4 == second[0].result()
    assert 2 == qpool.starts
    assert [] == pool.shutdown(timeout=10)


def test_a_result_handed_over_is_freed_on_the_gui_thread_while_its_worker_goes_on(
    qtasks_run: Any, qtbot: Any
) -> None:
    """Once a worker has handed a result over, it holds no reference to the task, however long it takes."""
    freed_on: list[int] = []

    class Result:
        def __del__(self) -> None:
            freed_on.append(threading.get_ident())

    pool = qtasks.Pool(max_threads=1)
    dropped = threading.Event()
    HandOverHook(pool, lambda: dropped.wait(10))
    task = pool.run(Result)
    qtbot.waitUntil(task.done)
    del task
    gc.collect()
    dropped.set()
    qtbot.waitUntil(lambda: bool(freed_on))
    assert [threading.get_ident()] == freed_on
    assert [] == pool.shutdown(timeout=10)


class BrokenLinger:
    """A linger service that cannot start its thread, as in a process out of threads."""

    dormant = True
    exiting = False

    def prepare(self) -> None:
        pass

    def wake(self) -> None:
        raise RuntimeError("can't start new thread")


def test_a_loop_that_cannot_start_the_linger_thread_still_runs_what_it_is_handed(
    qtasks_run: Any, monkeypatch: Any, hook_calls: list[BaseException]
) -> None:
    """The failure is reported, and the parked loop still takes the next run(): no call is lost."""
    monkeypatch.setattr(qtasks._pool, "_LINGER", BrokenLinger())
    pool = qtasks.Pool(max_threads=1)

    @qtasks.coroutine
    def in_a_row() -> Any:
        results = []
        for i in range(3):
            results.append((yield pool.run(double, i)))
        return results

    assert [0, 2, 4] == qtasks_run(in_a_row())
    assert [] == pool.shutdown(timeout=10)
    assert hook_calls
    assert all("can't start new thread" in str(exc) for exc in hook_calls)
    hook_calls.clear()


PARKED_AT_EXIT = """
import qtasks, qtasks._pool
from qt import QCoreApplication
app = QCoreApplication([])
qtasks._pool.LINGER_S = 3600.0
print(qtasks.run_until_complete(qtasks.run(abs, -4)))
"""


FORKED_AFTER_A_PARK = """
import os, qtasks, qtasks._pool
from qt import QCoreApplication
app = QCoreApplication([])
assert 4 == qtasks.run_until_complete(qtasks.run(abs, -4))
linger = qtasks._pool._LINGER
linger.wake()  # the linger thread runs, whether or not the loop parked yet
with linger._wakeup:  # held at the fork, as the linger thread may hold it
    pid = os.fork()
    if pid == 0:
        free = linger._wakeup.acquire(timeout=5)
        os._exit(0 if free and linger._thread is None and linger.dormant else 1)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_without_the_parents_linger_thread() -> None:
    """In a child forked while the linger thread holds its lock, qtasks' linger state starts afresh."""
    completed = run_python("-c", FORKED_AFTER_A_PARK, timeout=60)
    assert (0, "0\n") == (completed.returncode, completed.stdout), completed.stderr


def test_a_script_ending_with_a_parked_worker_exits() -> None:
    """A script that ends while a loop lingers (without quitting the application) exits at once."""
    completed = run_python("-c", PARKED_AT_EXIT, timeout=60)
    assert (0, "4\n", "") == (completed.returncode, completed.stdout, completed.stderr)


# -- cancelling thread tasks --------------------------------------------------


def test_cancel_queued_tasks_never_run(qtasks_run: Any) -> None:
    """1 000 tasks cancelled while queued behind a busy pool never run."""
    gates = [Gate() for _ in range(8)]
    busy = [qtasks.run(gate) for gate in gates]
    ran: list[int] = []
    queued = [qtasks.run(ran.append, i) for i in range(1000)]
    assert all(task.cancel() for task in queued)
    for gate in gates:
        gate.opened.set()
    qtasks_run(qtasks.gather(*busy))
    # Anything not cancelled would run after the busy work: once the pool is
    # idle they had the chance. (A probe run() could end first on another thread.)
    assert QThreadPool.globalInstance().waitForDone(10_000)
    assert [] == ran
    assert all(task.cancelled() for task in queued)


def test_cancel_running_sets_the_flag_and_wakes_the_awaiter_at_once(qtasks_run: Any, qtbot: Any) -> None:
    """A running function sees check_cancelled(); its coroutine gets CancelledError while it still runs."""
    gate = Gate()
    stopped = threading.Event()

    def cooperative() -> str:
        gate()
        try:
            qtasks.check_cancelled()
        except qtasks.CancelledError:
            stopped.set()
            raise
        return "not cancelled"

    log: list[str] = []

    @qtasks.coroutine
    def body() -> Any:
        try:
            yield qtasks.run(cooperative)
        except qtasks.CancelledError:
            log.append("cancelled")
            raise
        finally:
            log.append("finally")

    handle = body()
    assert gate.entered.wait(10)
    handle.cancel()
    # The gate is still closed: the function has not returned, yet the
    # coroutine has already unwound.
    qtbot.waitUntil(handle.done)
    assert ["cancelled", "finally"] == log
    assert handle.cancelled()
    assert not stopped.is_set()
    gate.opened.set()
    assert stopped.wait(10)


def test_cancel_is_true_while_a_returned_result_waits_for_delivery(qtbot: Any) -> None:
    """cancel() on a task whose function returned but whose result is not yet delivered returns True.

    The awaiting coroutine gets CancelledError and the late result is dropped.
    """
    pool = qtasks.Pool(max_threads=1)
    returning = threading.Event()

    def answer() -> str:
        returning.set()
        return "late"

    log: list[str] = []
    seen: list[bool] = []

    @qtasks.coroutine
    def waiter() -> Any:
        try:
            log.append((yield task))
        except qtasks.CancelledError:
            log.append("cancelled")
            raise

    task = pool.run(answer)
    task.add_done_callback(lambda t: seen.append(t.cancelled()))
    handle = waiter()
    # The GUI thread does not spin its event loop until cancel(): the worker
    # returns and its pool goes idle, but the result cannot be delivered yet.
    assert returning.wait(10)
    assert pool.qthreadpool.waitForDone(10000)
    assert not task.done()
    assert task.cancel() is True
    qtbot.waitUntil(handle.done)
    assert ["cancelled"] == log
    assert handle.cancelled()
    assert task.cancelled()
    with pytest.raises(qtasks.CancelledError):
        task.result()
    qtbot.waitUntil(lambda: bool(seen))
    assert [True] == seen
    assert [] == pool.shutdown(timeout=10)


# -- progress -----------------------------------------------------------------


def test_progress_coalesces_and_delivers_the_last_value_before_done(qtasks_run: Any) -> None:
    """A tight loop of reports arrives as a few values ending with the last, before done callbacks."""
    log: list[object] = []

    def work() -> str:
        for i in range(100_000):
            qtasks.report_progress(i)
        return "done"

    task = qtasks.run(work)
    task.on_progress(log.append)
    task.add_done_callback(lambda t: log.append("callback"))
    assert "done" == qtasks_run(task)
    qtasks_run(qtasks.run(double, 0))
    assert ["callback"] == log[-1:]
    assert 99_999 == log[-2]
    assert log[:-1] == sorted(log[:-1])  # type: ignore[type-var]


def test_a_burst_of_progress_reaches_a_listener_coalesced(qtbot: Any, qtasks_run: Any) -> None:
    """100 000 report_progress calls reach a listener in a few deliveries, the last value included."""
    reported = threading.Event()
    gate = Gate()

    def burst() -> str:
        for i in range(100_000):
            qtasks.report_progress(i)
        reported.set()
        gate.opened.wait(10)
        return "done"

    values: list[int] = []
    task = qtasks.run(burst)
    task.on_progress(values.append)
    # The whole burst happens while the GUI thread is busy here, so it can
    # deliver nothing before the last value.
    assert reported.wait(10)
    gate.opened.set()
    assert "done" == qtasks_run(task)
    assert [99_999] == values


# -- the last reference is dropped on the GUI thread --------------------------


def test_last_reference_is_released_on_the_gui_thread(qtasks_run: Any, qtbot: Any) -> None:
    """A fire-and-forget task's result is freed on the GUI thread, not on a worker."""
    freed_on: list[int] = []

    class Result:
        def __del__(self) -> None:
            freed_on.append(threading.get_ident())

    for _ in range(200):
        qtasks.run(Result)
    # Why not probe runs: with several threads the last of the 200 can still be running after them.
    qtbot.waitUntil(lambda: 200 == len(freed_on))
    assert {threading.get_ident()} == set(freed_on)


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


class BlockingRunnable(QRunnable):
    """Another library's runnable that holds a QThreadPool thread until released."""

    def __init__(self) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.entered = threading.Event()
        self.release = threading.Event()

    def run(self) -> None:
        self.entered.set()
        self.release.wait(10)


def test_a_pool_dropped_with_a_start_still_queued_stays_whole_until_it_runs(
    qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A Pool nobody holds, whose worker start Qt has yet to run, is freed only after, on the GUI thread."""
    qpool = QThreadPool()
    qpool.setMaxThreadCount(1)
    other = BlockingRunnable()
    qpool.start(other)
    assert other.entered.wait(10)
    pool = qtasks.Pool(pool=qpool)
    task = pool.run(double, 1)  # its worker start waits behind the other runnable
    assert task.cancel()
    freed = weakref.ref(pool)
    del pool, task
    gc.collect()
    other.release.set()
    assert qpool.waitForDone(10_000)  # the start ran, on a pool still whole
    qtbot.waitUntil(lambda: freed() is None, timeout=10_000)
    _runtime.bridge().run_pending()  # what the worker handed over, reports included
    assert [] == hook_calls


def test_an_idle_pool_nobody_holds_is_freed_where_it_is_dropped(qtasks_run: Any) -> None:
    """A dropped Pool whose work is done is freed at once, on the GUI thread, with no collector.

    Left to the collector, it could be freed on any thread that happens to
    allocate, and its QThreadPool and its heartbeat's QTimer with it.
    """
    pool = qtasks.Pool(max_threads=2)
    assert [1, 2] == qtasks_run(qtasks.gather(pool.run(abs, -1), pool.run(abs, -2)))
    assert pool.qthreadpool.waitForDone(10_000)
    _runtime.bridge().run_pending()  # the last worker's word that the pool is idle
    freed = weakref.ref(pool)
    gc.disable()
    try:
        del pool
        assert freed() is None
    finally:
        gc.enable()
