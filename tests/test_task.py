"""What every task handle answers: result(), exception(), done callbacks, its repr, and running()."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from qt import QThreadPool, delete
from support import Gate, double

import qtasks


def test_result_of_a_pending_task_says_how_to_wait(qapp: Any) -> None:
    """result() before the task is done raises RuntimeError with the fix."""
    gate = Gate()
    task = qtasks.run(gate)
    expected = r"not done yet.*yield or await.*qtasks\.run_until_complete\(task\)"
    with pytest.raises(RuntimeError, match=expected):
        task.result()
    task.cancel()
    gate.opened.set()


def test_exception_on_a_pending_task_says_it_is_not_done(qtasks_manual_pool: Any) -> None:
    """exception() on a pending task raises RuntimeError naming the task and what to do instead."""
    task = qtasks.run(double, 1)
    with pytest.raises(RuntimeError, match=r"ThreadTask double\(\) pending.*not done yet.*await it"):
        task.exception()
    task.cancel()


def test_exception_on_a_cancelled_task_raises_cancelled_error(qtasks_manual_pool: Any) -> None:
    """exception() on a cancelled task raises CancelledError, as result() does."""
    task = qtasks.run(double, 1)
    assert task.cancel()
    with pytest.raises(qtasks.CancelledError):
        task.exception()
    with pytest.raises(qtasks.CancelledError):
        task.result()


def test_done_callbacks_fire_once_on_the_gui_thread_never_synchronously(qtasks_run: Any) -> None:
    """A done callback runs exactly once, on the GUI thread, after the call that finished the task."""
    calls: list[tuple[object, int]] = []
    gate = Gate()
    task = qtasks.run(gate)
    task.add_done_callback(lambda t: calls.append((t, threading.get_ident())))
    task.cancel()
    assert [] == calls
    task.cancel()
    gate.opened.set()  # with one pool thread, the probe below would wait behind the gate
    qtasks_run(qtasks.run(double, 1))
    assert [(task, threading.get_ident())] == calls
    late: list[object] = []
    task.add_done_callback(late.append)
    assert [] == late
    qtasks_run(qtasks.run(double, 1))
    assert [task] == late
    # The gate's function has returned by now or returns soon; its late
    # completion, delivered within shutdown(), calls nothing again.
    assert [] == qtasks.shutdown(timeout=10)
    assert [(task, threading.get_ident())] == calls
    assert [task] == late


@pytest.mark.parametrize("method", ["add_done_callback", "on_progress"])
def test_a_callback_that_is_not_callable_names_the_value_and_the_fix(
    qtasks_manual_pool: Any, method: str
) -> None:
    """add_done_callback() and on_progress() refuse a non-callable with a TypeError naming it."""
    task = qtasks.run(double, 1)
    with pytest.raises(TypeError, match=rf"{method}.*got 'not a function': pass the function itself"):
        getattr(task, method)("not a function")
    qtasks_manual_pool.complete(task)
    assert 2 == task.result()


def test_repr_names_the_function_and_state(qtasks_run: Any) -> None:
    """A handle's repr says what it runs and where it is."""
    task = qtasks.run(double, 4)
    qtasks_run(task)
    assert "<ThreadTask double() finished>" == repr(task)

    gate = Gate()

    @qtasks.coroutine
    def waiter() -> Any:
        yield qtasks.gather(qtasks.run(gate))

    handle = waiter()
    assert "waiter() pending, waiting on <GatherTask of 1" in repr(handle)
    handle.cancel()
    gate.opened.set()


class UnprintableError(Exception):
    """An exception whose own __str__ fails."""

    def __str__(self) -> str:
        msg = "no text for this error"
        raise ValueError(msg)


def fail_unprintably() -> None:
    raise UnprintableError


def test_repr_of_a_task_failed_with_an_unprintable_exception_does_not_raise(qtasks_run: Any) -> None:
    """The repr names the exception's type when its __str__ raises, instead of raising itself."""
    task = qtasks.run(fail_unprintably)
    done, _pending = qtasks_run(qtasks.wait([task]))
    assert {task} == done
    expected = "failed with UnprintableError: <str() of the UnprintableError raised>"
    assert f"<ThreadTask fail_unprintably() {expected}>" == repr(task)
    assert isinstance(task.exception(), UnprintableError)


EXECUTOR = ThreadPoolExecutor(max_workers=1)


class Unrepresentable:
    """A callable with no __qualname__ whose own __repr__ fails."""

    def __call__(self, x: int = 1) -> int:
        return 2 * x

    def __repr__(self) -> str:
        msg = "no repr for this callable"
        raise ValueError(msg)


@pytest.mark.parametrize(
    "start",
    [
        lambda: qtasks.run(Unrepresentable(), 1),
        lambda: qtasks.map(Unrepresentable(), [1, 2]),
        lambda: qtasks.run_in(EXECUTOR, Unrepresentable(), 1),
        lambda: qtasks.run(fail_unprintably),
    ],
    ids=["run", "map", "run_in", "failed"],
)
def test_repr_and_str_of_every_handle_never_raise(qtasks_run: Any, start: Any) -> None:
    """repr() and str() of a handle whose function's repr or exception's str raises name its type instead."""
    task = start()
    assert repr(task) == str(task)
    assert "Unrepresentable object" in repr(task) or "fail_unprintably()" in repr(task)
    qtasks_run(qtasks.wait([task]))
    assert repr(task) == str(task)
    assert repr(task).endswith(("finished>", "<str() of the UnprintableError raised>>"))
    task.exception()  # consumed


class AttributesRaise:
    """A callable whose __getattr__ fails with something other than AttributeError."""

    def __call__(self, x: int = 1) -> int:
        return 2 * x

    def __getattr__(self, name: str) -> Any:
        msg = f"no attribute {name} here"
        raise ValueError(msg)


def test_a_callable_whose_getattr_raises_runs_and_is_named_by_its_repr(qtasks_run: Any) -> None:
    """qtasks.run() of a callable whose __getattr__ raises runs it; nothing half made stays live."""
    task = qtasks.run(AttributesRaise(), 4)
    assert "AttributesRaise object at" in repr(task)
    assert 8 == qtasks_run(task)
    assert [] == qtasks.running()


def test_repr_of_a_pool_whose_qthreadpool_was_deleted_does_not_raise(qapp: Any) -> None:
    """A Pool's repr still answers after its QThreadPool was deleted."""
    qpool = QThreadPool()
    pool = qtasks.Pool(pool=qpool)
    assert "<qtasks.Pool max_threads=" in repr(pool)
    delete(qpool)
    assert "<qtasks.Pool (its QThreadPool was deleted)>" == repr(pool)


def test_a_pool_whose_qthreadpool_was_deleted_refuses_work_with_the_fix(qapp: Any) -> None:
    """Pool.run() after its QThreadPool was deleted raises RuntimeError saying so; no handle is left live."""
    qpool = QThreadPool()
    pool = qtasks.Pool(pool=qpool)
    delete(qpool)
    expected = r"cannot run double\(\): its QThreadPool was deleted; keep the QThreadPool alive"
    with pytest.raises(RuntimeError, match=expected):
        pool.run(double, 1)
    assert [] == qtasks.running()


def test_running_lists_the_live_handles(qtasks_run: Any) -> None:
    """running() holds the handles that are not done."""
    gate = Gate()
    task = qtasks.run(gate)
    assert task in qtasks.running()
    task.cancel()
    assert task not in qtasks.running()
    gate.opened.set()
