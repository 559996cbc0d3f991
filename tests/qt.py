"""The Qt names the tests use, from the binding qtasks runs on (PyQt5, PyQt6 or PySide6).

`from qt import QTimer, QPushButton, Signal` finds a name in QtCore,
QtWidgets, QtGui or QtTest of that binding. `is_deleted(obj)` and
`delete(obj)` stand for sip.isdeleted / sip.delete and shiboken6's.
"""

from __future__ import annotations

from typing import Any

from qtasks._binding import QT_API, BoundSignal, Signal, Slot, delete, exec_loop, is_deleted, module

__all__ = [
    "CLICKED_ARGS",
    "CLICKED_NAME",
    "EMITTER_PAIR",
    "QT_API",
    "BoundSignal",
    "Signal",
    "Slot",
    "clicked_for",
    "delete",
    "exec_loop",
    "is_deleted",
    "receivers",
    "sip",
]

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


def receivers(obj: Any, signal: Any) -> int:
    """How many connections `signal` of `obj` has (PySide6 wants the signature as text)."""
    if QT_API == "pyside6":
        return int(obj.receivers("2" + repr(signal).split(" ")[1]))
    return int(obj.receivers(signal))


# PySide6's `button.clicked` is the overload without arguments, `clicked()`;
# PyQt's is `clicked(bool)`. `button.clicked[bool]` is `clicked(bool)` on all three.
CLICKED_NAME = "clicked()" if QT_API == "pyside6" else "QPushButton.clicked(bool)"
# PySide6 does not say whose signal it is: wait_signal names it by its signature alone.
EMITTER_PAIR = "pair(int,QString)" if QT_API == "pyside6" else "Emitter.pair(int,QString)"
CLICKED_ARGS: tuple[bool, ...] = () if QT_API == "pyside6" else (False,)


def clicked_for(button: Any, slot_takes_bool: bool) -> Any:
    """The clicked signal to connect a slot to.

    PyQt picks `clicked(bool)` from the slot's @Slot(bool); PySide6 needs `clicked[bool]`.
    """
    return button.clicked[bool] if slot_takes_bool and QT_API == "pyside6" else button.clicked
