"""Leaks: after many tasks through gather and coroutines, nothing of them stays alive."""

from __future__ import annotations

import gc
import os
import threading
import weakref
from typing import Any, Callable

import pytest
from support import double

import qtasks
from qtasks import _runtime
from qtasks.testing import ManualPool

# The stress profile (QTASKS_STRESS set) pushes ten times more through.
TASKS = 100_000 if os.environ.get("QTASKS_STRESS") else 10_000
# Objects a batch may leave behind for good: interned names, caches warmed by the first use.
BOUND = 200


@qtasks.coroutine
def child(i: int) -> Any:
    return (yield qtasks.run(double, i))


@qtasks.coroutine
async def parent(n: int, refs: list[weakref.ref[Any]]) -> int:
    children = []
    for i in range(n):
        handle = child(i) if i % 2 else qtasks.run(double, i)
        refs.append(weakref.ref(handle))
        if isinstance(handle, qtasks.CoroutineTask):
            refs.append(weakref.ref(handle._coro))  # the generator object itself
        children.append(handle)
    results = await qtasks.gather(*children)
    return sum(results)


def run_batch(n: int, finish: Callable[[qtasks.Task[Any]], int]) -> list[weakref.ref[Any]]:
    """Push n tasks through a coroutine's gather; return weak references to every handle and coroutine."""
    refs: list[weakref.ref[Any]] = []
    handle = parent(n, refs)
    refs.append(weakref.ref(handle))
    refs.append(weakref.ref(handle._coro))  # the async def's coroutine object
    assert n * (n - 1) == finish(handle)
    return refs


def object_count() -> int:
    gc.collect()
    return len(gc.get_objects())


def assert_no_leak(batch: Callable[[int], list[weakref.ref[Any]]]) -> None:
    """Run `batch(n)` small, then big: what it made is all dead, and gc counts are back."""
    batch(100)  # warm caches before the baseline
    _runtime.bridge().run_pending()
    baseline = object_count()
    refs = batch(TASKS)
    _runtime.bridge().run_pending()
    gc.collect()
    assert [] == [ref() for ref in refs if ref() is not None]
    del refs
    growth = object_count() - baseline
    print(f"\nleaks: {TASKS} tasks, object growth {growth} (bound {BOUND})")
    assert growth < BOUND
    assert ([], 0, 0) == (qtasks.running(), len(_runtime.STATE.unconsumed), _runtime.bridge().pending())


@pytest.mark.stress
def test_real_pool_leaves_no_handles_behind(qtasks_run: Any) -> None:
    """Tasks through run, coroutines and gather on real threads are all freed once done."""
    assert_no_leak(lambda n: run_batch(n, lambda handle: qtasks_run(handle, timeout=60)))


@pytest.mark.stress
def test_manual_pool_leaves_no_handles_behind(qtasks_manual_pool: ManualPool) -> None:
    """Tasks completed through a ManualPool are all freed once done."""

    def finish(handle: qtasks.Task[Any]) -> int:
        qtasks_manual_pool.run_all()
        return handle.result()  # type: ignore[no-any-return]

    assert_no_leak(lambda n: run_batch(n, finish))


def map_and_slot_batch(n: int, qtasks_run: Any) -> list[weakref.ref[Any]]:
    """Push n items through map and n // 10 slot calls, then delete the owner while n // 10 more wait.

    Returns weak references to the map, the owner and every slot call.
    """
    from qt import QObject, sip

    release = threading.Event()

    def slow_double(i: int) -> int:
        release.wait(10)
        return 2 * i

    class Owner(QObject):
        @qtasks.slot
        def on_item(self, i: int) -> Any:
            return (yield qtasks.run(double, i))

        @qtasks.slot
        def on_slow_item(self, i: int) -> Any:
            return (yield qtasks.run(slow_double, i))

    refs: list[weakref.ref[Any]] = []
    mapped = qtasks.map(double, range(n))
    refs.append(weakref.ref(mapped))
    assert [2 * i for i in range(n)] == qtasks_run(mapped, timeout=60)
    owner = Owner()
    refs.append(weakref.ref(owner))
    handles = [owner.on_item(i) for i in range(n // 10)]
    refs.extend(weakref.ref(handle) for handle in handles)
    assert [2 * i for i in range(n // 10)] == qtasks_run(qtasks.gather(*handles), timeout=60)
    waiting = [owner.on_slow_item(i) for i in range(n // 10)]
    refs.extend(weakref.ref(handle) for handle in waiting)
    sip.delete(owner)  # while its calls wait on functions running or queued
    release.set()
    assert [True] * (n // 10) == [handle.cancelled() for handle in waiting]
    # The functions that were running when the owner went finish now; their results are dropped.
    assert [] == qtasks.shutdown(timeout=10)
    del handles, waiting, mapped, owner
    return refs


@pytest.mark.stress
def test_map_and_slots_leave_nothing_behind(qtasks_run: Any) -> None:
    """Items through map and calls of a slot, whose owner is deleted while some still wait, are all freed."""
    assert_no_leak(lambda n: map_and_slot_batch(n, qtasks_run))
