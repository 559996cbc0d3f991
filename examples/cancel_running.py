"""Cancel a long computation that is already running, with qtasks.check_cancelled().

Count the primes below a limit in a worker that calls
`qtasks.check_cancelled()` and `qtasks.report_progress()` as it goes. Cancel
cancels the slot's coroutine, which cancels the task it waits on: the
worker sees the flag at its next check and stops, and the slot's `finally`
block puts the buttons back.

    python examples/cancel_running.py            # the window
    python examples/cancel_running.py --smoke    # drive it headless; exit 0 on success
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Generator

from _qt import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget
from _smoke import main, wait_until

import qtasks

LIMIT = 3_000_000


def count_primes(limit: int, stopped: threading.Event) -> int:
    """Count the primes below `limit`, the slow way. Worker thread; cooperative."""
    try:
        count = 0
        for n in range(2, limit):
            if n % 1000 == 0:
                qtasks.check_cancelled()  # raises qtasks.CancelledError once Cancel was pressed
                qtasks.report_progress(n * 100 // limit)
            if all(n % d for d in range(2, int(n**0.5) + 1)):
                count += 1
        return count
    except qtasks.CancelledError:
        stopped.set()
        raise


class Window(QWidget):
    def __init__(self, limit: int = LIMIT) -> None:
        super().__init__()
        self.setWindowTitle("qtasks: cancel a running computation")
        self.limit = limit
        self.stopped = threading.Event()
        self.start_button = QPushButton("Count primes")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.status = QLabel("Ready")
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self._running: qtasks.Task[Any] | None = None
        self.start_button.clicked.connect(self.on_start)
        self.cancel_button.clicked.connect(self.on_cancel)

    def on_start(self) -> None:
        self._running = self.count()

    def on_cancel(self) -> None:
        if self._running is not None:
            self._running.cancel()

    @qtasks.slot(reentry="ignore")
    def count(self) -> Generator[Any, Any, None]:
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setText(f"Counting primes below {self.limit:,}...")
        try:
            task = qtasks.run(count_primes, self.limit, self.stopped)
            task.on_progress(self.progress.setValue)
            found = yield task
            self.progress.setValue(100)
            self.status.setText(f"{found:,} primes below {self.limit:,}")
        except qtasks.CancelledError:
            self.status.setText("Cancelled")
            raise
        finally:
            self.start_button.setEnabled(True)
            self.cancel_button.setEnabled(False)


def smoke(window: Window) -> Generator[Any, Any, None]:
    """Start, cancel part way (the worker stops), then run a small count to the end."""
    window.start_button.click()
    yield from wait_until(lambda: window.progress.value() > 0, "progress")
    window.cancel_button.click()
    yield from wait_until(lambda: "Cancelled" == window.status.text(), "the cancellation")
    assert window.start_button.isEnabled()
    yield from wait_until(window.stopped.is_set, "the worker to stop at check_cancelled()")

    window.limit = 10_000
    window.start_button.click()
    yield from wait_until(window.start_button.isEnabled, "the small count")
    assert "1,229 primes below 10,000" == window.status.text(), window.status.text()


if __name__ == "__main__":
    sys.exit(main(Window, smoke))
