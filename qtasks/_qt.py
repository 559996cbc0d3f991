"""sleep, wait_signal and timeout: the QTimer and signal glue.

Each is a Task, so it can be yielded, gathered and cancelled. Their timers
are created on the GUI thread (a QTimer started on a pool thread never fires)
and parented to the bridge while they run, so a test can see that none is
left behind. `_released()`, which every ending goes through, stops the timer
and disconnects every signal. See ARCHITECTURE.md for the threads they may run on.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import weakref
from typing import Any, Callable, Final, TypeVar

from . import _runtime
from ._binding import QT_API, BoundSignal, QMetaObject, QObject, Qt, QTimer
from ._bridge import report
from ._coroutine import as_task
from ._errors import TimeoutError as QtasksTimeoutError
from ._task import FAILED, FINISHED, PENDING, Task

__all__ = ["sleep", "timeout", "wait_signal"]

T = TypeVar("T")

# QTimer takes a C int of milliseconds; longer waits run in chunks.
_MAX_INTERVAL_MS: Final = 2**31 - 1


def _check_seconds(seconds: object, call: str) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        msg = f"{call}: seconds must be a number, got {seconds!r}"
        raise TypeError(msg)
    value = float(seconds)
    if math.isnan(value) or value < 0:
        msg = f"{call}: seconds must be >= 0, got {seconds!r}"
        raise ValueError(msg)
    return value


def _require_gui_thread(call: str) -> None:
    if not _runtime.on_gui_thread():
        msg = (
            f"{call} was called off the GUI thread; its QTimer would never fire there: "
            "call it from a qtasks coroutine or a slot on the GUI thread"
        )
        raise RuntimeError(msg)


class _Deadline:
    """A single-shot QTimer on the GUI thread that calls `fn()` after `seconds`; inf never fires."""

    __slots__ = ("__weakref__", "_fn", "_remaining", "_timer")

    def __init__(self, seconds: float, fn: Callable[[], object]) -> None:
        self._fn = fn
        self._remaining = seconds
        self._timer: QTimer | None = QTimer(_runtime.bridge())
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._fire)
        self._start()

    def _start(self) -> None:
        timer = self._timer
        assert timer is not None
        if math.isinf(self._remaining):
            return
        ms = min(_MAX_INTERVAL_MS, math.ceil(self._remaining * 1000))
        self._remaining -= ms / 1000
        timer.start(ms)

    def _fire(self) -> None:
        try:
            if self._timer is None:
                return
            if self._remaining > 1e-9:  # what rounding left of a long wait split in chunks
                self._start()
                return
            self._fn()
        except BaseException as exc:  # noqa: BLE001 - nothing may escape into Qt
            report(exc)

    def stop(self) -> None:
        """Stop the timer and let it go. GUI thread; idempotent."""
        timer = self._timer
        if timer is None:
            return
        self._timer = None
        timer.stop()
        timer.timeout.disconnect()
        # Back to Python ownership: dropping the last reference deletes it.
        timer.setParent(None)  # type: ignore[arg-type]


class SleepTask(Task[None]):
    """Finishes after a number of seconds, measured by a QTimer on the GUI thread."""

    __slots__ = ("_deadline", "_seconds")

    def __init__(self, seconds: float) -> None:
        deadline = _Deadline(seconds, self._wake)
        super().__init__()
        self._seconds = seconds
        self._deadline: _Deadline | None = deadline

    def _wake(self) -> None:
        self._finish(FINISHED)

    def _released(self) -> None:
        if self._deadline is not None:
            self._deadline.stop()
            self._deadline = None

    def _describe(self) -> str:
        return f"{self._seconds:g} s"


def sleep(seconds: float) -> SleepTask:
    """Return a task that finishes after `seconds` (a float, like asyncio.sleep).

    GUI thread. Cancelling it stops its QTimer. Raises ValueError for a
    negative or NaN duration, TypeError for something not a number.
    """
    value = _check_seconds(seconds, f"qtasks.sleep({seconds!r})")
    _require_gui_thread("qtasks.sleep()")
    return SleepTask(value)


def _sender_id(signal: BoundSignal) -> int | None:
    """Return id() of the signal's sender, read from the repr, or None (always on PySide6)."""
    if QT_API == "pyside6":
        return None
    text = repr(signal)  # <bound PYQT_SIGNAL clicked of QPushButton object at 0x...>
    try:
        return int(text.rstrip(">").rsplit(" ", 1)[-1], 16)
    except ValueError:
        return None


def _signal_name(signal: BoundSignal) -> str:
    text = repr(signal)  # <bound PYQT_SIGNAL clicked of QPushButton object at 0x...>
    if QT_API == "pyside6":
        # <PySide6.QtCore.SignalInstance clicked() at 0x...>: PySide6 does not
        # say whose signal it is, nor give the sender.
        parts = text.split(" ")
        return parts[1] if len(parts) == 4 else text
    signature = getattr(signal, "signal", "")
    signature = signature[1:] if signature[:1].isdigit() else signature
    parts = text.split(" ")
    if len(parts) >= 5 and parts[3] == "of":
        return f"{parts[4]}.{signature or parts[2]}"
    return signature or text


def _gone_message(name: str) -> str:
    return (
        f"qtasks.wait_signal({name}): the sender was deleted, so the signal will never be "
        "emitted; wait for a signal of an object that outlives the wait"
    )


class _Listener:
    """The callable connected to the signal. The connection holds the only strong reference.

    Why: PyQt drops its proxy, and with it this listener, when the sender is
    destroyed. A weakref callback on the listener is how the task learns that
    the signal can never come, without holding the sender.
    """

    __slots__ = ("__weakref__", "_task")

    def __init__(self, task: SignalTask) -> None:
        self._task = task

    def __call__(self, *args: Any) -> None:
        """Finish the task with the signal's arguments. Whatever thread emitted the signal."""
        try:
            if _runtime.on_gui_thread():
                self._task._emitted(args)
            else:
                # A sender on another thread calls us there; the task lives on the GUI thread.
                _runtime.call_soon(functools.partial(self._task._emitted, args))
        except BaseException as exc:  # noqa: BLE001 - nothing may escape into Qt
            report(exc)


class SignalTask(Task[tuple[Any, ...]]):
    """Finishes with the arguments of the next emission of a signal."""

    __slots__ = ("_connection", "_deadline", "_listener", "_name", "_sender", "_signal", "_timeout")

    def __init__(self, signal: BoundSignal, timeout: float | None, name: str) -> None:
        listener = _Listener(self)
        try:
            connection = signal.connect(listener)
        except RuntimeError as exc:
            msg = _gone_message(name)
            raise RuntimeError(msg) from exc
        super().__init__()
        self._signal: BoundSignal | None = signal
        self._connection: QMetaObject.Connection | None = connection
        self._name = name
        # Compared only with the ids of live objects in STATE.destroying.
        self._sender = _sender_id(signal)
        self._timeout = timeout
        self._listener: weakref.ref[_Listener] | None = weakref.ref(listener, self._listener_dropped)
        del listener
        self._deadline: _Deadline | None = None
        if timeout is not None:
            self._deadline = _Deadline(timeout, self._timed_out)

    def _emitted(self, args: tuple[Any, ...]) -> None:
        self._finish(FINISHED, args)

    def _timed_out(self) -> None:
        msg = f"qtasks.wait_signal({self._name}): not emitted within {self._timeout:g} s"
        self._finish(FAILED, exc=QtasksTimeoutError(msg))

    def _listener_dropped(self, _ref: object) -> None:
        # Any thread (wherever the proxy was deleted): hand it to the GUI thread.
        try:
            if self._state is PENDING:
                _runtime.call_soon(self._sender_gone)
        except BaseException as exc:  # noqa: BLE001 - a weakref callback must not raise
            report(exc)

    def _sender_gone(self) -> None:
        if self._state is PENDING:
            self._listener = None
            self._signal = self._connection = None
            self._finish(FAILED, exc=RuntimeError(_gone_message(self._name)))

    def _released(self) -> None:
        if self._deadline is not None:
            self._deadline.stop()
            self._deadline = None
        signal, ref, connection = self._signal, self._listener, self._connection
        self._signal = self._listener = self._connection = None
        listener = ref() if ref is not None else None
        if signal is None or listener is None or connection is None:
            return
        # Why: the sender may have been deleted before PyQt let go of our
        # listener, and signal.disconnect() on a deleted sender crashes.
        # Disconnecting the connection handle is safe either way, and says
        # whether the sender was still there.
        if QObject.disconnect(connection) and self._sender not in _runtime.STATE.destroying:
            # PyQt's disconnect frees its proxy (and the listener); the
            # connection is already broken, so it complains: ignore that.
            # A sender being destroyed frees the proxy itself, and looking
            # its signal up by name would only make Qt print a warning.
            with contextlib.suppress(TypeError, RuntimeError):
                signal.disconnect(listener)

    def _describe(self) -> str:
        return self._name


def wait_signal(signal: BoundSignal, *, timeout: float | None = None) -> SignalTask:
    """Return a task that finishes with the arguments (a tuple) of the signal's next emission.

    GUI thread. With `timeout`, it fails with `qtasks.TimeoutError` after that
    many seconds; if the sender is deleted first it fails with RuntimeError
    naming the signal. It disconnects on every path. Raises TypeError for
    something that is not a bound signal, ValueError for a bad timeout.
    """
    if not isinstance(signal, BoundSignal):
        msg = (
            f"qtasks.wait_signal() needs a bound signal such as button.clicked, got {signal!r}: "
            "pass the signal of an object, not of its class, and do not call it"
        )
        raise TypeError(msg)
    name = _signal_name(signal)
    seconds = None if timeout is None else _check_seconds(timeout, f"qtasks.wait_signal({name}, timeout=...)")
    _require_gui_thread("qtasks.wait_signal()")
    return SignalTask(signal, seconds, name)


class TimeoutTask(Task[T]):
    """The outcome of an awaitable, or `qtasks.TimeoutError` if it takes too long."""

    __slots__ = ("_child", "_deadline", "_seconds")

    def __init__(self, seconds: float, child: Task[T]) -> None:
        super().__init__()
        self._seconds = seconds
        self._child: Task[T] | None = child
        self._deadline: _Deadline | None = None
        if child._state is not PENDING:
            self._child_done(child)
            return
        child._on_done(self._child_done)
        self._deadline = _Deadline(seconds, self._timed_out)

    def _child_done(self, child: Task[T]) -> None:
        if self._state is not PENDING:
            # Why: cancelled at the deadline, the child may fail anyway (a
            # coroutine raising from its clean-up). Not consuming it leaves
            # that failure to the child's own handle, which reports it once
            # unless its other awaiters take it.
            return
        self._finish_with(*child._outcome())

    def _timed_out(self) -> None:
        child = self._child
        msg = f"qtasks.timeout({self._seconds:g} s): {child!r} did not finish in time"
        if self._finish(FAILED, exc=QtasksTimeoutError(msg)) and child is not None:
            child.cancel()

    def _awaits(self) -> tuple[Task[Any], ...]:
        # Cancelling the timeout cancels the awaitable it waits for.
        return () if self._child is None else (self._child,)

    def _released(self) -> None:
        if self._deadline is not None:
            self._deadline.stop()
            self._deadline = None
        self._child = None

    def _describe(self) -> str:
        return f"{self._seconds:g} s"

    def _waiting_text(self) -> str:
        return f", waiting on {self._child!r}" if self._child is not None else ""


def timeout(seconds: float, awaitable: object) -> TimeoutTask[Any]:
    """Return a task with the awaitable's outcome, or `qtasks.TimeoutError` after `seconds`.

    GUI thread. On timeout the awaitable is cancelled; cancelling the
    returned task cancels it too. Raises ValueError for a negative or NaN
    duration and TypeError for something not awaitable.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        if inspect.iscoroutine(seconds):
            seconds.close()  # never started: no "never awaited" warning besides
        msg = (
            f"qtasks.timeout({seconds!r}, {awaitable!r}): seconds must be a number, got {seconds!r}: "
            "the seconds come first, qtasks.timeout(seconds, awaitable), the reverse of "
            "asyncio.wait_for(awaitable, timeout)"
        )
        raise TypeError(msg)
    value = _check_seconds(seconds, f"qtasks.timeout({seconds!r}, ...)")
    _require_gui_thread("qtasks.timeout()")
    child = as_task(awaitable)
    if child is None:
        msg = (
            f"qtasks.timeout({seconds!r}, {awaitable!r}): the second argument is not awaitable; "
            "pass a qtasks task, such as qtasks.run(fn, ...), or a coroutine handle"
        )
        raise TypeError(msg)
    return TimeoutTask(value, child)
