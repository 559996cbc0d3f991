"""Importing qtasks changes no global state; work started before the QApplication says to create one."""

from __future__ import annotations

import json
import sys
import textwrap
from typing import Any

from support import run_python

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
