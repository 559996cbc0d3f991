"""A handle's repr, which error messages and reports embed, never raises."""

from __future__ import annotations

from typing import Any

import qtasks


class UnprintableError(Exception):
    """An exception whose own __str__ fails."""

    def __str__(self) -> str:
        msg = "no text for this error"
        raise ValueError(msg)


def fail_unprintably() -> None:
    raise UnprintableError


def test_repr_of_a_task_failed_with_an_unprintable_exception_does_not_raise(qtasks_run: Any) -> None:
    """The repr names the exception's type when its __str__ raises, instead of raising itself."""
    task = qtasks.run(fail_unprintably)
    done, _pending = qtasks_run(qtasks.wait([task]))
    assert {task} == done
    expected = "failed with UnprintableError: <str() of the UnprintableError raised>"
    assert f"<ThreadTask fail_unprintably() {expected}>" == repr(task)
    assert isinstance(task.exception(), UnprintableError)
