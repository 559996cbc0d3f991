"""Delete a slot's owner at each of its suspension points, in each way Qt deletes an object.

Every slot must end cancelled with its finally block run, and nothing may be
reported: the finally block touches the owner, which fails only because the
owner is gone, and that is the deletion itself, not an error.
"""

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import common
from qt import QObject, Signal, sip

import qtasks

never = threading.Event()  # what the blocking workers wait for; set only at the end
EXECUTOR = ThreadPoolExecutor(max_workers=2)


def block() -> None:
    """Worker thread: wait until cancelled."""
    while not never.wait(0.001):
        qtasks.check_cancelled()


def endless():  # type: ignore[no-untyped-def]
    n = 0
    while True:
        yield n
        n += 1


@qtasks.coroutine
def forever():  # type: ignore[no-untyped-def]
    yield qtasks.sleep(float("inf"))


def sub_generator():  # type: ignore[no-untyped-def]
    yield qtasks.run(block)


class Owner(QObject):
    """A QObject whose slot suspends at a chosen point and records how it ended."""

    never_emitted = Signal()

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.reached = False
        self.log: list[str] = []

    def suspensions(self):  # type: ignore[no-untyped-def]
        """One awaitable per suspension point a slot can have."""
        return [
            lambda: qtasks.run(block),
            lambda: qtasks.sleep(3600),
            lambda: qtasks.gather(qtasks.run(block), qtasks.run(block)),
            lambda: qtasks.wait_signal(self.never_emitted),
            forever,
            lambda: qtasks.map(lambda x: block(), endless(), window=2),
            lambda: qtasks.timeout(3600, qtasks.run(block)),
            lambda: qtasks.wait([self.unwaited()]),
            lambda: qtasks.run_in(EXECUTOR, self.release().wait, 10),
            lambda: qtasks.wrap(Future()),
        ]

    def release(self) -> threading.Event:
        """What an executor's call waits for: it cannot see its cancel, so each case sets it."""
        event = threading.Event()
        RELEASES.append(event)
        return event

    def unwaited(self) -> qtasks.Task[None]:
        """A task for wait(), which, like asyncio.wait, leaves it running when cancelled."""
        task = qtasks.run(block)
        ORPHANS.append(task)
        return task

    @qtasks.slot
    def on_generator(self, point: int):  # type: ignore[no-untyped-def]
        try:
            if point == len(self.suspensions()):
                self.reached = True
                yield from sub_generator()
            else:
                awaitable = self.suspensions()[point]()
                self.reached = True
                yield awaitable
            LOG.append("resumed after the owner was deleted")
        finally:
            LOG.append("finally")
            self.setObjectName("finally ran")  # raises: the owner is gone

    @qtasks.slot
    async def on_async(self, point: int):  # type: ignore[no-untyped-def]
        try:
            awaitable = self.suspensions()[point % len(self.suspensions())]()
            self.reached = True
            await awaitable
            LOG.append("resumed after the owner was deleted")
        finally:
            LOG.append("finally")
            self.setObjectName("finally ran")


LOG: list[str] = []
ORPHANS: list[qtasks.Task[None]] = []
RELEASES: list[threading.Event] = []
HOW = ("deleteLater", "sip.delete", "parent deleted")


@qtasks.coroutine
def drive():  # type: ignore[no-untyped-def]
    cases = 0
    points = len(Owner(QObject()).suspensions())
    for how in HOW:
        for slot_name in ("on_generator", "on_async"):
            for point in range(points + (slot_name == "on_generator")):
                parent = QObject()
                owner = Owner(parent)
                handle = getattr(owner, slot_name)(point)
                while not owner.reached:
                    yield qtasks.sleep(0.001)
                if how == "deleteLater":
                    owner.deleteLater()
                elif how == "sip.delete":
                    sip.delete(owner)
                else:
                    sip.delete(parent)
                while not handle.done():
                    yield qtasks.sleep(0.001)
                assert handle.cancelled(), f"{slot_name} at {point}, {how}: {handle!r}"
                for task in ORPHANS:
                    task.cancel()
                for event in RELEASES:
                    event.set()
                cases += 1
    return cases


handle = drive()
common.run_until_idle()
never.set()
EXECUTOR.shutdown(wait=True)
assert ["finally"] * handle.result() == LOG, LOG
print(f"{handle.result()} deletions: every slot cancelled, every finally block ran once", flush=True)
