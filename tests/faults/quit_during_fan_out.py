"""Quit the application while 500 cooperative functions are queued or running.

Coroutines await half of them; their finally blocks must run at the quit.

aboutToQuit runs qtasks.shutdown(): queued work is dropped, running work sees
its cancel flag, and the process must end promptly after app.quit(). It prints
the wall-clock time of the quit and how long the quit took, so that the test
can bound both, up to the end of the process, interpreter and Qt teardown
included. The global pool runs QTASKS_TEST_THREADS threads, like the rest of
the suite.
"""

import os
import time

import common
from qt import QThreadPool, QTimer

import qtasks

QThreadPool.globalInstance().setMaxThreadCount(int(os.environ.get("QTASKS_TEST_THREADS", "2")))


def cooperative(i: int) -> int:
    while True:
        qtasks.check_cancelled()
        time.sleep(0.001)  # the work between two checks


tasks = [qtasks.run(cooperative, i) for i in range(500)]
cleaned_up = []


@qtasks.coroutine
def fan_in(part: list[qtasks.Task[int]]):  # type: ignore[no-untyped-def]
    try:
        return (yield qtasks.gather(*part))
    finally:
        cleaned_up.append(len(part))


# Half of them awaited by coroutines, as a program's slots would.
waiting = [fan_in(tasks[i : i + 50]) for i in range(0, 250, 50)]
quit_at = []


def quit_now() -> None:
    print(f"quit at {time.time():.6f}", flush=True)
    quit_at.append(time.monotonic())
    common.app.quit()


QTimer.singleShot(100, quit_now)
common.app.exec()
elapsed = time.monotonic() - quit_at[0]
assert all(task.cancelled() for task in tasks + waiting)
assert [50] * 5 == cleaned_up
assert [] == qtasks.running()
print(f"quit took {elapsed:.3f} s", flush=True)
