"""The only code that crosses threads.

A worker thread never touches Qt or a task's state. It hands a zero-argument
callable to the bridge: one deque append, plus one queued signal when no
wake-up is already pending. The bridge lives on the GUI thread and drains the
deque there in batches, so a burst of ten thousand completions costs one
event-loop turn per batch instead of one queued signal each.

The GUI thread uses the same deque for its own deferred calls (done callbacks,
coroutine steps), which gives one FIFO order for everything the scheduler does.
See ARCHITECTURE.md, "Threads, and what each may touch".
"""

from __future__ import annotations

import sys
import time
import traceback
from collections import deque
from typing import Callable

from ._binding import QObject, Qt, Signal, Slot, is_deleted

__all__ = ["Bridge", "report"]

# How long one drain may run before it hands the event loop back to Qt.
DRAIN_BUDGET_S = 0.004


def report(exc: BaseException) -> None:
    """Hand an exception nobody else will see to `sys.excepthook`.

    Any thread. Never raises: if the hook itself fails, both tracebacks are
    printed to stderr.
    """
    try:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    except BaseException:  # noqa: BLE001 - a broken hook must not reach Qt
        try:
            traceback.print_exception(type(exc), exc, exc.__traceback__)
            traceback.print_exc()
        except BaseException:  # noqa: BLE001, S110 - stderr itself is gone
            pass


class Bridge(QObject):
    """A deque drained on the GUI thread, woken by at most one pending signal."""

    _wake = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[Callable[[], object]] = deque()
        # Invariant: while _wake_pending is True, a drain is queued on the GUI
        # thread, and everything appended before it will be run by that drain.
        self._wake_pending = False
        # True while _drain runs its loop (GUI thread only).
        self._draining = False
        # True only while the running drain delivers a finished task (see
        # deliver_in_drain): the done callbacks that delivery posts ride on
        # that drain instead of queueing another wake-up. Any post made
        # meanwhile, from any thread, is run by the loop or caught by the
        # check at its end.
        self._in_delivery = False
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]

    def post(self, fn: Callable[[], object]) -> None:
        """Run `fn()` on the GUI thread soon, after everything posted before it.

        Any thread. Exceptions raised by `fn` go to `sys.excepthook`.
        """
        self._queue.append(fn)
        if not self._wake_pending and not self._in_delivery:
            self._wake_pending = True
            self._wake_up()

    def deliver_in_drain(self, finish: Callable[[], object]) -> None:
        """Call `finish()`, a task's own delivery that runs no user code. GUI thread.

        Inside a drain, the posts it makes need no wake-up of their own: the
        drain's loop runs them. Outside one, it is a plain call.
        """
        if not self._draining:
            finish()
            return
        self._in_delivery = True
        try:
            finish()
        finally:
            self._in_delivery = False

    def draining(self) -> bool:
        """Tell whether a drain woken by Qt runs now (not `run_pending()`). GUI thread."""
        return self._draining

    def in_delivery(self) -> bool:
        """Tell whether a task's delivery runs now, so posts wake nothing. Any thread."""
        return self._in_delivery

    def transfer(self, box: list[Callable[[], object]]) -> None:
        """Post the one callable in `box`, taking the caller's only reference.

        Worker threads use this for completions. The callable leaves the box
        and enters the deque inside one bytecode, so the worker never holds the
        last reference to it: whatever it keeps alive (a task, a generator,
        the user's arguments) is released on the GUI thread, where its
        ``finally`` blocks and ``__del__`` methods belong.
        """
        self._queue.append(box.pop())
        if not self._wake_pending:
            self._wake_pending = True
            self._wake_up()

    def _wake_up(self) -> None:
        """Queue a drain on the GUI thread. Any thread.

        At interpreter exit the application, and this bridge with it, can be
        gone while a worker still finishes (a script that ends right after
        `run_until_complete`): nothing could run what is posted then, so the
        wake-up is dropped instead of raising in that worker.
        """
        try:
            self._wake.emit()
        except RuntimeError:
            if not is_deleted(self):
                raise

    def run_pending(self) -> None:
        """Run everything posted so far and everything it posts, until idle.

        GUI thread. For tests and shutdown, which must not wait for Qt.
        """
        self._run_queue(None)

    def _run_queue(self, deadline: float | None) -> None:
        """Run queued calls until the deque is empty or `deadline` passes. GUI thread."""
        queue = self._queue
        clock = time.perf_counter
        while queue:
            fn = queue.popleft()
            if queue and not self._wake_pending:
                # Why: fn may spin a nested event loop (a modal dialog's
                # exec_(), processEvents()); what waits behind it must still
                # run there, so a wake-up is queued before fn runs.
                self._wake_pending = True
                self._wake.emit()
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - nothing may escape into Qt
                report(exc)
            del fn
            # Why after every call: one call may run a consumer's loop over
            # buffered values for milliseconds, and a few dozen of those
            # between two checks would freeze the GUI.
            if deadline is not None and clock() > deadline:
                return

    def pending(self) -> int:
        """Return how many calls wait in the deque. Any thread."""
        return len(self._queue)

    # Why a declared slot: PyQt5 routes a connection to an undeclared method
    # through a proxy QObject living on the connecting thread, so a bridge
    # created off the GUI thread would drain on a thread with no event loop.
    @Slot()
    def _drain(self) -> None:
        """Run queued calls for at most one budget, then yield to Qt. GUI thread."""
        outer = self._draining
        try:
            self._wake_pending = False
            queue = self._queue
            self._draining = True
            try:
                self._run_queue(time.perf_counter() + DRAIN_BUDGET_S)
            finally:
                self._draining = outer
            # Why: posts made during a delivery did not wake us; if the budget
            # ran out with them still queued, this wakes up once for them.
            if queue and not self._wake_pending:
                # Over budget: let Qt paint and handle input, then go on.
                self._wake_pending = True
                self._wake.emit()
        except BaseException as exc:  # noqa: BLE001 - a slot must never raise
            report(exc)
