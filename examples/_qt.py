"""The Qt names the examples use, from the binding qtasks runs on (`qtasks.QT_API`).

So each example runs on PyQt5, PyQt6 or PySide6, whichever is installed (or
chosen with `QT_API=pyqt6`). In your own program, import from your binding
directly: qtasks uses the one you imported first.
"""

from __future__ import annotations

import importlib
from typing import Any

import qtasks

_PACKAGE = {"pyqt5": "PyQt5", "pyqt6": "PyQt6", "pyside6": "PySide6"}[qtasks.QT_API]
_NAMES = ("QtCore", "QtWidgets", "QtGui", "QtTest")
_MODULES = [importlib.import_module(f"{_PACKAGE}.{name}") for name in _NAMES]
_CORE = _MODULES[0]
Signal = getattr(_CORE, "pyqtSignal", None) or _CORE.Signal
Slot = getattr(_CORE, "pyqtSlot", None) or _CORE.Slot


def __getattr__(name: str) -> Any:
    for found in _MODULES:
        if hasattr(found, name):
            return getattr(found, name)
    msg = f"module '_qt' has no attribute {name!r} (looked in QtCore, QtWidgets, QtGui, QtTest of {_PACKAGE})"
    raise AttributeError(msg)
