"""A stateful test of the real scheduler, driven against a model, on a ManualPool and on a real Pool.

The model replays what the scheduler promises: a task ends once; a done
callback is queued when its task ends and runs in FIFO order; a gather slot
sees its child's outcome in that order, and the first failure cancels the other
children in argument order; a cancelled coroutine cancels what it waits on,
then takes its CancelledError on a later step (and may catch it to clean up,
or to await once more, in an `except` clause or a `finally` block). A slot
coroutine takes it at once instead, when its owner is deleted (by
`sip.delete`, `deleteLater` or deleting its parent), or when a call with
reentry "restart" replaces it; reentry "ignore" hands back the running call.
A wait() finishes when its condition holds over the children whose ends it
has seen (through their callbacks, in FIFO order), returns the sets of those
done and pending at that moment, and cancels nothing. A timeout that does not
expire passes its child's outcome on; a sleep that does not end and a
wait_signal are leaves the machine cancels or (for the signal) emits. A map
(on the real pool only: on a ManualPool its items are tasks of their own)
ends when the machine lets its items finish, or fails with its first item's
error.

Some handles are observed (a done callback, and the invariants read their
outcome); the others are not, and nothing consumes their failures unless a
coroutine or combinator takes them. The model predicts every report to
`sys.excepthook`: a failed coroutine that nothing consumed by the next step is
reported then; every other failure nobody consumed is reported at shutdown.
Callbacks, progress listeners and coroutine bodies record the thread they run
on, which must be the GUI thread.

Timers that fire are left to test_qt.py: their timing belongs to the wall
clock, which a shrinking search cannot replay. Reentry "queue" is left to
test_slot.py: its turn passes through helper tasks whose steps the model
would have to copy from the implementation.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections import Counter, deque
from typing import Any, Callable

import attrs
import strategies
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from qt import QCoreApplication, QEvent, QObject, Signal, sip

import qtasks
from qtasks import _pool, _runtime
from qtasks.testing import ManualPool

PENDING, FINISHED, FAILED, CANCELLED = "pending", "finished", "failed", "cancelled"
COROUTINE_KINDS = ("waiter", "cleaner", "failer", "twice", "finally")
POLICIES = ("concurrent", "restart", "ignore")

EXAMPLES = int(os.environ.get("QTASKS_STATEFUL_EXAMPLES", "200"))
GUI_THREAD = threading.main_thread().ident
# Long enough never to fire while the machine runs.
NEVER_S = 3600


@attrs.define(eq=False)
class Node:
    """The model of one handle."""

    kind: str
    real: qtasks.Task[Any]
    number: int
    observed: bool
    state: str = PENDING
    value: Any = None
    exc: BaseException | None = None
    # Whatever waits on this node, in the order it started waiting: (node, position).
    dependents: list[tuple[Node, int]] = attrs.Factory(list)
    children: list[Node] = attrs.Factory(list)
    return_exceptions: bool = False
    results: list[Any] = attrs.Factory(list)
    remaining: int = 0
    ran_expected: int = 0
    # Coroutines: which body (COROUTINE_KINDS), how far it got, what it waits on now.
    body: str = ""
    stage: int = 0
    tag: tuple[Any, ...] = ()
    waiting_on: Node | None = None
    # Coroutines only: cancel() was called; the CancelledError is on its way.
    cancelling: bool = False
    # wait() only: ALL_COMPLETED, FIRST_COMPLETED or FIRST_EXCEPTION; the children seen
    # ending are kept in `results`.
    return_when: str = ""
    # Slot coroutines only: their owner and reentry policy.
    owner: OwnerModel | None = None
    policy: str = ""
    # Failures: whether something took the outcome, or a combinator left it to the handle.
    consumed: bool = False
    left: bool = False


@attrs.define(eq=False)
class OwnerModel:
    """A QObject whose slots the machine calls, and the parent it may have."""

    real: Owner
    parent: QObject | None
    calls: list[Node] = attrs.Factory(list)
    gone: bool = False
    # Deleted at once (not by deleteLater): its C++ object is gone while its coroutines clean up,
    # so a cleaner that touches it ends cancelled instead (that error is not reported).
    gone_before_cleanup: bool = False


def comparable(value: Any) -> Any:
    """Replace CancelledErrors by the class, other exceptions by their repr and handles by their ids."""
    if isinstance(value, qtasks.CancelledError):
        return qtasks.CancelledError
    if isinstance(value, BaseException):
        return repr(value)
    if isinstance(value, set):
        return {id(task) if isinstance(task, qtasks.Task) else task for task in value}
    if isinstance(value, (list, tuple)):
        return type(value)(comparable(v) for v in value)
    return value


# The threads that done callbacks, progress listeners and coroutine bodies ran on.
THREADS: set[int | None] = set()


def on_thread() -> None:
    THREADS.add(threading.get_ident())


async def waiter_body(first: qtasks.Task[Any], number: int, owner: QObject | None = None) -> Any:
    on_thread()
    try:
        value = await first
    except Exception as exc:  # noqa: BLE001 - the outcome the model predicts
        on_thread()
        return ("err", exc)
    on_thread()
    return ("ok", value)


async def cleaner_body(first: qtasks.Task[Any], number: int, owner: QObject | None = None) -> Any:
    on_thread()
    try:
        value = await first
    except qtasks.CancelledError:
        on_thread()
        if owner is not None:
            # The owner is still there while its coroutines clean up: this raises RuntimeError if not.
            owner.objectName()
        return ("cleaned", None)
    except Exception as exc:  # noqa: BLE001 - the outcome the model predicts
        return ("err", exc)
    return ("ok", value)


async def failer_body(first: qtasks.Task[Any], number: int, owner: QObject | None = None) -> Any:
    on_thread()
    with contextlib.suppress(Exception):  # it fails with its own error either way
        await first
    on_thread()
    raise LookupError(number)


def twice_body(first: qtasks.Task[Any], second: qtasks.Task[Any], number: int) -> Any:
    """Await `first`, then `second` in every case: after a result, and again in each `except` clause."""
    on_thread()
    try:
        value = yield first
    except qtasks.CancelledError:
        on_thread()
        return ("cancelled-then", (yield second))
    except Exception as exc:  # noqa: BLE001 - the outcome the model predicts
        on_thread()
        return ("err-then", exc, (yield second))
    on_thread()
    return ("ok-then", value, (yield second))


def finally_body(first: qtasks.Task[Any], second: qtasks.Task[Any], number: int) -> Any:
    """Await `first`, then `second` in a `finally` block, whatever `first` gave."""
    on_thread()
    try:
        value = yield first
    finally:
        on_thread()
        yield second
    return ("ok", value)


@qtasks.coroutine
def start_coroutine(body: str, first: qtasks.Task[Any], second: qtasks.Task[Any], number: int) -> Any:
    if body == "twice":
        return (yield from twice_body(first, second, number))
    if body == "finally":
        return (yield from finally_body(first, second, number))
    return (yield from BODIES[body](first, number).__await__())


BODIES: dict[str, Callable[..., Any]] = {
    "waiter": waiter_body,
    "cleaner": cleaner_body,
    "failer": failer_body,
}


class Owner(QObject):
    """A QObject with one slot per reentry policy, each running the body it is given."""

    @qtasks.slot
    async def concurrent(self, body: str, first: qtasks.Task[Any], number: int) -> Any:
        return await BODIES[body](first, number, self)

    @qtasks.slot(reentry="restart")
    async def restart(self, body: str, first: qtasks.Task[Any], number: int) -> Any:
        return await BODIES[body](first, number, self)

    @qtasks.slot(reentry="ignore")
    async def ignore(self, body: str, first: qtasks.Task[Any], number: int) -> Any:
        return await BODIES[body](first, number, self)


class Emitter(QObject):
    fired = Signal(int)


class SchedulerMachine(RuleBasedStateMachine):
    """Submit, complete, fail and cancel tasks, coroutines, slots and combinators; compare with the model."""

    real_pool = False

    def __init__(self) -> None:
        super().__init__()
        self.previous_hook = sys.excepthook
        self.reports: list[BaseException] = []
        sys.excepthook = lambda _type, exc, _tb: self.reports.append(exc)
        self.expected_reports: list[BaseException] = []
        self.manual = ManualPool()
        self.previous = _pool.set_default_pool(self.manual)
        self.pool: qtasks.Pool | None = qtasks.Pool(max_threads=40) if self.real_pool else None
        self.gates: dict[int, threading.Event] = {}
        self.outcomes: dict[int, tuple[str, Any]] = {}
        self.returned: dict[int, threading.Event] = {}
        self.nodes: list[Node] = []
        self.owners: list[OwnerModel] = []
        self.emitter = Emitter()
        self.ran: Counter[int] = Counter()
        self.callbacks: Counter[int] = Counter()
        # Progress deliveries and done callbacks, in the order they ran.
        self.events: list[tuple[str, int]] = []
        # What the scheduler will do next, in its FIFO order: (waiter, position, finished child),
        # (coroutine, 0, None) for a cancelled coroutine's step, or (node, -1, None) for a report.
        self.queue: deque[tuple[Node, int, Node | None]] = deque()
        THREADS.clear()

    # -- the model ------------------------------------------------------------

    def add(self, kind: str, real: qtasks.Task[Any], observed: bool) -> Node:
        node = Node(kind, real, len(self.nodes), observed)
        self.nodes.append(node)
        if observed:
            node.consumed = True

            def count(_task: object, number: int = node.number) -> None:
                on_thread()
                self.callbacks[number] += 1
                self.events.append(("done", number))

            real.add_done_callback(count)
        return node

    def settle(self, node: Node, state: str, value: Any = None, exc: BaseException | None = None) -> None:
        node.state, node.value, node.exc = state, value, exc
        node.waiting_on = None
        for dependent, position in node.dependents:
            self.queue.append((dependent, position, node))
        if state == FAILED and node.kind == "coroutine" and not node.consumed:
            self.queue.append((node, -1, None))

    def take(self, child: Node) -> tuple[str, Any]:
        """What a waiter gets from a finished child; a failure is consumed."""
        if child.state == FINISHED:
            return ("ok", child.value)
        if child.state == FAILED:
            child.consumed = True
            return ("err", child.exc)
        return ("cancel", None)

    def await_(self, node: Node, child: Node) -> None:
        """The coroutine `node` awaits `child`: it resumes at once if the child is done (a trampoline)."""
        if child.state == PENDING:
            node.waiting_on = child
            child.dependents.append((node, 0))
        else:
            self.resume(node, self.take(child))

    def resume(self, node: Node, outcome: tuple[str, Any]) -> None:
        """Run the coroutine's body from its suspension with `outcome`, to its next suspension or its end."""
        how, value = outcome
        node.cancelling = False
        if node.body == "finally" and node.stage == 0:
            node.stage = 1
            node.tag = outcome
            self.await_(node, node.children[1])
            return
        if node.body == "finally":
            first_how, first_value = node.tag
            if how == "ok" and first_how == "ok":
                self.settle(node, FINISHED, ("ok", first_value))
            elif how == "err":
                self.settle(node, FAILED, exc=value)
            elif how == "ok" and first_how == "err":
                self.settle(node, FAILED, exc=first_value)
            else:
                self.settle(node, CANCELLED)
            return
        if node.body == "twice" and node.stage == 0:
            node.stage = 1
            tags = {"ok": ("ok-then", value), "err": ("err-then", value), "cancel": ("cancelled-then",)}
            node.tag = tags[how]
            self.await_(node, node.children[1])
        elif node.body == "twice":
            if how == "ok":
                self.settle(node, FINISHED, (*node.tag, value))
            elif how == "err":
                self.settle(node, FAILED, exc=value)
            else:
                self.settle(node, CANCELLED)
        elif how == "cancel":
            if node.body == "cleaner" and not (node.owner is not None and node.owner.gone_before_cleanup):
                self.settle(node, FINISHED, ("cleaned", None))
            else:
                self.settle(node, CANCELLED)
        elif node.body == "failer":
            self.settle(node, FAILED, exc=LookupError(node.number))
        else:
            self.settle(node, FINISHED, (how, value))

    def cancel(self, node: Node) -> bool:
        if node.state != PENDING:
            return False
        if node.kind == "coroutine":
            if not node.cancelling:
                node.cancelling = True
                child = node.waiting_on
                node.waiting_on = None
                if child is not None:
                    child.dependents = [(d, p) for d, p in child.dependents if d is not node]
                    self.cancel(child)
                self.queue.append((node, 0, None))
        else:
            self.settle(node, CANCELLED)
            if node.kind in ("gather", "timeout"):
                for child in node.children:
                    self.cancel(child)
        return True

    def cancel_now(self, node: Node) -> None:
        """Cancel a slot coroutine and what it waits on, innermost first, as deleting its owner does."""
        found: list[Node] = []
        todo = [node]
        while todo:
            current = todo.pop()
            if current.state != PENDING or current in found:
                continue
            found.append(current)
            if current.kind == "coroutine":
                todo.extend([] if current.waiting_on is None else [current.waiting_on])
            elif current.kind in ("gather", "timeout"):
                todo.extend(current.children)
        for inner in reversed(found):
            if inner.kind != "coroutine":
                self.cancel(inner)
            elif inner.state == PENDING:
                child = inner.waiting_on
                inner.waiting_on = None
                if child is not None:
                    child.dependents = [(d, p) for d, p in child.dependents if d is not inner]
                    self.cancel(child)
                self.resume(inner, ("cancel", None))

    def check_wait(self, node: Node) -> None:
        """Finish a wait() whose condition holds over the children it has seen end (by their callbacks).

        The sets it returns say what is done at that moment.
        """
        seen = node.results
        when = node.return_when
        if (
            len(seen) == len(node.children)
            or (when == qtasks.FIRST_COMPLETED and seen)
            or (when == qtasks.FIRST_EXCEPTION and any(child.state == FAILED for child in seen))
        ):
            done = [child for child in node.children if child.state != PENDING]
            for child in done:
                child.left = True
            pending = [child for child in node.children if child.state == PENDING]
            self.settle(node, FINISHED, ({id(c.real) for c in done}, {id(c.real) for c in pending}))

    def watch(self, dependent: Node, position: int, child: Node) -> None:
        """A combinator watches `child`: its slot runs on a later step, whether the child is done or not."""
        if child.state == PENDING:
            child.dependents.append((dependent, position))
        else:
            self.queue.append((dependent, position, child))

    def propagate(self) -> None:
        while self.queue:
            dependent, position, child = self.queue.popleft()
            if position == -1:
                # A failed coroutine's report step.
                if not dependent.consumed and not dependent.left:
                    dependent.consumed = True
                    assert dependent.exc is not None
                    self.expected_reports.append(dependent.exc)
                continue
            if dependent.state != PENDING:
                continue
            if dependent.kind == "coroutine":
                if child is None:
                    if dependent.cancelling:
                        self.resume(dependent, ("cancel", None))
                elif child is dependent.waiting_on:
                    dependent.waiting_on = None
                    self.resume(dependent, self.take(child))
                continue
            assert child is not None
            if dependent.kind == "wait":
                child.left = True
                if child not in dependent.results:
                    dependent.results.append(child)
                self.check_wait(dependent)
            elif dependent.kind == "timeout":
                how, value = self.take(child)
                if how == "ok":
                    self.settle(dependent, FINISHED, value)
                elif how == "err":
                    self.settle(dependent, FAILED, exc=value)
                else:
                    self.settle(dependent, CANCELLED)
            elif child.state == FINISHED or dependent.return_exceptions:
                if child.state == FINISHED:
                    dependent.results[position] = child.value
                elif child.state == FAILED:
                    child.left = True
                    dependent.results[position] = child.exc
                else:
                    dependent.results[position] = qtasks.CancelledError
                dependent.remaining -= 1
                if dependent.remaining == 0:
                    for each in dependent.children:
                        each.consumed = True
                    self.settle(dependent, FINISHED, dependent.results)
            else:
                child.consumed = True
                self.settle(dependent, child.state, exc=child.exc)
                for other in dependent.children:
                    self.cancel(other)

    def drain(self) -> None:
        """Run what the real scheduler queued, then what the model queued."""
        _runtime.bridge().run_pending()
        self.propagate()

    def pick(self, kinds: tuple[str, ...], index: int, *, pending: bool = False) -> Node | None:
        candidates = [n for n in self.nodes if n.kind in kinds and (n.state == PENDING or not pending)]
        return candidates[index % len(candidates)] if candidates else None

    # -- thread tasks -----------------------------------------------------------

    @rule(observed=st.booleans())
    def submit(self, observed: bool) -> None:
        number = len(self.nodes)
        if self.pool is None:

            def work() -> int:
                on_thread()
                self.ran[number] += 1
                qtasks.check_cancelled()
                qtasks.report_progress(number)
                return number * 10

            task = qtasks.run(work)
        else:
            gate = self.gates[number] = threading.Event()
            returned = self.returned[number] = threading.Event()

            def gated() -> Any:
                try:
                    self.ran[number] += 1
                    gate.wait(30)
                    how, value = self.outcomes.get(number, ("complete", None))
                    if how == "fail":
                        raise value
                    if how == "complete":
                        qtasks.report_progress(number)
                        return number * 10
                    return value
                finally:
                    returned.set()

            task = self.pool.run(gated)
        task.on_progress(lambda value: (on_thread(), self.events.append(("progress", value))))
        self.add("thread", task, observed)
        self.drain()

    def finish_thread(self, index: int, how: str, value: Any) -> Node:
        """Complete, complete with a result, or fail a pending thread task."""
        node = self.pick(("thread",), index, pending=True)
        assert node is not None
        if how == "complete":
            node.ran_expected = 1
        if self.pool is None:
            if how == "complete":
                self.manual.complete(node.real)
            elif how == "result":
                self.manual.complete(node.real, result=value)
            else:
                self.manual.fail(node.real, value)
        else:
            node.ran_expected = 1
            self.outcomes[node.number] = (how, value)
            self.gates[node.number].set()
            assert self.returned[node.number].wait(10)
            while not node.real.done():
                QCoreApplication.processEvents()
        return node

    def has_pending_thread(self) -> bool:
        return any(n.kind == "thread" and n.state == PENDING for n in self.nodes)

    @precondition(has_pending_thread)
    @rule(index=strategies.indices)
    def complete(self, index: int) -> None:
        node = self.finish_thread(index, "complete", None)
        self.settle(node, FINISHED, node.number * 10)
        self.drain()

    @precondition(has_pending_thread)
    @rule(index=strategies.indices, result=strategies.results)
    def complete_with(self, index: int, result: object) -> None:
        node = self.finish_thread(index, "result", result)
        self.settle(node, FINISHED, result)
        self.drain()

    @precondition(has_pending_thread)
    @rule(index=strategies.indices)
    def fail(self, index: int) -> None:
        node = self.pick(("thread",), index, pending=True)
        assert node is not None
        error = ValueError(f"task {node.number} failed")
        self.finish_thread(index, "fail", error)
        self.settle(node, FAILED, exc=error)
        self.drain()

    # -- maps (on the real pool) ---------------------------------------------------

    @precondition(lambda self: self.pool is not None)
    @rule(size=st.integers(1, 3), observed=st.booleans())
    def map(self, size: int, observed: bool) -> None:
        assert self.pool is not None
        number = len(self.nodes)
        gate = self.gates[number] = threading.Event()

        def item(x: int) -> int:
            gate.wait(30)
            if x == 0 and self.outcomes.get(number, ("complete",))[0] == "fail":
                raise ValueError(f"map {number} failed")
            return 2 * x

        node = self.add("map", self.pool.map(item, range(size), window=2), observed)
        node.remaining = size
        self.drain()

    @precondition(lambda self: any(n.kind == "map" and n.state == PENDING for n in self.nodes))
    @rule(index=strategies.indices, fails=st.booleans())
    def finish_map(self, index: int, fails: bool) -> None:
        node = self.pick(("map",), index, pending=True)
        assert node is not None
        self.outcomes[node.number] = ("fail" if fails else "complete", None)
        self.gates[node.number].set()
        while not node.real.done():
            QCoreApplication.processEvents()
        if fails:
            self.settle(node, FAILED, exc=ValueError(f"map {node.number} failed"))
        else:
            self.settle(node, FINISHED, [2 * x for x in range(node.remaining)])
        self.drain()

    # -- leaves on the GUI thread -------------------------------------------------

    @rule(observed=st.booleans())
    def wait_for_signal(self, observed: bool) -> None:
        self.add("signal", qtasks.wait_signal(self.emitter.fired), observed)
        self.drain()

    @precondition(lambda self: any(n.kind == "signal" and n.state == PENDING for n in self.nodes))
    @rule(value=st.integers(0, 9))
    def emit(self, value: int) -> None:
        for node in self.nodes:
            if node.kind == "signal" and node.state == PENDING:
                self.settle(node, FINISHED, (value,))
        self.emitter.fired.emit(value)
        self.drain()

    @rule(observed=st.booleans())
    def sleep(self, observed: bool) -> None:
        self.add("sleep", qtasks.sleep(NEVER_S), observed)
        self.drain()

    # -- coroutines and slots -------------------------------------------------------

    @precondition(lambda self: self.nodes)
    @rule(
        first=strategies.indices,
        second=strategies.indices,
        body=st.sampled_from(COROUTINE_KINDS),
        observed=st.booleans(),
    )
    def start_coroutine(self, first: int, second: int, body: str, observed: bool) -> None:
        targets = [self.nodes[first % len(self.nodes)], self.nodes[second % len(self.nodes)]]
        number = len(self.nodes)
        real = start_coroutine(body, targets[0].real, targets[1].real, number)
        node = self.add("coroutine", real, observed)
        node.body, node.children = body, targets
        self.await_(node, targets[0])
        self.drain()

    @precondition(lambda self: self.nodes)
    @rule(
        index=strategies.indices,
        owner_index=st.one_of(st.none(), strategies.indices),
        with_parent=st.booleans(),
        policy=st.sampled_from(POLICIES),
        body=st.sampled_from(("waiter", "cleaner", "failer")),
        observed=st.booleans(),
    )
    def call_slot(
        self,
        index: int,
        *,
        owner_index: int | None,
        with_parent: bool,
        policy: str,
        body: str,
        observed: bool,
    ) -> None:
        target = self.nodes[index % len(self.nodes)]
        live = [owner for owner in self.owners if not owner.gone]
        if owner_index is None or not live:
            parent = QObject() if with_parent else None
            owner = OwnerModel(Owner(parent), parent)
            self.owners.append(owner)
        else:
            owner = live[owner_index % len(live)]
        number = len(self.nodes)
        running = [n for n in owner.calls if n.policy == policy and n.state == PENDING]
        real = getattr(owner.real, policy)(body, target.real, number)
        if policy == "ignore":
            live_calls = [n for n in running if not n.cancelling]
            if live_calls:
                assert live_calls[-1].real is real
                self.drain()
                return
        if policy == "restart":
            for old in running:
                self.cancel_now(old)
        node = self.add("coroutine", real, observed)
        node.body, node.children, node.owner, node.policy = body, [target], owner, policy
        owner.calls.append(node)
        self.await_(node, target)
        self.drain()

    @precondition(lambda self: any(not owner.gone for owner in self.owners))
    @rule(index=strategies.indices, how=st.sampled_from(("sip.delete", "deleteLater", "parent")))
    def delete_owner(self, index: int, how: str) -> None:
        live = [owner for owner in self.owners if not owner.gone]
        owner = live[index % len(live)]
        owner.gone = True
        owner.gone_before_cleanup = how != "deleteLater"
        for node in owner.calls:
            self.cancel_now(node)
        if how == "deleteLater":
            owner.real.deleteLater()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        elif how == "parent" and owner.parent is not None:
            sip.delete(owner.parent)
        else:
            sip.delete(owner.real)
        assert sip.isdeleted(owner.real)
        self.drain()

    # -- combinators ----------------------------------------------------------------

    @rule(positions=strategies.child_indices, return_exceptions=st.booleans(), observed=st.booleans())
    def gather(self, positions: list[int], return_exceptions: bool, observed: bool) -> None:
        nodes = self.nodes
        children = [nodes[p % len(nodes)] for p in positions] if nodes else []
        real = qtasks.gather(*(c.real for c in children), return_exceptions=return_exceptions)
        node = self.add("gather", real, observed)
        node.children = children
        node.return_exceptions = return_exceptions
        node.results = [None] * len(children)
        node.remaining = len(children)
        if not children:
            self.settle(node, FINISHED, [])
        for position, child in enumerate(children):
            if child.state != PENDING:
                child.left = True
            self.watch(node, position, child)
        self.drain()

    @rule(
        positions=strategies.child_indices,
        return_when=st.sampled_from([qtasks.ALL_COMPLETED, qtasks.FIRST_COMPLETED, qtasks.FIRST_EXCEPTION]),
        observed=st.booleans(),
    )
    def wait(self, positions: list[int], return_when: str, observed: bool) -> None:
        nodes = self.nodes
        children = list(dict.fromkeys(nodes[p % len(nodes)] for p in positions)) if nodes else []
        node = self.add("wait", qtasks.wait([c.real for c in children], return_when=return_when), observed)
        node.children = children
        node.return_when = return_when
        for child in children:
            if child.state != PENDING:
                child.left = True
                node.results.append(child)
        self.check_wait(node)
        for position, child in enumerate(children):
            self.watch(node, position, child)
        self.drain()

    @precondition(lambda self: self.nodes)
    @rule(index=strategies.indices, observed=st.booleans())
    def timeout(self, index: int, observed: bool) -> None:
        child = self.nodes[index % len(self.nodes)]
        node = self.add("timeout", qtasks.timeout(NEVER_S, child.real), observed)
        node.children = [child]
        if child.state == PENDING:
            child.dependents.append((node, 0))
        else:
            self.queue.appendleft((node, 0, child))  # finished at once, before anything queued
            self.propagate()
        self.drain()

    @precondition(lambda self: self.nodes)
    @rule(index=strategies.indices)
    def cancel_any(self, index: int) -> None:
        node = self.nodes[index % len(self.nodes)]
        expected = self.cancel(node)
        assert expected == node.real.cancel()
        self.drain()

    # -- invariants -------------------------------------------------------------

    @invariant()
    def states_and_outcomes_match_the_model(self) -> None:
        for node in self.nodes:
            real = node.real
            assert (node.state != PENDING, node.state == CANCELLED) == (real.done(), real.cancelled()), (
                f"{node.kind} {node.number}: {node.state}, {real!r}"
            )
            if not node.observed or node.state in (PENDING, CANCELLED):
                continue
            if node.state == FAILED:
                assert repr(node.exc) == repr(real.exception())
            else:
                assert real.exception() is None, f"{node.kind} {node.number}: {real!r}"
                assert comparable(node.value) == comparable(real.result())

    @invariant()
    def each_done_callback_fired_once(self) -> None:
        expected = {node.number: 1 for node in self.nodes if node.observed and node.state != PENDING}
        assert expected == dict(self.callbacks)

    @invariant()
    def everything_ran_on_the_gui_thread(self) -> None:
        assert THREADS <= {GUI_THREAD}

    @invariant()
    def failures_nobody_consumed_are_reported_once(self) -> None:
        assert [repr(exc) for exc in self.expected_reports] == [repr(exc) for exc in self.reports]

    @invariant()
    def progress_arrives_once_before_the_done_callback(self) -> None:
        for node in self.nodes:
            if not node.observed:
                continue
            mine = [event for event in self.events if event[1] == node.number]
            if node.ran_expected and node.state == FINISHED and node.kind == "thread":
                progress = (
                    []
                    if self.outcomes.get(node.number, ("complete",))[0] != "complete"
                    else [("progress", node.number)]
                )
                assert [*progress, ("done", node.number)] == mine
            elif node.state != PENDING:
                assert [("done", node.number)] == mine

    @invariant()
    def functions_ran_only_when_completed(self) -> None:
        if self.pool is None:
            expected = {node.number: 1 for node in self.nodes if node.ran_expected}
            assert expected == dict(self.ran)
        else:
            assert all(self.ran[node.number] == 1 for node in self.nodes if node.ran_expected)

    @invariant()
    def running_and_pending_equal_the_model(self) -> None:
        assert [n.real for n in self.nodes if n.state == PENDING] == qtasks.running()
        if self.pool is None:
            pending = [n.real for n in self.nodes if n.kind == "thread" and n.state == PENDING]
            assert pending == self.manual.pending

    def teardown(self) -> None:
        try:
            for gate in self.gates.values():
                gate.set()
            # Shutdown cancels what runs, in a few rounds, and reports every failure nobody consumed.
            qtasks.shutdown(timeout=10)
            for _ in range(8):
                for node in self.nodes:
                    self.cancel(node)
                self.propagate()
            for node in self.nodes:
                if node.state == FAILED and not node.consumed:
                    assert node.exc is not None
                    self.expected_reports.append(node.exc)
            assert Counter(repr(exc) for exc in self.expected_reports) == Counter(
                repr(exc) for exc in self.reports
            )
        finally:
            sys.excepthook = self.previous_hook
            _pool.set_default_pool(self.previous)
            for owner in self.owners:
                for obj in (owner.real, owner.parent):
                    if obj is not None and not sip.isdeleted(obj):
                        sip.delete(obj)
            if self.pool is not None:
                self.pool.shutdown(timeout=10)


class RealPoolMachine(SchedulerMachine):
    """The same machine on a qtasks.Pool, each function held on a gate until the machine finishes it."""

    real_pool = True


def test_scheduler_matches_the_model(qapp: Any) -> None:
    """Any run of tasks, coroutines, slots, combinators and owner deletions on a ManualPool fits the model."""
    run_state_machine_as_test(
        SchedulerMachine,
        settings=settings(max_examples=EXAMPLES, stateful_step_count=30, deadline=None),
    )


def test_scheduler_on_a_real_pool_matches_the_model(qapp: Any) -> None:
    """The same runs on a real Pool, functions finishing on worker threads, keep the invariants."""
    run_state_machine_as_test(
        RealPoolMachine,
        settings=settings(max_examples=max(1, EXAMPLES // 2), stateful_step_count=30, deadline=None),
    )
