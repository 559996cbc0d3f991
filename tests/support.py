"""What several test modules share."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from qt import QObject, Signal

import qtasks
from qtasks import _runtime

ROOT = Path(__file__).resolve().parent.parent


class Gate:
    """A worker function that blocks until the test opens the gate."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()

    def __call__(self, value: object = None) -> object:
        self.entered.set()
        self.opened.wait(10)
        return value


class HandOverHook:
    """The pool's bridge, with a hook run by a worker loop as it hands a result over.

    The hook runs on the worker, after the item has ended and before the loop
    claims its next item or parks: the window in which the GUI thread, just
    woken by the result, makes its next call.
    """

    def __init__(self, pool: qtasks.Pool, hook: Any) -> None:
        self._real = _runtime.bridge()
        self._hook = hook
        pool._bridge = self  # type: ignore[assignment]

    def transfer(self, box: list[Any]) -> None:
        self._real.transfer(box)
        hook, self._hook = self._hook, None
        if hook is not None:
            hook()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def run_python(
    *args: str, cwd: Path = ROOT, timeout: float = 120, path: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run `python *args` in a fresh process, headless, with the repository's qtasks importable.

    `path`: more folders for PYTHONPATH, before the repository. tests/ comes
    last, for `from qt import ...` (the binding qtasks runs on).
    """
    pythonpath = os.pathsep.join(str(folder) for folder in (*path, ROOT, ROOT / "tests"))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": pythonpath}
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def run_pytest(
    target: Path, cwd: Path | None = None, path: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run pytest on `target` (a folder or a test file) the way a user would, in a fresh process."""
    options = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    return run_python("-m", "pytest", *options, str(target), cwd=cwd or target, path=path)


def double(x: int) -> int:
    """Return twice `x`: the function most tests run on a pool."""
    return 2 * x


def fail_with_value_error(x: int) -> int:
    """Raise ValueError naming `x`: a function that fails on its worker."""
    raise ValueError(f"bad value {x}")


def settle(qtasks_run: Any) -> None:
    """Let a few scheduler steps pass, then collect garbage."""
    for _ in range(3):
        qtasks_run(qtasks.sleep(0))
    gc.collect()


class Emitter(QObject):
    """A QObject with the signals tests connect slots to and wait on."""

    text = Signal(str)
    pair = Signal(int, str)
