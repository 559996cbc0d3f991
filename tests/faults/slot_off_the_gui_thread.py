"""A @qtasks.slot is called on a worker thread by a signal with a direct connection."""

import common
from qt import QObject, Qt, Signal

import qtasks


class Box(QObject):
    poked = Signal()

    @qtasks.slot
    def on_poke(self):  # type: ignore[no-untyped-def]
        yield qtasks.sleep(0)


box = Box()
box.poked.connect(box.on_poke, Qt.ConnectionType.DirectConnection)
qtasks.run(box.poked.emit)
common.run_until_idle()
