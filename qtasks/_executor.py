"""run_in and wrap: work on other engines behind the same await.

`run_in(executor, fn, ...)` submits to any `concurrent.futures.Executor` (a
process pool for GIL-bound work, a thread pool, a Dask client's executor) or
to a Dask `distributed.Client`; `wrap(future)` adopts a
`concurrent.futures.Future` or a Dask `distributed.Future`. Either way the
caller gets an `ExecutorTask`. Only Dask's public API is used: a client's
`submit()`, `cancel(..., asynchronous=True)` on its `loop`, and `status`.

Thread boundary: an engine completes its future on a thread of its own (a
thread pool's worker, a process pool's management thread, Dask's callback
thread). The done callback registered here, `_Completion.__call__`, runs
there. It reads the future's outcome (for Dask it also fetches the result, so
the GUI thread never waits on the network) and hands one call to the bridge
with `transfer()`. It never touches Qt or the task's state, and it holds the
task only through a weak reference: a pending task is kept alive by the live
registry on the GUI thread, so the last reference to it never drops elsewhere.

Dask is imported lazily: a `distributed.Future` can only exist once the user
has imported `distributed`, so `sys.modules` tells whether to look for one.
See ARCHITECTURE.md for the threads and the bridge.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import pickle
import queue
import sys
import threading
import time
import weakref
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable, Final, TypeVar, overload

from typing_extensions import ParamSpec

from . import _runtime
from ._asyncio import AsyncioTask, adopt
from ._bridge import report
from ._errors import CancelledError
from ._task import CANCELLED, PENDING, Task, callable_name, require_callable, safe_repr
from ._worker import WeakWorkerSide, run_as

__all__ = ["ExecutorTask", "run_in", "wrap"]

T = TypeVar("T")
P = ParamSpec("P")

# ExecutorTask._kind
CONCURRENT: Final = "concurrent.futures"
DASK: Final = "dask"
# A concurrent.futures.Future of a Dask client.get_executor(): cancelling it
# cancels its Dask future synchronously, waiting for the client's event loop.
DASK_EXECUTOR: Final = "dask executor"


def _dask_future_type() -> type | None:
    """Return `distributed.Future` if the user imported distributed, else None."""
    module = sys.modules.get("distributed")
    future_type = getattr(module, "Future", None)
    return future_type if isinstance(future_type, type) else None


# (fn, args, kwargs) of a process-pool call, kept to name what could not be pickled.
_Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class ExecutorTask(Task[T]):
    """The handle of work on another engine: a process pool, a thread pool, a Dask cluster."""

    __slots__ = ("_completion", "_future", "_kind", "_name", "_thread_call", "_worker_side")

    def __init__(
        self,
        future: Any,
        kind: str,
        name: str,
        call: _Call | None = None,
        *,
        worker_side: WeakWorkerSide | None = None,
        thread_call: _ThreadCall | None = None,
    ) -> None:
        super().__init__()
        self._future: Any = future
        self._thread_call = thread_call
        self._kind = kind
        self._name = name
        # What check_cancelled() and report_progress() see in a function run
        # on a thread of this process; None for other processes and Dask.
        self._worker_side = worker_side
        if worker_side is not None:
            worker_side.bind(self)
        self._completion = _Completion(self, kind, call)
        future.add_done_callback(self._completion)

    def cancel(self) -> bool:
        """Stop the task: queued work never runs; running work's result is dropped.

        GUI thread; never blocks. The task ends as cancelled at once, whatever
        the engine does. A `concurrent.futures` future is cancelled with
        `future.cancel()`, which succeeds only while the work waits in the
        executor's queue; a Dask future is cancelled on the client's event
        loop, so the scheduler forgets queued work and drops a running task's
        result. Returns False if the task is done already.
        """
        return super().cancel()

    def _abort(self) -> bool:
        if self._state is not PENDING:
            return False
        future = self._future
        thread_call = self._thread_call
        if self._worker_side is not None:
            self._worker_side._cancel_requested = True
        self._finish(CANCELLED)
        if self._kind is DASK:
            _cancel_dask_soon(future)
        elif self._kind is DASK_EXECUTOR:
            # Why another thread: this future's cancel() waits for the Dask
            # client's event loop, which the GUI thread must never do. The
            # cluster drops the work; it is not this process's to wait for.
            _BACKGROUND_CANCELS.cancel(future)
        else:
            # Why: the work may finish at this very moment on the engine's
            # thread; then cancel() returns False, the completion may already
            # be on its way through the bridge, and _deliver() drops it
            # because the task is cancelled by then. Tracking starts before
            # cancel() so that the completion's untracking always comes after.
            # A future done already had its completion called before this
            # cancel, which untracks nothing: it is untracked here.
            _STILL_RUNNING.track(future, self)
            never_ran = future.cancel()
            if never_ran or future.done():
                _STILL_RUNNING.untrack(future)
            if never_ran and thread_call is not None:
                thread_call.drop()  # the user's arguments are freed here, not on the executor's thread
        return True

    def _deliver(self, value: Any, exc: BaseException | None, cancelled: bool) -> None:
        """Finish the task with the outcome the engine's thread read. GUI thread."""
        if self._state is not PENDING:
            return  # cancelled before the engine finished: the late outcome is dropped
        self._finish_with(value, CancelledError() if cancelled else exc)

    def _released(self) -> None:
        # Tell the engine-side callback that nobody wants the outcome (a Dask
        # result is then not fetched at all), and let go of the future: a
        # Dask future releases its key when dropped, without blocking.
        self._completion.abandoned = True
        self._completion.drop_call()
        self._future = None
        self._thread_call = None

    def _describe(self) -> str:
        return self._name

    def _waiting_text(self) -> str:
        return f", on {self._kind}"


class _Completion:
    """The done callback given to an engine's future. Runs on the engine's thread.

    It holds the task only weakly: while the task is pending the live
    registry keeps it alive, and afterwards nothing here needs it.
    """

    __slots__ = ("_bridge", "_call", "_kind", "_task", "abandoned")

    def __init__(self, task: ExecutorTask[Any], kind: str, call: _Call | None) -> None:
        self._task = weakref.ref(task)
        self._bridge = _runtime.bridge()
        self._kind = kind
        self._call = call
        # Written once on the GUI thread, read here: True once the task is done.
        self.abandoned = False

    def drop_call(self) -> None:
        """Let go of the call's arguments, kept to explain a pickling error. GUI thread."""
        self._call = None

    def __call__(self, future: Any) -> None:
        """Read the outcome and post it to the GUI thread. Engine thread; never raises."""
        try:
            if self.abandoned:
                if self._kind is not DASK:
                    # A cancelled task may be tracked as still running; that ends now.
                    self._bridge.post(functools.partial(_STILL_RUNNING.untrack, future))
                return
            if self._kind is DASK:
                value, exc, cancelled = _dask_outcome_in_engine(future)
            else:
                value, exc, cancelled = _concurrent_outcome_in_engine(future)
            call = self._call
            if exc is not None and call is not None:
                with contextlib.suppress(Exception):  # a courtesy: else the error goes on as it is
                    exc = _explain_pickling(exc, *call)
            del call
            task = self._task()
            if task is None:
                return
            box: list[Callable[[], object]] = [functools.partial(task._deliver, value, exc, cancelled)]
            # The box holds this thread's only reference to the task (and to
            # the value); transfer() moves it to the GUI thread.
            del task, value, exc
            self._bridge.transfer(box)
        except BaseException as error:  # noqa: BLE001 - nothing may escape into the engine
            report(error)


class _ThreadCall:
    """The call a `ThreadPoolExecutor` runs, whose parts are let go on the GUI thread.

    Why: submitted as they are, the function and the user's arguments would
    lose their last reference in the executor's work item, on its thread,
    where their ``__del__`` must not run. After the call (executor thread),
    the parts leave through the bridge; a call cancelled before it ran drops
    them on the GUI thread (`drop`).
    """

    __slots__ = ("_bridge", "_parts", "_side")

    def __init__(
        self, side: WeakWorkerSide, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._side = side
        self._parts: list[Any] = [fn, args, kwargs]
        self._bridge = _runtime.bridge()

    def __call__(self) -> Any:
        """Run the call with its worker side. Executor thread."""
        parts = self._parts
        try:
            return run_as(self._side, parts[0], parts[1], parts[2])
        finally:
            box: list[Callable[[], object]] = [parts.clear]
            del parts
            self._bridge.transfer(box)

    def drop(self) -> None:
        """Let go of the parts of a call that will never run. GUI thread."""
        self._parts.clear()


def _concurrent_outcome_in_engine(future: Future[Any]) -> tuple[Any, BaseException | None, bool]:
    """Return (value, exception, cancelled) of a done concurrent future. Engine thread."""
    if future.cancelled():
        return None, None, True
    exc = future.exception()
    if exc is not None:
        return None, exc, False
    return future.result(), None, False


def _dask_outcome_in_engine(future: Any) -> tuple[Any, BaseException | None, bool]:
    """Return (value, exception, cancelled) of a done Dask future. Dask's callback thread.

    Fetching the result blocks this thread while the data travels from the
    worker, which is why it happens here and not on the GUI thread.
    """
    if future.status == "cancelled":
        return None, None, True
    try:
        # Raises the remote exception with the traceback Dask kept.
        return future.result(), None, False
    except BaseException as exc:  # noqa: BLE001 - the remote work's outcome
        if future.status == "cancelled":
            return None, None, True
        return None, exc, False


class _StillRunning:
    """Cancelled work that runs on in an executor's thread or process, for shutdown().

    A running `concurrent.futures` call cannot be stopped: its task ends as
    cancelled at once, but shutdown() waits for the call like it waits for a
    pool thread, and names it if it outlives the timeout. Dask work is not
    tracked: the cluster drops it, and it is not this process's to wait for.
    """

    def __init__(self) -> None:
        # GUI thread only. Holds the tasks, so the last reference to one is
        # dropped here, on the GUI thread, when its call ends.
        self._running: dict[Future[Any], ExecutorTask[Any]] = {}

    def track(self, future: Future[Any], task: ExecutorTask[Any]) -> None:
        """Remember a cancelled task whose call may still run. GUI thread."""
        self._running[future] = task

    def untrack(self, future: Future[Any]) -> None:
        """Forget a call that ended or never ran. GUI thread; idempotent."""
        self._running.pop(future, None)

    def _drop_queued(self) -> None:
        """Nothing to do: cancel() already took queued calls back from their executors."""

    def _wait_idle(self, deadline: float | None) -> list[Task[Any]]:
        """Wait until the tracked calls end or the deadline passes; return those still running."""
        running = [future for future in self._running if not future.done()]
        if running:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            concurrent.futures.wait(running, timeout=timeout)
        return [task for future, task in self._running.items() if not future.done()]


_STILL_RUNNING: Final = _StillRunning()
_runtime.STATE.executors.add(_STILL_RUNNING)


# -- pickling errors -------------------------------------------------------

# How multiprocessing's pickler shows up in a process pool's remote traceback.
_PICKLER_FRAME: Final = "_ForkingPickler.dumps"
_SEND_BACK_FRAME: Final = "_sendback_result"


def _explain_pickling(
    exc: BaseException, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> BaseException:
    """Name the value a process pool could not pickle, or return `exc` unchanged. Engine thread.

    A process pool reports a pickling failure with the pickler's own message
    ("cannot pickle '_thread.lock' object") and nothing about which value it
    was. The remote traceback tells whether it happened on the way in or on
    the way back; on the way in, pickling each part again finds the culprit.
    """
    cause = exc.__cause__
    text = str(cause) if cause is not None else ""
    if _PICKLER_FRAME not in text:
        return exc  # the function's own error, not the transport's
    name = callable_name(fn)
    why = f"{type(exc).__name__}: {exc}"
    if _SEND_BACK_FRAME in text:
        # Why both: the remote traceback is the same for a result and for an exception.
        msg = (
            f"the result of {name}(), or the exception it raised, cannot be pickled to send it "
            f"back from the worker process ({why}): return and raise only picklable values, "
            "or use qtasks.run() to stay in this process"
        )
    else:
        msg = ""
        parts: list[tuple[str, object]] = [(f"the function {name}", fn)]
        parts += [(f"argument {i} of {name}() ({safe_repr(arg)})", arg) for i, arg in enumerate(args)]
        parts += [(f"keyword argument {k}= of {name}() ({safe_repr(arg)})", arg) for k, arg in kwargs.items()]
        for label, part in parts:
            try:
                pickle.dumps(part)
            except Exception as error:  # noqa: BLE001 - this is the diagnosis
                msg = (
                    f"{label} cannot be pickled to send it to a worker process "
                    f"({type(error).__name__}: {error}): pass only picklable values "
                    "(module-level functions, plain data), or use qtasks.run() to stay in this process"
                )
                break
        if not msg:
            return exc
    explained = pickle.PicklingError(msg)
    explained.__cause__ = exc
    return explained


def _check_picklable_function(executor: Executor, fn: Callable[..., Any]) -> None:
    """Raise TypeError now if a process pool could never receive `fn`. GUI thread."""
    if not isinstance(executor, ProcessPoolExecutor):
        return
    try:
        pickle.dumps(fn)
    except Exception as error:
        msg = (
            f"qtasks.run_in: the function {fn!r} cannot be pickled to send it to a worker "
            f"process ({type(error).__name__}: {error}): define it at module level "
            "(not a lambda, a nested function or a bound method of an unpicklable object)"
        )
        raise TypeError(msg) from error


# -- Dask cancellation -----------------------------------------------------

# Dask futures to cancel, per client, collected on the GUI thread and sent in
# one message per client on the next scheduler step (a gather cancelling a
# thousand children costs one round trip, not a thousand).
_DASK_CANCELS: dict[int, tuple[Any, list[Any]]] = {}


def _cancel_dask_soon(future: Any) -> None:
    """Queue `future` for cancellation on its client's event loop. GUI thread; never blocks."""
    client = future.client
    entry = _DASK_CANCELS.get(id(client))
    if entry is None:
        _DASK_CANCELS[id(client)] = (client, [future])
        _runtime.call_soon(functools.partial(_send_dask_cancels, id(client)))
    else:
        entry[1].append(future)


def _send_dask_cancels(client_id: int) -> None:
    """Hand the queued cancellations of one client to its event loop. GUI thread.

    `Client.cancel()` waits for the event loop; asked for a coroutine instead
    (`asynchronous=True`) and run by the loop itself, it does not block us.
    """
    client, futures = _DASK_CANCELS.pop(client_id)
    loop = client.loop
    if loop is None or client.status in ("closing", "closed"):
        return  # the client is closed: its futures are cancelled already
    # Why suppress: the client may close between the check and the call; its
    # event loop is gone then, and so is the work we meant to cancel.
    with contextlib.suppress(RuntimeError):
        loop.add_callback(functools.partial(client.cancel, futures, asynchronous=True))


class _BackgroundCancels:
    """One daemon thread that cancels futures whose cancel() blocks, started at first use."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def cancel(self, future: Any) -> None:
        """Have `future.cancel()` called on the background thread. Any thread; never blocks."""
        self._queue.put(future)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._cancel_in_background, name="qtasks-cancels", daemon=True
                )
                self._thread.start()

    def _cancel_in_background(self) -> None:
        """Cancel queued futures, one at a time, for the life of the process. Background thread."""
        while True:
            future = self._queue.get()
            try:
                future.cancel()
            except BaseException as exc:  # noqa: BLE001 - a closed client, say: reported, and on
                report(exc)
            del future


_BACKGROUND_CANCELS: Final = _BackgroundCancels()


# -- public ----------------------------------------------------------------


def run_in(executor: Any, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> ExecutorTask[T]:
    """Run `fn(*args, **kwargs)` on `executor`; return its handle at once.

    GUI thread. `executor` is any `concurrent.futures.Executor` (a
    `ProcessPoolExecutor` for GIL-bound work, a `ThreadPoolExecutor`, a Dask
    `client.get_executor()`) or a Dask `distributed.Client`, which runs it with
    `client.submit(fn, *args, **kwargs)`. Raises TypeError for anything else,
    for a non-callable `fn`, and for a function a process pool cannot pickle.
    """
    client_type = _dask_client_type()
    if client_type is not None and isinstance(executor, client_type):
        require_callable(fn, "qtasks.run_in(client, load, path)")
        _runtime.bridge()  # raises before submitting when no QApplication exists
        client: Any = executor
        return ExecutorTask(client.submit(fn, *args, **kwargs), DASK, f"{callable_name(fn)}()")
    if not isinstance(executor, Executor):
        hint = (
            "pass a concurrent.futures.Executor such as ProcessPoolExecutor() or a Dask "
            "distributed.Client, or use qtasks.run(fn, ...) for the thread pool"
        )
        msg = f"qtasks.run_in needs a concurrent.futures.Executor, got {executor!r}: {hint}"
        raise TypeError(msg)
    require_callable(fn, "qtasks.run_in(pool, load, path)")
    _check_picklable_function(executor, fn)
    # Why before submitting: without a QApplication (RuntimeError here) the
    # function must not run, since no handle could ever report its outcome.
    _runtime.bridge()
    name = f"{callable_name(fn)}()"
    if _is_dask_executor(executor):
        return ExecutorTask(executor.submit(fn, *args, **kwargs), DASK_EXECUTOR, name)
    if isinstance(executor, ThreadPoolExecutor):
        # A thread of this process: check_cancelled() and report_progress() work there.
        side = WeakWorkerSide(name)
        thread_call = _ThreadCall(side, fn, args, kwargs)
        future = executor.submit(thread_call)
        return ExecutorTask(future, CONCURRENT, name, worker_side=side, thread_call=thread_call)
    future = executor.submit(fn, *args, **kwargs)
    call = (fn, args, kwargs) if isinstance(executor, ProcessPoolExecutor) else None
    return ExecutorTask(future, _kind_of(future), name, call)


def _dask_client_type() -> type | None:
    """Return `distributed.Client` if the user imported distributed, else None."""
    client_type = getattr(sys.modules.get("distributed"), "Client", None)
    return client_type if isinstance(client_type, type) else None


def _is_dask_executor(executor: Executor) -> bool:
    """Tell whether `executor` is what a Dask `client.get_executor()` returns."""
    executor_type = getattr(sys.modules.get("distributed.cfexecutor"), "ClientExecutor", None)
    return isinstance(executor_type, type) and isinstance(executor, executor_type)


def _kind_of(future: object) -> str:
    if isinstance(future, concurrent.futures.Future):
        return CONCURRENT
    dask_future = _dask_future_type()
    if dask_future is not None and isinstance(future, dask_future):
        return DASK
    if isinstance(future, Task):
        hint = "it is a qtasks task already: yield or await it directly"
    elif callable(future):
        hint = "to run a function on an executor, use qtasks.run_in(executor, fn, ...)"
    else:
        hint = (
            "pass what executor.submit(...) or a Dask client.submit(...) returns, "
            "or an asyncio future of a loop running on another thread"
        )
    msg = f"qtasks.wrap needs a concurrent.futures.Future or a distributed.Future, got {future!r}: {hint}"
    raise TypeError(msg)


@overload
def wrap(future: asyncio.Future[T]) -> AsyncioTask[T]: ...


@overload
def wrap(future: Future[T] | Any) -> ExecutorTask[T]: ...


def wrap(future: Any) -> Task[Any]:
    """Adopt a `concurrent.futures.Future`, a Dask `distributed.Future` or an asyncio future.

    GUI thread. The handle finishes with the future's outcome; cancelling it
    cancels the future. An `asyncio.Future` or `asyncio.Task` must belong to
    a loop running on another thread. Raises TypeError for anything else.
    """
    if isinstance(future, asyncio.Future):
        return adopt(future)
    kind = _kind_of(future)
    if kind is DASK:
        name = f"dask {getattr(future, 'key', '?')!r}"
    else:
        name = "future"
    return ExecutorTask(future, kind, name)
