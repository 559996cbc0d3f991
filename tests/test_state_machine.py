"""A stateful test of the real scheduler, driven through a ManualPool against a model.

The model replays what the scheduler promises: a task ends once; a done
callback is queued when its task ends and runs in FIFO order; a gather slot
sees its child's outcome in that order, and the first failure cancels the other
children in argument order; a cancelled coroutine cancels what it waits on,
then takes its CancelledError on a later step (and may catch it to clean up).
A slot coroutine takes it at once instead, when its owner is deleted.
Coroutines may wait on coroutines and gathers on anything; a wait() finishes
when its condition holds over its children's states at that moment, and
cancels nothing.
"""

from __future__ import annotations

import os
import threading
from collections import Counter, deque
from typing import Any

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
from PyQt5 import sip
from PyQt5.QtCore import QObject

import qtasks
from qtasks import _pool, _runtime
from qtasks.testing import ManualPool

PENDING, FINISHED, FAILED, CANCELLED = "pending", "finished", "failed", "cancelled"

EXAMPLES = int(os.environ.get("QTASKS_STATEFUL_EXAMPLES", "300"))


@attrs.define(eq=False)
class Node:
    """The model of one handle: a function task, a gather or a coroutine."""

    kind: str
    real: qtasks.Task[Any]
    number: int
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
    # Coroutines only: catches CancelledError and returns ("cleaned", None).
    cleans_up: bool = False
    # Coroutines only: cancel() was called; the CancelledError is on its way.
    cancelling: bool = False
    # wait() only: ALL_COMPLETED, FIRST_COMPLETED or FIRST_EXCEPTION.
    return_when: str = ""
    # Slot coroutines only: the QObject they belong to.
    owner: QObject | None = None


def comparable(value: Any) -> Any:
    """Replace CancelledError instances by the class and sets of handles by their ids, as in the model."""
    if isinstance(value, qtasks.CancelledError):
        return qtasks.CancelledError
    if isinstance(value, set):
        return {id(task) for task in value}
    if isinstance(value, (list, tuple)):
        return type(value)(comparable(v) for v in value)
    return value


@qtasks.coroutine
def waiter(target: qtasks.Task[Any]) -> Any:
    try:
        value = yield target
    except Exception as exc:  # noqa: BLE001 - the outcome the model predicts
        return ("err", exc)
    return ("ok", value)


@qtasks.coroutine
async def cleaner(target: qtasks.Task[Any]) -> Any:
    try:
        value = await target
    except qtasks.CancelledError:
        return ("cleaned", None)
    except Exception as exc:  # noqa: BLE001 - the outcome the model predicts
        return ("err", exc)
    return ("ok", value)


class Owner(QObject):
    """A QObject with slots that wait on a handle as waiter() and cleaner() do."""

    @qtasks.slot
    def wait_on(self, target: qtasks.Task[Any]) -> Any:
        return (yield from waiter.__wrapped__(target))  # type: ignore[attr-defined]

    @qtasks.slot
    async def clean_up_after(self, target: qtasks.Task[Any]) -> Any:
        return await cleaner.__wrapped__(target)  # type: ignore[attr-defined]


class SchedulerMachine(RuleBasedStateMachine):
    """Submit, complete, fail and cancel tasks, coroutines and gathers; compare with the model."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = ManualPool()
        self.previous = _pool.set_default_pool(self.pool)
        self.nodes: list[Node] = []
        self.ran: Counter[int] = Counter()
        self.callbacks: Counter[int] = Counter()
        self.callback_threads: set[int] = set()
        # Progress deliveries and done callbacks, in the order they ran.
        self.events: list[tuple[str, int]] = []
        # What the scheduler will do next, in its FIFO order: (waiter, position,
        # finished child), or (coroutine, 0, None) for a cancelled coroutine's step.
        self.queue: deque[tuple[Node, int, Node | None]] = deque()

    # -- the model ------------------------------------------------------------

    def add(self, kind: str, real: qtasks.Task[Any]) -> Node:
        node = Node(kind, real, len(self.nodes))
        self.nodes.append(node)

        def count(_task: object, number: int = node.number) -> None:
            self.callbacks[number] += 1
            self.callback_threads.add(threading.get_ident())
            self.events.append(("done", number))

        real.add_done_callback(count)
        return node

    def settle(self, node: Node, state: str, value: Any = None, exc: BaseException | None = None) -> None:
        node.state, node.value, node.exc = state, value, exc
        for dependent, position in node.dependents:
            self.queue.append((dependent, position, node))

    def cancel(self, node: Node) -> bool:
        if node.state != PENDING:
            return False
        if node.kind == "coroutine":
            if not node.cancelling:
                node.cancelling = True
                self.cancel(node.children[0])
                self.queue.append((node, 0, None))
        else:
            self.settle(node, CANCELLED)
            if node.kind == "gather":
                for child in node.children:
                    self.cancel(child)
        return True

    def cancel_now(self, node: Node) -> None:
        """Cancel a slot coroutine as deleting its owner does: its CancelledError arrives at once."""
        if node.state != PENDING:
            return
        if not node.cancelling:
            self.cancel(node.children[0])
        if node.cleans_up:
            self.settle(node, FINISHED, ("cleaned", None))
        else:
            self.settle(node, CANCELLED)

    def check_wait(self, node: Node) -> None:
        """Finish a wait() whose condition holds now, like WaitTask._check."""
        done = [child for child in node.children if child.state != PENDING]
        when = node.return_when
        if (
            len(done) == len(node.children)
            or (when == qtasks.FIRST_COMPLETED and done)
            or (when == qtasks.FIRST_EXCEPTION and any(child.state == FAILED for child in done))
        ):
            pending = [child for child in node.children if child.state == PENDING]
            self.settle(node, FINISHED, ({id(c.real) for c in done}, {id(c.real) for c in pending}))

    def watch(self, dependent: Node, position: int, child: Node) -> None:
        """Wait on `child` as the real handle does: at once if done, else when it ends."""
        if child.state == PENDING:
            child.dependents.append((dependent, position))
        else:
            self.queue.append((dependent, position, child))

    def propagate(self) -> None:
        while self.queue:
            dependent, position, child = self.queue.popleft()
            if dependent.state != PENDING:
                continue
            if dependent.kind == "coroutine":
                if child is not None and dependent.cancelling:
                    continue  # a late wake-up from what it no longer waits on
                if child is None or child.state == CANCELLED:
                    if dependent.cleans_up:
                        self.settle(dependent, FINISHED, ("cleaned", None))
                    else:
                        self.settle(dependent, CANCELLED)
                elif child.state == FINISHED:
                    self.settle(dependent, FINISHED, ("ok", child.value))
                else:
                    self.settle(dependent, FINISHED, ("err", child.exc))
                continue
            assert child is not None
            if dependent.kind == "wait":
                self.check_wait(dependent)
            elif child.state == FINISHED or dependent.return_exceptions:
                if child.state == FINISHED:
                    dependent.results[position] = child.value
                elif child.state == FAILED:
                    dependent.results[position] = child.exc
                else:
                    dependent.results[position] = qtasks.CancelledError
                dependent.remaining -= 1
                if dependent.remaining == 0:
                    self.settle(dependent, FINISHED, dependent.results)
            else:
                self.settle(dependent, child.state, exc=child.exc)
                for other in dependent.children:
                    self.cancel(other)

    def drain(self) -> None:
        """Run what the real scheduler queued, then what the model queued."""
        _runtime.bridge().run_pending()
        self.propagate()

    def pick(self, kind: str, index: int, *, pending: bool = False) -> Node | None:
        candidates = [n for n in self.nodes if n.kind == kind and (n.state == PENDING or not pending)]
        return candidates[index % len(candidates)] if candidates else None

    # -- rules ------------------------------------------------------------------

    @rule()
    def submit(self) -> None:
        number = len(self.nodes)

        def work() -> int:
            self.ran[number] += 1
            qtasks.check_cancelled()
            qtasks.report_progress(number)
            return number * 10

        task = qtasks.run(work)
        task.on_progress(lambda value: self.events.append(("progress", value)))
        self.add("thread", task)
        self.drain()

    @precondition(lambda self: self.pool.pending)
    @rule(index=strategies.indices)
    def complete(self, index: int) -> None:
        node = self.pick("thread", index, pending=True)
        assert node is not None
        node.ran_expected = 1
        self.settle(node, FINISHED, node.number * 10)
        self.pool.complete(node.real)  # returns with the waiters resumed: no drain
        self.propagate()

    @precondition(lambda self: self.pool.pending)
    @rule(index=strategies.indices, result=strategies.results)
    def complete_with(self, index: int, result: object) -> None:
        node = self.pick("thread", index, pending=True)
        assert node is not None
        self.settle(node, FINISHED, result)
        self.pool.complete(node.real, result=result)
        self.propagate()

    @precondition(lambda self: self.pool.pending)
    @rule(index=strategies.indices)
    def fail(self, index: int) -> None:
        node = self.pick("thread", index, pending=True)
        assert node is not None
        error = ValueError(f"task {node.number} failed")
        self.settle(node, FAILED, exc=error)
        self.pool.fail(node.real, error)
        self.propagate()

    @precondition(lambda self: any(n.kind == "thread" for n in self.nodes))
    @rule(index=strategies.indices)
    def cancel_task(self, index: int) -> None:
        node = self.pick("thread", index)
        assert node is not None
        expected = self.cancel(node)
        assert expected == node.real.cancel()
        self.drain()

    @precondition(lambda self: self.nodes)
    @rule(index=strategies.indices, cleans_up=st.booleans())
    def start_coroutine(self, index: int, cleans_up: bool) -> None:
        target = self.nodes[index % len(self.nodes)]
        node = self.add("coroutine", (cleaner if cleans_up else waiter)(target.real))
        node.children = [target]
        node.cleans_up = cleans_up
        self.watch(node, 0, target)
        self.drain()

    @precondition(lambda self: self.nodes)
    @rule(index=strategies.indices, cleans_up=st.booleans())
    def start_slot(self, index: int, cleans_up: bool) -> None:
        target = self.nodes[index % len(self.nodes)]
        owner = Owner()
        node = self.add("coroutine", (owner.clean_up_after if cleans_up else owner.wait_on)(target.real))
        node.children = [target]
        node.cleans_up = cleans_up
        node.owner = owner
        self.watch(node, 0, target)
        self.drain()

    @precondition(lambda self: any(n.owner is not None and not sip.isdeleted(n.owner) for n in self.nodes))
    @rule(index=strategies.indices)
    def delete_owner(self, index: int) -> None:
        candidates = [n for n in self.nodes if n.owner is not None and not sip.isdeleted(n.owner)]
        node = candidates[index % len(candidates)]
        self.cancel_now(node)
        assert node.owner is not None
        sip.delete(node.owner)
        self.drain()

    @precondition(lambda self: any(n.kind == "coroutine" for n in self.nodes))
    @rule(index=strategies.indices)
    def cancel_coroutine(self, index: int) -> None:
        node = self.pick("coroutine", index)
        assert node is not None
        expected = self.cancel(node)
        assert expected == node.real.cancel()
        self.drain()

    @rule(positions=strategies.child_indices, return_exceptions=st.booleans())
    def gather(self, positions: list[int], return_exceptions: bool) -> None:
        nodes = self.nodes
        children = [nodes[p % len(nodes)] for p in positions] if nodes else []
        real = qtasks.gather(*(c.real for c in children), return_exceptions=return_exceptions)
        node = self.add("gather", real)
        node.children = children
        node.return_exceptions = return_exceptions
        node.results = [None] * len(children)
        node.remaining = len(children)
        if not children:
            self.settle(node, FINISHED, [])
        for position, child in enumerate(children):
            self.watch(node, position, child)
        self.drain()

    @rule(
        positions=strategies.child_indices,
        return_when=st.sampled_from([qtasks.ALL_COMPLETED, qtasks.FIRST_COMPLETED, qtasks.FIRST_EXCEPTION]),
    )
    def wait(self, positions: list[int], return_when: str) -> None:
        nodes = self.nodes
        children = [nodes[p % len(nodes)] for p in positions] if nodes else []
        node = self.add("wait", qtasks.wait([c.real for c in children], return_when=return_when))
        node.children = children
        node.return_when = return_when
        self.check_wait(node)  # WaitTask checks at once, then on each child's callback
        for position, child in enumerate(children):
            self.watch(node, position, child)
        self.drain()

    @precondition(lambda self: any(n.kind in ("gather", "wait") for n in self.nodes))
    @rule(index=strategies.indices)
    def cancel_gather_or_wait(self, index: int) -> None:
        candidates = [n for n in self.nodes if n.kind in ("gather", "wait")]
        node = candidates[index % len(candidates)]
        expected = self.cancel(node)
        assert expected == node.real.cancel()
        self.drain()

    # -- invariants -------------------------------------------------------------

    @invariant()
    def states_and_outcomes_match_the_model(self) -> None:
        for node in self.nodes:
            real = node.real
            assert node.state == real._state, f"{node.kind} {node.number}: {real!r}"
            if node.state == FAILED:
                assert node.exc is real.exception()
            elif node.state == FINISHED:
                actual = real.result()
                assert node.value == comparable(actual)
                if node.kind == "gather" and not node.return_exceptions:
                    assert [child.real.result() for child in node.children] == actual

    @invariant()
    def each_done_callback_fired_once_on_the_gui_thread(self) -> None:
        expected = {node.number: 1 for node in self.nodes if node.state != PENDING}
        assert expected == dict(self.callbacks)
        assert self.callback_threads <= {threading.main_thread().ident}

    @invariant()
    def progress_arrives_once_before_the_done_callback(self) -> None:
        for node in self.nodes:
            mine = [event for event in self.events if event[1] == node.number]
            if node.ran_expected:
                assert [("progress", node.number), ("done", node.number)] == mine
            elif node.state != PENDING:
                assert [("done", node.number)] == mine

    @invariant()
    def functions_ran_only_when_completed(self) -> None:
        expected = {node.number: 1 for node in self.nodes if node.ran_expected}
        assert expected == dict(self.ran)

    @invariant()
    def running_and_pending_equal_the_model(self) -> None:
        assert [n.real for n in self.nodes if n.state == PENDING] == qtasks.running()
        assert [n.real for n in self.nodes if n.kind == "thread" and n.state == PENDING] == self.pool.pending

    def teardown(self) -> None:
        qtasks.shutdown(timeout=1)
        _runtime.bridge().run_pending()
        _pool.set_default_pool(self.previous)


def test_scheduler_matches_the_model(qapp: Any) -> None:
    """Any run of submit, complete, fail, cancel, coroutine, gather or owner deletion keeps the invariants."""
    run_state_machine_as_test(
        SchedulerMachine,
        settings=settings(max_examples=EXAMPLES, stateful_step_count=30, deadline=None),
    )
