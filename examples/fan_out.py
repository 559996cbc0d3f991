"""Fan out a few hundred work items with a progress bar, a live count and a Cancel button.

The README demo. Start runs 300 items on the shared QThreadPool through
`qtasks.gather`, whose aggregate progress (finished, total) drives the bar
and the count. Cancel cancels the gather: queued items never run, and
running ones stop at their next `qtasks.check_cancelled()`. A heartbeat
label keeps ticking to show that the window stays responsive.

    python examples/fan_out.py            # the window
    python examples/fan_out.py --smoke    # drive it headless; exit 0 on success
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Generator

from _qt import QHBoxLayout, QLabel, QProgressBar, QPushButton, QTimer, QVBoxLayout, QWidget
from _smoke import main, wait_until

import qtasks

ITEMS = 300


class Counter:
    """How many work items started and how many are running. Any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = 0
        self.running = 0

    def enter(self) -> None:
        with self._lock:
            self.started += 1
            self.running += 1

    def leave(self) -> None:
        with self._lock:
            self.running -= 1


def work_item(n: int, counter: Counter) -> int:
    """Do one slow item, checking for cancellation between steps. Worker thread."""
    counter.enter()
    try:
        total = 0
        for step in range(10):
            qtasks.check_cancelled()
            time.sleep(0.002)  # stands in for I/O or a C extension releasing the GIL
            total += n * step
        return total
    finally:
        counter.leave()


class FanOut(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("qtasks: fan out")
        self.counter = Counter()
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, ITEMS)
        self.count = QLabel(f"0 / {ITEMS}")
        self.status = QLabel("Ready")
        self.heartbeat = QLabel("heartbeat 0")
        self.beats = 0
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.count)
        layout.addWidget(self.status)
        layout.addWidget(self.heartbeat)
        self._gathered: qtasks.Task[Any] | None = None
        self.start_button.clicked.connect(self.on_start)
        self.cancel_button.clicked.connect(self.on_cancel)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._beat)
        self._timer.start(10)

    def _beat(self) -> None:
        self.beats += 1
        self.heartbeat.setText(f"heartbeat {self.beats}")

    def show_progress(self, progress: tuple[int, int]) -> None:
        finished, total = progress
        self.progress.setValue(finished)
        self.count.setText(f"{finished} / {total}")

    @qtasks.slot(reentry="ignore")
    def on_start(self) -> Generator[Any, Any, None]:
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.show_progress((0, ITEMS))
        self.status.setText("Working")
        gathered = qtasks.gather(*(qtasks.run(work_item, n, self.counter) for n in range(ITEMS)))
        gathered.on_progress(self.show_progress)
        self._gathered = gathered
        try:
            results = yield gathered
            self.status.setText(f"Done: sum {sum(results)}")
        except qtasks.CancelledError:
            self.status.setText("Cancelled")
            raise
        finally:
            self._gathered = None
            self.start_button.setEnabled(True)
            self.cancel_button.setEnabled(False)

    def on_cancel(self) -> None:
        if self._gathered is not None:
            self._gathered.cancel()


def smoke(window: FanOut) -> Generator[Any, Any, None]:
    """Run once to the end, then start again and cancel part way."""
    beats = window.beats
    window.start_button.click()
    yield from wait_until(lambda: window.status.text() != "Working", "the first run to end", 40)
    assert window.status.text().startswith("Done"), window.status.text()
    assert f"{ITEMS} / {ITEMS}" == window.count.text()
    assert ITEMS == window.progress.value()
    assert window.beats > beats, "the heartbeat stopped: the window was not responsive"

    started_before = window.counter.started
    window.start_button.click()
    yield from wait_until(lambda: window.counter.started - started_before >= 20, "some items to start")
    window.cancel_button.click()
    yield from wait_until(lambda: "Cancelled" == window.status.text(), "the slot to see the cancellation")
    yield from wait_until(lambda: window.counter.running == 0, "running items to stop")
    ran = window.counter.started - started_before
    yield qtasks.sleep(0.1)
    assert ran == window.counter.started - started_before, "queued items ran after Cancel"
    assert ran < ITEMS, f"all {ran} items ran despite Cancel"
    assert window.start_button.isEnabled()


if __name__ == "__main__":
    sys.exit(main(FanOut, smoke))
