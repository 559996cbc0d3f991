"""The Qt binding qtasks runs on: PyQt5, PyQt6 or PySide6, and what differs between them.

Every other module takes its Qt names from here. The choice, made once at
import: the binding the application already imported; else the `QT_API`
environment variable (``pyqt5``, ``pyqt6``, ``pyside6``); else the first
installed of PyQt5, PyQt6, PySide6.

Why not qtpy: importing it changes PyQt6's enums for the whole process, and
importing qtasks must change no global state. The differences qtasks meets
are few, and each is absorbed here:

- ``pyqtSignal``/``pyqtSlot``/``pyqtBoundSignal`` against
  ``Signal``/``Slot``/``SignalInstance``: re-exported as `Signal`, `Slot`,
  `BoundSignal`.
- Enums: the other modules use the scoped spelling
  (``Qt.ConnectionType.QueuedConnection``), which all three accept.
- ``exec_()`` against ``exec()``: `exec_loop`.
- ``sip.isdeleted``/``sip.delete`` against ``shiboken6.isValid``/
  ``shiboken6.delete``: `is_deleted`, `delete`.

For typing, mypy sees PyQt5 (its stubs are the most complete); the names
have the same shape on the other two.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

__all__ = [
    "API_NAMES",
    "QT_API",
    "BoundSignal",
    "QAbstractItemModel",
    "QCoreApplication",
    "QEvent",
    "QEventLoop",
    "QMetaObject",
    "QModelIndex",
    "QObject",
    "QRunnable",
    "QThread",
    "QThreadPool",
    "QTimer",
    "Qt",
    "Signal",
    "Slot",
    "choose",
    "delete",
    "exec_loop",
    "gui_class",
    "is_deleted",
    "module",
    "refusal",
    "version",
]

# QT_API value -> the binding's package, in the order of preference.
API_NAMES: Final = {"pyqt5": "PyQt5", "pyqt6": "PyQt6", "pyside6": "PySide6"}


def refusal(api: str, python: tuple[int, int], version: str) -> str | None:
    """The reason qtasks refuses binding `api` at `version` under Python `python`, or None.

    PySide6-Essentials 6.12.0 on Python 3.11 aborts the process ("none_dealloc:
    refcount error") as soon as a Python callable runs on a QThreadPool thread;
    6.11.3 on 3.11, and 6.12.0 on 3.12 and 3.13, run it fine.
    """
    if api == "pyside6" and python == (3, 11) and version == "6.12.0":
        return (
            f"qtasks cannot run on PySide6 {version} with Python 3.11: it aborts the process "
            "('refcount error') as soon as Python code runs on a QThreadPool thread. "
            "Install PySide6-Essentials 6.11.3 (PySide6-Essentials==6.11.3), "
            "or use Python 3.12 or newer"
        )
    return None


def _installed_version(api: str) -> str:
    """The installed distribution's version of binding `api`, "" if unknown."""
    names = ("PySide6-Essentials", "PySide6") if api == "pyside6" else (API_NAMES[api],)
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return ""


def choose(environ: dict[str, str] | None = None, modules: dict[str, object] | None = None) -> str:
    """Return the QT_API name of the binding to use, without importing any.

    The one already imported, else `QT_API`, else the first installed.
    Raises ImportError for a bad `QT_API` or when no binding is installed.
    """
    env = os.environ if environ is None else environ
    loaded = sys.modules if modules is None else modules
    for api, package in API_NAMES.items():
        if f"{package}.QtCore" in loaded:
            return api
    requested = env.get("QT_API", "").strip()
    if requested:
        api = requested.lower()
        if api not in API_NAMES:
            allowed = ", ".join(API_NAMES)
            msg = f"QT_API={requested!r} is not a Qt binding qtasks supports: use one of {allowed}"
            raise ImportError(msg)
        return api
    for api, package in API_NAMES.items():
        if importlib.util.find_spec(package) is not None:
            return api
    msg = (
        "qtasks needs a Qt binding and found none: install PyQt5, PyQt6 or PySide6 "
        "(the extras pyqt5, pyqt6 and pyside6 of qt-qtasks each bring one)"
    )
    raise ImportError(msg)


if TYPE_CHECKING:
    from PyQt5.QtCore import (
        QAbstractItemModel,
        QCoreApplication,
        QEvent,
        QEventLoop,
        QMetaObject,
        QModelIndex,
        QObject,
        QRunnable,
        Qt,
        QThread,
        QThreadPool,
        QTimer,
    )
    from PyQt5.QtCore import pyqtBoundSignal as BoundSignal
    from PyQt5.QtCore import pyqtSignal as Signal
    from PyQt5.QtCore import pyqtSlot as Slot
    from PyQt5.sip import delete as _delete
    from PyQt5.sip import isdeleted as _is_deleted

    QT_API: str
else:
    QT_API = choose()
    _REFUSAL = refusal(QT_API, sys.version_info[:2], _installed_version(QT_API))
    if _REFUSAL is not None:
        raise ImportError(_REFUSAL)
    _PACKAGE = API_NAMES[QT_API]
    try:
        _QtCore = importlib.import_module(f"{_PACKAGE}.QtCore")
    except ModuleNotFoundError as _missing:
        _msg = (
            f"qtasks was asked for {_PACKAGE} (QT_API={os.environ.get('QT_API')!r}), which is not installed: "
            f"install it (the {QT_API} extra of qt-qtasks brings it), or set QT_API to an installed binding"
        )
        raise ImportError(_msg) from _missing
    QAbstractItemModel = _QtCore.QAbstractItemModel
    QCoreApplication = _QtCore.QCoreApplication
    QEvent = _QtCore.QEvent
    QEventLoop = _QtCore.QEventLoop
    QMetaObject = _QtCore.QMetaObject
    QModelIndex = _QtCore.QModelIndex
    QObject = _QtCore.QObject
    QRunnable = _QtCore.QRunnable
    Qt = _QtCore.Qt
    QThread = _QtCore.QThread
    QThreadPool = _QtCore.QThreadPool
    QTimer = _QtCore.QTimer
    if QT_API == "pyside6":
        import shiboken6

        BoundSignal = _QtCore.SignalInstance
        Signal = _QtCore.Signal
        Slot = _QtCore.Slot

        def _is_deleted(obj):
            return not shiboken6.isValid(obj)

        _delete = shiboken6.delete
    else:
        _sip = importlib.import_module(f"{_PACKAGE}.sip")
        BoundSignal = _QtCore.pyqtBoundSignal
        Signal = _QtCore.pyqtSignal
        Slot = _QtCore.pyqtSlot
        _is_deleted = _sip.isdeleted
        _delete = _sip.delete


def module(name: str) -> ModuleType:
    """Import and return the binding's module `name` ("QtWidgets", "QtGui", ...)."""
    return importlib.import_module(f"{API_NAMES[QT_API]}.{name}")


def gui_class(name: str) -> Any:
    """Return the widget-side class `name` from QtWidgets, else QtGui.

    Imports those modules only when called, so importing qtasks stays cheap.
    Absorbs the classes Qt 6 moved from QtWidgets to QtGui (`QAction`).
    """
    widgets = module("QtWidgets")
    found = getattr(widgets, name, None)
    return found if found is not None else getattr(module("QtGui"), name)


def version() -> str:
    """The binding's own version and Qt's, for reports: "PyQt5 5.15.11 (Qt 5.15.2)"."""
    core = module("QtCore")
    package = importlib.import_module(API_NAMES[QT_API])
    own = getattr(core, "PYQT_VERSION_STR", None) or getattr(package, "__version__", "?")
    return f"{API_NAMES[QT_API]} {own} (Qt {core.qVersion()})"


def is_deleted(obj: QObject) -> bool:
    """Tell whether the C++ object behind `obj` is gone."""
    return bool(_is_deleted(obj))


def delete(obj: QObject) -> None:
    """Delete the C++ object behind `obj` now (sip.delete, shiboken6.delete)."""
    _delete(obj)


def exec_loop(loop: QEventLoop | QCoreApplication) -> int:
    """Run an event loop (``exec()``; PyQt5 spells it ``exec_()``) and return its exit code."""
    run = getattr(loop, "exec", None) or loop.exec_
    return int(run())
