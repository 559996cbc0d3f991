"""Every example runs: its --smoke mode, and the tests that come with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120, check=False
    )


def test_search_widget_smoke() -> None:
    """The search widget, typed into headless, shows the last query's results."""
    proc = run("examples/search_widget.py", "--smoke")
    assert (0, "1 results for 'qui' ['quit']") == (proc.returncode, proc.stdout.strip()), proc.stderr


def test_search_widget_property_tests_pass() -> None:
    """The example's own hypothesis tests, run as a user would run them, pass."""
    proc = run("-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/test_search_widget.py")
    assert 0 == proc.returncode, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
