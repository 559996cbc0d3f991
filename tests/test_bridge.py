"""The bridge: one wake-up per burst, and none for posts a delivery makes inside a drain."""

from __future__ import annotations

from typing import Any

from qt import QCoreApplication, QEventLoop, Qt, QTimer
from support import double

import qtasks
from qtasks import _runtime


def test_a_done_callback_of_a_delivery_rides_on_the_same_drain(qtbot: Any) -> None:
    """A finished task's done callback runs in the drain that delivered it, without a wake-up of its own."""
    bridge = _runtime.bridge()
    # For each wake-up, whether a delivery was running when it was emitted.
    # Why not a count: workers wake the bridge for a completion and again
    # when their pool goes idle, and a drain wakes it before a call with more
    # behind it, all at times a loaded machine decides; only a wake-up made
    # inside the delivery can be the callback's own.
    during_delivery: list[bool] = []
    def record() -> None:
        during_delivery.append(bridge.in_delivery())

    bridge._wake.connect(record, Qt.ConnectionType.DirectConnection)  # type: ignore[call-arg]
    calls: list[int] = []
    task = qtasks.run(double, 21)
    task.add_done_callback(lambda t: calls.append(t.result()))
    qtbot.waitUntil(lambda: bool(calls))
    bridge.run_pending()
    assert [42] == calls
    assert True not in during_delivery


def test_a_nested_event_loop_in_a_callback_still_gets_posts_run(qtasks_run: Any) -> None:
    """A done callback that spins a nested event loop still sees later posts run."""
    log: list[str] = []

    def callback(_task: object) -> None:
        loop = QEventLoop()
        _runtime.call_soon(lambda: log.append("posted"))
        _runtime.call_soon(loop.quit)
        loop.exec()
        log.append("nested loop ended")

    task = qtasks.run(double, 1)
    task.add_done_callback(callback)
    qtasks_run(task)
    qtasks_run(qtasks.run(double, 2))
    assert ["posted", "nested loop ended"] == log


def test_work_queued_behind_a_nested_event_loop_runs_inside_it(qapp: Any) -> None:
    """A call that spins a nested event loop (a modal dialog) does not hold back what was queued after it."""
    bridge = _runtime.bridge()
    log: list[str] = []
    loop = QEventLoop()

    def modal() -> None:
        QTimer.singleShot(5000, loop.quit)  # only if the queued call never runs
        loop.exec()
        log.append("nested loop ended")

    def queued_behind() -> None:
        log.append("queued call ran")
        loop.quit()

    # Both wait in the queue before one drain runs them: the first one's
    # nested loop must still drain the second.
    bridge.post(modal)
    bridge.post(queued_behind)
    QCoreApplication.processEvents()
    bridge.run_pending()
    assert ["queued call ran", "nested loop ended"] == log
