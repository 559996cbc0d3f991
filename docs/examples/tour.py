"""The README's tour as one script that checks what the README says: `python docs/examples/tour.py`.

The README shows parts of this file; the test suite checks that each part is
here, word for word, and runs the file headless. It exits 0 when every claim
below holds.
"""

from __future__ import annotations

import sys
import time

from PyQt5.QtWidgets import QApplication, QLabel, QLineEdit, QListWidget, QPushButton, QVBoxLayout, QWidget

import qtasks

WORDS = ["qt", "qtasks", "queue", "quit", "thread", "task"]


def load(path):
    """Read a file (a worker thread)."""
    if path == "missing":
        raise FileNotFoundError(f"no such file: {path!r}")
    return [f"{path}/{i}.png" for i in range(3)]


def thumb(name):
    """Make one thumbnail (a worker thread)."""
    return name.upper()


def save(path, thumbs):
    """Write the thumbnails (a worker thread); return the bytes written."""
    if path == "read-only":
        raise PermissionError(f"cannot write {path!r}")
    return sum(len(name) for name in thumbs)


def search(text):
    """A slow lookup (a worker thread)."""
    time.sleep(0.05)
    return [word for word in WORDS if word.startswith(text)]


def fetch(url):
    """A download that is slow the first time (a worker thread)."""
    return f"contents of {url}"


class Viewer(QWidget):
    def __init__(self, path):
        super().__init__()
        self.path = path
        self.thumbs = []
        self.button = QPushButton("Open")
        self.label = QLabel()
        self.url = "https://example.org/thumbs"
        layout = QVBoxLayout(self)
        layout.addWidget(self.button)
        layout.addWidget(self.label)
        self.button.clicked.connect(self.on_open)

    def show_error(self, error):
        self.label.setText(f"failed: {error}")

    def show_thumbs(self, thumbs):
        self.thumbs = thumbs
        self.label.setText(f"{len(thumbs)} thumbnails")

    @qtasks.slot
    def on_open(self):
        self.button.setEnabled(False)
        try:
            data = yield qtasks.run(load, self.path)      # runs on the QThreadPool
            thumbs = yield qtasks.gather(*(qtasks.run(thumb, d) for d in data))
        except OSError as e:                              # the worker's own exception
            self.show_error(e)
        else:
            self.show_thumbs(thumbs)
        finally:
            self.button.setEnabled(True)

    @qtasks.slot
    async def on_save(self):
        try:
            size = await qtasks.run(save, self.path, self.thumbs)
        except OSError as e:
            self.show_error(e)
            return None
        self.label.setText(f"saved {size} bytes")
        return size

    @qtasks.slot
    async def on_refresh(self):
        for attempt in range(3):
            try:
                return await qtasks.timeout(2.0, qtasks.run(fetch, self.url))   # seconds first
            except qtasks.TimeoutError:
                await qtasks.sleep(0.5 * 2**attempt)                           # then retry
        return None


@qtasks.coroutine
def load_all(paths):                      # awaited by other coroutines, never connected to a signal
    return (yield qtasks.gather(*(qtasks.run(load, p) for p in paths)))


class SearchBox(QWidget):
    def __init__(self):
        super().__init__()
        self.edit = QLineEdit()
        self.results = QListWidget()
        layout = QVBoxLayout(self)
        layout.addWidget(self.edit)
        layout.addWidget(self.results)
        self.edit.textChanged.connect(self.on_text)

    @qtasks.slot(reentry="restart")        # or "concurrent" (default), "ignore", "queue"
    def on_text(self, text):               # connected to QLineEdit.textChanged
        found = yield qtasks.run(search, text)
        self.results.clear()
        self.results.addItems(found)       # only ever for the latest text


def shown(box):
    return [box.results.item(row).text() for row in range(box.results.count())]


def check(expected, actual):
    if expected != actual:
        sys.exit(f"tour: expected {expected!r}, got {actual!r}")


def main():
    app = QApplication(sys.argv)

    viewer = Viewer("photos")
    viewer.button.click()                                  # the signal starts the slot
    qtasks.run_until_complete(qtasks.gather(*qtasks.running()), timeout=10)
    check(["PHOTOS/0.PNG", "PHOTOS/1.PNG", "PHOTOS/2.PNG"], viewer.thumbs)
    check(True, viewer.button.isEnabled())
    check(36, qtasks.run_until_complete(viewer.on_save()))
    check("saved 36 bytes", viewer.label.text())
    check("contents of https://example.org/thumbs", qtasks.run_until_complete(viewer.on_refresh()))

    missing = Viewer("missing")
    qtasks.run_until_complete(missing.on_open())
    check("failed: no such file: 'missing'", missing.label.text())
    read_only = Viewer("read-only")
    check(None, qtasks.run_until_complete(read_only.on_save()))
    check("failed: cannot write 'read-only'", read_only.label.text())

    check([["a/0.png", "a/1.png", "a/2.png"], ["b/0.png", "b/1.png", "b/2.png"]],
          qtasks.run_until_complete(load_all(["a", "b"])))

    box = SearchBox()
    box.edit.setText("q")
    box.edit.setText("qu")                                 # restarts: the lookup of "q" is cancelled
    last = box.on_text("qui")                              # a direct call returns the handle
    qtasks.run_until_complete(last, timeout=10)
    check(["quit"], shown(box))

    print("tour: ok")
    del app


if __name__ == "__main__":
    main()
