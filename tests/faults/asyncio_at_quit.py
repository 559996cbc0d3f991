"""Quit the application while coroutines wait on qtasks' asyncio loop.

aboutToQuit runs qtasks.shutdown(): the asyncio tasks are cancelled, their
finally blocks run on the loop's thread, the loop stops and its thread is
joined, and the process ends normally.
"""

import asyncio
import threading

import common
from qt import QTimer

import qtasks

started = [threading.Event() for _ in range(3)]


async def wait_forever(i: int) -> None:
    started[i].set()
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.sleep(0)
        print(f"finally {i}", flush=True)


handles = [qtasks.run_async(wait_forever, i) for i in range(3)]


@qtasks.coroutine
def awaiting(handle: qtasks.Task[None]):  # type: ignore[no-untyped-def]
    yield handle


waiting = [awaiting(handle) for handle in handles]


def quit_when_started() -> None:
    if all(event.is_set() for event in started):
        common.app.quit()


timer = QTimer()
timer.timeout.connect(quit_when_started)
timer.start(5)
common.app.exec()
assert all(handle.cancelled() for handle in handles + waiting)
assert [] == [t for t in threading.enumerate() if t.name == "qtasks-asyncio"]
print("exited normally", flush=True)
