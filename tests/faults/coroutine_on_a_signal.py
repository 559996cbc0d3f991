"""A @qtasks.coroutine that takes no argument is connected to a signal that passes one."""

import common
from qt import QObject, Signal

import qtasks


class Button(QObject):
    clicked = Signal(bool)


@qtasks.coroutine
def on_click():  # type: ignore[no-untyped-def]
    yield qtasks.sleep(0)


button = Button()
button.clicked.connect(on_click)
button.clicked.emit(False)
common.run_until_idle()
