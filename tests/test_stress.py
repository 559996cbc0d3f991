"""Random fan-out and cancel schedules on real pools and an executor, the GIL switching as often as it can.

Each schedule first fills every thread of its pool with functions blocked on a
gate, so the functions submitted after them are certainly queued. It cancels
some of those queued functions and some of the blocked, running ones, opens
the gate, and cancels a few functions the moment they signal that they are
returning, while the GUI thread is still busy (in the test body or inside a
coroutine's step), so that their results are not delivered yet. It cancels
more at random moments, waits for everything, then cancels some finished
tasks. Half of the schedules wait on some of the tasks through a gather.

Each cancel is counted in the phase its task was in when `cancel()` was
called, as the function itself and the handle show it: queued (the function
had not started), running, returned but not delivered, or done. Every outcome
is then checked exactly: one done callback per handle, on the GUI thread;
the function run at most once, never when cancelled while queued; the result
or the `ValueError` of its key for every task not cancelled; `cancel()`
returning True before the task is done and False after; the gather's result
in argument order; progress listeners and coroutine steps on the GUI thread.

The default run takes a few seconds. The stress profile runs many more
schedules: `QTASKS_STRESS=100000 python -m pytest -m stress -s`.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import random
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import attrs
import pytest
from qt import QCoreApplication

import qtasks
from qtasks.pytest_plugin import run_until_done

SCHEDULES = int(os.environ.get("QTASKS_STRESS", "500"))

# What a function does once it runs.
RETURN, FAIL, POLL, PROGRESS, BLOCK = "return", "fail", "poll", "progress", "block"
# Where a task was when cancel() was called.
QUEUED, RUNNING, RETURNED, DONE = "queued", "running", "returned, not delivered", "done"
PHASES = (QUEUED, RUNNING, RETURNED, DONE)

GUI_THREAD = threading.main_thread().ident
# How long any wait for a worker may take before the schedule is declared stuck.
WAIT_S = 10


@attrs.define(eq=False)
class Run:
    """One task of a schedule: its mode, and what its function saw and did, on its worker thread."""

    key: int
    mode: str
    gate: threading.Event
    entered: threading.Event = attrs.Factory(threading.Event)
    # Set as the function ends (returns or raises): its outcome is on its way.
    returning: threading.Event = attrs.Factory(threading.Event)
    runs: int = 0
    cancel_at_entry: bool = False
    cancel_after_gate: bool = False
    # Progress values and the done callback, in the order they reached the GUI thread.
    events: list[object] = attrs.Factory(list)
    # What cancel() returned and the phase it was called in, for each call the test made.
    cancels: list[tuple[str, bool]] = attrs.Factory(list)
    # Cancelled while every pool thread was blocked: it must never run.
    cancelled_behind_blockers: bool = False
    # Cancelled while blocked on the gate: it must see its cancel flag once the gate opens.
    cancelled_on_the_gate: bool = False


class RecordingExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor that keeps the futures of what run_in submits, to wait on them."""

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers=max_workers)
        self.max_workers = max_workers
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        self.futures.append(future)
        return future


@attrs.define
class Tally:
    """What the schedules did, and every broken promise found, for the final report."""

    lock: threading.Lock = attrs.Factory(threading.Lock)
    runs: dict[int, Run] = attrs.Factory(dict)
    phases: Counter[str] = attrs.Factory(Counter)
    schedules: int = 0
    tasks: int = 0
    problems: list[str] = attrs.Factory(list)
    threads: set[int | None] = attrs.Factory(set)

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def work(self, key: int, mode: str) -> int:
        """Worker thread: count the run, then return, fail, poll the cancel flag, report progress or block."""
        run = self.runs[key]
        with self.lock:
            run.runs += 1
        # Why in this order: a cancel that finds `entered` unset must be seen by the check below.
        run.entered.set()
        run.cancel_at_entry = qtasks.cancel_requested()
        try:
            if mode == FAIL:
                raise ValueError(key)
            if mode == POLL:
                for _ in range(50):
                    qtasks.check_cancelled()
            if mode == PROGRESS:
                for i in range(100):
                    qtasks.report_progress(i)
            if mode == BLOCK:
                run.gate.wait(WAIT_S)
                run.cancel_after_gate = qtasks.cancel_requested()
            return 2 * key
        finally:
            run.returning.set()

    def cancel(self, task: qtasks.Task[Any], run: Run) -> str:
        """GUI thread: cancel the task, record the phase it was in and check what cancel() returned.

        Phases are read so that a race can only make one look later than it
        was: "returned" is read before the call, "entered" after it.
        """
        was_done = task.done()
        returned = run.returning.is_set()
        answer = task.cancel()
        if was_done:
            phase = DONE
        elif returned:
            phase = RETURNED
        elif not run.entered.is_set():
            phase = QUEUED
        else:
            phase = RUNNING
        self.phases[phase] += 1
        run.cancels.append((phase, answer))
        if answer is was_done:
            self.problem(f"task {run.key}: cancel() returned {answer} while {phase}")
        if answer and not task.cancelled():
            self.problem(f"task {run.key}: cancel() returned True, but the task is not cancelled")
        return phase


@qtasks.coroutine
def wait_for(tasks: list[qtasks.Task[int]], threads: set[int | None]) -> Any:
    threads.add(threading.get_ident())
    try:
        values = yield qtasks.gather(*tasks)
    except ValueError as exc:
        threads.add(threading.get_ident())
        return ("failed", exc)
    finally:
        threads.add(threading.get_ident())
    threads.add(threading.get_ident())
    return ("ok", values)


@qtasks.coroutine
def in_a_step(fn: Callable[[], None], threads: set[int | None]) -> Any:
    """Run `fn()` inside a scheduler step on the GUI thread, where no completion is delivered meanwhile."""
    threads.add(threading.get_ident())
    yield qtasks.sleep(0)
    threads.add(threading.get_ident())
    fn()


class Schedule:
    """One random schedule on one pool or executor."""

    def __init__(
        self, rng: random.Random, pool: qtasks.Pool | RecordingExecutor, tally: Tally, first_key: int
    ) -> None:
        self.rng = rng
        self.pool = pool
        self.tally = tally
        self.next_key = first_key
        self.gate = threading.Event()
        self.handles: dict[int, qtasks.Task[int]] = {}
        self.waiter: qtasks.Task[Any] | None = None
        self.group: list[int] = []
        self.waiter_callbacks: list[int | None] = []
        self.waiter_cancelled = False

    def submit(self, mode: str) -> int:
        key = self.next_key
        self.next_key += 1
        run = self.tally.runs[key] = Run(key, mode, self.gate)
        if isinstance(self.pool, qtasks.Pool):
            task: qtasks.Task[int] = self.pool.run(self.tally.work, key, mode)
        else:
            task = qtasks.run_in(self.pool, self.tally.work, key, mode)
        if mode == PROGRESS:

            def listen(value: object) -> None:
                self.on_gui_thread(f"the progress listener of task {key}")
                run.events.append(value)

            task.on_progress(listen)

        def done(_task: object) -> None:
            self.on_gui_thread(f"the done callback of task {key}")
            run.events.append("done")

        task.add_done_callback(done)
        self.handles[key] = task
        return key

    def on_gui_thread(self, what: str) -> None:
        """Any thread: record a problem unless called on the GUI thread."""
        if threading.get_ident() != GUI_THREAD:
            self.tally.problem(f"{what} ran off the GUI thread")

    def threads(self) -> int:
        if isinstance(self.pool, qtasks.Pool):
            return self.pool.max_threads
        return self.pool.max_workers

    def cancel(self, key: int) -> str:
        return self.tally.cancel(self.handles[key], self.tally.runs[key])

    def run(self) -> None:
        rng, tally = self.rng, self.tally
        blockers = [self.submit(BLOCK) for _ in range(self.threads())]
        for key in blockers:
            if not tally.runs[key].entered.wait(WAIT_S):
                tally.problem(f"blocker {key} never started")
        # Every pool thread is blocked now: these wait in the queue.
        modes = (RETURN, RETURN, FAIL, POLL, PROGRESS)
        queued = [self.submit(rng.choice(modes)) for _ in range(rng.randint(2, 8))]
        if rng.random() < 0.5:
            self.start_waiter(queued)
        middle = functools.partial(self.middle, blockers, queued)
        if rng.random() < 0.5:
            middle()
        else:
            run_until_done(in_a_step(middle, tally.threads), timeout=30)
        if self.waiter is None and rng.random() < 0.5:
            self.start_waiter(queued)
        keys = list(self.handles)
        for _ in range(rng.randint(0, 2)):
            QCoreApplication.processEvents()
            self.cancel(rng.choice(keys))
        if self.waiter is not None and rng.random() < 0.2:
            self.waiter_cancelled = self.waiter.cancel()
        everything: list[qtasks.Task[Any]] = [*self.handles.values()]
        if self.waiter is not None:
            everything.append(self.waiter)
        run_until_done(qtasks.gather(*everything, return_exceptions=True), timeout=30)
        for key in rng.sample(keys, rng.randint(1, 2)):
            task = self.handles[key]
            before = task.cancelled()
            if DONE != self.cancel(key) or before != task.cancelled():
                tally.problem(f"task {key}: cancel() after it ended changed it")
        self.wait_for_functions()
        self.check()

    def middle(self, blockers: list[int], queued: list[int]) -> None:
        """Cancel queued and running functions, open the gate, cancel functions that returned. GUI thread."""
        rng, tally = self.rng, self.tally
        for key in rng.sample(queued, rng.randint(1, max(1, len(queued) // 2))):
            if QUEUED != self.cancel(key):
                tally.problem(f"task {key} was not queued behind the blockers")
            tally.runs[key].cancelled_behind_blockers = True
        for key in rng.sample(blockers, rng.randint(1, len(blockers))):
            if RUNNING != self.cancel(key):
                tally.problem(f"blocker {key} was not running")
            tally.runs[key].cancelled_on_the_gate = True
        self.gate.set()
        candidates = [key for key in queued if not self.handles[key].done()]
        for key in rng.sample(candidates, min(len(candidates), rng.randint(1, 2))):
            run = tally.runs[key]
            if not run.returning.wait(WAIT_S):
                tally.problem(f"task {key} never returned")
            # Nothing is delivered while the GUI thread is here, so the task is not done.
            if RETURNED != self.cancel(key):
                tally.problem(f"task {key} was delivered while the GUI thread was busy")

    def start_waiter(self, queued: list[int]) -> None:
        live = [key for key in queued if not self.handles[key].done()]
        if not live:
            return
        self.group = self.rng.sample(live, self.rng.randint(1, len(live)))
        self.waiter = wait_for([self.handles[key] for key in self.group], self.tally.threads)
        self.waiter.add_done_callback(lambda _task: self.waiter_callbacks.append(threading.get_ident()))

    def wait_for_functions(self) -> None:
        """Wait until every function that will ever run has ended, so runs can be counted."""
        if isinstance(self.pool, qtasks.Pool):
            self.pool.qthreadpool.waitForDone()
        else:
            concurrent.futures.wait(self.pool.futures, timeout=WAIT_S)
            self.pool.futures.clear()

    def check(self) -> None:
        """GUI thread, after the schedule: every outcome exactly as promised."""
        tally = self.tally
        # The gather cancels its other children when one fails or is cancelled, or when it is cancelled.
        gather_ended_early = self.check_waiter()
        for key, task in self.handles.items():
            run = tally.runs[key]
            events = run.events
            if not task.done() or events.count("done") != 1 or events[-1] != "done":
                tally.problem(f"task {key}: {task!r} got done callbacks/progress {events}")
                continue
            cancelled_by_me = any(answer for _phase, answer in run.cancels)
            if run.runs > 1:
                tally.problem(f"task {key}: its function ran {run.runs} times")
            if run.cancelled_behind_blockers and run.runs:
                tally.problem(f"task {key} was cancelled while queued, but its function ran")
            first = next((phase for phase, answer in run.cancels if answer), None)
            if first == QUEUED and run.runs and not run.cancel_at_entry:
                tally.problem(f"task {key} was cancelled before it started, but did not see its cancel flag")
            if run.cancelled_on_the_gate and not run.cancel_after_gate:
                tally.problem(f"task {key} was cancelled while running, but did not see its cancel flag")
            if task.cancelled():
                if not cancelled_by_me and not (gather_ended_early and key in self.group):
                    tally.problem(f"task {key} was cancelled, but nothing cancelled it")
                continue
            if cancelled_by_me:
                tally.problem(f"task {key}: cancel() returned True, but the task {task!r} was not cancelled")
            if run.runs != 1:
                tally.problem(f"task {key} finished, but its function ran {run.runs} times")
            if run.mode == FAIL:
                exc = task.exception()
                if not isinstance(exc, ValueError) or exc.args != (key,):
                    tally.problem(f"task {key} failed with {exc!r}, not ValueError({key})")
            elif task.result() != 2 * key:
                tally.problem(f"task {key} ({run.mode}) gave {task.result()!r}, not {2 * key}")
            if run.mode == PROGRESS and events[-2:] != [99, "done"]:
                tally.problem(f"task {key}: the last progress value did not arrive before the done callback")
        tally.schedules += 1
        tally.tasks += len(self.handles)

    def check_waiter(self) -> bool:
        """Check the gather's waiter against its children; tell whether it ended before they all finished."""
        waiter, tally = self.waiter, self.tally
        if waiter is None:
            return False
        if len(self.waiter_callbacks) != 1:
            tally.problem(f"the waiter got {len(self.waiter_callbacks)} done callbacks")
        tally.threads.update(self.waiter_callbacks)
        children = [self.handles[key] for key in self.group]
        cancelled = [key for key, child in zip(self.group, children, strict=True) if child.cancelled()]
        failed = {
            id(child.exception()): key
            for key, child in zip(self.group, children, strict=True)
            if not child.cancelled() and child.exception() is not None
        }
        if waiter.cancelled():
            if not (self.waiter_cancelled or cancelled):
                tally.problem(f"the waiter was cancelled, but nothing cancelled it or its {self.group}")
            return True
        if self.waiter_cancelled:
            tally.problem("waiter.cancel() returned True, but the waiter was not cancelled")
        outcome = waiter.result()
        if outcome[0] == "ok":
            expected = [2 * key for key in self.group]
            if expected != outcome[1] or cancelled or failed:
                tally.problem(f"the gather gave {outcome[1]}, expected {expected}")
            return False
        exc = outcome[1]
        key = failed.get(id(exc))
        if key is None or exc.args != (key,):
            tally.problem(f"the gather raised {exc!r}, which no child of {self.group} raised")
        return True


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Make the interpreter switch threads as often as it can, for one test."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.mark.stress
@pytest.mark.timeout(max(120, SCHEDULES // 50))
@pytest.mark.usefixtures("fast_switching")
def test_random_schedules_lose_and_duplicate_nothing(qapp: Any) -> None:
    """Random schedules on 1, 2 and 8 threads and an executor keep every promise, in every cancel phase."""
    executor = RecordingExecutor(max_workers=4)
    pools: list[qtasks.Pool | RecordingExecutor] = [qtasks.Pool(max_threads=n) for n in (1, 2, 8)]
    pools.append(executor)
    rng = random.Random(int(os.environ.get("QTASKS_STRESS_SEED", "20261125")))
    tally = Tally()
    key = 1
    for _ in range(SCHEDULES):
        schedule = Schedule(rng, rng.choice(pools), tally, key)
        schedule.run()
        key = schedule.next_key
    executor.shutdown(wait=True)
    for pool in pools[:3]:
        assert [] == pool.shutdown(timeout=10)  # type: ignore[union-attr]
    # A function cancelled while queued must not run later either.
    late = [run.key for run in tally.runs.values() if run.cancelled_behind_blockers and run.runs]
    counts = ", ".join(f"{phase} {tally.phases[phase]}" for phase in PHASES)
    print(
        f"\nstress: {tally.schedules} schedules, {tally.tasks} tasks; cancels by phase: {counts}; "
        f"{len(tally.problems)} problems"
    )
    assert [] == tally.problems[:20]
    assert [] == late
    assert {GUI_THREAD} == tally.threads
    # Each phase is reached on purpose in every schedule; half of that leaves room for the random draws.
    reached = {phase: tally.phases[phase] >= SCHEDULES // 2 for phase in PHASES}
    assert dict.fromkeys(PHASES, True) == reached
