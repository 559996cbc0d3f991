"""What every fault script shares: an application, and quitting once qtasks is idle.

No sys.excepthook is installed: errors must reach stderr through Python's
default hook, and the process must still exit normally.
"""

from __future__ import annotations

import sys
from typing import Callable

from qt import QCoreApplication, QEventLoop, QTimer

import qtasks

app = QCoreApplication(sys.argv[:1])


def run_until_idle(ready: Callable[[], bool] = lambda: True) -> None:
    """Run the event loop until nothing is running and `ready()` holds, then quit and say so."""
    assert sys.excepthook is sys.__excepthook__

    def check() -> None:
        if not qtasks.running() and ready():
            app.quit()

    timer = QTimer()
    timer.timeout.connect(check)
    timer.start(5)
    app.exec()
    timer.stop()
    print("exited normally", flush=True)


def spin_until(ready: Callable[[], bool]) -> None:
    """Run a nested event loop until `ready()` holds, without quitting the application."""
    loop = QEventLoop()

    def check() -> None:
        if ready():
            loop.quit()

    timer = QTimer()
    timer.timeout.connect(check)
    timer.start(5)
    loop.exec()
    timer.stop()
