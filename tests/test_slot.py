"""@qtasks.slot: signal arguments, the owner's lifetime, reentry policies."""

from __future__ import annotations

import dataclasses
import gc
import sys
import threading
import weakref
from typing import Any

import pytest
from qt import QLabel, QLineEdit, QObject, QPushButton, Qt, QThread, QWidget, Signal, Slot, clicked_for, sip
from support import Emitter, Gate, settle

import qtasks

# -- signal arguments ---------------------------------------------------------


class Panel(QWidget):
    """A widget whose slots log what they receive."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[Any] = []
        self.button = QPushButton("Go", self)
        self.label = QLabel("idle", self)

    @qtasks.slot
    def on_click(self) -> Any:
        self.log.append("clicked")
        yield qtasks.run(str, 1)
        self.log.append("done")

    @qtasks.slot
    async def on_text(self, text: str) -> None:
        self.log.append(text)

    @qtasks.slot
    def on_text_with_default(self, text: str, flag: str = "default") -> Any:
        self.log.append((text, flag))
        yield qtasks.run(str, 1)

    @qtasks.slot
    def on_anything(self, *args: Any) -> Any:
        self.log.append(args)
        yield qtasks.run(str, 1)


def test_clicked_bool_into_a_method_taking_only_self(qtbot: Any, qtasks_run: Any) -> None:
    """clicked(bool) into `def on_click(self)` drops the bool and runs the slot."""
    panel = Panel()
    qtbot.addWidget(panel)
    panel.button.clicked.connect(panel.on_click)
    panel.button.click()
    assert ["clicked"] == panel.log
    qtbot.waitUntil(lambda: ["clicked", "done"] == panel.log)


def test_text_changed_into_a_method_taking_the_text(qtbot: Any) -> None:
    """textChanged(str) arrives as the one argument after self."""
    panel = Panel()
    qtbot.addWidget(panel)
    edit = QLineEdit(panel)
    edit.textChanged.connect(panel.on_text)
    edit.setText("abc")
    assert ["abc"] == panel.log


def test_defaults_are_never_filled_by_signal_arguments(qtbot: Any, qtasks_run: Any) -> None:
    """A signal's extra argument does not fill a parameter that has a default."""
    panel = Panel()
    qtbot.addWidget(panel)
    emitter = Emitter()
    emitter.pair.connect(panel.on_text_with_default)
    emitter.pair.emit(1, "extra")
    assert [(1, "default")] == panel.log
    qtbot.waitUntil(lambda: not qtasks.running())


def test_star_args_receive_every_signal_argument(qtbot: Any) -> None:
    """A *args slot receives everything the signal carries."""
    panel = Panel()
    qtbot.addWidget(panel)
    emitter = Emitter()
    emitter.pair.connect(panel.on_anything)
    emitter.pair.emit(1, "x")
    assert [(1, "x")] == panel.log
    qtbot.waitUntil(lambda: not qtasks.running())


def test_a_defaulted_parameter_is_filled_by_keyword(qtbot: Any) -> None:
    """A direct caller passes a parameter that has a default by keyword; positional extras are dropped."""
    panel = Panel()
    qtbot.addWidget(panel)
    panel.on_text_with_default("x", flag="given")
    panel.on_text_with_default("y", "dropped")
    assert [("x", "given"), ("y", "default")] == panel.log
    qtbot.waitUntil(lambda: not qtasks.running())


# -- decorating and calling ---------------------------------------------------


def test_plain_function_slot_returns_its_handle(qtasks_run: Any) -> None:
    """A plain function works too; a direct call returns the CoroutineTask."""

    @qtasks.slot
    def compute(x: int) -> Any:
        return (yield qtasks.run(abs, x))

    handle = compute(-4, "stray")
    assert isinstance(handle, qtasks.CoroutineTask)
    assert 4 == qtasks_run(handle)


@pytest.mark.parametrize("order", ["pyqtSlot outside", "pyqtSlot inside"])
def test_stacks_with_pyqtslot_in_either_order(qtbot: Any, order: str) -> None:
    """@pyqtSlot above or below @qtasks.slot connects and runs the coroutine."""
    if order == "pyqtSlot outside":

        class Box(QWidget):
            def __init__(self) -> None:
                super().__init__()
                self.log: list[str] = []

            @Slot(str)
            @qtasks.slot
            def on_text(self, text: str) -> Any:
                self.log.append(text)
                yield qtasks.run(str, 1)

    else:

        class Box(QWidget):  # type: ignore[no-redef]
            def __init__(self) -> None:
                super().__init__()
                self.log: list[str] = []

            @qtasks.slot
            @Slot(str)
            def on_text(self, text: str) -> Any:
                self.log.append(text)
                yield qtasks.run(str, 1)

    box = Box()
    qtbot.addWidget(box)
    emitter = Emitter()
    emitter.text.connect(box.on_text)
    emitter.text.emit("hello")
    assert ["hello"] == box.log
    handle = box.on_text("direct")
    assert isinstance(handle, qtasks.CoroutineTask)
    qtbot.waitUntil(lambda: not qtasks.running())


class Clicks(QPushButton):
    """A button whose clicked slots are stacked with @Slot() and @Slot(bool), in both orders."""

    def __init__(self) -> None:
        super().__init__("Go")
        self.log: list[Any] = []

    @Slot()
    @qtasks.slot
    def outside_no_args(self) -> Any:
        self.log.append("outside ()")
        return (yield qtasks.sleep(0))

    @qtasks.slot
    @Slot()
    def inside_no_args(self) -> Any:
        self.log.append("inside ()")
        return (yield qtasks.sleep(0))

    @Slot(bool)
    @qtasks.slot
    def outside_bool(self, checked: bool) -> Any:
        self.log.append(("outside (bool)", checked))
        return (yield qtasks.sleep(0))

    @qtasks.slot
    @Slot(bool)
    def inside_bool(self, checked: bool) -> Any:
        self.log.append(("inside (bool)", checked))
        return (yield qtasks.sleep(0))


@pytest.mark.parametrize("name", ["outside_no_args", "inside_no_args", "outside_bool", "inside_bool"])
def test_pyqtslot_stacked_slots_take_clicked_and_return_the_handle(
    qtbot: Any, qtasks_run: Any, name: str
) -> None:
    """clicked reaches a slot stacked with @Slot() or @Slot(bool); a direct call gets the handle."""
    button = Clicks()
    clicked_for(button, name.endswith("_bool")).connect(getattr(button, name))
    button.click()
    expected = {
        "outside_no_args": "outside ()",
        "inside_no_args": "inside ()",
        "outside_bool": ("outside (bool)", False),
        "inside_bool": ("inside (bool)", False),
    }[name]
    assert [expected] == button.log
    args = () if name.endswith("no_args") else (True,)
    handle = getattr(button, name)(*args)
    assert isinstance(handle, qtasks.CoroutineTask)
    assert qtasks_run(handle) is None
    qtbot.waitUntil(lambda: not qtasks.running())


def test_decorating_a_plain_function_raises() -> None:
    """@slot on something that is not a coroutine raises TypeError at decoration."""

    def plain(self: object) -> None:
        pass

    with pytest.raises(TypeError, match=r"qtasks.slot needs a generator function or an async def"):
        qtasks.slot(plain)


def test_bad_reentry_names_the_value_and_the_choices() -> None:
    """An unknown reentry raises ValueError naming it and the allowed values."""
    with pytest.raises(ValueError, match=r"reentry='twice'.*'concurrent', 'restart', 'ignore', 'queue'"):
        qtasks.slot(reentry="twice")


def test_a_slot_failure_is_reported(qtbot: Any, hook_calls: list[BaseException]) -> None:
    """A slot whose failure nobody awaits still reaches sys.excepthook."""

    class Box(QObject):
        @qtasks.slot
        def go(self) -> Any:
            yield qtasks.run(str, 1)
            raise ValueError("slot broke")

    box = Box()
    box.go()
    qtbot.waitUntil(lambda: bool(hook_calls))
    assert ["slot broke"] == [str(exc) for exc in hook_calls]
    del box


def test_a_slot_called_off_the_gui_thread_reports_and_fails_its_handle(
    qtasks_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slot called on a worker thread starts nothing, reports why on the GUI thread, fails its handle."""
    reports: list[tuple[BaseException, int]] = []
    monkeypatch.setattr(sys, "excepthook", lambda _t, exc, _tb: reports.append((exc, threading.get_ident())))
    box = StartingBox()
    log = box.log
    handle = qtasks_run(qtasks.run(box.go))
    with pytest.raises(RuntimeError, match=r"slot .*Box.go was called off the GUI thread.*queued connection"):
        handle.result()
    assert [] == log
    assert [(handle.exception(), threading.get_ident())] == reports


# -- the owner's lifetime -----------------------------------------------------


class Loader(QWidget):
    """A window whose slot waits on a worker and touches itself in finally."""

    def __init__(self, gate: Gate) -> None:
        super().__init__()
        self.gate = gate
        self.log: list[str] = []
        self.label = QLabel("idle", self)

    @qtasks.slot
    def on_load(self) -> Any:
        log = self.log
        try:
            self.label.setText("loading")
            yield qtasks.run(self.gate)
            log.append("resumed")
        except qtasks.CancelledError:
            log.append("cancelled")
            raise
        finally:
            log.append("finally")
            # Fails when the C++ object is already gone, as it must not be
            # after deleteLater (the slot is cancelled before the deletion).
            self.label.setText("idle")
            self.setWindowTitle("idle")
            log.append("owner alive")


def test_closing_a_window_cancels_its_slot_before_deletion(
    qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """Closing a WA_DeleteOnClose window cancels its waiting slot; finally runs; nothing is reported."""
    gate = Gate()
    window = Loader(gate)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.show()
    handle = window.on_load()
    log = window.log
    assert gate.entered.wait(10)
    with qtbot.waitSignal(window.destroyed):
        window.close()
    gate.opened.set()  # the function's late result must change nothing
    assert ["cancelled", "finally", "owner alive"] == log
    assert handle.cancelled()
    assert [] == hook_calls


def delete(qtbot: Any, owner: QObject, parent: QObject, how: str) -> None:
    """Delete `owner` the way `how` says: "deleteLater", "parent deleted" or "sip.delete"."""
    if how == "sip.delete":
        sip.delete(owner)
        return
    with qtbot.waitSignal(owner.destroyed):
        (owner if how == "deleteLater" else parent).deleteLater()


@pytest.mark.parametrize("how", ["deleteLater", "parent deleted", "sip.delete"])
def test_deleting_the_owner_cancels_without_reporting(
    qtbot: Any, hook_calls: list[BaseException], how: str
) -> None:
    """However the owner goes, its slot is cancelled, finally runs and no deleted-object error is reported."""
    gate = Gate()
    parent = QWidget()
    window = Loader(gate)
    window.setParent(parent)
    handle = window.on_load()
    log = window.log
    assert gate.entered.wait(10)
    delete(qtbot, window, parent, how)
    gate.opened.set()  # the function's late result must change nothing
    # deleteLater lets the slot unwind before the owner goes; only then can
    # its finally still use the owner.
    expected = ["cancelled", "finally", "owner alive"] if how == "deleteLater" else ["cancelled", "finally"]
    assert expected == log
    assert handle.cancelled()
    qtbot.waitUntil(lambda: not qtasks.running())
    assert expected == log
    assert [] == hook_calls
    del window


class Search(QWidget):
    """A search box whose textChanged slot queries a slow worker."""

    def __init__(self, gate: Gate | None = None) -> None:
        super().__init__()
        self.gate = gate
        self.edit = QLineEdit(self)
        self.result = QLabel("", self)
        self.queries: list[str] = []
        # The queries whose clean-up ran to its end, the widget still alive.
        self.cleaned: list[str] = []
        self.edit.textChanged.connect(self.on_text)

    @qtasks.slot(reentry="restart")
    def on_text(self, text: str) -> Any:
        self.queries.append(text)
        try:
            found = yield qtasks.run(self.gate if self.gate else str, text)
            self.result.setText(f"result for {found}")
        finally:
            self.result.setToolTip(text)
            self.setToolTip(text)
            self.cleaned.append(text)


def test_deleting_a_widget_mid_query_reports_nothing(qtbot: Any, hook_calls: list[BaseException]) -> None:
    """Deleting a search widget while its slot waits cancels it first: clean-up runs, nothing is reported."""
    gate = Gate()
    search = Search(gate)
    cleaned = search.cleaned
    search.edit.setText("abc")
    assert gate.entered.wait(10)
    running = [task for task in qtasks.running() if isinstance(task, qtasks.CoroutineTask)]
    with qtbot.waitSignal(search.destroyed):
        search.deleteLater()
    gate.opened.set()
    assert ["abc"] == cleaned
    qtbot.waitUntil(lambda: not qtasks.running())
    assert [True] == [task.cancelled() for task in running]
    assert [] == hook_calls


class Worker(QObject):
    """A plain QObject whose slot reads its own name in finally."""

    def __init__(self, gate: Gate, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.gate = gate
        self.log: list[str] = []

    @qtasks.slot
    def go(self) -> Any:
        log = self.log
        try:
            yield qtasks.run(self.gate)
            log.append("resumed")
        finally:
            log.append("finally")
            self.objectName()  # the C++ object is gone by `destroyed`: RuntimeError


@pytest.mark.parametrize("how", ["sip.delete", "parent deleted"])
def test_deleted_object_error_in_finally_is_not_reported(
    qtbot: Any, hook_calls: list[BaseException], how: str
) -> None:
    """A finally block touching the already-deleted owner ends the slot cancelled, reporting nothing."""
    gate = Gate()
    parent = QObject()
    worker = Worker(gate, parent)
    log = worker.log
    handle = worker.go()
    sip.delete(worker if how == "sip.delete" else parent)
    assert ["finally"] == log
    assert handle.cancelled()
    gate.opened.set()
    qtbot.waitUntil(lambda: not qtasks.running())
    assert [] == hook_calls


def test_an_owner_deleted_on_its_own_thread_cancels_its_slot(
    qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A slot whose owner lives on another thread is cancelled when that thread deletes the owner."""
    gate = Gate()
    thread = QThread()
    thread.start()
    worker = Worker(gate)
    worker.moveToThread(thread)
    log = worker.log
    handle = worker.go()
    worker.deleteLater()
    thread.quit()  # a finishing thread runs its deferred deletions
    assert thread.wait(10_000)
    gate.opened.set()
    qtbot.waitUntil(handle.done)
    assert ["finally"] == log
    assert handle.cancelled()
    qtbot.waitUntil(lambda: not qtasks.running())
    assert [] == hook_calls


class Nested(QWidget):
    """A window whose slot waits on a helper coroutine that touches the window in finally."""

    def __init__(self, gate: Gate, wrap: str, fail: bool = False) -> None:
        super().__init__()
        self.gate = gate
        self.wrap = wrap
        self.fail = fail
        self.log: list[str] = []
        self.label = QLabel("idle", self)

    @qtasks.coroutine
    def load(self) -> Any:
        log = self.log
        try:
            yield qtasks.run(self.gate)
        finally:
            log.append("helper finally")
            if self.fail:
                raise ValueError("helper clean-up broke")
            self.label.setText("idle")  # fails when the C++ object is already gone
            self.setWindowTitle("idle")
            log.append("helper saw the window")

    @qtasks.slot
    def on_load(self) -> Any:
        log = self.log
        try:
            loading = self.load()
            if self.wrap == "gather":
                yield qtasks.gather(loading)
            elif self.wrap == "timeout":
                yield qtasks.timeout(60, loading)
            else:
                yield loading
        finally:
            log.append("slot finally")


@pytest.mark.parametrize("wrap", ["directly", "gather", "timeout"])
@pytest.mark.parametrize("how", ["deleteLater", "parent deleted", "sip.delete"])
def test_a_coroutine_the_slot_waits_on_ends_first_and_quietly_with_the_owner(
    qtbot: Any, hook_calls: list[BaseException], how: str, wrap: str
) -> None:
    """Deleting the owner unwinds the coroutine its slot awaits first; touching the dead owner is quiet."""
    gate = Gate()
    parent = QWidget()
    window = Nested(gate, wrap)
    window.setParent(parent)
    log = window.log
    handle = window.on_load()
    delete(qtbot, window, parent, how)
    if how == "deleteLater":
        # Cancelled before the deletion: each finally still finds the window.
        expected = ["helper finally", "helper saw the window", "slot finally"]
    else:
        expected = ["helper finally", "slot finally"]
    assert expected == log
    assert handle.cancelled()
    gate.opened.set()
    qtbot.waitUntil(lambda: not qtasks.running())
    assert [] == hook_calls


@pytest.mark.parametrize("wrap", ["directly", "gather", "timeout"])
def test_an_error_in_the_clean_up_of_a_coroutine_the_slot_waits_on_is_reported(
    qtbot: Any, hook_calls: list[BaseException], wrap: str
) -> None:
    """An error not about the deleted owner, raised while its coroutines unwind, is reported once."""
    gate = Gate()
    window = Nested(gate, wrap, fail=True)
    log = window.log
    handle = window.on_load()
    sip.delete(window)
    assert ["helper finally", "slot finally"] == log
    gate.opened.set()
    qtbot.waitUntil(lambda: bool(hook_calls))
    assert ["helper clean-up broke"] == [str(exc) for exc in hook_calls]
    assert handle.cancelled()
    qtbot.waitUntil(lambda: not qtasks.running())


def test_nothing_resumes_normally_after_the_owner_is_gone(
    qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A slot that swallows the cancellation and waits again gets CancelledError, not a result."""
    log: list[str] = []

    class Box(QObject):
        @qtasks.slot
        def go(self) -> Any:
            try:
                yield qtasks.sleep(10)
            except qtasks.CancelledError:
                log.append("cancelled")
            try:
                yield qtasks.run(str, 1)
                log.append("resumed normally")
            except qtasks.CancelledError:
                log.append("cancelled again")
                raise

    box = Box()
    handle = box.go()
    sip.delete(box)
    qtbot.waitUntil(handle.done)
    assert ["cancelled", "cancelled again"] == log
    assert handle.cancelled()
    assert [] == hook_calls


class StartingBox(QObject):
    """A QObject whose slot logs that it started, then waits on a worker."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []

    @qtasks.slot
    def go(self) -> Any:
        self.log.append("started")
        yield qtasks.run(str, 1)


def test_a_slot_called_on_a_deleted_object_does_not_start(
    qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """Calling a slot of an object whose C++ side is gone returns a cancelled handle and runs nothing."""
    box = StartingBox()
    log = box.log
    sip.delete(box)
    handle = box.go()
    assert handle.cancelled()
    assert [] == log
    assert [] == hook_calls


def test_a_finished_owner_is_not_kept_alive(qtasks_run: Any) -> None:
    """Once its slots are done, qtasks holds no reference that keeps the QObject alive."""

    class Box(QObject):
        @qtasks.slot
        def go(self) -> Any:
            yield qtasks.run(str, 1)

    box = Box()
    qtasks_run(box.go())
    qtasks_run(qtasks.sleep(0))
    ref = weakref.ref(box)
    del box
    gc.collect()
    assert ref() is None


def test_a_pyqtslot_stacked_slot_is_cancelled_with_its_owner(
    qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """@Slot() over @qtasks.slot still ties the coroutine to its owner's lifetime."""
    gate = Gate()
    log: list[str] = []

    class Box(QPushButton):
        @Slot()
        @qtasks.slot
        def on_click(self) -> Any:
            try:
                yield qtasks.run(gate)
            finally:
                log.append("finally")
                self.setText("idle")  # cancelled before deleteLater deletes it
                log.append("saw the box")

    box = Box()
    box.clicked.connect(box.on_click)
    box.click()
    assert gate.entered.wait(10)
    with qtbot.waitSignal(box.destroyed):
        box.deleteLater()
    assert ["finally", "saw the box"] == log
    gate.opened.set()
    qtbot.waitUntil(lambda: not qtasks.running())
    assert [] == hook_calls


def test_a_slot_that_deletes_its_own_owner_stops_at_its_next_wait(
    qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A slot deleting its own owner runs on to its next yield, where it is cancelled."""
    log: list[str] = []

    class Box(QObject):
        @qtasks.slot
        def go(self) -> Any:
            sip.delete(self)
            log.append("after delete")
            try:
                yield qtasks.run(str, 1)
                log.append("resumed")
            finally:
                log.append("finally")

    handle = Box().go()
    assert ["after delete", "finally"] == log
    assert handle.cancelled()
    qtbot.waitUntil(lambda: not qtasks.running())
    assert [] == hook_calls


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


def test_a_slot_ignoring_cancellation_does_not_freeze_the_gui(
    qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A slot that swallows every CancelledError after deleting its owner ends when its waits run out."""
    log: list[str] = []

    class Box(QObject):
        @qtasks.slot
        def go(self) -> Any:
            sip.delete(self)
            for _ in range(20):
                try:
                    yield qtasks.sleep(0)
                except qtasks.CancelledError:
                    log.append("swallowed")
            log.append("gave up")

    handle = Box().go()
    qtbot.waitUntil(handle.done)
    assert 20 * ["swallowed"] + ["gave up"] == log
    assert [] == hook_calls


@pytest.mark.parametrize("how", ["sip.delete", "parent deleted", "deleteLater"])
def test_a_slot_waiting_on_its_owners_signal_ends_quietly_with_it(qtbot: Any, qtlog: Any, how: str) -> None:
    """A slot awaiting a signal of its own owner is cancelled with the owner, and Qt prints no warning."""

    class Box(QObject):
        changed = Signal()

        @qtasks.slot
        def go(self) -> Any:
            yield qtasks.wait_signal(self.changed)

    parent = QObject()
    box = Box(parent)
    handle = box.go()
    if how == "parent deleted":
        sip.delete(parent)  # at once, as a C++ parent deletes its children
    else:
        delete(qtbot, box, parent, how)
    assert handle.cancelled()
    assert [] == [record.message for record in qtlog.records]


def test_a_failure_the_slot_unwinds_from_is_reported_even_if_its_finally_meets_the_deleted_owner(
    qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """A helper's failure is reported once, though the slot's finally then meets the deleted owner."""
    gate = Gate()
    log: list[str] = []

    class Window(QWidget):
        @qtasks.coroutine
        def load(self) -> Any:
            try:
                yield qtasks.run(gate)
            finally:
                raise ValueError("helper clean-up broke")

        @qtasks.slot
        def on_load(self) -> Any:
            try:
                yield self.load()
            finally:
                log.append("slot finally")
                self.setWindowTitle("idle")  # the owner is gone: this raises

    window = Window()
    handle = window.on_load()
    sip.delete(window)
    gate.opened.set()
    qtbot.waitUntil(lambda: bool(hook_calls))
    qtbot.waitUntil(lambda: not qtasks.running())
    assert ["slot finally"] == log
    assert ["helper clean-up broke"] == [str(exc) for exc in hook_calls]
    assert handle.done()


def test_a_slot_is_cancelled_with_its_owner_though_what_it_awaits_fails_in_its_clean_up(
    qtasks_run: Any, hook_calls: list[BaseException]
) -> None:
    """A slot whose awaited coroutine fails while unwinding ends cancelled, and that failure is reported."""
    log: list[Any] = []

    @qtasks.coroutine
    async def helper() -> None:
        try:
            await qtasks.sleep(3600)
        except qtasks.CancelledError:
            raise ValueError("helper clean-up broke") from None

    class Box(QObject):
        @qtasks.slot
        async def go(self) -> Any:
            try:
                return await helper()
            except ValueError as exc:
                log.append(f"slot caught {exc}")
                return "resumed normally"

    box = Box()
    handle = box.go()
    sip.delete(box)
    assert handle.cancelled()
    assert [] == log
    settle(qtasks_run)
    assert ["helper clean-up broke"] == [str(exc) for exc in hook_calls]


# -- reentry ------------------------------------------------------------------


def test_by_default_a_second_call_runs_alongside_the_first(qtbot: Any, qtasks_run: Any) -> None:
    """Without reentry=, a second call on the same owner starts at once and both run to their end."""
    log: list[str] = []
    gate = Gate()

    class Box(QObject):
        @qtasks.slot
        def go(self, n: int) -> Any:
            log.append(f"start {n}")
            yield qtasks.run(gate, n)
            log.append(f"end {n}")
            return n

    box = Box()
    first, second = box.go(1), box.go(2)
    assert first is not second
    assert ["start 1", "start 2"] == log
    gate.opened.set()
    assert [1, 2] == qtasks_run(qtasks.gather(first, second))
    assert ["end 1", "end 2"] == sorted(log[2:])


def test_typing_ten_characters_fast_shows_one_result(qtbot: Any, qtasks_run: Any) -> None:
    """With reentry='restart', ten fast keystrokes leave exactly one result, for the last text."""
    search = Search()
    qtbot.addWidget(search)
    shown: list[str] = []
    original = search.result.setText
    search.result.setText = lambda text: (shown.append(text), original(text))  # type: ignore[method-assign]
    for index in range(1, 11):
        search.edit.setText("abcdefghij"[:index])
    qtbot.waitUntil(lambda: not qtasks.running())
    assert ["result for abcdefghij"] == shown
    assert ["abcdefghij"[:index] for index in range(1, 11)] == search.queries


def test_restart_cancels_the_running_call_first(qtbot: Any) -> None:
    """reentry='restart' cancels the running call (its finally runs) before the new one starts."""
    log: list[str] = []
    gate = Gate()

    class Box(QObject):
        @qtasks.slot(reentry="restart")
        def go(self, name: str) -> Any:
            log.append(f"start {name}")
            try:
                yield qtasks.run(gate)
            finally:
                log.append(f"end {name}")

    box = Box()
    first = box.go("a")
    second = box.go("b")
    assert ["start a", "end a", "start b"] == log
    assert first.cancelled()
    second.cancel()
    gate.opened.set()
    qtbot.waitUntil(second.done)


def test_ignore_returns_the_running_handle(qtbot: Any, qtasks_run: Any) -> None:
    """reentry='ignore' drops a second call and returns the running call's handle."""
    starts: list[int] = []
    gate = Gate()

    class Box(QObject):
        @qtasks.slot(reentry="ignore")
        def go(self, n: int) -> Any:
            starts.append(n)
            return (yield qtasks.run(gate, n))

    box = Box()
    first = box.go(1)
    assert first is box.go(2)
    gate.opened.set()
    assert 1 == qtasks_run(first)
    assert 3 == qtasks_run(box.go(3))
    assert [1, 3] == starts


def test_ignore_starts_a_new_call_once_the_running_one_is_cancelled(qtasks_run: Any) -> None:
    """reentry='ignore' does not hand back a call whose cancel() already returned True: the new call runs."""

    class Box(QObject):
        @qtasks.slot(reentry="ignore")
        def go(self, n: int) -> Any:
            yield qtasks.sleep(0)
            return n

    box = Box()
    first = box.go(1)
    assert first.cancel()
    second = box.go(2)
    assert second is not first
    assert 2 == qtasks_run(second)
    assert first.cancelled()


def test_queue_runs_calls_one_after_another_in_order(qtbot: Any, qtasks_run: Any) -> None:
    """reentry='queue' returns handles at once and runs the calls one at a time, in call order."""
    log: list[str] = []

    class Box(QObject):
        @qtasks.slot(reentry="queue")
        def go(self, n: int) -> Any:
            log.append(f"start {n}")
            yield qtasks.run(str, n)
            log.append(f"end {n}")
            return n

    box = Box()
    handles = [box.go(n) for n in range(3)]
    assert ["start 0"] == log
    assert [0, 1, 2] == qtasks_run(qtasks.gather(*handles))
    assert ["start 0", "end 0", "start 1", "end 1", "start 2", "end 2"] == log


def test_queue_skips_a_cancelled_waiting_call(qtbot: Any, qtasks_run: Any) -> None:
    """A queued call cancelled before its turn never starts, and the next one still waits its turn."""
    log: list[str] = []
    gate = Gate()

    class Box(QObject):
        @qtasks.slot(reentry="queue")
        def go(self, n: int) -> Any:
            log.append(f"start {n}")
            yield qtasks.run(gate)
            log.append(f"end {n}")

    box = Box()
    first, second, third = box.go(1), box.go(2), box.go(3)
    assert second.cancel()
    qtbot.waitUntil(second.done)
    assert ["start 1"] == log
    gate.opened.set()
    qtasks_run(third)
    assert ["start 1", "end 1", "start 3", "end 3"] == log
    assert first.done()


@pytest.mark.parametrize("ending", ["fails", "is cancelled"])
def test_queue_starts_the_next_call_after_the_running_one_fails_or_is_cancelled(
    qtbot: Any, qtasks_run: Any, ending: str
) -> None:
    """reentry='queue' starts the waiting call once the running one ends, however it ends."""
    log: list[str] = []
    gate = Gate()

    class Box(QObject):
        @qtasks.slot(reentry="queue")
        def go(self, n: int) -> Any:
            log.append(f"start {n}")
            yield qtasks.run(gate)
            if n == 1:
                raise ValueError("first call broke")
            return n

    box = Box()
    first, second = box.go(1), box.go(2)
    assert gate.entered.wait(10)
    assert ["start 1"] == log
    if ending == "is cancelled":
        assert first.cancel()
        qtbot.waitUntil(first.done)
        assert first.cancelled()
        assert ["start 1", "start 2"] == log
        gate.opened.set()
    else:
        gate.opened.set()
        with pytest.raises(ValueError, match="first call broke"):
            qtasks_run(first)
    assert 2 == qtasks_run(second)
    assert ["start 1", "start 2"] == log


def test_deleting_the_owner_cancels_queued_calls(qtbot: Any, hook_calls: list[BaseException]) -> None:
    """Queued calls of a deleted owner are cancelled and never start."""
    log: list[int] = []
    gate = Gate()

    class Box(QObject):
        @qtasks.slot(reentry="queue")
        def go(self, n: int) -> Any:
            log.append(n)
            yield qtasks.run(gate)

    box = Box()
    handles = [box.go(n) for n in range(3)]
    sip.delete(box)
    assert all(handle.cancelled() for handle in handles)
    gate.opened.set()
    qtbot.waitUntil(lambda: not qtasks.running())
    assert [0] == log
    assert [] == hook_calls


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


def test_reentry_is_per_owner(qtbot: Any) -> None:
    """Two owners of an 'ignore' slot each run their own call."""
    gate = Gate()

    started: list[str] = []

    class Box(QObject):
        @qtasks.slot(reentry="ignore")
        def go(self) -> Any:
            started.append(self.objectName())
            yield qtasks.run(gate)

    one, two = Box(objectName="one"), Box(objectName="two")
    first, second = one.go(), two.go()
    assert first is not second
    assert first is one.go()
    assert ["one", "two"] == started
    gate.opened.set()
    qtbot.waitUntil(lambda: not qtasks.running())
    assert [False, False] == [first.cancelled(), second.cancelled()]


def test_plain_function_reentry_is_per_function(qtasks_run: Any) -> None:
    """For a plain function, 'queue' orders the calls of that function."""
    log: list[str] = []

    @qtasks.slot(reentry="queue")
    def step(n: int) -> Any:
        log.append(f"start {n}")
        yield qtasks.sleep(0)
        log.append(f"end {n}")

    qtasks_run(qtasks.gather(step(1), step(2)))
    assert ["start 1", "end 1", "start 2", "end 2"] == log


def test_reentry_on_a_plain_class_is_per_instance(qtasks_run: Any) -> None:
    """For methods of a class that is not a QObject, 'ignore' applies per object; the object is not kept."""
    gate = Gate()

    class Controller:
        @qtasks.slot(reentry="ignore")
        def go(self) -> Any:
            return (yield qtasks.run(gate, self))

    first, second = Controller(), Controller()
    a, b = first.go(), second.go()
    assert a is not b
    assert a is first.go()
    gate.opened.set()
    assert [first, second] == qtasks_run(qtasks.gather(a, b))
    ref = weakref.ref(first)
    del first, a
    qtasks_run(qtasks.sleep(0))
    gc.collect()
    assert ref() is None


class EqualByValue(QObject):
    """A QObject whose instances all compare equal and hash alike."""

    def __init__(self, gate: Gate) -> None:
        super().__init__()
        self.gate = gate

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EqualByValue)

    def __hash__(self) -> int:
        return 0

    @qtasks.slot(reentry="ignore")
    def go(self) -> Any:
        return (yield qtasks.run(self.gate, self))


class EqualUnhashable(EqualByValue):
    """A QObject whose instances all compare equal and cannot be hashed."""

    __hash__ = None  # type: ignore[assignment]


@dataclasses.dataclass
class Record:
    """A plain dataclass: its instances compare by their fields and cannot be hashed."""

    gate: Gate

    @qtasks.slot(reentry="ignore")
    def go(self) -> Any:
        return (yield qtasks.run(self.gate, self))


@pytest.mark.parametrize("kind", [EqualByValue, EqualUnhashable, Record])
def test_reentry_is_per_object_whatever_its_class_calls_equal(qtasks_run: Any, kind: type[Any]) -> None:
    """Objects that compare equal, or cannot be hashed, each get their own reentry state."""
    gate = Gate()
    first, second = kind(gate), kind(gate)
    a, b = first.go(), second.go()
    assert a is not b
    gate.opened.set()
    assert [first, second] == qtasks_run(qtasks.gather(a, b))


def test_a_staticmethod_slot_is_not_owned_by_its_first_argument(qtasks_run: Any) -> None:
    """A staticmethod is not owned by its QObject argument: deleting it cancels nothing; reentry is shared."""
    gate = Gate()

    class Tools:
        @staticmethod
        @qtasks.slot(reentry="ignore")
        def describe(item: QObject) -> Any:
            name = item.objectName()
            return (yield qtasks.run(gate, name))

    first, second = QObject(), QObject()
    first.setObjectName("first")
    handle = Tools.describe(first)
    assert handle is Tools.describe(second)
    sip.delete(first)
    assert not handle.done()
    gate.opened.set()
    assert "first" == qtasks_run(handle)


class DeepChain(QObject):
    """A QObject whose slot starts a chain of coroutines too deep to start synchronously."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[int] = []

    @qtasks.slot
    def go(self) -> Any:
        yield self.level(100)

    @qtasks.coroutine
    def level(self, depth: int) -> Any:
        self.started.append(depth)
        if depth > 0:
            yield self.level(depth - 1)
        else:
            yield qtasks.run(int)


def test_deleting_the_owner_before_a_deep_chains_deferred_starts_ends_it_cancelled(
    qtasks_manual_pool: Any, hook_calls: list[BaseException]
) -> None:
    """Deleting a slot's owner while its deep chain waits to finish starting cancels it all, with no error."""
    owner = DeepChain()
    started = owner.started
    handle = owner.go()
    started_synchronously = list(started)
    sip.delete(owner)
    qtasks._runtime.bridge().run_pending()
    assert handle.cancelled()
    assert started_synchronously == started
    assert [] == qtasks_manual_pool.pending
    assert [] == hook_calls
