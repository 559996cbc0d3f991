"""qtasks.map: order, laziness, the window, chunking, cancellation, failure, fairness."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from qt import QRunnable, QThreadPool
from support import Gate, double

import qtasks
from qtasks import _map, _pool, _runtime
from qtasks._map import MapTask
from qtasks._pool import set_default_pool
from qtasks.testing import manual_pool


def fail_at_ten(x: int) -> int:
    if x == 10:
        raise ValueError(f"bad item {x}")
    return x


class Gates:
    """A worker function that runs one item per permit the test releases."""

    def __init__(self) -> None:
        self.permits = threading.Semaphore(0)
        self.entered = threading.Semaphore(0)
        self.log: list[object] = []

    def __call__(self, item: object) -> object:
        self.entered.release()
        self.permits.acquire(timeout=10)
        self.log.append(item)
        return item

    def open_all(self) -> None:
        self.permits.release(1_000_000)


class Counted:
    """An iterable that counts the items taken from it, on any thread."""

    def __init__(self, items: Iterator[Any]) -> None:
        self.items = items
        self.pulled = 0

    def __iter__(self) -> Iterator[Any]:
        for item in self.items:
            self.pulled += 1
            yield item


def test_results_come_in_input_order(qtasks_run: Any) -> None:
    """The results list the function's values in the order of the input items."""
    assert [2 * i for i in range(1000)] == qtasks_run(qtasks.map(double, range(1000)))


def test_map_of_nothing_is_an_empty_list(qtasks_run: Any) -> None:
    """A map over an empty iterable finishes with []."""
    assert [] == qtasks_run(qtasks.map(double, []))


def test_many_tiny_items_are_chunked_and_equal_the_builtin_map(qtasks_run: Any) -> None:
    """A hundred thousand tiny items give exactly what the builtin map gives."""
    expected = list(map(double, range(100_000)))
    assert expected == qtasks_run(qtasks.map(double, range(100_000)), timeout=60)


def test_tiny_items_run_in_chunks_of_more_than_one(qtasks_run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first measurements, short items are grouped several per chunk."""
    # Why count the chunks, not read the last chunk size: the last chunk may
    # hold a few items and be measured across a thread switch, which makes
    # that one measurement slow.
    pool = qtasks.Pool(max_threads=2)
    sizes: list[int] = []
    submit = pool._submit

    def counting_submit(item: Any, key: object = None) -> None:
        sizes.append(item._count)
        submit(item, key)

    monkeypatch.setattr(pool, "_submit", counting_submit)
    assert list(map(double, range(100_000))) == qtasks_run(pool.map(double, range(100_000)), timeout=60)
    assert len(sizes) < 100_000 // 4
    assert [] == pool.shutdown(timeout=10)


def test_map_awaited_from_a_coroutine(qtasks_run: Any) -> None:
    """A coroutine can yield a map and get the list back."""

    @qtasks.coroutine
    async def body() -> list[int]:
        return await qtasks.map(double, iter([1, 2, 3]))

    assert [2, 4, 6] == qtasks_run(body())


def test_an_endless_generator_is_pulled_lazily_and_cancel_stops_it(qtasks_run: Any) -> None:
    """An infinite generator is pulled only as far as the window, and after cancel it is pulled no more."""
    gates = Gates()
    source = Counted(itertools.count())
    task = qtasks.map(gates, source, window=4)
    assert gates.entered.acquire(timeout=10)
    assert 4 == source.pulled
    assert task.cancel()
    gates.open_all()
    assert task.cancelled()
    with pytest.raises(qtasks.CancelledError):
        qtasks_run(task)
    # The items already running finish and are delivered here; none frees room for more pulls.
    assert [] == qtasks.shutdown(timeout=10)
    assert 4 == source.pulled


def test_an_endless_generator_ends_on_the_first_failure(qtasks_run: Any) -> None:
    """An infinite generator stops being pulled when an item fails; the map raises it."""
    with pytest.raises(ValueError, match="bad item 10"):
        qtasks_run(qtasks.map(fail_at_ten, itertools.count()), timeout=30)


def test_failure_carries_the_worker_exception_and_stops_pulling(qtasks_run: Any, qapp: Any) -> None:
    """The first failure fails the map with the worker's own exception; no more items are pulled."""
    pulled: list[int] = []
    later = threading.Event()

    def source() -> Iterator[int]:
        for i in range(100_000):
            pulled.append(i)
            yield i

    def fail_at_ten_before_later_items(x: int) -> int:
        # Why: a result that arrives frees a place in the window even when an
        # earlier item is still running, so items after the failing one, had
        # they finished first, would let the map pull more than this bound.
        if x > 10:
            later.wait(10)
        return fail_at_ten(x)

    task = qtasks.map(fail_at_ten_before_later_items, source(), window=8)
    try:
        with pytest.raises(ValueError, match="bad item 10") as info:
            qtasks_run(task)
    finally:
        later.set()
    pulled_at_failure = len(pulled)
    assert "fail_at_ten" == info.traceback[-1].name
    assert pulled_at_failure <= 10 + 1 + 8
    # The items that waited now end; their late results must not pull more.
    assert QThreadPool.globalInstance().waitForDone(10_000)
    for _ in range(5):
        qapp.processEvents()
    assert pulled_at_failure == len(pulled)


def test_the_iterable_failing_fails_the_map(qtasks_run: Any) -> None:
    """An exception raised by the iterable itself fails the map with that exception."""

    def source() -> Iterator[int]:
        yield 1
        raise KeyError("source broke")

    with pytest.raises(KeyError, match="source broke"):
        qtasks_run(qtasks.map(double, source()))


def test_the_iterable_raising_cancelled_error_cancels_the_map(qtasks_run: Any) -> None:
    """An iterable raising qtasks.CancelledError ends the map cancelled, as a function raising it would."""

    def source() -> Iterator[int]:
        yield 1
        raise qtasks.CancelledError

    task = qtasks.map(double, source())
    with pytest.raises(qtasks.CancelledError):
        qtasks_run(task)
    assert task.cancelled()


def test_window_bounds_items_pulled_but_not_collected(qtasks_run: Any) -> None:
    """Items pulled whose results are not yet collected never exceed the window."""
    window = 5
    holder: list[MapTask] = []
    overshoot: list[int] = []
    threads_seen: set[int] = set()

    def source() -> Iterator[int]:
        for i in range(2000):
            threads_seen.add(threading.get_ident())
            if holder:
                overshoot.append(i - holder[0]._collected)
            yield i

    gates = Gates()
    task = qtasks.map(gates, source(), window=window)
    holder.append(task)
    assert gates.entered.acquire(timeout=10)
    assert window == task._pulled
    gates.open_all()
    assert list(range(2000)) == qtasks_run(task, timeout=30)
    assert max(overshoot) < window
    assert {threading.get_ident()} == threads_seen


def test_default_window_is_two_items_per_thread_for_slow_items(qtasks_run: Any) -> None:
    """With no window and nothing measured yet, two items per thread are pulled."""
    pool = qtasks.Pool(max_threads=3)
    gates = Gates()
    source = Counted(itertools.count())
    task = pool.map(gates, source)
    assert 6 == source.pulled
    task.cancel()
    gates.open_all()
    pool.shutdown(timeout=10)


def test_cancel_drops_queued_chunks_before_they_run(qtasks_run: Any) -> None:
    """Cancelling the map means its queued chunks never run."""
    pool = qtasks.Pool(max_threads=1)
    gates = Gates()
    task = pool.map(gates, range(100), window=10)
    assert gates.entered.acquire(timeout=10)
    assert task.cancel()
    gates.open_all()
    # Why not a probe run() behind it: lanes take turns, so a probe may run
    # before the map's chunks would have. An idle pool has run all it will.
    assert pool.qthreadpool.waitForDone(10_000)
    assert [0] == gates.log
    assert not task.cancel()


def test_running_chunks_see_the_cancel_flag(qtasks_run: Any) -> None:
    """A function running when the map is cancelled sees it through check_cancelled()."""
    seen: list[bool] = []
    gate = threading.Event()
    entered = threading.Event()

    def body(item: int) -> int:
        entered.set()
        gate.wait(10)
        seen.append(qtasks.cancel_requested())
        qtasks.check_cancelled()
        return item

    pool = qtasks.Pool(max_threads=1)
    task = pool.map(body, range(3), window=1)
    assert entered.wait(10)
    task.cancel()
    gate.set()
    assert pool.qthreadpool.waitForDone(10_000)  # and no later item of the map ran
    assert [True] == seen


def test_progress_reports_finished_and_total(qtasks_run: Any) -> None:
    """Progress is (finished, total), total None until the iterable ends; the last is (n, n)."""
    values: list[tuple[int, int | None]] = []
    task = qtasks.map(double, iter(range(500)), window=4)
    task.on_progress(values.append)
    qtasks_run(task)
    _runtime.bridge().run_pending()
    assert (500, 500) == values[-1]
    assert all(total is None or total == 500 for _, total in values)


def test_last_progress_names_the_total_when_the_end_is_found_late(qtasks_run: Any) -> None:
    """When the last chunk fills its window exactly, the final progress still says (n, n)."""
    values: list[tuple[int, int | None]] = []
    task = qtasks.map(double, iter(range(8)), window=1)
    task.on_progress(values.append)
    qtasks_run(task)
    _runtime.bridge().run_pending()
    assert (8, 8) == values[-1]


def test_a_single_run_is_not_starved_by_a_big_map(qtasks_run: Any) -> None:
    """A run() from another coroutine starts after at most a few map items, not after the map."""
    pool = qtasks.Pool(max_threads=1)
    gates = Gates()
    # Why a window: hundreds of chunks wait ahead of the single run, each of
    # one item (nothing is measured before the first item ends), so the count
    # below depends on which chunk the pool takes next, not on how far the
    # adaptive chunk size has grown by then.
    mapped = pool.map(gates, range(100_000), window=1000)
    assert gates.entered.acquire(timeout=10)

    @qtasks.coroutine
    def other() -> Any:
        return (yield pool.run(gates, "single"))

    single = other()
    gates.permits.release(100)  # fewer than the map's items: it cannot end before it is cancelled
    assert "single" == qtasks_run(single, timeout=30)
    mapped.cancel()
    gates.open_all()
    before = gates.log.index("single")
    assert before <= 4


def test_bad_arguments_name_the_fix() -> None:
    """Non-callables, non-iterables and bad windows are refused with a message saying why."""
    with pytest.raises(TypeError, match="needs a callable"):
        qtasks.map(42, [1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs an iterable"):
        qtasks.map(double, 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window must be"):
        qtasks.map(double, [1], window=0)


def test_repr_names_the_function_and_progress(qtasks_run: Any) -> None:
    """The repr says which function runs, over how many items, and how many are done."""
    task = qtasks.map(double, range(3))
    qtasks_run(task)
    assert "<MapTask double() over 3 item(s) finished>" == repr(task)


class RunOnlyPool:
    """A pool that is not a qtasks.Pool: it counts run() calls and hands them to one."""

    def __init__(self) -> None:
        self.inner = qtasks.Pool(max_threads=2)
        self.max_threads = 2
        self.runs = 0

    def run(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.runs += 1
        return self.inner.run(fn, *args, **kwargs)


def test_map_works_over_a_default_pool_that_only_has_run(qtasks_run: Any) -> None:
    """qtasks.map runs its chunks through run() when the default pool is not a qtasks.Pool."""
    pool = RunOnlyPool()
    previous = set_default_pool(pool)
    try:
        task = qtasks.map(double, range(5000))
        assert [2 * i for i in range(5000)] == qtasks_run(task, timeout=30)
        runs_before = pool.runs
        gates = Gates()
        endless = qtasks.map(gates, itertools.count(), window=1)
        assert gates.entered.acquire(timeout=10)
        endless.cancel()
        gates.open_all()
        # The gated item is still finishing on its worker: wait for the pool to go idle.
        assert [] == pool.inner.shutdown(timeout=10)
    finally:
        set_default_pool(previous)
    assert 0 < runs_before < 5000 + 1
    assert 1 == pool.runs - runs_before, "the cancelled map submitted a second chunk"
    assert [0] == gates.log


def test_an_iterable_that_cancels_its_map_submits_nothing_more(qtasks_run: Any) -> None:
    """A generator that cancels its map while being pulled gets no chunk submitted for that pull."""
    holder: list[MapTask] = []
    ran: list[int] = []

    def record(x: int) -> int:
        ran.append(x)
        return x

    def source() -> Iterator[int]:
        yield 0
        yield 1
        holder[0].cancel()
        yield 2

    pool = qtasks.Pool(max_threads=1)
    task = pool.map(record, source(), window=2)
    holder.append(task)
    with pytest.raises(qtasks.CancelledError):
        qtasks_run(task)
    # Lanes take turns, so a probe run() could pass a chunk queued wrongly: wait for the pool to go idle.
    assert pool.qthreadpool.waitForDone(10_000)
    assert 2 not in ran


def test_a_single_run_is_not_starved_by_a_big_gather(qtasks_run: Any) -> None:
    """A run() from another coroutine starts after at most a few items of a 10**4-task gather."""
    pool = qtasks.Pool(max_threads=1)
    gates = Gates()

    @qtasks.coroutine
    def fan_out() -> Any:
        return (yield qtasks.gather(*[pool.run(gates, i) for i in range(10_000)]))

    @qtasks.coroutine
    def other() -> Any:
        return (yield pool.run(gates, "single"))

    big = fan_out()
    assert gates.entered.acquire(timeout=10)
    single = other()
    # Why not open_all(): the 10**4 trivial items could then all finish before
    # big.cancel() below, and the gather end normally. With fewer permits than
    # items it is still running when cancelled; a fair pool needs only three.
    gates.permits.release(100)
    assert "single" == qtasks_run(single, timeout=30)
    big.cancel()
    gates.open_all()
    # Cancelling 10**4 children takes more than one drain: wait for it here.
    with pytest.raises(qtasks.CancelledError):
        qtasks_run(big, timeout=30)
    assert gates.log.index("single") <= 2


def test_map_on_a_manual_pool_runs_when_the_test_completes_its_tasks(qtasks_manual_pool: Any) -> None:
    """Under qtasks_manual_pool, qtasks.map's work waits in pending and run_all() finishes the map."""
    task = qtasks.map(double, range(10))
    assert qtasks_manual_pool.pending
    assert not task.done()
    qtasks_manual_pool.run_all()
    assert [2 * i for i in range(10)] == task.result()


def test_cancelling_a_manual_pool_task_of_a_map_cancels_the_map(qtasks_manual_pool: Any) -> None:
    """A map whose pending work a test cancels ends cancelled instead of waiting forever."""
    task = qtasks.map(double, range(10))
    qtasks_manual_pool.pending[0].cancel()
    _runtime.bridge().run_pending()
    assert task.cancelled()
    assert [] == qtasks_manual_pool.pending


def test_failing_a_manual_pool_task_of_a_map_fails_the_map(qtasks_manual_pool: Any) -> None:
    """ManualPool.fail() on a map's work fails the map with that exception."""
    task = qtasks.map(double, range(10))
    qtasks_manual_pool.fail(qtasks_manual_pool.pending[0], OSError("disk gone"))
    with pytest.raises(OSError, match="disk gone"):
        task.result()
    assert [] == qtasks_manual_pool.pending


def test_a_map_task_completed_with_a_given_result_gives_that_item_its_result(qtasks_manual_pool: Any) -> None:
    """complete(task, result=...) on a map's task stands for that item's result; the others still run."""
    task = qtasks.map(double, range(3))
    qtasks_manual_pool.complete(qtasks_manual_pool.pending[0], result="given")
    qtasks_manual_pool.run_all()
    assert ["given", 2, 4] == task.result()


def test_leaving_a_manual_pool_cancels_a_map_still_pending() -> None:
    """A map left pending when manual_pool() ends is cancelled with its work, not left hanging."""
    with manual_pool():
        task = qtasks.map(double, range(10))
    assert task.cancelled()


def test_a_big_window_fills_over_several_event_loop_turns(
    qtasks_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a refill has spent its budget, map() returns and the rest is pulled in later turns, in order."""
    monkeypatch.setattr(_map, "REFILL_BUDGET_S", 0.0)  # spent once the first chunks are submitted
    source = Counted(iter(range(3000)))
    task = qtasks.map(double, source, window=1000)
    assert 0 < source.pulled < 1000
    assert [2 * i for i in range(3000)] == qtasks_run(task, timeout=30)
    assert 3000 == source.pulled


def test_a_window_of_one_item_chunks_groups_tiny_items_again(
    qtasks_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a window given, tiny items still end up grouped, not one per chunk for the rest of the map."""
    # A chunk that a busy machine slows past its time hands items back; that is not what this counts.
    monkeypatch.setattr(_map, "CHUNK_SPLIT_S", float("inf"))
    pool = qtasks.Pool(max_threads=2)
    sizes: list[int] = []
    submit = pool._submit

    def counting_submit(item: Any, key: object = None) -> None:
        sizes.append(item._count)
        submit(item, key)

    monkeypatch.setattr(pool, "_submit", counting_submit)
    task = pool.map(double, range(40_000), window=400)
    assert [2 * i for i in range(40_000)] == qtasks_run(task, timeout=60)
    assert 40_000 == sum(sizes)
    assert len(sizes) < 40_000 // 4
    assert [] == pool.shutdown(timeout=10)


class ForeignRunnable(QRunnable):
    """Another library's work on the same QThreadPool: it logs that it ran."""

    def __init__(self, log: list[object]) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.log = log
        self.ran = threading.Event()

    def run(self) -> None:
        self.log.append("foreign")
        self.ran.set()


def test_other_code_runnables_take_turns_with_a_big_fan_out(
    qtasks_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A QRunnable other code starts on the same QThreadPool runs during a big fan-out, not after it."""
    monkeypatch.setattr(_pool, "SLICE_S", 0.0)  # every item ends its worker loop's slice
    qpool = QThreadPool()
    qpool.setMaxThreadCount(1)
    pool = qtasks.Pool(pool=qpool)
    gates = Gates()
    tasks = [pool.run(gates, i) for i in range(1000)]
    assert gates.entered.acquire(timeout=10)
    foreign = ForeignRunnable(gates.log)
    qpool.start(foreign)
    gates.open_all()
    assert list(range(1000)) == qtasks_run(qtasks.gather(*tasks), timeout=30)
    assert foreign.ran.wait(10)
    assert [0, "foreign", 1] == gates.log[:3]
    assert [] == pool.shutdown(timeout=10)
    qpool.waitForDone()


def test_an_iterable_that_spins_the_event_loop_is_not_pulled_reentrantly(qtasks_run: Any, qtbot: Any) -> None:
    """A generator that processes events while a result arrives still feeds the whole map, in order."""
    holder: list[MapTask] = []
    second = threading.Event()

    def gated_double(x: int) -> int:
        if x == 1:
            second.wait(10)
        return 2 * x

    def source() -> Iterator[int]:
        yield 0
        yield 1
        # Pulled after the first result: let the second finish and arrive while this generator runs.
        second.set()
        qtbot.waitUntil(lambda: 2 == holder[0]._collected, timeout=10_000)
        yield from range(2, 50)

    pool = qtasks.Pool(max_threads=1)
    task = pool.map(gated_double, source(), window=2)
    holder.append(task)
    assert [2 * i for i in range(50)] == qtasks_run(task, timeout=30)
    assert [] == pool.shutdown(timeout=10)


def test_an_endless_generator_under_a_timeout_is_cancelled_after_pulling_a_window(qtasks_run: Any) -> None:
    """A timeout over a map of an endless generator raises TimeoutError and cancels it after one window."""
    gates = Gates()
    source = Counted(itertools.count())
    task = qtasks.map(gates, source, window=4)
    with pytest.raises(qtasks.TimeoutError):
        qtasks_run(qtasks.timeout(0.05, task))
    assert task.cancelled()
    assert 4 == source.pulled
    gates.open_all()


def test_a_chunk_out_of_time_hands_back_its_other_items_which_still_run_once_in_order(
    qtasks_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items a chunk has not run when its time is up are queued again; each runs once, results in order."""
    monkeypatch.setattr(_map, "CHUNK_SPLIT_S", 0.0)  # every chunk's time is up after its first item
    handed_back: list[int] = []
    resubmit = MapTask._resubmit

    def counting_resubmit(self: MapTask, start: int, items: list[Any]) -> None:
        handed_back.append(len(items))
        resubmit(self, start, items)

    monkeypatch.setattr(MapTask, "_resubmit", counting_resubmit)
    lock = threading.Lock()
    ran: list[int] = []

    def record(x: int) -> int:
        with lock:
            ran.append(x)
        return 2 * x

    pool = qtasks.Pool(max_threads=2)
    task = pool.map(record, range(5000))
    assert [2 * i for i in range(5000)] == qtasks_run(task, timeout=60)
    assert list(range(5000)) == sorted(ran)
    assert handed_back
    assert [] == pool.shutdown(timeout=10)


def test_pool_shutdown_names_a_map_still_running_once(qtasks_run: Any) -> None:
    """Pool.shutdown(timeout) returns a map whose items still run, once however many of its chunks run."""
    pool = qtasks.Pool(max_threads=2)
    gates = Gates()
    task = pool.map(gates, range(100), window=4)
    assert gates.entered.acquire(timeout=10)
    assert gates.entered.acquire(timeout=10)  # both threads run a chunk of this map
    assert [task] == pool.shutdown(timeout=0.05)
    assert task.cancelled()
    gates.open_all()
    assert [] == pool.shutdown(timeout=10)


def test_pool_shutdown_refuses_a_negative_timeout_before_cancelling_anything(qtasks_run: Any) -> None:
    """Pool.shutdown(-1) raises ValueError naming the timeout, and the pool's work goes on."""
    pool = qtasks.Pool(max_threads=1)
    gate = Gate()
    task = pool.run(gate, "done")
    with pytest.raises(ValueError, match=r"Pool.shutdown\(timeout=-1\): the timeout must be None or >= 0"):
        pool.shutdown(timeout=-1)
    assert not task.done()
    gate.opened.set()
    assert "done" == qtasks_run(task)
    assert [] == pool.shutdown(timeout=10)


def test_run_called_on_a_worker_thread_gives_a_handle_a_coroutine_can_await(qtasks_run: Any) -> None:
    """A function on a pool thread may call qtasks.run(); a coroutine awaiting that handle gets its result."""

    def submit_from_the_worker() -> qtasks.Task[int]:
        return qtasks.run(double, 21)

    @qtasks.coroutine
    def body() -> Any:
        inner = yield qtasks.run(submit_from_the_worker)
        return (yield inner)

    assert 42 == qtasks_run(body())
