"""Quit while a coroutine waits; its finally block raises during the shutdown that quitting runs."""

import time

import common
from qt import QTimer

import qtasks


def cooperative() -> None:
    while True:
        qtasks.check_cancelled()
        time.sleep(0.001)  # the work between two checks


@qtasks.coroutine
def body():  # type: ignore[no-untyped-def]
    try:
        yield qtasks.run(cooperative)
    finally:
        raise RuntimeError("boom-in-finally-at-quit")


handle = body()
QTimer.singleShot(50, common.app.quit)
common.app.exec()
assert handle.done() and not qtasks.running()
print("exited normally", flush=True)
