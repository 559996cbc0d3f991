"""Task[T]: the handle every qtasks operation returns.

A task is PENDING until `_finish()` moves it, once, to FINISHED, FAILED or
CANCELLED. `_finish()` is the only way a task ends: it records the outcome,
leaves the live registry, and schedules each done callback exactly once on the
GUI thread (never synchronously inside the call that finished the task).

All state changes happen on the GUI thread. Worker threads reach a task only
through the bridge. `cancel_walk()` is the one traversal every cancellation
takes, and `_failure_report` the one field that says when a failure nobody
consumed is reported: see ARCHITECTURE.md, "Cancellation" and "Failure
reporting".
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Final, Generator, Generic, Iterator, TypeVar

from . import _runtime
from ._bridge import report
from ._errors import CancelledError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["CANCELLED", "FAILED", "FINISHED", "NO_PROGRESS", "PENDING", "Task", "cancel_walk"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

PENDING: Final = "pending"
FINISHED: Final = "finished"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"

# Task._failure_report: when a failure nobody consumed goes to sys.excepthook.
ON_COLLECT: Final = "on collect"  # when the handle is garbage collected, or at shutdown()
ON_STEP: Final = "on step"  # also on the scheduler step after a coroutine failed
NEVER: Final = "never"  # something consumed the outcome

NO_PROGRESS: Final = object()
# Guards Task._progress, which a worker writes and the GUI thread takes.
_PROGRESS_LOCK: Final = threading.Lock()
# How many handles deep a repr names what each one waits on. Why a limit: a
# chain of coroutines awaiting each other can be deeper than the recursion
# limit, and error messages (result() too early, timeout()) embed the repr.
_REPR_DEPTH: Final = 4
_REPR = threading.local()
# Bound once: a handle reads the clock when it is made, and a lookup per handle shows.
_clock: Final = time.monotonic


def callable_name(fn: object) -> str:
    """Return a function's qualified name for reprs and messages, or its repr."""
    try:
        name = getattr(fn, "__qualname__", None)
    except Exception:  # noqa: BLE001 - any error of a user's __getattr__
        name = None
    if isinstance(name, str):
        return name
    return safe_repr(fn)


def safe_repr(value: object) -> str:
    """Return `repr(value)`, or `<TypeName object>` when the value's own `__repr__` raises.

    Why: a repr goes into handles' reprs and error messages, which must never
    raise in place of what they describe.
    """
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - any error of a user's __repr__
        return f"<{type(value).__qualname__} object>"


def require_callable(fn: object, call: str) -> None:
    """Raise TypeError naming `fn` unless it is callable; `call` shows the right form."""
    if not callable(fn):
        name = call.split("(", 1)[0]
        msg = (
            f"{name} needs a callable, got {safe_repr(fn)}: pass the function and its "
            f"arguments, e.g. {call}, not load(path)"
        )
        raise TypeError(msg)


class Task(Generic[T]):
    """A handle on work that finishes later: a function on a pool, a coroutine, a fan-out.

    Methods are for the GUI thread. Yield or await a task from a qtasks
    coroutine to get its result. `qtasks.Task()` made directly is a future
    that you settle on the GUI thread with `set_result()` or
    `set_exception()`, as `asyncio.Future`: a bridge from a callback API to
    the coroutines awaiting it. The handles qtasks returns are settled by
    their own work.
    """

    # Whether set_result() and set_exception() may settle it: only a plain
    # Task(); every subclass is settled by its own work.
    _settable: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._settable = False

    __slots__ = (
        "__weakref__",
        "_callbacks",
        "_created",
        "_exc",
        "_failure_report",
        "_last_progress",
        "_progress",
        "_progress_listeners",
        "_state",
        "_value",
    )

    def __init__(self) -> None:
        self._state: str = PENDING
        self._value: Any = None
        self._exc: BaseException | None = None
        # Invariant: _callbacks is a list while PENDING and None once done.
        self._callbacks: list[Callable[[Task[T]], object]] | None = []
        self._progress_listeners: list[Callable[[Any], object]] | None = None
        self._progress: object = NO_PROGRESS
        # When the handle was made (time.monotonic()), for qtasks.debug's ages.
        # _last_progress, the newest value delivered to the progress listeners
        # (for qtasks.debug), is set only by a delivery: unset, it reads as none.
        self._created = _clock()
        # When a failure nobody consumed is reported (see ARCHITECTURE.md,
        # "Failure reporting"): ON_COLLECT, ON_STEP (a coroutine's, until a
        # combinator leaves it to the handle), or NEVER once something took
        # the outcome: a waiter, a done callback, result() or exception().
        self._failure_report: str = ON_COLLECT
        # Why first: a handle made before the QApplication exists could never
        # finish and would stay in running() forever. Raises RuntimeError.
        if _runtime.STATE.bridge is None:
            _runtime.bridge()
        _runtime.STATE.live[self] = None

    # -- asking -----------------------------------------------------------

    def done(self) -> bool:
        """Tell whether the task has finished, failed or been cancelled."""
        return self._state is not PENDING

    def cancelled(self) -> bool:
        """Tell whether the task was cancelled."""
        return self._state is CANCELLED

    def result(self) -> T:
        """Return the result; raise the task's exception, or `CancelledError`.

        Raises RuntimeError while the task is still pending.
        """
        self._require_done("result")
        self._failure_report = NEVER
        if self._state is FAILED:
            assert self._exc is not None
            raise self._exc
        if self._state is CANCELLED:
            raise CancelledError
        return self._value  # type: ignore[no-any-return]

    def exception(self) -> BaseException | None:
        """Return the exception the task failed with, or None.

        Raises `CancelledError` for a cancelled task and RuntimeError while the
        task is still pending.
        """
        self._require_done("exception")
        self._failure_report = NEVER
        if self._state is CANCELLED:
            raise CancelledError
        return self._exc

    def _require_done(self, what: str) -> None:
        if self._state is PENDING:
            msg = (
                f"{self!r} is not done yet, so it has no {what}(): yield or await it "
                "from a qtasks coroutine, use add_done_callback(), or, in a script, "
                "qtasks.run_until_complete(task)"
            )
            raise RuntimeError(msg)

    # -- acting -----------------------------------------------------------

    def set_result(self, value: T) -> None:
        """Finish the task with `value`: its waiters resume with it, its done callbacks run.

        GUI thread; for a `qtasks.Task()` you made. Raises RuntimeError off
        the GUI thread, when the task is done already, and for a handle
        qtasks made (its own work settles it).
        """
        self._require_settable("set_result")
        self._finish(FINISHED, value)

    def set_exception(self, exc: BaseException) -> None:
        """Fail the task with `exc`: it is raised in its waiters, or reported if nobody consumes it.

        GUI thread; for a `qtasks.Task()` you made. Raises TypeError unless
        `exc` is an exception instance (for a cancellation, call `cancel()`),
        and RuntimeError as `set_result()` does.
        """
        if not isinstance(exc, BaseException) or isinstance(exc, CancelledError):
            msg = (
                f"set_exception() needs an exception instance, got {exc!r}: "
                "e.g. task.set_exception(OSError('gone')); to cancel the task, call task.cancel()"
            )
            raise TypeError(msg)
        self._require_settable("set_exception")
        self._finish(FAILED, exc=exc)

    def _require_settable(self, what: str) -> None:
        if not self._settable:
            msg = (
                f"{what}() cannot settle {self!r}: its own work settles it; "
                "only a qtasks.Task() you create yourself takes set_result() and set_exception()"
            )
            raise RuntimeError(msg)
        if not _runtime.on_gui_thread():
            msg = (
                f"{what}() was called off the GUI thread on {self!r}: a task is settled on the "
                "GUI thread; hand the outcome over with a queued signal, or run the work with "
                "qtasks.run() and await that"
            )
            raise RuntimeError(msg)
        if self._state is not PENDING:
            msg = f"{what}() on {self!r}: the task is done already; a task is settled once"
            raise RuntimeError(msg)

    def cancel(self) -> bool:
        """Ask the task to stop, and what it waits on; return False if it is already done.

        GUI thread; idempotent. See `cancel_walk()` for the order.
        """
        if self._state is not PENDING:
            return False
        cancel_walk(self, now=False)
        return True

    # -- cancelling (GUI thread): the hooks cancel_walk() calls ------------

    def _awaits(self) -> tuple[Task[Any], ...]:
        """Return the tasks this one waits on, which cancelling it cancels too."""
        return ()

    def _abort(self) -> bool:
        """Stop this task's own part of the work, on the way down a cancellation.

        Returns False to stop the walk here: the task is done, or a
        cancellation is already on its way to it. The default ends the task
        cancelled at once.
        """
        return self._finish(CANCELLED)

    def _aborted(self, now: bool) -> None:
        """Finish cancelling, once what the task waits on is cancelled (on the way up).

        With `now` (a deleted owner), nothing was aborted on the way down: the
        default cancels the task now, as `cancel()` does.
        """
        if now:
            self.cancel()

    def add_done_callback(self, fn: Callable[[Self], object]) -> None:
        """Call `fn(task)` once on the GUI thread when the task is done.

        If it is done already, `fn` runs on the next scheduler step. An
        exception from `fn` goes to `sys.excepthook`.
        """
        if not callable(fn):
            msg = (
                f"add_done_callback() needs a callable taking the task, got {fn!r}: pass the "
                "function itself, e.g. task.add_done_callback(on_done), not on_done()"
            )
            raise TypeError(msg)
        self._consume()
        callbacks = self._callbacks
        if callbacks is None:
            _runtime.call_soon(functools.partial(fn, self))
        else:
            callbacks.append(fn)  # type: ignore[arg-type]

    def on_progress(self, fn: Callable[[Any], object]) -> None:
        """Call `fn(value)` on the GUI thread with each progress value the task reports.

        Bursts coalesce to the newest value; the last value is delivered before
        the done callbacks run. An exception from `fn` goes to `sys.excepthook`.
        """
        if not callable(fn):
            msg = (
                f"on_progress() needs a callable taking the progress value, got {fn!r}: pass the "
                "function itself, e.g. task.on_progress(bar.setValue), not bar.setValue(0)"
            )
            raise TypeError(msg)
        if self._progress_listeners is None:
            self._progress_listeners = []
        self._progress_listeners.append(fn)

    def __await__(self) -> Generator[Task[T], Any, T]:
        """Suspend the awaiting qtasks coroutine until the task is done."""
        if self._state is PENDING:
            gui = _runtime.STATE.gui_ident
            if gui is not None and threading.get_ident() != gui:
                raise RuntimeError(_awaited_off_the_gui_thread(self))
            # The scheduler sends the result in, or throws the exception.
            return (yield self)  # type: ignore[no-any-return]
        return self.result()

    __iter__ = __await__  # `yield from task` in a generator coroutine

    # -- internals (GUI thread) -------------------------------------------

    def _on_done(self, fn: Callable[[Task[T]], object]) -> None:
        """Call `fn(task)` once on the GUI thread when the task is done, without consuming it.

        For a coroutine's wake-up and for combinators, which take the outcome
        (`_outcome()`, `_consume()`) only if they still want it when it
        arrives. Why: a waiter cancelled first stops listening, and a failure
        that then reaches nobody must still be reported.
        """
        callbacks = self._callbacks
        if callbacks is None:
            _runtime.call_soon(functools.partial(fn, self))
        else:
            callbacks.append(fn)

    def _remove_on_done(self, fn: Callable[[Task[T]], object]) -> None:
        """Stop calling `fn`, added by `_on_done`, when the task is done. GUI thread.

        For a waiter that stops waiting while the task runs on: without it,
        every listener it left would stay on the task, keeping the waiter
        alive and costing a call each when the task ends.
        """
        callbacks = self._callbacks
        if callbacks is not None:
            with contextlib.suppress(ValueError):
                callbacks.remove(fn)

    def _consume(self) -> None:
        """Take responsibility for the outcome: a failure is no longer reported."""
        self._failure_report = NEVER
        self._unconsumed_discard()

    def _leave_to_handle(self) -> None:
        """Leave a failure to whoever holds the handle. GUI thread; idempotent.

        For combinators that do not take the outcome now: wait(), which
        returns handles, and a gather that reads it only if it is still
        running then. A failure nobody consumes is reported when the handle
        is garbage collected or at shutdown(), not on a coroutine's next step.
        """
        if self._failure_report is ON_STEP:
            self._failure_report = ON_COLLECT

    def _outcome(self) -> tuple[Any, BaseException | None]:
        """Return (value, exception) to send or throw into a waiter; marks it consumed."""
        self._failure_report = NEVER
        state = self._state
        if state is FINISHED:
            return self._value, None
        if state is FAILED:
            self._unconsumed_discard()
            return None, self._exc
        return None, CancelledError()

    def _finish(self, state: str, value: Any = None, exc: BaseException | None = None) -> bool:
        """End the task with an outcome; return False if it had ended already."""
        if self._state is not PENDING:
            return False
        self._state = state
        self._value = value
        self._exc = exc
        _runtime.STATE.live.pop(self, None)
        callbacks = self._callbacks
        self._callbacks = None
        if self._progress is not NO_PROGRESS:
            # The last value reported is delivered before the done callbacks.
            _runtime.call_soon(self._deliver_progress)
        if callbacks:
            post = _runtime.bridge().post
            for fn in callbacks:
                post(functools.partial(fn, self))
        if state is CANCELLED:
            self._progress_listeners = None
        if state is FAILED and self._failure_report is not NEVER:
            _runtime.STATE.unconsumed.add(self)
            if self._failure_report is ON_STEP:
                _runtime.call_soon(self._report_on_step)
        self._released()
        return True

    def _finish_with(self, value: Any, exc: BaseException | None) -> bool:
        """End the task with an outcome given as (value, exception).

        No exception finishes it, `CancelledError` cancels it, any other fails
        it: one reading for what workers, engines and children hand back.
        """
        if exc is None:
            return self._finish(FINISHED, value)
        if isinstance(exc, CancelledError):
            return self._finish(CANCELLED)
        return self._finish(FAILED, exc=exc)

    def _released(self) -> None:
        """Drop what only a pending task needs. Subclasses extend it."""

    def _report_on_step(self) -> None:
        """Report a coroutine's failure on the step after it failed, unless consumed or left by then."""
        if self._failure_report is ON_STEP:
            self._report_unconsumed()

    def _unconsumed_discard(self) -> None:
        if self._state is FAILED:
            _runtime.STATE.unconsumed.discard(self)

    def _report_unconsumed(self, *, later: bool = False) -> None:
        """Report the failure to sys.excepthook unless something consumed it.

        With `later`, the report is posted to run on the GUI thread after what
        is queued (any thread).
        """
        if self._state is FAILED and self._failure_report is not NEVER:
            self._failure_report = NEVER
            _runtime.STATE.unconsumed.discard(self)
            exc = self._exc
            assert exc is not None
            with contextlib.suppress(Exception):  # a note is a courtesy
                exc.add_note(f"(qtasks: nothing consumed the outcome of {self!r})")
            bridge = _runtime.STATE.bridge
            if later and bridge is not None:
                try:
                    bridge.post(functools.partial(report, exc))
                except BaseException:  # noqa: BLE001 - the bridge is gone at exit: report here
                    report(exc)
                return
            report(exc)

    def _deliver_progress(self) -> None:
        """Hand the newest progress value to the listeners. GUI thread."""
        with _PROGRESS_LOCK:
            value = self._progress
            self._progress = NO_PROGRESS
        if value is NO_PROGRESS or self._state is CANCELLED:
            return
        self._last_progress = value
        listeners = self._progress_listeners
        if listeners:
            for fn in list(listeners):
                try:
                    fn(value)
                except BaseException as exc:  # noqa: BLE001 - reported at once, as promised
                    report(exc)

    def _set_progress(self, value: object) -> None:
        """Record a progress value and make sure one delivery is queued. Any thread."""
        with _PROGRESS_LOCK:
            first = self._progress is NO_PROGRESS
            self._progress = value
        if first:
            _runtime.call_soon(self._deliver_progress)

    def __del__(self) -> None:
        # Why getattr: a subclass's __init__ may raise before Task.__init__
        # ran (a coroutine started off the GUI thread), leaving no state.
        if getattr(self, "_state", None) is FAILED and self._failure_report is not NEVER:
            # Why later: the collector runs wherever an allocation triggers
            # it, a worker thread too, and a user's sys.excepthook (a message
            # box) belongs on the GUI thread, outside the delivery of a
            # completion: a hook's nested event loop there would get no
            # wake-ups for what the GUI thread posts.
            state = _runtime.STATE
            bridge = state.bridge
            later = state.gui_ident not in (None, threading.get_ident()) or (
                bridge is not None and bridge.in_delivery()
            )
            self._report_unconsumed(later=later)

    # -- describing -------------------------------------------------------

    def _describe(self) -> str:
        """Return what the task runs, for repr."""
        return ""

    def _waiting_text(self) -> str:
        return ""

    def __repr__(self) -> str:
        try:
            return self._repr()
        except Exception:  # noqa: BLE001 - a repr goes into reports and must not raise
            state = getattr(self, "_state", PENDING)
            return f"<{type(self).__name__} {state}>"

    def _repr(self) -> str:
        state = self._state
        if state is FAILED and self._exc is not None:
            state = f"failed with {type(self._exc).__name__}: {_exception_text(self._exc)}"
        what = self._describe()
        head = f"{type(self).__name__} {what}" if what else type(self).__name__
        waiting = ""
        if self._state is PENDING:
            depth: int = getattr(_REPR, "depth", 0)
            if depth >= _REPR_DEPTH:
                waiting = ", ..."
            else:
                _REPR.depth = depth + 1
                try:
                    waiting = self._waiting_text()
                finally:
                    _REPR.depth = depth
        return f"<{head} {state}{waiting}>"


def _awaited_off_the_gui_thread(task: Task[Any]) -> str:
    """Say why a handle cannot be awaited here, and what to use instead."""
    thread = threading.current_thread().name
    return (
        f"{task!r} was awaited on thread {thread!r}: qtasks handles are awaited by qtasks coroutines, "
        "which run on the GUI thread; in asyncio code (a coroutine of qtasks.run_async), run "
        "blocking work with asyncio.to_thread(fn, ...) instead of qtasks.run(fn, ...)"
    )


def _exception_text(exc: BaseException) -> str:
    """Return `str(exc)`, or a placeholder when the exception's own `__str__` raises.

    Why: a repr is embedded in error messages and reports; it must never
    raise in place of the failure it describes.
    """
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - any error of a user's __str__
        return f"<str() of the {type(exc).__name__} raised>"


def cancel_walk(root: Task[Any], *, now: bool) -> list[Task[Any]]:
    """Cancel `root` and, transitively, what it waits on; return the tasks reached.

    GUI thread. The one traversal behind `cancel()`, a deleted owner and
    `shutdown()`. It follows `_awaits()` depth first, in argument order, with
    its own stack: a chain of coroutines awaiting each other can be deeper
    than the recursion limit. Each pending task is visited once.

    Without `now` (`cancel()`), each task calls its `_abort()` on the way down
    (a coroutine forgets what it waits on, so that the late wake-up of a
    cancelled child is a no-op; a combinator ends), and `_aborted(False)` on
    the way up: a coroutine then queues its `CancelledError` for the next
    step, innermost first. With `now` (an owner about to disappear), the walk
    only collects on the way down, and on the way up each coroutine takes its
    `CancelledError` at once, so every `finally` block runs before this returns.
    """
    seen: set[Task[Any]] = set()
    reached: list[Task[Any]] = []

    def enter(task: Task[Any]) -> Iterator[Task[Any]] | None:
        """Visit `task` on the way down; return what to walk below it, or None if nothing."""
        if task._state is not PENDING or task in seen:
            return None
        seen.add(task)
        below = task._awaits()  # read first: _abort() lets go of it
        if not now and not task._abort():
            return None
        reached.append(task)
        if not below:
            task._aborted(now)  # nothing below: the way up starts here
            return None
        return iter(below)

    first = enter(root)
    if first is None:
        return reached
    stack: list[tuple[Task[Any], Iterator[Task[Any]]]] = [(root, first)]
    while stack:
        task, below = stack[-1]
        for child in below:
            deeper = enter(child)
            if deeper is not None:
                stack.append((child, deeper))
                break
        else:
            stack.pop()
            task._aborted(now)
    return reached
