"""Workers run gc.collect() while coroutines, cycles and failed handles become garbage.

Finally blocks and the report of an unconsumed failure must run once, and the
coroutines' clean-up on the GUI thread.
"""

import gc
import threading

import common

import qtasks

GUI = threading.get_ident()
finally_threads = []


def collect(i: int) -> int:
    gc.collect()
    return i


@qtasks.coroutine
def body(i: int):  # type: ignore[no-untyped-def]
    cycle = [None]
    cycle[0] = cycle  # type: ignore[call-overload]
    try:
        return (yield qtasks.run(collect, i))
    finally:
        finally_threads.append(threading.get_ident())


def fail() -> None:
    raise OSError("boom-collected-unconsumed")


for i in range(200):
    body(i)
failed = qtasks.run(fail)
failed.add_done_callback(lambda t: None)  # consumed: never reported
lost_box = [qtasks.run(fail)]
lost_box.append(lost_box)  # once it is done, only the collector can free it
del lost_box
common.spin_until(lambda: not qtasks.running())

# The lost handle is now garbage in a cycle: a worker's gc.collect() frees it.
for _ in range(20):
    qtasks.run(collect, 0)
common.run_until_idle(lambda: len(finally_threads) == 200)
gc.collect()
assert {GUI} == set(finally_threads), finally_threads
print("finally blocks on the GUI thread", flush=True)
