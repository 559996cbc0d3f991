"""Tools for testing code that uses qtasks: a pool the test drives by hand.

A `ManualPool` never starts a thread. Work submitted to it waits in
`pool.pending` until the test completes it, fails it, or cancels it, in
whatever order the test chooses; each of those calls returns only after the
coroutines waiting on that task have resumed up to their next suspension. So a
test reads as a script of events, with no event-loop spinning and no waiting:

    def test_the_newer_query_wins(qtasks_manual_pool):
        widget = SearchWidget()                 # its slots call qtasks.run(lookup, text)
        widget.edit.setText("q")
        widget.edit.setText("qt")
        older, newer = qtasks_manual_pool.pending
        qtasks_manual_pool.complete(newer)        # runs lookup("qt") now
        qtasks_manual_pool.fail(older, OSError("timed out"))
        assert widget.status.text() == "2 results for 'qt'"   # qt, qtasks

`drive(pool, data)` lets hypothesis choose the completion order and the
outcome of every task, so one property covers every interleaving.

A ManualPool declares its own `ChunkRules` for `qtasks.map` (see
ARCHITECTURE.md, "The worker side and the pools"); nothing in qtasks asks
whether it runs under it.

Streams: each item of `qtasks.imap` is a pending task, as `map`'s are. A
`qtasks.stream` is one pending task per run of its generator: completing it
runs the generator on the test's thread until `buffer` values wait untaken,
and the consumer resumes with them before `complete()` returns; once the
consumer has taken half, the next run is a new pending task. Cancelling a
started stream leaves one pending task that closes its generator. `drive()`
drives all of these like any other task.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, Callable, Final, Iterable, Iterator, TypeVar

import attrs
from typing_extensions import ParamSpec

from . import _runtime
from ._map import ChunkRules, MapTask, RunLanes, start_map
from ._pool import ThreadTask, set_default_pool
from ._task import PENDING, Task, require_callable
from ._worker import DROPPED, QUEUED, RAN, RUNNING

if TYPE_CHECKING:
    from hypothesis.strategies import DataObject

__all__ = ["CANCEL", "COMPLETE", "FAIL", "ManualPool", "Step", "drive", "manual_pool"]

T = TypeVar("T")
P = ParamSpec("P")

COMPLETE: Final = "complete"
FAIL: Final = "fail"
CANCEL: Final = "cancel"

_NO_RESULT: Final = object()
_MANUAL_CHUNKS: Final = ChunkRules(max_items=1, may_split=False, paced=False)


class ManualPool:
    """A pool whose tasks run only when the test says so, on the GUI thread.

    `run()` returns an ordinary `ThreadTask`: it appears in `qtasks.running()`,
    `cancel()` takes it out of `pending` (its function never runs), and
    `qtasks.shutdown()` cancels it. `qtasks.map` submits each item as a task
    of its own: failing or cancelling one fails or cancels the map, and
    `complete(task, result=value)` gives that item's result. Use it through
    the `qtasks_manual_pool` fixture or the `manual_pool()` context manager.
    All methods are for the GUI thread.
    """

    def __init__(self) -> None:
        # Guards the tasks' phases, as a Pool's lock does (_worker.take_back_or_flag
        # takes it); here only the GUI thread does.
        self._lock = threading.Lock()
        # An ordered set. Invariant: holds every task submitted and not yet completed, failed
        # or cancelled, plus cancelled ones not yet pruned (phase DROPPED).
        self._queue: dict[ThreadTask[Any], None] = {}
        _runtime.STATE.executors.add(self)

    @property
    def max_threads(self) -> int:
        """How many functions this pool runs at once: one, when the test says so."""
        return 1

    @property
    def pending(self) -> list[ThreadTask[Any]]:
        """The tasks submitted and not yet completed, in submission order."""
        for task in [task for task in self._queue if task._phase is not QUEUED]:
            del self._queue[task]
        return list(self._queue)

    def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> ThreadTask[T]:
        """Queue `fn(*args, **kwargs)` until the test completes it; return its handle at once.

        Raises TypeError if `fn` is not callable.
        """
        require_callable(fn, "qtasks.run(load, path)")
        _runtime.bridge()
        task: ThreadTask[T] = ThreadTask(self, fn, args, kwargs)
        self._queue[task] = None
        return task

    @property
    def chunk_rules(self) -> ChunkRules:
        """How a map groups its items here: one item per task, never split, all submitted at once.

        So a test can complete, fail or cancel the items one by one.
        """
        return _MANUAL_CHUNKS

    def map(self, fn: Callable[[Any], T], iterable: Iterable[Any], *, window: int | None = None) -> MapTask:
        """Start `qtasks.map` on this pool: each item becomes a task in `pending`.

        Raises as `qtasks.map` does for bad arguments.
        """
        return start_map(RunLanes(self.run, self.max_threads, self.chunk_rules), fn, iterable, window)

    def complete(self, task: Task[Any], result: object = _NO_RESULT) -> None:
        """Run the task's real function now, or finish it with `result` if given.

        The function runs on the GUI thread with `check_cancelled()` and
        `report_progress()` working; whatever it raises becomes the task's
        failure. Returns once the coroutines waiting on the task have resumed.
        Raises ValueError if the task is not pending on this pool.
        """
        item = self._claim(task, "complete")
        if result is _NO_RESULT:
            with self._lock:
                item._phase = RUNNING
            item._execute_in_worker()
        else:
            item._keep_outcome(result, None)
        self._deliver(item)

    def fail(self, task: Task[Any], exc: BaseException) -> None:
        """Finish the task with the exception `exc`, as if its function had raised it.

        Returns once the coroutines waiting on the task have resumed. Raises
        ValueError if the task is not pending on this pool, TypeError if `exc`
        is not an exception instance.
        """
        if not isinstance(exc, BaseException):
            msg = (
                f"ManualPool.fail() needs an exception instance, got {exc!r}: "
                "e.g. pool.fail(task, OSError('gone'))"
            )
            raise TypeError(msg)
        item = self._claim(task, "fail")
        item._keep_outcome(None, exc)
        self._deliver(item)

    def run_all(self) -> list[ThreadTask[Any]]:
        """Complete every pending task in submission order, including work submitted meanwhile.

        Returns the tasks completed, in the order they ran.
        """
        ran: list[ThreadTask[Any]] = []
        queue = self._queue
        while queue:
            task = next(iter(queue))
            if task._phase is QUEUED:
                self.complete(task)
                ran.append(task)
            else:
                del queue[task]  # cancelled since it was submitted
        return ran

    def _claim(self, task: Task[Any], what: str) -> ThreadTask[Any]:
        """Take `task` out of the queue, or explain why it cannot be."""
        if not isinstance(task, ThreadTask) or task._pool is not self:
            msg = f"ManualPool.{what}({task!r}): that task was not submitted to this pool"
            raise ValueError(msg)
        if task._phase is not QUEUED or task._state is not PENDING:
            msg = (
                f"ManualPool.{what}({task!r}): the task is not pending (it was cancelled or "
                "has already been completed); see pool.pending for the tasks you can finish"
            )
            raise ValueError(msg)
        del self._queue[task]
        return task

    def _deliver(self, item: ThreadTask[Any]) -> None:
        """Finish the claimed task as a worker's completion would, then run the scheduler until idle."""
        with self._lock:
            item._phase = RAN
        item._deliver()
        _runtime.bridge().run_pending()

    # -- what qtasks.shutdown() needs from a pool ---------------------------

    def _drop_queued(self) -> None:
        """Forget every pending task; its function never runs."""
        with self._lock:
            for task in self._queue:
                if task._phase is QUEUED:
                    task._phase = DROPPED
        self._queue.clear()

    def _wait_idle(self, deadline: float | None) -> list[Task[Any]]:
        """Return the functions still running: none, since they run inside complete()."""
        return []

    def __repr__(self) -> str:
        return f"<qtasks.testing.ManualPool pending={len(self.pending)}>"


@contextlib.contextmanager
def manual_pool() -> Iterator[ManualPool]:
    """Make a fresh `ManualPool` the pool `qtasks.run` uses inside the block.

    GUI thread. On leaving, the previous pool is restored and the tasks still
    pending are cancelled, their waiting coroutines resumed. Inside a
    hypothesis test, use it in the body to get a fresh pool per example.
    """
    pool = ManualPool()
    previous = set_default_pool(pool)
    try:
        yield pool
    finally:
        set_default_pool(previous)
        # Why at least once: what the block cancelled itself ends on a later
        # step. Why a loop: cancelling a started stream submits the closing of
        # its generator.
        while True:
            for task in pool.pending:
                task.cancel()
            _runtime.bridge().run_pending()
            if not pool.pending:
                break


@attrs.frozen
class Step:
    """One move `drive()` made: what happened to which task."""

    outcome: str
    task: ThreadTask[Any]


def _default_error(task: ThreadTask[Any]) -> BaseException:
    return RuntimeError(f"failure injected by qtasks.testing.drive() into {task!r}")


def drive(
    pool: ManualPool,
    data: DataObject,
    *,
    outcomes: Iterable[str] = (COMPLETE,),
    error: Callable[[ThreadTask[Any]], BaseException] = _default_error,
    max_steps: int = 10_000,
) -> list[Step]:
    """Let hypothesis finish every pending task, in an order and with outcomes it chooses.

    `data` is hypothesis's `st.data()` value. Each step draws one pending task
    and one of `outcomes`: `COMPLETE` runs its real function, `FAIL` fails it
    with `error(task)` (a RuntimeError by default), `CANCEL` cancels it. Work
    submitted meanwhile is driven too. Returns the steps taken; raises
    RuntimeError if the pool is still not empty after `max_steps`.
    """
    # hypothesis is only needed by tests that call drive(), not by qtasks.testing.
    from hypothesis import strategies as st  # noqa: PLC0415

    choices = tuple(outcomes)
    unknown = [choice for choice in choices if choice not in (COMPLETE, FAIL, CANCEL)]
    if not choices or unknown:
        msg = (
            f"drive(outcomes={choices!r}): choose among qtasks.testing.COMPLETE, "
            "qtasks.testing.FAIL and qtasks.testing.CANCEL"
        )
        raise ValueError(msg)
    steps: list[Step] = []
    for _ in range(max_steps):
        pending = pool.pending
        if not pending:
            return steps
        task = data.draw(st.sampled_from(pending), label="task")
        outcome = data.draw(st.sampled_from(choices), label="outcome")
        steps.append(Step(outcome, task))
        if outcome == COMPLETE:
            pool.complete(task)
        elif outcome == FAIL:
            pool.fail(task, error(task))
        else:
            task.cancel()
            _runtime.bridge().run_pending()
    msg = (
        f"drive(): {pool!r} still had pending tasks after {max_steps} steps; "
        "the code under test keeps submitting work"
    )
    raise RuntimeError(msg)
