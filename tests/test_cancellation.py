"""cancel(): True once, CancelledError where the coroutine waits, finally blocks run innermost first."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from support import Gate, double

import qtasks

# -- cancel() and CancelledError ----------------------------------------------


def test_cancel_twice_and_after_completion(qtasks_run: Any) -> None:
    """cancel() is True once, False afterwards, and False on a finished task."""
    gate = Gate()
    task = qtasks.run(gate)
    assert task.cancel() is True
    assert task.cancel() is False
    gate.opened.set()
    done = qtasks.run(double, 2)
    assert 4 == qtasks_run(done)
    assert done.cancel() is False
    assert 4 == done.result()


def test_cancelled_error_is_a_base_exception() -> None:
    """`except Exception` does not catch CancelledError."""
    assert not issubclass(qtasks.CancelledError, Exception)
    assert issubclass(qtasks.TimeoutError, TimeoutError)


def test_cancelling_a_coroutine_cancels_what_it_waits_on(qtasks_run: Any, qtbot: Any) -> None:
    """The awaited child is cancelled with its coroutine."""
    gate = Gate()
    child = qtasks.run(gate)

    @qtasks.coroutine
    def body() -> Any:
        yield child

    handle = body()
    handle.cancel()
    assert child.cancelled()
    qtbot.waitUntil(handle.done)
    gate.opened.set()


def test_finally_re_enables_the_button_after_cancel(qtasks_run: Any, qtbot: Any) -> None:
    """A cancelled slot's finally block runs: the button is enabled again."""
    from qt import QPushButton

    button = QPushButton("Open")
    gate = Gate()

    @qtasks.coroutine
    def on_open() -> Any:
        button.setEnabled(False)
        try:
            yield qtasks.run(gate)
        finally:
            button.setEnabled(True)

    handle = on_open()
    assert not button.isEnabled()
    handle.cancel()
    qtbot.waitUntil(handle.done)
    assert button.isEnabled()
    gate.opened.set()


def test_cancelled_coroutine_can_catch_and_return(qtasks_run: Any) -> None:
    """A coroutine that catches CancelledError ends with whatever it returns."""
    gate = Gate()

    @qtasks.coroutine
    def body() -> Any:
        try:
            yield qtasks.run(gate)
        except qtasks.CancelledError:
            return "cleaned up"

    handle = body()
    handle.cancel()
    assert "cleaned up" == qtasks_run(handle)
    gate.opened.set()


def test_coroutine_that_cancels_itself_and_returns_ends_cancelled(qtasks_run: Any) -> None:
    """cancel() said True, so a coroutine that returns before suspending again ends cancelled."""
    handles: list[qtasks.CoroutineTask[Any]] = []

    @qtasks.coroutine
    def body() -> Any:
        yield qtasks.run(int, "1")
        assert handles[0].cancel() is True
        return "returned"

    handles.append(body())
    with pytest.raises(qtasks.CancelledError):
        qtasks_run(handles[0])
    assert handles[0].cancelled()


# -- chains of coroutines -----------------------------------------------------


@qtasks.coroutine
def link(child: qtasks.Task[Any]) -> Any:
    """Await `child` and return its result: one link of a chain."""
    return (yield child)


def deep_chain(bottom: qtasks.Task[Any]) -> list[qtasks.Task[Any]]:
    """Return coroutines each awaiting the one before, more of them than the recursion limit."""
    chain = [link(bottom)]
    for _ in range(sys.getrecursionlimit() + 100):
        chain.append(link(chain[-1]))
    return chain


def test_cancelling_a_chain_deeper_than_the_recursion_limit(qtbot: Any) -> None:
    """cancel() on a coroutine at the top of a chain of coroutines awaiting each other cancels them all."""
    bottom = qtasks.sleep(60)
    chain = deep_chain(bottom)
    assert chain[-1].cancel()
    qtbot.waitUntil(chain[0].done)
    assert [True] * len(chain) == [task.cancelled() for task in chain]
    assert bottom.cancelled()


def test_cancelling_a_chain_unwinds_the_innermost_coroutine_first(qtasks_run: Any) -> None:
    """The finally blocks of a cancelled chain of coroutines run from the innermost out."""
    log: list[str] = []

    @qtasks.coroutine
    def level(name: str, child: qtasks.Task[Any]) -> Any:
        try:
            yield child
        finally:
            log.append(name)

    inner = level("inner", qtasks.sleep(60))
    outer = level("outer", level("middle", inner))
    assert outer.cancel()
    with pytest.raises(qtasks.CancelledError):
        qtasks_run(outer)
    assert ["inner", "middle", "outer"] == log


def test_messages_naming_a_chain_deeper_than_the_recursion_limit_still_raise(
    qtasks_run: Any, qtbot: Any
) -> None:
    """result() too early and an expired timeout() raise their own errors for a very deep chain."""
    top = deep_chain(qtasks.sleep(60))[-1]
    assert 4 == repr(top).count("waiting on")
    with pytest.raises(RuntimeError, match="not done yet"):
        top.result()
    with pytest.raises(qtasks.TimeoutError, match="did not finish in time"):
        qtasks_run(qtasks.timeout(0, top))
    qtbot.waitUntil(top.done)
    assert top.cancelled()
