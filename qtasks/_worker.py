"""The worker side, written once: what a function running on another thread sees.

See ARCHITECTURE.md ("Threads"). Every engine that runs user functions on a
thread of this process (`Pool`, a `map` chunk, `run_in` on a
`ThreadPoolExecutor`, the testing `ManualPool`) shares these pieces:

- the phases of a work item, QUEUED -> RUNNING -> RAN or QUEUED -> DROPPED,
  guarded by the lock of the pool that queues it;
- `LaneItem`, what a pool's worker loop runs;
- the per-thread current item (`run_as`), which `check_cancelled()`,
  `cancel_requested()` and `report_progress()` read, and for a coroutine run
  by `run_async()` on an asyncio loop the per-asyncio-task one (`ASYNC_SIDE`);
- `take_back_or_flag`: cancelling an item takes it back while it is queued,
  and otherwise sets the cancel flag its function may read.

Thread boundary: everything here may run on any thread. A worker touches only
the item's lock-guarded `_phase`, its cancel flag (written once on the GUI
thread) and the progress value (under its own lock); what it hands back goes
through the bridge.
"""

from __future__ import annotations

import contextvars
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Final, Iterable, Protocol, TypeVar

from . import _runtime
from ._errors import CancelledError
from ._task import NO_PROGRESS

if TYPE_CHECKING:
    from ._task import Task

__all__ = [
    "ASYNC_SIDE",
    "DROPPED",
    "QUEUED",
    "RAN",
    "RUNNING",
    "LaneItem",
    "WeakWorkerSide",
    "WorkerSide",
    "cancel_requested",
    "check_cancelled",
    "report_progress",
    "run_as",
    "take_back_or_flag",
]

T = TypeVar("T")

# A work item's _phase, guarded by the lock of the pool that queues it.
QUEUED: Final = "queued"  # waiting in a pool, not claimed
RUNNING: Final = "running"  # claimed by a worker, function running
RAN: Final = "ran"  # function returned; completion on its way to the GUI thread
DROPPED: Final = "dropped"  # cancelled while queued: never runs


class WorkerSide(Protocol):
    """A task as the function running for it sees it: a cancel flag and a progress sink."""

    # Written once on the GUI thread, read by the function's thread.
    _cancel_requested: bool

    def _set_progress(self, value: object) -> None:
        """Record a progress value for the GUI thread. Any thread."""
        ...


class LaneItem(WorkerSide, Protocol):
    """What a pool's worker loop runs: a ThreadTask or a map chunk."""

    _phase: str

    def _execute_in_worker(self) -> None:
        """Run the work and keep its outcome. Worker thread; never raises."""
        ...

    def _deliver(self) -> None:
        """Hand the kept outcome to the task. GUI thread."""
        ...

    def _task(self) -> Task[Any]:
        """The task this item does work for: a ThreadTask itself, or a chunk's map."""
        ...


_LOCAL = threading.local()

# The current item of an asyncio task run by qtasks.run_async(): a loop runs
# many tasks on one thread, so a thread-local cannot tell them apart, while a
# context variable follows each asyncio task (and the tasks it starts).
ASYNC_SIDE: contextvars.ContextVar[WorkerSide | None] = contextvars.ContextVar(
    "qtasks_async_side", default=None
)


def _current_side() -> WorkerSide | None:
    """Return the item the calling code runs for: this thread's, else this asyncio task's. Any thread."""
    side: WorkerSide | None = getattr(_LOCAL, "side", None)
    return side if side is not None else ASYNC_SIDE.get()


def run_as(side: WorkerSide, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    """Call `fn(*args, **kwargs)` with `side` as this thread's current task. Any thread.

    `check_cancelled()`, `cancel_requested()` and `report_progress()` called
    inside `fn` act on `side`. Raises whatever `fn` raises.
    """
    previous = getattr(_LOCAL, "side", None)
    _LOCAL.side = side
    try:
        return fn(*args, **kwargs)
    finally:
        _LOCAL.side = previous


def take_back_or_flag(lock: threading.Lock, items: Iterable[LaneItem]) -> None:
    """Cancel work items: a queued one never runs, a running one sees its cancel flag.

    GUI thread; `lock` is the lock of the pool that queued the items. Why the
    flag for an item that ran already: its completion may still be in the
    bridge, and its `_deliver()` finds the task cancelled and drops it.
    """
    with lock:
        for item in items:
            if item._phase is QUEUED:
                item._phase = DROPPED
            else:
                item._cancel_requested = True


class WeakWorkerSide:
    """A task's worker side that holds the task only weakly.

    For functions on threads that qtasks does not own (a `ThreadPoolExecutor`):
    such a thread may drop the last reference to whatever it holds, and a
    task must be freed on the GUI thread. `report_progress()` records the
    newest value here and, for the first of a burst, posts one delivery that
    hands it to the task on the GUI thread.
    """

    __slots__ = ("_cancel_requested", "_name", "_progress", "_progress_lock", "_task")

    def __init__(self, name: str) -> None:
        self._name = name
        # Written once on the GUI thread, read by the function's thread.
        self._cancel_requested = False
        self._task: weakref.ref[Task[Any]] | None = None
        self._progress: object = NO_PROGRESS
        self._progress_lock = threading.Lock()

    def bind(self, task: Task[Any]) -> None:
        """Name the task that progress goes to. GUI thread; once."""
        self._task = weakref.ref(task)

    def _set_progress(self, value: object) -> None:
        """Record the newest progress value; post a delivery for the first of a burst. Any thread."""
        with self._progress_lock:
            first = self._progress is NO_PROGRESS
            self._progress = value
        if first:
            _runtime.call_soon(self._deliver_progress)

    def _deliver_progress(self) -> None:
        """Hand the newest value to the task. GUI thread."""
        with self._progress_lock:
            value, self._progress = self._progress, NO_PROGRESS
        task = self._task() if self._task is not None else None
        if task is not None and value is not NO_PROGRESS:
            task._set_progress(value)

    def __repr__(self) -> str:
        return f"<ExecutorTask {self._name}>"


# -- inside a worker function ---------------------------------------------


def cancel_requested() -> bool:
    """Tell whether the task running this function was cancelled.

    Any thread; False outside a qtasks task.
    """
    side = _current_side()
    return side is not None and bool(side._cancel_requested)


def check_cancelled() -> None:
    """Raise `qtasks.CancelledError` if the task running this function was cancelled.

    Any thread; does nothing outside a qtasks task.
    """
    side = _current_side()
    if side is not None and side._cancel_requested:
        msg = f"{side!r} was cancelled"
        raise CancelledError(msg)


def report_progress(value: object) -> None:
    """Send `value` to the task's progress listeners on the GUI thread.

    Any thread; cheap enough for a tight loop (bursts coalesce to the newest
    value). Does nothing outside a qtasks task.
    """
    side = _current_side()
    if side is not None:
        side._set_progress(value)
