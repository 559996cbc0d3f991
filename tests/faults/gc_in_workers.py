"""Suspended generators that only qtasks keeps alive are finalised on the GUI thread, while workers collect.

A generator suspended at a `yield` that nobody resumes runs its `finally`
block (GeneratorExit) when its last reference drops, on the thread that drops
it. Here 200 of them, each holding an object with a `__del__`, are handed to
qtasks as the only reference: as a function's argument when the function
finishes, when its task is cancelled while the function runs, and when it is
cancelled while queued, and as a function's result when its task is cancelled
before that result is delivered. 100 qtasks coroutines, each in a reference
cycle with its own handle, are suspended on a signal that never comes, and
every reference to them is dropped. Automatic collection is off: only the
workers' `gc.collect()` calls, among garbage cycles they make, can collect.

Every generator's `finally` block and `__del__` must run once, on the GUI
thread, when qtasks lets go of it; every coroutine's `finally` block only
when it is cancelled at shutdown, on the GUI thread (a pending coroutine is
never garbage). An unconsumed failure lost in a cycle, freed by a worker's
collection, is reported once.
"""

import gc
import math
import threading
import weakref

import common
from qt import QObject, QThreadPool, Signal

import qtasks

GUI = threading.get_ident()
GENERATORS = 200
ROUTES = ("argument", "running", "result", "queued")
COROUTINES = 100
# (what, thread) for each finally block and __del__ that ran.
ran = []


class Marker:
    """Records the thread its __del__ runs on."""

    def __init__(self, what):
        self.what = what

    def __del__(self):
        ran.append((f"del {self.what}", threading.get_ident()))


def resource(what):
    marker = Marker(what)  # noqa: F841 - freed with the frame, after the finally block
    try:
        yield  # nobody ever resumes it
    finally:
        ran.append((f"finally {what}", threading.get_ident()))


def suspended(what):
    """A generator suspended for good: its last reference decides where its finally block runs."""
    generator = resource(what)
    next(generator)
    return generator


def churn(*_ignored):
    """Worker thread: make garbage cycles and collect, so the collector runs off the GUI thread."""
    for _ in range(10):
        cycle = [None]
        cycle[0] = cycle
    gc.collect()


def hold(gate, entered, *_ignored):
    """Worker thread: wait for the gate, then churn."""
    entered.set()
    gate.wait(10)
    churn()


def make_suspended(what, returning):
    """Worker thread: return a suspended generator; the GUI thread cancels the task before delivery."""
    churn()
    generator = suspended(what)
    returning.set()
    return generator


gc.disable()
count = GENERATORS // 4

# 1. Arguments of functions that finish.
for i in range(count):
    qtasks.run(churn, suspended(f"argument {i}"))

# 2. Arguments of functions whose task is cancelled while they run.
for i in range(count):
    gate, entered = threading.Event(), threading.Event()
    task = qtasks.run(hold, gate, entered, suspended(f"running {i}"))
    assert entered.wait(10)
    assert task.cancel()
    gate.set()
    del task

# 3. Results of functions whose task is cancelled after they returned, before delivery.
for i in range(count):
    returning = threading.Event()
    task = qtasks.run(make_suspended, f"result {i}", returning)
    assert returning.wait(10)
    assert task.cancel()
    del task

# 4. Arguments of tasks cancelled while queued behind functions that fill every thread.
gate = threading.Event()
blockers = [threading.Event() for _ in range(QThreadPool.globalInstance().maxThreadCount())]
for entered in blockers:
    qtasks.run(hold, gate, entered)
for entered in blockers:
    assert entered.wait(10)
queued = [qtasks.run(churn, suspended(f"queued {i}")) for i in range(count)]
for task in queued:
    assert task.cancel()
del queued, task
gate.set()


# 5. Coroutines suspended on a signal that never comes, each in a cycle with its own handle.
class Never(QObject):
    fired = Signal()


never = Never()


@qtasks.coroutine
def body(i, box):
    try:
        yield qtasks.wait_signal(never.fired) if i % 2 else qtasks.sleep(math.inf)
    finally:
        ran.append((f"finally coroutine {i}", threading.get_ident()))


for i in range(COROUTINES):
    box = []
    box.append(body(i, box))
del box

failed = qtasks.run(lambda: 1 / 0)
failed.add_done_callback(lambda t: None)  # consumed: never reported


def fail():
    raise OSError("boom-collected-unconsumed")


lost_box = [qtasks.run(fail)]
lost_box.append(lost_box)  # once it is done, only the collector can free it
lost = weakref.ref(lost_box[0])
del lost_box

generators_done = 2 * GENERATORS


def lost_is_done():
    """Tell whether the lost handle is done (a worker's collection may have freed it already)."""
    task = lost()
    return task is None or task.done()


common.spin_until(lambda: len(ran) >= generators_done and failed.done() and lost_is_done())
# The lost handle and every coroutine are garbage now, for all the user holds: let the workers collect.
collections = [qtasks.run(churn) for _ in range(20)]
common.spin_until(lambda: all(task.done() for task in collections) and lost() is None)
assert generators_done == len(ran), sorted(ran)[generators_done:]
# At quit, as aboutToQuit would, the coroutines are cancelled.
qtasks.shutdown(timeout=10)
common.run_until_idle(lambda: len(ran) == generators_done + COROUTINES)
gc.enable()
gc.collect()
expected = [
    *(f"{kind} {route} {i}" for kind in ("finally", "del") for route in ROUTES for i in range(count)),
    *(f"finally coroutine {i}" for i in range(COROUTINES)),
]
assert sorted(expected) == sorted(what for what, _thread in ran), sorted(ran)
off_the_gui_thread = [(what, thread) for what, thread in ran if thread != GUI]
assert [] == off_the_gui_thread, off_the_gui_thread[:10]
print("finally blocks on the GUI thread", flush=True)
