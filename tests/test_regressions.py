"""Regressions: each test pins a bug that once slipped through."""

from __future__ import annotations

import gc
import sys
import threading
import weakref
from typing import Any

import pytest
from PyQt5 import sip
from PyQt5.QtCore import QEventLoop, QObject, QTimer
from PyQt5.QtWidgets import QLineEdit
from support import Gate, settle

import qtasks


class SelfDeleting(QObject):
    """An owner whose slot yields a coroutine object that deletes the owner when it starts."""

    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    async def delete_owner(self) -> None:
        self.log.append("child deletes the owner")
        sip.delete(self)
        await qtasks.sleep(60)
        self.log.append("child resumed")

    @qtasks.slot
    def go(self) -> Any:
        log = self.log
        try:
            yield qtasks.sleep(0)
            log.append("slot resumed")
            yield self.delete_owner()
            log.append("slot resumed again")
        finally:
            log.append("slot finally")


def test_owner_deleted_while_a_yielded_coroutine_starts_cancels_at_the_next_suspension(
    qtasks_run: Any, qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A slot whose yielded coroutine object deletes the owner is cancelled with it, not re-entered."""
    log: list[str] = []
    handle = SelfDeleting(log).go()
    qtbot.waitUntil(handle.done)
    settle(qtasks_run)
    assert handle.cancelled()
    assert ["slot resumed", "child deletes the owner", "slot finally"] == log
    assert [] == qtasks.running()
    assert [] == hook_calls


class Normalizing(QLineEdit):
    """A line edit whose slot rewrites the text, which emits textChanged into the same slot."""

    def __init__(self, reentry: str) -> None:
        super().__init__()
        self.log: list[str] = []
        self.normalize = qtasks.slot(reentry=reentry)(Normalizing._normalize)
        self.textChanged.connect(lambda text: self.normalize(self, text))

    def _normalize(self, text: str) -> Any:
        self.log.append(f"start {text}")
        self.setText(text.upper())
        yield qtasks.sleep(0)
        self.log.append(f"end {text}")


@pytest.mark.parametrize(
    ("reentry", "expected"),
    [
        ("ignore", ["start abc", "end abc"]),
        ("queue", ["start abc", "end abc", "start ABC", "end ABC"]),
        ("restart", ["start abc", "start ABC", "end ABC"]),
    ],
)
def test_reentry_policy_applies_to_a_call_made_before_the_first_suspension(
    qtasks_run: Any, qtbot: Any, reentry: str, expected: list[str]
) -> None:
    """A slot re-entered from its own first step sees the running call, as its reentry policy says."""
    edit = Normalizing(reentry)
    qtbot.addWidget(edit)
    edit.setText("abc")
    qtbot.waitUntil(lambda: not qtasks.running())
    assert expected == edit.log


def test_each_queued_slot_call_adds_a_constant_number_of_watchers(qtasks_run: Any) -> None:
    """reentry="queue" chains the calls: the running call is not watched once per waiting call."""
    gate = Gate()

    class Box(QObject):
        @qtasks.slot(reentry="queue")
        def go(self, n: int) -> Any:
            yield qtasks.run(gate)
            return n

    box = Box()
    calls = [box.go(n) for n in range(200)]
    watchers = [len(call._callbacks or ()) for call in calls]
    gate.opened.set()
    assert list(range(200)) == qtasks_run(qtasks.gather(*calls), timeout=30)
    assert max(watchers) <= 4, watchers[:5]


