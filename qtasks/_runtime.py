"""The runtime's state: the bridge, the GUI thread, the live handles, shutdown.

Everything here runs on the GUI thread unless a docstring says otherwise. The
deferred calls (done callbacks, coroutine steps) go through the same bridge
deque as completions from workers, so they run in one FIFO order and never
synchronously inside the call that caused them. The step itself lives in
`_coroutine.py`; see ARCHITECTURE.md for how the pieces fit.
"""

from __future__ import annotations

import threading
import time
import warnings
import weakref
from typing import TYPE_CHECKING, Any, Callable, Protocol

from ._binding import QCoreApplication, QThread
from ._bridge import Bridge, report

if TYPE_CHECKING:
    from ._task import Task

__all__ = ["bridge", "call_soon", "running", "shutdown"]


class Executing(Protocol):
    """What shutdown needs from anything that runs functions on other threads."""

    def _drop_queued(self) -> None: ...

    def _wait_idle(self, deadline: float | None) -> list[Task[Any]]: ...


class _State:
    def __init__(self) -> None:
        self.bridge: Bridge | None = None
        self.gui_ident: int | None = None
        self.create_lock = threading.Lock()
        # Invariant: a handle is a key here exactly while it is not done.
        # The strong reference keeps fire-and-forget work alive until it ends.
        self.live: dict[Task[Any], None] = {}
        # The coroutine whose step is running now, if any (GUI thread only).
        self.current: Task[Any] | None = None
        # How many coroutine starts nest on the GUI thread's stack now.
        self.start_depth = 0
        # Counts the coroutine steps begun (GUI thread only), so a stream can
        # tell a new step of its consumer from a trampoline inside one.
        self.steps = 0
        self.executors: weakref.WeakSet[Executing] = weakref.WeakSet()
        # Failed handles whose exception nobody has consumed yet.
        self.unconsumed: weakref.WeakSet[Task[Any]] = weakref.WeakSet()
        # ids of the QObjects whose `destroyed` qtasks is handling now (GUI
        # thread). Their own signals can no longer be found by name: Qt has
        # already reduced them to plain QObjects.
        self.destroying: set[int] = set()


STATE = _State()


def bridge() -> Bridge:
    """Return the bridge, creating it on the GUI thread at first use. Any thread.

    Raises RuntimeError when no QCoreApplication exists yet.
    """
    existing = STATE.bridge
    if existing is not None:
        return existing
    with STATE.create_lock:
        if STATE.bridge is None:
            app = QCoreApplication.instance()
            if app is None:
                msg = (
                    "qtasks needs a QApplication (or QCoreApplication): "
                    "create one before starting tasks or coroutines, "
                    "e.g. app = QApplication(sys.argv) first thing in main()"
                )
                raise RuntimeError(msg)
            created = Bridge()
            gui_thread = app.thread()
            if QThread.currentThread() == gui_thread:
                _learn_gui_thread()
            else:
                # Why: a connection made here would belong to this thread,
                # which may be gone when the application quits.
                created.moveToThread(gui_thread)
                created.post(_learn_gui_thread)
            STATE.bridge = created
        return STATE.bridge


def _learn_gui_thread() -> None:
    """Record the GUI thread and shut down when the application quits. GUI thread."""
    STATE.gui_ident = threading.get_ident()
    app = QCoreApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(_on_about_to_quit)


def on_gui_thread() -> bool:
    """Tell whether the calling thread is the GUI thread. Any thread."""
    bridge()
    if STATE.gui_ident is None:
        app = QCoreApplication.instance()
        return app is not None and QThread.currentThread() == app.thread()
    return threading.get_ident() == STATE.gui_ident


def call_soon(fn: Callable[[], object]) -> None:
    """Run `fn()` on the GUI thread after what is already queued. Any thread."""
    bridge().post(fn)


def running() -> list[Task[Any]]:
    """Return the live handles (not yet done), oldest first, for debugging."""
    return list(STATE.live)


def check_timeout(timeout: object, call: str) -> None:
    """Raise TypeError or ValueError naming `timeout` unless it is None or a number of seconds >= 0."""
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        msg = (
            f"{call}(timeout={timeout!r}): the timeout must be a number of seconds, "
            "or None to wait until done"
        )
        raise TypeError(msg)
    if not timeout >= 0:  # also NaN
        msg = f"{call}(timeout={timeout!r}): the timeout must be None or >= 0 seconds"
        raise ValueError(msg)


def _on_about_to_quit() -> None:
    try:
        shutdown(timeout=5.0)
    except BaseException as exc:  # noqa: BLE001 - a slot must never raise
        report(exc)


def shutdown(timeout: float | None = None) -> list[Task[Any]]:
    """Cancel everything, drop queued work, wait up to `timeout` s for running functions.

    GUI thread; idempotent, and qtasks stays usable afterwards. Returns the
    handles whose functions still run when the wait ends, and names them in a
    `RuntimeWarning`. Failures nobody consumed are reported to `sys.excepthook`.
    Called on `QCoreApplication.aboutToQuit` with a 5 s timeout.
    """
    check_timeout(timeout, "qtasks.shutdown")
    the_bridge = STATE.bridge
    if the_bridge is None:
        return []
    deadline = None if timeout is None else time.monotonic() + timeout
    # A coroutine may catch the CancelledError and wait for more; a few rounds
    # let such clean-up run to its end without looping forever.
    for _ in range(8):
        for task in list(STATE.live):
            task.cancel()
        for executor in list(STATE.executors):
            executor._drop_queued()
        the_bridge.run_pending()
        if not STATE.live:
            break
    still_running: list[Task[Any]] = []
    for executor in list(STATE.executors):
        still_running.extend(executor._wait_idle(deadline))
    # Completions that arrived while we waited are delivered now (and dropped,
    # since their tasks are cancelled).
    the_bridge.run_pending()
    for task in list(STATE.unconsumed):
        task._report_unconsumed()
    if still_running:
        names = ", ".join(repr(task) for task in still_running)
        msg = (
            f"qtasks.shutdown: {len(still_running)} function(s) still running "
            f"after {timeout} s: {names}"
        )
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    return still_running
