"""Which Qt binding qtasks runs on, how it refuses a broken one, and how its plugin agrees with pytest-qt."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from qt import QPushButton
from support import run_pytest, run_python

import qtasks
from qtasks._binding import API_NAMES, choose, refusal

OTHER = next(api for api in API_NAMES if api != qtasks.QT_API)


def test_qt_api_names_the_binding_whose_qtcore_is_loaded() -> None:
    """qtasks.QT_API is the binding the process has loaded, one of the three supported."""
    assert qtasks.QT_API in ("pyqt5", "pyqt6", "pyside6")
    assert f"{API_NAMES[qtasks.QT_API]}.QtCore" in sys.modules


def test_the_binding_already_imported_wins_over_qt_api() -> None:
    """An application that imported PySide6 first gets PySide6, whatever QT_API says."""
    assert "pyside6" == choose({"QT_API": "pyqt5"}, {"PySide6.QtCore": object()})


def test_qt_api_chooses_when_nothing_is_imported() -> None:
    """With no binding imported, QT_API (any case) names the one to use."""
    assert "pyqt6" == choose({"QT_API": "PyQt6"}, {})


def test_without_qt_api_the_first_installed_binding_is_used() -> None:
    """With nothing imported and no QT_API, the first installed of PyQt5, PyQt6, PySide6 is used."""
    installed = [api for api, package in API_NAMES.items() if importlib.util.find_spec(package)]
    assert installed[0] == choose({}, {})


def test_a_bad_qt_api_names_the_allowed_values() -> None:
    """QT_API=pyqt4 raises ImportError naming the value and the three allowed ones."""
    with pytest.raises(ImportError, match=r"QT_API='pyqt4' .* use one of pyqt5, pyqt6, pyside6"):
        choose({"QT_API": "pyqt4"}, {})


def test_importing_qtasks_after_a_binding_uses_that_binding() -> None:
    """A program that imports its binding first, with QT_API naming another, gets its own binding."""
    package = API_NAMES[qtasks.QT_API]
    code = f"import {package}.QtCore, os; os.environ['QT_API'] = {OTHER!r}; import qtasks; "
    code += "print(qtasks.QT_API)"
    completed = run_python("-c", code)
    assert (0, f"{qtasks.QT_API}\n") == (completed.returncode, completed.stdout), completed.stderr


def test_importing_qtasks_with_a_bad_qt_api_fails_naming_the_fix() -> None:
    """Importing qtasks with QT_API=qt6 fails with ImportError naming the allowed values."""
    code = "import os; os.environ['QT_API'] = 'qt6'; import qtasks"
    completed = run_python("-c", code)
    assert 1 == completed.returncode
    allowed = "use one of pyqt5, pyqt6, pyside6"
    expected = f"ImportError: QT_API='qt6' is not a Qt binding qtasks supports: {allowed}"
    assert expected in completed.stderr.splitlines()


def test_pyside6_6_12_0_on_python_3_11_is_refused_with_the_fix() -> None:
    """PySide6 6.12.0 under Python 3.11 is refused with a message naming the version and what to install."""
    message = refusal("pyside6", (3, 11), "6.12.0")
    assert message is not None
    assert "PySide6 6.12.0 with Python 3.11" in message
    assert "PySide6-Essentials==6.11.3" in message
    assert "Python 3.12 or newer" in message


@pytest.mark.parametrize(
    ("api", "python", "version"),
    [
        ("pyside6", (3, 11), "6.11.3"),
        ("pyside6", (3, 12), "6.12.0"),
        ("pyside6", (3, 13), "6.12.0"),
        ("pyqt6", (3, 11), "6.12.0"),
    ],
)
def test_only_the_crashing_combination_is_refused(api: str, python: tuple[int, int], version: str) -> None:
    """Versions that run qtasks fine are not refused."""
    assert refusal(api, python, version) is None


def test_wait_signal_on_clicked_bool_gives_the_checked_flag(qtbot: Any, qtasks_run: Any) -> None:
    """`button.clicked[bool]` resumes with `(False,)` on every binding."""
    button = QPushButton("OK")
    qtbot.addWidget(button)
    task = qtasks.wait_signal(button.clicked[bool])
    button.click()
    assert (False,) == qtasks_run(task)


UNCONSUMED = """
import qtasks


def boom():
    raise ValueError("nobody consumed this")


@qtasks.coroutine
def body():
    yield qtasks.run(boom)


def test_fails(qtbot):
    handle = body()
    qtbot.waitUntil(handle.done)
"""


def test_a_failure_nobody_consumed_fails_the_test(tmp_path: Path) -> None:
    """A coroutine's failure that nobody consumed fails the test that started it, on this binding."""
    (tmp_path / "test_unconsumed.py").write_text(textwrap.dedent(UNCONSUMED))
    proc = run_pytest(tmp_path)
    assert 1 == proc.returncode, proc.stdout + proc.stderr
    assert "1 failed" in proc.stdout
    assert "nobody consumed this" in proc.stdout


AGREES = """
import qtasks
from pytestqt.qt_compat import qt_api


def test_agrees(qapp):
    assert qtasks.QT_API == qt_api.pytest_qt_api
"""


def test_pytest_qt_follows_the_binding_qtasks_chose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With pytest-qt left to choose, it runs on the binding qtasks chose, not its own first pick."""
    monkeypatch.delenv("PYTEST_QT_API", raising=False)
    monkeypatch.setenv("QT_API", qtasks.QT_API)
    (tmp_path / "test_agrees.py").write_text(textwrap.dedent(AGREES))
    proc = run_pytest(tmp_path)
    assert 0 == proc.returncode, proc.stdout + proc.stderr


def test_a_pytest_qt_set_to_another_binding_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PYTEST_QT_API naming another binding than qtasks' stops pytest with one line saying how to agree."""
    monkeypatch.setenv("QT_API", qtasks.QT_API)
    monkeypatch.setenv("PYTEST_QT_API", OTHER)
    (tmp_path / "test_agrees.py").write_text(textwrap.dedent(AGREES))
    proc = run_pytest(tmp_path)
    expected = (
        f"ERROR: qtasks runs on {qtasks.QT_API} but pytest-qt is set to {OTHER} (PYTEST_QT_API); "
        f"one process cannot use both: set QT_API={OTHER} so qtasks uses it too, "
        f"or PYTEST_QT_API={qtasks.QT_API}"
    )
    assert 4 == proc.returncode, proc.stdout + proc.stderr
    assert expected in proc.stderr.splitlines()


def test_qt_api_naming_a_binding_not_installed_says_what_to_install() -> None:
    """QT_API naming a binding that is not installed fails with ImportError naming it and its extra."""
    missing = [api for api, package in API_NAMES.items() if importlib.util.find_spec(package) is None]
    if not missing:
        pytest.skip("all three bindings are installed here")
    api = missing[0]
    completed = run_python("-c", f"import os; os.environ['QT_API'] = {api!r}; import qtasks")
    assert 1 == completed.returncode
    last = completed.stderr.splitlines()[-1]
    expected = f"ImportError: qtasks was asked for {API_NAMES[api]} (QT_API={api!r}), which is not installed"
    assert last.startswith(expected)
    assert f"the {api} extra of qt-qtasks" in last
