"""The core: run, coroutines, errors, cancellation, done callbacks."""

from __future__ import annotations

import gc
import json
import sys
import textwrap
import threading
import traceback
from typing import Any

import pytest
from qt import QThread, QThreadPool
from support import Gate, run_python

import qtasks


def double(x: int) -> int:
    return 2 * x


def fail_with_value_error(x: int) -> int:
    raise ValueError(f"bad value {x}")


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


def test_gather_ten_thousand_results_in_order(qtasks_run: Any) -> None:
    """gather returns every result in argument order."""

    @qtasks.coroutine
    def body() -> Any:
        return (yield qtasks.gather(*(qtasks.run(double, i) for i in range(10_000))))

    assert [2 * i for i in range(10_000)] == qtasks_run(body(), timeout=60)


def test_gather_of_nothing_is_an_empty_list(qtasks_run: Any) -> None:
    """gather() gives []."""
    assert [] == qtasks_run(qtasks.gather())


def test_gather_first_failure_raises_and_cancels_the_rest(qtasks_run: Any) -> None:
    """The first child to fail fails the gather and cancels its siblings."""
    gate = Gate()
    failing = qtasks.run(fail_with_value_error, 3)
    blocked = qtasks.run(gate)
    gathered = qtasks.gather(blocked, failing)
    with pytest.raises(ValueError, match="bad value 3"):
        qtasks_run(gathered)
    assert blocked.cancelled()
    gate.opened.set()


def test_gather_return_exceptions_puts_them_in_the_list(qtasks_run: Any) -> None:
    """With return_exceptions the exceptions take their places in the results."""
    results = qtasks_run(
        qtasks.gather(qtasks.run(double, 1), qtasks.run(fail_with_value_error, 2), return_exceptions=True)
    )
    assert 2 == results[0]
    assert isinstance(results[1], ValueError)


def test_cancelling_a_gather_cancels_its_children(qtasks_run: Any) -> None:
    """Cancelling the gather cancels every child."""
    gate = Gate()
    children = [qtasks.run(gate) for _ in range(4)]
    gathered = qtasks.gather(*children)
    assert gathered.cancel()
    assert all(child.cancelled() for child in children)
    with pytest.raises(qtasks.CancelledError):
        gathered.result()
    gate.opened.set()


def test_gather_rejects_non_awaitables() -> None:
    """gather names the argument that cannot be awaited."""
    with pytest.raises(TypeError, match=r"argument 1 is 'x'"):
        qtasks.gather(qtasks.gather(), "x")


def test_gather_given_a_list_says_to_unpack_it(qtasks_run: Any) -> None:
    """gather([t1, t2]) by mistake names the list and shows gather(*tasks)."""
    task = qtasks.run(double, 1)
    with pytest.raises(TypeError, match=r"argument 0 is \[<ThreadTask double\(\).*unpack.*gather\(\*tasks\)"):
        qtasks.gather([task])
    assert 2 == qtasks_run(task)


def test_cancel_queued_tasks_never_run(qtasks_run: Any) -> None:
    """1 000 tasks cancelled while queued behind a busy pool never run."""
    gates = [Gate() for _ in range(8)]
    busy = [qtasks.run(gate) for gate in gates]
    ran: list[int] = []
    queued = [qtasks.run(ran.append, i) for i in range(1000)]
    assert all(task.cancel() for task in queued)
    for gate in gates:
        gate.opened.set()
    qtasks_run(qtasks.gather(*busy))
    # Anything not cancelled would run after the busy work: once the pool is
    # idle they had the chance. (A probe run() could end first on another thread.)
    assert QThreadPool.globalInstance().waitForDone(10_000)
    assert [] == ran
    assert all(task.cancelled() for task in queued)


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


def test_cancel_running_sets_the_flag_and_wakes_the_awaiter_at_once(qtasks_run: Any, qtbot: Any) -> None:
    """A running function sees check_cancelled(); its coroutine gets CancelledError while it still runs."""
    gate = Gate()
    stopped = threading.Event()

    def cooperative() -> str:
        gate()
        try:
            qtasks.check_cancelled()
        except qtasks.CancelledError:
            stopped.set()
            raise
        return "not cancelled"

    log: list[str] = []

    @qtasks.coroutine
    def body() -> Any:
        try:
            yield qtasks.run(cooperative)
        except qtasks.CancelledError:
            log.append("cancelled")
            raise
        finally:
            log.append("finally")

    handle = body()
    assert gate.entered.wait(10)
    handle.cancel()
    # The gate is still closed: the function has not returned, yet the
    # coroutine has already unwound.
    qtbot.waitUntil(handle.done)
    assert ["cancelled", "finally"] == log
    assert handle.cancelled()
    assert not stopped.is_set()
    gate.opened.set()
    assert stopped.wait(10)


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


def test_cancelled_error_is_a_base_exception() -> None:
    """`except Exception` does not catch CancelledError."""
    assert not issubclass(qtasks.CancelledError, Exception)
    assert issubclass(qtasks.TimeoutError, TimeoutError)


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


def test_result_of_a_pending_task_says_how_to_wait(qapp: Any) -> None:
    """result() before the task is done raises RuntimeError with the fix."""
    gate = Gate()
    task = qtasks.run(gate)
    expected = r"not done yet.*yield or await.*qtasks\.run_until_complete\(task\)"
    with pytest.raises(RuntimeError, match=expected):
        task.result()
    task.cancel()
    gate.opened.set()


def test_run_rejects_a_non_callable(qapp: Any) -> None:
    """run(load(path)) by mistake names the value and the fix."""
    with pytest.raises(TypeError, match=r"needs a callable, got 3.*qtasks.run\(load, path\)"):
        qtasks.run(3)  # type: ignore[call-overload]


def test_unawaited_failing_coroutine_goes_to_excepthook(
    qtasks_run: Any, monkeypatch: Any, qtbot: Any
) -> None:
    """A coroutine failure that nobody consumes reaches sys.excepthook, once."""
    seen: list[BaseException] = []
    monkeypatch.setattr(sys, "excepthook", lambda t, v, tb: seen.append(v))

    @qtasks.coroutine
    def body() -> Any:
        yield qtasks.run(double, 1)
        raise KeyError("lost")

    body()
    # Why not probe runs: with several threads they can finish before body's.
    qtbot.waitUntil(lambda: [] != seen)
    gc.collect()  # collecting the handle reports nothing more
    qtasks_run(qtasks.run(double, 1))
    assert 1 == len(seen)
    assert isinstance(seen[0], KeyError)


def test_consumed_failure_is_not_reported(qtasks_run: Any, monkeypatch: Any) -> None:
    """A failure someone awaits is theirs: nothing reaches sys.excepthook."""
    seen: list[BaseException] = []
    monkeypatch.setattr(sys, "excepthook", lambda t, v, tb: seen.append(v))

    @qtasks.coroutine
    def failing() -> Any:
        yield qtasks.run(double, 1)
        raise KeyError("mine")

    @qtasks.coroutine
    def outer() -> Any:
        try:
            yield failing()
        except KeyError:
            return "handled"

    assert "handled" == qtasks_run(outer())
    qtasks_run(qtasks.run(double, 1))
    assert [] == seen


def test_unconsumed_thread_task_failure_reported_when_collected(monkeypatch: Any, qtbot: Any) -> None:
    """A failed handle nobody looks at is reported when it is garbage-collected."""
    seen: list[BaseException] = []
    monkeypatch.setattr(sys, "excepthook", lambda t, v, tb: seen.append(v))
    failing = qtasks.run(fail_with_value_error, 5)
    # Why not probe runs: with several threads they can finish before it.
    qtbot.waitUntil(failing.done)
    assert [] == seen  # failed, but still held
    del failing
    gc.collect()
    assert ["bad value 5"] == [str(exc) for exc in seen]


def test_last_reference_is_released_on_the_gui_thread(qtasks_run: Any, qtbot: Any) -> None:
    """A fire-and-forget task's result is freed on the GUI thread, not on a worker."""
    freed_on: list[int] = []

    class Result:
        def __del__(self) -> None:
            freed_on.append(threading.get_ident())

    for _ in range(200):
        qtasks.run(Result)
    # Why not probe runs: with several threads the last of the 200 can still be running after them.
    qtbot.waitUntil(lambda: 200 == len(freed_on))
    assert {threading.get_ident()} == set(freed_on)


def test_progress_coalesces_and_delivers_the_last_value_before_done(qtasks_run: Any) -> None:
    """A tight loop of reports arrives as a few values ending with the last, before done callbacks."""
    log: list[object] = []

    def work() -> str:
        for i in range(100_000):
            qtasks.report_progress(i)
        return "done"

    task = qtasks.run(work)
    task.on_progress(log.append)
    task.add_done_callback(lambda t: log.append("callback"))
    assert "done" == qtasks_run(task)
    qtasks_run(qtasks.run(double, 0))
    assert ["callback"] == log[-1:]
    assert 99_999 == log[-2]
    assert log[:-1] == sorted(log[:-1])  # type: ignore[type-var]


def test_wait_first_completed(qtasks_run: Any) -> None:
    """wait(FIRST_COMPLETED) returns as soon as one task is done, cancelling nothing."""
    gate = Gate()
    fast = qtasks.run(double, 1)
    slow = qtasks.run(gate)
    done, pending = qtasks_run(qtasks.wait([slow, fast], return_when=qtasks.FIRST_COMPLETED))
    assert {fast} == done
    assert {slow} == pending
    assert not slow.cancelled()
    gate.opened.set()
    qtasks_run(slow)


def test_wait_first_exception_and_all_completed(qtasks_run: Any) -> None:
    """FIRST_EXCEPTION returns on a failure; ALL_COMPLETED waits for everything."""
    gate = Gate()
    bad = qtasks.run(fail_with_value_error, 1)
    slow = qtasks.run(gate)
    done, pending = qtasks_run(qtasks.wait([slow, bad], return_when=qtasks.FIRST_EXCEPTION))
    assert ({bad}, {slow}) == (done, pending)
    gate.opened.set()
    done, pending = qtasks_run(qtasks.wait([slow, bad]))
    assert ({slow, bad}, set()) == (done, pending)
    assert "bad value 1" == str(bad.exception())  # the caller's to read


def test_wait_given_the_same_task_twice_finishes(qtasks_run: Any) -> None:
    """wait() treats its awaitables as a set, as asyncio.wait does: a repeated task is waited on once."""
    task = qtasks.run(double, 1)
    done, pending = qtasks_run(qtasks.wait([task, task]), timeout=2)
    assert ({task}, set()) == (done, pending)


def test_wait_rejects_an_unknown_condition() -> None:
    """A misspelt return_when names the constants to use."""
    with pytest.raises(ValueError, match=r"qtasks\.FIRST_COMPLETED"):
        qtasks.wait([], return_when="FIRST")


def test_wait_rejects_a_condition_that_is_not_a_constant() -> None:
    """A return_when of the wrong type names the constants instead of failing on hashing."""
    with pytest.raises(ValueError, match=r"return_when=\['FIRST_COMPLETED'\]\): use qtasks\.ALL_COMPLETED"):
        qtasks.wait([], return_when=["FIRST_COMPLETED"])  # type: ignore[arg-type]


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


def test_running_lists_the_live_handles(qtasks_run: Any) -> None:
    """running() holds the handles that are not done."""
    gate = Gate()
    task = qtasks.run(gate)
    assert task in qtasks.running()
    task.cancel()
    assert task not in qtasks.running()
    gate.opened.set()


def test_pool_rejects_a_bad_thread_count() -> None:
    """Pool(max_threads=0) says what is allowed."""
    with pytest.raises(ValueError, match=r"max_threads=0.*>= 1"):
        qtasks.Pool(max_threads=0)


def test_dedicated_pool_runs_and_shuts_down(qtasks_run: Any) -> None:
    """A Pool of its own runs work, and its shutdown cancels its queue."""
    pool = qtasks.Pool(max_threads=1)
    assert 1 == pool.max_threads
    assert 6 == qtasks_run(pool.run(double, 3))
    gate = Gate()
    blocking = pool.run(gate)
    assert gate.entered.wait(10)
    ran: list[int] = []
    queued = pool.run(ran.append, 1)
    # Why shut down with the gate closed: opened first, the worker may take
    # the queued function before shutdown() drops it.
    assert [blocking] == pool.shutdown(timeout=0.05)
    assert blocking.cancelled() and queued.cancelled()
    gate.opened.set()
    assert [] == pool.shutdown(timeout=10)
    assert [] == ran
    assert 8 == qtasks_run(pool.run(double, 4))


def test_shutdown_names_what_still_runs_and_stays_usable(qtasks_run: Any) -> None:
    """shutdown(timeout) returns after the timeout naming blocked functions; qtasks works after."""
    gate = Gate()
    blocked = qtasks.run(gate)
    assert gate.entered.wait(10)
    with pytest.warns(RuntimeWarning, match=r"still running.*Gate"):
        still = qtasks.shutdown(timeout=0.05)
    assert [blocked] == still
    gate.opened.set()
    assert 2 == qtasks_run(qtasks.run(double, 1))


IMPORT_STATE = """
import gc, json, signal, sys, threading, warnings
from qt import QCoreApplication, QThreadPool

def snapshot():
    handlers = {}
    for number in signal.valid_signals():
        try:
            handlers[str(number)] = signal.getsignal(number)
        except (OSError, ValueError):
            pass
    return {
        "sys.excepthook": sys.excepthook,
        "sys.unraisablehook": sys.unraisablehook,
        "sys.displayhook": sys.displayhook,
        "threading.excepthook": threading.excepthook,
        "trace and profile": (sys.gettrace(), sys.getprofile(), threading.gettrace(), threading.getprofile()),
        "signal handlers": handlers,
        "warnings filters": list(warnings.filters),
        "recursion limit and switch interval": (sys.getrecursionlimit(), sys.getswitchinterval()),
        "gc": (gc.isenabled(), gc.get_threshold()),
        "threads": sorted(thread.name for thread in threading.enumerate()),
        "QThreadPool maxThreadCount": QThreadPool.globalInstance().maxThreadCount(),
        "QCoreApplication": QCoreApplication.instance(),
    }

before = snapshot()
import qtasks, qtasks.testing
after = snapshot()
print(json.dumps(sorted(key for key in before if before[key] != after[key])))
"""


def test_import_changes_no_global_state() -> None:
    """Importing qtasks (in a fresh process) leaves hooks, signals, warnings, threads, Qt globals alone."""
    completed = run_python("-c", IMPORT_STATE)
    assert 0 == completed.returncode, completed.stderr
    assert [] == json.loads(completed.stdout)


def test_run_without_an_application_says_to_create_one(tmp_path: Any) -> None:
    """Starting work before a QApplication exists explains the fix."""
    import subprocess

    code = "import qtasks\ntry:\n    qtasks.run(print)\nexcept RuntimeError as e:\n    print(e)\n"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert "create one before starting" in out.stdout


def test_work_refused_without_an_application_leaves_no_handle_behind() -> None:
    """Each way of starting work raises without a QApplication and leaves running() empty.

    run_in() also never submits the function, which no handle could report on.
    """
    code = textwrap.dedent(
        """
        from concurrent.futures import Future, ThreadPoolExecutor
        import qtasks

        ran = []
        starts = {
            "run": lambda: qtasks.run(print),
            "Pool.run": lambda: qtasks.Pool(1).run(print),
            "map": lambda: qtasks.map(print, [1]),
            "run_in": lambda: qtasks.run_in(ThreadPoolExecutor(1), ran.append, 1),
            "wrap": lambda: qtasks.wrap(Future()),
            "gather": lambda: qtasks.gather(),
        }
        for name, start in starts.items():
            try:
                start()
            except RuntimeError as exc:
                print(name, "refused:", "create one before starting" in str(exc))
        print("running:", qtasks.running(), "ran:", ran)
        """
    )
    completed = run_python("-c", code)
    expected = [
        "run refused: True",
        "Pool.run refused: True",
        "map refused: True",
        "run_in refused: True",
        "wrap refused: True",
        "gather refused: True",
        "running: [] ran: []",
    ]
    assert expected == completed.stdout.splitlines(), completed.stderr


def test_a_coroutine_started_without_an_application_raises_only_that() -> None:
    """Without a QApplication a coroutine call says to create one, with no "never awaited" warning."""
    import subprocess

    code = (
        "import warnings\nwarnings.simplefilter('error')\nimport qtasks\n"
        "@qtasks.coroutine\nasync def f():\n    await qtasks.sleep(0)\n"
        "try:\n    f()\nexcept RuntimeError as e:\n    print(e)\n"
        "import gc\ngc.collect()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert "create one before starting" in out.stdout
    assert "" == out.stderr


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


class CountingPool(QThreadPool):
    """A QThreadPool that counts how often qtasks starts its runnable on it."""

    def __init__(self) -> None:
        super().__init__()
        self.setMaxThreadCount(1)
        self.starts = 0

    def start(self, runnable: Any, priority: int = 0) -> None:
        self.starts += 1
        super().start(runnable, priority)


def test_awaited_runs_in_a_row_reuse_the_parked_worker(qtasks_run: Any, monkeypatch: Any) -> None:
    """A run() submitted while a worker loop lingers is handed to it, not started anew."""
    monkeypatch.setattr(qtasks._pool, "LINGER_S", 30.0)
    qpool = CountingPool()
    pool = qtasks.Pool(pool=qpool)

    @qtasks.coroutine
    def in_a_row() -> Any:
        results = []
        for i in range(5):
            results.append((yield pool.run(double, i)))
        return results

    assert [0, 2, 4, 6, 8] == qtasks_run(in_a_row())
    assert 1 == qpool.starts
    assert [] == pool.shutdown(timeout=10)


def test_shutdown_sends_a_parked_worker_back_to_qt_at_once(qtasks_run: Any, monkeypatch: Any) -> None:
    """shutdown() wakes a lingering worker loop, so the QThreadPool is idle right after."""
    monkeypatch.setattr(qtasks._pool, "LINGER_S", 30.0)
    qpool = CountingPool()
    pool = qtasks.Pool(pool=qpool)
    assert 6 == qtasks_run(pool.run(double, 3))
    assert [] == pool.shutdown(timeout=10)
    assert qpool.waitForDone(5000)
    assert 4 == qtasks_run(pool.run(double, 2))
    assert [] == pool.shutdown(timeout=10)
    assert qpool.waitForDone(5000)


# -- promises a deliberate break once slipped past ------------------------------


def test_cancel_is_true_while_a_returned_result_waits_for_delivery(qtbot: Any) -> None:
    """cancel() on a task whose function returned but whose result is not yet delivered returns True.

    The awaiting coroutine gets CancelledError and the late result is dropped.
    """
    pool = qtasks.Pool(max_threads=1)
    returning = threading.Event()

    def answer() -> str:
        returning.set()
        return "late"

    log: list[str] = []
    seen: list[bool] = []

    @qtasks.coroutine
    def waiter() -> Any:
        try:
            log.append((yield task))
        except qtasks.CancelledError:
            log.append("cancelled")
            raise

    task = pool.run(answer)
    task.add_done_callback(lambda t: seen.append(t.cancelled()))
    handle = waiter()
    # The GUI thread does not spin its event loop until cancel(): the worker
    # returns and its pool goes idle, but the result cannot be delivered yet.
    assert returning.wait(10)
    assert pool.qthreadpool.waitForDone(10000)
    assert not task.done()
    assert task.cancel() is True
    qtbot.waitUntil(handle.done)
    assert ["cancelled"] == log
    assert handle.cancelled()
    assert task.cancelled()
    with pytest.raises(qtasks.CancelledError):
        task.result()
    qtbot.waitUntil(lambda: bool(seen))
    assert [True] == seen
    assert [] == pool.shutdown(timeout=10)


def test_wait_first_exception_stays_pending_after_a_success(qtasks_manual_pool: Any) -> None:
    """wait(return_when=FIRST_EXCEPTION) does not return when a success finishes first."""
    ok, bad, slow = (qtasks.run(double, i) for i in range(3))
    waiting = qtasks.wait([ok, bad, slow], return_when=qtasks.FIRST_EXCEPTION)
    results: list[Any] = []

    @qtasks.coroutine
    def body() -> Any:
        results.append((yield waiting))

    body()
    qtasks_manual_pool.complete(ok)
    assert not waiting.done()
    assert [] == results
    qtasks_manual_pool.fail(bad, ValueError("broken"))
    assert [({ok, bad}, {slow})] == results
    assert isinstance(bad.exception(), ValueError)
    slow.cancel()


def keywords(a: int, *, b: int = 0, c: str = "") -> tuple[int, int, str]:
    return a, b, c


def test_run_and_pool_run_pass_keyword_arguments(qtasks_run: Any) -> None:
    """qtasks.run and Pool.run call the function with the keyword arguments given."""
    pool = qtasks.Pool(max_threads=1)
    assert (1, 2, "x") == qtasks_run(qtasks.run(keywords, 1, b=2, c="x"))
    assert (3, 4, "y") == qtasks_run(pool.run(keywords, 3, c="y", b=4))
    assert [] == pool.shutdown(timeout=10)


def test_a_burst_of_progress_reaches_a_listener_coalesced(qtbot: Any, qtasks_run: Any) -> None:
    """100 000 report_progress calls reach a listener in a few deliveries, the last value included."""
    reported = threading.Event()
    gate = Gate()

    def burst() -> str:
        for i in range(100_000):
            qtasks.report_progress(i)
        reported.set()
        gate.opened.wait(10)
        return "done"

    values: list[int] = []
    task = qtasks.run(burst)
    task.on_progress(values.append)
    # The whole burst happens while the GUI thread is busy here, so it can
    # deliver nothing before the last value.
    assert reported.wait(10)
    gate.opened.set()
    assert "done" == qtasks_run(task)
    assert [99_999] == values


# -- asking and adding callbacks ------------------------------------------------


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


def test_a_pool_wraps_a_qthreadpool_it_is_given(qtasks_run: Any) -> None:
    """Pool(pool=q) runs its functions on q; Pool() makes its own QThreadPool."""
    qpool = CountingPool()
    wrapped = qtasks.Pool(pool=qpool)
    own = qtasks.Pool()
    assert qpool is wrapped.qthreadpool
    assert isinstance(own.qthreadpool, QThreadPool)
    assert own.qthreadpool is not QThreadPool.globalInstance()
    assert 4 == qtasks_run(wrapped.run(double, 2))
    assert qpool.starts >= 1
    assert 6 == qtasks_run(own.run(double, 3))
    assert [] == wrapped.shutdown(timeout=10)
    assert [] == own.shutdown(timeout=10)


def test_a_pool_given_something_else_names_it() -> None:
    """Pool(pool=...) with something not a QThreadPool, or with max_threads too, raises a clear TypeError."""
    with pytest.raises(TypeError, match=r"Pool\(pool='global'\): pool must be a QThreadPool"):
        qtasks.Pool(pool="global")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"pass one of them"):
        qtasks.Pool(max_threads=2, pool=QThreadPool())


def test_wait_on_nothing_is_done_at_once(qtasks_run: Any) -> None:
    """wait([]) finishes at once with two empty sets, whatever return_when says."""
    for when in (qtasks.ALL_COMPLETED, qtasks.FIRST_COMPLETED, qtasks.FIRST_EXCEPTION):
        assert (set(), set()) == qtasks_run(qtasks.wait([], return_when=when))


def test_gather_runs_plain_async_def_coroutine_objects(qtasks_run: Any) -> None:
    """gather() accepts the coroutine object of an undecorated async def and runs it on the GUI thread."""
    threads: list[int] = []

    async def plain(x: int) -> int:
        threads.append(threading.get_ident())
        value: int = await qtasks.run(double, x)
        threads.append(threading.get_ident())
        return value

    assert [2, 4] == qtasks_run(qtasks.gather(plain(1), plain(2)))
    assert 4 * [threading.get_ident()] == threads


def test_gather_of_a_plain_generator_says_to_decorate_it() -> None:
    """gather() refuses a generator object that is not a qtasks coroutine and says how to make it one."""

    def plain() -> Any:
        yield qtasks.sleep(0)

    generator = plain()
    with pytest.raises(TypeError, match=r"<generator object.*decorate its function with @qtasks"):
        qtasks.gather(generator)
    generator.close()


def test_an_error_in_a_done_or_progress_callback_is_reported_at_once(
    qtasks_run: Any, hook_calls: list[BaseException]
) -> None:
    """An exception raised by a done callback or a progress listener reaches sys.excepthook, once each."""

    def work() -> str:
        qtasks.report_progress(1)
        return "ok"

    def broken_listener(value: object) -> None:
        raise ValueError(f"listener broke on {value}")

    def broken_callback(task: qtasks.Task[Any]) -> None:
        raise KeyError("callback broke")

    task = qtasks.run(work)
    task.on_progress(broken_listener)
    task.add_done_callback(broken_callback)
    assert "ok" == qtasks_run(task)
    qtasks_run(qtasks.sleep(0))
    assert ["listener broke on 1", "'callback broke'"] == [str(exc) for exc in hook_calls]
