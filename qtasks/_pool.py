"""Pool, ThreadTask and the worker-side helpers.

A Pool keeps its own queue of work and keeps at most `maxThreadCount()` starts
of one shared `QRunnable` in its `QThreadPool`. Each start is a worker loop:
it claims the next item, runs it, and hands the finished item to the bridge.
So the QThreadPool's queue stays short (other code sharing the global pool is
not stuck behind ten thousand of ours), one round trip through Qt serves many
items, and queued work can be cancelled cheaply. A worker loop that has run
for `SLICE_S` with work still queued starts itself again behind whatever else
waits in the QThreadPool and gives its thread back, so other code's
runnables take turns with ours instead of waiting for our whole queue.

A worker loop that runs dry parks for about `LINGER_S` before it gives
its thread back to Qt, and a submit that finds a parked worker hands the item
to it with one lock release. A coroutine awaiting `run()` in a loop submits
its next call within microseconds of the last result, so it reuses the same
worker instead of paying, every round trip, for `QThreadPool.start`, a Qt
thread wake-up and a fresh Python thread state. The wait is short and
bounded, never a spin, and shutdown wakes parked workers at once, so a pool
thread is never held hostage. A parked loop waits with no timeout, since a
timed wait arms a kernel timer on every round trip (a third of the round
trip's CPU on a virtual machine); one `_Linger` thread, shared by every pool,
wakes the loops parked longer than `LINGER_S`, with one timed wait per
`LINGER_S` for all of them, and only while some loop is parked.

The queue is split into lanes, one per submitting coroutine (and one per
`map`), served round robin: a fan-out of 10^5 items does not starve another
coroutine's single `run()`.

A responsive pool (the default) keeps fewer worker loops than it has threads
while the GUI thread starves for the GIL: `_limit` caps `_starts`, a
`_responsive.Throttle` sets it from the GUI thread's lateness, sampled by a
`_responsive.Heartbeat` that ticks only while the pool has work. A loop over
the limit gives its thread back after its current item; a raised limit starts
loops for the queued work. `Pool(max_threads=...)` stays the upper bound.

A lane item (`_worker.LaneItem`) is a `ThreadTask` or a chunk of a `map`
(see `_map.py`); its phase and the worker-side helpers live in `_worker.py`.
See ARCHITECTURE.md for how the pool fits the rest.

Thread boundary: methods named `*_in_worker` and `_work_in_worker` run on pool
threads and touch only the lock-guarded fields below and the bridge.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections import OrderedDict, deque
from typing import Any, Callable, Final, Iterable, Protocol, TypeVar, cast

from typing_extensions import ParamSpec

from . import _responsive, _runtime
from ._binding import QRunnable, QThreadPool, QTimer, is_deleted
from ._bridge import Bridge, report
from ._map import MAX_CHUNK, ChunkRules, Lanes, MapTask, RunLanes, start_map
from ._responsive import UNLIMITED, Heartbeat, Throttle, calm_under
from ._stream import Stream, start_imap, start_stream
from ._task import CANCELLED, PENDING, Task, callable_name, require_callable
from ._worker import DROPPED, QUEUED, RAN, RUNNING, LaneItem, run_as, take_back_or_flag

__all__ = [
    "Pool",
    "ThreadTask",
    "default_pool",
    "imap",
    "map",
    "run",
    "set_default_pool",
    "shared_pool",
    "stream",
]

T = TypeVar("T")
P = ParamSpec("P")

# How long a worker loop that ran dry waits for more work before it returns
# its thread to the QThreadPool (at most twice this, see _Linger). Long enough
# to bridge one GUI-thread turn between two awaited run() calls, short enough
# that Qt never misses the thread.
LINGER_S = 0.001
# The longest the linger thread sleeps while some loop is parked.
LINGER_TICK_S: Final = 0.001

# How long a worker loop runs items before it lets the QThreadPool's other
# runnables have its thread: it queues its own next start behind them.
SLICE_S = 0.01

# _submit()'s default lane: the coroutine being stepped (or None).
_CURRENT: Final = object()


class ItemPool(Protocol):
    """What a ThreadTask needs from the pool that queues it (a Pool or a testing pool)."""

    @property
    def _lock(self) -> threading.Lock: ...


class ThreadTask(Task[T]):
    """The handle of a function running on a pool thread."""

    __slots__ = (
        "_args",
        "_cancel_requested",
        "_fn",
        "_kwargs",
        "_name",
        "_phase",
        "_pool",
        "_raised",
        "_returned",
    )

    def __init__(
        self,
        pool: ItemPool,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        super().__init__()
        self._pool = pool
        self._fn: Callable[..., T] | None = fn
        self._args: tuple[Any, ...] | None = args
        self._kwargs: dict[str, Any] | None = kwargs
        self._name = callable_name(fn)
        self._phase: str = QUEUED
        # Read by check_cancelled() on the worker; written once on the GUI thread.
        self._cancel_requested = False
        # What the function returned or raised, kept by the worker until _deliver().
        self._returned: Any = None
        self._raised: BaseException | None = None

    def cancel(self) -> bool:
        """Stop the task: queued work never runs; running work sees its cancel flag.

        GUI thread. The task ends as cancelled at once; a running function's
        eventual result is dropped. Returns False if the task is done already.
        """
        return super().cancel()

    def _abort(self) -> bool:
        take_back_or_flag(self._pool._lock, (self,))
        return self._finish(CANCELLED)

    def _execute_in_worker(self) -> None:
        """Run the function and store its outcome. Worker thread (or a ManualPool)."""
        try:
            fn, args, kwargs = self._fn, self._args, self._kwargs
            assert fn is not None and args is not None and kwargs is not None
            self._returned = run_as(self, fn, args, kwargs)
        except BaseException as exc:  # noqa: BLE001 - delivered to the task's awaiter
            self._raised = exc

    def _keep_outcome(self, value: Any, exc: BaseException | None) -> None:
        """Store an outcome as if the function had returned `value` or raised `exc`.

        For a pool that gives the outcome by hand (a ManualPool); `_deliver()` hands it on.
        """
        self._returned = value
        self._raised = exc

    def _deliver(self) -> None:
        """Finish the task with the outcome its worker stored. GUI thread."""
        bridge = _runtime.STATE.bridge
        if bridge is None:
            self._deliver_outcome()
        else:
            bridge.deliver_in_drain(self._deliver_outcome)

    def _deliver_outcome(self) -> None:
        value, exc = self._returned, self._raised
        self._returned = self._raised = None
        self._fn = self._args = self._kwargs = None
        if self._state is not PENDING:
            return  # cancelled while it ran: the late outcome is dropped
        self._finish_with(value, exc)

    def _released(self) -> None:
        if self._fn is None:
            return  # _deliver_outcome() dropped them already: no lock needed
        with self._pool._lock:
            running = self._phase is RUNNING or self._phase is RAN
        if not running:
            # A running function still reads these; _deliver() drops them.
            self._fn = self._args = self._kwargs = None

    def _task(self) -> Task[Any]:
        return self

    def _describe(self) -> str:
        return f"{self._name}()"

    def _waiting_text(self) -> str:
        return f", {self._phase}"


# A map on a Pool: big chunks of short items, split when items turn slow.
_POOL_CHUNKS: Final = ChunkRules(max_items=MAX_CHUNK, may_split=True, paced=True)

# Invariant: a Pool with a runner start queued in or running on its
# QThreadPool (`_starts > 0`) is a key here. Why: its runner holds it only
# weakly; dropped by the user while a start is queued, the Pool would be gone
# when the worker that Qt is about to run looks for it. A pool leaves
# on the GUI thread (`_forget_if_idle`), so its last reference drops there.
_BUSY: dict[Pool, None] = {}


class _Linger:
    """The thread that gives parked worker loops their threads back, for every pool.

    A parked loop waits on its lock with no timeout. Once something is
    parked, this thread wakes every `LINGER_S` and wakes the loops parked
    that long; with nothing parked anywhere it sleeps until a loop parks.
    So a loop lingers between `LINGER_S` and twice that, and the kernel timer
    is armed once per `LINGER_S` for all pools instead of once per park.
    It never runs user code and never touches Qt; it does not depend on the
    GUI thread running its event loop.
    """

    def __init__(self) -> None:
        self._wakeup = threading.Condition(threading.Lock())
        # Read without the lock by parking loops: True while this thread
        # sleeps, or may be about to, with nothing parked that it saw.
        self.dormant = True
        # Set once the interpreter exits (`_unpark_all_at_exit`): from then on
        # a loop that runs dry leaves instead of parking. Read under a pool's lock.
        self.exiting = False
        self._thread: threading.Thread | None = None
        self._exit_hook = False

    def prepare(self) -> None:
        """Make sure parked loops are woken at interpreter exit. Any thread; once per process.

        Why before any loop parks, not at the first park: a script may end
        while its last loop is still on its way to park.
        """
        with self._wakeup:
            if not self._exit_hook:
                self._exit_hook = True
                atexit.register(_unpark_all_at_exit)
                if hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=self._forget_after_fork)

    def _forget_after_fork(self) -> None:
        """Start afresh in a forked child, which has no linger thread. The child's only thread.

        Why a new lock: the parent's linger thread may have held it at the fork.
        """
        self._wakeup = threading.Condition(threading.Lock())
        self._thread = None
        self.dormant = True

    def wake(self) -> None:
        """Make sure a loop that has just parked will be woken. Any thread."""
        with self._wakeup:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="qtasks-linger", daemon=True)
                self._thread.start()
            self._wakeup.notify()

    def _serve(self) -> None:
        """Wake long-parked loops until the process ends. The linger thread."""
        with self._wakeup:
            while True:
                # Why dormant before the scan: a loop that parks after the
                # scan saw its pool reads True and calls wake(), which waits
                # for this lock, so its notify cannot come before our wait.
                self.dormant = True
                if _wake_lingering_loops(LINGER_S):
                    self.dormant = False
                    # Why capped: LINGER_S may change meanwhile (tests raise it).
                    self._wakeup.wait(min(LINGER_S, LINGER_TICK_S))
                else:
                    self._wakeup.wait()


_LINGER: Final = _Linger()


def _wake_lingering_loops(linger: float) -> bool:
    """Wake the loops of every pool parked for `linger` s or longer; tell whether others stay parked.

    Any thread.
    """
    now = time.perf_counter()
    still = False
    for pool in list(_BUSY):
        # Why only _BUSY: a parked loop counts in its pool's _starts.
        if pool._parked and pool._release_lingering(now, linger):
            still = True
    return still


def _unpark_all_at_exit() -> None:
    """Wake every parked loop and wait, a second at most, until each is out of Python.

    The exiting interpreter's thread, before it finalizes. Why wait: a pool
    thread that asks for the GIL once the interpreter finalizes is ended on
    the spot, inside Qt's runnable, and the QThreadPool, waiting for that
    runnable at exit, would wait for ever. A loop woken here needs the GIL
    for a few more lines; the wait gives them to it.
    """
    _LINGER.exiting = True
    _wake_lingering_loops(0.0)
    deadline = time.monotonic() + 1.0
    for pool in list(_BUSY):
        pool._wait_unparked(deadline)


class _Runner(QRunnable):
    """One QRunnable per Pool, started once per worker loop wanted.

    It holds its pool weakly: a pool nobody holds, with no start queued or
    running, is then freed at once where it is dropped (the GUI thread, say),
    not in a collected cycle on whatever thread the collector runs on, where
    deleting its QThreadPool and its heartbeat's QTimer is unsafe. While a
    start is queued or running, `_BUSY` holds the pool, and until a run has
    let go of the pool, the pool's `_inside` counts it, so that the GUI thread
    keeps the pool in `_BUSY` till then and the last reference drops there.
    """

    def __init__(self, pool: Pool) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self._pool = weakref.ref(pool)
        # The pool's, shared: neither refers to the pool.
        self._lock = pool._lock
        self._inside = pool._inside

    def run(self) -> None:
        """Worker thread. Nothing may escape: PyQt5 aborts the process on it."""
        try:
            pool = self._pool()
            if pool is None:
                return
            with self._lock:
                self._inside[0] += 1
            try:
                pool._work_in_worker()
            finally:
                del pool
                with self._lock:
                    self._inside[0] -= 1
        except BaseException as exc:  # noqa: BLE001
            report(exc)


class Pool:
    """Run functions on a QThreadPool, each call returning a ThreadTask.

    `Pool()` makes a dedicated QThreadPool with `max_threads` threads (Qt's
    default: one per core); `Pool(pool=existing)` wraps one you have.
    `responsive=True` (the default) runs fewer functions at once while the GUI
    thread starves for the GIL, and more again when it no longer does; False
    keeps every thread busy whatever the GUI thread's lateness.
    """

    def __init__(
        self, max_threads: int | None = None, pool: QThreadPool | None = None, *, responsive: bool = True
    ) -> None:
        if not isinstance(responsive, bool):
            msg = f"Pool(responsive={responsive!r}): responsive must be True or False"
            raise TypeError(msg)
        if max_threads is not None:
            if not isinstance(max_threads, int) or isinstance(max_threads, bool) or max_threads < 1:
                msg = f"Pool(max_threads={max_threads!r}): max_threads must be a whole number >= 1, or None"
                raise ValueError(msg)
            if pool is not None:
                msg = (
                    "Pool(max_threads=..., pool=...): pass one of them; "
                    "to wrap an existing QThreadPool, set its maxThreadCount() yourself"
                )
                raise TypeError(msg)
        if pool is None:
            pool = QThreadPool()
            if max_threads is not None:
                pool.setMaxThreadCount(max_threads)
        elif not isinstance(pool, QThreadPool):
            msg = f"Pool(pool={pool!r}): pool must be a QThreadPool"
            raise TypeError(msg)
        self._qpool = pool
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        # Guarded by _lock:
        # Invariant: every QUEUED item is in exactly one lane; lanes may also
        # hold DROPPED items, which workers skip.
        self._lanes: OrderedDict[object, deque[LaneItem]] = OrderedDict()
        # Invariant: _starts counts the runner's starts queued in or running
        # on the QThreadPool; a worker loop only exits with the lanes empty.
        self._starts = 0
        self._executing: dict[LaneItem, None] = {}
        # DROPPED items a worker took out of a lane. Why: such an item may be
        # the last reference to its task, which must be freed on the GUI
        # thread; _release_dropped() empties this there.
        self._dropped: list[LaneItem] = []
        # Invariant: each worker loop parked with nothing to run has its held
        # lock here, with the time it parked, oldest first; whoever removes
        # it releases it, and that wakes the loop (nothing else does). A
        # parked loop still counts in _starts, and is not in _executing.
        self._parked: list[tuple[float, threading.Lock]] = []
        # The locks of loops that have ended an item and hand its result
        # over, each to claim one submitted meanwhile; a submit takes one.
        self._finishing: list[threading.Lock] = []
        # Parked loops, plus loops woken or handing a result over but not
        # yet back under the lock.
        self._lingering = 0
        # How many threads wait on _idle (shutdown), so workers notify only then.
        self._idle_waiters = 0
        # Invariant: a worker loop leaves without claiming only while
        # _starts > _limit, so at least _limit loops stay to claim what is
        # queued. The GUI thread sets _limit; a worker lifts it (UNLIMITED:
        # every thread runs) when the pool runs dry.
        # Why not the max_threads property's getter: a bound method would make a cycle (see _Runner).
        self._throttle = Throttle(lambda: max(1, pool.maxThreadCount()))
        self._limit = self._throttle.limit if responsive else UNLIMITED
        # True while the heartbeat runs or a post to start it is on its way:
        # a submit that finds it False starts the watch.
        self._watching = False
        # Bursts of work ended by _end_burst_locked: the GUI thread resets
        # its throttle when this moved since its last sample.
        self._bursts = 0
        # GUI thread only:
        self._seen_bursts = 0
        self._responsive = responsive
        self._heartbeat: Heartbeat | None = None
        # Runs of the runner not yet out of `_Runner.run`, guarded by _lock; a
        # one-item list, shared with the runner, which holds the pool weakly.
        self._inside = [0]
        self._runner = _Runner(self)
        self._bridge: Bridge | None = None
        # Why here: the daemon linger thread stops with the interpreter, and
        # a loop left parked would keep its QThreadPool, and so the process,
        # from ending.
        _LINGER.prepare()
        _runtime.STATE.executors.add(self)

    @property
    def qthreadpool(self) -> QThreadPool:
        """The QThreadPool this pool starts its work on."""
        return self._qpool

    @property
    def max_threads(self) -> int:
        """How many functions this pool runs at once, at most."""
        return max(1, self._qpool.maxThreadCount())

    @property
    def responsive(self) -> bool:
        """Whether this pool runs fewer functions at once while the GUI thread starves.

        Settable, on the GUI thread: False starts the queued work on every
        thread at once and stops watching the GUI thread; True watches it again
        from the next submitted function.
        """
        return self._responsive

    @responsive.setter
    def responsive(self, value: bool) -> None:
        if not isinstance(value, bool):
            msg = f"Pool.responsive = {value!r}: give True or False"
            raise TypeError(msg)
        if value == self._responsive:
            return
        self._responsive = value
        if value:
            self._throttle.forget()
            with self._lock:
                self._limit = self._throttle.limit
                self._watching = False  # the next submit starts the watch
        else:
            if self._heartbeat is not None:
                self._heartbeat.stop()
            with self._lock:
                self._watching = False
            self._set_limit(UNLIMITED)

    def _watch(self) -> None:
        """Start the heartbeat that samples the GUI thread's lateness. GUI thread; idempotent."""
        if not self._responsive:
            with self._lock:
                self._watching = False  # turned off since the submit asked
            return
        if self._heartbeat is None:
            # Why weakly: the heartbeat's QTimer must die with the pool, on
            # the thread that drops it, not in a collected cycle on any thread.
            pool = weakref.ref(self)

            def on_sample(lateness: float) -> float | None:
                alive = pool()
                return None if alive is None else alive._observe_lateness(lateness)

            self._heartbeat = Heartbeat(on_sample)
        self._heartbeat.start()

    def _observe_lateness(self, lateness: float) -> float | None:
        """Adjust the limit to one sample of the GUI thread's lateness; return when to sample next.

        GUI thread: the heartbeat's tick. Returns None, which stops the
        watch, and lifts the limit for the next burst, once nothing is queued
        or running.
        """
        if not self._responsive:
            return None
        with self._lock:
            if not self._lanes and not self._executing:
                self._watching = False
                self._throttle.reset()
                self._limit = UNLIMITED
                return None
            bursts = self._bursts
        if bursts != self._seen_bursts:
            # The pool ran dry since the last sample: a new burst, on every thread.
            self._seen_bursts = bursts
            self._throttle.reset()
        limit = self._throttle.observe(lateness)
        self._set_limit(limit)
        if limit == 1 and lateness >= calm_under():
            return _responsive.HEARTBEAT_SLOW_S
        return _responsive.HEARTBEAT_S

    def _set_limit(self, limit: int) -> None:
        """Let `limit` worker loops run; start loops for queued work if it rose. GUI thread."""
        with self._lock:
            if limit == self._limit:
                return
            self._limit = limit
            wanted = min(limit, self.max_threads) - self._starts
            more = 0
            for lane in self._lanes.values():
                if more >= wanted:
                    break
                more += min(len(lane), wanted - more)
            if more > 0:
                self._starts += more
                _BUSY[self] = None
        for _ in range(more):
            self._qpool.start(self._runner)

    def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> ThreadTask[T]:
        """Run `fn(*args, **kwargs)` on a pool thread; return its handle at once.

        Any thread. Raises TypeError if `fn` is not callable.
        """
        require_callable(fn, "qtasks.run(load, path)")
        if is_deleted(self._qpool):
            msg = (
                f"{self!r} cannot run {callable_name(fn)}(): its QThreadPool was deleted; "
                "keep the QThreadPool alive as long as the Pool, or make a new Pool"
            )
            raise RuntimeError(msg)
        task: ThreadTask[T] = ThreadTask(self, fn, args, kwargs)
        self._submit(task)
        return task

    @property
    def chunk_rules(self) -> ChunkRules:
        """How a map groups its items on this pool: big chunks that split when slow."""
        return _POOL_CHUNKS

    def map(
        self, fn: Callable[[Any], T], iterable: Iterable[Any], *, window: int | None = None
    ) -> MapTask:
        """Run `fn` over `iterable` on this pool; the task's result lists them in input order.

        GUI thread (the iterable is advanced there, lazily). At most `window`
        items are pulled whose results are not yet collected; the default is
        two chunks per thread (see `qtasks.map`). Raises TypeError for a
        non-callable or a non-iterable, ValueError for a bad window.
        """
        return start_map(self, fn, iterable, window)

    def imap(
        self, fn: Callable[[Any], T], iterable: Iterable[Any], *, window: int | None = None
    ) -> Stream[T]:
        """Run `fn` over `iterable` on this pool; the stream gives each result in input order.

        GUI thread. See `qtasks.imap`.
        """
        return start_imap(self, fn, iterable, window)

    def stream(
        self, genfn: Callable[..., Iterable[T]], /, *args: Any, buffer: int = 16, **kwargs: Any
    ) -> Stream[T]:
        """Run the generator `genfn(*args, **kwargs)` on this pool; the stream gives its values.

        GUI thread. See `qtasks.stream`.
        """
        return start_stream(self, genfn, args, kwargs, buffer)

    def _submit(self, item: LaneItem, key: object = _CURRENT) -> None:
        """Queue `item` in lane `key` (default: the current coroutine's). Any thread."""
        bridge = self._bridge
        if bridge is None:
            bridge = self._bridge = _runtime.bridge()
        if key is _CURRENT:
            key = _runtime.STATE.current
        # Why an id, not the handle: a lane's key is dropped by the worker that
        # empties it, and the pool must neither keep the submitter (a
        # coroutine, a map) alive nor free it there. A reused id only merges
        # two lanes.
        key = None if key is None else id(key)
        with self._lock:
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = deque()
            lane.append(item)
            waiter = self._parked.pop()[1] if self._parked else None
            if waiter is not None:
                # A parked worker loop takes the item: one lock release
                # instead of a QThreadPool.start. Released below, outside
                # our lock, so the woken loop does not wait for it at once.
                start = False
            elif self._finishing:
                # A loop handing its last result over claims this item next.
                self._finishing.pop()
                start = False
            else:
                start = self._starts < min(self._limit, max(1, self._qpool.maxThreadCount()))
                if start:
                    self._starts += 1
                    _BUSY[self] = None
            # Why only with two items in flight: one function alone costs the
            # GUI thread a switch interval at most, and the limit is 1 at
            # least, so there is nothing to watch for; and a heartbeat's timer
            # makes every sleep of the GUI thread arm a kernel timer.
            watch = (
                self._responsive
                and not self._watching
                and bool(self._executing or len(lane) > 1 or len(self._lanes) > 1)
            )
            if watch:
                self._watching = True
        if waiter is not None:
            waiter.release()
        elif start:
            self._qpool.start(self._runner)
        if watch:
            if threading.get_ident() == _runtime.STATE.gui_ident:
                self._watch()
            else:
                bridge.post(self._watch)

    def _next_locked(self) -> LaneItem | None:
        """Claim the next item, round robin over the lanes. Caller holds _lock."""
        lanes = self._lanes
        while lanes:
            key = next(iter(lanes))
            lane = lanes[key]
            item = lane.popleft()
            if lane:
                lanes.move_to_end(key)
            else:
                del lanes[key]
            if item._phase is QUEUED:
                item._phase = RUNNING
                return item
            self._dropped.append(item)
        return None

    def _leave_in_worker(self, bridge: Bridge) -> None:
        """End a worker loop: if it was the last start, ask the GUI thread to forget the pool. Worker thread.

        Read without the lock: a start counted meanwhile posts again when its
        loop ends, and `_forget_if_idle` checks under the lock.
        """
        if not self._starts:
            bridge.post(self._forget_if_idle)

    def _forget_if_idle(self) -> None:
        """Leave `_BUSY` once no runner start is queued or running. GUI thread; idempotent.

        A loop that has left may still be on its way out of `_Runner.run`,
        holding the pool for a few more lines: then look again in a
        millisecond, so that the pool's last reference drops here, not there.
        """
        with self._lock:
            if self._starts:
                return
            if not self._inside[0]:
                _BUSY.pop(self, None)
                return
        QTimer.singleShot(1, self._forget_if_idle)

    def _release_dropped(self) -> None:
        """Let go of the cancelled items workers skipped. GUI thread."""
        with self._lock:
            dropped, self._dropped = self._dropped, []
        del dropped

    def _work_in_worker(self) -> None:
        """Run items until the lanes stay empty for about `LINGER_S`. Worker thread."""
        bridge = self._bridge
        assert bridge is not None
        lock = self._lock
        executing = self._executing
        with lock:
            if self._starts > self._limit:
                # A start queued before the limit was lowered: others claim.
                item, release = None, False
            else:
                item, release = self._claim_locked()
            if item is None:
                self._starts -= 1
                self._end_burst_locked()
        slice_end = time.perf_counter() + SLICE_S
        # This loop's lock for parking, held while the loop runs; whoever
        # takes it out of _parked releases it.
        waiter = threading.Lock()
        waiter.acquire()
        while True:
            if release:
                # The first skip since the last release asks for one; later ones ride along.
                bridge.post(self._release_dropped)
            if item is None:
                return self._leave_in_worker(bridge)
            item._execute_in_worker()
            box: list[Callable[[], object]] = [item._deliver]
            # The item ends before the hand-over, and the next is claimed (or
            # the loop parks) after it, so that the GUI thread gets the result
            # as soon as it can: a submit meanwhile finds this loop in
            # _finishing and leaves the item to it instead of starting another.
            with lock:
                item._phase = RAN
                del executing[item]
                # Why before the hand-over: the GUI thread, woken by it, may
                # start a new burst at once, which must find the limit lifted.
                self._end_burst_locked()
                self._finishing.append(waiter)
                self._lingering += 1
            # The box holds this thread's only reference; transfer() moves it.
            item = None
            bridge.transfer(box)
            now = time.perf_counter()
            with lock:
                item, release, parks = self._claim_or_park_locked(now, now > slice_end, waiter)
            if parks:
                item, release = self._park_in_worker(bridge, waiter, release)
                if item is None:
                    return self._leave_parked_in_worker(bridge, release)

    def _claim_or_park_locked(
        self, now: float, slice_spent: bool, waiter: threading.Lock
    ) -> tuple[LaneItem | None, bool, bool]:
        """Claim the next item for a loop that has handed its result over, park it, or end it.

        Caller holds _lock. Returns the item (None: the loop parks or ends),
        whether dropped items need a release, and whether the loop parked.
        """
        if waiter in self._finishing:
            self._finishing.remove(waiter)
        self._lingering -= 1
        item: LaneItem | None = None
        release = parks = False
        if self._starts > self._limit:
            # The GUI thread starves: give the thread back; the loops within
            # the limit claim what is queued.
            self._starts -= 1
        elif slice_spent and self._lanes:
            # Queue this loop's next start behind the QThreadPool's other
            # runnables and give the thread back: item None and no waiter, so
            # the loop returns. The start stays counted in _starts; it is
            # made under the lock so that _drop_queued() can take it back.
            self._qpool.start(self._runner)
        else:
            item, release = self._claim_locked()
            if item is None:
                parks = self._park_locked(now, waiter)
        if self._idle_waiters:
            # Shutdown waits for _executing and _lingering, exit for _lingering.
            self._idle.notify_all()
        return item, release, parks

    def _park_locked(self, now: float, waiter: threading.Lock) -> bool:
        """Park a loop that ran dry, or end it once the interpreter exits; tell whether it parked.

        Caller holds _lock. Why not park at exit: nothing would wake the loop.
        While a shutdown waits for the pool to go idle, the loop parks already
        woken, so that it leaves at once the way a woken loop does.
        """
        self._end_burst_locked()
        if _LINGER.exiting:
            self._starts -= 1
            return False
        self._lingering += 1
        if self._idle_waiters:
            waiter.release()
        else:
            self._parked.append((now, waiter))
        return True

    def _park_in_worker(
        self, bridge: Bridge, waiter: threading.Lock, release: bool
    ) -> tuple[LaneItem | None, bool]:
        """Wait, parked, until a submit, shutdown or `_Linger` wakes this loop; claim what is queued.

        Worker thread; the loop's `waiter` is in `_parked` already, so it
        waits whatever happens here: a submit may have taken it already, and
        the item handed over must run.
        """
        try:
            if release:
                bridge.post(self._release_dropped)
            if _LINGER.dormant:
                _LINGER.wake()
        except BaseException as exc:  # noqa: BLE001 - reported; a submit or shutdown still wakes the loop
            report(exc)
        waiter.acquire()
        with self._lock:
            return self._unpark_locked()

    def _unpark_locked(self) -> tuple[LaneItem | None, bool]:
        """Claim the next item for a loop back from parking, or end the loop. Caller holds _lock.

        Whoever woke the loop (a submit, shutdown or `_Linger`) took its lock
        out of `_parked`; the lanes, read under the lock, decide. A loop that
        ends stays counted in `_lingering` until `_leave_parked_in_worker` has
        made its last post.
        """
        if self._starts > self._limit:
            item, release = None, False
        else:
            item, release = self._claim_locked()
        if item is None:
            self._starts -= 1
            self._end_burst_locked()
        else:
            self._lingering -= 1
            if self._idle_waiters and not self._lingering:
                self._idle.notify_all()
        return item, release

    def _leave_parked_in_worker(self, bridge: Bridge, release: bool) -> None:
        """End a loop back from parking with nothing to run. Worker thread.

        Why `_lingering` drops only after the posts: shutdown waits for it to
        reach 0, and an application that quits then deletes the bridge, which
        this thread must no longer touch.
        """
        if release:
            bridge.post(self._release_dropped)
        self._leave_in_worker(bridge)
        with self._lock:
            self._lingering -= 1
            if self._idle_waiters and not self._lingering:
                self._idle.notify_all()

    def _release_lingering(self, now: float, linger: float) -> bool:
        """Wake the loops parked for `linger` s or longer; tell whether others stay parked.

        Any thread (`_Linger`'s, or the exiting interpreter's). A woken loop
        finds the lanes empty and gives its thread back to Qt.
        """
        with self._lock:
            parked = self._parked
            while parked and now - parked[0][0] >= linger:
                parked.pop(0)[1].release()
            return bool(parked)

    def _end_burst_locked(self) -> None:
        """Lift the limit if nothing is queued or running: the next burst starts on every thread.

        Caller holds _lock; any thread. Why here and not on the GUI thread:
        a GUI thread blocked until several functions start samples nothing,
        and must still see them start.
        """
        if self._limit != UNLIMITED and not self._executing and not self._lanes:
            self._limit = UNLIMITED
            self._bursts += 1

    def _claim_locked(self) -> tuple[LaneItem | None, bool]:
        """Claim the next item and mark it executing. Caller holds _lock.

        Also tells whether this claim skipped the first dropped items since
        the last release, which the caller then posts to the GUI thread.
        """
        skipped_before = bool(self._dropped)
        item = self._next_locked()
        if item is not None:
            self._executing[item] = None
        return item, not skipped_before and bool(self._dropped)

    def shutdown(self, timeout: float | None = None) -> list[Task[Any]]:
        """Cancel this pool's tasks, drop its queue, wait up to `timeout` s.

        Cancelled stream generators are still closed on this pool's threads,
        and the wait includes that.

        GUI thread; idempotent; the pool stays usable. Returns the tasks whose
        functions still run when the wait ends. Raises TypeError or ValueError
        for a timeout that is not None or a number of seconds >= 0.
        """
        _runtime.check_timeout(timeout, "Pool.shutdown")
        for task in list(_runtime.STATE.live):
            # ThreadTasks and maps of this pool.
            if getattr(task, "_pool", None) is self:
                task.cancel()
        self._drop_queued()
        deadline = None if timeout is None else time.monotonic() + timeout
        return self._wait_idle(deadline)

    def _drop_queued(self) -> None:
        """Forget queued items, cancel their tasks, and take our queued starts back from Qt. GUI thread.

        An item that closes a cancelled stream's generator (`_survives_drop`)
        is queued again instead: dropped, the generator would be closed when
        collected, on the GUI thread, and its `finally` blocks belong on a
        worker. `_wait_idle()` waits for it as for a running function.
        """
        dropped: dict[Task[Any], None] = {}
        kept: list[LaneItem] = []
        with self._lock:
            for lane in self._lanes.values():
                for item in lane:
                    if item._phase is QUEUED:
                        if getattr(item, "_survives_drop", False):
                            kept.append(item)
                            continue
                        item._phase = DROPPED
                        dropped[item._task()] = None
            self._lanes.clear()
            if self._responsive:
                # Work started after shutdown runs on every thread again, and
                # is watched from its first submit; nothing is watched till then,
                # so no timer of ours outlives an application that quits.
                self._throttle.forget()
                self._limit = self._throttle.limit
                self._watching = False
            while self._starts and self._qpool.tryTake(self._runner):
                self._starts -= 1
            if not self._starts and not self._inside[0]:
                # (With a loop still leaving, its own post of _forget_if_idle does it.)
                _BUSY.pop(self, None)
            self._unpark_all_locked()
        if self._heartbeat is not None:
            self._heartbeat.stop()
        # Why: a thread may queue work after shutdown's cancel step; dropped
        # without this, its task would stay pending forever.
        for task in dropped:
            task.cancel()
        if not is_deleted(self._qpool):
            for item in kept:
                self._submit(item, item._task())

    def _wait_idle(self, deadline: float | None) -> list[Task[Any]]:
        """Wait until no function runs or the deadline passes; return those still running.

        Also waits for worker loops that are leaving after shutdown woke them
        (a millisecond at most), so none is left inside Python at exit.
        """
        with self._idle:
            self._idle_waiters += 1
            # A loop may have parked since _drop_queued(): it ended an item
            # then. Loops that run dry from here on leave (_park_locked).
            self._unpark_all_locked()
            try:
                while self._executing or self._lingering or self._closing_locked():
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    self._idle.wait(remaining)
            finally:
                self._idle_waiters -= 1
            # A map chunk is named by its map, once.
            return list(dict.fromkeys(item._task() for item in self._executing))

    def _unpark_all_locked(self) -> None:
        """Wake every parked loop: each finds the lanes empty and leaves. Caller holds _lock."""
        for _, waiter in self._parked:
            waiter.release()
        self._parked.clear()

    def _wait_unparked(self, deadline: float) -> None:
        """Wait until no loop woken from parking is still leaving, or the deadline passes. Any thread."""
        with self._idle:
            self._idle_waiters += 1
            try:
                while self._lingering:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._idle.wait(remaining)
            finally:
                self._idle_waiters -= 1

    def _closing_locked(self) -> bool:
        """Tell whether an item that survives the drop is still queued. Caller holds _lock."""
        return any(
            item._phase is QUEUED and getattr(item, "_survives_drop", False)
            for lane in self._lanes.values()
            for item in lane
        )

    def __repr__(self) -> str:
        try:
            return f"<qtasks.Pool max_threads={self.max_threads}>"
        except RuntimeError:  # the QThreadPool was deleted (by its Qt parent, or sip.delete)
            return "<qtasks.Pool (its QThreadPool was deleted)>"


class Submitter(Protocol):
    """What `qtasks.run` needs from the default pool (a Pool or a testing pool).

    A pool with a `map()` of its own (both of those) starts `qtasks.map`
    itself; over any other, each chunk of a map is one `run()` call.
    """

    def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Task[T]: ...


# The chunks of a map over a pool that only has run(): as big as on a Pool,
# but each is a task of that pool, which must end with the task.
_RUN_ONLY_CHUNKS: Final = ChunkRules(max_items=MAX_CHUNK, may_split=False, paced=False)


_DEFAULT: list[Submitter] = []


def default_pool() -> Submitter:
    """Return the pool `qtasks.run` uses: the global QThreadPool unless replaced."""
    if not _DEFAULT:
        _DEFAULT.append(Pool(pool=QThreadPool.globalInstance()))
    return _DEFAULT[0]


def shared_pool() -> Pool:
    """Return the `Pool` that `qtasks.run`, `map`, `imap` and `stream` use. GUI thread.

    It wraps `QThreadPool.globalInstance()`; set `qtasks.shared_pool().responsive
    = False` to let it run every thread whatever the GUI thread does. Under the
    `qtasks_manual_pool` fixture it returns that test's `ManualPool`, on which
    such a setting has no effect.
    """
    return cast("Pool", default_pool())


def set_default_pool(pool: Submitter | None) -> Submitter | None:
    """Make `pool` the one `qtasks.run` uses (None: the global QThreadPool); return the previous."""
    previous = _DEFAULT[0] if _DEFAULT else None
    _DEFAULT.clear()
    if pool is not None:
        _DEFAULT.append(pool)
    return previous


def run(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Task[T]:
    """Run `fn(*args, **kwargs)` on the shared thread pool; return its handle at once."""
    return default_pool().run(fn, *args, **kwargs)


def map(fn: Callable[[Any], Any], iterable: Iterable[Any], *, window: int | None = None) -> MapTask:  # noqa: A001 - the public name, like the builtin
    """Run `fn` over `iterable` on the shared pool; the task's result lists them in input order.

    GUI thread: the iterable is advanced there, lazily, so it may be endless or
    touch GUI objects. At most `window` items are pulled whose results are not
    yet collected (default: two chunks per thread, a chunk being one item when
    items take a millisecond or more, and up to about a millisecond of work
    otherwise). The first failure fails the map with the worker's own
    exception; cancelling it drops the queued chunks. Progress listeners get
    `(finished, total)`, total being None until the iterable is exhausted.
    """
    pool = default_pool()
    own_map: Callable[..., MapTask] | None = getattr(pool, "map", None)
    if own_map is not None:
        return own_map(fn, iterable, window=window)
    return start_map(_lanes(pool), fn, iterable, window)


def _lanes(pool: Submitter) -> Lanes:
    """Return the lanes of `pool`: itself for a Pool; for any other, each lane item is one `run()` task."""
    if isinstance(pool, Pool):
        return pool
    threads = getattr(pool, "max_threads", 1)
    threads = threads if isinstance(threads, int) and threads >= 1 else 1
    rules = getattr(pool, "chunk_rules", _RUN_ONLY_CHUNKS)
    return RunLanes(pool.run, threads, rules if isinstance(rules, ChunkRules) else _RUN_ONLY_CHUNKS)


def imap(fn: Callable[[Any], T], iterable: Iterable[Any], *, window: int | None = None) -> Stream[T]:
    """Run `fn` over `iterable` on the shared pool; the stream gives each result in input order.

    GUI thread: the iterable is advanced there, lazily. Each result is
    delivered as soon as it and those before it are in, and is not kept.
    At most `window` items are pulled that the consumer has not taken yet
    (default: four big chunks per thread, `4 * 4096` items a thread), so
    memory stays bounded on an endless iterable and a slow consumer stops
    the pulling. A failure is raised at the consumer after the results
    before it. Under a `testing.ManualPool`, each item is a pending task.
    Raises TypeError for a non-callable or a non-iterable, ValueError for a
    bad window.
    """
    return start_imap(_lanes(default_pool()), fn, iterable, window)


def stream(genfn: Callable[..., Iterable[T]], /, *args: Any, buffer: int = 16, **kwargs: Any) -> Stream[T]:
    """Run the generator `genfn(*args, **kwargs)` on the shared pool; the stream gives its values.

    GUI thread. Every value reaches the consumer in order, exactly once. The
    generator is suspended after its last `yield` while `buffer` values wait
    untaken. Its thread waits up to a millisecond for the consumer to take
    half of them, going on there if it does; else the thread is handed back,
    and the generator resumes, perhaps on another thread, once half of them
    are taken. Shutdown closes it on a worker too. `check_cancelled()` and
    `report_progress()` work inside it. Cancelling closes it on a worker
    thread. Raises TypeError for anything but a generator function,
    ValueError for a bad buffer.
    """
    return start_stream(_lanes(default_pool()), genfn, args, kwargs, buffer)
