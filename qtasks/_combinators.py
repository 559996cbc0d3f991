"""gather, wait, as_completed and shield: tasks that finish when their children do.

A gather waits on its children (`_awaits()`), so cancelling it cancels them;
as_completed's awaitables and a shield wait on nothing, so cancelling them
(or their awaiter) leaves the children running;
how a child's failure is consumed or left to its handle is in ARCHITECTURE.md,
"Failure reporting".
"""

from __future__ import annotations

import collections
import inspect
from typing import Any, Final, Iterable, Iterator

from ._coroutine import as_task
from ._errors import CancelledError
from ._task import CANCELLED, FAILED, FINISHED, PENDING, Task

__all__ = ["ALL_COMPLETED", "FIRST_COMPLETED", "FIRST_EXCEPTION", "as_completed", "gather", "shield", "wait"]

FIRST_COMPLETED: Final = "FIRST_COMPLETED"
FIRST_EXCEPTION: Final = "FIRST_EXCEPTION"
ALL_COMPLETED: Final = "ALL_COMPLETED"


def _tasks_of(awaitables: Iterable[object], caller: str) -> list[Task[Any]]:
    """Return a task per awaitable, starting coroutine objects only once all are valid."""
    given = list(awaitables)
    for position, awaitable in enumerate(given):
        if not isinstance(awaitable, Task) and not inspect.iscoroutine(awaitable):
            fix = "pass qtasks tasks, such as qtasks.run(fn, ...), or coroutine handles"
            if caller == "qtasks.gather()" and isinstance(awaitable, (list, tuple, set)):
                fix = "unpack the collection: qtasks.gather(*tasks)"
            elif caller == "qtasks.as_completed()" and isinstance(awaitable, (list, tuple, set)):
                fix = "pass one flat iterable of tasks: qtasks.as_completed(tasks)"
            elif inspect.isgenerator(awaitable):
                fix = (
                    "a plain generator is not a coroutine: decorate its function with "
                    "@qtasks.coroutine and pass the handle its call returns"
                )
            msg = f"{caller} argument {position} is {awaitable!r}, which is not awaitable: {fix}"
            raise TypeError(msg)
    # Why by identity: a coroutine object given twice is started once and
    # fills both places, as in asyncio; a second task would resume it at the
    # first one's await.
    started: dict[int, Task[Any]] = {}
    tasks: list[Task[Any]] = []
    for awaitable in given:
        if isinstance(awaitable, Task):
            tasks.append(awaitable)
            continue
        if id(awaitable) not in started:
            task = as_task(awaitable)  # a coroutine object: checked above
            assert task is not None
            started[id(awaitable)] = task
        tasks.append(started[id(awaitable)])
    return tasks


class GatherTask(Task[list[Any]]):
    """Results of several tasks, in argument order."""

    __slots__ = ("_children", "_remaining", "_results", "_return_exceptions", "_total")

    def __init__(self, children: list[Task[Any]], return_exceptions: bool) -> None:
        super().__init__()
        self._children: list[Task[Any]] | None = children
        self._return_exceptions = return_exceptions
        self._results: list[Any] = [None] * len(children)
        self._remaining = self._total = len(children)
        if not children:
            self._finish(FINISHED, [])
            return
        # One callback per position (a task given twice fills both places).
        for index, child in enumerate(children):
            if child._state is not PENDING:
                # Not reported by a step queued before our slot runs. Why not
                # consumed now: if the gather ends first, the slot leaves the
                # failure to its handle, which reports it if nobody reads it.
                child._leave_to_handle()
            child._on_done(_GatherPosition(self, index))

    def _child_done(self, index: int, child: Task[Any]) -> None:
        if self._state is not PENDING:
            # Why: a child that fails after the gather ended (a coroutine
            # raising from its clean-up when cancelled) has nobody to take
            # its outcome; left unconsumed, it is reported like any other.
            return
        state = child._state
        if state is FINISHED:
            self._results[index] = child._value
        elif self._return_exceptions:
            # Taken when the gather finishes. Why not now: if the gather is
            # cancelled first, nobody sees the list, and a failure nobody
            # reads is reported through its own handle.
            child._leave_to_handle()
            self._results[index] = child._exc if state is FAILED else CancelledError()
        else:
            # The first failure ends the gather and cancels the others.
            child._consume()
            children = self._children
            if state is FAILED:
                self._finish(FAILED, exc=child._exc)
            else:
                self._finish(CANCELLED)
            _cancel_all(children)
            return
        self._remaining -= 1
        if self._progress_listeners:
            self._set_progress((self._total - self._remaining, self._total))
        if self._remaining == 0:
            for each in self._children or ():
                each._consume()  # the list holds the failures now: the caller's
            self._finish(FINISHED, self._results)

    def _awaits(self) -> tuple[Task[Any], ...]:
        # Cancelling the gather cancels every child still running.
        return tuple(self._children or ())

    def _released(self) -> None:
        self._children = None
        if self._state is not FINISHED:
            self._results = []

    def _describe(self) -> str:
        return f"of {self._total}"

    def _waiting_text(self) -> str:
        return f", {self._total - self._remaining} done"


def _cancel_all(children: list[Task[Any]] | None) -> None:
    if children:
        for child in children:
            child.cancel()


class _GatherPosition:
    """The done callback of one child: it hands the child's outcome to its place in the gather."""

    __slots__ = ("_gather", "_index")

    def __init__(self, gather: GatherTask, index: int) -> None:
        self._gather = gather
        self._index = index

    def __call__(self, child: Task[Any]) -> None:
        self._gather._child_done(self._index, child)


def gather(*awaitables: object, return_exceptions: bool = False) -> GatherTask:
    """Return a task whose result is the list of the awaitables' results, in order.

    GUI thread. On the first failure the gather raises that exception and
    cancels the rest, unless `return_exceptions` puts exceptions in the list.
    Cancelling the gather cancels every child. `gather()` gives `[]`.
    """
    return GatherTask(_tasks_of(awaitables, "qtasks.gather()"), return_exceptions)


class WaitTask(Task[tuple[set[Task[Any]], set[Task[Any]]]]):
    """(done, pending) sets once the wait condition holds."""

    __slots__ = ("_children", "_done", "_failed", "_return_when", "_total")

    def __init__(self, children: list[Task[Any]], return_when: str) -> None:
        super().__init__()
        # Why: the condition counts distinct done tasks against the children,
        # so a task given twice must count once (asyncio.wait takes a set too).
        self._children = list(dict.fromkeys(children))
        self._total = len(self._children)
        self._return_when = return_when
        # Invariant: _done holds the children seen done, each counted once,
        # so every completion costs O(1) however many children there are.
        self._done: set[Task[Any]] = set()
        self._failed = False
        for child in self._children:
            if child._state is not PENDING:
                # In the done set it returns: its failure is the caller's to
                # read, so not reported by a queued step; if nobody reads it,
                # it is reported when the handle is collected or at shutdown().
                child._leave_to_handle()
                self._count(child)
            child._on_done(self._child_done)
        self._check()

    def _count(self, child: Task[Any]) -> None:
        self._done.add(child)
        if child._state is FAILED:
            self._failed = True

    def _child_done(self, child: Task[Any]) -> None:
        if self._state is not PENDING:
            # Why: the child was still pending when the wait returned; its
            # outcome is its own handle's, reported if nobody consumes it.
            return
        child._leave_to_handle()
        self._count(child)
        self._check()

    def _check(self) -> None:
        if self._state is not PENDING:
            return
        done = self._done
        when = self._return_when
        if (
            len(done) == self._total
            or (when is FIRST_COMPLETED and done)
            or (when is FIRST_EXCEPTION and self._failed)
        ):
            # The sets say what is done now, including children whose
            # watchers have not run yet (as asyncio.wait does).
            finished = {child for child in self._children if child._state is not PENDING}
            pending = {child for child in self._children if child._state is PENDING}
            for child in finished:
                child._leave_to_handle()  # in the done set it returns: the caller's to read
            self._finish(FINISHED, (finished, pending))

    def _released(self) -> None:
        # Why: `while pending: wait(pending, FIRST_COMPLETED)` would leave one
        # listener per round on every task still running.
        for child in self._children:
            if child._state is PENDING:
                child._remove_on_done(self._child_done)
        self._children = []
        self._done = set()

    def _describe(self) -> str:
        return f"{self._return_when} of {self._total}"


def wait(awaitables: Iterable[object], *, return_when: str = ALL_COMPLETED) -> WaitTask:
    """Return a task whose result is `(done, pending)` once `return_when` holds.

    GUI thread. Like `asyncio.wait`: nothing is cancelled, and the results
    stay in the tasks; a failure nobody reads from its task is reported when
    the task is garbage collected or at shutdown().
    """
    if isinstance(awaitables, (Task, str, bytes)) or not hasattr(awaitables, "__iter__"):
        msg = f"qtasks.wait() needs an iterable of tasks, got {awaitables!r}: wrap one task in a list"
        raise TypeError(msg)
    constants = {name: name for name in (ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION)}
    if not isinstance(return_when, str) or return_when not in constants:
        msg = (
            f"qtasks.wait(return_when={return_when!r}): use qtasks.ALL_COMPLETED, "
            "qtasks.FIRST_COMPLETED or qtasks.FIRST_EXCEPTION"
        )
        raise ValueError(msg)
    # Why: like asyncio.wait, the awaitables form a set; a task given twice
    # would otherwise count twice against the number done and never finish.
    children = list(dict.fromkeys(_tasks_of(awaitables, "qtasks.wait()")))
    return WaitTask(children, constants[return_when])


def _require_iterable(awaitables: object, call: str) -> None:
    """Raise TypeError naming the fix unless `awaitables` is a collection of awaitables."""
    if isinstance(awaitables, (Task, str, bytes)) or inspect.iscoroutine(awaitables) or not hasattr(
        awaitables, "__iter__"
    ):
        msg = f"{call} needs an iterable of tasks, got {awaitables!r}: wrap one task in a list"
        raise TypeError(msg)


class NextDone(Task[Any]):
    """One awaitable of as_completed: the outcome of the next input to finish."""

    __slots__ = ("_total",)

    def __init__(self, total: int) -> None:
        super().__init__()
        self._total = total

    def _describe(self) -> str:
        return f"next of {self._total}"


class AsCompleted(Iterator[Task[Any]]):
    """The iterator `as_completed()` returns: one awaitable per input, in finishing order.

    GUI thread. Each awaitable it gives takes the outcome of the next input to
    finish, so a failure is consumed only when it is handed to one; an input
    nothing is handed for keeps its failure, reported by its own handle.
    Cancelling an awaitable it gave (or the coroutine awaiting it) cancels no
    input: that input's outcome goes to the next awaitable instead.
    """

    __slots__ = ("_done", "_given", "_total", "_waiters")

    def __init__(self, children: list[Task[Any]]) -> None:
        self._total = len(children)
        self._given = 0
        # Invariant: inputs that finished and were not handed out yet, in
        # finishing order; and awaitables given out still waiting for one.
        self._done: collections.deque[Task[Any]] = collections.deque()
        self._waiters: collections.deque[NextDone] = collections.deque()
        for child in children:
            if child._state is not PENDING:
                child._leave_to_handle()  # not reported by a queued step: handed out below
            child._on_done(self._child_done)

    def __iter__(self) -> AsCompleted:
        return self

    def __next__(self) -> Task[Any]:
        if self._given == self._total:
            raise StopIteration
        self._given += 1
        waiter = NextDone(self._total)
        self._waiters.append(waiter)
        self._hand_out()
        return waiter

    def _child_done(self, child: Task[Any]) -> None:
        # Why: a coroutine's failure waits here for the consumer's next
        # awaitable; reported by its handle if it never gets one.
        child._leave_to_handle()
        self._done.append(child)
        self._hand_out()

    def _hand_out(self) -> None:
        waiters, done = self._waiters, self._done
        while waiters and done:
            waiter = waiters.popleft()
            if waiter._state is not PENDING:
                continue  # cancelled: the input goes to the next awaitable
            value, exc = done.popleft()._outcome()
            waiter._finish_with(value, exc)

    def __repr__(self) -> str:
        return f"<qtasks.as_completed of {self._total}, {self._given} given>"


def as_completed(awaitables: Iterable[object], /, *more: object) -> AsCompleted:
    """Return an iterator of one awaitable per input, giving their outcomes in finishing order.

    GUI thread. As `asyncio.as_completed`: each awaitable gives the result
    (or raises the exception) of the next input to finish. Inputs are never
    cancelled by it: cancelling an awaitable it gave, or its awaiter, leaves
    every input running. A failure handed to an awaitable is that awaitable's;
    one never handed out is reported by its input's handle if nobody reads it.
    """
    if more:
        msg = (
            f"qtasks.as_completed() takes one iterable of tasks, got {1 + len(more)} arguments: "
            "pass them in a list, qtasks.as_completed([a, b])"
        )
        raise TypeError(msg)
    _require_iterable(awaitables, "qtasks.as_completed()")
    children = list(dict.fromkeys(_tasks_of(awaitables, "qtasks.as_completed()")))
    return AsCompleted(children)


class ShieldTask(Task[Any]):
    """The outcome of an inner task, which cancelling this handle does not cancel."""

    __slots__ = ("_inner",)

    def __init__(self, inner: Task[Any]) -> None:
        super().__init__()
        self._inner: Task[Any] | None = inner
        if inner._state is not PENDING:
            inner._leave_to_handle()  # taken by the shield's callback, not reported by a queued step
        inner._on_done(self._inner_done)

    def _inner_done(self, inner: Task[Any]) -> None:
        if self._state is not PENDING:
            # Why: the shield was cancelled; a failure nobody takes stays
            # the inner task's, reported by its handle (once).
            return
        value, exc = inner._outcome()
        self._finish_with(value, exc)

    def _released(self) -> None:
        inner = self._inner
        if inner is not None and inner._state is PENDING:
            inner._remove_on_done(self._inner_done)  # cancelled: it no longer listens
        self._inner = None

    def _waiting_text(self) -> str:
        return "" if self._inner is None else f", shielding {self._inner!r}"


def shield(awaitable: object) -> ShieldTask:
    """Return a task with the awaitable's outcome, whose cancellation does not cancel the awaitable.

    GUI thread. As `asyncio.shield`: cancelling the returned handle, or the
    coroutine awaiting it, ends the handle cancelled and leaves the awaitable
    running. If the awaitable then fails, its failure is reported unless its
    own handle is read.
    """
    [inner] = _tasks_of([awaitable], "qtasks.shield()")
    return ShieldTask(inner)
