"""run_async: asyncio libraries behind the same await, on a loop of their own.

`run_async(async_fn, *args)` runs `async_fn(*args)` as an asyncio task on an
event loop that qtasks keeps on a background thread ("qtasks-asyncio", one per
process, started at first use, stopped by `shutdown()`), or on an
application's own running loop (`loop=`). `wrap()` adopts an `asyncio.Future`
or `asyncio.Task` of a loop running on another thread the same way. Either way
the caller gets an `AsyncioTask`, whose outcome resumes the awaiting
coroutine on the GUI thread.

Thread boundary: the asyncio side of a handle is a `_LoopWork`. The GUI thread
hands it calls with `loop.call_soon_threadsafe()` (start, cancel); the loop's
thread hands the outcome back with `Bridge.transfer()`, and never touches Qt
or a task: the handle is kept by `_IN_FLIGHT` on the GUI thread until its
loop side has ended, and only the GUI thread looks it up there. The coroutine
runs inside `_run_with_side`, which sets the context variable that
`check_cancelled()`, `cancel_requested()` and `report_progress()` read, and
returns the outcome in a list that the loop's thread empties, so that the last
reference to the value (or the exception and its traceback) drops on the GUI
thread. See ARCHITECTURE.md for the threads and the bridge.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import threading
import time
from collections.abc import Awaitable, Coroutine
from typing import Any, Callable, Final, TypeVar

from . import _runtime
from ._bridge import Bridge, report
from ._errors import CancelledError
from ._task import CANCELLED, PENDING, Task, callable_name
from ._worker import ASYNC_SIDE, WeakWorkerSide

__all__ = ["AsyncioTask", "adopt", "run_async"]

T = TypeVar("T")


class _AsyncSide(WeakWorkerSide):
    """The worker side of a coroutine run by `run_async()`: its cancel flag and progress."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<run_async {self._name}>"


class AsyncioTask(Task[T]):
    """The handle of a coroutine on an asyncio loop, or of an adopted asyncio future."""

    __slots__ = ("_name", "_work", "_worker_side")

    def __init__(self, work: _LoopWork, name: str, worker_side: _AsyncSide | None) -> None:
        super().__init__()
        self._work: _LoopWork | None = work
        self._name = name
        self._worker_side = worker_side
        if worker_side is not None:
            worker_side.bind(self)

    def _abort(self) -> bool:
        if self._state is not PENDING:
            return False
        work = self._work
        if self._worker_side is not None:
            self._worker_side._cancel_requested = True
        self._finish(CANCELLED)
        if work is not None:
            try:
                work.loop.call_soon_threadsafe(work.cancel_in_loop)
            except RuntimeError:
                # The loop was closed under the work: nothing runs there any more.
                _IN_FLIGHT.pop(work, None)
        return True

    def _deliver(self, value: Any, exc: BaseException | None, cancelled: bool) -> None:
        """Finish the task with the outcome the loop's thread read. GUI thread."""
        if self._state is not PENDING:
            # Cancelled before the coroutine ended: a late result is dropped,
            # but a failure of its clean-up has nobody else to reach.
            if exc is not None and not isinstance(exc, CancelledError):
                with contextlib.suppress(Exception):  # a note is a courtesy
                    exc.add_note(f"(qtasks: raised by {self._name} after its handle was cancelled)")
                report(exc)
            return
        if cancelled:
            self._finish(CANCELLED)
        else:
            self._finish_with(value, exc)

    def _released(self) -> None:
        work = self._work
        if work is not None:
            work.abandoned = True
        self._work = None

    def _describe(self) -> str:
        return self._name

    def _waiting_text(self) -> str:
        return ", on asyncio"


async def _run_with_side(side: _AsyncSide, coro: Coroutine[Any, Any, Any]) -> list[Any]:
    """Await `coro` as the item `side`; return [value, exception]. Loop thread.

    asyncio's own cancellation propagates, so the asyncio task ends cancelled;
    every other exception is returned, so that KeyboardInterrupt or SystemExit
    raised by the coroutine reach its handle instead of stopping the loop.
    """
    ASYNC_SIDE.set(side)
    try:
        return [await coro, None]
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # noqa: BLE001 - the coroutine's outcome, for its handle
        return [None, exc]


class _LoopWork:
    """The asyncio side of one handle. Its methods run on the loop's thread unless said otherwise."""

    __slots__ = ("_bridge", "_coro", "_side", "abandoned", "ended", "future", "loop")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, Any] | None,
        side: _AsyncSide | None,
        future: asyncio.Future[Any] | None,
    ) -> None:
        self.loop = loop
        self._coro = coro
        self._side = side
        self._bridge: Bridge = _runtime.bridge()
        # The asyncio task running the coroutine, or the adopted future.
        self.future = future
        # Written once on the GUI thread, read here: True once the handle is done.
        self.abandoned = False
        # Set here when the asyncio side has ended; shutdown() waits for it.
        self.ended = threading.Event()

    def start_in_loop(self) -> None:
        """Start the coroutine as an asyncio task, or adopt the future. Loop thread; never raises."""
        try:
            coro, self._coro = self._coro, None
            if coro is not None:
                if self.abandoned:
                    coro.close()  # cancelled before it started: it never runs
                    self._end_in_loop(None)
                    return
                assert self._side is not None
                self.future = self.loop.create_task(_run_with_side(self._side, coro))
            assert self.future is not None
            self.future.add_done_callback(self._end_in_loop)
        except BaseException as exc:  # noqa: BLE001 - nothing may escape into the loop
            report(exc)

    def cancel_in_loop(self) -> None:
        """Cancel the asyncio task or the adopted future. Loop thread."""
        if self.future is not None:
            self.future.cancel()

    def _end_in_loop(self, future: asyncio.Future[Any] | None) -> None:
        """Read the outcome and hand it to the GUI thread. Loop thread; never raises."""
        try:
            value: Any = None
            exc: BaseException | None = None
            cancelled = future is None or future.cancelled()
            # An adopted future abandoned by its handle is left alone; our
            # own coroutine's outcome is always read, for a late failure.
            if future is not None and not cancelled and (not self.abandoned or self._side is not None):
                exc = future.exception()
                if exc is None:
                    value = future.result()
                    if self._side is not None:
                        # Our own wrapper's [value, exception]: emptied, so
                        # that the asyncio task no longer holds them.
                        outcome = value
                        value, exc = outcome
                        outcome.clear()
                        del outcome
            self.ended.set()
            box: list[Callable[[], object]] = [functools.partial(_settle, self, value, exc, cancelled)]
            del value, exc
            self._bridge.transfer(box)
        except BaseException as error:  # noqa: BLE001 - nothing may escape into the loop
            report(error)


# GUI thread only: each handle whose asyncio side has not ended yet. Holds the
# handles, so the last reference to one drops here, on the GUI thread.
_IN_FLIGHT: dict[_LoopWork, AsyncioTask[Any]] = {}


def _settle(work: _LoopWork, value: Any, exc: BaseException | None, cancelled: bool) -> None:
    """Deliver a loop side's outcome to its handle, if still wanted. GUI thread."""
    handle = _IN_FLIGHT.pop(work, None)
    if handle is not None:
        handle._deliver(value, exc, cancelled)


class _OwnLoop:
    """qtasks' asyncio loop and its thread, started at first use; stopped by shutdown()."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        """Return the running loop, starting a fresh one if none runs. GUI thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=self._run_in_thread, args=(loop,), name="qtasks-asyncio", daemon=True
            )
            self._loop, self._thread = loop, thread
            thread.start()
        return loop

    @staticmethod
    def _run_in_thread(loop: asyncio.AbstractEventLoop) -> None:
        """Run the loop until shutdown() stops it, then close it. The loop's own thread."""
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            # What shutdown() could not wait for: cancelled here, and run to
            # its end so that its handle hears of it before the loop closes.
            left = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in left:
                if not task.cancelling():
                    task.cancel()
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def _drop_queued(self) -> None:
        """Nothing to do: cancelling the handles already cancelled their asyncio tasks."""

    def _wait_idle(self, deadline: float | None) -> list[Task[Any]]:
        """Cancel the loops' tasks, wait for their clean-up, stop our loop. GUI thread.

        Returns the handles whose coroutines still run at the deadline. Our
        own loop is stopped, closed and its thread joined (a fresh one starts
        at the next run_async); an application's own loop only sees our
        tasks cancelled, and goes on running.
        """
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None:
            with contextlib.suppress(RuntimeError):  # closed already
                finished = asyncio.run_coroutine_threadsafe(_cancel_all_in_loop(), loop)
                with contextlib.suppress(concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
                    finished.result(_remaining(deadline))
                loop.call_soon_threadsafe(loop.stop)
            thread.join(_remaining(deadline))
        for work in list(_IN_FLIGHT):
            work.ended.wait(_remaining(deadline))
        return [handle for work, handle in _IN_FLIGHT.items() if not work.ended.is_set()]


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


async def _cancel_all_in_loop() -> None:
    """Cancel every other task of the running loop and wait until they end. Loop thread.

    A task being cancelled already is left to its clean-up: a second cancel
    would interrupt the awaits in its `finally` block.
    """
    this = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not this]
    for task in tasks:
        if not task.cancelling():
            task.cancel()
    if tasks:
        await asyncio.wait(tasks)


_OWN_LOOP: Final = _OwnLoop()
_runtime.STATE.executors.add(_OWN_LOOP)


# -- checking what we are given (GUI thread) -------------------------------


def _check_loop(loop: object, call: str) -> asyncio.AbstractEventLoop:
    """Return `loop` if it is a running asyncio loop of another thread, else raise naming the fix."""
    if not isinstance(loop, asyncio.AbstractEventLoop):
        msg = f"{call}: loop={loop!r} is not an asyncio event loop: pass a running one, or omit loop="
        raise TypeError(msg)
    if loop.is_closed():
        msg = (
            f"{call}: loop={loop!r} is closed: pass a loop that runs on another thread "
            "(loop.run_forever() there), or omit loop= to use qtasks' own loop"
        )
        raise RuntimeError(msg)
    if not loop.is_running():
        msg = (
            f"{call}: loop={loop!r} is not running: start it first on a thread of its own "
            "(threading.Thread(target=loop.run_forever).start()), or omit loop= to use qtasks' own loop"
        )
        raise RuntimeError(msg)
    return loop


def _coroutine_of(
    async_fn: object, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Coroutine[Any, Any, Any]:
    """Return the coroutine to run, or raise TypeError naming what was passed and the fix."""
    if inspect.iscoroutine(async_fn):
        if args or kwargs:
            msg = (
                f"qtasks.run_async got the coroutine object {async_fn.__qualname__} and arguments "
                f"{args!r} {kwargs!r}: pass either the async function and its arguments, "
                "run_async(fetch, url), or a coroutine object alone, run_async(fetch(url))"
            )
            async_fn.close()
            raise TypeError(msg)
        state = inspect.getcoroutinestate(async_fn)
        if state != inspect.CORO_CREATED:
            msg = (
                f"qtasks.run_async got the coroutine {async_fn.__qualname__}, which was awaited "
                f"already ({state}): a coroutine object runs once; pass the async function and its "
                "arguments, run_async(fetch, url), or a fresh coroutine object"
            )
            raise RuntimeError(msg)
        return async_fn
    if isinstance(async_fn, asyncio.Future):
        msg = (
            f"qtasks.run_async got the asyncio future {async_fn!r}, which is bound to its own loop: "
            "adopt it with qtasks.wrap(future), or pass the async function itself"
        )
        raise TypeError(msg)
    if not callable(async_fn):
        msg = (
            f"qtasks.run_async needs an async def function or a coroutine object, got {async_fn!r}: "
            "pass the function itself, e.g. qtasks.run_async(fetch, url)"
        )
        raise TypeError(msg)
    name = callable_name(async_fn)
    target = async_fn.func if isinstance(async_fn, functools.partial) else async_fn
    if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
        kind = "an async generator function" if inspect.isasyncgenfunction(target) else "a generator function"
        msg = (
            f"qtasks.run_async needs an async def function, got {kind} {name}: write it as async def "
            "that returns its result, or run a generator coroutine with @qtasks.coroutine instead"
        )
        raise TypeError(msg)
    plain = (inspect.isfunction(target) or inspect.ismethod(target) or inspect.isbuiltin(target)) and not (
        inspect.iscoroutinefunction(target)
    )
    if not plain:
        made = async_fn(*args, **kwargs)
        if inspect.iscoroutine(made):
            return made
        if inspect.isawaitable(made):
            msg = (
                f"qtasks.run_async: {name}() returned {made!r}, an awaitable that is not a coroutine: "
                "wrap it in an async def function that awaits it, or adopt a future with qtasks.wrap()"
            )
            raise TypeError(msg)
    msg = (
        f"qtasks.run_async needs an async def function or a coroutine object, got the plain function "
        f"{name}: define it with async def, or use qtasks.run({name}, ...) to run a plain function "
        "on the thread pool"
    )
    raise TypeError(msg)


# -- public ----------------------------------------------------------------


def run_async(
    async_fn: Callable[..., Awaitable[T]] | Coroutine[Any, Any, T],
    /,
    *args: Any,
    loop: asyncio.AbstractEventLoop | None = None,
    **kwargs: Any,
) -> Task[T]:
    """Run `async_fn(*args, **kwargs)` on an asyncio loop; return its handle at once.

    GUI thread. The coroutine runs as an asyncio task on the loop qtasks keeps
    on its own background thread, or on `loop`, an application's loop running
    on another thread. Its result or exception, with its traceback, resumes
    the awaiting coroutine on the GUI thread. Cancelling the handle ends it at
    once and cancels the asyncio task: its `except asyncio.CancelledError` and
    `finally` run on the loop's thread. An asyncio task that cancels itself
    cancels the handle. `async_fn` may also be a coroutine object. Raises
    TypeError for a plain or generator function, RuntimeError for a
    coroutine awaited already, a closed or stopped `loop`, no QApplication, or
    a call off the GUI thread.
    """
    if loop is not None:
        _check_loop(loop, "qtasks.run_async(..., loop=...)")
    try:
        _runtime.bridge()  # raises before anything runs when no QApplication exists
    except RuntimeError:
        if inspect.iscoroutine(async_fn):
            async_fn.close()  # it will never run: no "never awaited" warning on top
        raise
    if not _runtime.on_gui_thread():
        if inspect.iscoroutine(async_fn):
            async_fn.close()
        msg = (
            "qtasks.run_async was called off the GUI thread; its handle belongs to the GUI thread: "
            "call it from a coroutine or slot, or, on the asyncio loop itself, await the coroutine directly"
        )
        raise RuntimeError(msg)
    coro = _coroutine_of(async_fn, args, kwargs)
    name = f"{getattr(coro, '__qualname__', type(coro).__name__)}()"
    target = _OWN_LOOP.get() if loop is None else loop
    side = _AsyncSide(name)
    work = _LoopWork(target, coro, side, None)
    task: AsyncioTask[T] = AsyncioTask(work, name, side)
    _IN_FLIGHT[work] = task
    target.call_soon_threadsafe(work.start_in_loop)
    return task


def adopt(future: asyncio.Future[T]) -> AsyncioTask[T]:
    """Adopt an asyncio future or task of a loop running on another thread. GUI thread.

    The handle finishes with the future's outcome; cancelling it cancels the
    future on its loop.
    """
    loop = _check_loop(future.get_loop(), f"qtasks.wrap({future!r})")
    work = _LoopWork(loop, None, None, future)
    name = f"asyncio {type(future).__name__}"
    task: AsyncioTask[T] = AsyncioTask(work, name, None)
    _IN_FLIGHT[work] = task
    loop.call_soon_threadsafe(work.start_in_loop)
    return task
