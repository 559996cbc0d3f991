"""The Qt names the tests use, from the binding qtasks runs on (PyQt5, PyQt6 or PySide6).

`from qt import QTimer, QPushButton, Signal` finds a name in QtCore,
QtWidgets, QtGui or QtTest of that binding. `is_deleted(obj)` and
`delete(obj)` stand for sip.isdeleted / sip.delete and shiboken6's.
"""

from __future__ import annotations

from typing import Any

from qtasks._binding import QT_API, BoundSignal, Signal, Slot, delete, exec_loop, is_deleted, module

__all__ = ["QT_API", "BoundSignal", "Signal", "Slot", "delete", "exec_loop", "is_deleted", "sip"]

_MODULES = [module(name) for name in ("QtCore", "QtWidgets", "QtGui", "QtTest")]


def __getattr__(name: str) -> Any:
    for found in _MODULES:
        if hasattr(found, name):
            return getattr(found, name)
    msg = f"module 'qt' has no attribute {name!r} (looked in QtCore, QtWidgets, QtGui, QtTest of {QT_API})"
    raise AttributeError(msg)


class sip:  # noqa: N801 - stands in for the module the tests were written with
    """`sip.delete(obj)` and `sip.isdeleted(obj)` on every binding."""

    delete = staticmethod(delete)
    isdeleted = staticmethod(is_deleted)
