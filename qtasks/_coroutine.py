"""Coroutines on the GUI thread: @coroutine, CoroutineTask and the step.

One function, `CoroutineTask._step`, is the only place a coroutine runs: it
sends a value or throws an exception in, and classifies what comes back. When
the coroutine yields a task that is already done, the step loops and resumes it
at once (a trampoline), so a long chain of finished tasks neither recurses nor
costs an event-loop turn each. See ARCHITECTURE.md, "The step and the
trampoline".
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import functools
import inspect
import linecache
from concurrent.futures import Future
from typing import Any, Callable, Coroutine, Final, Generator, TypeVar, Union

from typing_extensions import ParamSpec

from . import _runtime
from ._errors import CancelledError
from ._task import CANCELLED, FAILED, FINISHED, ON_STEP, PENDING, Task, callable_name, safe_repr

__all__ = ["CoroutineTask", "as_task", "coroutine"]

T = TypeVar("T")
P = ParamSpec("P")

AnyCoroutine = Union[Generator[Any, Any, T], Coroutine[Any, Any, T]]

# How many coroutine starts may nest synchronously (a body calling a coroutine
# whose body calls one...). Each level costs about five Python frames, so a
# deeper start is deferred to the next scheduler step: a chain of any depth
# then never reaches the recursion limit.
START_DEPTH_LIMIT: Final = 40


class CoroutineTask(Task[T]):
    """The handle of a running qtasks coroutine."""

    __slots__ = ("_coro", "_must_cancel", "_name", "_stepping", "_waiting_on")

    def __init__(self, coro: AnyCoroutine[T], name: str, *, start: bool = True) -> None:
        try:
            on_gui_thread = _runtime.on_gui_thread()
        except RuntimeError:
            coro.close()  # no application yet; closed, it warns of nothing besides
            raise
        if not on_gui_thread:
            coro.close()
            msg = (
                f"qtasks coroutine {name} was started off the GUI thread; "
                "coroutines run on the GUI thread: start it there, or use qtasks.run() "
                "for work on a worker thread"
            )
            raise RuntimeError(msg)
        super().__init__()
        self._coro: AnyCoroutine[T] | None = coro
        self._name = name
        # Invariant: while pending and not inside _step, the coroutine waits on
        # exactly one task (it is in that task's callbacks) or has a
        # cancellation step queued; _waiting_on names the task it waits on.
        self._waiting_on: Task[Any] | None = None
        self._must_cancel = False
        # True while _step runs, including while it starts a yielded coroutine
        # object, when the generator itself is not running.
        self._stepping = False
        # A coroutine's failure nobody consumed is reported on the next step,
        # unless a combinator leaves it to the handle first.
        self._failure_report = ON_STEP
        if start:
            self._start()

    def _start(self) -> None:
        """Run the body up to its first suspension. GUI thread; once.

        Synchronously, unless starts already nest `START_DEPTH_LIMIT` deep:
        then on the next scheduler step, from the bottom of the stack.
        """
        state = _runtime.STATE
        depth = state.start_depth
        if depth >= START_DEPTH_LIMIT:
            _runtime.call_soon(self._deferred_start)
            return
        state.start_depth = depth + 1
        try:
            self._step(None, None)
        finally:
            state.start_depth = depth

    def _deferred_start(self) -> None:
        # Why the check: a cancel() may have stepped it first (it then ended,
        # or is suspended waiting on a task); a cancellation still queued is
        # thrown in by this step at once.
        if self._state is PENDING and self._waiting_on is None and not self._stepping:
            self._step(None, None)

    def cancel(self) -> bool:
        """Throw `CancelledError` in at the current suspension on the next step.

        Cancels what the coroutine waits on. GUI thread. Returns False if the
        coroutine is done; True (changing nothing more) if a cancellation is
        already on its way.
        """
        return super().cancel()

    def _cancelling(self) -> bool:
        """Tell whether a cancellation is on its way to the coroutine. GUI thread."""
        return self._must_cancel

    def _awaits(self) -> tuple[Task[Any], ...]:
        waiting = self._waiting_on
        return () if waiting is None else (waiting,)

    def _abort(self) -> bool:
        if self._must_cancel:
            return False  # a cancellation is on its way already
        self._must_cancel = True
        # Why: the child's own done callback would resume us with its
        # outcome; forgetting it first makes that late wake-up a no-op.
        self._waiting_on = None
        return True

    def _aborted(self, now: bool) -> None:
        if now:
            self._cancel_now()
        elif not self._stepping:
            # Queued after what it waited on queued its own: innermost first.
            # Inside _step right now, the step itself sees the flag.
            _runtime.call_soon(self._resume_cancelled)

    def _cancel_now(self) -> None:
        """Throw `CancelledError` in at the current suspension right now, not on the next step.

        GUI thread; does nothing once the coroutine is done. For an owner that
        is about to disappear (a QObject being deleted): its `finally` blocks
        must run while it still exists. `cancel_walk(now=True)` cancels what
        the coroutine waits on first, innermost first. The coroutine gets
        `CancelledError` even if that failed in its clean-up, as with
        `cancel()`: it stopped waiting, so the failure stays unconsumed and is
        reported (thrown in, it could be caught and the coroutine resume
        normally after its owner is gone). If the coroutine is running (it is
        deleting its own owner), the throw happens at its next suspension instead.
        """
        if self._state is not PENDING:
            return
        self._must_cancel = True
        if self._coro is None or self._stepping:
            # Why: not only while the body runs: also while _step starts a
            # coroutine object the body yielded, which may delete the owner.
            # _step sees the flag at its next suspension.
            return
        waiting = self._waiting_on
        # Why: forgetting the child first makes its late wake-up, and the
        # _resume_cancelled an earlier cancel() queued, no-ops.
        self._waiting_on = None
        if waiting is not None:
            waiting.cancel()  # a no-op if it has ended
        self._must_cancel = False
        self._step(None, CancelledError())

    def _resume_cancelled(self) -> None:
        if self._state is PENDING and self._waiting_on is None:
            self._step(None, None)

    def _wakeup(self, task: Task[Any]) -> None:
        """Resume after `task` finished, unless the coroutine moved on."""
        if task is not self._waiting_on:
            return  # a late wake-up for a task we stopped waiting on
        self._waiting_on = None
        value, exc = task._outcome()
        self._step(value, exc)

    def _step(self, value: Any, exc: BaseException | None) -> None:
        """Run the coroutine to its next suspension on an unfinished task."""
        coro = self._coro
        assert coro is not None
        state = _runtime.STATE
        previous = state.current
        state.current, state.steps = self, state.steps + 1
        self._stepping = True
        try:
            while True:
                if self._must_cancel:
                    self._must_cancel = False
                    value, exc = None, CancelledError()
                try:
                    if exc is None:
                        yielded = coro.send(value)
                    else:
                        yielded = coro.throw(exc)
                except StopIteration as stop:
                    if self._must_cancel:
                        # It returned before the cancel it asked for reached
                        # a suspension: cancel() said True, so it ends cancelled.
                        self._finish(CANCELLED)
                    else:
                        self._finish(FINISHED, stop.value)
                    return
                except CancelledError:
                    self._finish(CANCELLED)
                    return
                except BaseException as error:  # noqa: BLE001 - the coroutine's outcome
                    _add_hint(error)
                    self._finish(FAILED, exc=error)
                    return
                value = None
                task: Task[Any] | None = yielded  # the common case, kept off any call
                if not isinstance(yielded, Task) or yielded is self:
                    task, exc = self._task_of(yielded, coro)
                if task is None:
                    continue
                if task._state is not PENDING:
                    if not self._must_cancel:
                        # Why only then: the cancel it asked for wins at this
                        # yield; left unconsumed, a failure is still reported.
                        value, exc = task._outcome()
                    continue
                if self._must_cancel:
                    task.cancel()
                    continue
                self._waiting_on = task
                task._on_done(self._wakeup)
                return
        finally:
            self._stepping = False
            state.current = previous

    def _task_of(
        self, yielded: object, coro: AnyCoroutine[T]
    ) -> tuple[Task[Any] | None, BaseException | None]:
        """Return the task a yielded value stands for, or the error to throw in at that yield."""
        try:
            task = as_task(yielded)
            if task is None:
                return None, TypeError(_not_awaitable_message(yielded, coro))
        except Exception as error:  # noqa: BLE001 - thrown in at the yield, as any other mistake there
            # Why: a failure here (a value's __repr__ raising while the message
            # is made, a coroutine object started already) must not escape the
            # step into Qt.
            return None, error
        if task is self:
            msg = f"{self!r} awaits its own handle, which can never finish: await another task"
            return None, RuntimeError(msg)
        return task, None

    def _released(self) -> None:
        self._coro = None
        self._waiting_on = None

    def _describe(self) -> str:
        return f"{self._name}()"

    def _waiting_text(self) -> str:
        if self._waiting_on is not None:
            return f", waiting on {self._waiting_on!r}"
        return ""


_ASYNCIO_HINT: Final = (
    "asyncio code needs a running asyncio event loop, and a qtasks coroutine runs on the Qt "
    "event loop instead: use qtasks.sleep(seconds) for asyncio.sleep(seconds), and await other "
    "asyncio code through qtasks.run_async(main), which runs it on an asyncio loop of its own"
)


def _not_awaitable_message(value: object, coro: AnyCoroutine[Any]) -> str:
    """Say what the coroutine yielded and the likely fix. GUI thread, while `coro` is suspended."""
    verb = "await" if inspect.iscoroutine(coro) else "yield"
    hint = f"{verb} a qtasks task, such as qtasks.run(fn, ...) or qtasks.sleep(seconds)"
    call = _suspension_call(coro)
    from_asyncio = asyncio.isfuture(value)
    if verb == "await" and call is not None:
        # What an await passes up comes from inside an awaitable of another
        # library (asyncio.sleep(0) yields None), not from a call that ran here.
        from_asyncio = from_asyncio or call[0].startswith("asyncio.")
        call = None
    if isinstance(value, Future):
        hint = f"adopt it with qtasks.wrap(future) and {verb} that"
    elif from_asyncio:
        hint = _ASYNCIO_HINT
    elif isinstance(value, (list, tuple, set)) and any(
        isinstance(item, Task) or inspect.iscoroutine(item) for item in value
    ):
        hint = f"{verb} qtasks.gather(*tasks) to wait for several"
    elif inspect.isgenerator(value):
        hint = "use `yield from` to run a plain sub-generator"
    elif call is not None:
        function_call, run_call = call
        hint = (
            f"{function_call} already ran here, on the GUI thread, and returned this; "
            f"to run it on a worker thread, {verb} {run_call}"
        )
    elif value is None:
        hint = (
            f"to let the event loop run, {verb} qtasks.sleep(0) "
            "instead of a bare yield or asyncio.sleep(0)"
        )
    elif isinstance(value, (list, tuple, set)):
        hint = f"{verb} qtasks.gather(*tasks) to wait for several"
    elif callable(value):
        hint = f"{verb} qtasks.run(fn, ...) to run a function on a worker thread"
    return f"a qtasks coroutine yielded {safe_repr(value)}, which is not awaitable: {hint}"


def _suspension_call(coro: AnyCoroutine[Any]) -> tuple[str, str] | None:
    """Return ("load(path)", "qtasks.run(load, path)") if `coro` is suspended at `yield load(path)`.

    Read from the source line, so None whenever it is not that simple.
    """
    frame = getattr(coro, "gi_frame", None) or getattr(coro, "cr_frame", None)
    if frame is None:
        return None
    return _call_on_line(frame.f_code.co_filename, frame.f_lineno)


def _call_on_line(filename: str, lineno: int | None) -> tuple[str, str] | None:
    """Return the one `yield f(...)`/`await f(...)` call on a source line, and its qtasks.run form."""
    if lineno is None:
        return None
    line = linecache.getline(filename, lineno).strip()
    try:
        tree = ast.parse(line)
    except SyntaxError:
        return None
    calls = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, (ast.Yield, ast.Await)) and isinstance(node.value, ast.Call)
    ]
    if len(calls) != 1:
        return None
    [call] = calls
    run = ast.Call(
        func=ast.Attribute(value=ast.Name(id="qtasks"), attr="run"),
        args=[call.func, *call.args],
        keywords=call.keywords,
    )
    return ast.unparse(call), ast.unparse(run)


def _add_hint(error: BaseException) -> None:
    """Note the likely fix on an exception that escaped a coroutine, if it is a known trap."""
    if not isinstance(error, (RuntimeError, TypeError)):
        return
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises
        return
    if any(str(note).startswith("(qtasks: ") for note in getattr(error, "__notes__", ())):
        return  # noted by the coroutine it escaped first
    hint = None
    if isinstance(error, RuntimeError) and text == "no running event loop":
        hint = _ASYNCIO_HINT
    elif isinstance(error, TypeError) and (
        "can't be used in 'await' expression" in text or "can't be awaited" in text
    ):
        tb = error.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        call = None if tb is None else _call_on_line(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        if call is None:
            hint = (
                "await a qtasks task; if this value came from calling a plain function, that "
                "function already ran on the GUI thread: await qtasks.run(fn, ...) runs it on a worker thread"
            )
        else:
            function_call, run_call = call
            hint = (
                f"{function_call} already ran here, on the GUI thread; "
                f"to run it on a worker thread, await {run_call}"
            )
    if hint is not None:
        with contextlib.suppress(Exception):  # a note is a courtesy
            error.add_note(f"(qtasks: {hint})")


def as_task(value: object) -> Task[Any] | None:
    """Return the task for an awaitable: a Task, or a coroutine object started now.

    GUI thread. Returns None for anything else.
    """
    if isinstance(value, Task):
        return value
    if inspect.iscoroutine(value):
        name = getattr(value, "__qualname__", "coroutine")
        if inspect.getcoroutinestate(value) != inspect.CORO_CREATED:
            msg = (
                f"the coroutine object of {name}() was started already: await the handle its "
                f"first use returned, or call {name}() again for a new one"
            )
            raise RuntimeError(msg)
        return CoroutineTask(value, name)
    return None


def coroutine(fn: Callable[P, AnyCoroutine[T]]) -> Callable[P, CoroutineTask[T]]:
    """Make a generator function or `async def` start a qtasks coroutine when called.

    The call runs the body on the GUI thread up to its first suspension and
    returns its `CoroutineTask`; arguments the function does not accept fail
    that handle with TypeError, as an error in the body would. Raises
    TypeError at decoration time for anything else.
    """
    if not (inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn)):
        fix = "add a yield or make it async def"
        if inspect.isasyncgenfunction(fn):
            fix = "an async def that yields is an async generator: await tasks instead of yielding them"
        msg = f"qtasks.coroutine needs a generator function or an async def, got {fn!r}: {fix}"
        raise TypeError(msg)
    name = callable_name(fn)

    @functools.wraps(fn)
    def start(*args: P.args, **kwargs: P.kwargs) -> CoroutineTask[T]:
        try:
            coro = fn(*args, **kwargs)
        except TypeError as exc:
            # Calling a generator function or an async def only binds its
            # arguments. Why not raise: a signal connected to the function
            # calls it from Qt, where an exception aborts the program.
            with contextlib.suppress(Exception):  # a note is a courtesy
                exc.add_note(_BINDING_HINT)
            coro = _raising(exc)
        return CoroutineTask(coro, name)

    return start


_BINDING_HINT: Final = (
    "(qtasks: if a signal calls this coroutine, decorate it with @qtasks.slot, "
    "which drops the signal arguments the function does not take)"
)


def _raising(exc: BaseException) -> Generator[Any, Any, Any]:
    """A coroutine that fails with `exc` at its first step."""
    raise exc
    yield  # a generator, so that the step raises it
