"""A search box whose lookups run on the thread pool while the user keeps typing.

Every keystroke starts a lookup. Lookups finish in any order; the widget shows
the results (or the error) of the query in the box, never those of a query the
user has typed over. Run it, or `python examples/search_widget.py --smoke` to
type three queries headless and print what the widget shows.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

from PyQt5.QtWidgets import QApplication, QLabel, QLineEdit, QListWidget, QVBoxLayout, QWidget

import qtasks

WORDS = ["qt", "qtasks", "queue", "quit", "thread", "task", "pool", "query", "quota"]


def find_words(prefix: str) -> list[str]:
    """Worker thread: the slow lookup (a database or a web service in a real program)."""
    time.sleep(0.05)
    return [word for word in WORDS if word.startswith(prefix)]


class SearchWidget(QWidget):
    """A line edit, the results of the current query, and a status line."""

    def __init__(self, lookup: Callable[[str], list[str]] = find_words) -> None:
        super().__init__()
        self._lookup = lookup
        self.edit = QLineEdit()
        self.results = QListWidget()
        self.status = QLabel("type to search")
        layout = QVBoxLayout(self)
        for widget in (self.edit, self.results, self.status):
            layout.addWidget(widget)
        self.edit.textChanged.connect(self.search)

    @qtasks.coroutine
    def search(self, text: str) -> Any:
        """GUI thread: look `text` up on the pool and show the outcome if `text` is still the query."""
        self.status.setText(f"searching {text!r}")
        try:
            words = yield qtasks.run(self._lookup, text)
        except OSError as exc:
            if text == self.edit.text():
                self.results.clear()
                self.status.setText(f"{text!r} failed: {exc}")
            return
        # Why: an older lookup can finish after a newer one; its words are stale.
        if text != self.edit.text():
            return
        self.results.clear()
        self.results.addItems(words)
        self.status.setText(f"{len(words)} results for {text!r}")

    def shown(self) -> list[str]:
        """Return the words in the list, top to bottom."""
        return [self.results.item(row).text() for row in range(self.results.count())]


def main(argv: list[str]) -> int:
    app = QApplication(argv)
    widget = SearchWidget()
    widget.show()
    if "--smoke" in argv:
        for text in ("q", "qu", "qui"):
            widget.edit.setText(text)
        while qtasks.running():
            app.processEvents()
        print(widget.status.text(), widget.shown())
        return 0
    return app.exec_()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
