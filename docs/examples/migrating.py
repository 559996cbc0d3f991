"""The README's "Migrating" section as a script: a QThread worker, then the same with qtasks.

`python docs/examples/migrating.py` runs both windows headless and exits 0
when both show the same data and the same error.
"""

from __future__ import annotations

import sys

from PyQt5.QtCore import QObject, QThread, pyqtSignal
from PyQt5.QtWidgets import QApplication, QLabel, QPushButton, QVBoxLayout, QWidget

import qtasks


def load(path):
    """Read a file (a worker thread)."""
    if path == "missing":
        raise FileNotFoundError(f"no such file: {path!r}")
    return f"data of {path}"


class Base(QWidget):
    def __init__(self, path):
        super().__init__()
        self.path = path
        self.button = QPushButton("Open")
        self.label = QLabel()
        layout = QVBoxLayout(self)
        layout.addWidget(self.button)
        layout.addWidget(self.label)
        self.button.clicked.connect(self.on_open)

    def show_data(self, data):
        self.label.setText(data)

    def show_error(self, error):
        self.label.setText(f"failed: {error}")


# -- before: a QThread and a worker object ------------------------------------


class Worker(QObject):
    finished = pyqtSignal(object)
    failed = pyqtSignal(Exception)

    def __init__(self, path):
        super().__init__()
        self.path = path

    def run(self):
        try:
            self.finished.emit(load(self.path))
        except OSError as e:
            self.failed.emit(e)


class ThreadWindow(Base):
    def on_open(self):
        self.thread = QThread()
        self.worker = Worker(self.path)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.finished.connect(self.show_data)
        self.worker.failed.connect(self.show_error)
        self.worker.finished.connect(self.thread.quit)
        self.worker.failed.connect(self.thread.quit)
        self.thread.start()


# -- after: one slot ------------------------------------------------------------


class TasksWindow(Base):
    @qtasks.slot
    def on_open(self):
        try:
            data = yield qtasks.run(load, self.path)
        except OSError as e:
            self.show_error(e)
        else:
            self.show_data(data)


def shown_after_click(window):
    """Click Open and spin the event loop until the label changes. GUI thread."""

    @qtasks.coroutine
    def click_and_wait():
        window.button.click()
        while not window.label.text():
            yield qtasks.sleep(0.01)
        if isinstance(window, ThreadWindow):
            window.thread.wait()
        return window.label.text()

    return qtasks.run_until_complete(click_and_wait(), timeout=10)


def main():
    app = QApplication(sys.argv)
    for path, expected in (("a.txt", "data of a.txt"), ("missing", "failed: no such file: 'missing'")):
        before = shown_after_click(ThreadWindow(path))
        after = shown_after_click(TasksWindow(path))
        if (expected, expected) != (before, after):
            sys.exit(f"migrating: expected {expected!r} twice, got {before!r} and {after!r}")
    print("migrating: ok")
    del app


if __name__ == "__main__":
    main()
