"""Measure qtasks against the bare Qt floor and other libraries: `python -m qtasks.bench`.

Every row does the same job: run a no-op function `n` times off the GUI
thread and bring each result back to the GUI thread. For each row the table
gives tasks per second (median over the rounds), that rate as a ratio to the
floor measured in the same run (parallel rows against `floor`, one-at-a-time
rows against `floor-seq`), the worst GUI stall (the longest gap between two
ticks of a 1 ms QTimer on the GUI thread while the row ran; median over the
rounds) and the peak Python memory per task (tracemalloc, one extra untimed
run per row; Qt's C++ allocations are not seen by tracemalloc).

Rows:
  gather       qtasks.gather over n qtasks.run() calls, from a coroutine
  sequential   one coroutine awaiting qtasks.run() n times
  run_async    one coroutine awaiting qtasks.run_async() of a trivial coroutine n times
  map          qtasks.map over 10*n items
  imap         qtasks.imap over 10*n items, each result taken by `async for` and dropped
  stream       qtasks.stream of a generator yielding 10*n values (default buffer=16), taken by `async for`
  floor        one QRunnable + one queued signal per task (the bare minimum)
  floor-seq    the same, one task at a time
  qthread      one QThread per task (the seed design; n/10 tasks)
  qasync       loop.run_in_executor with qasync's QThreadExecutor (if installed)
  qasync-async one coroutine on qasync's loop awaiting a trivial coroutine as a task n times,
               the run_async row's workload without the thread crossing (if installed)
  qt-async-threads  QtAsyncRunner.run_parallel (if installed)
  superqt      superqt.utils.create_worker per task (if installed)
  raw          one Python thread kept alive, woken by a semaphore, answering by queued
               signal, one task at a time: the round trip's limit in Python
  gil-*, io-*  100 items of a pure-Python loop of about 20 ms (gil) or of
               time.sleep(0.02) (io) on 2 pool threads, through bare QRunnables,
               qtasks.gather, qtasks.map and the peers that use threads; wall time as
               a ratio to the bare QRunnables', and the GUI's p99 and max gap between
               ticks of a 1 ms QTimer (printed as a table of their own; `gil` or `io`
               selects a whole load)
  fairness     latency of one run() submitted during a map of 10**5 busy items,
               in item lengths (printed under the table)
  quit         from app.quit() during a fan-out of 500 cooperative functions to
               the end of the process, teardown included (printed under the table)

Rounds are interleaved (every row once per round) so that drift in the
machine's speed spreads over all rows alike.

The one-at-a-time rows wait on two thread wake-ups per call, whose cost the
operating system sets: far more when the two threads sit on different cores,
each idle in between (tens of microseconds on a virtual machine), than on one.
`--one-core` runs every thread of the bench on one core (Linux), so those rows
measure the CPU each round trip costs, free of where the scheduler puts the
threads.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import itertools
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from typing import TYPE_CHECKING, Any, Callable, Final, Iterator, Sequence, cast

from qtasks import _binding
from qtasks._binding import (
    QEventLoop,
    QObject,
    QRunnable,
    Qt,
    QThread,
    QThreadPool,
    QTimer,
    Signal,
    Slot,
    exec_loop,
)

if TYPE_CHECKING:
    from PyQt5.QtGui import QGuiApplication
    from PyQt5.QtWidgets import QApplication
else:
    QGuiApplication = _binding.module("QtGui").QGuiApplication
    QApplication = _binding.module("QtWidgets").QApplication

import qtasks
from qtasks._bridge import report

__all__ = ["main"]

Done = Callable[[list[Any]], None]
# start(n, done): begin the job on the GUI thread; done(results) when all are back.
Start = Callable[[int, Done], None]

SEQUENTIAL_ROWS: Final = frozenset({"sequential", "run_async", "qasync-async", "floor-seq", "raw"})
ROW_TIMEOUT_S: Final = 300.0


def noop(x: int) -> int:
    """Return `x`: the job every row runs. Worker thread."""
    return x


# -- qtasks -------------------------------------------------------------------


def start_gather(n: int, done: Done) -> None:
    @qtasks.coroutine
    def fan_out() -> Any:
        return (yield qtasks.gather(*[qtasks.run(noop, i) for i in range(n)]))

    fan_out().add_done_callback(lambda task: done(task.result()))


def start_sequential(n: int, done: Done) -> None:
    @qtasks.coroutine
    def round_trips() -> Any:
        results = []
        for i in range(n):
            results.append((yield qtasks.run(noop, i)))
        return results

    round_trips().add_done_callback(lambda task: done(task.result()))


async def async_noop(x: int) -> int:
    """Return `x`: the coroutine the run_async row runs. qtasks' asyncio thread."""
    return x


def start_run_async(n: int, done: Done) -> None:
    @qtasks.coroutine
    def round_trips() -> Any:
        results = []
        for i in range(n):
            results.append((yield qtasks.run_async(async_noop, i)))
        return results

    round_trips().add_done_callback(lambda task: done(task.result()))


def start_map(n: int, done: Done) -> None:
    qtasks.map(noop, range(n)).add_done_callback(lambda task: done(task.result()))


async def _count(stream: qtasks.Stream[Any]) -> list[Any]:
    """Take every value and keep none: the memory a stream needs is its window or buffer."""
    count = 0
    async for _value in stream:
        count += 1
    return cast(list[Any], range(count))  # sized like the results, holding none of them


def start_imap(n: int, done: Done) -> None:
    qtasks.coroutine(_count)(qtasks.imap(noop, range(n))).add_done_callback(lambda task: done(task.result()))


def noop_values(n: int) -> Iterator[int]:
    """Yield 0..n-1: the generator the stream row runs. Worker thread."""
    yield from range(n)


def start_stream(n: int, done: Done) -> None:
    stream = qtasks.stream(noop_values, n)
    qtasks.coroutine(_count)(stream).add_done_callback(lambda task: done(task.result()))


# -- the floor: one QRunnable and one queued signal per task ------------------


class _Receiver(QObject):
    """Collects results on the GUI thread."""

    result = Signal(object)

    def __init__(self, n: int, done: Done, then: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.n = n
        self.done = done
        self.then = then
        self.results: list[Any] = []
        self.result.connect(self.on_result, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]

    @Slot(object)
    def on_result(self, value: object) -> None:
        try:
            self.results.append(value)
            count = len(self.results)
            if count == self.n:
                self.done(self.results)
            elif self.then is not None:
                self.then(count)
        except BaseException as exc:  # noqa: BLE001 - a slot must never raise
            report(exc)


class _FloorRunnable(QRunnable):
    def __init__(self, receiver: _Receiver, value: int) -> None:
        super().__init__()
        # Why: the GUI thread keeps and frees the runnables (in _KEEP), so a
        # worker never drops the last reference to the receiver, a QObject
        # that must die on the GUI thread.
        self.setAutoDelete(False)
        self.receiver = receiver
        self.value = value

    def run(self) -> None:
        """Worker thread."""
        try:
            self.receiver.result.emit(noop(self.value))
        except BaseException as exc:  # noqa: BLE001 - nothing may escape run()
            report(exc)


# What the last measurement made, freed on the GUI thread once its threads are idle.
_KEEP: list[object] = []
_THREADS: list[QThread] = []


def start_floor(n: int, done: Done) -> None:
    receiver = _Receiver(n, done)
    runnables = [_FloorRunnable(receiver, i) for i in range(n)]
    _KEEP[:] = [receiver, runnables]
    pool = QThreadPool.globalInstance()
    for runnable in runnables:
        pool.start(runnable)


def start_floor_seq(n: int, done: Done) -> None:
    pool = QThreadPool.globalInstance()
    runnables: list[_FloorRunnable] = []

    def next_one(count: int) -> None:
        runnable = _FloorRunnable(receiver, count)
        runnables.append(runnable)
        pool.start(runnable)

    receiver = _Receiver(n, done, next_one)
    _KEEP[:] = [receiver, runnables]
    next_one(0)


# -- the seed design: one QThread per task -----------------------------------


class _SeedThread(QThread):
    result = Signal(object)

    def __init__(self, value: int) -> None:
        super().__init__()
        self.value = value

    def run(self) -> None:
        """Worker thread."""
        try:
            self.result.emit(noop(self.value))
        except BaseException as exc:  # noqa: BLE001 - nothing may escape run()
            report(exc)


def start_qthread(n: int, done: Done) -> None:
    receiver = _Receiver(n, done)
    threads = []
    for i in range(n):
        thread = _SeedThread(i)
        thread.result.connect(receiver.on_result, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]
        threads.append(thread)
        thread.start()
    _KEEP[:] = [receiver]
    _THREADS[:] = threads


# -- other libraries, when installed ------------------------------------------


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_QASYNC: dict[str, Any] = {}


def start_qasync(n: int, done: Done) -> None:
    qasync = importlib.import_module("qasync")
    asyncio = importlib.import_module("asyncio")
    if not _QASYNC:
        _QASYNC["loop"] = qasync.QEventLoop(QApplication.instance(), already_running=True)
        _QASYNC["executor"] = qasync.QThreadExecutor(QThreadPool.globalInstance().maxThreadCount())
    loop, executor = _QASYNC["loop"], _QASYNC["executor"]

    async def fan_out() -> list[Any]:
        return list(await asyncio.gather(*[loop.run_in_executor(executor, noop, i) for i in range(n)]))

    loop.create_task(fan_out()).add_done_callback(lambda future: done(future.result()))


def start_qasync_async(n: int, done: Done) -> None:
    start_qasync(0, lambda _: None)  # makes qasync's loop, once
    loop = _QASYNC["loop"]

    async def round_trips() -> list[Any]:
        # What an @asyncSlot does to await a trivial coroutine as a task, n times.
        return [await loop.create_task(async_noop(i)) for i in range(n)]

    loop.create_task(round_trips()).add_done_callback(lambda future: done(future.result()))


_QT_ASYNC_THREADS: dict[str, Any] = {}


def start_qt_async_threads(n: int, done: Done, fn: Callable[[int], object] = noop) -> None:
    module = importlib.import_module("qt_async_threads")
    functools = importlib.import_module("functools")
    if not _QT_ASYNC_THREADS:
        threads = QThreadPool.globalInstance().maxThreadCount()
        _QT_ASYNC_THREADS["runner"] = module.QtAsyncRunner(max_threads=threads)
    runner = _QT_ASYNC_THREADS["runner"]

    async def fan_out() -> None:
        funcs = [functools.partial(fn, i) for i in range(n)]
        done([result async for result in runner.run_parallel(funcs)])

    runner.start_coroutine(fan_out())


def start_superqt(n: int, done: Done, fn: Callable[[int], object] = noop) -> None:
    utils = importlib.import_module("superqt.utils")
    receiver = _Receiver(n, done)
    workers = []
    for i in range(n):
        worker = utils.create_worker(fn, i, _start_thread=False)
        worker.returned.connect(receiver.on_result)
        workers.append(worker)
        worker.start()
    _KEEP[:] = [receiver, workers]


# -- the round trip's limit: one kept-alive Python thread and a semaphore ------


class _RawThread(threading.Thread):
    """One Python thread, woken by a semaphore, answering by queued signal."""

    def __init__(self) -> None:
        super().__init__(name="qtasks-bench-raw", daemon=True)
        self.wake = threading.Semaphore(0)
        # (receiver, value) for the next call, set by the GUI thread before it wakes us.
        self.call: list[tuple[_Receiver, int]] = []

    def run(self) -> None:
        """Worker thread: answer each call until the process ends."""
        while True:
            self.wake.acquire()
            receiver, value = self.call.pop()
            try:
                receiver.result.emit(noop(value))
            except BaseException as exc:  # noqa: BLE001 - a bench thread must not die silently
                report(exc)
            del receiver


_RAW: list[_RawThread] = []


def start_raw(n: int, done: Done) -> None:
    if not _RAW:
        _RAW.append(_RawThread())
        _RAW[0].start()
    thread = _RAW[0]

    def next_one(count: int) -> None:
        thread.call.append((receiver, count))
        thread.wake.release()

    receiver = _Receiver(n, done, next_one)
    _KEEP[:] = [receiver]
    next_one(0)


ROWS: Final[dict[str, tuple[Start, int, str | None]]] = {
    # name: (start, n as a multiple of --n (negative: a divisor), module needed)
    "gather": (start_gather, 1, None),
    "sequential": (start_sequential, 1, None),
    "run_async": (start_run_async, 1, None),
    "map": (start_map, 10, None),
    "imap": (start_imap, 10, None),
    "stream": (start_stream, 10, None),
    "floor": (start_floor, 1, None),
    "floor-seq": (start_floor_seq, 1, None),
    "qthread": (start_qthread, -10, None),
    "qasync": (start_qasync, 1, "qasync"),
    "qasync-async": (start_qasync_async, 1, "qasync"),
    "qt-async-threads": (start_qt_async_threads, 1, "qt_async_threads"),
    "superqt": (start_superqt, 1, "superqt"),
    "raw": (start_raw, 1, None),
}


# -- loads: 20 ms items that hold the GIL (gil) or release it (io) ---------------

LOAD_ITEMS: Final = 100
LOAD_ITEM_S: Final = 0.02
# Iterations of gil_item's loop that take LOAD_ITEM_S on one idle thread; set by _calibrate().
_SPIN: list[int] = []


def _spin(iterations: int) -> int:
    """Count in pure Python, holding the GIL throughout. Any thread."""
    total = 0
    for i in range(iterations):
        total += i
    return total


def _calibrate() -> int:
    """Return the iterations of `_spin` that take about LOAD_ITEM_S here. GUI thread; once."""
    if not _SPIN:
        probe = 200_000
        took = []
        for _ in range(3):
            began = time.perf_counter()
            _spin(probe)
            took.append(time.perf_counter() - began)
        _SPIN.append(max(1, round(probe * LOAD_ITEM_S / min(took))))
    return _SPIN[0]


def gil_item(x: int) -> int:
    """Run a pure-Python loop of about 20 ms: the GIL-bound load. Worker thread."""
    _spin(_SPIN[0])
    return x


def io_item(x: int) -> int:
    """Sleep 20 ms, the GIL released: the I/O load. Worker thread."""
    time.sleep(LOAD_ITEM_S)
    return x


class _LoadRunnable(QRunnable):
    def __init__(self, receiver: _Receiver, fn: Callable[[int], int], value: int) -> None:
        super().__init__()
        self.setAutoDelete(False)  # freed on the GUI thread, as _FloorRunnable
        self.receiver = receiver
        self.fn = fn
        self.value = value

    def run(self) -> None:
        """Worker thread."""
        try:
            self.receiver.result.emit(self.fn(self.value))
        except BaseException as exc:  # noqa: BLE001 - nothing may escape run()
            report(exc)


def _load_starts(fn: Callable[[int], int]) -> dict[str, tuple[Start, str | None]]:
    """Return the ways to run `n` items of `fn`: kind -> (start, module needed)."""

    def bare(n: int, done: Done) -> None:
        receiver = _Receiver(n, done)
        runnables = [_LoadRunnable(receiver, fn, i) for i in range(n)]
        _KEEP[:] = [receiver, runnables]
        pool = QThreadPool.globalInstance()
        for runnable in runnables:
            pool.start(runnable)

    def gather(n: int, done: Done) -> None:
        @qtasks.coroutine
        def fan_out() -> Any:
            return (yield qtasks.gather(*[qtasks.run(fn, i) for i in range(n)]))

        fan_out().add_done_callback(lambda task: done(task.result()))

    def mapped(n: int, done: Done) -> None:
        qtasks.map(fn, range(n)).add_done_callback(lambda task: done(task.result()))

    def qt_async_threads(n: int, done: Done) -> None:
        start_qt_async_threads(n, done, fn)

    def superqt(n: int, done: Done) -> None:
        start_superqt(n, done, fn)

    return {
        "bare": (bare, None),
        "gather": (gather, None),
        "map": (mapped, None),
        "qt-async-threads": (qt_async_threads, "qt_async_threads"),
        "superqt": (superqt, "superqt"),
    }


LOADS: Final = {"gil": gil_item, "io": io_item}
# name ("gil-map"): (load, start, module needed)
LOAD_ROWS: Final[dict[str, tuple[str, Start, str | None]]] = {
    f"{load}-{kind}": (load, start, module)
    for load, fn in LOADS.items()
    for kind, (start, module) in _load_starts(fn).items()
}

DEFAULT_ROWS: Final = (*ROWS, *LOAD_ROWS, "fairness", "quit")


# -- measuring ------------------------------------------------------------------


class _StallMeter(QObject):
    """The longest gap between ticks of a 1 ms timer on the GUI thread."""

    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.worst = 0.0
        # Every gap, kept when the caller sets a list here (the load rows).
        self.gaps: list[float] | None = None

    def start(self) -> None:
        self.last = time.perf_counter()
        self.worst = 0.0
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last)
        if self.gaps is not None:
            self.gaps.append(now - self.last)
        self.last = now

    def stop(self) -> float:
        self._tick()
        self.timer.stop()
        return self.worst


def _settle() -> None:
    """Let leftover events run and garbage go before the next measurement."""
    app = QApplication.instance()
    assert app is not None
    QThreadPool.globalInstance().waitForDone()
    for thread in _THREADS:
        thread.wait()
    for _ in range(3):
        app.processEvents()
    _KEEP.clear()
    _THREADS.clear()
    gc.collect()


def run_once(start: Start, n: int, meter: _StallMeter | None) -> tuple[float, float]:
    """Run one row once; return (seconds, worst stall in seconds). GUI thread."""
    loop = QEventLoop()
    finished: list[float] = []

    def done(results: list[Any]) -> None:
        finished.append(time.perf_counter())
        if len(results) != n:
            msg = f"a bench row returned {len(results)} results for {n} tasks"
            raise RuntimeError(msg)
        loop.quit()

    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    guard.start(int(ROW_TIMEOUT_S * 1000))
    if meter is not None:
        meter.start()
    began = time.perf_counter()
    start(n, done)
    if not finished:
        exec_loop(loop)
    stall = meter.stop() if meter is not None else 0.0
    guard.stop()
    if not finished:
        msg = f"a bench row did not finish {n} tasks in {ROW_TIMEOUT_S} s"
        raise RuntimeError(msg)
    return finished[0] - began, stall


def measure_memory(runs: Sequence[tuple[Start, int]]) -> list[float]:
    """Return the peak Python memory per task of one run of each, in bytes. GUI thread.

    tracemalloc is started and stopped once, with the pool's threads gone
    (`_settle`): on Python 3.11, starting or stopping it while a pool thread
    ends can crash the process.
    """
    _settle()
    tracemalloc.start()
    try:
        per_task = []
        for start, n in runs:
            _settle()
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            run_once(start, n, None)
            per_task.append((tracemalloc.get_traced_memory()[1] - base) / n)
    finally:
        _settle()
        tracemalloc.stop()
    return per_task


def _busy(seconds: float) -> float:
    """Spin for `seconds`. Worker thread."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    return seconds


def measure_fairness(item_s: float = 0.0002, items: int = 10**5) -> tuple[int, float]:
    """Return how long a single run() waits to start during a big map.

    GUI thread. Returns (map items started meanwhile, wait in item lengths).
    """
    begun = [0]
    counter = itertools.count(1)

    def item(_: object) -> float:
        begun[0] = next(counter)
        return _busy(item_s)

    marks: list[tuple[int, float]] = []

    def single() -> None:
        marks.append((begun[0], time.perf_counter()))

    loop = QEventLoop()
    mapped = qtasks.map(item, range(items))

    def submit() -> None:
        marks.append((begun[0], time.perf_counter()))
        qtasks.run(single).add_done_callback(lambda _task: loop.quit())

    QTimer.singleShot(50, submit)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    guard.start(int(ROW_TIMEOUT_S * 1000))
    exec_loop(loop)
    guard.stop()
    mapped.cancel()
    qtasks.shutdown(timeout=10)
    if len(marks) < 2:
        return -1, float("nan")
    (before, submitted), (after, started) = marks
    return after - before, (started - submitted) / item_s


# A program quitting while 500 functions that check their cancel flag every
# millisecond are queued or running; it prints the wall-clock time of the quit.
QUIT_FUNCTIONS: Final = 500
_QUIT_PROGRAM: Final = f"""
import sys, time
import qtasks
from qtasks._binding import QCoreApplication, QThreadPool, QTimer, exec_loop
app = QCoreApplication(sys.argv[:1])
QThreadPool.globalInstance().setMaxThreadCount(int(sys.argv[1]))
def cooperative(i):
    while True:
        qtasks.check_cancelled()
        time.sleep(0.001)
tasks = [qtasks.run(cooperative, i) for i in range({QUIT_FUNCTIONS})]
def quit_now():
    print(f"{{time.time():.6f}}", flush=True)
    app.quit()
QTimer.singleShot(100, quit_now)
exec_loop(app)
"""


def measure_quit(threads: int) -> float:
    """Return the seconds from app.quit() during a fan-out to the end of that process.

    GUI thread (it waits for a child process). NaN if the child failed.
    """
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-c", _QUIT_PROGRAM, str(threads)]
    proc = subprocess.run(  # noqa: S603 - this interpreter, running the program above
        command, capture_output=True, text=True, env=env, timeout=ROW_TIMEOUT_S, check=False
    )
    ended = time.time()
    if proc.returncode != 0 or not proc.stdout.strip():
        return float("nan")
    return ended - float(proc.stdout.split()[0])


def _row_n(name: str, n: int) -> int:
    factor = ROWS[name][1]
    return n * factor if factor > 0 else max(1, n // -factor)


def bench(rows: Sequence[str], n: int, rounds: int) -> list[dict[str, Any]]:
    """Run the rows interleaved for `rounds` rounds; return one record per row."""
    meter = _StallMeter()
    times: dict[str, list[float]] = {name: [] for name in rows}
    stalls: dict[str, list[float]] = {name: [] for name in rows}
    for name in rows:  # warm up: imports, thread start-up, caches
        run_once(ROWS[name][0], min(100, _row_n(name, n)), None)
        _settle()
    for _ in range(rounds):
        for name in rows:
            seconds, stall = run_once(ROWS[name][0], _row_n(name, n), meter)
            times[name].append(seconds)
            stalls[name].append(stall)
            _settle()
    memory = measure_memory([(ROWS[name][0], _row_n(name, n)) for name in rows])
    records: list[dict[str, Any]] = []
    for name, per_task in zip(rows, memory, strict=True):
        row_n = _row_n(name, n)
        records.append(
            {
                "row": name,
                "n": row_n,
                "rate": row_n / statistics.median(times[name]),
                "stall_ms": 1000 * statistics.median(stalls[name]),
                "bytes": per_task,
            }
        )
    rate = {record["row"]: record["rate"] for record in records}
    for record in records:
        floor = "floor-seq" if record["row"] in SEQUENTIAL_ROWS else "floor"
        record["vs"] = floor
        record["ratio"] = record["rate"] / rate[floor] if floor in rate else float("nan")
    return records


def format_table(records: list[dict[str, Any]]) -> str:
    """Return the records as a Markdown table."""
    lines = [
        "| row | n | tasks/s | ratio | worst GUI stall | memory/task |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['row']} | {r['n']} | {r['rate']:,.0f} | {r['ratio']:.2f}x {r['vs']} "
            f"| {r['stall_ms']:.1f} ms | {r['bytes']:,.0f} B |"
        )
    return "\n".join(lines)


def _load_group(name: str) -> list[str]:
    """Return the rows of load `name` ("gil", "io"), or [] if it names no load."""
    return [row for row, (load, _start, _module) in LOAD_ROWS.items() if load == name]


def _chosen_load_rows(wanted: Sequence[str]) -> list[str]:
    """Return the load rows to run: those wanted and installed, plus each load's bare row."""
    rows = []
    for name in wanted:
        if name not in LOAD_ROWS:
            continue
        module = LOAD_ROWS[name][2]
        if module is not None and _optional(module) is None:
            print(f'skipped {name}: pip install -e ".[bench]" in the qtasks checkout')
            continue
        rows.append(name)
    for name in list(rows):
        bare = f"{LOAD_ROWS[name][0]}-bare"
        if bare not in rows:
            rows.append(bare)
    return rows


def bench_loads(rows: Sequence[str], rounds: int, items: int = LOAD_ITEMS) -> list[dict[str, Any]]:
    """Run the load rows interleaved for `rounds` rounds; return one record per row.

    GUI thread. Wall time is the median over the rounds; the p99 and max tick
    gaps are over every gap of every round, so one bad round shows.
    """
    _calibrate()
    meter = _StallMeter()
    times: dict[str, list[float]] = {name: [] for name in rows}
    gaps: dict[str, list[float]] = {name: [] for name in rows}
    for name in rows:  # warm up: imports, thread start-up, caches
        run_once(LOAD_ROWS[name][1], min(10, items), None)
        _settle()
    for _ in range(rounds):
        for name in rows:
            meter.gaps = gaps[name]
            seconds, _stall = run_once(LOAD_ROWS[name][1], items, meter)
            meter.gaps = None
            times[name].append(seconds)
            _settle()
    records: list[dict[str, Any]] = []
    for name in rows:
        ordered = sorted(gaps[name])
        records.append(
            {
                "row": name,
                "load": LOAD_ROWS[name][0],
                "n": items,
                "wall": statistics.median(times[name]),
                "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
                "max_ms": 1000 * ordered[-1],
            }
        )
    wall: dict[str, float] = {record["row"]: record["wall"] for record in records}
    for record in records:
        bare = f"{record['load']}-bare"
        record["ratio"] = record["wall"] / wall[bare] if bare in wall else float("nan")
    return records


def format_load_table(records: list[dict[str, Any]]) -> str:
    """Return the load records as a Markdown table."""
    lines = [
        "| row | items | wall time | ratio to bare | GUI p99 tick gap | GUI max tick gap |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['row']} | {r['n']} | {r['wall']:.3f} s | {r['ratio']:.2f}x "
            f"| {r['p99_ms']:.1f} ms | {r['max_ms']:.1f} ms |"
        )
    return "\n".join(lines)


def _wanted_rows(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """Return the rows the flags name, or exit with the parser's error for a bad flag."""
    wanted = [name.strip() for name in args.rows.split(",") if name.strip()]
    # `gil` and `io` name every row of their load.
    wanted = [row for name in wanted for row in (_load_group(name) or [name])]
    unknown = [name for name in wanted if name not in DEFAULT_ROWS]
    if unknown:
        parser.error(f"unknown row(s) {', '.join(unknown)}: choose from {', '.join(DEFAULT_ROWS)}")
    if args.n < 1 or args.rounds < 1:
        parser.error("--n and --rounds must be >= 1")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads {args.threads}: give a thread count >= 1, or leave it out for one per core")
    return wanted


def _parser() -> argparse.ArgumentParser:
    """Return the command line's parser."""
    parser = argparse.ArgumentParser(prog="python -m qtasks.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="tasks per row (map: 10x, qthread: n/10)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians are shown")
    parser.add_argument(
        "--rows",
        default=",".join(DEFAULT_ROWS),
        help=f"comma list from: {', '.join(DEFAULT_ROWS)}; gil and io name every row of their load",
    )
    parser.add_argument("--threads", type=int, default=None, help="pool threads (default: one per core)")
    parser.add_argument(
        "--watch", type=float, default=None, metavar="S", help="run with qtasks.debug.watch_freezes(S) on"
    )
    parser.add_argument(
        "--one-core",
        action="store_true",
        help="run every thread on one core (Linux): round trips then cost CPU, not cross-core wake-ups",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the flags, run the bench, print the table. GUI thread."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.one_core:
        if not hasattr(os, "sched_setaffinity"):
            parser.error("--one-core needs os.sched_setaffinity (Linux); run without it here")
        # Threads made from now on (Qt's pool threads, the bench's own) inherit it.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    wanted = _wanted_rows(parser, args)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _app = QApplication.instance() or QApplication(sys.argv[:1])
    if args.threads is not None:
        QThreadPool.globalInstance().setMaxThreadCount(args.threads)
    threads = QThreadPool.globalInstance().maxThreadCount()
    if args.watch is not None:
        from qtasks.debug import watch_freezes  # noqa: PLC0415 - only for this option: it imports QtWidgets

        try:  # the freezes it sees go to the qtasks logger: stderr
            watch = watch_freezes(args.watch)
        except ValueError as error:
            parser.error(str(error))
    rows = []
    load_rows = _chosen_load_rows(wanted)
    for name in wanted:
        if name in {"fairness", "quit"} or name in LOAD_ROWS:
            continue
        module = ROWS[name][2]
        if module is not None and _optional(module) is None:
            print(f'skipped {name}: pip install {name}, or pip install -e ".[bench]" in the qtasks checkout')
            continue
        rows.append(name)
    # Every ratio is to a floor measured in the same run: add the floors the chosen rows need.
    for name in list(rows):
        floor = "floor-seq" if name in SEQUENTIAL_ROWS else "floor"
        if floor not in rows:
            rows.append(floor)
    print(
        f"qtasks {qtasks.__version__}, Python {platform.python_version()}, {_binding.version()}, "
        f"{os.cpu_count()} cores, {threads} pool threads, "
        f"platform {QGuiApplication.platformName()}, n={args.n}, {args.rounds} rounds"
        + ("" if args.watch is None else f", with watch_freezes({args.watch:g}) on")
        + (", every thread on one core" if args.one_core else "")
    )
    if rows:
        print(format_table(bench(rows, args.n, args.rounds)))
    if load_rows:
        print(
            f"loads: {LOAD_ITEMS} items of about {1000 * LOAD_ITEM_S:.0f} ms each, a pure-Python loop (gil) "
            "or time.sleep (io); GUI tick gaps of a 1 ms QTimer over all rounds"
        )
        print(format_load_table(bench_loads(load_rows, args.rounds)))
    if "fairness" in wanted:
        count, lengths = measure_fairness()
        print(
            f"fairness: a run() submitted during a 10**5-item map of 0.2 ms items started after "
            f"{count} map items had started ({lengths:.1f} item lengths)"
        )
    if "quit" in wanted:
        quits = [measure_quit(threads) for _ in range(args.rounds)]
        print(
            f"quit: app.quit() during a fan-out of {QUIT_FUNCTIONS} cooperative functions ended the "
            f"process after {statistics.median(quits):.3f} s "
            f"(median of {len(quits)}, worst {max(quits):.3f} s)"
        )
    if args.watch is not None:
        watch.stop()
    qtasks.shutdown(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
