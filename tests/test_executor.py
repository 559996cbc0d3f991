"""run_in and wrap: process pools, thread pools and Dask behind the same await."""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import pickle
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from pathlib import Path
from typing import Any

import executor_helpers as helpers
import pytest
from support import double

import qtasks

# Dask runs these in its worker threads (processes=False), so a threading gate works.
DASK_GATE = threading.Event()


def dask_item(i: int) -> int:
    """Return `i` at once below 500; above, wait for the test's gate."""
    if i >= 500:
        DASK_GATE.wait(30)
    return i


@pytest.fixture(scope="module")
def gate() -> Any:
    """A multiprocessing event the process pool's workers wait on."""
    return multiprocessing.get_context("spawn").Event()


@pytest.fixture(scope="module")
def process_pool(gate: Any) -> Iterator[ProcessPoolExecutor]:
    """A real two-process pool, spawned so no Qt or Dask thread is forked."""
    pool = ProcessPoolExecutor(
        max_workers=2,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=helpers.init_gate,
        initargs=(gate,),
    )
    yield pool
    gate.set()
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """A Dask cluster inside this process: two single-threaded workers, no network."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address="127.0.0.1:0",
        worker_dashboard_address="127.0.0.1:0",
        silence_logs=logging.CRITICAL,
    )
    client = distributed.Client(cluster)
    yield client
    DASK_GATE.set()
    client.close()
    cluster.close()


def test_run_in_a_process_pool_from_a_generator_coroutine(qtasks_run: Any, process_pool: Any) -> None:
    """`result = yield qtasks.run_in(pool, heavy, x)` gets the subprocess's result on the GUI thread."""
    threads: list[int] = []

    @qtasks.coroutine
    def body() -> Any:
        pid, square = yield qtasks.run_in(process_pool, helpers.pid_and_square, 12)
        threads.append(threading.get_ident())
        total = yield qtasks.run_in(process_pool, helpers.heavy, 1000)
        return pid, square, total

    pid, square, total = qtasks_run(body(), timeout=30)
    assert 144 == square
    assert helpers.heavy(1000) == total
    assert os.getpid() != pid
    assert [threading.get_ident()] == threads


def test_run_in_with_async_def(qtasks_run: Any, process_pool: Any) -> None:
    """An async def coroutine awaits run_in the same way."""

    @qtasks.coroutine
    async def body() -> int:
        return await qtasks.run_in(process_pool, helpers.heavy, 10)

    assert helpers.heavy(10) == qtasks_run(body(), timeout=30)


def test_cancel_while_queued_never_runs(
    qtasks_run: Any, process_pool: Any, gate: Any, tmp_path: Path
) -> None:
    """Cancelling work still queued in the process pool means it never runs; the awaiter is told at once."""
    gate.clear()
    blockers = [qtasks.run_in(process_pool, helpers.wait_at_gate, f"b{i}") for i in range(2)]
    futures = [process_pool.submit(helpers.record, str(tmp_path), f"r{i}") for i in range(8)]
    tasks = [qtasks.wrap(future) for future in futures]
    outcome: list[str] = []

    @qtasks.coroutine
    def body() -> Any:
        try:
            yield qtasks.gather(*tasks)
        except qtasks.CancelledError:
            outcome.append("cancelled")
            raise

    waiter = body()
    for task in tasks:
        assert task.cancel() is True
    with pytest.raises(qtasks.CancelledError):
        qtasks_run(waiter)
    assert ["cancelled"] == outcome
    gate.set()
    assert ["b0", "b1"] == qtasks_run(qtasks.gather(*blockers), timeout=30)
    # A process pool moves a few calls into its call queue ahead of time;
    # those count as started and run. Everything the engine cancelled never does.
    started = [f for f in futures if not f.cancelled()]
    wait_futures(started, timeout=30)
    ran = sorted(path.name for path in tmp_path.iterdir())
    assert sorted(f.result() for f in started) == ran
    assert futures[-1].cancelled()
    assert all(task.cancelled() for task in tasks)


def test_remote_exception_keeps_its_type_and_remote_traceback(qtasks_run: Any, process_pool: Any) -> None:
    """A worker process's exception arrives with its own type and the remote traceback as its cause."""
    caught: list[BaseException] = []

    @qtasks.coroutine
    def body() -> Any:
        try:
            yield qtasks.run_in(process_pool, helpers.fail_remotely, 3)
        except ValueError as exc:
            caught.append(exc)

    qtasks_run(body(), timeout=30)
    [exc] = caught
    assert "remote failure 3" == str(exc)
    assert "_RemoteTraceback" == type(exc.__cause__).__name__
    assert 'raise ValueError(f"remote failure {x}")' in str(exc.__cause__)


def test_a_lambda_for_a_process_pool_is_refused_with_its_name(process_pool: Any) -> None:
    """A lambda cannot reach a worker process: run_in says so at once instead of hanging."""
    with pytest.raises(TypeError, match=r"the function <function .*<lambda>.* cannot be pickled"):
        qtasks.run_in(process_pool, lambda x: x, 1)


def test_an_unpicklable_argument_is_named(qtasks_run: Any, process_pool: Any) -> None:
    """An argument that cannot be pickled fails the task with an error naming it and why."""
    with pytest.raises(Exception, match=r"argument 1 of record\(\) \(<unlocked _thread.lock.*cannot pickle"):
        qtasks_run(qtasks.run_in(process_pool, helpers.record, "dir", threading.Lock()), timeout=30)


def test_an_unpicklable_argument_whose_repr_raises_is_named_by_its_type(
    qtasks_run: Any, process_pool: Any
) -> None:
    """An argument that can be neither pickled nor repr'd still fails the task with the pickling error."""
    with pytest.raises(
        pickle.PicklingError, match=r"argument 0 of payload_size\(\) \(<Unnameable object>\) cannot"
    ):
        qtasks_run(qtasks.run_in(process_pool, helpers.payload_size, helpers.Unnameable()), timeout=30)


def test_a_finished_process_pool_handle_keeps_no_argument_alive(qtasks_run: Any, process_pool: Any) -> None:
    """A done handle kept by the caller does not keep the call's arguments alive."""
    payload = helpers.Payload(7)
    gone = weakref.ref(payload)
    handle = qtasks.run_in(process_pool, helpers.payload_size, payload)
    del payload
    assert 7 == qtasks_run(handle, timeout=30)
    gc.collect()
    assert gone() is None
    assert handle.done()


def test_an_unpicklable_result_is_named(qtasks_run: Any, process_pool: Any) -> None:
    """A result that cannot be pickled back fails the task with an error saying so."""
    with pytest.raises(Exception, match=r"the result of make_lock\(\), or the exception it raised, cannot"):
        qtasks_run(qtasks.run_in(process_pool, helpers.make_lock), timeout=30)


def test_an_unpicklable_exception_is_not_called_a_result(qtasks_run: Any, process_pool: Any) -> None:
    """An exception that cannot be pickled back fails the task with an error that allows for it."""
    expected = r"the result of raise_unpicklable\(\), or the exception it raised, cannot be pickled"
    with pytest.raises(pickle.PicklingError, match=expected):
        qtasks_run(qtasks.run_in(process_pool, helpers.raise_unpicklable), timeout=30)


def test_run_in_a_thread_pool_executor(qtasks_run: Any) -> None:
    """A ThreadPoolExecutor works too, and its failures arrive with their own type."""
    with ThreadPoolExecutor(max_workers=2) as executor:
        assert 42 == qtasks_run(qtasks.run_in(executor, double, 21))
        with pytest.raises(ValueError, match="remote failure 5"):
            qtasks_run(qtasks.run_in(executor, helpers.fail_remotely, 5))


def test_a_thread_pool_executors_arguments_are_freed_on_the_gui_thread(qtbot: Any, qtasks_run: Any) -> None:
    """The user's arguments are freed on the GUI thread, whether the call ran or was cancelled."""
    freed_on: list[int] = []

    class Argument:
        def __del__(self) -> None:
            freed_on.append(threading.get_ident())

    entered, release = threading.Event(), threading.Event()

    def hold(_argument: Argument) -> None:
        entered.set()
        release.wait(10)

    with ThreadPoolExecutor(max_workers=1) as executor:
        held = qtasks.run_in(executor, hold, Argument())
        assert entered.wait(10)
        queued = qtasks.run_in(executor, double, Argument())
        assert queued.cancel()
        release.set()
        calls = [qtasks.run_in(executor, id, Argument()) for _ in range(20)]
        qtasks_run(qtasks.wait([held, *calls]))
        del held, queued, calls
        qtbot.waitUntil(lambda: 22 == len(freed_on), timeout=10_000)
    assert {threading.get_ident()} == set(freed_on)


def test_run_in_a_shut_down_executor_raises_at_the_call(qapp: Any) -> None:
    """An executor already shut down refuses the call with its own error; no handle is left behind."""
    executor = ThreadPoolExecutor(max_workers=1)
    executor.shutdown()
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        qtasks.run_in(executor, double, 1)
    assert [] == qtasks.running()


def test_cancel_running_thread_pool_work_drops_its_late_result(qtasks_run: Any) -> None:
    """Cancelling work already running ends the task at once; the result that comes later is dropped."""
    entered, release = threading.Event(), threading.Event()

    def blocking() -> str:
        entered.set()
        release.wait(10)
        return "late"

    seen: list[bool] = []
    with ThreadPoolExecutor(max_workers=1) as executor:
        task = qtasks.run_in(executor, blocking)
        task.add_done_callback(lambda t: seen.append(t.cancelled()))
        assert entered.wait(10)
        assert task.cancel() is True
        assert task.cancelled()
        release.set()
    # The executor has finished the function; its result reaches the GUI thread and is dropped.
    assert [] == qtasks.shutdown(timeout=10)
    qtasks_run(qtasks.run(double, 0))
    assert task.cancelled()
    with pytest.raises(qtasks.CancelledError):
        task.result()
    assert [True] == seen
    assert task.cancel() is False


def test_a_thread_pool_executor_function_reports_progress_and_sees_its_cancel(qtbot: Any) -> None:
    """In run_in on a ThreadPoolExecutor, report_progress() reaches the task and check_cancelled() raises."""
    entered = threading.Event()
    outcome: list[str] = []

    def cooperative() -> None:
        qtasks.report_progress("started")
        entered.set()
        try:
            for _ in range(10_000):  # about ten seconds of work, checked between steps
                qtasks.check_cancelled()
                threading.Event().wait(0.001)
        except qtasks.CancelledError:
            outcome.append("saw the cancel")
            raise
        outcome.append("never saw the cancel")

    with ThreadPoolExecutor(max_workers=1) as executor:
        task = qtasks.run_in(executor, cooperative)
        progress: list[object] = []
        task.on_progress(progress.append)
        assert entered.wait(10)
        qtbot.waitUntil(lambda: ["started"] == progress)
        assert task.cancel() is True
    assert ["saw the cancel"] == outcome


def test_wrap_an_already_done_future(qtasks_run: Any) -> None:
    """wrap() of a finished future gives its result; of a failed one, its exception."""
    done: Future[int] = Future()
    done.set_result(5)
    assert 5 == qtasks_run(qtasks.wrap(done))
    failed: Future[int] = Future()
    failed.set_exception(KeyError("gone"))
    with pytest.raises(KeyError, match="gone"):
        qtasks_run(qtasks.wrap(failed))
    cancelled: Future[int] = Future()
    cancelled.cancel()
    with pytest.raises(qtasks.CancelledError):
        qtasks_run(qtasks.wrap(cancelled))


def test_bad_input_is_named_with_the_fix(qapp: Any, process_pool: Any) -> None:
    """Something that is not an executor or a future raises TypeError naming it and the fix."""
    with pytest.raises(TypeError, match=r"needs a concurrent.futures.Executor, got 'pool'"):
        qtasks.run_in("pool", double, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"needs a callable, got 3"):
        qtasks.run_in(process_pool, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"needs a concurrent.futures.Future or a distributed.Future, got 42"):
        qtasks.wrap(42)
    with pytest.raises(TypeError, match=r"use qtasks.run_in\(executor, fn, ...\)"):
        qtasks.wrap(double)


def test_run_in_a_dask_client(qtasks_run: Any, dask_client: Any) -> None:
    """A Dask client itself runs the function, as client.submit() would."""
    assert 8 == qtasks_run(qtasks.run_in(dask_client, double, 4), timeout=30)


def test_wrap_a_dask_future(qtasks_run: Any, dask_client: Any) -> None:
    """A Dask future's result arrives at the await; the coroutine resumes on the GUI thread."""
    threads: list[int] = []

    @qtasks.coroutine
    async def body() -> int:
        value = await qtasks.wrap(dask_client.submit(double, 21))
        threads.append(threading.get_ident())
        return value

    assert 42 == qtasks_run(body(), timeout=30)
    assert [threading.get_ident()] == threads


def test_run_in_a_dask_executor(qtasks_run: Any, dask_client: Any) -> None:
    """client.get_executor() is an Executor like any other."""
    assert 8 == qtasks_run(qtasks.run_in(dask_client.get_executor(), double, 4), timeout=30)


def test_dask_failure_keeps_its_type_and_traceback(qtasks_run: Any, dask_client: Any) -> None:
    """A Dask task's exception arrives with its type and the worker's frames."""
    with pytest.raises(ValueError, match="remote failure 9") as info:
        qtasks_run(qtasks.wrap(dask_client.submit(helpers.fail_remotely, 9)), timeout=30)
    frames = [entry.name for entry in info.traceback]
    assert "fail_remotely" == frames[-1]


def test_dask_worker_process_result_and_failure(qtasks_run: Any) -> None:
    """With a real worker process on 127.0.0.1, results and exceptions cross the process boundary."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            worker_dashboard_address="127.0.0.1:0",
            silence_logs=logging.CRITICAL,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pid, square = qtasks_run(qtasks.wrap(client.submit(helpers.pid_and_square, 7)), timeout=60)
        assert 49 == square
        assert os.getpid() != pid
        with pytest.raises(ValueError, match="remote failure 4") as info:
            qtasks_run(qtasks.wrap(client.submit(helpers.fail_remotely, 4)), timeout=60)
    assert "fail_remotely" == info.traceback[-1].name


def test_gather_1000_dask_futures_then_cancel_halfway(qtasks_run: Any, qtbot: Any, dask_client: Any) -> None:
    """A fan-out over 1000 Dask futures reports progress; cancelling at 500 cancels the rest in Dask."""
    DASK_GATE.clear()
    futures = [dask_client.submit(dask_item, i, pure=False) for i in range(1000)]
    fan_out = qtasks.gather(*(qtasks.wrap(future) for future in futures))
    progress: list[tuple[int, int]] = []
    fan_out.on_progress(progress.append)
    qtbot.waitUntil(lambda: progress[-1:] == [(500, 1000)], timeout=60_000)
    assert fan_out.cancel() is True
    with pytest.raises(qtasks.CancelledError):
        qtasks_run(fan_out)
    qtbot.waitUntil(lambda: all(f.status == "cancelled" for f in futures[500:]), timeout=10_000)
    assert ["finished"] * 500 == [f.status for f in futures[:500]]
    DASK_GATE.set()


@pytest.mark.parametrize("engine", ["wrap", "run_in"])
def test_dask_cancels_are_batched_onto_the_client_loop(
    qtbot: Any, dask_client: Any, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    """Cancelling ten Dask tasks, wrapped or run on the client, sends one cancel from its loop."""
    calls: list[tuple[int, int]] = []
    original = dask_client.cancel

    def spy(futures: list[Any], *args: Any, **kwargs: Any) -> Any:
        calls.append((threading.get_ident(), len(futures)))
        return original(futures, *args, **kwargs)

    monkeypatch.setattr(dask_client, "cancel", spy)
    DASK_GATE.clear()
    if engine == "wrap":
        futures = [dask_client.submit(dask_item, 500 + i, pure=False) for i in range(10)]
        tasks = [qtasks.wrap(future) for future in futures]
    else:
        tasks = [qtasks.run_in(dask_client, dask_item, 700 + i, pure=False) for i in range(10)]
    for task in tasks:
        assert task.cancel() is True
    assert [] == calls  # nothing waited on the GUI thread
    qtbot.waitUntil(lambda: bool(calls), timeout=10_000)
    DASK_GATE.set()
    [(thread, count)] = calls
    assert 10 == count
    assert threading.get_ident() != thread


def test_cancelling_dask_executor_work_never_waits_on_the_gui_thread(
    qtbot: Any, dask_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelling run_in(client.get_executor(), ...) tasks cancels their Dask work from another thread."""
    calls: list[int] = []
    original = dask_client.cancel

    def spy(futures: list[Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(threading.get_ident())
        return original(futures, *args, **kwargs)

    monkeypatch.setattr(dask_client, "cancel", spy)
    DASK_GATE.clear()
    executor = dask_client.get_executor(pure=False)
    tasks = [qtasks.run_in(executor, dask_item, 800 + i) for i in range(3)]
    for task in tasks:
        assert task.cancel() is True
    qtbot.waitUntil(lambda: len(calls) == 3, timeout=10_000)
    DASK_GATE.set()
    assert threading.get_ident() not in calls
    assert [True, True, True] == [task.cancelled() for task in tasks]


def test_gather_1000_dask_futures_completes(qtasks_run: Any, dask_client: Any) -> None:
    """Without a cancel, a fan-out gives every result in order, the last progress being (1000, 1000)."""
    DASK_GATE.set()
    fan_out = qtasks.gather(*(qtasks.wrap(f) for f in dask_client.map(double, range(1000))))
    progress: list[tuple[int, int]] = []
    fan_out.on_progress(progress.append)
    assert [2 * i for i in range(1000)] == qtasks_run(fan_out, timeout=60)
    assert (1000, 1000) == progress[-1]


def test_shutdown_cancels_executor_tasks_and_waits_for_running_calls(
    qtbot: Any, process_pool: Any, gate: Any
) -> None:
    """shutdown() cancels run_in work, names a process call that outlives its timeout, and waits for it."""
    gate.clear()
    future = process_pool.submit(helpers.wait_at_gate, "s")
    task = qtasks.wrap(future)
    qtbot.waitUntil(future.running, timeout=30_000)
    with pytest.warns(RuntimeWarning, match=r"1 function\(s\) still running after 0 s: <ExecutorTask future"):
        still = qtasks.shutdown(timeout=0)
    assert [task] == still
    assert task.cancelled()
    gate.set()
    assert [] == qtasks.shutdown(timeout=30)
    assert "s" == future.result()


def test_importing_qtasks_does_not_import_distributed() -> None:
    """Dask is imported only by the user, never by qtasks."""
    import subprocess
    import sys

    code = "import sys, qtasks; assert 'distributed' not in sys.modules and 'dask' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)


def test_cancelling_a_task_whose_future_is_done_lets_it_go(qtasks_run: Any) -> None:
    """Cancelling the task of a future that already finished keeps neither the task nor the future alive."""
    done: Future[object] = Future()
    done.set_result(object())
    task = qtasks.wrap(done)
    assert task.cancel() is True
    qtasks_run(qtasks.run(double, 0))
    task_ref, future_ref = weakref.ref(task), weakref.ref(done)
    del task, done
    gc.collect()
    assert (None, None) == (task_ref(), future_ref())


def keywords(a: int, *, b: int = 0, c: str = "") -> tuple[int, int, str]:
    return a, b, c


def test_run_in_passes_keyword_arguments(qtasks_run: Any) -> None:
    """run_in calls the function with the keyword arguments given, on a thread or a process pool."""
    with ThreadPoolExecutor(1) as executor:
        assert (1, 2, "x") == qtasks_run(qtasks.run_in(executor, keywords, 1, b=2, c="x"))
    with ProcessPoolExecutor(1) as executor:
        assert (3, 4, "y") == qtasks_run(qtasks.run_in(executor, keywords, 3, c="y", b=4), timeout=60)
