"""Shutdown: quitting during a fan-out, and a function that never returns."""

from __future__ import annotations

import math
import re
import threading
import time
from typing import Any

import pytest
from qt import QThreadPool
from support import Gate, HandOverHook, double
from test_faults import run_script

import qtasks
from qtasks import _pool, _runtime

# A loose bound: a stuck shutdown waits for 500 functions that never return
# (the test's 60 s timeout); a slow machine takes well under this. The usual
# figure, a fraction of a second, is `python -m qtasks.bench --rows quit`'s.
QUIT_BOUND_S = 10.0


def test_quit_during_a_fan_out_of_500_ends_the_process_within_seconds() -> None:
    """app.quit() with 500 cooperative functions queued or running ends the process promptly and cleanly."""
    proc = run_script("quit_during_fan_out")
    ended = time.time()
    assert 0 == proc.returncode, proc.stderr
    quit_line, took_line = proc.stdout.strip().splitlines()
    took = re.fullmatch(r"quit took (\d+\.\d+) s", took_line)
    assert took is not None, proc.stdout
    assert float(took.group(1)) < QUIT_BOUND_S, proc.stdout
    assert [] == [line for line in proc.stderr.splitlines() if not line.startswith("QStandardPaths:")]
    # From app.quit() to the end of the process, interpreter and Qt teardown included.
    assert ended - float(quit_line.removeprefix("quit at ")) < QUIT_BOUND_S, proc.stdout


def test_shutdown_returns_after_the_timeout_naming_a_blocked_function(qapp: Any) -> None:
    """shutdown(timeout) gives up on a function that never returns, warns, and returns its handle."""
    release = threading.Event()
    entered = threading.Event()

    def blocked_forever() -> None:
        entered.set()
        release.wait()

    task = qtasks.run(blocked_forever)
    try:
        assert entered.wait(10)
        started = time.monotonic()
        expected = r"1 function\(s\) still running after 0.2 s: <ThreadTask .*blocked_forever\(\)"
        with pytest.warns(RuntimeWarning, match=expected):
            still = qtasks.shutdown(timeout=0.2)
        waited = time.monotonic() - started
        assert [task] == still
        assert task.cancelled()
        assert 0.2 <= waited < 5
    finally:
        release.set()
    assert [] == qtasks.shutdown(timeout=10)


def test_shutdown_runs_at_quit_when_a_worker_thread_used_qtasks_first() -> None:
    """aboutToQuit still shuts qtasks down when its first use came from a plain thread."""
    proc = run_script("first_use_on_a_worker")
    assert 0 == proc.returncode, proc.stderr
    assert "shutdown ran" == proc.stdout.strip()


def test_work_a_thread_queues_while_a_pool_shuts_down_ends_cancelled(
    qtasks_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task queued from another thread after shutdown's cancel step ends cancelled, not pending forever."""
    pool = qtasks.Pool(max_threads=1)
    gate = Gate()
    busy = pool.run(gate)
    assert gate.entered.wait(10)
    late: list[qtasks.Task[Any]] = []
    drop_queued = pool._drop_queued

    def a_thread_submits_first() -> None:
        thread = threading.Thread(target=lambda: late.append(pool.run(int, "1")))
        thread.start()
        thread.join()
        drop_queued()
        gate.opened.set()

    monkeypatch.setattr(pool, "_drop_queued", a_thread_submits_first)
    assert [] == pool.shutdown(timeout=10)
    assert busy.cancelled()
    assert late[0].cancelled()


@pytest.mark.parametrize(
    ("timeout", "error", "message"),
    [
        (-1, ValueError, r"timeout=-1\): the timeout must be None or >= 0 seconds"),
        (math.nan, ValueError, r"timeout=nan\): the timeout must be None or >= 0 seconds"),
        ("5", TypeError, r"timeout='5'\): the timeout must be a number of seconds, or None"),
    ],
)
@pytest.mark.parametrize("which", ["qtasks", "pool"])
def test_shutdown_rejects_a_bad_timeout_before_cancelling_anything(
    qtasks_run: Any, which: str, timeout: object, error: type[Exception], message: str
) -> None:
    """shutdown() with a timeout that is not a number of seconds >= 0 names it and leaves the work alone."""
    pool = qtasks.Pool(max_threads=1)
    gate = Gate()
    task = pool.run(gate)
    shutdown = qtasks.shutdown if which == "qtasks" else pool.shutdown
    with pytest.raises(error, match=message):
        shutdown(timeout=timeout)  # type: ignore[arg-type]
    assert not task.done()
    gate.opened.set()
    assert qtasks_run(task) is None
    assert [] == pool.shutdown(timeout=10)


def test_shutdown_names_what_still_runs_and_stays_usable(qtasks_run: Any) -> None:
    """shutdown(timeout) returns after the timeout naming blocked functions; qtasks works after."""
    gate = Gate()
    blocked = qtasks.run(gate)
    assert gate.entered.wait(10)
    with pytest.warns(RuntimeWarning, match=r"still running.*Gate"):
        still = qtasks.shutdown(timeout=0.05)
    assert [blocked] == still
    gate.opened.set()
    assert 2 == qtasks_run(qtasks.run(double, 1))


class NotingCondition(threading.Condition):
    """A pool's idle condition that tells when shutdown first waits on it."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        self.waited = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waited.set()
        return super().wait(timeout)


def pool_with_a_long_linger(monkeypatch: pytest.MonkeyPatch) -> tuple[QThreadPool, qtasks.Pool]:
    """Return a pool, and its QThreadPool, whose parked loops stay parked until something wakes them."""
    monkeypatch.setattr(_pool, "LINGER_S", 60.0)
    qpool = QThreadPool()
    return qpool, qtasks.Pool(pool=qpool)


def shut_down_during_a_hand_over(
    qtasks_run: Any, qpool: QThreadPool, pool: qtasks.Pool, hand_over: Any
) -> None:
    """Run one call whose worker then runs `hand_over()` as it hands the result over; shut the pool down.

    Every thread must be back with Qt when shutdown returns.
    """
    HandOverHook(pool, hand_over)
    assert 2 == qtasks_run(pool.run(double, 1))  # its worker now waits in the hand-over
    assert [] == pool.shutdown(timeout=10)
    assert qpool.waitForDone(5000)


def test_a_loop_that_runs_dry_while_shutdown_waits_leaves_at_once(
    qtasks_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker handing its last result over as shutdown waits gives its thread back, not parks."""
    qpool, pool = pool_with_a_long_linger(monkeypatch)
    idle = pool._idle = NotingCondition(pool._lock)
    shut_down_during_a_hand_over(qtasks_run, qpool, pool, lambda: idle.waited.wait(10))


def test_a_loop_parked_between_dropping_the_queue_and_waiting_is_woken_by_the_wait(
    qtasks_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that parks after shutdown dropped the queue, before it waits, is woken by the wait."""
    qpool, pool = pool_with_a_long_linger(monkeypatch)
    dropped, parked = threading.Event(), threading.Event()
    drop_queued, park_locked = pool._drop_queued, pool._park_locked

    def drop_then_let_it_park() -> None:
        drop_queued()
        dropped.set()
        assert parked.wait(10)

    def park_and_tell(now: float, waiter: threading.Lock) -> bool:
        parks = park_locked(now, waiter)
        parked.set()
        return parks

    monkeypatch.setattr(pool, "_drop_queued", drop_then_let_it_park)
    monkeypatch.setattr(pool, "_park_locked", park_and_tell)
    shut_down_during_a_hand_over(qtasks_run, qpool, pool, lambda: dropped.wait(10))


def test_exit_stops_waiting_once_a_hand_over_ends_beside_a_running_function(
    qtasks_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At interpreter exit, a loop ending its hand-over wakes the exit's wait while another function runs."""
    entered, release, go, unparked = (threading.Event() for _ in range(4))

    def hold() -> None:
        entered.set()
        release.wait(60)  # longer than the waits below: it must not be what ends them

    pool = qtasks.Pool(max_threads=2)
    idle = pool._idle = NotingCondition(pool._lock)
    running = pool.run(hold)
    assert entered.wait(10)
    HandOverHook(pool, lambda: go.wait(10))
    assert 2 == qtasks_run(pool.run(double, 1))  # its worker now waits in the hand-over
    monkeypatch.setattr(_pool._LINGER, "exiting", True)

    def exit_wait() -> None:
        pool._wait_unparked(time.monotonic() + 60)
        unparked.set()

    threading.Thread(target=exit_wait, daemon=True).start()
    try:
        assert idle.waited.wait(10)
        go.set()
        assert unparked.wait(10)
    finally:
        monkeypatch.undo()
        release.set()
    qtasks_run(running)
    assert [] == pool.shutdown(timeout=10)


def test_pool_shutdown_returns_after_a_woken_worker_is_done_with_the_bridge(
    qtasks_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker loop that shutdown wakes from parking makes its last post before Pool.shutdown() returns."""
    monkeypatch.setattr(_pool, "LINGER_S", 60.0)  # the loop stays parked until shutdown wakes it
    bridge = _runtime.bridge()
    gui_thread = threading.get_ident()
    returned, posted = threading.Event(), threading.Event()
    after_return: list[bool] = []

    class WatchedBridge:
        """The bridge, noting whether each worker's post came after shutdown returned."""

        def transfer(self, box: list[Any]) -> None:
            bridge.transfer(box)

        def post(self, fn: Any) -> None:
            if threading.get_ident() != gui_thread:
                # A post that shutdown does not wait for sees `returned` set here.
                returned.wait(1)
                after_return.append(returned.is_set())
                posted.set()
            bridge.post(fn)

    pool = qtasks.Pool(max_threads=1)
    pool._bridge = WatchedBridge()  # type: ignore[assignment]
    assert 2 == qtasks_run(pool.run(double, 1))
    assert [] == pool.shutdown(timeout=10)
    returned.set()
    assert posted.wait(10)
    assert [False] == after_return
