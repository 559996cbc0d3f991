"""Loaded (through PYTHONPATH) only by the processes that run documentation snippets.

A snippet is a script a user copies; most end in `app.exec_()`, which would
wait for a person. Here `exec_()` instead clicks every enabled button of the
visible windows once, waits until the qtasks work this started is done (at
most 20 s), and quits. Whatever reaches `sys.excepthook` meanwhile makes the
process exit 1, so a slot that fails when clicked fails its snippet's test.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from typing import Any

os.environ["QT_QPA_PLATFORM"] = "offscreen"

_CLICKED_WAIT_S = 20.0


def _install() -> None:
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QAbstractButton, QApplication

    real_exec = QApplication.exec_

    def hook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        traceback.print_exception(kind, exc, tb)
        print("snippet: an exception reached sys.excepthook", file=sys.stderr, flush=True)
        os._exit(1)

    sys.excepthook = hook

    def click_everything_then_quit(*_args: Any) -> int:
        import qtasks  # not at start-up: a process may never need it

        app = QApplication.instance()
        deadline = time.monotonic() + _CLICKED_WAIT_S

        def quit_when_idle() -> None:
            if qtasks.running() and time.monotonic() < deadline:
                QTimer.singleShot(10, quit_when_idle)
            else:
                app.quit()

        def click() -> None:
            for window in app.topLevelWidgets():
                if window.isVisible():
                    for button in window.findChildren(QAbstractButton):
                        if button.isEnabled():
                            button.click()
            quit_when_idle()

        QTimer.singleShot(0, click)
        code = real_exec()
        if qtasks.running():
            print(f"snippet: still running after the clicks: {qtasks.running()}", file=sys.stderr)
            return 3
        return code

    QApplication.exec_ = click_everything_then_quit  # type: ignore[method-assign]
    QApplication.exec = click_everything_then_quit  # type: ignore[attr-defined]


with contextlib.suppress(ImportError):  # a process without Qt needs nothing of this
    _install()
