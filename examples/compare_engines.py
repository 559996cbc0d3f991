"""Time one CPU-bound fan-out on threads, processes and a Dask LocalCluster.

    python examples/compare_engines.py                  # 1000 items, the README's numbers
    python examples/compare_engines.py --smoke          # a few small items, headless, exit 0

The same pure-Python function runs over the same items three ways, each
gathered by a qtasks coroutine on the GUI thread:
`qtasks.run` (the shared QThreadPool), `qtasks.run_in` a ProcessPoolExecutor,
and `qtasks.wrap(client.submit(...))` on a LocalCluster on 127.0.0.1. Each
engine is started and warmed up before its clock starts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable

if "--smoke" in sys.argv:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

try:
    import distributed
except ImportError:
    sys.exit('examples/compare_engines.py needs Dask: pip install -e ".[dask]" in the qtasks checkout')
from _qt import QApplication, QThreadPool

import qtasks


def burn(n: int) -> int:
    """CPU-bound pure Python: holds the GIL the whole time."""
    total = 0
    for k in range(n):
        total += k * k % 7
    return total


def timed(label: str, fan_out: Callable[[], Any], expected: list[int]) -> float:
    """Time one whole fan-out and check its results. GUI thread."""
    start = time.perf_counter()
    results = qtasks.run_until_complete(fan_out(), timeout=600)
    elapsed = time.perf_counter() - start
    if results != expected:
        msg = f"{label}: wrong results"
        raise SystemExit(msg)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--size", type=int, default=100_000, help="loop length per item")
    parser.add_argument("--smoke", action="store_true", help="a few small items; exit 0 if all agree")
    args = parser.parse_args(argv)
    if args.smoke:
        args.items, args.size = 20, 1000

    app = QApplication.instance() or QApplication(sys.argv[:1])
    workers = os.cpu_count() or 1
    items = [args.size] * args.items
    expected = [burn(n) for n in items[:1]] * args.items
    times: dict[str, float] = {}

    start = time.perf_counter()
    [burn(n) for n in items]
    times["serial, GUI thread"] = time.perf_counter() - start

    threads = QThreadPool.globalInstance().maxThreadCount()
    qtasks.run_until_complete(qtasks.run(burn, 1), timeout=60)
    times[f"qtasks.run, QThreadPool ({threads} threads)"] = timed(
        "threads", lambda: qtasks.gather(*(qtasks.run(burn, n) for n in items)), expected
    )

    with ProcessPoolExecutor(max_workers=workers) as pool:
        warm_up = qtasks.gather(*(qtasks.run_in(pool, burn, 1) for _ in range(workers)))
        qtasks.run_until_complete(warm_up, timeout=60)
        times[f"qtasks.run_in, ProcessPoolExecutor ({workers} processes)"] = timed(
            "processes", lambda: qtasks.gather(*(qtasks.run_in(pool, burn, n) for n in items)), expected
        )

    with distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        worker_dashboard_address="127.0.0.1:0",
    ) as cluster, distributed.Client(cluster) as client:
        qtasks.run_until_complete(qtasks.wrap(client.submit(burn, 1)), timeout=60)
        times[f"qtasks.wrap(client.submit), LocalCluster ({workers} worker processes)"] = timed(
            "dask",
            lambda: qtasks.gather(*(qtasks.wrap(client.submit(burn, n, pure=False)) for n in items)),
            expected,
        )
        qtasks.shutdown(timeout=5)

    base = times[f"qtasks.run, QThreadPool ({threads} threads)"]
    print(f"{args.items} items of burn({args.size}) on {workers} cores:")
    for label, seconds in times.items():
        print(f"  {label:<66} {seconds:7.2f} s   {seconds / base:5.2f}x the thread pool's time")
    if args.smoke:
        print("smoke: ok")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
