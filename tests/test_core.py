"""The core: run, coroutines, errors, cancellation, done callbacks."""

from __future__ import annotations

import gc
import json
import sys
import textwrap
import threading
import traceback
from typing import Any

import pytest
from PyQt5.QtCore import QThread, QThreadPool
from support import Gate, double, fail_with_value_error, run_python

import qtasks


def test_shutdown_names_what_still_runs_and_stays_usable(qtasks_run: Any) -> None:
    """shutdown(timeout) returns after the timeout naming blocked functions; qtasks works after."""
    gate = Gate()
    blocked = qtasks.run(gate)
    assert gate.entered.wait(10)
    with pytest.warns(RuntimeWarning, match=r"still running.*Gate"):
        still = qtasks.shutdown(timeout=0.05)
    assert [blocked] == still
    gate.opened.set()
    assert 2 == qtasks_run(qtasks.run(double, 1))


# -- promises a deliberate break once slipped past ------------------------------


# -- asking and adding callbacks ------------------------------------------------


