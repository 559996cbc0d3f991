"""Fan out over a Dask cluster from a Qt window, with a progress bar and a Cancel button.

    python examples/dask_cluster.py                              # a LocalCluster on 127.0.0.1
    python examples/dask_cluster.py --scheduler tcp://host:8786  # a scheduler you run
    python examples/dask_cluster.py --smoke                      # headless check, exit 0 on success

Each item is a Dask future adopted with `qtasks.wrap`; `qtasks.gather` waits for
all of them and reports (finished, total) progress; Cancel cancels the gather,
which cancels every Dask future not yet finished. The GUI thread never waits on
the cluster.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

if "--smoke" in sys.argv:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

try:
    import distributed
except ImportError:
    sys.exit('examples/dask_cluster.py needs Dask: pip install -e ".[dask]" in the qtasks checkout')
from _qt import QApplication, QLabel, QProgressBar, QPushButton, QTimer, QVBoxLayout, QWidget

import qtasks


def work(i: int) -> int:
    """CPU-bound pure Python, about 10 ms: what a cluster is for."""
    return sum(k * k for k in range(150_000 + i)) % 1_000_003


class FanOut(QWidget):
    """A Start button, a progress bar and a Cancel button over a Dask fan-out."""

    def __init__(self, client: distributed.Client, items: int) -> None:
        super().__init__()
        self.client = client
        self.items = items
        self.setWindowTitle("qtasks: fan out over Dask")
        self.status = QLabel(f"{items} items on {client.scheduler_info().get('address', client)}")
        self.bar = QProgressBar()
        self.bar.setRange(0, items)
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        layout = QVBoxLayout(self)
        for widget in (self.status, self.bar, self.start_button, self.cancel_button):
            layout.addWidget(widget)
        self.fan_out: qtasks.Task[list[int]] | None = None
        self.futures: list[Any] = []
        self.start_button.clicked.connect(lambda *_: self.run())
        self.cancel_button.clicked.connect(self.cancel)

    @qtasks.coroutine
    def run(self, items: int | None = None) -> Any:
        """Fan out, show progress, and report the outcome. GUI thread."""
        count = self.items if items is None else items
        self.bar.setRange(0, count)
        self.bar.setValue(0)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.futures = [self.client.submit(work, i, pure=False) for i in range(count)]
        self.fan_out = qtasks.gather(*(qtasks.wrap(future) for future in self.futures))
        self.fan_out.on_progress(lambda done_total: self.bar.setValue(done_total[0]))
        try:
            results = yield self.fan_out
        except qtasks.CancelledError:
            self.status.setText(f"Cancelled at {self.bar.value()} of {count}")
            return None
        finally:
            self.start_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
        self.status.setText(f"Done: {count} results, checksum {sum(results) % 1_000_003}")
        return results

    def cancel(self) -> None:
        if self.fan_out is not None:
            self.fan_out.cancel()


def smoke(window: FanOut, app: QApplication) -> None:
    """Fan out and cancel halfway, then fan out again to completion; exit 0 if all went as expected."""

    @qtasks.coroutine
    def check() -> Any:
        first = window.run(200)
        fan_out = window.fan_out
        assert fan_out is not None
        while window.bar.value() < 40:
            yield qtasks.run(_pause)
        window.cancel_button.click()
        outcome = yield first
        assert outcome is None, outcome
        assert fan_out.cancelled(), fan_out
        cancelled_futures = window.futures
        # The cancel reaches the Dask scheduler through the client's event loop.
        for _ in range(200):
            if all(f.status in ("finished", "cancelled") for f in cancelled_futures):
                break
            yield qtasks.run(_pause)
        statuses = [f.status for f in cancelled_futures]
        assert "cancelled" in statuses, statuses
        second = yield window.run(20)
        assert [work(i) for i in range(20)] == second
        print(f"smoke: ok: cancelled {statuses.count('cancelled')} of 200 on Dask, then 20 of 20 done")

    def finished(task: qtasks.Task[Any]) -> None:
        error = task.exception()
        if error is not None:
            print(f"smoke failed: {error!r}", file=sys.stderr)
        app.exit(0 if error is None else 1)

    check().add_done_callback(finished)


def _pause() -> None:
    """Wait a little on a pool thread, so the smoke loop polls without busy-waiting the GUI."""
    time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--items", type=int, default=1000, help="how many items to fan out (default 1000)")
    parser.add_argument("--smoke", action="store_true", help="run headless, check, and exit")
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if args.scheduler:
        cluster = None
        client = distributed.Client(args.scheduler)
    else:
        # Loopback only, every port included: the workers are processes on this machine.
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            worker_dashboard_address="127.0.0.1:0",
        )
        client = distributed.Client(cluster)
    window = FanOut(client, args.items)
    if args.smoke:
        QTimer.singleShot(0, lambda: smoke(window, app))
        QTimer.singleShot(120_000, lambda: app.exit(2))
    else:
        window.show()
    try:
        code = app.exec()
    finally:
        qtasks.shutdown(timeout=5)
        client.close()
        if cluster is not None:
            cluster.close()
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
