"""What several test modules share."""

from __future__ import annotations

import threading


class Gate:
    """A worker function that blocks until the test opens the gate."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()

    def __call__(self, value: object = None) -> object:
        self.entered.set()
        self.opened.wait(10)
        return value
