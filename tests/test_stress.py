"""Random fan-out and cancel schedules on real pools and an executor, the GIL switching as often as it can.

Each schedule submits a few functions (some fail, some poll their cancel
flag), may wait on some of them from a coroutine through gather, cancels a
random subset at random moments, then waits for everything. Every task must
end exactly once: one done callback, at most one run of its function, and the
right result for every task that finished.

The default run is short. The stress profile runs many more schedules:
`QTASKS_STRESS=100000 python -m pytest -m stress`.
"""

from __future__ import annotations

import os
import random
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import pytest
from PyQt5.QtCore import QCoreApplication

import qtasks
from qtasks import _runtime
from qtasks.pytest_plugin import run_until_done

SCHEDULES = int(os.environ.get("QTASKS_STRESS", "500"))


@attrs.define
class Tally:
    """What the schedules did, counted on both sides of the thread boundary."""

    lock: threading.Lock = attrs.Factory(threading.Lock)
    ran: Counter[int] = attrs.Factory(Counter)
    callbacks: Counter[int] = attrs.Factory(Counter)
    schedules: int = 0
    tasks: int = 0
    lost: int = 0
    duplicated: int = 0
    cancelled: int = 0
    # Progress listeners' last value seen when the done callback ran, per key.
    progress: dict[int, object] = attrs.Factory(dict)
    late_progress: int = 0
    off_gui_thread: int = 0

    def work(self, key: int, mode: int) -> int:
        """Worker thread: count the run, then return, fail, or poll the cancel flag."""
        with self.lock:
            self.ran[key] += 1
        if mode == 1:
            raise ValueError(key)
        if mode == 2:
            for _ in range(50):
                qtasks.check_cancelled()
        if mode == 3:
            for i in range(100):
                qtasks.report_progress(i)
        return 2 * key

    def check(self, handles: dict[int, qtasks.Task[Any]], waiter_key: int | None) -> None:
        """GUI thread, after a schedule: count lost and duplicated outcomes."""
        for key, task in handles.items():
            ran = self.ran[key]
            calls = self.callbacks[key]
            if calls > 1 or ran > 1:
                self.duplicated += 1
            if calls == 0 or not task.done():
                self.lost += 1
            elif task.cancelled():
                self.cancelled += 1
            elif task.exception() is not None:
                if ran != 1 or not isinstance(task.exception(), ValueError):
                    self.lost += 1
            elif ran != 1 or task.result() != 2 * key:
                self.lost += 1
        if waiter_key is not None:
            self.duplicated += self.callbacks[waiter_key] > 1
            self.lost += self.callbacks[waiter_key] == 0


@qtasks.coroutine
def wait_for_some(tasks: list[qtasks.Task[int]]) -> Any:
    try:
        return (yield qtasks.gather(*tasks))
    except ValueError:
        return "failed"


def run_schedule(
    rng: random.Random, pool: qtasks.Pool | ThreadPoolExecutor, tally: Tally, first_key: int
) -> int:
    """Run one random schedule on a qtasks pool or, through run_in, an executor; return the next free key."""
    handles: dict[int, qtasks.Task[Any]] = {}

    def count(key: int) -> Any:
        def done(task: qtasks.Task[Any]) -> None:
            tally.callbacks.update((key,))
            tally.off_gui_thread += threading.current_thread() is not threading.main_thread()
            # The last progress value arrives before the done callbacks.
            if key in tally.progress and not task.cancelled() and tally.progress[key] != 99:
                tally.late_progress += 1

        return done

    def listen(key: int) -> Any:
        return lambda value: tally.progress.__setitem__(key, value)

    for offset in range(rng.randint(1, 10)):
        key = first_key + offset
        mode = rng.choice((0, 0, 0, 1, 2, 3))
        if isinstance(pool, qtasks.Pool):
            task: qtasks.Task[int] = pool.run(tally.work, key, mode)
        else:
            task = qtasks.run_in(pool, tally.work, key, mode)
        if mode == 3:
            tally.progress[key] = None
            task.on_progress(listen(key))
        task.add_done_callback(count(key))
        handles[key] = task
        if rng.random() < 0.2:
            task.cancel()
    keys = list(handles)
    waiter = None
    if rng.random() < 0.5:
        waiter = wait_for_some([handles[key] for key in rng.sample(keys, rng.randint(1, len(keys)))])
        waiter.add_done_callback(count(-first_key))
    for _ in range(rng.randint(0, 2)):
        QCoreApplication.processEvents()
        victim = handles[rng.choice(keys)]
        victim.cancel()
    if waiter is not None and rng.random() < 0.2:
        waiter.cancel()
    everything = [*handles.values(), *([waiter] if waiter is not None else [])]
    run_until_done(qtasks.gather(*everything, return_exceptions=True), timeout=30)
    # A cancelled function may still be running: wait for it, then deliver
    # its late (dropped) completion and the last done callbacks. (An
    # executor's late run cannot change the outcome counted below.)
    if isinstance(pool, qtasks.Pool):
        pool.qthreadpool.waitForDone()
    _runtime.bridge().run_pending()
    tally.check(handles, -first_key if waiter is not None else None)
    tally.schedules += 1
    tally.tasks += len(handles)
    return first_key + len(handles)


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
    """Random fan-out/cancel schedules on 1, 2 and 8 threads and an executor lose and duplicate no result."""
    executor = ThreadPoolExecutor(max_workers=4)
    pools: list[qtasks.Pool | ThreadPoolExecutor] = [qtasks.Pool(max_threads=n) for n in (1, 2, 8)]
    pools.append(executor)
    rng = random.Random(int(os.environ.get("QTASKS_STRESS_SEED", "20261125")))
    tally = Tally()
    key = 1
    for _ in range(SCHEDULES):
        key = run_schedule(rng, rng.choice(pools), tally, key)
    print(
        f"\nstress: {tally.schedules} schedules, {tally.tasks} tasks ({tally.cancelled} cancelled), "
        f"lost {tally.lost}, duplicated {tally.duplicated}, last progress late {tally.late_progress}, "
        f"callbacks off the GUI thread {tally.off_gui_thread}"
    )
    assert (SCHEDULES, 0, 0, 0, 0) == (
        tally.schedules,
        tally.lost,
        tally.duplicated,
        tally.late_progress,
        tally.off_gui_thread,
    )
    executor.shutdown(wait=True)
    for pool in pools[:3]:
        assert [] == pool.shutdown(timeout=10)  # type: ignore[union-attr]
