"""See what runs: a few kinds of work, the task inspector docked beside them, a freeze watch.

Each button starts one kind of work: a fan-out of 40 functions through
`qtasks.gather`, a `qtasks.map` over 2000 items, a slow slot that awaits one
function after another, and a button that blocks the GUI thread for half a
second. The `qtasks.debug.TaskInspector` on the right shows the live tasks
(select one and right-click to cancel it); `qtasks.debug.watch_freezes()`
writes each freeze, with the line that caused it, under the buttons.

    python examples/inspector.py                      # the window
    python examples/inspector.py --smoke              # drive it headless; exit 0 on success
    python examples/inspector.py --screenshot docs/inspector.png   # the README's picture
"""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any, Generator

from _qt import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
)
from _smoke import main, wait_until

import qtasks
import qtasks.debug


def download(part: int) -> int:
    """Fetch one part, slowly, reporting how far it got. Worker thread."""
    for step in range(1, 21):
        qtasks.check_cancelled()
        time.sleep(0.05 + 0.005 * (part % 7))  # stands in for I/O
        qtasks.report_progress(f"{5 * step}%")
    return part


def thumbnail(index: int) -> int:
    """Make one small thing out of an item. Worker thread."""
    time.sleep(0.002)
    return index * index


def parse(page: int) -> int:
    """Parse one page. Worker thread."""
    time.sleep(0.3)
    return page


class Demo(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("qtasks: see what runs")
        self.fan_out_button = QPushButton("Fan out: 40 downloads")
        self.map_button = QPushButton("Map: 2000 thumbnails")
        self.slow_button = QPushButton("Slow slot: 10 pages in turn")
        self.block_button = QPushButton("Block the GUI for 0.5 s")
        self.status = QLabel("Ready")
        self.freezes = QPlainTextEdit()
        self.freezes.setReadOnly(True)
        self.freezes.setPlaceholderText("Freezes of the GUI thread longer than 0.1 s appear here")
        self.freeze_count = 0
        panel = QWidget()
        layout = QVBoxLayout(panel)
        for button in (self.fan_out_button, self.map_button, self.slow_button, self.block_button):
            layout.addWidget(button)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("Freezes:"))
        layout.addWidget(self.freezes)
        self.setCentralWidget(panel)
        self.inspector = qtasks.debug.TaskInspector()
        dock = QDockWidget("Tasks")
        dock.setWidget(self.inspector)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.resize(1280, 440)
        self.resizeDocks([dock], [820], Qt.Orientation.Horizontal)
        for column, width in enumerate((220, 215, 60, 150)):
            self.inspector.setColumnWidth(column, width)
        self.fan_out_button.clicked.connect(self.fan_out)
        self.map_button.clicked.connect(self.thumbnails)
        self.slow_button.clicked.connect(self.read_pages)
        self.block_button.clicked.connect(self.block_gui)
        self.watch = qtasks.debug.watch_freezes(0.1, callback=self.show_freeze)

    def show_freeze(self, report: qtasks.debug.FreezeReport) -> None:
        """Write a freeze down: how long, and the innermost lines of the GUI thread's stack."""
        self.freeze_count += 1
        innermost = "".join(report.stack.splitlines(keepends=True)[-2:])
        innermost = re.sub(r'File ".*[/\\]([^/\\]+)"', r"\1", innermost)
        self.freezes.appendPlainText(f"froze {report.duration:.2f} s at\n{innermost}")

    @qtasks.slot(reentry="ignore")
    def fan_out(self) -> Generator[Any, Any, None]:
        parts = yield qtasks.gather(*(qtasks.run(download, part) for part in range(40)))
        self.status.setText(f"Downloaded {len(parts)} parts")

    @qtasks.slot(reentry="ignore")
    def thumbnails(self) -> Generator[Any, Any, None]:
        made = yield qtasks.map(thumbnail, range(2000))
        self.status.setText(f"Made {len(made)} thumbnails")

    @qtasks.slot(reentry="ignore")
    def read_pages(self) -> Generator[Any, Any, None]:
        for page in range(10):
            self.status.setText(f"Reading page {page + 1} of 10")
            yield qtasks.run(parse, page)
        self.status.setText("Read 10 pages")

    def block_gui(self) -> None:
        time.sleep(0.5)  # the mistake the freeze watch points at

    def closeEvent(self, event: Any) -> None:
        self.watch.stop()
        super().closeEvent(event)


def _rows(window: Demo) -> list[str]:
    """Column 0 of the inspector's rows, depth first."""
    model = window.inspector.model()
    found: list[str] = []
    todo = [model.index(row, 0) for row in reversed(range(model.rowCount()))]
    while todo:
        index = todo.pop()
        found.append(model.data(index))
        todo.extend(model.index(row, 0, index) for row in reversed(range(model.rowCount(index))))
    return found


def _top_rows(window: Demo) -> list[str]:
    """Column 0 of the inspector's top-level rows."""
    model = window.inspector.model()
    return [model.index(row, 0).data() for row in range(model.rowCount())]


def _cancel_from_inspector(window: Demo, name: str) -> None:
    """Select the top-level row `name` in the inspector and trigger its Cancel action."""
    model = window.inspector.model()
    for row in range(model.rowCount()):
        if name == model.index(row, 0).data():
            window.inspector.setCurrentIndex(model.index(row, 0))
            window.inspector.cancel_action.trigger()


def _start_everything(window: Demo) -> Generator[Any, Any, None]:
    window.fan_out_button.click()
    window.map_button.click()
    window.slow_button.click()
    yield from wait_until(
        lambda: {"Demo.fan_out", "Demo.thumbnails", "Demo.read_pages"} <= set(_rows(window)),
        "the inspector to list the three slots",
    )


def smoke(window: Demo) -> Generator[Any, Any, None]:
    """Start each kind of work, see it in the inspector, catch a freeze, cancel from the inspector."""
    yield from _start_everything(window)
    window.block_button.click()
    yield from wait_until(lambda: window.freeze_count >= 1, "the freeze watch to report the blocking button")
    assert "time.sleep(0.5)" in window.freezes.toPlainText(), window.freezes.toPlainText()
    _cancel_from_inspector(window, "Demo.fan_out")
    yield from wait_until(
        lambda: "Demo.fan_out" not in _rows(window), "the cancelled fan-out to leave the inspector"
    )
    _cancel_from_inspector(window, "Demo.thumbnails")
    _cancel_from_inspector(window, "Demo.read_pages")
    yield from wait_until(lambda: ["smoke"] == _top_rows(window), "the inspector to show only this script")
    window.watch.stop()


def take_screenshot(path: str) -> int:
    """Show the window headless with the work running and one freeze caught; save it as a PNG."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication(sys.argv[:1])
    window = Demo()
    window.show()
    window.fan_out_button.click()
    window.map_button.click()
    window.slow_button.click()
    QTimer.singleShot(300, window.block_button.click)
    saved: list[bool] = []

    def grab() -> None:
        window.inspector.refresh()
        saved.append(window.grab().save(path))
        window.close()
        app.quit()

    QTimer.singleShot(1600, grab)
    app.exec()
    if not saved or not saved[0]:
        print(f"could not write {path}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    if "--screenshot" in sys.argv:
        sys.exit(take_screenshot(sys.argv[sys.argv.index("--screenshot") + 1]))
    sys.exit(main(Demo, smoke))
