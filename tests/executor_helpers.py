"""Worker functions for tests/test_executor.py, importable by name in a worker process.

Kept apart from the test module so a spawned worker imports only this.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

_GATE: Any = None


def init_gate(gate: Any) -> None:
    """Process-pool initializer: remember the gate the test opens."""
    global _GATE
    _GATE = gate


def wait_at_gate(tag: str) -> str:
    """Block until the test opens the gate (at most 30 s), then return `tag`."""
    assert _GATE is not None
    _GATE.wait(30)
    return tag


def record(directory: str, tag: str) -> str:
    """Leave a file named `tag` in `directory` as proof that this call ran."""
    Path(directory, tag).write_text(str(os.getpid()))
    return tag


def heavy(n: int) -> int:
    """A little CPU-bound pure-Python work."""
    return sum(i * i for i in range(n))


def pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def fail_remotely(x: int) -> int:
    raise ValueError(f"remote failure {x}")


def make_lock() -> threading.Lock:
    return threading.Lock()


def raise_unpicklable() -> None:
    raise ValueError(threading.Lock())


class Payload:
    """A picklable argument a test can hold a weak reference to."""

    def __init__(self, size: int) -> None:
        self.size = size


def payload_size(payload: Payload) -> int:
    return payload.size


class Unnameable:
    """An argument that can neither be pickled nor shown with repr()."""

    def __reduce__(self) -> Any:
        msg = "no pickling for this"
        raise TypeError(msg)

    def __repr__(self) -> str:
        msg = "no repr for this"
        raise ValueError(msg)
