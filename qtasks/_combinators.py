"""gather and wait: tasks that finish when their children do.

A gather waits on its children (`_awaits()`), so cancelling it cancels them;
how a child's failure is consumed or left to its handle is in ARCHITECTURE.md,
"Failure reporting".
"""

from __future__ import annotations

import inspect
from typing import Any, Final, Iterable

from ._coroutine import as_task
from ._errors import CancelledError
from ._task import CANCELLED, FAILED, FINISHED, PENDING, Task

__all__ = ["ALL_COMPLETED", "FIRST_COMPLETED", "FIRST_EXCEPTION", "gather", "wait"]

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
            elif inspect.isgenerator(awaitable):
                fix = (
                    "a plain generator is not a coroutine: decorate its function with "
                    "@qtasks.coroutine and pass the handle its call returns"
                )
            msg = f"{caller} argument {position} is {awaitable!r}, which is not awaitable: {fix}"
            raise TypeError(msg)
    tasks = [as_task(awaitable) for awaitable in given]
    return [task for task in tasks if task is not None]


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
