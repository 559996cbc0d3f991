"""sleep, wait_signal, timeout, and progress seen from the GUI thread."""

from __future__ import annotations

import math
import re
import threading
import time
from typing import Any

import pytest
from qt import CLICKED_ARGS, CLICKED_NAME, EMITTER_PAIR, QPushButton, QTimer, receivers, sip
from support import Emitter, Gate

import qtasks
from qtasks import _qt, _runtime


def live_timers() -> list[QTimer]:
    """Return qtasks' timers that are still running."""
    bridge = _runtime.bridge()
    return [timer for timer in bridge.findChildren(QTimer) if timer.isActive()]


# -- sleep --------------------------------------------------------------------


def test_sleep_resumes_the_coroutine(qtasks_run: Any) -> None:
    """A coroutine resumes after yielding qtasks.sleep()."""
    log: list[str] = []

    @qtasks.coroutine
    async def body() -> str:
        log.append("before")
        await qtasks.sleep(0.01)
        log.append("after")
        return "slept"

    assert "slept" == qtasks_run(body())
    assert ["before", "after"] == log


def test_sleep_zero_finishes_on_a_later_turn(qtasks_run: Any) -> None:
    """sleep(0) is pending when returned and finishes on a later event-loop turn."""
    task = qtasks.sleep(0)
    assert not task.done()
    assert qtasks_run(task) is None


def test_sleep_lasts_at_least_its_duration(qtasks_run: Any) -> None:
    """sleep(s) resumes no sooner than s seconds later, by a monotonic clock."""
    start = time.monotonic()
    qtasks_run(qtasks.sleep(0.05))
    assert time.monotonic() - start >= 0.05


def test_sleep_cancel_leaves_no_active_timer() -> None:
    """Cancelling a sleep stops its QTimer: no qtasks timer is left running."""
    task = qtasks.sleep(60)
    assert 1 == len(live_timers())
    assert task.cancel()
    assert [] == live_timers()
    assert task.cancelled()


def test_cancelling_a_coroutine_in_sleep_stops_the_timer(qtbot: Any) -> None:
    """A coroutine cancelled while sleeping leaves no timer and runs its finally."""
    log: list[str] = []

    @qtasks.coroutine
    def body() -> Any:
        try:
            yield qtasks.sleep(60)
        finally:
            log.append("finally")

    handle = body()
    handle.cancel()
    qtbot.waitUntil(handle.done)
    assert ["finally"] == log
    assert [] == live_timers()


@pytest.mark.parametrize("seconds", [-1, -0.001, math.nan])
def test_sleep_rejects_negative_and_nan(seconds: float) -> None:
    """A negative or NaN duration raises ValueError naming the value."""
    with pytest.raises(ValueError, match=rf"qtasks.sleep\({seconds!r}\).*>= 0"):
        qtasks.sleep(seconds)


def test_sleep_rejects_a_non_number() -> None:
    """A duration that is not a number raises TypeError naming it."""
    with pytest.raises(TypeError, match=r"seconds must be a number, got '1'"):
        qtasks.sleep("1")  # type: ignore[arg-type]


def test_sleep_off_the_gui_thread_says_where_to_call_it(qtasks_run: Any) -> None:
    """sleep() from a worker thread raises RuntimeError instead of a timer that never fires."""
    with pytest.raises(RuntimeError, match=r"off the GUI thread"):
        qtasks_run(qtasks.run(qtasks.sleep, 1))


def test_sleeps_can_be_gathered(qtasks_run: Any) -> None:
    """Sleeps are tasks: gather waits for all of them."""
    assert [None, None] == qtasks_run(qtasks.gather(qtasks.sleep(0.01), qtasks.sleep(0.02)))


# -- wait_signal --------------------------------------------------------------


def test_wait_signal_on_clicked_in_time(qtbot: Any, qtasks_run: Any) -> None:
    """A button clicked within the 1 s timeout resumes the coroutine with clicked's arguments."""
    button = QPushButton("OK")
    qtbot.addWidget(button)

    @qtasks.coroutine
    def body() -> Any:
        return (yield qtasks.wait_signal(button.clicked, timeout=1))

    handle = body()
    QTimer.singleShot(0, button.click)
    assert CLICKED_ARGS == qtasks_run(handle)
    assert [] == live_timers()
    assert 0 == receivers(button, button.clicked)


def test_wait_signal_on_clicked_times_out(qtbot: Any, qtasks_run: Any) -> None:
    """A button not clicked within the 1 s timeout raises qtasks.TimeoutError naming the signal."""
    button = QPushButton("OK")
    qtbot.addWidget(button)

    @qtasks.coroutine
    def body() -> Any:
        try:
            yield qtasks.wait_signal(button.clicked, timeout=1)
        except qtasks.TimeoutError as exc:
            return str(exc)
        return "clicked"

    message = qtasks_run(body())
    assert CLICKED_NAME in message
    assert "not emitted within 1 s" in message
    assert 0 == receivers(button, button.clicked)


def test_wait_signal_gives_every_argument(qtasks_run: Any) -> None:
    """The result is the tuple of the signal's arguments."""
    emitter = Emitter()
    task = qtasks.wait_signal(emitter.pair)
    emitter.pair.emit(7, "seven")
    assert (7, "seven") == qtasks_run(task)


def test_wait_signal_cancel_disconnects(qtasks_run: Any) -> None:
    """Cancelling a wait_signal disconnects it and stops its timer."""
    emitter = Emitter()
    task = qtasks.wait_signal(emitter.pair, timeout=30)
    assert 1 == receivers(emitter, emitter.pair)
    assert task.cancel()
    assert 0 == receivers(emitter, emitter.pair)
    assert [] == live_timers()


@pytest.mark.parametrize("how", ["sip.delete", "deleteLater"])
def test_wait_signal_fails_when_the_sender_is_deleted(qtbot: Any, qtasks_run: Any, how: str) -> None:
    """Deleting the sender fails the wait with an error naming the signal, instead of hanging."""
    emitter = Emitter()
    task = qtasks.wait_signal(emitter.pair)
    if how == "sip.delete":
        sip.delete(emitter)
    else:
        emitter.deleteLater()
    with pytest.raises(RuntimeError, match=rf"wait_signal\({re.escape(EMITTER_PAIR)}\).*sender was deleted"):
        qtasks_run(task)


def test_wait_signal_rejects_an_unbound_signal() -> None:
    """A signal of a class, not of an object, raises TypeError saying what to pass."""
    with pytest.raises(TypeError, match=r"needs a bound signal such as button.clicked"):
        qtasks.wait_signal(Emitter.pair)  # type: ignore[arg-type]


def test_wait_signal_rejects_a_negative_timeout() -> None:
    """A negative timeout raises ValueError naming it."""
    emitter = Emitter()
    with pytest.raises(ValueError, match=r"got -1"):
        qtasks.wait_signal(emitter.pair, timeout=-1)


# -- timeout ------------------------------------------------------------------


def test_timeout_gives_the_result_in_time(qtasks_run: Any) -> None:
    """timeout() gives the awaitable's result when it finishes in time."""
    assert 5 == qtasks_run(qtasks.timeout(5, qtasks.run(abs, -5)))


def test_timeout_raises_and_cancels_the_awaitable(qtasks_run: Any) -> None:
    """Past the deadline, timeout() raises qtasks.TimeoutError and cancels the awaitable."""
    gate = Gate()
    slow = qtasks.run(gate)
    with pytest.raises(qtasks.TimeoutError, match=r"did not finish in time"):
        qtasks_run(qtasks.timeout(0.05, slow))
    assert slow.cancelled()
    gate.opened.set()


def test_timeout_passes_the_awaitables_exception_on(qtasks_run: Any) -> None:
    """The awaitable's own exception comes through timeout() unchanged."""
    with pytest.raises(ValueError, match=r"invalid literal"):
        qtasks_run(qtasks.timeout(5, qtasks.run(int, "x")))


def test_timeout_of_a_coroutine_in_a_coroutine(qtasks_run: Any) -> None:
    """A coroutine can bound another coroutine with timeout() and catch the TimeoutError."""
    log: list[str] = []

    @qtasks.coroutine
    async def slow() -> None:
        try:
            await qtasks.sleep(60)
        finally:
            log.append("slow cleaned up")

    @qtasks.coroutine
    async def body() -> str:
        try:
            await qtasks.timeout(0.01, slow())
        except qtasks.TimeoutError:
            return "timed out"
        return "finished"

    assert "timed out" == qtasks_run(body())
    qtasks_run(qtasks.sleep(0))
    assert ["slow cleaned up"] == log


def test_timeout_of_a_finished_task_gives_its_result_even_at_zero(qtasks_run: Any) -> None:
    """timeout() of an awaitable that is already done gives its result, starting no timer."""
    done = qtasks.run(abs, -3)
    qtasks_run(done)
    bounded = qtasks.timeout(0, done)
    assert [] == live_timers()
    assert 3 == qtasks_run(bounded)


def test_timeout_starts_a_coroutine_object_and_cancels_it_at_the_deadline(qtasks_run: Any) -> None:
    """A bare coroutine object given to timeout() runs, and is cancelled (finally runs) at the deadline."""
    log: list[str] = []

    async def slow() -> None:
        log.append("started")
        try:
            await qtasks.sleep(60)
        finally:
            log.append("cleaned up")

    with pytest.raises(qtasks.TimeoutError, match=r"did not finish in time"):
        qtasks_run(qtasks.timeout(0.01, slow()))
    qtasks_run(qtasks.sleep(0))
    assert ["started", "cleaned up"] == log


def test_cancelling_a_timeout_cancels_the_awaitable() -> None:
    """Cancelling the timeout task cancels what it waits for and its timer."""
    inner = qtasks.sleep(60)
    bounded = qtasks.timeout(30, inner)
    assert bounded.cancel()
    assert inner.cancelled()
    assert [] == live_timers()


def test_timeout_rejects_bad_arguments() -> None:
    """A NaN duration raises ValueError; a non-awaitable raises TypeError naming it."""
    with pytest.raises(ValueError, match=r"nan"):
        qtasks.timeout(math.nan, qtasks.gather())
    with pytest.raises(TypeError, match=r"'x'.*not awaitable"):
        qtasks.timeout(1, "x")


# -- progress -----------------------------------------------------------------


def test_a_tight_progress_loop_keeps_the_gui_responsive(qtbot: Any, qtasks_run: Any) -> None:
    """A worker reporting progress 10**6 times or more does not starve a 1 ms QTimer; the last value comes."""
    started = threading.Event()
    ticks = [0]

    def tick() -> None:
        ticks[0] += 1

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(1)

    def busy() -> tuple[int, int]:
        # Reports until the GUI thread's timer has fired 20 times during the
        # flood, or gives up after 30 s: a starved timer shows as the give-up.
        started.set()
        first_tick = ticks[0]
        deadline = time.monotonic() + 30
        i = 0
        while i < 10**6 or (ticks[0] - first_tick < 20 and time.monotonic() < deadline):
            qtasks.report_progress(i)
            i += 1
        return i - 1, ticks[0] - first_tick

    task = qtasks.run(busy)
    values: list[int] = []
    task.on_progress(values.append)
    assert started.wait(10)
    last, ticks_during_the_flood = qtasks_run(task, timeout=60)
    timer.stop()
    assert ticks_during_the_flood >= 20
    assert last == values[-1]
    assert values == sorted(values)
    # Coalesced: the listener ran once per GUI turn at most, nowhere near once per report.
    assert len(values) < 10**5


def test_final_progress_arrives_before_done_callbacks(qtasks_run: Any) -> None:
    """The last reported value is delivered before the task's done callbacks run."""
    log: list[object] = []

    def work() -> str:
        for i in range(1000):
            qtasks.report_progress(i)
        return "done"

    task = qtasks.run(work)
    task.on_progress(lambda value: log.append(("progress", value)))
    task.add_done_callback(lambda _task: log.append("done callback"))
    qtasks_run(task)
    qtasks_run(qtasks.sleep(0))
    assert "done callback" == log[-1]
    assert ("progress", 999) == log[-2]


def test_gather_progress_ends_at_n_of_n(qtasks_run: Any) -> None:
    """gather reports (finished, total) as its children end, ending at (n, n)."""
    n = 50
    gathered = qtasks.gather(*(qtasks.run(abs, -i) for i in range(n)))
    seen: list[tuple[int, int]] = []
    gathered.on_progress(seen.append)
    qtasks_run(gathered)
    qtasks_run(qtasks.sleep(0))
    assert (n, n) == seen[-1]
    assert all(total == n for _finished, total in seen)
    assert [finished for finished, _ in seen] == sorted(finished for finished, _ in seen)


def test_nothing_is_reported_by_a_clean_run(qtasks_run: Any, hook_calls: list[BaseException]) -> None:
    """A wait_signal, a sleep and a timeout that all succeed report nothing to sys.excepthook."""
    emitter = Emitter()

    @qtasks.coroutine
    async def body() -> Any:
        waiting = qtasks.wait_signal(emitter.pair, timeout=5)
        emitter.pair.emit(1, "a")
        await qtasks.sleep(0)
        return await qtasks.timeout(5, waiting)

    assert (1, "a") == qtasks_run(body())
    assert [] == hook_calls


def test_wait_signal_emitted_from_a_worker_thread(qtasks_run: Any) -> None:
    """A signal emitted on a pool thread finishes the wait on the GUI thread with its arguments."""
    emitter = Emitter()
    threads: list[int] = []
    task = qtasks.wait_signal(emitter.pair)
    task.add_done_callback(lambda _task: threads.append(threading.get_ident()))
    qtasks_run(qtasks.run(emitter.pair.emit, 3, "three"))
    assert (3, "three") == qtasks_run(task)
    qtasks_run(qtasks.sleep(0))
    assert [threading.get_ident()] == threads


def test_a_sleep_longer_than_one_timer_interval_runs_in_chunks(
    qtasks_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sleep longer than QTimer's largest interval restarts its timer until the time is up."""
    # QTimer takes an int of milliseconds, so sleeps past 2**31 - 1 ms run in
    # several timer runs; a short limit shows the same path in a test's time.
    monkeypatch.setattr(_qt, "_MAX_INTERVAL_MS", 10)
    fired: list[str] = []
    start = time.monotonic()
    task = qtasks.sleep(0.1)
    task.add_done_callback(lambda _task: fired.append("done"))
    assert 1 == len(live_timers())
    qtasks_run(task)
    assert time.monotonic() - start >= 0.1
    qtasks_run(qtasks.sleep(0))
    assert ["done"] == fired


def test_an_infinite_sleep_waits_until_cancelled() -> None:
    """sleep(inf) never fires and starts no timer; cancelling it ends it."""
    task = qtasks.sleep(math.inf)
    assert [] == live_timers()
    assert not task.done()
    assert task.cancel()


@pytest.mark.parametrize("end", ["cancel", "timeout"])
def test_ending_a_wait_right_after_its_sender_was_deleted_is_safe(
    qtasks_run: Any, hook_calls: list[BaseException], end: str
) -> None:
    """Cancelling or timing out a wait whose sender was just deleted neither crashes nor reports."""
    emitter = Emitter()
    task = qtasks.wait_signal(emitter.pair, timeout=0 if end == "timeout" else None)
    sip.delete(emitter)
    if end == "cancel":
        assert task.cancel()
    else:
        with pytest.raises((qtasks.TimeoutError, RuntimeError)):
            qtasks_run(task)
    qtasks_run(qtasks.sleep(0.01))
    assert [] == hook_calls
