"""The suite's own guard: a test that leaves work behind fails, in that test."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from support import ROOT, run_pytest

LEAVES_WORK_BEHIND = """
import time

from qt import QTimer

import qtasks
from qtasks import _pool, _runtime
from qtasks.testing import ManualPool


def until_cancelled():
    while not qtasks.cancel_requested():
        time.sleep(0.001)


def test_leaves_a_task(qapp):
    qtasks.run(until_cancelled)


def test_after_it_is_clean(qapp):
    assert [] == qtasks.running()


def test_leaves_a_manual_pool(qapp):
    _pool.set_default_pool(ManualPool())


def test_after_that_the_real_pool_is_back(qapp):
    assert isinstance(_pool.default_pool(), qtasks.Pool)


def test_leaves_a_timer(qapp):
    QTimer(_runtime.bridge()).start(10_000)  # as a qtasks timer that was never stopped


def test_after_that_no_timer_is_left(qapp):
    assert [] == _runtime.bridge().findChildren(QTimer)
"""


def test_a_test_leaving_work_behind_fails_alone(tmp_path: Path) -> None:
    """The autouse fixture fails the test that leaves work, a timer or a ManualPool behind, and only it."""
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_sloppy.py").write_text(textwrap.dedent(LEAVES_WORK_BEHIND))
    proc = run_pytest(tmp_path)
    errors = sorted(line.split(" - ")[0] for line in proc.stdout.splitlines() if line.startswith("ERROR "))
    assert [
        "ERROR test_sloppy.py::test_leaves_a_manual_pool",
        "ERROR test_sloppy.py::test_leaves_a_task",
        "ERROR test_sloppy.py::test_leaves_a_timer",
    ] == errors, proc.stdout
    assert "the test left tasks running" in proc.stdout
    assert "as default pool" in proc.stdout
    assert "the test left qtasks timers behind" in proc.stdout
    assert "6 passed, 3 errors" in proc.stdout
