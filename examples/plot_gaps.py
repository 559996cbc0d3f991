"""Plot the GUI thread's tick gaps while a pool computes in Python, with and without the responsive policy.

    python examples/plot_gaps.py                      # writes docs/gil_gaps.png
    python examples/plot_gaps.py --out gaps.png       # somewhere else
    python examples/plot_gaps.py --smoke              # a few items, headless, exit 0

Each run gathers 100 calls of a pure-Python loop of about 20 ms (it holds the
GIL throughout) on a 2-thread `qtasks.Pool`, once as made by default and once
with `responsive=False`, while a 1 ms `QTimer` on the GUI thread records the
gap between its ticks. The PNG is drawn with Qt's own QPainter: no plotting
library needed.
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _qt import QApplication, QColor, QFont, QImage, QPainter, QPen, QPointF, QRectF, Qt, QTimer

import qtasks

ITEMS = 100
ITEM_S = 0.02
THREADS = 2
FRAME_MS = 1000 / 60
SPIN: list[int] = []


def spin(iterations: int) -> int:
    """Count in pure Python, holding the GIL. Worker thread."""
    total = 0
    for i in range(iterations):
        total += i
    return total


def calibrate() -> None:
    """Find the iterations of `spin` that take about ITEM_S here. GUI thread."""
    probe = 200_000
    began = time.perf_counter()
    spin(probe)
    SPIN.append(max(1, round(probe * ITEM_S / (time.perf_counter() - began))))


def compute(x: int) -> int:
    """A pure-Python loop of about 20 ms. Worker thread."""
    spin(SPIN[0])
    return x


def record_gaps(responsive: bool, items: int) -> list[tuple[float, float]]:
    """Run `items` calls on a fresh pool; return (seconds since start, gap in ms) per tick. GUI thread."""
    pool = qtasks.Pool(max_threads=THREADS, responsive=responsive)
    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(1)
    began = time.perf_counter()
    ticks.append(began)
    qtasks.run_until_complete(qtasks.gather(*[pool.run(compute, i) for i in range(items)]), timeout=120)
    timer.stop()
    ticks.append(time.perf_counter())
    pool.shutdown(timeout=10)
    return [(later - began, 1000 * (later - earlier)) for earlier, later in itertools.pairwise(ticks)]


def draw(series: list[tuple[str, QColor, list[tuple[float, float]]]], out: Path) -> None:
    """Draw each series of (seconds, gap ms) as a line on one chart; save it as a PNG. GUI thread."""
    width, height = 960, 420
    left, right, top, bottom = 70, 20, 40, 60
    top_ms = 100.0
    end_s = max(max(t for t, _ in points) for _, _, points in series)
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setFont(QFont("sans", 10))
    plot_w, plot_h = width - left - right, height - top - bottom

    def at(seconds: float, gap_ms: float) -> QPointF:
        return QPointF(left + plot_w * seconds / end_s, top + plot_h * (1 - min(gap_ms, top_ms) / top_ms))

    painter.setPen(QPen(QColor("#cccccc"), 1))
    for ms in range(0, int(top_ms) + 1, 20):
        painter.drawLine(at(0, ms), at(end_s, ms))
        painter.setPen(QColor("black"))
        painter.drawText(QRectF(0, at(0, ms).y() - 8, left - 8, 16), Qt.AlignmentFlag.AlignRight, f"{ms} ms")
        painter.setPen(QPen(QColor("#cccccc"), 1))
    for second in range(int(end_s) + 1):
        painter.setPen(QColor("black"))
        point = at(second, 0)
        label = QRectF(point.x() - 30, point.y() + 6, 60, 16)
        painter.drawText(label, Qt.AlignmentFlag.AlignCenter, f"{second} s")
    frame = QPen(QColor("#444444"), 1, Qt.PenStyle.DashLine)
    painter.setPen(frame)
    painter.drawLine(at(0, FRAME_MS), at(end_s, FRAME_MS))
    painter.drawText(at(0, FRAME_MS) + QPointF(6, -4), "one frame at 60 Hz (16.7 ms)")
    for index, (label, color, points) in enumerate(series):
        painter.setPen(QPen(color, 1))
        for (t0, g0), (t1, g1) in itertools.pairwise(points):
            painter.drawLine(at(t0, g0), at(t1, g1))
        painter.setPen(color)
        painter.drawText(QPointF(left + 10 + 360 * index, 24), label)
    painter.setPen(QColor("black"))
    painter.drawText(
        QRectF(0, height - 24, width, 20),
        Qt.AlignmentFlag.AlignCenter,
        f"gap between ticks of a 1 ms QTimer on the GUI thread; "
        f"{THREADS} threads, {ITEMS} pure-Python items of ~20 ms",
    )
    painter.end()
    if not image.save(str(out)):
        msg = f"could not write {out}: check the folder exists and is writable"
        raise OSError(msg)


def summary(points: list[tuple[float, float]]) -> str:
    gaps = sorted(gap for _, gap in points)
    return f"p99 {gaps[int(0.99 * (len(gaps) - 1))]:.1f} ms, max {gaps[-1]:.1f} ms, {points[-1][0]:.2f} s"


def main(argv: list[str]) -> int:
    smoke = "--smoke" in argv
    out = Path(__file__).parent.parent / "docs" / "gil_gaps.png"
    if "--out" in argv:
        out = Path(argv[argv.index("--out") + 1])
    if smoke:
        out = Path(tempfile.mkdtemp()) / "gaps.png"
    _app = QApplication.instance() or QApplication(sys.argv[:1])
    calibrate()
    items = 6 if smoke else ITEMS
    record_gaps(True, 4)  # warm up: threads, imports
    watched = record_gaps(True, items)
    unwatched = record_gaps(False, items)
    print(f"responsive pool: {summary(watched)}")
    print(f"responsive=False: {summary(unwatched)}")
    draw(
        [
            ("Pool(responsive=False)", QColor("#d62728"), unwatched),
            ("Pool() (responsive, the default)", QColor("#1f77b4"), watched),
        ],
        out,
    )
    print(f"wrote {out}")
    if smoke:
        print("smoke: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
