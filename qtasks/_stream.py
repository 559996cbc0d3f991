"""Streams: values delivered one by one, as they come, with backpressure.

A `Stream` is the consumer's end, on the GUI thread: a deque of values that
arrived and were not yet taken, and at most one pending handle (`_Next`) that
a consumer waits on. Its producer is a task in the live registry:

- `ImapTask`, a `MapTask` (`_map.py`) whose chunks hand their results over
  in input order instead of keeping them. Its window counts the items pulled
  and not yet taken by the consumer, so a slow consumer, or a slow item that
  holds up those after it, stops the pulling.
- `StreamTask`, a generator function run on the pool as a lane item. A run
  produces values until `buffer` of them wait untaken. Then it lingers for
  at most `LINGER_S`, as the pool's worker loops do, and goes on producing
  on the same thread if the consumer takes half of them meanwhile; else it
  returns: the pool thread is free again, and the consumer's taking
  resubmits the generator (which may resume on any thread). A run lingers
  only during its first `RUN_SLICE_S`, so a consumer that keeps pace does
  not keep a thread from the pool's other lanes. Each value goes to a
  per-stream outbox, and the first of a burst posts one flush to the bridge.

The producer holds its stream only weakly, so a stream nobody holds is
collected, and its collection cancels the producer. Cancelling a started
generator closes it on a worker thread: by the run that sees the cancel flag,
or by a `_GenClose` item submitted for a parked or queued generator.

Thread boundary: `StreamTask._execute_in_worker` and `_GenClose._execute_in_worker`
run on a pool thread and touch only the generator, the outbox, the produced
count, the flush flag and the lingering run's waiter (under the pool's lock);
everything else runs on the GUI thread.
"""

from __future__ import annotations

import inspect
import threading
import time
import weakref
from collections import deque
from typing import Any, Callable, Final, Generator, Generic, Iterator, TypeVar

from . import _runtime
from ._binding import QTimer
from ._bridge import report
from ._errors import CancelledError
from ._map import MAX_CHUNK, Lanes, MapTask, start_map
from ._task import CANCELLED, FAILED, FINISHED, NEVER, NO_PROGRESS, PENDING, Task, callable_name
from ._worker import DROPPED, QUEUED, RUNNING, run_as

__all__ = ["ImapTask", "Stream", "StreamTask", "start_imap", "start_stream"]

T = TypeVar("T")

# How long a consumer may take buffered values without a suspension before
# the next value comes after Qt has had a turn: values already waiting are
# handed out at once, and a long run of them must not freeze the GUI.
CONSUMER_BUDGET_S: Final = 0.002

# How long a generator's run with a full buffer waits for the consumer to
# take half of it before it hands its thread back: the consumer of a fast
# generator takes that many within a GUI-thread turn, and going on with the
# same thread spares a round trip through the pool and a Qt wake-up.
LINGER_S: Final = 0.001

# How long a generator's run may linger for room at all; after that, a full
# buffer ends the run and the next one queues behind the pool's other lanes.
RUN_SLICE_S: Final = 0.01

# Without a window, an imap pulls at most this many items per pool thread
# that its consumer has not taken yet: four big chunks' worth.
IMAP_ITEMS_PER_THREAD: Final = 4 * MAX_CHUNK


class _Next(Task[Any]):
    """The handle `Stream.next()` returns: the next value, or the stream's end."""

    __slots__ = ()

    def _describe(self) -> str:
        return "Stream.next()"


def _ready(value: Any, exc: BaseException | None = None) -> _Next:
    """Return a `_Next` that is done already, without entering the live registry. GUI thread.

    Why not `Task.__init__`: a buffered value is handed out at the rate of
    the consumer's loop, and the step's trampoline resumes at once on it.
    """
    handle = _Next.__new__(_Next)
    handle._state = FINISHED if exc is None else FAILED
    handle._value = value
    handle._exc = exc
    handle._callbacks = None
    handle._progress_listeners = None
    handle._progress = NO_PROGRESS
    handle._failure_report = NEVER
    return handle


# A Stream's own state, besides its producer's.
_OPEN: Final = "open"
_ENDED: Final = "ended"  # the consumer has been given the end
_CLOSED: Final = "closed"  # cancelled, left or collected


class Stream(Generic[T]):
    """Values from a worker, delivered in order on the GUI thread: `qtasks.imap`, `qtasks.stream`.

    Consume it with `async for value in stream:` in an `async def`, or with
    `value = yield stream.next()` in a generator coroutine (the awaitable
    raises `StopAsyncIteration` after the last value). One consumer at a
    time: a second `next()` while one waits raises RuntimeError. `cancel()`,
    leaving `with stream:` / `async with stream:`, or dropping the last
    reference stops the producer. Methods are for the GUI thread.
    """

    __slots__ = ("__weakref__", "_buffer", "_producer", "_state", "_step", "_taken", "_waiter", "_yield_at")

    def __init__(self, producer: ImapTask | StreamTask) -> None:
        self._producer = producer
        # Invariant: while _waiter is pending, _buffer is empty (a value that
        # arrives goes to the waiter first), or a hand-over of its first
        # value is scheduled (the consumer's step had used its budget).
        self._buffer: deque[Any] = deque()
        self._waiter: _Next | None = None
        self._state = _OPEN
        self._taken = 0
        # Within one scheduler step of the consumer (numbered _step), until
        # _yield_at a buffered value is handed out in a finished handle.
        self._step = -1
        self._yield_at = 0.0
        ref = weakref.ref(self)
        producer._stream = ref

        def ended(task: Task[Any]) -> None:
            stream = ref()
            if stream is not None:
                stream._producer_ended()

        producer._on_done(ended)

    # -- consuming ------------------------------------------------------------

    def next(self) -> Task[T]:
        """Return a handle on the next value; it raises `StopAsyncIteration` after the last.

        GUI thread. The handle is done already when a value is waiting, so
        the awaiting coroutine resumes at once. A failure of the producer is
        raised after the values produced before it. Raises RuntimeError when
        the stream has ended or was closed, or when another consumer is
        waiting on it.
        """
        buffer = self._buffer
        if not buffer:
            return self._next_slow()
        now = time.perf_counter()
        step = _runtime.STATE.steps
        if step != self._step:
            self._step = step
            self._yield_at = now + CONSUMER_BUDGET_S
        if now < self._yield_at:
            self._taken += 1
            handle = _ready(buffer.popleft())
            self._producer._taken()
            return handle
        return self._next_slow()

    __anext__ = next  # noqa: A003

    def __aiter__(self) -> Stream[T]:
        return self

    def _next_slow(self) -> Task[T]:
        """`next()` with nothing buffered: the end, or a handle that waits. GUI thread."""
        if self._state is not _OPEN:
            how = "has ended" if self._state is _ENDED else "was closed"
            msg = (
                f"next() on {self!r}, which {how}: a stream is consumed once; "
                "start a new one to go over the values again"
            )
            raise RuntimeError(msg)
        waiter = self._waiter
        if waiter is not None and waiter._state is PENDING:
            msg = (
                f"next() on {self!r} while another consumer waits on it: a stream has one "
                "consumer at a time; share the values from one loop, or start one stream each"
            )
            raise RuntimeError(msg)
        if not self._buffer and self._producer._state is not PENDING:
            self._state = _ENDED
            return _ready(None, self._end_exception())
        self._waiter = waiter = _Next()
        waiter._failure_report = NEVER
        if self._buffer:
            # The consumer's step has taken values for its whole budget: the
            # next one comes after Qt has had a turn, or, outside the event
            # loop (a test running the bridge by hand), on the next step.
            bridge = _runtime.bridge()
            if bridge.draining():
                QTimer.singleShot(0, self._hand_over)
            else:
                bridge.post(self._hand_over)
        return waiter

    def _hand_over(self) -> None:
        """Give a waiting consumer the next buffered value, or the end. GUI thread; a zero timer's call."""
        try:
            waiter = self._waiter
            if waiter is None or waiter._state is not PENDING:
                return
            if self._buffer:
                self._waiter = None
                self._taken += 1
                waiter._finish(FINISHED, self._buffer.popleft())
                self._producer._taken()
            else:
                self._producer_ended()
        except BaseException as exc:  # noqa: BLE001 - a timer callback must never raise
            report(exc)

    def _end_exception(self) -> BaseException:
        """Return what the consumer gets at the end: StopAsyncIteration, or the producer's failure."""
        producer = self._producer
        if producer._state is FINISHED:
            return StopAsyncIteration()
        if producer._state is CANCELLED:
            return CancelledError(f"{self!r} was cancelled")
        _value, exc = producer._outcome()
        assert exc is not None
        return exc

    # -- from the producer (GUI thread) ---------------------------------------

    def _push(self, values: list[Any]) -> None:
        """Take values from the producer, in order: the first to a waiting consumer."""
        if self._state is _CLOSED:
            return
        waiter = self._waiter
        # Why only with the buffer empty: values that wait already go first,
        # by the hand-over scheduled for them.
        if waiter is not None and waiter._state is PENDING and not self._buffer:
            self._waiter = None
            self._taken += 1
            self._buffer.extend(values[1:])
            waiter._finish(FINISHED, values[0])
            self._producer._taken()
        else:
            self._buffer.extend(values)

    def _producer_ended(self) -> None:
        """Hand the end to a waiting consumer, the producer having finished, failed or been cancelled."""
        waiter = self._waiter
        waiting = waiter is not None and waiter._state is PENDING
        if waiting and not self._buffer and self._producer._state is not PENDING:
            assert waiter is not None
            self._waiter = None
            self._state = _ENDED
            waiter._finish_with(None, self._end_exception())

    # -- stopping ---------------------------------------------------------------

    def cancel(self) -> bool:
        """Stop the stream: its producer stops, values not yet taken are dropped.

        GUI thread; idempotent. A consumer waiting on it gets `CancelledError`.
        A failure of the producer not yet delivered counts as consumed. Returns
        False if the stream had ended or was closed already.
        """
        if self._state is not _OPEN:
            return False
        self._state = _CLOSED
        self._buffer.clear()
        producer = self._producer
        if producer._state is FAILED:
            producer._consume()
        else:
            producer.cancel()
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.cancel()
        return True

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()

    async def __aenter__(self) -> Stream[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.cancel()

    def __del__(self) -> None:
        # A stream nobody holds stops its producer. Why post off the GUI
        # thread: the collector runs wherever an allocation triggers it.
        producer = getattr(self, "_producer", None)
        if producer is None or producer._state is not PENDING:
            return
        try:
            if _runtime.STATE.gui_ident == threading.get_ident():
                producer.cancel()
            else:
                _runtime.call_soon(producer.cancel)
        except BaseException as exc:  # noqa: BLE001 - nothing may escape a finalizer
            report(exc)

    # -- asking -----------------------------------------------------------------

    def on_progress(self, fn: Callable[[Any], object]) -> None:
        """Call `fn(value)` on the GUI thread with each progress value the producer reports.

        An imap reports `(finished, total)`, as `qtasks.map`; a generator
        what it passes to `qtasks.report_progress()`.
        """
        self._producer.on_progress(fn)

    def __repr__(self) -> str:
        try:
            state = self._state
            if state is _OPEN:
                state = "running" if self._producer._state is PENDING else self._producer._state
            return (
                f"<qtasks.Stream {self._producer._describe()} {state}, "
                f"{self._taken} taken, {len(self._buffer)} waiting>"
            )
        except Exception:  # noqa: BLE001 - a repr goes into reports and must not raise
            return "<qtasks.Stream>"


# -- imap -----------------------------------------------------------------------


class ImapTask(MapTask):
    """An imap's producer: a map whose results go to its stream in input order, and are not kept."""

    __slots__ = ("_arrived", "_consumed", "_delivered", "_error_at", "_failure", "_stream")

    def __init__(
        self, pool: Lanes, fn: Callable[[Any], Any], iterator: Iterator[Any], window: int | None
    ) -> None:
        self._stream: weakref.ref[Stream[Any]] | None = None
        # Results of chunks that came back ahead of an earlier one, by start.
        self._arrived: dict[int, list[Any]] = {}
        # How many results went to the stream, and how many its consumer took.
        self._delivered = 0
        self._consumed = 0
        # Where a worker's exception stands in input order, once one came back.
        self._error_at = -1
        self._failure: BaseException | None = None
        super().__init__(pool, fn, iterator, window)

    def _default_item_limit(self, threads: int) -> int:
        return IMAP_ITEMS_PER_THREAD * threads

    def _outstanding(self) -> int:
        # Why not the items in flight: a result that came back and waits,
        # for an earlier one or for the consumer, is still held.
        return self._pulled - self._consumed

    def _reserve(self, count: int) -> None:
        pass

    def _store(self, start: int, results: list[Any]) -> None:
        if start != self._delivered:
            self._arrived[start] = results
            return
        arrived = self._arrived
        stream = self._stream() if self._stream is not None else None
        while True:
            if results:
                self._delivered += len(results)
                if stream is None:
                    self.cancel()  # the stream was collected: nobody will take more
                    return
                stream._push(results)
            next_results = arrived.pop(self._delivered, None)
            if next_results is None:
                break
            results = next_results
        if self._delivered == self._error_at:
            assert self._failure is not None
            self._fail(self._failure)

    def _chunk_failed(self, start: int, results: list[Any], exc: BaseException) -> None:
        if 0 <= self._error_at <= start:
            return  # a chunk after a failure, stopped or not: dropped
        if isinstance(exc, CancelledError):
            self.cancel()
            return
        # Why not fail now: the results of the items before it come first.
        # Nothing more is pulled, and chunks after it stop.
        self._error_at = start + len(results)
        self._failure = exc
        self._exhausted = True
        self._iterator = None
        self._stop_chunks([chunk for chunk in self._in_flight if chunk._start > start])
        self._store(start, results)

    def _complete(self) -> None:
        if self._error_at < 0:
            self._finish(FINISHED, None)

    def _taken(self) -> None:
        """Count a result the consumer took, and pull more if the window has room. GUI thread."""
        self._consumed += 1
        if (
            not self._exhausted
            and len(self._in_flight) < self._max_chunks
            and self._item_limit - (self._pulled - self._consumed) >= self._chunk_size
            and self._state is PENDING
        ):
            self._refill()

    def _released(self) -> None:
        super()._released()
        self._arrived = {}
        self._failure = None

    def _describe(self) -> str:
        return f"imap {self._name}() over {self._pulled} item(s)"

    def _waiting_text(self) -> str:
        return f", {self._delivered} delivered"


def start_imap(pool: Lanes, fn: Callable[[Any], Any], iterable: Any, window: int | None) -> Stream[Any]:
    """Check the arguments and start an imap on `pool`; return its stream. GUI thread.

    Raises as `qtasks.map` does for bad arguments, naming `qtasks.imap`.
    """
    producer = start_map(pool, fn, iterable, window, kind=ImapTask, call="qtasks.imap")
    return Stream(producer)


# -- stream: a generator on the pool ------------------------------------------------


class StreamTask(Task[None]):
    """A generator function's run on the pool, feeding its stream: the task and its lane item."""

    __slots__ = (
        "_buffer",
        "_cancel_requested",
        "_carrier",
        "_consumed",
        "_flush_posted",
        "_gen",
        "_gen_done",
        "_name",
        "_outbox",
        "_parked",
        "_phase",
        "_pool",
        "_produced",
        "_raised",
        "_resume_at",
        "_sleeper",
        "_started",
        "_stream",
    )

    def __init__(self, pool: Lanes, gen: Generator[Any, None, Any], name: str, buffer: int) -> None:
        super().__init__()
        self._pool = pool
        self._name = name
        self._stream: weakref.ref[Stream[Any]] | None = None
        self._gen: Generator[Any, None, Any] | None = gen
        # Guarded by the pool's lock: QUEUED -> RUNNING -> RAN, then QUEUED
        # again for the next run; or DROPPED.
        self._phase: str = QUEUED
        # Read by check_cancelled() on the worker; written once on the GUI thread.
        self._cancel_requested = False
        self._carrier: Task[Any] | None = None
        self._buffer = buffer
        # The generator resumes once no more than this many values wait.
        self._resume_at = buffer // 2
        # Written by the running worker only; read by the GUI thread, which
        # acts on it only between runs or while a run lingers (not producing).
        self._produced = 0
        # Written by the GUI thread only; the worker reads it to stop when full.
        self._consumed = 0
        # Values produced and not yet flushed to the stream (any thread appends,
        # the GUI thread pops). True while a flush is posted and not yet run.
        self._outbox: deque[Any] = deque()
        self._flush_posted = False
        # Set by a run: the generator returned, raised, or was closed.
        self._gen_done = False
        self._raised: BaseException | None = None
        # Whether a run has started the generator, which then needs closing.
        self._started = False
        # Invariant: _parked is True exactly while the generator, not done,
        # waits for the consumer with no run queued or running.
        self._parked = False
        # Guarded by the pool's lock: the held lock a run lingering for room
        # waits on; whoever takes it out releases it, which wakes the run.
        self._sleeper: threading.Lock | None = None
        pool._submit(self, self)

    # -- worker thread -------------------------------------------------------------

    def _execute_in_worker(self) -> None:
        """Run the generator until the buffer fills, it ends or is cancelled. Worker thread; never raises."""
        self._started = True
        run_as(self, self._produce_in_worker, (), {})

    def _produce_in_worker(self) -> None:
        gen = self._gen
        assert gen is not None
        outbox = self._outbox
        post = _runtime.bridge().post
        limit = self._buffer
        # Why not on the GUI thread (a testing pool runs the generator there):
        # its consumer cannot take anything while this waits.
        linger_until = time.perf_counter() + RUN_SLICE_S
        if threading.get_ident() == _runtime.STATE.gui_ident:
            linger_until = 0.0
        try:
            while not self._cancel_requested:
                if self._produced - self._consumed >= limit and not self._room_came_in_worker(linger_until):
                    return  # full: _deliver() parks it or runs it again
                # Why no local name for the value: the worker must not hold
                # it after the consumer has let go of it.
                outbox.append(next(gen))
                self._produced += 1
                if not self._flush_posted:
                    self._flush_posted = True
                    post(self._flush)
            # Cancelled while running: its finally blocks run here, on the worker.
            gen.close()
            self._gen_done = True
        except StopIteration:
            self._gen_done = True
        except BaseException as exc:  # noqa: BLE001 - delivered after the values before it
            self._gen_done = True
            self._raised = exc

    def _room_came_in_worker(self, linger_until: float) -> bool:
        """Wait up to `LINGER_S` for the consumer to take half the buffer; tell whether it did.

        Worker thread. Returns False at once past `linger_until`, and as soon
        as the stream is cancelled (the caller then sees its flag).
        """
        if time.perf_counter() > linger_until:
            return False
        lock = self._pool._lock
        waiter = threading.Lock()
        waiter.acquire()
        with lock:
            self._sleeper = waiter
        # Why check after publishing the waiter: the consumer may have taken
        # values since the caller looked, without seeing a waiter to wake.
        if self._produced - self._consumed > self._resume_at and not self._cancel_requested:
            waiter.acquire(timeout=LINGER_S)
        with lock:
            # Whoever took the waiter out released it; either way the counts decide.
            self._sleeper = None
        return self._produced - self._consumed <= self._resume_at

    # -- GUI thread --------------------------------------------------------------------

    def _flush(self) -> None:
        """Hand the values in the outbox to the stream, in order."""
        self._flush_posted = False
        outbox = self._outbox
        if not outbox:
            return
        values = [outbox.popleft() for _ in range(len(outbox))]
        if self._state is not PENDING:
            return
        stream = self._stream() if self._stream is not None else None
        if stream is None:
            self.cancel()  # the stream was collected: nobody will take more
            return
        stream._push(values)

    def _deliver(self) -> None:
        """After a run: flush, then end, park, or run the generator again."""
        self._flush()
        if self._gen_done:
            self._gen = None
        if self._state is not PENDING:
            self._close_on_worker()
            return
        if self._gen_done:
            exc, self._raised = self._raised, None
            self._finish_with(None, exc)
            return
        if self._produced - self._consumed <= self._resume_at:
            self._run_again()
        else:
            self._parked = True

    def _carried_instead(self, handle: Task[Any]) -> None:
        """End as the carrier task of a testing pool ended, the generator not having run."""
        if handle.cancelled():
            self.cancel()
        elif handle.exception() is not None:
            self._flush()
            self._finish_with(None, handle.exception())
            self._close_on_worker()
        else:
            msg = f"{handle!r} finished without running the generator of {self!r}"
            self._finish(FAILED, exc=RuntimeError(msg))
            self._close_on_worker()

    def _run_again(self) -> None:
        with self._pool._lock:
            self._phase = QUEUED
        self._pool._submit(self, self)

    def _taken(self) -> None:
        """Count a value the consumer took; once half the buffer is free, wake or resume the generator.

        Why so little per value: a consumer's loop calls this for each one.
        A run lingering for room is woken once, as the count crosses half.
        """
        self._consumed += 1
        if self._produced - self._consumed > self._resume_at:
            return
        if self._sleeper is not None:
            with self._pool._lock:
                sleeper, self._sleeper = self._sleeper, None
            if sleeper is not None:
                sleeper.release()
        elif self._parked:
            self._parked = False
            if self._state is PENDING:
                self._run_again()

    def _close_on_worker(self) -> None:
        """Close a started generator on a worker thread, so its finally blocks run there. Idempotent."""
        gen, self._gen = self._gen, None
        if gen is not None and self._started:
            self._pool._submit(_GenClose(self, gen), self)

    def cancel(self) -> bool:
        """Stop the generator: a queued run never happens, a running one sees its cancel flag.

        GUI thread. A started generator is closed on a worker thread.
        Returns False if the stream's producer is done already.
        """
        return super().cancel()

    def _abort(self) -> bool:
        # Why one lock section: a worker may claim a queued run meanwhile,
        # and a generator running there must not be closed from here too.
        with self._pool._lock:
            idle = self._phase is not RUNNING
            if self._phase is QUEUED:
                self._phase = DROPPED
            else:
                self._cancel_requested = True
            # A run lingering for room wakes to see its flag.
            sleeper, self._sleeper = self._sleeper, None
        if sleeper is not None:
            sleeper.release()
        if self._carrier is not None:
            self._carrier.cancel()
        if not self._finish(CANCELLED):
            return False
        self._parked = False
        if idle:
            # Queued, parked, or its run's delivery still on the way.
            self._close_on_worker()
        return True

    def _released(self) -> None:
        self._outbox.clear()

    def _task(self) -> Task[Any]:
        return self

    def _describe(self) -> str:
        return f"stream {self._name}()"

    def _waiting_text(self) -> str:
        return ", parked" if self._parked else f", {self._phase}"


class _GenClose:
    """Closing a cancelled generator on a worker thread: a lane item of its stream's pool."""

    __slots__ = ("_cancel_requested", "_carrier", "_gen", "_owner", "_phase", "_raised")

    # A pool's shutdown queues it again instead of dropping it: dropped, the
    # generator would be closed when collected, on the GUI thread.
    _survives_drop: Final = True

    def __init__(self, owner: StreamTask, gen: Generator[Any, None, Any]) -> None:
        self._owner = owner
        self._gen: Generator[Any, None, Any] | None = gen
        self._phase: str = QUEUED
        self._cancel_requested = False
        self._carrier: Task[Any] | None = None
        self._raised: BaseException | None = None

    def _execute_in_worker(self) -> None:
        """Throw GeneratorExit in at the generator's yield. Worker thread; never raises."""
        gen = self._gen
        assert gen is not None
        try:
            run_as(self, gen.close, (), {})
        except BaseException as exc:  # noqa: BLE001 - reported on the GUI thread
            self._raised = exc

    def _deliver(self) -> None:
        """Report what closing raised, if anything. GUI thread."""
        self._gen = None
        exc, self._raised = self._raised, None
        if exc is not None and not isinstance(exc, CancelledError):
            report(exc)

    def _carried_instead(self, handle: Task[Any]) -> None:
        self._gen = None

    def _set_progress(self, value: object) -> None:
        """Ignore progress from a closing generator. Any thread."""

    def _task(self) -> Task[Any]:
        return self._owner

    def __repr__(self) -> str:
        return f"<closing the generator of {self._owner!r}>"


def start_stream(
    pool: Lanes, genfn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], buffer: object
) -> Stream[Any]:
    """Check the arguments, start `genfn(*args, **kwargs)` on `pool`, return its stream. GUI thread.

    Raises TypeError for anything but a generator function (or arguments it
    does not take), ValueError for a bad buffer, RuntimeError off the GUI thread.
    """
    if not inspect.isgeneratorfunction(genfn):
        if inspect.isasyncgenfunction(genfn):
            fix = (
                "an async generator needs an asyncio loop; write a plain generator (def with yield), "
                "or run it with qtasks.run_async"
            )
        elif callable(genfn):
            fix = (
                "it returns its values at once, not one by one; for a function returning a list, "
                f"use qtasks.run({callable_name(genfn)}, ...) and await the list, or make it yield each value"
            )
        else:
            fix = "pass the function and its arguments, e.g. qtasks.stream(read_lines, path)"
        msg = f"qtasks.stream needs a generator function (a def that yields), got {genfn!r}: {fix}"
        raise TypeError(msg)
    if not isinstance(buffer, int) or isinstance(buffer, bool) or buffer < 1:
        msg = (
            f"qtasks.stream(buffer={buffer!r}): buffer must be a whole number >= 1, the most values "
            "that may wait for the consumer, e.g. buffer=16"
        )
        raise ValueError(msg)
    if not _runtime.on_gui_thread():
        msg = (
            "qtasks.stream was called off the GUI thread; its values are delivered "
            "on the GUI thread: call it there, e.g. from a qtasks coroutine"
        )
        raise RuntimeError(msg)
    # Calling a generator function only binds the arguments: no user code runs here.
    gen = genfn(*args, **kwargs)
    return Stream(StreamTask(pool, gen, callable_name(genfn), buffer))

