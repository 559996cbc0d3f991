"""Start using qtasks from a plain thread, then quit: shutdown still runs on aboutToQuit.

The bridge is created off the GUI thread here, so the aboutToQuit connection
must be made on the GUI thread, not on the short-lived thread that used
qtasks first.
"""

import threading
import time

import common
from qt import QTimer

import qtasks

started = threading.Event()
tasks: list[qtasks.Task[None]] = []


def cooperative() -> None:
    started.set()
    while True:
        qtasks.check_cancelled()
        time.sleep(0.001)  # the work between two checks


def first_use() -> None:
    tasks.append(qtasks.run(cooperative))


thread = threading.Thread(target=first_use)
thread.start()
thread.join()
assert started.wait(10)
QTimer.singleShot(50, common.app.quit)
common.app.exec()
assert tasks[0].cancelled(), tasks[0]
print("shutdown ran", flush=True)
