"""Property tests of the search widget: any order in which its lookups finish leaves it consistent."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from search_widget import WORDS, SearchWidget

from qtasks.testing import COMPLETE, FAIL, ManualPool, drive, manual_pool


def lookup(prefix: str) -> list[str]:
    """The lookup without its delay: ManualPool runs it on the test's thread."""
    return [word for word in WORDS if word.startswith(prefix)]


def test_the_latest_query_wins(qtasks_manual_pool: ManualPool, qtbot: Any) -> None:
    """An older lookup that finishes last does not replace the newer results."""
    widget = SearchWidget(lookup=lambda text: [text.upper()])
    qtbot.addWidget(widget)
    widget.edit.setText("q")
    widget.edit.setText("qt")
    old, new = qtasks_manual_pool.pending
    qtasks_manual_pool.complete(new)
    qtasks_manual_pool.complete(old)
    assert (["QT"], "1 results for 'qt'") == (widget.shown(), widget.status.text())


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_completion_order_shows_the_last_query(qapp: Any, data: Any) -> None:
    """For any order in which three lookups finish or fail, the widget never shows an older query.

    Every status and every list of words shown after the last keystroke is
    about the last query, and in the end the widget shows its outcome.
    """
    with manual_pool() as pool:  # a fresh pool for each example
        widget = SearchWidget(lookup=lookup)
        for text in ("q", "qu", "qui"):
            widget.edit.setText(text)
        last = pool.pending[-1]
        statuses, lists = watch(widget)
        steps = drive(pool, data, outcomes=(COMPLETE, FAIL), error=lambda _: OSError("server down"))
    [last_outcome] = [step.outcome for step in steps if step.task is last]
    assert [] == [status for status in statuses if "'qui'" not in status]
    assert [] == [words for words in lists if words != ["quit"]]
    if last_outcome == COMPLETE:
        assert (["quit"], "1 results for 'qui'") == (widget.shown(), widget.status.text())
        assert 1 == len(lists)
    else:
        assert [] == widget.shown()
        assert "'qui' failed: server down" == widget.status.text()
        assert [] == lists


def watch(widget: SearchWidget) -> tuple[list[str], list[list[str]]]:
    """Record every status text and every list of words the widget shows from now on."""
    statuses: list[str] = []
    lists: list[list[str]] = []
    set_status = widget.status.setText
    add_items = widget.results.addItems

    def record_status(text: str) -> None:
        statuses.append(text)
        set_status(text)

    def record_items(words: list[str]) -> None:
        lists.append(list(words))
        add_items(words)

    # The widget's code calls these from Python, so the instance attributes take the calls.
    widget.status.setText = record_status  # type: ignore[method-assign]
    widget.results.addItems = record_items  # type: ignore[method-assign]
    return statuses, lists
