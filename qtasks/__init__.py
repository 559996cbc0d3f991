"""qtasks: keep a Qt program (PyQt5, PyQt6 or PySide6) responsive while it works.

Functions run on a shared QThreadPool; coroutines that wait for them run on
the GUI thread; gather fans out, cancel really cancels, and errors arrive with
their own tracebacks. ARCHITECTURE.md explains how, and in which order to
read the modules.
"""

from __future__ import annotations

from ._asyncio import run_async
from ._binding import QT_API
from ._combinators import ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION, as_completed, gather, shield, wait
from ._coroutine import CoroutineTask, coroutine
from ._errors import CancelledError, TimeoutError
from ._executor import ExecutorTask, run_in, wrap
from ._loop import run_until_complete
from ._pool import Pool, ThreadTask, imap, map, run, shared_pool, stream
from ._qt import sleep, timeout, wait_signal
from ._runtime import running, shutdown
from ._slot import slot
from ._stream import Stream
from ._task import Task
from ._worker import cancel_requested, check_cancelled, report_progress

__version__ = "0.1.0.dev0"

__all__ = [
    "ALL_COMPLETED",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "QT_API",
    "CancelledError",
    "CoroutineTask",
    "ExecutorTask",
    "Pool",
    "Stream",
    "Task",
    "ThreadTask",
    "TimeoutError",
    "__version__",
    "as_completed",
    "cancel_requested",
    "check_cancelled",
    "coroutine",
    "gather",
    "imap",
    "map",
    "report_progress",
    "run",
    "run_async",
    "run_in",
    "run_until_complete",
    "running",
    "shared_pool",
    "shield",
    "shutdown",
    "sleep",
    "slot",
    "stream",
    "timeout",
    "wait",
    "wait_signal",
    "wrap",
]
