"""run_until_complete: spin the Qt event loop until one task is done.

For scripts, benchmarks and tests, which have no `app.exec_()` running while
they wait: the pytest fixture `qtasks_run` is this function with a 5 s
default timeout. A GUI program needs none of it: its slots yield and await.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Awaitable, Callable, Final, TypeVar

from ._binding import QCoreApplication, QEvent, QEventLoop, QThread, QTimer, exec_loop
from ._coroutine import as_task
from ._errors import TimeoutError as QtasksTimeoutError
from ._qt import _MAX_INTERVAL_MS, _check_seconds
from ._runtime import bridge
from ._task import Task

__all__ = ["run_until_complete"]

T = TypeVar("T")

# What QEventLoop.exec_() returns when it refuses to run.
_LOOP_REFUSED: Final = -1


def run_until_complete(awaitable: Awaitable[T], *, timeout: float | None = None) -> T:
    """Spin the Qt event loop until `awaitable` is done; return its result or raise its exception.

    GUI thread, with a QApplication (or QCoreApplication) created first.
    `awaitable` is a qtasks task or a coroutine object (an `async def`'s, or
    what a `@qtasks.coroutine` returns). After `timeout` seconds (None: never)
    the task is cancelled, its `finally` blocks run, and `qtasks.TimeoutError`
    naming it is raised. Raises RuntimeError without an application or off
    the GUI thread, TypeError for something not awaitable, ValueError for a
    negative timeout.
    """
    seconds = math.inf
    if timeout is not None:
        seconds = _check_seconds(timeout, f"qtasks.run_until_complete(..., timeout={timeout!r})")
    return until_complete(awaitable, seconds, "qtasks.run_until_complete()")  # type: ignore[no-any-return]


def until_complete(
    awaitable: object, seconds: float, call: str, live: Callable[[], str] | None = None
) -> Any:
    """Do what run_until_complete does, with `call` naming the caller in errors. GUI thread.

    With `live`, a timeout's message ends with what `live()` returns then
    (the tree of live tasks, for a test that hangs).
    """
    _require_application(awaitable, call)
    task = as_task(awaitable)
    if task is None:
        raise TypeError(_not_awaitable_message(awaitable, call))
    if not task.done():
        _spin(task, seconds)
    if not task.done():
        # Named before the cancel, which stops it waiting on anything.
        msg = f"{task!r} was not done after {seconds:g} s"
        if live is not None:
            msg += f"; still live then:\n{live()}"
        task.cancel()
        # The caller goes on with the task cancelled, not about to be.
        bridge().run_pending()
        if task.done() and not task.cancelled():
            # Its clean-up failed: that failure is the cause, not lost.
            raise QtasksTimeoutError(msg) from task.exception()
        raise QtasksTimeoutError(msg)
    return task.result()


def _require_application(awaitable: object, call: str) -> None:
    """Raise RuntimeError unless a QApplication exists and this is its thread.

    Why a function of its own: the application stays out of the frames of
    the traceback of what `until_complete` raises (see `_spin`).
    """
    app = QCoreApplication.instance()
    if app is None:
        msg = (
            f"{call} needs a QApplication to run the Qt event loop: "
            "create one first, e.g. app = QApplication(sys.argv)"
        )
    elif QThread.currentThread() != app.thread():
        msg = f"{call} was called off the GUI thread: call it on the thread that created the QApplication"
    else:
        return
    if inspect.iscoroutine(awaitable):
        awaitable.close()  # never started: no "never awaited" warning besides
    raise RuntimeError(msg)


def _not_awaitable_message(value: object, call: str) -> str:
    if inspect.isgenerator(value):
        fix = (
            "a plain generator is not a qtasks coroutine: decorate its function with "
            "@qtasks.coroutine and pass what calling it returns"
        )
    elif isinstance(value, (list, tuple, set)):
        fix = "wait for several with qtasks.gather(*tasks)"
    else:
        fix = "pass a handle, such as qtasks.run(fn, ...) or what calling a @qtasks.coroutine returns"
    return f"{call} needs a qtasks task or a coroutine, got {value!r}: {fix}"


def _spin(task: Task[Any], seconds: float) -> None:
    """Run a Qt event loop until `task` is done or `seconds` pass. GUI thread.

    Why a function of its own: the event loop and the timer live only in its
    frame, so a traceback of the task's exception, raised by the caller,
    cannot keep these QObjects alive in a reference cycle for a garbage
    collection that may run on a worker thread, where deleting them crashes.
    """
    loop = QEventLoop()
    timed_out: list[bool] = []

    def time_out() -> None:
        timed_out.append(True)
        loop.quit()

    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(time_out)
    if not math.isinf(seconds):
        timer.start(min(_MAX_INTERVAL_MS, math.ceil(seconds * 1000)))
    # Why not add_done_callback: that would consume the outcome, and a failure
    # the timeout's cancel provokes later would reach nobody. The caller
    # takes the outcome; until then a failure is left to the handle.
    task._leave_to_handle()
    task._on_done(lambda _task: loop.quit())
    while not task.done() and not timed_out:
        if exec_loop(loop) == _LOOP_REFUSED:
            # Why: once QApplication.quit() has run outside app.exec_()
            # (in a test of a Quit action, say), every QEventLoop returns
            # at once; the events are then processed here, as it would.
            flags = QEventLoop.ProcessEventsFlag
            QCoreApplication.processEvents(flags.AllEvents | flags.WaitForMoreEvents)
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    timer.stop()
