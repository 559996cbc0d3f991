"""The Dask examples run headless with --smoke and exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_dask_cluster_example_smoke() -> None:
    """The Dask fan-out demo cancels halfway, completes a second run, and exits 0."""
    pytest.importorskip("distributed")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "dask_cluster.py"), "--smoke"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert 0 == done.returncode, done.stderr[-4000:]
    assert "smoke ok" in done.stdout


def test_compare_engines_example_smoke() -> None:
    """The engine comparison runs a small fan-out on threads, processes and Dask, all agreeing."""
    pytest.importorskip("distributed")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "compare_engines.py"), "--smoke"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert 0 == done.returncode, done.stderr[-4000:]
    assert "LocalCluster" in done.stdout
