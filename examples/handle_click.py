"""The handle_click example: a slot that waits for a worker, as a generator and as async def.

The two buttons on the left run the same slot in the two styles. "Fail"
runs a worker that raises: its own ValueError arrives at the `yield`, and
the slot shows it in a QMessageBox with the worker's traceback.

    python examples/handle_click.py            # the window
    python examples/handle_click.py --smoke    # drive it headless; exit 0 on success
"""

from __future__ import annotations

import sys
import time
import traceback
from typing import Any, Generator

from _qt import QHBoxLayout, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget
from _smoke import main, wait_until

import qtasks


def worker(value: int) -> int:
    """Compute slowly. Worker thread."""
    time.sleep(0.2)
    return value * 2


def failing_worker(value: int) -> int:
    """Fail the way real code fails: deep in a worker. Worker thread."""
    time.sleep(0.05)
    msg = f"cannot handle {value}"
    raise ValueError(msg)


class Window(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("qtasks: handle_click")
        self.generator_button = QPushButton("Generator")
        self.async_button = QPushButton("async def")
        self.fail_button = QPushButton("Fail")
        self.label = QLabel("Click a button")
        self.error_box: QMessageBox | None = None
        buttons = QHBoxLayout()
        for button in (self.generator_button, self.async_button, self.fail_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.label)
        self.generator_button.clicked.connect(self.handle_click)
        self.async_button.clicked.connect(self.handle_click_async)
        self.fail_button.clicked.connect(self.handle_failing_click)

    @qtasks.slot
    def handle_click(self) -> Generator[Any, Any, int]:
        self.generator_button.setEnabled(False)
        try:
            self.label.setText("Generator: working...")
            value: int = yield qtasks.run(worker, 33)
            self.label.setText(f"Generator: got {value}")
            return value
        finally:
            self.generator_button.setEnabled(True)

    @qtasks.slot
    async def handle_click_async(self) -> int:
        self.async_button.setEnabled(False)
        try:
            self.label.setText("async def: working...")
            value: int = await qtasks.run(worker, 33)
            self.label.setText(f"async def: got {value}")
            return value
        finally:
            self.async_button.setEnabled(True)

    @qtasks.slot
    def handle_failing_click(self) -> Generator[Any, Any, None]:
        try:
            yield qtasks.run(failing_worker, 66)
        except ValueError as exc:  # the worker's own exception, its traceback intact
            self.label.setText(f"Failed: {exc}")
            self.show_error(exc)

    def show_error(self, exc: BaseException) -> None:
        ok = QMessageBox.StandardButton.Ok
        box = QMessageBox(QMessageBox.Icon.Critical, "Worker failed", str(exc), ok, self)
        box.setDetailedText("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        self.error_box = box
        box.open()  # window-modal but not blocking: the event loop (and the smoke test) go on


def smoke(window: Window) -> Generator[Any, Any, None]:
    """Click each button; the failing one shows the worker's traceback in a message box."""
    window.generator_button.click()
    yield from wait_until(lambda: "Generator: got 66" == window.label.text(), "the generator slot")
    value = yield window.handle_click_async()  # a direct call returns the handle
    assert 66 == value
    assert "async def: got 66" == window.label.text()
    window.fail_button.click()
    yield from wait_until(lambda: window.error_box is not None, "the error box")
    box = window.error_box
    assert box is not None
    assert box.isVisible()
    assert "cannot handle 66" == box.text()
    details = box.detailedText()
    assert "failing_worker" in details, details
    assert "ValueError: cannot handle 66" in details, details
    box.accept()


if __name__ == "__main__":
    sys.exit(main(Window, smoke))
