"""How many functions a Pool starts at once: the GUI thread's lateness decides.

Two pool threads running Python take turns at the GIL. The GUI thread, which
wants the GIL for every Qt event that reaches Python, waits a switch interval
(`sys.getswitchinterval()`, 5 ms) each time, and often loses the hand-off to
the other worker and waits again: frames drop, and the second thread gains
nothing, since only one of them runs Python at a time. One worker running
Python costs the GUI one switch interval per event at most. Work that releases
the GIL (sleep, I/O, zlib, NumPy) costs the GUI nothing, and every thread
should run it.

So a Pool watches the GUI thread while two or more of its functions are in
flight, and only then (one alone costs the GUI thread a switch interval at
most, and nothing can lower the limit below 1): a
`Heartbeat` is a single-shot precise `QTimer` on the GUI thread that re-arms
itself after `HEARTBEAT_S` (or `HEARTBEAT_SLOW_S`, see below), and each tick
measures how late it came, less the CPU time the GUI thread spent meanwhile
on its own beyond the interval (a slow slot is not starvation: fewer workers
would not make it faster). A `Throttle` turns those
samples into a limit on the worker loops the pool keeps (see `_pool.py`):

- a sample later than one and a half switch intervals (`starved_after()`),
  which one worker running Python seldom causes and two often do, halves the
  limit;
- `CALM_OF` of the last `CALM_WINDOW` samples under a quarter of a switch
  interval (`calm_under()`), and none starved, double it, up to the pool's
  thread count. One worker holding the GIL makes nearly every sample about a
  switch interval late, so the limit stays where the GUI keeps its frames;
- a doubling that starves the GUI within a window doubles the calm samples
  the next one needs (up to `MAX_PATIENCE`), so a load that starves at two
  threads is not tried at two every few milliseconds.

Each burst of work starts on every thread: when the pool runs dry, the limit
goes, since what starved the GUI thread then may not be what runs next, and a
GUI thread that waits for several functions to start (blocked, not starved)
must not wait for ever.

A lower limit never interrupts a running function: a worker loop over the
limit gives its thread back after its current item. The switch interval is
never changed.

Thread boundary: everything here runs on the GUI thread.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from typing import Callable, Final

from ._binding import Qt, QTimer
from ._bridge import report

__all__ = [
    "HEARTBEAT_S",
    "HEARTBEAT_SLOW_S",
    "UNLIMITED",
    "Heartbeat",
    "Throttle",
    "calm_under",
    "starved_after",
]

# How often the GUI thread's lateness is sampled while a pool has work: often
# while a sample comes calm (it costs nothing then) or may lower the limit;
# seldom at one worker with the GUI thread waiting for the GIL, since each
# tick then waits for it like any other GUI event, and only calm can change
# the limit.
HEARTBEAT_S = 0.004
HEARTBEAT_SLOW_S = 0.1
# A sample this many switch intervals late (and at least STARVED_MIN_S)
# means the GUI thread starves: it lost a hand-off of the GIL or more.
STARVED_SWITCHES: Final = 1.5
STARVED_MIN_S: Final = 0.0075
# A sample under this fraction of a switch interval late (or under
# CALM_MIN_S) is calm: nothing held the GIL for long.
CALM_SWITCHES: Final = 0.25
CALM_MIN_S: Final = 0.0005
# How many of the last samples must be calm before the limit doubles.
CALM_WINDOW: Final = 8
CALM_OF: Final = 6
# The most calm samples a doubling may have to wait for, after failed ones.
MAX_PATIENCE: Final = 512
# The limit of a pool that lets every thread run, however many it has.
UNLIMITED: Final = sys.maxsize


def starved_after() -> float:
    """Return the lateness, in seconds, past which the GUI thread starves."""
    return max(STARVED_MIN_S, STARVED_SWITCHES * sys.getswitchinterval())


def calm_under() -> float:
    """Return the lateness, in seconds, under which a sample is calm."""
    return max(CALM_MIN_S, CALM_SWITCHES * sys.getswitchinterval())


class Throttle:
    """Turn lateness samples of the GUI thread into how many workers may run. GUI thread.

    `limit` is at least 1; `UNLIMITED` (the start of each burst) lets every
    thread of the pool run. `ceiling()` tells the pool's thread count now.
    """

    def __init__(self, ceiling: Callable[[], int]) -> None:
        self._ceiling = ceiling
        self.limit = UNLIMITED
        # The last CALM_WINDOW samples, True for calm ones.
        self._recent: deque[bool] = deque(maxlen=CALM_WINDOW)
        # Calm samples the next doubling needs; grows after a doubling that starved.
        self._patience = CALM_WINDOW
        self._calm_seen = 0
        # Samples since the last doubling, while it is on probation (None: none is).
        self._since_raise: int | None = None

    def observe(self, lateness: float) -> int:
        """Take one sample of the GUI thread's lateness, in seconds; return the new limit."""
        ceiling = max(1, self._ceiling())
        current = min(self.limit, ceiling)
        if self._since_raise is not None:
            self._since_raise += 1
            if self._since_raise > CALM_WINDOW:
                self._since_raise = None  # the doubling held: the next may come sooner
                self._patience = CALM_WINDOW
        if lateness > starved_after():
            if self._since_raise is not None:
                self._patience = min(MAX_PATIENCE, 2 * self._patience)
                self._since_raise = None
            self.limit = max(1, current // 2)
            self._recent.clear()
            self._calm_seen = 0
            return self.limit
        calm = lateness < calm_under()
        self._recent.append(calm)
        self._calm_seen += calm
        if current < ceiling and self._calm_seen >= self._patience and sum(self._recent) >= CALM_OF:
            doubled = 2 * current
            self.limit = UNLIMITED if doubled >= ceiling else doubled
            self._recent.clear()
            self._calm_seen = 0
            self._since_raise = 0
        return self.limit

    def reset(self) -> None:
        """Start a new burst of work on every thread. Keeps what failed doublings taught."""
        self.limit = UNLIMITED
        self._recent.clear()
        self._calm_seen = 0
        self._since_raise = None

    def forget(self) -> None:
        """Start again as new: on every thread, with the first patience (shutdown)."""
        self._patience = CALM_WINDOW
        self.reset()


class Heartbeat:
    """A timer on the GUI thread that reports its own lateness every `HEARTBEAT_S`. GUI thread.

    `on_sample(lateness)` returns the seconds until the next sample, or None
    to stop; `stop()` stops it too. Lateness excludes the CPU time the GUI
    thread spent between two ticks.
    """

    def __init__(self, on_sample: Callable[[float], float | None]) -> None:
        self._on_sample = on_sample
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._interval = HEARTBEAT_S
        self._due = 0.0
        self._cpu = 0.0

    def start(self) -> None:
        """Start ticking, if not already. Idempotent."""
        if not self._timer.isActive():
            self._arm(HEARTBEAT_S)

    def stop(self) -> None:
        """Stop ticking. Idempotent."""
        self._timer.stop()

    def _arm(self, interval: float) -> None:
        self._interval = interval
        self._due = time.perf_counter() + interval
        self._cpu = time.thread_time()
        self._timer.start(max(1, round(interval * 1000)))

    def _tick(self) -> None:
        # The slot of a QTimer: nothing may escape.
        try:
            late = time.perf_counter() - self._due
            # CPU time beyond the interval is the GUI thread's own delay.
            busy = time.thread_time() - self._cpu - self._interval
            after = self._on_sample(max(0.0, late - max(0.0, busy)))
            if after is not None:
                self._arm(after)
        except BaseException as exc:  # noqa: BLE001 - a slot must never raise
            report(exc)
