"""@qtasks.coroutine: generator and async def alike, resumed on the GUI thread; mistakes name their fix."""

from __future__ import annotations

import gc
import sys
import threading
import traceback
from typing import Any

import pytest
from qt import QThread
from support import double, fail_with_value_error

import qtasks

# -- awaiting work ------------------------------------------------------------


def test_handle_click_generator_style(qtasks_run: Any) -> None:
    """A generator coroutine gets the worker's return value at its yield."""

    @qtasks.coroutine
    def handle_click() -> Any:
        value = yield qtasks.run(double, 33)
        return value

    assert 66 == qtasks_run(handle_click())


def test_handle_click_async_style(qtasks_run: Any) -> None:
    """An async def coroutine gets the worker's return value from await."""

    @qtasks.coroutine
    async def handle_click() -> int:
        return await qtasks.run(double, 33)

    assert 66 == qtasks_run(handle_click())


@pytest.mark.parametrize("style", ["generator", "async"])
def test_worker_exception_is_thrown_in_with_its_traceback(qtasks_run: Any, style: str) -> None:
    """The worker's own exception arrives at the yield, its frames in the traceback."""
    caught: list[BaseException] = []
    if style == "generator":

        @qtasks.coroutine
        def handle() -> Any:
            try:
                yield qtasks.run(fail_with_value_error, 7)
            except ValueError as exc:
                caught.append(exc)

    else:

        @qtasks.coroutine
        async def handle() -> None:
            try:
                await qtasks.run(fail_with_value_error, 7)
            except ValueError as exc:
                caught.append(exc)

    qtasks_run(handle())
    [exc] = caught
    assert "bad value 7" == str(exc)
    frames = [frame.name for frame in traceback.extract_tb(exc.__traceback__)]
    assert "fail_with_value_error" == frames[-1]


def test_coroutines_chain_three_deep(qtasks_run: Any) -> None:
    """A coroutine's handle can be yielded by another, to any depth, in both styles."""

    @qtasks.coroutine
    def inner(x: int) -> Any:
        return (yield qtasks.run(double, x))

    @qtasks.coroutine
    async def middle(x: int) -> int:
        return await inner(x) + 1

    @qtasks.coroutine
    def outer(x: int) -> Any:
        value = yield middle(x)
        return value * 10

    assert 70 == qtasks_run(outer(3))


def test_yield_from_a_plain_sub_generator(qtasks_run: Any) -> None:
    """`yield from` a plain generator works inside a generator coroutine."""

    def helper(x: int) -> Any:
        value = yield qtasks.run(double, x)
        return value + 1

    @qtasks.coroutine
    def outer() -> Any:
        return (yield from helper(4))

    assert 9 == qtasks_run(outer())


def test_a_loop_over_done_tasks_does_not_recurse(qtasks_run: Any) -> None:
    """Yielding 100 000 already-finished tasks in a row neither recurses nor stalls."""
    finished = qtasks.run(double, 1)
    qtasks_run(finished)

    @qtasks.coroutine
    def body() -> Any:
        total = 0
        for _ in range(100_000):
            total += yield finished
        return total

    assert 200_000 == qtasks_run(body())


CHAIN_DEPTH = 10_000


def _chain(style: str, innermost: Any) -> Any:
    """Return a coroutine function whose call at depth d awaits its own call at d - 1, down to `innermost`."""
    if style == "generator":

        @qtasks.coroutine
        def level_gen(depth: int) -> Any:
            if depth == 0:
                return (yield innermost)
            return 1 + (yield level_gen(depth - 1))

        return level_gen

    @qtasks.coroutine
    async def level_async(depth: int) -> Any:
        if depth == 0:
            return await innermost
        return 1 + await level_async(depth - 1)

    return level_async


@pytest.mark.parametrize("style", ["generator", "async"])
def test_a_chain_ten_thousand_deep_completes(qtasks_run: Any, style: str) -> None:
    """10 000 coroutines each awaiting the next, the last awaiting qtasks.run, finish without recursing."""
    level = _chain(style, qtasks.run(double, 5))
    assert CHAIN_DEPTH + 10 == qtasks_run(level(CHAIN_DEPTH), timeout=60)


@pytest.mark.parametrize("style", ["generator", "async"])
def test_a_chain_ten_thousand_deep_fails_and_cancels_without_recursion(
    qtasks_manual_pool: Any, style: str
) -> None:
    """A failure at the bottom of a 10 000-deep chain reaches the top; a cancel at the top, the bottom."""
    failing, blocked = qtasks.run(double, 1), qtasks.run(double, 2)
    failed_chain = _chain(style, failing)(CHAIN_DEPTH)
    cancelled_chain = _chain(style, blocked)(CHAIN_DEPTH)
    ended: list[Any] = []
    failed_chain.add_done_callback(ended.append)  # takes the failure: not reported
    qtasks._runtime.bridge().run_pending()  # the deferred starts reach the bottom
    qtasks_manual_pool.fail(failing, ValueError("at the bottom"))
    qtasks._runtime.bridge().run_pending()
    assert cancelled_chain.cancel()
    qtasks._runtime.bridge().run_pending()
    assert [failed_chain] == ended
    with pytest.raises(ValueError, match="at the bottom"):
        failed_chain.result()
    assert (True, True) == (cancelled_chain.cancelled(), blocked.cancelled())


def test_cancelling_a_deep_chain_before_its_deferred_starts_ends_it_all(
    qtasks_manual_pool: Any, hook_calls: list[BaseException]
) -> None:
    """A chain cancelled before its deeper bodies started ends cancelled; those bodies never run."""
    started: list[int] = []

    @qtasks.coroutine
    def level(depth: int) -> Any:
        started.append(depth)
        if depth > 0:
            yield level(depth - 1)
        else:
            yield qtasks.run(double, 1)

    top = level(100)
    started_synchronously = list(started)
    assert top.cancel()
    qtasks._runtime.bridge().run_pending()
    assert top.cancelled()
    assert started_synchronously == started
    assert [] == qtasks_manual_pool.pending
    assert [] == hook_calls


def test_a_call_nested_past_forty_starts_on_the_next_step(qtasks_manual_pool: Any) -> None:
    """Bodies starting 40 deep run synchronously; a call nested deeper starts its body on the next step."""
    started: list[int] = []

    @qtasks.coroutine
    def level(depth: int) -> Any:
        started.append(depth)
        if depth > 0:
            yield level(depth - 1)
        else:
            yield qtasks.run(double, 1)

    top = level(40)
    assert list(range(40, 0, -1)) == started
    qtasks._runtime.bridge().run_pending()
    assert list(range(40, -1, -1)) == started
    qtasks_manual_pool.run_all()
    assert top.done()


# -- the GUI thread -----------------------------------------------------------


def test_runs_synchronously_to_the_first_suspension(qapp: Any) -> None:
    """Calling a coroutine runs its body up to the first yield before returning."""
    log: list[str] = []

    @qtasks.coroutine
    def body() -> Any:
        log.append("started")
        yield qtasks.run(double, 1)
        log.append("resumed")

    task = body()
    assert ["started"] == log
    assert not task.done()
    task.cancel()


def test_coroutine_resumes_on_the_gui_thread(qtasks_run: Any) -> None:
    """Every resumption happens on the thread the coroutine started on."""
    threads: list[int] = []

    @qtasks.coroutine
    def body() -> Any:
        for i in range(20):
            threads.append(threading.get_ident())
            yield qtasks.run(double, i)
        threads.append(threading.get_ident())

    qtasks_run(body())
    assert {threading.get_ident()} == set(threads)


def test_coroutines_resume_on_the_applications_thread(qapp: Any, qtasks_run: Any) -> None:
    """A coroutine started on the application's thread resumes there after every kind of wait."""
    assert QThread.currentThread() is qapp.thread()
    threads: list[int] = []

    @qtasks.coroutine
    async def body() -> None:
        threads.append(threading.get_ident())
        await qtasks.run(double, 1)
        threads.append(threading.get_ident())
        await qtasks.gather(qtasks.run(double, 2), qtasks.run(double, 3))
        threads.append(threading.get_ident())
        await qtasks.map(double, range(100))
        threads.append(threading.get_ident())

    qtasks_run(body())
    assert 4 * [threading.get_ident()] == threads


def test_a_coroutine_started_off_the_gui_thread_raises_and_nothing_else(qapp: Any) -> None:
    """A coroutine started on a worker thread raises RuntimeError there; its dropped handle prints nothing."""
    errors: list[str] = []
    unraisable: list[object] = []

    @qtasks.coroutine
    def body() -> Any:
        yield qtasks.sleep(0)

    def start_here() -> None:
        try:
            body()
        except RuntimeError as exc:
            errors.append(str(exc))  # not the exception: its traceback holds the handle

    previous = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        thread = threading.Thread(target=start_here)
        thread.start()
        thread.join()
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert [True] == ["started off the GUI thread" in message for message in errors]
    assert [] == unraisable


# -- mistakes, named with their fix -------------------------------------------


def test_yielding_a_non_awaitable_raises_type_error_inside(qtasks_run: Any) -> None:
    """A yielded non-awaitable raises TypeError at that yield, naming the value."""

    @qtasks.coroutine
    def body() -> Any:
        try:
            yield 42
        except TypeError as exc:
            return str(exc)
        return "no error"

    message = qtasks_run(body())
    assert "42" in message
    assert "not awaitable" in message


class _ReprRaises:
    """A value whose __repr__ fails."""

    def __repr__(self) -> str:
        raise ValueError("repr failed")


@pytest.mark.parametrize("after_a_wakeup", [False, True], ids=["first step", "later step"])
def test_yielding_a_value_whose_repr_raises_still_raises_type_error_inside(
    qtasks_run: Any, after_a_wakeup: bool
) -> None:
    """A yielded value whose repr raises is named by its type in the TypeError; nothing escapes the step."""

    @qtasks.coroutine
    def body() -> Any:
        if after_a_wakeup:
            yield qtasks.sleep(0)
        value = _ReprRaises()
        try:
            yield value
        except TypeError as exc:
            return str(exc)
        return "no error"

    assert qtasks_run(body()).startswith(
        "a qtasks coroutine yielded <_ReprRaises object>, which is not awaitable"
    )


def test_yielding_a_list_suggests_gather(qtasks_run: Any) -> None:
    """Yielding a list of tasks points the user to gather."""

    @qtasks.coroutine
    def body() -> Any:
        tasks = [qtasks.run(double, 1)]
        try:
            yield tasks
        except TypeError as exc:
            return str(exc)
        finally:
            yield qtasks.gather(*tasks)

    assert "qtasks.gather" in qtasks_run(body())


def test_yielding_a_plain_generator_suggests_yield_from(qtasks_run: Any) -> None:
    """A sub-generator yielded instead of delegated to points the user to `yield from`."""

    def helper() -> Any:
        yield qtasks.sleep(0)

    @qtasks.coroutine
    def body() -> Any:
        try:
            yield helper()
        except TypeError as exc:
            return str(exc)
        return "no error"

    assert qtasks_run(body()).endswith("not awaitable: use `yield from` to run a plain sub-generator")


def test_decorating_a_plain_function_raises_at_decoration() -> None:
    """@coroutine on a function with no yield and no async raises TypeError at once."""

    def plain() -> int:
        return 1

    with pytest.raises(TypeError, match=r"generator function or an async def.*plain"):
        qtasks.coroutine(plain)


def test_decorating_an_async_generator_says_to_await_instead_of_yield() -> None:
    """@coroutine on an async def that yields names it and says to await instead."""

    async def yields() -> Any:
        yield qtasks.sleep(0)

    with pytest.raises(TypeError, match=r"got <function .*yields.*async generator: await tasks instead"):
        qtasks.coroutine(yields)


def test_arguments_the_coroutine_does_not_take_fail_its_handle(qtasks_run: Any) -> None:
    """A call with arguments the function does not accept returns a failed handle instead of raising."""

    @qtasks.coroutine
    def takes_none() -> Any:
        yield qtasks.sleep(0)

    handle = takes_none(False)  # type: ignore[call-arg]  # as clicked(bool) would call it
    assert handle.done()
    with pytest.raises(TypeError, match="takes 0 positional arguments") as caught:
        qtasks_run(handle)
    assert "@qtasks.slot" in str(getattr(caught.value, "__notes__", ""))


def test_a_coroutine_awaiting_its_own_handle_gets_an_error(qtasks_run: Any) -> None:
    """Awaiting one's own handle raises RuntimeError at that yield instead of hanging."""
    handles: list[qtasks.CoroutineTask[Any]] = []

    @qtasks.coroutine
    def body() -> Any:
        yield qtasks.run(int, "1")
        try:
            yield handles[0]
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    handles.append(body())
    assert "awaits its own handle" in qtasks_run(handles[0])
