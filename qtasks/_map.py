"""map: one function over a long or endless iterable, lazily, in chunks.

A `MapTask` lives on the GUI thread. It pulls items from the iterable there
(the iterable may be a generator touching GUI objects), groups them into
chunks, and hands each chunk to its pool as one lane item: a worker runs the
whole chunk in one go and hands it back through the bridge, where the chunk's
results are stored in input order and the next chunk is pulled.

Window. When the caller gives `window`, it counts items: at most `window`
items are pulled whose results are not yet collected (an imap, the subclass
in `_stream.py`, counts those its consumer has not taken), and a chunk holds at
most `window // (2 * threads)` items (at least one), so every thread can have
a chunk running and one queued. The default window is two chunks per thread:
for items that take a millisecond or more a chunk is one item, which makes it
twice the thread count in items, as the contract says; for shorter items a
chunk grows to about a millisecond of work (at most `MAX_CHUNK` items), so a
no-op function is not drowned in per-item overhead.

Chunk size adapts from the time the workers measured per item, and is also
kept small enough that pulling one chunk from the iterable costs the GUI thread
about a millisecond at most. One refill stops after `REFILL_BUDGET_S` (and
`REFILL_MIN_CHUNKS` chunks) and goes on from a zero timer, after Qt has had a
turn: a big window fills over several event-loop turns instead of stalling the
GUI in one. Where the pool's `ChunkRules` allow it (a Pool's do), a chunk
still running after `CHUNK_SPLIT_S` stops after its current item and the map
queues the rest again, spread over the threads: items that turn slow partway
through a map do not queue behind one thread.

Thread boundary: `_Chunk._execute_in_worker` runs on a pool thread and touches
only the chunk's own fields (its items, results and measured time); the pool's
lock guards `_phase`, and the worker hands the chunk back with
`bridge.transfer`. Everything else here runs on the GUI thread. See
ARCHITECTURE.md for the worker side (`_worker.py`) the chunks share with tasks.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from typing import Any, Callable, Final, Iterable, Iterator, Protocol, TypeVar, cast

import attrs

from . import _runtime
from ._binding import QTimer
from ._bridge import report
from ._errors import CancelledError
from ._task import CANCELLED, FINISHED, PENDING, Task, callable_name
from ._worker import QUEUED, RAN, RUNNING, LaneItem, run_as, take_back_or_flag

__all__ = ["MAX_CHUNK", "CarriedItem", "ChunkRules", "Lanes", "MapTask", "RunLanes", "start_map"]

# The most items one chunk may hold with the default window.
MAX_CHUNK: Final = 4096
# How much work a chunk aims at, in seconds of worker time.
CHUNK_TARGET_S: Final = 0.001
# How long pulling one chunk from the iterable may take on the GUI thread.
PULL_BUDGET_S: Final = 0.001
# How long one refill may pull and submit on the GUI thread before it lets Qt
# have a turn and goes on from a zero timer, once it has submitted at least
# REFILL_MIN_CHUNKS chunks: a small window always fills at once.
REFILL_BUDGET_S: Final = 0.002
REFILL_MIN_CHUNKS: Final = 64
# How long a worker runs one chunk on a Pool before it hands back the items it
# has not run: items that turn slow partway through a map spread over the
# threads again instead of queueing behind one thread in a chunk sized for
# fast ones.
CHUNK_SPLIT_S: Final = 0.005
# How fast the chunk size may grow from one measurement to the next: a fast
# first item must not make the next chunk a thousand slow ones.
GROWTH: Final = 4


@attrs.frozen
class ChunkRules:
    """How a pool wants a map's items grouped into chunks; each pool declares its own."""

    # The most items one chunk may hold.
    max_items: int
    # Whether a chunk running past CHUNK_SPLIT_S may stop and hand back the
    # items it has not run. False where a chunk is one task a test finishes.
    may_split: bool
    # Whether a big refill may go on after Qt has had a turn. False where a
    # test expects the map to have submitted all it can when it looks.
    paced: bool


class Lanes(Protocol):
    """What a map needs from its pool: a `Pool`, or `RunLanes` over any other."""

    _lock: threading.Lock

    @property
    def max_threads(self) -> int: ...

    @property
    def chunk_rules(self) -> ChunkRules: ...

    def _submit(self, item: LaneItem, key: object = ...) -> None: ...


class CarriedItem(LaneItem, Protocol):
    """A lane item that `RunLanes` can run as a task of a pool that has only `run()`."""

    _carrier: Task[Any] | None

    def _carried_instead(self, handle: Task[Any]) -> None:
        """Finish as `handle`, the carrier task, ended without the item running. GUI thread."""
        ...


class _Chunk:
    """Consecutive items of one map, run by one worker in one go."""

    __slots__ = (
        "_cancel_requested",
        "_carrier",
        "_count",
        "_elapsed",
        "_exc",
        "_fn",
        "_items",
        "_map",
        "_phase",
        "_results",
        "_split_s",
        "_start",
    )

    def __init__(
        self, owner: MapTask, fn: Callable[[Any], Any], start: int, items: list[Any], split_s: float
    ) -> None:
        self._map = owner
        self._fn = fn
        self._start = start
        self._items = items
        self._count = len(items)
        # Guarded by the pool's lock: QUEUED -> RUNNING -> RAN, or QUEUED -> DROPPED.
        self._phase: str = QUEUED
        # Read by check_cancelled() on the worker; written once on the GUI thread.
        self._cancel_requested = False
        self._results: list[Any] | None = None
        self._exc: BaseException | None = None
        self._elapsed = 0.0
        # After this many seconds the worker stops and hands back the rest.
        self._split_s = split_s
        # The task running this chunk when its pool is not a Pool (RunLanes).
        self._carrier: Task[Any] | None = None

    def _execute_in_worker(self) -> None:
        """Run the function over the chunk's items. Worker thread; never raises."""
        run_as(self, self._run_items_in_worker, (), {})

    def _run_items_in_worker(self) -> None:
        """Run the items, keeping results or the first exception. Worker thread; never raises.

        The first exception stops the chunk. Past `_split_s` the chunk stops
        after the current item, and its map queues the items not run again.
        A cancel arriving while the chunk runs is seen by the function through
        `qtasks.check_cancelled()`; otherwise the chunk runs on until it ends
        or splits, and its results are dropped.
        """
        clock = time.perf_counter
        begin = clock()
        deadline = begin + self._split_s
        fn = self._fn
        results: list[Any] = []
        append = results.append
        try:
            for item in self._items:
                append(fn(item))
                if clock() > deadline:
                    break
        except BaseException as exc:  # noqa: BLE001 - delivered to the map's awaiter
            self._exc = exc
        finally:
            self._results = results
            self._elapsed = clock() - begin

    def _deliver(self) -> None:
        """Hand the chunk's outcome to its map. GUI thread."""
        self._map._chunk_done(self)

    def _carried_instead(self, handle: Task[Any]) -> None:
        """Deliver the outcome its carrier task ended with, the chunk not having run. GUI thread.

        A cancelled or failed carrier ends the map the same way; a result
        given by hand is the item's result.
        """
        if handle.cancelled():
            self._exc = CancelledError()
        elif handle.exception() is not None:
            self._exc = handle.exception()
        elif self._count == 1:
            self._results = [handle.result()]
        else:
            msg = f"{handle!r} finished without running the {self._count} items of {self!r}"
            self._exc = RuntimeError(msg)
        self._deliver()

    def _task(self) -> MapTask:
        return self._map

    def _set_progress(self, value: object) -> None:
        """Ignore per-item progress: a map reports (finished, total) itself. Any thread."""

    def __repr__(self) -> str:
        return f"<chunk of {self._count} item(s) at {self._start} of {self._map!r}>"


class MapTask(Task[list[Any]]):
    """The results of one function over an iterable, in input order."""

    __slots__ = (
        "_chunk_cap",
        "_chunk_size",
        "_collected",
        "_exhausted",
        "_fn",
        "_in_flight",
        "_in_flight_items",
        "_item_limit",
        "_iterator",
        "_max_chunks",
        "_name",
        "_paced",
        "_pool",
        "_pull_per_item",
        "_pulled",
        "_pulling",
        "_refill_scheduled",
        "_results",
        "_split_s",
    )

    def __init__(
        self,
        pool: Lanes,
        fn: Callable[[Any], Any],
        iterator: Iterator[Any],
        window: int | None,
    ) -> None:
        """Start pulling `iterator`; `start_map` has checked the arguments. GUI thread."""
        super().__init__()
        self._pool = pool
        self._fn: Callable[[Any], Any] | None = fn
        self._name = callable_name(fn)
        self._iterator: Iterator[Any] | None = iterator
        threads = pool.max_threads
        if window is None:
            # Two chunks per thread, and for a map no item limit (an imap has one).
            self._item_limit = self._default_item_limit(threads)
            self._max_chunks = 2 * threads
            self._chunk_cap = MAX_CHUNK
        else:
            self._item_limit = window
            self._max_chunks = window
            self._chunk_cap = max(1, window // (2 * threads))
        rules = pool.chunk_rules
        # A testing pool asks for one item per task, so a test finishes each item on its own.
        self._chunk_cap = min(self._chunk_cap, rules.max_items)
        # How long a chunk may run before it splits, if the pool lets it.
        self._split_s = CHUNK_SPLIT_S if rules.may_split else math.inf
        self._paced = rules.paced
        # The first chunks hold one item each: nothing is measured yet.
        self._chunk_size = 1
        self._pull_per_item = 0.0
        # Invariant: _results has one slot per item pulled; the slots of the
        # chunks in _in_flight are None until those chunks are delivered.
        self._results: list[Any] = []
        self._pulled = 0
        self._collected = 0
        self._in_flight: dict[_Chunk, None] = {}
        self._in_flight_items = 0
        self._exhausted = False
        self._refill_scheduled = False
        # True while the iterable runs; see _refill().
        self._pulling = False
        self._refill()

    # -- GUI thread ---------------------------------------------------------

    def _refill(self) -> None:
        """Pull and submit chunks until the window is full or the iterable ends."""
        if self._pulling:
            # Why: the iterable spun the event loop (processEvents, a modal
            # dialog) and a chunk came back meanwhile. Pulling again here
            # would re-enter it; the refill further up the stack goes on
            # with the room that chunk freed once the pull returns.
            return
        pool = self._pool
        fn = self._fn
        iterator = self._iterator
        deadline = time.perf_counter() + REFILL_BUDGET_S
        submitted = 0
        while (
            iterator is not None
            and fn is not None
            and self._state is PENDING
            and not self._exhausted
            and len(self._in_flight) < self._max_chunks
            and (self._item_limit < 0 or self._outstanding() < self._item_limit)
        ):
            size = self._chunk_size
            if self._item_limit >= 0:
                room = self._item_limit - self._outstanding()
                if room < size and self._in_flight:
                    # Why wait for room for a whole chunk: a window filled with
                    # the first one-item chunks would otherwise stay so, one
                    # freed item at a time, and never group items again.
                    break
                size = min(size, room)
            began = time.perf_counter()
            self._pulling = True
            try:
                items = list(itertools.islice(iterator, size))
            except BaseException as exc:  # noqa: BLE001 - the iterable's own failure ends the map
                self._fail(exc)
                return
            finally:
                self._pulling = False
            if self._state is not PENDING:
                return  # the iterable cancelled or failed the map while we pulled
            if items:
                self._pull_per_item = (time.perf_counter() - began) / len(items)
            if len(items) < size:
                self._exhausted = True
                self._iterator = None
            if not items:
                break
            chunk = _Chunk(self, fn, self._pulled, items, self._split_s)
            self._pulled += len(items)
            self._reserve(len(items))
            self._in_flight[chunk] = None
            self._in_flight_items += len(items)
            # Each map is its own lane, so it takes turns with everything else.
            pool._submit(chunk, self)
            submitted += 1
            if submitted >= REFILL_MIN_CHUNKS and self._paced and time.perf_counter() > deadline:
                self._refill_later()
                return
        if self._exhausted and not self._in_flight and self._state is PENDING:
            if self._progress_listeners:
                # The end may be found only now, by a pull that got nothing.
                self._set_progress((self._collected, self._pulled))
            self._complete()

    # -- what a map and an imap do differently -------------------------------

    def _default_item_limit(self, threads: int) -> int:
        """Return the most items pulled and not yet collected without a window; -1 for none."""
        return -1

    def _outstanding(self) -> int:
        """Return how many pulled items count against the window: those not yet collected."""
        return self._in_flight_items

    def _reserve(self, count: int) -> None:
        """Make room for the results of `count` items just pulled."""
        self._results.extend(itertools.repeat(None, count))

    def _store(self, start: int, results: list[Any]) -> None:
        """Keep the results of the items from `start` on, delivered by a chunk."""
        self._results[start : start + len(results)] = results

    def _chunk_failed(self, start: int, results: list[Any], exc: BaseException) -> None:
        """End the map on a chunk's exception; `results` came before it, from `start` on."""
        if isinstance(exc, CancelledError):
            self.cancel()
        else:
            self._fail(exc)

    def _complete(self) -> None:
        """End the map: every item pulled has been collected and the iterable is exhausted."""
        self._finish(FINISHED, self._results)

    def _refill_later(self) -> None:
        """Go on refilling after Qt has handled a turn of events. GUI thread; idempotent."""
        if not self._refill_scheduled:
            self._refill_scheduled = True
            QTimer.singleShot(0, self._refill_soon)

    def _refill_soon(self) -> None:
        """The zero timer's call: refill unless the map has ended. GUI thread; never raises."""
        self._refill_scheduled = False
        try:
            self._refill()
        except BaseException as exc:  # noqa: BLE001 - a timer callback must never raise
            report(exc)

    def _chunk_done(self, chunk: _Chunk) -> None:
        """Store a delivered chunk's results, adapt the chunk size, pull more."""
        results, exc, items = chunk._results, chunk._exc, chunk._items
        chunk._results = chunk._exc = None
        chunk._items = []
        if self._state is not PENDING:
            return  # the map ended while the chunk ran: its outcome is dropped
        del self._in_flight[chunk]
        self._in_flight_items -= chunk._count
        if exc is not None:
            self._chunk_failed(chunk._start, results or [], exc)
            return
        assert results is not None
        start, done = chunk._start, len(results)
        self._collected += done
        self._store(start, results)
        if self._state is not PENDING:
            return  # delivering the results ended it (an imap's consumer is gone)
        self._adapt(chunk._elapsed, done)
        if done < chunk._count:
            self._resubmit(start + done, items[done:])
        if self._progress_listeners:
            total = self._pulled if self._exhausted else None
            self._set_progress((self._collected, total))
        self._refill()

    def _resubmit(self, start: int, items: list[Any]) -> None:
        """Queue again the items a split chunk handed back, spread over the threads."""
        fn = self._fn
        assert fn is not None
        piece = max(self._chunk_size, -(-len(items) // (2 * self._pool.max_threads)))
        for offset in range(0, len(items), piece):
            part = items[offset : offset + piece]
            chunk = _Chunk(self, fn, start + offset, part, self._split_s)
            self._in_flight[chunk] = None
            self._in_flight_items += len(part)
            self._pool._submit(chunk, self)

    def _adapt(self, elapsed: float, count: int) -> None:
        """Size the next chunks to about CHUNK_TARGET_S of worker time."""
        per_item = elapsed / count if count else CHUNK_TARGET_S
        wanted = int(CHUNK_TARGET_S / per_item) if per_item > 0 else self._chunk_cap
        if self._pull_per_item > 0:
            wanted = min(wanted, int(PULL_BUDGET_S / self._pull_per_item))
        self._chunk_size = max(1, min(wanted, self._chunk_size * GROWTH, self._chunk_cap))

    def _fail(self, exc: BaseException) -> None:
        """Fail the map with `exc` (cancel it, for a CancelledError) and stop everything still in flight."""
        in_flight = list(self._in_flight)
        # Why _finish_with: a CancelledError (the iterable's, or a function's)
        # cancels the map, as anywhere else, rather than failing it with one.
        if self._finish_with(None, exc):
            self._stop_chunks(in_flight)

    def cancel(self) -> bool:
        """Stop the map: queued chunks never run; running ones see their cancel flag.

        GUI thread. The map ends as cancelled at once and pulls nothing more.
        Returns False if it is done already.
        """
        return super().cancel()

    def _abort(self) -> bool:
        in_flight = list(self._in_flight)
        if not self._finish(CANCELLED):
            return False
        self._stop_chunks(in_flight)
        return True

    def _stop_chunks(self, chunks: list[_Chunk]) -> None:
        # A chunk that ran already may still be in the bridge; _chunk_done() drops it.
        take_back_or_flag(self._pool._lock, chunks)
        for chunk in chunks:
            if chunk._carrier is not None:
                chunk._carrier.cancel()

    def _released(self) -> None:
        self._fn = None
        self._iterator = None
        self._in_flight = {}
        if self._state is not FINISHED:
            self._results = []

    def _describe(self) -> str:
        return f"{self._name}() over {self._pulled} item(s)"

    def _waiting_text(self) -> str:
        return f", {self._collected} done"


M = TypeVar("M", bound=MapTask)


def start_map(
    pool: Lanes,
    fn: Callable[[Any], Any],
    iterable: Iterable[Any],
    window: int | None,
    *,
    kind: type[M] = MapTask,  # type: ignore[assignment]
    call: str = "qtasks.map",
) -> M:
    """Check the arguments and start a map (or a `kind` of one, named `call`) on `pool`. GUI thread.

    Raises TypeError for a non-callable or a non-iterable, ValueError for a
    bad window, RuntimeError off the GUI thread.
    """
    if not callable(fn):
        msg = (
            f"{call} needs a callable taking one item, got {fn!r}: "
            f"pass the function and the iterable, e.g. {call}(load, paths)"
        )
        raise TypeError(msg)
    if window is not None and (not isinstance(window, int) or isinstance(window, bool) or window < 1):
        msg = f"{call}(window={window!r}): window must be a whole number >= 1, or None"
        raise ValueError(msg)
    try:
        iterator = iter(iterable)
    except TypeError:
        msg = (
            f"{call} needs an iterable of items, got {iterable!r}: "
            f"pass the function and the iterable, e.g. {call}(load, paths)"
        )
        raise TypeError(msg) from None
    if not _runtime.on_gui_thread():
        msg = (
            f"{call} was called off the GUI thread; it advances the iterable "
            "on the GUI thread: call it there, e.g. from a qtasks coroutine"
        )
        raise RuntimeError(msg)
    return kind(pool, fn, iterator, window)


def _run_item_in_worker(lanes: RunLanes, item: CarriedItem) -> None:
    """Run a lane item unless its task dropped it. Worker thread (or a testing pool)."""
    with lanes._lock:
        if item._phase is not QUEUED:
            return
        item._phase = RUNNING
    item._execute_in_worker()
    with lanes._lock:
        item._phase = RAN


class RunLanes:
    """Run map chunks through the `run()` of a pool that has no lanes, one task per chunk.

    For a testing pool, say: each chunk becomes one task of that pool (its
    carrier), and the map cancels those tasks with it. The pool states its
    thread count and its `ChunkRules`. GUI thread.
    """

    def __init__(self, run: Callable[..., Task[Any]], max_threads: int, rules: ChunkRules) -> None:
        self._run = run
        self._max_threads = max_threads
        self._rules = rules
        self._lock = threading.Lock()

    @property
    def max_threads(self) -> int:
        return self._max_threads

    @property
    def chunk_rules(self) -> ChunkRules:
        return self._rules

    def _submit(self, item: LaneItem, key: object = None) -> None:
        carried = cast(CarriedItem, item)
        handle = self._run(_run_item_in_worker, self, carried)
        carried._carrier = handle
        handle.add_done_callback(lambda handle: self._item_task_done(carried, handle))

    def _item_task_done(self, item: CarriedItem, handle: Task[Any]) -> None:
        """Deliver an item once its task is done. GUI thread.

        Why the task's outcome: the task may end without the item having
        run to its end (a testing pool cancels it, fails it or gives its
        result by hand); the item's own task then ends the same way.
        """
        with self._lock:
            ran = item._phase is RAN
        if ran:
            item._deliver()
        else:
            item._carried_instead(handle)
