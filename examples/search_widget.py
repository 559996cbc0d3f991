"""A search box whose lookups all run to the end, finishing in any order.

Unlike `search_as_you_type.py`, which restarts its slot on each keystroke,
every lookup here runs to the end (a real program might cache them all). The
widget must then show the results, or the error, of the text in the box,
never those of a text the user has typed over. `test_search_widget.py` proves
it for every order in which the lookups finish, with `qtasks.testing.drive`.

    python examples/search_widget.py            # the window
    python examples/search_widget.py --smoke    # drive it headless; exit 0 on success
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Generator

from _qt import QLabel, QLineEdit, QListWidget, QVBoxLayout, QWidget
from _smoke import main, wait_until

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


def smoke(window: SearchWidget) -> Generator[Any, Any, None]:
    """Type three queries at once: the widget ends showing the last one's results."""
    for text in ("q", "qu", "qui"):
        window.edit.setText(text)
    yield from wait_until(lambda: window.status.text() == "1 results for 'qui'", "the last query's results")
    assert ["quit"] == window.shown()


if __name__ == "__main__":
    sys.exit(main(SearchWidget, smoke))
