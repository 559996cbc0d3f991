"""Search as you type: each keystroke restarts the search, so only the last text shows results.

`@qtasks.slot(reentry="restart")` on `textChanged`: a new keystroke cancels
the search still running for the previous text (its worker stops at the
next `qtasks.check_cancelled()`) and starts one for the new text.

    python examples/search_as_you_type.py            # the window
    python examples/search_as_you_type.py --smoke    # drive it headless; exit 0 on success
"""

from __future__ import annotations

import sys
import time
from typing import Any, Generator

from _qt import QLabel, QLineEdit, QListWidget, QTest, QVBoxLayout, QWidget
from _smoke import main, wait_until

import qtasks

WORDS = [
    f"{adjective} {noun}"
    for adjective in ("quick", "quiet", "queued", "quaint")
    for noun in ("task", "thread", "timer", "signal", "slot", "queue", "widget")
]


def slow_search(text: str) -> list[str]:
    """Find the words containing `text`, slowly, as a remote search would. Worker thread."""
    for _ in range(20):
        qtasks.check_cancelled()
        time.sleep(0.01)
    return [word for word in WORDS if text.lower() in word]


class SearchBox(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("qtasks: search as you type")
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("Type to search, e.g. 'qu'")
        self.status = QLabel("Ready")
        self.results = QListWidget()
        layout = QVBoxLayout(self)
        layout.addWidget(self.edit)
        layout.addWidget(self.status)
        layout.addWidget(self.results)
        # The texts whose results were shown, in order (read by the smoke test).
        self.shown: list[str] = []
        self.edit.textChanged.connect(self.on_text)

    @qtasks.slot(reentry="restart")
    def on_text(self, text: str) -> Generator[Any, Any, None]:
        self.status.setText(f"Searching for {text!r}...")
        found = yield qtasks.run(slow_search, text)
        self.results.clear()
        self.results.addItems(found)
        self.shown.append(text)
        self.status.setText(f"{len(found)} result(s) for {text!r}")


def smoke(window: SearchBox) -> Generator[Any, Any, None]:
    """Type ten characters fast: exactly one result is shown, for the last text."""
    QTest.keyClicks(window.edit, "quiet slot")  # ten keystrokes, ten textChanged
    assert "quiet slot" == window.edit.text()
    yield from wait_until(lambda: bool(window.shown), "a result")
    yield qtasks.sleep(0.3)  # a cancelled search that still showed results would show by now
    assert ["quiet slot"] == window.shown, window.shown
    items = [window.results.item(row) for row in range(window.results.count())]
    assert ["quiet slot"] == [item.text() for item in items if item is not None]


if __name__ == "__main__":
    sys.exit(main(SearchBox, smoke))
