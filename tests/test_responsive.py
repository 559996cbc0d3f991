"""A responsive Pool runs fewer functions at once while the GUI thread starves, and more when it recovers.

The GUI thread's lateness is fed by hand (`Pool._observe_lateness`, what the
heartbeat calls on each tick), with the real heartbeat slowed to an hour so
that no sample of the machine's own load reaches the pool during a test.
"""

from __future__ import annotations

import collections
import itertools
import sys
import threading
from typing import Any

import pytest
from qt import QThreadPool, QTimer
from support import Gate, HandOverHook

import qtasks
from qtasks import _responsive
from qtasks._responsive import CALM_WINDOW, UNLIMITED, Throttle

# A sample of a GUI thread that lost the GIL to the workers for 50 ms, and one that ran on time.
STARVED = 0.05
CALM = 0.0


@pytest.fixture
def fed_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let only the test's own samples reach the pools: the real heartbeat ticks once an hour."""
    monkeypatch.setattr(_responsive, "HEARTBEAT_S", 3600.0)
    monkeypatch.setattr(_responsive, "HEARTBEAT_SLOW_S", 3600.0)


def starved_pool(
    first: Gate, threads: int = 2, on_hand_over: Any = None
) -> tuple[qtasks.Pool, qtasks.ThreadTask[Any]]:
    """Return a pool running `first`, told that the GUI thread starves.

    `on_hand_over()` runs on the worker as it hands `first`'s result over.
    """
    pool = qtasks.Pool(max_threads=threads)
    if on_hand_over is not None:
        HandOverHook(pool, on_hand_over)
    running = pool.run(first, "first")
    assert first.entered.wait(10)
    pool._observe_lateness(STARVED)
    return pool, running


# -- the policy, through a pool ---------------------------------------------------


@pytest.mark.usefixtures("fed_by_hand")
def test_a_starving_gui_thread_holds_the_next_function_back(qtasks_run: Any) -> None:
    """After a starved sample, a function submitted beside a running one waits for a free turn, then runs."""
    first, second = Gate(), Gate()
    pool, running = starved_pool(first)
    waiting = pool.run(second, "second")
    assert 1 == pool.qthreadpool.activeThreadCount()
    assert ", queued" in repr(waiting)
    first.opened.set()
    second.opened.set()
    assert ["first", "second"] == qtasks_run(qtasks.gather(running, waiting))
    assert [] == pool.shutdown(timeout=10)


@pytest.mark.usefixtures("fed_by_hand")
def test_a_gui_thread_that_recovers_gets_the_threads_back(qtasks_run: Any) -> None:
    """Calm samples after a starved one start the held-back function beside the one still running."""
    first, second = Gate(), Gate()
    pool, running = starved_pool(first)
    waiting = pool.run(second, "second")
    for _ in range(CALM_WINDOW):
        pool._observe_lateness(CALM)
    assert second.entered.wait(10)
    assert not running.done()
    first.opened.set()
    second.opened.set()
    assert ["first", "second"] == qtasks_run(qtasks.gather(running, waiting))
    assert [] == pool.shutdown(timeout=10)


@pytest.mark.usefixtures("fed_by_hand")
def test_max_threads_stays_the_upper_bound_however_calm_the_gui_thread(qtasks_run: Any) -> None:
    """Calm samples never make a one-thread pool run two functions at once."""
    first, second = Gate(), Gate()
    pool = qtasks.Pool(max_threads=1)
    running = pool.run(first, "first")
    assert first.entered.wait(10)
    waiting = pool.run(second, "second")
    for _ in range(4 * CALM_WINDOW):
        pool._observe_lateness(CALM)
    assert 1 == pool.qthreadpool.activeThreadCount()
    assert ", queued" in repr(waiting)
    first.opened.set()
    second.opened.set()
    assert ["first", "second"] == qtasks_run(qtasks.gather(running, waiting))
    assert [] == pool.shutdown(timeout=10)


@pytest.mark.usefixtures("fed_by_hand")
def test_a_new_burst_of_work_starts_on_every_thread(qtasks_run: Any) -> None:
    """Once a starved pool runs dry, the next functions all start, though the GUI thread samples nothing."""
    first = Gate()
    pool, running = starved_pool(first)
    first.opened.set()
    assert "first" == qtasks_run(running)
    gates = [Gate(), Gate()]
    later = [pool.run(gate, i) for i, gate in enumerate(gates)]
    # The GUI thread blocks here, so no sample could lift the limit: the pool must have.
    assert [True, True] == [gate.entered.wait(10) for gate in gates]
    for gate in gates:
        gate.opened.set()
    assert [0, 1] == qtasks_run(qtasks.gather(*later))
    assert [] == pool.shutdown(timeout=10)


def test_a_burst_made_while_the_last_result_is_handed_over_starts_on_every_thread(qtasks_run: Any) -> None:
    """Calls made as a starved pool's last result reaches the GUI thread all start: the limit is lifted."""
    first, gates = Gate(), [Gate(), Gate()]
    later: list[qtasks.ThreadTask[Any]] = []
    pool, running = starved_pool(
        first, on_hand_over=lambda: later.extend(pool.run(gate, i) for i, gate in enumerate(gates))
    )
    first.opened.set()
    assert "first" == qtasks_run(running)
    assert [True, True] == [gate.entered.wait(10) for gate in gates]
    for gate in gates:
        gate.opened.set()
    assert [0, 1] == qtasks_run(qtasks.gather(*later))
    assert [] == pool.shutdown(timeout=10)


def test_awaited_runs_in_a_row_are_not_watched(qtasks_run: Any) -> None:
    """One function at a time cannot starve the GUI thread: no heartbeat timer is made for it."""
    pool = qtasks.Pool(max_threads=2)

    @qtasks.coroutine
    def in_a_row() -> Any:
        results = []
        for i in range(20):
            results.append((yield pool.run(abs, -i)))
        return results

    assert list(range(20)) == qtasks_run(in_a_row())
    assert pool._heartbeat is None
    assert [] == pool.shutdown(timeout=10)


def test_a_second_function_in_flight_starts_the_watch(qtasks_run: Any, qtbot: Any) -> None:
    """Once two functions are in flight, the heartbeat samples the GUI thread until the pool is idle."""
    first, second = Gate(), Gate()
    pool = qtasks.Pool(max_threads=2)
    running = pool.run(first, "first")
    assert first.entered.wait(10)
    assert pool._heartbeat is None
    waiting = pool.run(second, "second")
    qtbot.waitUntil(lambda: pool._heartbeat is not None and pool._heartbeat._timer.isActive())
    first.opened.set()
    second.opened.set()
    assert ["first", "second"] == qtasks_run(qtasks.gather(running, waiting))
    qtbot.waitUntil(lambda: not pool._heartbeat._timer.isActive())
    assert [] == pool.shutdown(timeout=10)


# -- the off switch ---------------------------------------------------------------


@pytest.mark.usefixtures("fed_by_hand")
def test_a_pool_made_unresponsive_keeps_every_thread_busy(qtasks_run: Any) -> None:
    """Pool(responsive=False) ignores a starving GUI thread: a second function starts beside the first."""
    first, second = Gate(), Gate()
    pool = qtasks.Pool(max_threads=2, responsive=False)
    assert not pool.responsive
    running = pool.run(first, "first")
    assert first.entered.wait(10)
    pool._observe_lateness(STARVED)
    waiting = pool.run(second, "second")
    assert second.entered.wait(10)
    first.opened.set()
    second.opened.set()
    assert ["first", "second"] == qtasks_run(qtasks.gather(running, waiting))
    assert [] == pool.shutdown(timeout=10)


@pytest.mark.usefixtures("fed_by_hand")
def test_turning_responsive_off_starts_what_the_limit_held_back(qtasks_run: Any) -> None:
    """Setting pool.responsive = False starts the held-back function at once; True watches again."""
    first, second = Gate(), Gate()
    pool, running = starved_pool(first)
    assert pool.responsive
    waiting = pool.run(second, "second")
    pool.responsive = False
    assert second.entered.wait(10)
    first.opened.set()
    second.opened.set()
    assert ["first", "second"] == qtasks_run(qtasks.gather(running, waiting))
    pool.responsive = True
    assert pool.responsive
    assert [] == pool.shutdown(timeout=10)


def test_the_shared_pool_wraps_the_global_qthreadpool_and_has_the_switch(qapp: Any) -> None:
    """qtasks.shared_pool() is a responsive Pool over the global QThreadPool; its switch turns off and on."""
    shared = qtasks.shared_pool()
    assert isinstance(shared, qtasks.Pool)
    assert QThreadPool.globalInstance() == shared.qthreadpool
    assert shared.responsive
    shared.responsive = False
    try:
        assert not qtasks.shared_pool().responsive
    finally:
        shared.responsive = True


def test_under_the_manual_pool_fixture_the_shared_pool_is_the_tests(qtasks_manual_pool: Any) -> None:
    """The pool qtasks.run submits to is the one shared_pool() returns: under the fixture, the ManualPool."""
    assert qtasks_manual_pool is qtasks.shared_pool()
    task = qtasks.run(str, 1)
    assert [task] == qtasks_manual_pool.pending
    qtasks_manual_pool.complete(task)


def test_responsive_must_be_a_bool(qapp: Any) -> None:
    """A responsive value that is not True or False is refused, naming the value."""
    with pytest.raises(TypeError, match=r"Pool\(responsive='no'\): responsive must be True or False"):
        qtasks.Pool(responsive="no")  # type: ignore[arg-type]
    pool = qtasks.Pool(max_threads=1)
    with pytest.raises(TypeError, match=r"Pool.responsive = 1: give True or False"):
        pool.responsive = 1  # type: ignore[assignment]


# -- nothing lost or run twice ------------------------------------------------------


@pytest.mark.usefixtures("fed_by_hand")
@pytest.mark.parametrize("threads", [1, 2, 8])
def test_a_limit_that_moves_while_work_runs_loses_and_repeats_nothing(qtasks_run: Any, threads: int) -> None:
    """Starved and calm samples fed while work runs: each call and map item runs once, each result arrives."""
    pool = qtasks.Pool(max_threads=threads)
    calls: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()

    def record(x: int) -> int:
        with lock:
            calls[x] += 1
        return x

    # A doubling that holds for a window resets the patience, so the limit keeps moving.
    samples = itertools.cycle([STARVED] + [CALM] * (2 * CALM_WINDOW + 1))
    feeder = QTimer()
    feeder.timeout.connect(lambda: pool._observe_lateness(next(samples)))
    feeder.start(0)
    try:
        runs = [pool.run(record, i) for i in range(300)]
        mapped = pool.map(record, range(300, 600), window=16)
        results = qtasks_run(qtasks.gather(qtasks.gather(*runs), mapped), timeout=60)
    finally:
        feeder.stop()
    assert [list(range(300)), list(range(300, 600))] == results
    assert dict.fromkeys(range(600), 1) == dict(calls)
    assert [] == pool.shutdown(timeout=10)


# -- the throttle: how samples become a limit --------------------------------------


def test_one_worker_holding_the_gil_keeps_the_limit_at_one() -> None:
    """Samples a switch interval late, which one worker running Python causes, never raise the limit."""
    throttle = Throttle(lambda: 2)
    assert 1 == throttle.observe(STARVED)
    assert {1} == {throttle.observe(sys.getswitchinterval()) for _ in range(10 * CALM_WINDOW)}


def test_a_doubling_that_starves_the_gui_thread_makes_the_next_wait_twice_as_long() -> None:
    """After a doubling is followed by a starved sample, the next doubling needs twice the calm samples."""
    throttle = Throttle(lambda: 2)
    assert 1 == throttle.observe(STARVED)
    assert [1] * (CALM_WINDOW - 1) + [UNLIMITED] == [throttle.observe(CALM) for _ in range(CALM_WINDOW)]
    assert 1 == throttle.observe(STARVED)
    calm = [throttle.observe(CALM) for _ in range(2 * CALM_WINDOW)]
    assert [1] * (2 * CALM_WINDOW - 1) + [UNLIMITED] == calm


def test_the_limit_halves_from_the_thread_count_and_doubles_back_up_to_it() -> None:
    """On eight threads, starved samples give 4, 2, 1; calm ones 2, 4, then every thread."""
    throttle = Throttle(lambda: 8)
    assert [4, 2, 1, 1] == [throttle.observe(STARVED) for _ in range(4)]
    raised = []
    for _ in range(3):
        raised.append([throttle.observe(CALM) for _ in range(CALM_WINDOW)][-1])
    assert [2, 4, UNLIMITED] == raised
