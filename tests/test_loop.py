"""qtasks.run_until_complete(): a script waits for one task with the Qt event loop spinning."""

from __future__ import annotations

import textwrap
import threading
from typing import Any

import pytest
from support import double, run_python

import qtasks


def test_returns_the_result_of_a_handle_or_a_coroutine(qapp: Any) -> None:
    """It gives a handle's result and an async def coroutine object's result."""

    async def add(a: int, b: int) -> int:
        return a + await qtasks.run(double, b)

    assert 4 == qtasks.run_until_complete(qtasks.run(double, 2))
    assert 7 == qtasks.run_until_complete(add(1, 3))


def test_raises_the_task_own_exception(qapp: Any) -> None:
    """A failed task's own exception is raised, not a wrapper."""
    with pytest.raises(ValueError, match="invalid literal for int"):
        qtasks.run_until_complete(qtasks.run(int, "x"))


def test_a_timeout_cancels_the_task_and_names_it(qapp: Any) -> None:
    """After the timeout the task is cancelled, its finally has run, and TimeoutError names it."""
    log: list[str] = []

    @qtasks.coroutine
    def stuck() -> Any:
        try:
            yield qtasks.sleep(3600)
        finally:
            log.append("finally")

    handle = stuck()
    with pytest.raises(
        qtasks.TimeoutError, match=r"<CoroutineTask .*stuck\(\) pending, waiting on .*3600.* after 0\.01 s"
    ):
        qtasks.run_until_complete(handle, timeout=0.01)
    assert handle.cancelled()
    assert ["finally"] == log


def test_a_failure_in_the_clean_up_after_a_timeout_is_the_timeouts_cause(qapp: Any) -> None:
    """A task whose finally fails when the timeout cancels it: that failure is the TimeoutError's cause."""

    @qtasks.coroutine
    def stuck() -> Any:
        try:
            yield qtasks.sleep(3600)
        finally:
            raise ValueError("clean-up failed")

    handle = stuck()
    with pytest.raises(qtasks.TimeoutError) as caught:
        qtasks.run_until_complete(handle, timeout=0.01)
    assert "ValueError('clean-up failed')" == repr(caught.value.__cause__)


def test_without_a_timeout_it_waits_as_long_as_it_takes(qapp: Any) -> None:
    """timeout=None, the default, waits for a task that ends later, with no time limit."""

    @qtasks.coroutine
    def later() -> Any:
        yield qtasks.sleep(0.05)
        return 21

    assert 21 == qtasks.run_until_complete(later(), timeout=None)


def test_bad_arguments_name_the_fix(qapp: Any) -> None:
    """Something not awaitable, or a bad timeout, is refused with the fix."""
    with pytest.raises(
        TypeError, match=r"run_until_complete\(\) needs a qtasks task or a coroutine, got 42: pass a handle"
    ):
        qtasks.run_until_complete(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got \[1, 2\]: wait for several with qtasks\.gather\(\*tasks\)"):
        qtasks.run_until_complete([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"timeout=-1\): seconds must be >= 0"):
        qtasks.run_until_complete(qtasks.gather(), timeout=-1)


def test_without_a_qapplication_it_names_the_fix() -> None:
    """In a script that made no QApplication, it says to make one, and warns of nothing else."""
    script = textwrap.dedent(
        """
        import qtasks

        async def main():
            return 1

        try:
            qtasks.run_until_complete(main())
        except RuntimeError as exc:
            print(exc)
        """
    )
    completed = run_python("-W", "error", "-c", script)
    expected = (
        "qtasks.run_until_complete() needs a QApplication to run the Qt event loop: "
        "create one first, e.g. app = QApplication(sys.argv)\n"
    )
    assert (expected, "") == (completed.stdout, completed.stderr)


def test_a_script_runs_a_task_to_its_end_without_pytest() -> None:
    """A plain script, pytest unimportable, waits for its work with run_until_complete, then ends quietly.

    Nothing is printed at exit either, though the pool's workers outlive the application there.
    """
    script = textwrap.dedent(
        """
        import sys
        sys.modules["pytest"] = None
        from qt import QApplication
        import qtasks

        app = QApplication(sys.argv)
        print(qtasks.run_until_complete(qtasks.gather(qtasks.run(pow, 2, 10), qtasks.run(abs, -3))))
        print(qtasks.run_until_complete(qtasks.run(sum, range(10)), timeout=5))
        """
    )
    completed = run_python("-c", script)
    assert ("[1024, 3]\n45\n", 0) == (completed.stdout, completed.returncode), completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr


def test_off_the_gui_thread_it_refuses(qapp: Any) -> None:
    """Called from another thread, it raises RuntimeError naming the thread to call it on."""
    errors: list[BaseException] = []

    async def nothing() -> None:
        pass

    def call() -> None:
        try:
            qtasks.run_until_complete(nothing())
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(10)
    [error] = errors
    expected = (
        "qtasks.run_until_complete() was called off the GUI thread: "
        "call it on the thread that created the QApplication"
    )
    assert expected == str(error)
