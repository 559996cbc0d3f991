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
from PyQt5.QtCore import QThread, QThreadPool
from support import Gate, double, fail_with_value_error, run_python

import qtasks


def test_unawaited_failing_coroutine_goes_to_excepthook(
    qtasks_run: Any, hook_calls: list[BaseException], qtbot: Any
) -> None:
    """A coroutine failure that nobody consumes reaches sys.excepthook, once."""

    @qtasks.coroutine
    def body() -> Any:
        yield qtasks.run(double, 1)
        raise KeyError("lost")

    body()
    # Why not probe runs: with several threads they can finish before body's.
    qtbot.waitUntil(lambda: [] != hook_calls)
    gc.collect()  # collecting the handle reports nothing more
    qtasks_run(qtasks.run(double, 1))
    assert 1 == len(hook_calls)
    assert isinstance(hook_calls[0], KeyError)


def test_consumed_failure_is_not_reported(qtasks_run: Any, hook_calls: list[BaseException]) -> None:
    """A failure someone awaits is theirs: nothing reaches sys.excepthook."""

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
    assert [] == hook_calls


def test_unconsumed_thread_task_failure_reported_when_collected(
    hook_calls: list[BaseException], qtbot: Any
) -> None:
    """A failed handle nobody looks at is reported when it is garbage-collected."""
    failing = qtasks.run(fail_with_value_error, 5)
    # Why not probe runs: with several threads they can finish before it.
    qtbot.waitUntil(failing.done)
    assert [] == hook_calls  # failed, but still held
    del failing
    gc.collect()
    assert ["bad value 5"] == [str(exc) for exc in hook_calls]


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
from PyQt5.QtCore import QCoreApplication, QThreadPool

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


# -- promises a deliberate break once slipped past ------------------------------


# -- asking and adding callbacks ------------------------------------------------


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
