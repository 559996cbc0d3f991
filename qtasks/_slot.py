"""@slot: coroutines for Qt slots, bound to the lifetime of their QObject.

Three jobs on top of `coroutine`:

- Signal arguments. PyQt passes every argument a signal carries into a
  ``*args`` wrapper (``clicked(bool)`` into ``def on_click(self)``), so the
  wrapper trims them to what the function takes. How many is decided once, at
  decoration: the positional parameters without a default. Defaults are never
  filled by a stray signal argument; a ``*args`` function receives everything.
- Lifetime. A coroutine started on a method of a QObject belongs to that
  owner. A `_Lifetime` (one per owning QObject) sees the owner's DeferredDelete
  event, before `deleteLater` deletes it, and its `destroyed` signal, for every
  other way to go (parent deleted, `sip.delete`). Either way it cancels the
  owner's coroutines, and first the coroutines they await, at once, not on
  the next step: after `destroyed` the object is gone, and their `finally`
  blocks should run while it is still there where Qt allows it. An owner
  living on another thread is destroyed there: it is marked gone at once and
  its coroutines are cancelled on the GUI thread.
- Reentry. What a second call on the same owner does while one is running.

"Owner" here means the QObject only; `_Lifetime` is what watches it. See
ARCHITECTURE.md, "Cancellation", for the walk a deleted owner takes.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from typing import Any, Callable, Final, Generator, Generic, TypeVar, cast, overload

from . import _runtime
from ._binding import QEvent, QObject, Qt, is_deleted
from ._bridge import report
from ._coroutine import AnyCoroutine, CoroutineTask
from ._errors import CancelledError
from ._task import FAILED, FINISHED, PENDING, Task, callable_name, cancel_walk

__all__ = ["slot"]

T = TypeVar("T")
V = TypeVar("V")

REENTRY: Final = ("concurrent", "restart", "ignore", "queue")


class _ByIdentity(Generic[V]):
    """A value per live object, found by identity; the entry goes when the object is collected.

    Why not a WeakKeyDictionary: it keys by the object's own `__eq__` and
    `__hash__`, so two equal owners would share one state, and an owner
    defining `__eq__` alone (a dataclass) could not be a key at all.
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[int, tuple[weakref.ref[Any], V]] = {}

    def get(self, obj: object) -> V | None:
        item = self._items.get(id(obj))
        return item[1] if item is not None and item[0]() is obj else None

    def add(self, obj: object, value: V) -> V:
        """Store `value` for `obj`; raise TypeError if `obj` cannot be weakly referenced."""
        key = id(obj)
        items = self._items

        def drop(ref: weakref.ref[Any]) -> None:
            # Any thread (wherever the object was freed); its id is not reused before this runs.
            item = items.get(key)
            if item is not None and item[0] is ref:
                items.pop(key, None)

        items[key] = (weakref.ref(obj, drop), value)
        return value


# One _Lifetime per QObject that has started a slot coroutine; weak, so a
# forgotten widget is not kept alive by qtasks.
_LIFETIMES: _ByIdentity[_Lifetime] = _ByIdentity()


def _owner_gone_error(exc: BaseException | None) -> bool:
    """Tell whether `exc` only says that a wrapped C++ object was deleted.

    PyQt: "wrapped C/C++ object of type X has been deleted"; PySide6:
    "Internal C++ object (X) already deleted."
    """
    if not isinstance(exc, RuntimeError):
        return False
    text = str(exc)
    return "has been deleted" in text or "already deleted" in text


class _Lifetime(QObject):
    """The running slot coroutines of one QObject, and what ends them with it.

    GUI thread. Holds the owner only weakly (through the registry key); the
    coroutines hold it strongly through their `self` argument.
    """

    def __init__(self, owner: QObject) -> None:
        super().__init__()
        # True once the owner is being deleted: nothing resumes normally after.
        self.gone = False
        # Invariant: every pending slot coroutine of the owner is a key here
        # (finished ones leave through their watcher).
        self.tasks: dict[CoroutineTask[Any], None] = {}
        # Per slot function: its pending calls.
        self.queues: dict[object, _CallQueue] = {}
        self._owner = weakref.ref(owner)
        if is_deleted(owner):
            # A late signal into a slot of an object already gone: nothing may start.
            self.gone = True
        else:
            # Why direct: an owner living on another thread is destroyed
            # there, and a queued call would find the sender gone and be dropped.
            # Why not the bound method: this object may be collected before
            # the owner is destroyed, and PyQt would then call a dead receiver.
            on_destroyed = functools.partial(_destroyed, weakref.ref(self))
            owner.destroyed.connect(on_destroyed, Qt.ConnectionType.DirectConnection)  # type: ignore[call-arg]

    def track(self, task: CoroutineTask[Any]) -> None:
        if not self.tasks:
            self._filter(install=True)
        self.tasks[task] = None

        def forget(done: Task[Any]) -> None:
            self.tasks.pop(task, None)
            if not self.tasks:
                self._filter(install=False)

        task._on_done(forget)

    def _filter(self, *, install: bool) -> None:
        """Watch the owner's events only while it has coroutines: a filter costs every event."""
        owner = self._owner()
        if owner is None or self.gone or is_deleted(owner):
            return
        if install:
            # Event filters only work within one thread; `destroyed` is the fallback.
            if owner.thread() == self.thread():
                owner.installEventFilter(self)
        else:
            owner.removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Cancel the owner's coroutines just before `deleteLater` deletes it. GUI thread."""
        try:
            if event.type() == QEvent.Type.DeferredDelete:
                self._end()
        except BaseException as exc:  # noqa: BLE001 - nothing may escape into Qt
            report(exc)
        return False

    def _on_destroyed(self, *_args: object) -> None:
        """Cancel the owner's coroutines as it is destroyed. The owner's thread."""
        if not _runtime.on_gui_thread():
            # Nothing resumes normally from now on (see _run_owned); the
            # coroutines themselves are the GUI thread's to cancel.
            self.gone = True
            try:
                _runtime.call_soon(self._end)
            except BaseException as exc:  # noqa: BLE001 - nothing may escape into Qt
                report(exc)
            return
        destroying = _runtime.STATE.destroying
        owner = self._owner()
        key = None if owner is None else id(owner)
        try:
            if key is not None:
                destroying.add(key)
            self._end()
        except BaseException as exc:  # noqa: BLE001 - nothing may escape into Qt
            report(exc)
        finally:
            destroying.discard(key)

    def _end(self) -> None:
        """Cancel every coroutine of the owner now; their finally blocks run here."""
        self.gone = True
        # A finally block may start or wait for more; a few rounds settle it.
        for _ in range(8):
            tasks = [task for task in self.tasks if task._state is PENDING]
            if not tasks:
                break
            for task in tasks:
                for inner in cancel_walk(task, now=True):
                    if inner._state is FAILED and _owner_gone_error(inner._exc):
                        # Why: a coroutine the slot awaits touched the deleted
                        # owner in its clean-up; that is the deletion itself.
                        inner._consume()
                if task._state is PENDING:
                    task.cancel()
            self.tasks = {task: None for task in tasks if task._state is PENDING}


def _destroyed(ref: weakref.ref[_Lifetime], *_args: object) -> None:
    """Tell the _Lifetime, if it is still there, that its owner is being destroyed. The owner's thread."""
    state = ref()
    if state is not None:
        state._on_destroyed()


def _lifetime_of(owner: QObject) -> _Lifetime:
    existing = _LIFETIMES.get(owner)
    if existing is None:
        existing = _LIFETIMES.add(owner, _Lifetime(owner))
    return existing


class _CallQueue:
    """The calls of one slot function on one owner: those pending, and the end of the queue.

    For the reentry policies: "restart" and "ignore" look at the pending calls,
    "queue" makes each call wait for `last`.
    """

    __slots__ = ("calls", "last")

    def __init__(self) -> None:
        # Oldest first; a finished call leaves through its watcher.
        self.calls: dict[CoroutineTask[Any], None] = {}
        # reentry="queue": finishes when every call so far has ended.
        self.last: Task[None] | None = None

    def add(self, task: CoroutineTask[Any], *, queued: bool) -> None:
        self.calls[task] = None
        task._on_done(lambda done: self.calls.pop(task, None))
        if queued:
            # Why a chain, not a watch on every earlier call: each call then
            # costs O(1), and a call cancelled while it waits its turn still
            # holds back the ones after it until the calls before it end.
            earlier = self.last
            self.last = _AllDone([task] if earlier is None else [earlier, task])

    def running(self) -> list[CoroutineTask[Any]]:
        return [task for task in self.calls if task._state is PENDING]

    def wait_for_earlier(self) -> Task[None] | None:
        """What a queued call waits for: the end of the calls before it, if any still runs.

        Each call gets its own: cancelling a waiting call cancels what it
        waits on, and that must not end the queue for the calls after it.
        """
        last = self.last
        return _AllDone([last]) if last is not None and last._state is PENDING else None


class _AllDone(Task[None]):
    """Finishes when every one of the given tasks has ended, whatever their outcome."""

    __slots__ = ("_remaining",)

    def __init__(self, tasks: list[Task[Any]]) -> None:
        super().__init__()
        self._remaining = 0
        for task in tasks:
            if task._state is PENDING:
                self._remaining += 1
                task._on_done(self._one_done)
        if not self._remaining:
            self._finish(FINISHED)

    def _one_done(self, _task: Task[Any]) -> None:
        self._remaining -= 1
        if self._remaining == 0:
            self._finish(FINISHED)

    def _describe(self) -> str:
        return "for the earlier calls to end"


def _run_owned(
    start: Callable[[], AnyCoroutine[T]], lifetime: _Lifetime | None, earlier: Task[None] | None
) -> Generator[Any, Any, T]:
    """Wait for the `earlier` calls, then drive the body, refusing to resume it once the owner is gone."""
    if earlier is not None:
        yield earlier
    if lifetime is not None and lifetime.gone:
        msg = "the slot's owner was deleted before the call started"
        raise CancelledError(msg)
    body = start()
    value: Any = None
    exc: BaseException | None = None
    immediate = 0
    while True:
        try:
            yielded = body.send(value) if exc is None else body.throw(exc)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        except RuntimeError as error:
            if lifetime is not None and lifetime.gone and _owner_gone_error(error):
                if exc is not None and error.__context__ is exc and not isinstance(exc, CancelledError):
                    # Why: the finally block was unwinding from a failure of
                    # what the slot awaited; that failure is the user's own
                    # and must still be reported, not hidden by the deletion.
                    raise exc from None
                # Why: the finally block touched the deleted owner; that is
                # the deletion itself, not a bug to report.
                msg = "the slot's owner was deleted"
                raise CancelledError(msg) from error
            raise
        value = exc = None
        if lifetime is not None and lifetime.gone and immediate < 8:
            # The owner went while the body ran (it deleted itself, say):
            # cancel at this suspension instead of waiting. A body that keeps
            # catching it waits normally after a few rounds, rather than
            # spinning here, and is refused every normal resumption below.
            immediate += 1
            if isinstance(yielded, Task):
                yielded.cancel()
            elif inspect.iscoroutine(yielded):
                yielded.close()  # never started, so never awaited
            exc = CancelledError("the slot's owner was deleted")
            continue
        try:
            value = yield yielded
        except GeneratorExit:
            body.close()
            raise
        except BaseException as thrown:  # noqa: BLE001 - handed on to the body
            exc = thrown
        else:
            if lifetime is not None and lifetime.gone:
                exc = CancelledError("the slot's owner was deleted")
                value = None


def _trim_count(fn: Callable[..., Any]) -> int | None:
    """Return how many positional arguments `fn` takes from a signal, or None for all."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            return None
        positional = parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        if positional and parameter.default is parameter.empty:
            count += 1
    return count


def _defining_class(fn: Callable[..., Any]) -> tuple[str, str] | None:
    """Return the module and qualified name of the class whose body defines `fn`, or None."""
    head, _, _ = getattr(fn, "__qualname__", "").rpartition(".")
    if not head or head.endswith("<locals>"):
        return None
    return getattr(fn, "__module__", None) or "", head


def _is_owner(defining: tuple[str, str], first: object) -> bool:
    """Tell whether `first` is an instance (or, for a classmethod, a subclass) of the defining class.

    Why not trust the class body alone: a staticmethod is defined there too,
    and its first argument is a signal's argument, not its owner.
    """
    cls = first if isinstance(first, type) else type(first)
    module, name = defining
    return any(klass.__qualname__ == name and klass.__module__ == module for klass in cls.__mro__)


def _instance_queue(queues: _ByIdentity[_CallQueue], instance: object, shared: _CallQueue) -> _CallQueue:
    """The call queue of `instance`; `shared` for an object that cannot be weakly referenced."""
    queue = queues.get(instance)
    if queue is None:
        try:
            queue = queues.add(instance, _CallQueue())
        except TypeError:
            return shared
    return queue


def _refused(exc: BaseException) -> CoroutineTask[Any]:
    """Report `exc` now and return a handle failed with it. Any thread: no coroutine starts."""
    task: Task[Any] = Task()
    task._consume()  # reported here, once
    task._finish(FAILED, exc=exc)
    # On the GUI thread, where a report belongs (a hook may show a dialog).
    _runtime.call_soon(functools.partial(report, exc))
    # Not a CoroutineTask, which only the GUI thread may make; it has no more public API.
    return cast("CoroutineTask[Any]", task)


def _make_slot(fn: Callable[..., AnyCoroutine[T]], reentry: str) -> Callable[..., CoroutineTask[T]]:
    if not (inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn)):
        msg = (
            f"qtasks.slot needs a generator function or an async def, got {fn!r}: "
            "add a yield or make it async def"
        )
        raise TypeError(msg)
    name = callable_name(fn)
    keep = _trim_count(fn)
    defining = _defining_class(fn)
    # The calls of a plain function, and of methods of objects that cannot be weakly keyed.
    unowned = _CallQueue()
    # The calls of a method of an object that is not a QObject, per object.
    by_instance: _ByIdentity[_CallQueue] = _ByIdentity()
    key = object()

    @functools.wraps(fn)
    def start(*args: Any, **kwargs: Any) -> CoroutineTask[T]:
        if not _runtime.on_gui_thread():
            msg = (
                f"qtasks slot {name} was called off the GUI thread; slots run on the GUI "
                "thread: connect the signal with a queued connection, to an object that lives "
                "on the GUI thread, or use qtasks.run() for work on a worker thread"
            )
            try:
                raise RuntimeError(msg)
            except RuntimeError as exc:
                # Why not raise: a signal of another thread calls the slot
                # there, and an exception escaping into Qt aborts the program.
                return _refused(exc)
        if keep is not None and len(args) > keep:
            args = args[:keep]
        method = defining is not None and bool(args) and _is_owner(defining, args[0])
        lifetime = _lifetime_of(args[0]) if method and isinstance(args[0], QObject) else None
        if lifetime is not None:
            queue = lifetime.queues.setdefault(key, _CallQueue())
        elif method:
            queue = _instance_queue(by_instance, args[0], unowned)
        else:
            queue = unowned
        turn: Task[None] | None = None
        if reentry == "queue":
            turn = queue.wait_for_earlier()
        elif reentry != "concurrent":
            running = queue.running()
            if reentry == "ignore":
                # Why not a call with a cancel on its way: its cancel() said
                # True, and handing it back would drop the new call for nothing.
                live = [task for task in running if not task._cancelling()]
                if live:
                    return live[-1]
            else:
                for task in running:  # reentry == "restart"
                    cancel_walk(task, now=True)
        body = _run_owned(functools.partial(fn, *args, **kwargs), lifetime, turn)
        task = CoroutineTask(body, name, start=False)
        # Why before the first step: the body may re-enter this slot (a signal
        # it emits) or delete the owner before it first suspends, and the
        # reentry policy and the owner must see this call as running.
        queue.add(task, queued=reentry == "queue")
        if lifetime is not None:
            lifetime.track(task)
        task._start()
        return task

    return start


@overload
def slot(fn: Callable[..., AnyCoroutine[T]], /) -> Callable[..., CoroutineTask[T]]: ...


@overload
def slot(
    *, reentry: str = "concurrent"
) -> Callable[[Callable[..., AnyCoroutine[T]]], Callable[..., CoroutineTask[T]]]: ...


def slot(fn: Callable[..., AnyCoroutine[T]] | None = None, /, *, reentry: str = "concurrent") -> Any:
    """Make a generator function or `async def` a Qt slot that starts a qtasks coroutine.

    Use as `@qtasks.slot` or `@qtasks.slot(reentry=...)`, on methods of
    QObjects or on plain functions, above or below `@pyqtSlot(...)`. Calling
    it drops the positional arguments beyond the function's parameters without
    a default (a signal's extras; pass defaulted parameters by keyword), runs
    the body on the GUI thread up to its first suspension and returns its
    `CoroutineTask`.
    The coroutine is cancelled when its owner (`self`, a QObject) is deleted.
    `reentry` says what a call does while an earlier call on the same owner
    (on the same object for methods of other classes, on the same function
    for plain functions) is running: "concurrent"
    (both run), "restart" (cancel the running one, start the new one),
    "ignore" (return the running call's handle) or "queue" (start after the
    earlier calls end, in call order). Raises ValueError for another reentry
    and TypeError, at decoration, for a function that is not a coroutine.
    Called off the GUI thread, it starts nothing: it reports the error to
    `sys.excepthook` and returns a handle failed with it (a signal may be
    what called it, and an exception must not escape into Qt).
    """
    if reentry not in REENTRY:
        allowed = ", ".join(repr(value) for value in REENTRY)
        msg = f"qtasks.slot(reentry={reentry!r}): reentry must be one of {allowed}"
        raise ValueError(msg)
    if fn is None:
        return functools.partial(_make_slot, reentry=reentry)
    return _make_slot(fn, reentry)
