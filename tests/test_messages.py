"""Errors for the mistakes of a first hour with qtasks name the fix."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import qtasks


def load(path: str) -> list[str]:
    return [path, path.upper()]


# -- a function called where a task was meant ---------------------------------


def test_yielding_what_a_plain_call_returned_suggests_qtasks_run(qtasks_run: Any) -> None:
    """`yield load(path)` says load already ran on the GUI thread and shows qtasks.run(load, path)."""

    @qtasks.coroutine
    def on_open(path: str) -> Any:
        data = yield load(path)
        return data

    expected = (
        r"yielded \['a', 'A'\], which is not awaitable: load\(path\) already ran here, on the GUI "
        r"thread, and returned this; to run it on a worker thread, yield qtasks\.run\(load, path\)$"
    )
    with pytest.raises(TypeError, match=expected):
        qtasks_run(on_open("a"))


def test_yielding_a_list_of_tasks_still_suggests_gather(qtasks_run: Any) -> None:
    """A list that holds tasks gets the gather hint, even when a call made it."""

    def start_all() -> list[qtasks.Task[list[str]]]:
        return [qtasks.run(load, "a"), qtasks.run(load, "b")]

    @qtasks.coroutine
    def body() -> Any:
        tasks = start_all()
        try:
            yield tasks
        except TypeError as exc:
            yield qtasks.gather(*tasks)
            return str(exc)
        return "no error"

    assert qtasks_run(body()).endswith(
        "which is not awaitable: yield qtasks.gather(*tasks) to wait for several"
    )


def test_awaiting_what_a_plain_call_returned_suggests_qtasks_run(qtasks_run: Any) -> None:
    """`await load(path)` in an async def gets a note showing qtasks.run(load, path)."""

    @qtasks.coroutine
    async def on_open(path: str) -> Any:
        return await load(path)

    expected = r"await qtasks\.run\(load, path\)\)$"
    with pytest.raises(TypeError, match=expected):
        qtasks_run(on_open("a"))


# -- asyncio inside a qtasks coroutine -----------------------------------------

ASYNCIO_HINT = (
    r"use qtasks\.sleep\(seconds\) for asyncio\.sleep\(seconds\), and await other asyncio code "
    r"through qtasks\.run_async\(main\), which runs it on an asyncio loop of its own"
)


def test_asyncio_sleep_in_a_qtasks_coroutine_suggests_qtasks_sleep(qtasks_run: Any) -> None:
    """`await asyncio.sleep(1)` fails with asyncio's own error plus a note naming qtasks.sleep."""

    @qtasks.coroutine
    async def pause() -> None:
        await asyncio.sleep(1)

    with pytest.raises(RuntimeError, match=r"no running event loop[\s\S]*" + ASYNCIO_HINT):
        qtasks_run(pause())


def test_asyncio_sleep_zero_in_a_qtasks_coroutine_gets_the_same_hint(qtasks_run: Any) -> None:
    """`await asyncio.sleep(0)`, which passes a bare None up, gets the asyncio hint, not a qtasks.run one."""

    @qtasks.coroutine
    async def pause() -> None:
        await asyncio.sleep(0)

    with pytest.raises(TypeError, match=r"yielded None, which is not awaitable: asyncio code needs"):
        qtasks_run(pause())


def test_an_asyncio_future_in_a_qtasks_coroutine_gets_the_asyncio_hint(qtasks_run: Any) -> None:
    """Awaiting an asyncio future names it and shows how to run asyncio code instead."""
    loop = asyncio.new_event_loop()
    try:

        @qtasks.coroutine
        async def wait_for_it() -> None:
            await loop.create_future()

        with pytest.raises(
            TypeError, match=r"yielded <Future pending>, which is not awaitable: .*" + ASYNCIO_HINT
        ):
            qtasks_run(wait_for_it())
    finally:
        loop.close()


def test_the_fix_the_asyncio_hint_shows_runs_the_asyncio_code(qtasks_run: Any) -> None:
    """The fix the hint shows works: qtasks.run_async(main) runs asyncio code and gives its result."""

    async def main() -> str:
        await asyncio.sleep(0.01)
        return "done"

    assert "done" == qtasks_run(qtasks.run_async(main))


# -- an undecorated generator --------------------------------------------------


def test_qtasks_run_of_an_undecorated_generator_suggests_the_decorator(qtasks_run: Any) -> None:
    """qtasks_run(gen()) of a generator function without @qtasks.coroutine names the decorator."""

    def on_open() -> Any:
        yield qtasks.sleep(0)

    with pytest.raises(
        TypeError, match=r"got <generator object .*on_open .*decorate its function with @qtasks\.coroutine"
    ):
        qtasks_run(on_open())


def test_gather_of_an_undecorated_generator_suggests_the_decorator(qapp: Any) -> None:
    """qtasks.gather(gen()) names the decorator too."""

    def on_open() -> Any:
        yield qtasks.sleep(0)

    with pytest.raises(
        TypeError, match=r"argument 0 is <generator .*decorate its function with @qtasks\.coroutine"
    ):
        qtasks.gather(on_open())


# -- timeout's argument order --------------------------------------------------


def test_timeout_with_its_arguments_swapped_names_the_order(qtasks_run: Any) -> None:
    """qtasks.timeout(task, 5) shows (seconds, awaitable), the reverse of asyncio.wait_for."""
    task = qtasks.run(load, "a")
    expected = (
        r"qtasks\.timeout\(<ThreadTask load\(\) .*>, 5\): seconds must be a number, got <ThreadTask .*>: "
        r"the seconds come first, qtasks\.timeout\(seconds, awaitable\), the reverse of "
        r"asyncio\.wait_for\(awaitable, timeout\)"
    )
    with pytest.raises(TypeError, match=expected):
        qtasks.timeout(task, 5)  # type: ignore[arg-type]
    assert ["a", "A"] == qtasks_run(task)


# -- streams -------------------------------------------------------------------


def numbers(n: int) -> Any:
    yield from range(n)


def load_all(path: str) -> list[str]:
    return [path]


def test_imap_of_a_non_iterable_shows_the_call(qapp: Any) -> None:
    """qtasks.imap(load, 5) names the value and shows the function-and-iterable form."""
    expected = (
        r"qtasks\.imap needs an iterable of items, got 5: pass the function and the iterable, "
        r"e\.g\. qtasks\.imap\(load, paths\)"
    )
    with pytest.raises(TypeError, match=expected):
        qtasks.imap(load, 5)  # type: ignore[arg-type]


def test_stream_of_a_plain_function_suggests_qtasks_run(qapp: Any) -> None:
    """A function returning a list is told to use qtasks.run, or to yield each value."""
    expected = (
        r"qtasks\.stream needs a generator function \(a def that yields\), got <function load_all .*>: "
        r"it returns its values at once, not one by one; for a function returning a list, use "
        r"qtasks\.run\(load_all, \.\.\.\) and await the list, or make it yield each value"
    )
    with pytest.raises(TypeError, match=expected):
        qtasks.stream(load_all, "a")


def test_stream_of_a_generator_object_shows_the_call(qapp: Any) -> None:
    """qtasks.stream(numbers(3)) is told to pass the function and its arguments."""
    expected = (
        r"qtasks\.stream needs a generator function \(a def that yields\), got <generator .*>: "
        r"pass the function and its arguments, e\.g\. qtasks\.stream\(read_lines, path\)"
    )
    gen = numbers(3)
    with pytest.raises(TypeError, match=expected):
        qtasks.stream(gen)  # type: ignore[arg-type]


def test_stream_with_a_buffer_below_one_names_a_good_one(qapp: Any) -> None:
    """buffer=0 raises ValueError naming the value and a good one."""
    expected = (
        r"qtasks\.stream\(buffer=0\): buffer must be a whole number >= 1, the most values "
        r"that may wait for the consumer, e\.g\. buffer=16"
    )
    with pytest.raises(ValueError, match=expected):
        qtasks.stream(numbers, 3, buffer=0)


def test_next_after_the_end_says_the_stream_has_ended(qtasks_run: Any) -> None:
    """next() on a stream that gave its end says a stream is consumed once."""

    async def drain(stream: qtasks.Stream[int]) -> list[int]:
        return [value async for value in stream]

    stream = qtasks.imap(len, ["a", "bb"])
    assert [1, 2] == qtasks_run(qtasks.coroutine(drain)(stream))
    expected = (
        r"next\(\) on <qtasks\.Stream imap len\(\) .*>, which has ended: a stream is consumed once; "
        r"start a new one to go over the values again"
    )
    with pytest.raises(RuntimeError, match=expected):
        stream.next()


def test_next_after_cancel_says_the_stream_was_closed(qapp: Any) -> None:
    """next() on a cancelled stream says it was closed."""
    stream = qtasks.stream(numbers, 3)
    stream.cancel()
    with pytest.raises(RuntimeError, match=r"which was closed: a stream is consumed once"):
        stream.next()


def test_two_consumers_at_once_are_told_there_is_one(qapp: Any) -> None:
    """A second next() while a consumer waits says a stream has one consumer at a time."""
    stream = qtasks.stream(numbers, 3)
    first = stream.next()
    expected = (
        r"while another consumer waits on it: a stream has one consumer at a time; "
        r"share the values from one loop, or start one stream each"
    )
    with pytest.raises(RuntimeError, match=expected):
        stream.next()
    stream.cancel()
    assert first.cancelled()
