"""Run an example's window, or drive it headless with --smoke. Shared by the examples."""

from __future__ import annotations

import os
import sys
import time
import traceback
from typing import Any, Callable, Generator

from _qt import QApplication, QTimer

import qtasks

SMOKE_TIMEOUT_S = 60


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> Generator[Any, Any, None]:
    """Sleep in small steps until `predicate()` is true; use with `yield from` in a coroutine.

    GUI thread. Raises AssertionError naming `what` after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            msg = f"smoke: timed out after {timeout} s waiting for {what}"
            raise AssertionError(msg)
        yield qtasks.sleep(0.01)


def main(make_window: Callable[[], Any], script: Callable[[Any], Any], argv: list[str] | None = None) -> int:
    """Show the window and run the event loop; with --smoke, run `script(window)` and exit with its verdict.

    Exit status in smoke mode: 0 when the script finished and nothing reached
    sys.excepthook, 1 on a failure, 3 when the script did not finish in time.
    """
    argv = list(sys.argv if argv is None else argv)
    smoke = "--smoke" in argv
    if smoke:
        argv.remove("--smoke")
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # read when the app is created
    app = QApplication(argv)
    window = make_window()
    window.show()
    if not smoke:
        return app.exec()

    failures: list[BaseException] = []

    def hook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        traceback.print_exception(kind, exc, tb)
        failures.append(exc)
        app.exit(1)

    sys.excepthook = hook

    def finished(task: qtasks.Task[Any]) -> None:
        if task.cancelled():
            print("smoke: the script was cancelled", file=sys.stderr)
            failures.append(qtasks.CancelledError())
        else:
            exc = task.exception()
            if exc is not None:
                hook(type(exc), exc, exc.__traceback__)
        app.exit(1 if failures else 0)

    def start() -> None:
        try:
            handle = qtasks.coroutine(script)(window)
            handle.add_done_callback(finished)
        except BaseException as exc:  # noqa: BLE001 - nothing may escape into Qt
            hook(type(exc), exc, exc.__traceback__)

    def too_slow() -> None:
        print(f"smoke: not finished after {SMOKE_TIMEOUT_S} s", file=sys.stderr)
        app.exit(3)

    QTimer.singleShot(0, start)
    QTimer.singleShot(SMOKE_TIMEOUT_S * 1000, too_slow)
    code = app.exec()
    if code == 0 and failures:
        code = 1
    if code == 0:
        print("smoke: ok")
    return code
