"""qtasks.imap and qtasks.stream: order, memory, backpressure, cancellation, failure, testing."""

from __future__ import annotations

import gc
import itertools
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st
from support import double

import qtasks
from qtasks import _runtime, _stream
from qtasks.testing import CANCEL, COMPLETE, FAIL, drive, manual_pool


class Item:
    """A result that can be counted while alive."""

    def __init__(self, value: int) -> None:
        self.value = value


def make_item(value: int) -> Item:
    return Item(value)


def fail_at_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"bad item {x}")
    return x


class Pulls:
    """An endless iterable that counts the items taken from it, and checks a bound at each pull."""

    def __init__(self, bound: Any = None) -> None:
        self.pulled = 0
        self.bound = bound
        self.over: list[int] = []

    def __iter__(self) -> Iterator[int]:
        for i in itertools.count():
            if self.bound is not None and self.pulled - self.bound() >= 0:
                self.over.append(i)
            self.pulled += 1
            yield i


async def collect(stream: qtasks.Stream[Any]) -> list[Any]:
    return [value async for value in stream]


@qtasks.coroutine
def collect_by_next(stream: qtasks.Stream[Any]) -> Any:
    """Take every value with `yield stream.next()` until StopAsyncIteration; return them."""
    values = []
    while True:
        try:
            values.append((yield stream.next()))
        except StopAsyncIteration:
            return values


def numbers(n: int, log: list[str] | None = None) -> Iterator[int]:
    """Yield 0..n-1, noting in `log` where its finally ran."""
    try:
        yield from range(n)
    finally:
        if log is not None:
            log.append("gui" if threading.get_ident() == _runtime.STATE.gui_ident else "worker")


def counting(counter: list[int], n: int | None = None) -> Iterator[int]:
    """Yield 0, 1, ... (n of them, or forever), counting each resumption in counter[0]."""
    for i in itertools.count() if n is None else range(n):
        counter[0] += 1
        yield i


def counting_then_log(counter: list[int], log: list[str]) -> Iterator[int]:
    """Count forever as `counting` does, noting in `log` where its finally ran."""
    try:
        yield from counting(counter)
    finally:
        log.append("gui" if threading.get_ident() == _runtime.STATE.gui_ident else "worker")


# -- imap ---------------------------------------------------------------------------


def test_imap_gives_results_in_input_order(qtasks_run: Any) -> None:
    """`async for` over imap gives the function's values in the order of the input items."""
    stream = qtasks.imap(double, range(5000))
    assert [2 * i for i in range(5000)] == qtasks_run(qtasks.coroutine(collect)(stream))


def test_values_arriving_while_waiting_ones_are_handed_over_come_after_them(
    qtasks_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every waiting value handed over after a turn, values arriving meanwhile still come in order."""
    monkeypatch.setattr(_stream, "CONSUMER_BUDGET_S", 0.0)
    imap = qtasks.imap(double, range(3000))
    assert [2 * i for i in range(3000)] == qtasks_run(qtasks.coroutine(collect)(imap), timeout=30)
    stream = qtasks.stream(numbers, 3000)
    assert list(range(3000)) == qtasks_run(qtasks.coroutine(collect)(stream), timeout=30)


def test_imap_in_a_generator_coroutine_ends_with_stop_async_iteration(qtasks_run: Any) -> None:
    """`value = yield s.next()` gives each result, then raises StopAsyncIteration."""

    assert [2 * i for i in range(10)] == qtasks_run(collect_by_next(qtasks.imap(double, range(10))))


def test_imap_delivers_a_result_once_those_before_it_are_in() -> None:
    """Under a ManualPool, a result finished ahead of an earlier one waits for it, then both come."""
    with manual_pool() as pool:
        log: list[int] = []

        @qtasks.coroutine
        async def consume() -> None:
            async for value in qtasks.imap(double, range(3)):
                log.append(value)

        task = consume()
        first, second = pool.pending
        pool.complete(second)
        assert [] == log
        pool.complete(first)
        assert [0, 2] == log
        pool.run_all()
        assert [0, 2, 4] == log
        assert task.done()


def test_imap_keeps_no_result_after_delivery(qtasks_run: Any) -> None:
    """Results the consumer has taken and dropped are freed while the imap goes on."""
    alive: weakref.WeakSet[Item] = weakref.WeakSet()

    def tracked(value: int) -> Item:
        item = Item(value)
        alive.add(item)
        return item

    @qtasks.coroutine
    async def consume() -> int:
        most = 0
        async for item in qtasks.imap(tracked, range(20_000), window=64):
            del item
            most = max(most, len(alive))
        return most

    most = qtasks_run(consume(), timeout=30)
    # The window, plus the value the consumer's step is handling.
    assert most <= 64 + 1
    gc.collect()
    assert 0 == len(alive)


def test_imap_window_counts_results_not_yet_taken() -> None:
    """A slow first item stops the pulling once `window` items wait behind it, unlike map's window."""
    with manual_pool() as pool:
        source = Pulls()
        stream = qtasks.imap(double, source, window=4)
        for _ in range(10):
            later = pool.pending[1:]
            for task in later:
                pool.complete(task)
        assert 4 == source.pulled
        assert 1 == len(pool.pending)
        stream.cancel()


def test_imap_pulls_only_while_the_consumer_keeps_up(qtasks_run: Any) -> None:
    """At no pull are `window` or more items pulled and not yet taken by the consumer."""
    taken = [0]
    # The value being handed to the loop counts as taken before the loop's body runs.
    source = Pulls(bound=lambda: taken[0] + 1 + 16)

    @qtasks.coroutine
    async def consume() -> None:
        async with qtasks.imap(double, source, window=16) as stream:
            async for _value in stream:
                taken[0] += 1
                if taken[0] % 50 == 0:
                    await qtasks.sleep(0)
                if taken[0] == 2000:
                    break

    qtasks_run(consume(), timeout=30)
    assert [] == source.over
    assert 2000 <= source.pulled <= 2000 + 16


def test_imap_with_no_consumer_stops_pulling_at_the_window() -> None:
    """Results nobody takes hold the pulling at `window` items, whatever the iterable's length."""
    with manual_pool() as pool:
        source = Pulls()
        stream = qtasks.imap(double, source, window=8)
        pool.run_all()
        assert 8 == source.pulled
        assert "8 waiting" in repr(stream)
        stream.cancel()


def test_imap_raises_a_worker_failure_after_the_results_before_it(qtasks_run: Any) -> None:
    """The values of the items before the failing one arrive first, then its exception."""

    @qtasks.coroutine
    async def consume() -> list[Any]:
        values: list[Any] = []
        try:
            async for value in qtasks.imap(fail_at_three, range(100), window=8):
                values.append(value)
        except ValueError as exc:
            values.append(str(exc))
        return values

    assert [0, 1, 2, "bad item 3"] == qtasks_run(consume())


def test_imap_under_a_manual_pool_makes_each_item_a_pending_task() -> None:
    """Each item is a task the test completes; cancelling the stream cancels them."""
    with manual_pool() as pool:
        stream = qtasks.imap(double, range(3), window=3)
        assert 3 == len(pool.pending)
        stream.cancel()
        assert [] == pool.pending


def test_imap_reports_progress_as_map_does() -> None:
    """on_progress gets (finished, total) once the iterable's end is found, as map's does."""
    with manual_pool() as pool:
        seen: list[object] = []
        stream = qtasks.imap(double, range(2), window=3)
        stream.on_progress(seen.append)
        first, second = pool.pending
        pool.complete(first)
        pool.complete(second)
        assert [(1, 2), (2, 2)] == seen
        stream.cancel()


def test_pool_imap_runs_on_that_pool(qtasks_run: Any) -> None:
    """Pool.imap runs the function on the pool it is called on."""
    pool = qtasks.Pool(max_threads=1)
    assert [0, 2, 4] == qtasks_run(qtasks.coroutine(collect)(pool.imap(double, range(3))))


# -- stream ---------------------------------------------------------------------------


def test_stream_gives_every_value_once_in_order(qtasks_run: Any) -> None:
    """Every value the generator yields reaches the consumer, in order, exactly once."""
    stream = qtasks.stream(numbers, 10_000)
    assert list(range(10_000)) == qtasks_run(qtasks.coroutine(collect)(stream), timeout=30)


def test_stream_in_a_generator_coroutine(qtasks_run: Any) -> None:
    """`value = yield s.next()` gives the values, then StopAsyncIteration."""

    assert [0, 1, 2, 3, 4] == qtasks_run(collect_by_next(qtasks.stream(numbers, 5, buffer=2)))


def test_stream_suspends_the_generator_while_the_buffer_is_full(qtasks_run: Any, qtbot: Any) -> None:
    """With nobody consuming, the generator is resumed exactly `buffer` times, and holds no thread then."""
    pool = qtasks.Pool(max_threads=1)
    counter = [0]
    stream = pool.stream(counting, counter, buffer=5)
    qtbot.waitUntil(lambda: counter[0] == 5)
    # Why: the pool's one thread must be free while the generator waits.
    assert 42 == qtasks_run(pool.run(double, 21))
    assert 5 == counter[0]
    stream.cancel()


def test_idle_streams_leave_threads_to_other_work(qtasks_run: Any, qtbot: Any) -> None:
    """Several streams with full buffers on a one-thread pool do not keep a run() from finishing."""
    pool = qtasks.Pool(max_threads=1)
    counters = [[0] for _ in range(4)]
    streams = [pool.stream(counting, counter, buffer=3) for counter in counters]
    qtbot.waitUntil(lambda: all(counter == [3] for counter in counters))
    assert 42 == qtasks_run(pool.run(double, 21))
    for stream in streams:
        stream.cancel()


def make_items(alive: weakref.WeakSet[Item], n: int) -> Iterator[Item]:
    """Yield `n` Items, each added to `alive`, keeping none once yielded."""
    for i in range(n):
        yield tracked_item(alive, i)


def tracked_item(alive: weakref.WeakSet[Item], value: int) -> Item:
    item = Item(value)
    alive.add(item)
    return item


def test_a_consumer_keeping_pace_never_has_more_than_buffer_values_waiting(qtasks_run: Any) -> None:
    """At the default buffer, values produced and not yet taken never exceed 16, counted alive.

    One more may be alive: the value a waiting consumer was resumed with is
    referenced by the scheduler's step until that step ends, and the consumer
    may take many buffered values within it.
    """
    alive: weakref.WeakSet[Item] = weakref.WeakSet()

    @qtasks.coroutine
    async def consume() -> tuple[list[int], int]:
        values = []
        most = 0
        async for item in qtasks.stream(make_items, alive, 20_000):
            values.append(item.value)
            del item
            most = max(most, len(alive))
        return values, most

    values, most = qtasks_run(consume(), timeout=30)
    assert list(range(20_000)) == values
    assert most <= 16 + 1


def test_a_stream_consumed_as_fast_as_it_produces_leaves_its_thread_to_other_work(
    qtasks_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a one-thread pool, a run() submitted while an endless stream is consumed still finishes."""
    # Why: a run then never stops lingering for lack of room, only for its slice.
    monkeypatch.setattr(_stream, "LINGER_S", 60.0)
    pool = qtasks.Pool(max_threads=1)
    counter = [0]
    stop = [False]

    @qtasks.coroutine
    async def consume() -> None:
        async with pool.stream(counting, counter) as stream:
            async for _value in stream:
                if stop[0]:
                    break

    @qtasks.coroutine
    async def run_beside() -> int:
        consumer = consume()
        while counter[0] < 1000:
            await qtasks.sleep(0)
        try:
            return await pool.run(double, 21)
        finally:
            stop[0] = True
            await consumer

    assert 42 == qtasks_run(run_beside(), timeout=30)


def test_stream_resumes_when_the_consumer_drains(qtasks_run: Any) -> None:
    """A consumer taking values slowly still gets every value, the generator paused in between."""
    counter = [0]

    @qtasks.coroutine
    async def consume() -> list[int]:
        values = []
        async for value in qtasks.stream(counting, counter, 100, buffer=4):
            values.append(value)
            assert counter[0] - len(values) <= 4
            await qtasks.sleep(0)
        return values

    assert list(range(100)) == qtasks_run(consume())


def test_stream_raises_the_generator_failure_after_its_values(qtasks_run: Any) -> None:
    """Values yielded before the generator raised arrive first, then its own exception."""

    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("camera unplugged")

    @qtasks.coroutine
    async def consume() -> list[Any]:
        values: list[Any] = []
        try:
            async for value in qtasks.stream(failing):
                values.append(value)
        except OSError as exc:
            values.append(str(exc))
        return values

    assert [1, 2, "camera unplugged"] == qtasks_run(consume())


def test_stream_reports_progress_and_sees_its_cancel(qtasks_run: Any, qtbot: Any) -> None:
    """report_progress() reaches on_progress; check_cancelled() stops the generator once cancelled."""
    seen: list[object] = []
    ended = threading.Event()

    def ticking() -> Iterator[int]:
        try:
            for i in itertools.count():
                qtasks.report_progress(i)
                qtasks.check_cancelled()
                if i < 3:
                    yield i
        finally:
            ended.set()

    stream = qtasks.stream(ticking)
    stream.on_progress(seen.append)
    qtbot.waitUntil(lambda: len(seen) > 0)
    stream.cancel()
    assert ended.wait(10)
    qtbot.waitUntil(lambda: not qtasks.running())


def test_cancel_closes_a_parked_generator_on_a_worker_thread(qtbot: Any) -> None:
    """A generator waiting for the consumer gets GeneratorExit on a worker, not on the GUI thread."""
    log: list[str] = []
    counter = [0]
    stream = qtasks.stream(counting_then_log, counter, log, buffer=2)
    qtbot.waitUntil(lambda: counter[0] == 2)
    assert stream.cancel()
    qtbot.waitUntil(lambda: log == ["worker"])


def test_a_dropped_stream_is_cancelled_and_closed_on_a_worker(qtbot: Any) -> None:
    """Dropping the last reference to a stream cancels it; the generator's finally runs on a worker."""
    log: list[str] = []
    counter = [0]
    stream = qtasks.stream(counting_then_log, counter, log, buffer=2)
    qtbot.waitUntil(lambda: counter[0] == 2)
    del stream
    gc.collect()
    qtbot.waitUntil(lambda: log == ["worker"])
    qtbot.waitUntil(lambda: not qtasks.running())


@pytest.mark.parametrize("how", ["qtasks.shutdown", "Pool.shutdown"])
def test_shutdown_closes_a_waiting_generator_on_a_worker_thread(qtbot: Any, how: str) -> None:
    """Shutdown closes a generator waiting for its consumer on a worker, and returns once its finally ran."""
    log: list[str] = []
    counter = [0]
    pool = qtasks.Pool(max_threads=1)
    stream = pool.stream(counting_then_log, counter, log, buffer=2)
    # Its run has ended: the generator waits, holding no thread.
    qtbot.waitUntil(lambda: counter[0] == 2 and pool.qthreadpool.activeThreadCount() == 0)
    still_running = qtasks.shutdown(timeout=10) if how == "qtasks.shutdown" else pool.shutdown(timeout=10)
    assert [] == still_running
    assert ["worker"] == log
    assert "cancelled" in repr(stream)


def test_a_dropped_imap_stops_pulling() -> None:
    """Dropping an imap's stream cancels its items: no more are pulled or run."""
    with manual_pool() as pool:
        source = Pulls()
        stream = qtasks.imap(double, source, window=2)
        del stream
        gc.collect()
        assert [] == pool.pending
        assert 2 == source.pulled


def test_leaving_with_or_async_with_closes_the_stream(qtasks_run: Any, qtbot: Any) -> None:
    """`with` and `async with` give the stream and close it on leaving, mid-way too."""
    log: list[str] = []

    @qtasks.coroutine
    async def consume() -> list[int]:
        values = []
        async with qtasks.stream(numbers, 100, log, buffer=4) as stream:
            async for value in stream:
                values.append(value)
                if value == 2:
                    break
        with qtasks.stream(numbers, 100, log, buffer=4) as other:
            values.append(await other.next())
        return values

    assert [0, 1, 2, 0] == qtasks_run(consume())
    qtbot.waitUntil(lambda: log == ["worker", "worker"])


def test_a_queued_stream_cancelled_never_runs() -> None:
    """Cancelled before a thread picks it up, the generator never starts."""
    with manual_pool() as pool:
        log: list[str] = []
        stream = qtasks.stream(numbers, 10, log)
        assert 1 == len(pool.pending)
        stream.cancel()
        assert [] == pool.pending
        assert [] == log


def test_a_cancelled_consumer_gets_cancelled_error(qtasks_run: Any) -> None:
    """Cancelling the stream while a consumer waits on it raises CancelledError in the consumer."""
    with manual_pool() as pool:
        stream = qtasks.stream(numbers, 10)

        @qtasks.coroutine
        async def consume() -> Any:
            return await stream.next()

        task = consume()
        stream.cancel()
        _runtime.bridge().run_pending()
        assert task.cancelled()
        assert [] == pool.pending


@pytest.fixture
def long_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test take waiting values for a minute: a loaded machine may pause it past a step's budget."""
    monkeypatch.setattr(_stream, "CONSUMER_BUDGET_S", 60.0)


@pytest.mark.usefixtures("long_budget")
def test_next_returns_a_finished_handle_when_a_value_waits() -> None:
    """A buffered value comes back in a finished handle whose await does not suspend."""
    with manual_pool() as pool:
        stream = qtasks.stream(numbers, 3, buffer=2)
        pool.run_all()
        handle = stream.next()
        assert handle.done()
        assert 0 == handle.result()
        awaiting = stream.__anext__().__await__()
        with pytest.raises(StopIteration) as stop:
            next(awaiting)
        assert 1 == stop.value.value
        stream.cancel()
        pool.run_all()


def test_a_long_run_of_buffered_values_lets_qt_in(qtasks_run: Any, qtbot: Any) -> None:
    """A consumer whose values all wait already still lets a Qt timer fire before it is through them."""
    from qt import QTimer

    log: list[object] = []
    stream = qtasks.stream(numbers, 50, buffer=50)
    qtbot.waitUntil(lambda: "50 waiting" in repr(stream))

    @qtasks.coroutine
    async def consume() -> None:
        async for value in stream:
            log.append(value)
            end = time.perf_counter() + 0.001  # a loop body that takes a millisecond
            while time.perf_counter() < end:
                pass

    QTimer.singleShot(0, lambda: log.append("timer"))
    qtasks_run(consume())
    assert log.index("timer") < log.index(49)


# -- testing a stream under a ManualPool ----------------------------------------------------


@pytest.mark.usefixtures("long_budget")
def test_completing_a_stream_task_runs_the_generator_up_to_the_buffer() -> None:
    """Under a ManualPool, completing the stream's task runs the generator on the test's thread until full."""
    with manual_pool() as pool:
        counter = [0]
        stream = qtasks.stream(counting, counter, buffer=3)
        assert 0 == counter[0]
        [task] = pool.pending
        pool.complete(task)
        assert 3 == counter[0]
        assert [] == pool.pending
        stream.next()
        assert [] == pool.pending
        stream.next()
        [again] = pool.pending
        pool.complete(again)
        assert 5 == counter[0]
        stream.cancel()
        pool.run_all()


@hypothesis.settings(max_examples=30, deadline=None)
@hypothesis.given(data=st.data())
def test_drive_covers_imap_and_stream(data: st.DataObject) -> None:
    """Whatever drive() does to their tasks, both streams end, and complete outcomes are all in order."""
    with manual_pool() as pool:
        got: dict[str, list[Any]] = {"imap": [], "stream": []}
        ends: dict[str, str] = {}

        @qtasks.coroutine
        async def consume(name: str, stream: qtasks.Stream[int]) -> None:
            try:
                async for value in stream:
                    got[name].append(value)
                ends[name] = "done"
            except qtasks.CancelledError:
                ends[name] = "cancelled"
                raise
            except RuntimeError:
                ends[name] = "failed"

        consume("imap", qtasks.imap(double, range(6), window=3))
        consume("stream", qtasks.stream(numbers, 6, buffer=2))
        steps = drive(pool, data, outcomes=(COMPLETE, COMPLETE, COMPLETE, FAIL, CANCEL))
        assert {"imap": ends["imap"], "stream": ends["stream"]} == ends
        for name, expected in (("imap", [2 * i for i in range(6)]), ("stream", list(range(6)))):
            assert expected[: len(got[name])] == got[name]
            if ends[name] == "done":
                assert expected == got[name]
        if all(step.outcome == COMPLETE for step in steps):
            assert {"imap": "done", "stream": "done"} == ends


def test_repr_names_the_producer_and_the_counts() -> None:
    """A stream's repr says what produces it, its state and how many values wait."""
    with manual_pool() as pool:
        stream = qtasks.stream(numbers, 3, buffer=2)
        pool.run_all()
        assert "<qtasks.Stream stream numbers() running, 0 taken, 2 waiting>" == repr(stream)
        stream.cancel()
        pool.run_all()
