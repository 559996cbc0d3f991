"""run_async and wrap of asyncio futures: asyncio libraries behind a qtasks await."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from support import Gate, run_python

import qtasks

LOOP_THREAD = "qtasks-asyncio"


@pytest.fixture
def app_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An application's own asyncio loop, running on a thread of its own."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="app-loop", daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


async def add(a: int, b: int) -> tuple[int, str]:
    """Return a + b after a turn of the loop, and the name of the thread it ran on."""
    await asyncio.sleep(0)
    return a + b, threading.current_thread().name


async def fail(text: str) -> None:
    """Raise ValueError(text) after a turn of the loop."""
    await asyncio.sleep(0)
    raise ValueError(text)


def test_the_result_resumes_the_awaiting_coroutine_on_the_gui_thread(qtasks_run: Any) -> None:
    """run_async(fn, *args) runs fn on the qtasks asyncio thread; the coroutine resumes on the GUI thread."""

    @qtasks.coroutine
    def caller():  # type: ignore[no-untyped-def]
        result = yield qtasks.run_async(add, 1, b=2)
        return result, threading.current_thread() is threading.main_thread()

    assert ((3, LOOP_THREAD), True) == qtasks_run(caller())


def test_a_coroutine_object_is_accepted(qtasks_run: Any) -> None:
    """run_async(coro) runs a coroutine object, as asyncio users write it."""
    assert (7, LOOP_THREAD) == qtasks_run(qtasks.run_async(add(3, 4)))


def test_an_exception_arrives_with_its_traceback(qtasks_run: Any) -> None:
    """The coroutine's exception is raised in the awaiting coroutine with the frames where it was raised."""

    @qtasks.coroutine
    def caller():  # type: ignore[no-untyped-def]
        try:
            yield qtasks.run_async(fail, "boom")
        except ValueError as exc:
            return str(exc), [frame.name for frame in traceback.extract_tb(exc.__traceback__)][-1]

    assert ("boom", "fail") == qtasks_run(caller())


def test_a_failure_nobody_awaits_reaches_sys_excepthook(qtbot: Any, hook_calls: list[BaseException]) -> None:
    """The exception of a handle nobody awaits is reported to sys.excepthook once the handle is dropped."""
    handle = qtasks.run_async(fail, "unawaited")
    qtbot.waitUntil(handle.done, timeout=10_000)
    del handle
    gc.collect()
    assert ["unawaited"] == [str(exc) for exc in hook_calls]


def test_keyboard_interrupt_in_the_coroutine_reaches_its_handle_and_the_loop_goes_on(qtasks_run: Any) -> None:
    """A KeyboardInterrupt raised by the coroutine fails its handle; the loop keeps serving calls."""

    async def interrupted() -> None:
        raise KeyboardInterrupt("stop")

    with pytest.raises(KeyboardInterrupt, match="^stop$"):
        qtasks_run(qtasks.run_async(interrupted))
    assert (2, LOOP_THREAD) == qtasks_run(qtasks.run_async(add, 1, 1))


def test_one_loop_on_its_own_thread_serves_every_call(qtasks_run: Any) -> None:
    """Every run_async call without loop= runs on the same loop, on one thread that is not a pool thread."""

    async def where() -> tuple[asyncio.AbstractEventLoop, int]:
        return asyncio.get_running_loop(), threading.get_ident()

    first = qtasks_run(qtasks.run_async(where))
    second = qtasks_run(qtasks.run_async(where))
    assert first == second
    assert [LOOP_THREAD] == [t.name for t in threading.enumerate() if t.ident == first[1]]


def test_cancelling_the_handle_ends_it_at_once_and_cancels_the_asyncio_task(qtbot: Any) -> None:
    """cancel() ends the handle at once; the coroutine's except CancelledError and finally run on the loop."""
    started = threading.Event()
    trace: list[tuple[str, str]] = []

    async def wait_forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            trace.append(("cancelled", threading.current_thread().name))
            raise
        finally:
            trace.append(("finally", threading.current_thread().name))

    handle = qtasks.run_async(wait_forever)
    assert started.wait(10)
    assert handle.cancel()
    assert handle.cancelled()
    qtbot.waitUntil(lambda: len(trace) == 2, timeout=10_000)
    assert [("cancelled", LOOP_THREAD), ("finally", LOOP_THREAD)] == trace


def test_a_late_result_is_dropped(qtbot: Any, hook_calls: list[BaseException]) -> None:
    """A coroutine that swallows the cancellation and returns leaves its handle cancelled, silently."""
    started = threading.Event()
    returned: list[str] = []

    async def stubborn() -> str:
        started.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        returned.append("late")
        return "late"

    handle = qtasks.run_async(stubborn)
    assert started.wait(10)
    handle.cancel()
    qtbot.waitUntil(lambda: returned == ["late"], timeout=10_000)
    qtasks_sleep_a_step(qtbot)
    assert handle.cancelled()
    assert [] == hook_calls


def test_a_clean_up_failure_after_the_cancel_is_reported(qtbot: Any, hook_calls: list[BaseException]) -> None:
    """A coroutine whose finally raises after its handle was cancelled has that failure reported, once."""
    started = threading.Event()

    async def fails_to_clean_up() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            raise ValueError("clean-up failed")

    handle = qtasks.run_async(fails_to_clean_up)
    assert started.wait(10)
    handle.cancel()
    qtbot.waitUntil(lambda: bool(hook_calls), timeout=10_000)
    qtasks_sleep_a_step(qtbot)
    assert ["ValueError('clean-up failed')"] == [repr(exc) for exc in hook_calls]
    assert handle.cancelled()


def test_awaiting_a_qtasks_handle_in_asyncio_code_says_what_to_use(qtasks_run: Any) -> None:
    """A qtasks handle awaited in a run_async coroutine raises RuntimeError naming asyncio.to_thread."""
    gate = Gate()
    handle = qtasks.run(gate)

    async def awaits_a_qtasks_handle() -> object:
        return await handle

    expected = r"awaited on thread .*: qtasks handles are awaited by qtasks coroutines.*asyncio\.to_thread"
    with pytest.raises(RuntimeError, match=expected):
        qtasks_run(qtasks.run_async(awaits_a_qtasks_handle))
    gate.opened.set()
    qtasks_run(handle)


def qtasks_sleep_a_step(qtbot: Any) -> None:
    """Let the bridge deliver what the loop's thread has handed over."""
    step = qtasks.sleep(0.05)
    qtbot.waitUntil(step.done, timeout=10_000)


def test_an_asyncio_task_that_cancels_itself_cancels_the_handle(qtasks_run: Any) -> None:
    """An asyncio task that cancels itself ends its handle cancelled, and its awaiter sees CancelledError."""

    async def give_up() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(0)

    @qtasks.coroutine
    def caller():  # type: ignore[no-untyped-def]
        handle = qtasks.run_async(give_up)
        try:
            yield handle
        except qtasks.CancelledError:
            return handle.cancelled()

    assert True is qtasks_run(caller())


def test_wrap_adopts_an_asyncio_task_of_a_loop_on_another_thread(
    qtasks_run: Any, app_loop: asyncio.AbstractEventLoop
) -> None:
    """wrap(asyncio_task) finishes with the task's result, from the application's loop."""

    async def start() -> asyncio.Task[tuple[int, str]]:
        return asyncio.ensure_future(add(2, 3))

    task = asyncio.run_coroutine_threadsafe(start(), app_loop).result(10)
    assert (5, "app-loop") == qtasks_run(qtasks.wrap(task))


def test_cancelling_a_wrapped_asyncio_future_cancels_it_on_its_loop(
    qtbot: Any, app_loop: asyncio.AbstractEventLoop
) -> None:
    """Cancelling the handle of a wrapped asyncio future cancels the future on its own loop."""

    async def make() -> asyncio.Future[int]:
        return asyncio.get_running_loop().create_future()

    future = asyncio.run_coroutine_threadsafe(make(), app_loop).result(10)
    handle = qtasks.wrap(future)
    handle.cancel()
    assert handle.cancelled()
    qtbot.waitUntil(future.cancelled, timeout=10_000)


def test_loop_targets_an_applications_own_running_loop(
    qtasks_run: Any, app_loop: asyncio.AbstractEventLoop
) -> None:
    """run_async(..., loop=app_loop) runs the coroutine on that loop and its thread."""

    async def which() -> bool:
        return asyncio.get_running_loop() is app_loop

    assert True is qtasks_run(qtasks.run_async(which, loop=app_loop))
    assert (9, "app-loop") == qtasks_run(qtasks.run_async(add, 4, 5, loop=app_loop))


def test_report_progress_inside_the_coroutine_reaches_the_listeners(qtasks_run: Any) -> None:
    """report_progress() inside the async function reaches the listeners, the last value last."""
    seen: list[object] = []

    async def count() -> str:
        for i in range(1, 4):
            qtasks.report_progress(i)
            await asyncio.sleep(0.01)
        return "done"

    handle = qtasks.run_async(count)
    handle.on_progress(seen.append)
    assert "done" == qtasks_run(handle)
    assert 3 == seen[-1]


def test_cancel_requested_and_check_cancelled_see_the_cancel_of_their_own_task(qtbot: Any) -> None:
    """In a coroutine, cancel_requested() and check_cancelled() see the cancel of its own handle only."""
    gate = threading.Event()
    entered = threading.Event()
    seen: list[tuple[str, bool, str]] = []

    async def blocking(name: str) -> None:
        if name == "cancelled":
            entered.set()
            gate.wait(10)  # blocks the loop: no await can deliver asyncio's cancellation
        try:
            qtasks.check_cancelled()
            seen.append((name, qtasks.cancel_requested(), "went on"))
        except qtasks.CancelledError:
            seen.append((name, qtasks.cancel_requested(), "raised"))
            raise

    cancelled = qtasks.run_async(blocking, "cancelled")
    assert entered.wait(10)
    other = qtasks.run_async(blocking, "other")
    cancelled.cancel()
    gate.set()
    qtbot.waitUntil(lambda: len(seen) == 2 and other.done(), timeout=10_000)
    assert [("cancelled", True, "raised"), ("other", False, "went on")] == seen
    assert False is qtasks.cancel_requested()


def test_shutdown_runs_the_finally_blocks_and_a_later_call_starts_a_fresh_loop(qtasks_run: Any) -> None:
    """shutdown() cancels the tasks, runs their finally, ends the thread; run_async then starts a new loop."""
    started = threading.Event()
    trace: list[str] = []

    async def wait_forever() -> tuple[asyncio.AbstractEventLoop, int]:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # clean-up may await
            trace.append("finally")
        return asyncio.get_running_loop(), threading.get_ident()

    async def where() -> tuple[asyncio.AbstractEventLoop, int]:
        return asyncio.get_running_loop(), threading.get_ident()

    old_loop, old_thread = qtasks_run(qtasks.run_async(where))
    handle = qtasks.run_async(wait_forever)
    assert started.wait(10)
    assert [] == qtasks.shutdown(timeout=10)
    assert ["finally"] == trace
    assert handle.cancelled()
    assert old_loop.is_closed()
    assert [] == [t for t in threading.enumerate() if t.ident == old_thread]
    new_loop, _ = qtasks_run(qtasks.run_async(where))
    assert new_loop is not old_loop


def test_shutdown_cancels_coroutines_started_on_the_loop_by_other_means(qtasks_run: Any) -> None:
    """Tasks a coroutine spawned on the qtasks loop are cancelled by shutdown() too, their finally run."""
    trace: list[str] = []

    async def background() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            trace.append("background finally")

    async def spawn() -> None:
        spawned.append(asyncio.get_running_loop().create_task(background()))
        await asyncio.sleep(0)

    spawned: list[asyncio.Task[None]] = []
    qtasks_run(qtasks.run_async(spawn))
    qtasks.shutdown(timeout=10)
    assert ["background finally"] == trace


def test_shutdown_gives_up_on_a_coroutine_that_blocks_its_loop(qtbot: Any) -> None:
    """shutdown(timeout) returns the handle of a coroutine blocking its loop past the timeout, and warns."""
    release = threading.Event()
    entered = threading.Event()
    ended: list[str] = []

    async def block() -> None:
        entered.set()
        release.wait(30)
        ended.append("returned")

    handle = qtasks.run_async(block)
    assert entered.wait(10)
    with pytest.warns(RuntimeWarning, match=r"^qtasks.shutdown: 1 function\(s\) still running after 0.2 s"):
        still_running = qtasks.shutdown(timeout=0.2)
    assert [handle] == still_running
    assert handle.cancelled()
    release.set()
    qtbot.waitUntil(lambda: ended == ["returned"], timeout=10_000)


# -- bad input ---------------------------------------------------------------


def plain(x: int) -> int:
    calls.append(x)
    return x


def plain_none() -> None:
    calls.append(0)


def generator() -> Iterator[int]:
    yield 1


calls: list[int] = []


@pytest.mark.parametrize(
    ("fn", "name"),
    [(plain, "plain"), (plain_none, "plain_none")],
)
def test_a_plain_function_is_refused_without_running_it(qapp: Any, fn: Any, name: str) -> None:
    """A plain function, returning a value or not, is refused with a hint at async def and qtasks.run."""
    calls.clear()
    msg = (
        f"qtasks.run_async needs an async def function or a coroutine object, got the plain function "
        f"{name}: define it with async def, or use qtasks.run\\({name}, ...\\) to run a plain function "
        "on the thread pool"
    )
    with pytest.raises(TypeError, match=f"^{msg}$"):
        qtasks.run_async(fn, 1) if fn is plain else qtasks.run_async(fn)
    assert [] == calls


def test_a_generator_function_is_refused(qapp: Any) -> None:
    """A generator function is refused with a hint at async def and @qtasks.coroutine."""
    msg = (
        "qtasks.run_async needs an async def function, got a generator function generator: write it as "
        "async def that returns its result, or run a generator coroutine with @qtasks.coroutine instead"
    )
    with pytest.raises(TypeError, match=f"^{msg}$"):
        qtasks.run_async(generator)


def test_an_awaited_coroutine_is_refused(qtasks_run: Any) -> None:
    """A coroutine object that ran already is refused: a coroutine runs once."""
    coro = add(1, 2)
    qtasks_run(qtasks.run_async(coro))
    msg = (
        r"qtasks.run_async got the coroutine add, which was awaited already \(CORO_CLOSED\): a "
        r"coroutine object runs once; pass the async function and its arguments, run_async\(fetch, "
        r"url\), or a fresh coroutine object"
    )
    with pytest.raises(RuntimeError, match=f"^{msg}$"):
        qtasks.run_async(coro)


def test_an_asyncio_future_is_refused_with_a_hint_at_wrap(
    qapp: Any, app_loop: asyncio.AbstractEventLoop
) -> None:
    """A future bound to another loop is refused by run_async with a hint at qtasks.wrap()."""

    async def make() -> asyncio.Future[int]:
        return asyncio.get_running_loop().create_future()

    future = asyncio.run_coroutine_threadsafe(make(), app_loop).result(10)
    hint = r"which is bound to its own loop: adopt it with qtasks.wrap\(future\)"
    with pytest.raises(TypeError, match=hint):
        qtasks.run_async(future)  # type: ignore[arg-type]
    app_loop.call_soon_threadsafe(future.cancel)


def test_a_coroutine_awaiting_a_future_of_another_loop_fails_with_asyncios_error(
    qtasks_run: Any, app_loop: asyncio.AbstractEventLoop
) -> None:
    """A coroutine bound to another loop's future fails its handle with asyncio's 'different loop' error."""

    async def make() -> asyncio.Future[int]:
        return asyncio.get_running_loop().create_future()

    future = asyncio.run_coroutine_threadsafe(make(), app_loop).result(10)

    async def await_foreign() -> int:
        return await future

    with pytest.raises(RuntimeError, match="attached to a different loop"):
        qtasks_run(qtasks.run_async(await_foreign))
    app_loop.call_soon_threadsafe(future.cancel)


def test_a_closed_loop_is_refused(qapp: Any) -> None:
    """loop= a closed loop is refused, naming the fix."""
    loop = asyncio.new_event_loop()
    loop.close()
    coro = add(1, 2)
    msg = (
        rf"qtasks.run_async\(..., loop=...\): loop={loop!r} is closed: pass a loop that runs on another "
        r"thread \(loop.run_forever\(\) there\), or omit loop= to use qtasks' own loop"
    )
    with pytest.raises(RuntimeError, match=f"^{msg}$"):
        qtasks.run_async(coro, loop=loop)
    coro.close()


def test_a_loop_that_is_not_running_is_refused(qapp: Any) -> None:
    """loop= a loop nobody runs is refused, naming the fix."""
    loop = asyncio.new_event_loop()
    msg = (
        rf"qtasks.run_async\(..., loop=...\): loop={loop!r} is not running: start it first on a thread "
        r"of its own \(threading.Thread\(target=loop.run_forever\).start\(\)\), or omit loop= to use "
        r"qtasks' own loop"
    )
    with pytest.raises(RuntimeError, match=f"^{msg}$"):
        qtasks.run_async(add, 1, 2, loop=loop)
    loop.close()


def test_run_async_off_the_gui_thread_is_refused(qapp: Any) -> None:
    """run_async called on another thread raises RuntimeError naming the fix, and runs nothing."""
    ran: list[int] = []
    errors: list[BaseException] = []

    async def work() -> None:
        ran.append(1)

    def call() -> None:
        try:
            qtasks.run_async(work)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(10)
    assert [
        "qtasks.run_async was called off the GUI thread; its handle belongs to the GUI thread: call it "
        "from a coroutine or slot, or, on the asyncio loop itself, await the coroutine directly"
    ] == [str(exc) for exc in errors]
    assert [] == ran


def test_run_async_before_any_qapplication_is_refused() -> None:
    """In a fresh process without a QApplication, run_async raises, naming the fix, and nothing runs."""
    code = (
        "import asyncio, qtasks, warnings\n"
        "warnings.simplefilter('error')\n"
        "ran = []\n"
        "async def work():\n"
        "    ran.append(1)\n"
        "try:\n"
        "    qtasks.run_async(work())\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n"
        "print(ran)\n"
    )
    proc = run_python("-c", code, timeout=60)
    assert [
        "qtasks needs a QApplication (or QCoreApplication): create one before starting tasks or "
        "coroutines, e.g. app = QApplication(sys.argv) first thing in main()",
        "[]",
    ] == proc.stdout.splitlines(), proc.stderr
    assert "" == proc.stderr


def test_quitting_with_run_async_work_in_flight_exits_cleanly() -> None:
    """app.quit() with coroutines waiting on the asyncio loop runs their finally and exits normally."""
    proc = run_python("tests/faults/asyncio_at_quit.py", timeout=60)
    assert 0 == proc.returncode, proc.stderr
    assert ["exited normally", "finally 0", "finally 1", "finally 2"] == sorted(proc.stdout.splitlines())
    assert [] == [line for line in proc.stderr.splitlines() if not line.startswith("QStandardPaths:")]


# -- a real asyncio client against a server on 127.0.0.1 ---------------------


class EchoServer:
    """A line-echo server on 127.0.0.1, run on the qtasks loop; it notes each connection's end.

    It never answers the line "hold", and waits for the client to leave.
    """

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.ended: list[str] = []  # appended on the loop's thread

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        try:
            if line != b"hold\n":
                writer.write(b"echo " + line)
                await writer.drain()
            with contextlib.suppress(ConnectionError):
                await reader.read()  # until the client closes its end
            self.ended.append(line.decode().strip())
        finally:
            writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def ask(port: int, text: str) -> str:
    """Send one line to 127.0.0.1:port and return the answer; close the connection, even when cancelled."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(text.encode() + b"\n")
        await writer.drain()
        return (await reader.readline()).decode().strip()
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.fixture
def echo_server(qtasks_run: Any) -> Iterator[EchoServer]:
    """An EchoServer listening on 127.0.0.1 for one test."""
    server = EchoServer()
    qtasks_run(qtasks.run_async(server.start))
    yield server
    qtasks_run(qtasks.run_async(server.stop))


def test_many_requests_gathered_at_once_each_get_their_answer(
    qtasks_run: Any, echo_server: EchoServer
) -> None:
    """Fifty asyncio.open_connection requests, gathered by qtasks at once, each get their own answer."""
    answers = qtasks_run(
        qtasks.gather(*(qtasks.run_async(ask, echo_server.port, f"r{i}") for i in range(50)))
    )
    assert [f"echo r{i}" for i in range(50)] == answers


def test_many_requests_gathered_by_asyncio_inside_one_coroutine(
    qtasks_run: Any, echo_server: EchoServer
) -> None:
    """An async function may itself gather many requests with asyncio.gather."""

    async def fetch_all(port: int) -> list[str]:
        return list(await asyncio.gather(*(ask(port, f"q{i}") for i in range(50))))

    assert [f"echo q{i}" for i in range(50)] == qtasks_run(qtasks.run_async(fetch_all, echo_server.port))


def test_cancelling_a_request_closes_its_connection_on_the_loop_side(
    qtbot: Any, qtasks_run: Any, echo_server: EchoServer
) -> None:
    """Cancelling the handle of a waiting request closes its connection, which the server sees end."""

    @qtasks.coroutine
    def fan_out():  # type: ignore[no-untyped-def]
        return (yield qtasks.gather(*(qtasks.run_async(ask, echo_server.port, f"a{i}") for i in range(3))))

    held = qtasks.run_async(ask, echo_server.port, "hold")
    assert ["echo a0", "echo a1", "echo a2"] == qtasks_run(fan_out())
    qtbot.waitUntil(lambda: len(echo_server.ended) == 3, timeout=10_000)
    held.cancel()
    qtbot.waitUntil(lambda: "hold" in echo_server.ended, timeout=10_000)
    assert held.cancelled()
    assert ["a0", "a1", "a2", "hold"] == sorted(echo_server.ended)
