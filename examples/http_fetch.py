"""Fetch many pages at once with an asyncio client, from a slot, with progress and Cancel.

The fetching is plain asyncio (`asyncio.open_connection`, one HTTP/1.0 GET per
page, all gathered at once); `qtasks.run_async` runs it on qtasks' asyncio
thread, and the slot awaits it like any other task. With httpx or aiohttp the
slot would be the same: `pages = yield qtasks.run_async(fetch_all, urls)`.
`qtasks.report_progress()` inside the coroutine feeds the progress bar; Cancel
cancels the slot, which cancels the asyncio task: each request's `finally`
closes its connection, on the loop's thread.

The pages come from a small HTTP server this example starts on 127.0.0.1 (on
the same asyncio loop), so it needs no network.

    python examples/http_fetch.py            # the window
    python examples/http_fetch.py --smoke    # drive it headless; exit 0 on success
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any, Generator

from _qt import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget
from _smoke import main, wait_until

import qtasks

PAGES = 50


class PageServer:
    """An HTTP/1.0 server on 127.0.0.1 serving /page/N. Runs on qtasks' asyncio loop.

    Pages from `hold_from` on are never answered (the server waits for the
    client to leave), so a fetch can be cancelled half way.
    """

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.hold_from: int | None = None
        self.open = 0  # connections open now, as the server sees them

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            number = int(head.split()[1].rsplit(b"/", 1)[1])
            if self.hold_from is not None and number >= self.hold_from:
                with contextlib.suppress(ConnectionError):
                    await reader.read()  # until the client goes away
                return
            await asyncio.sleep(0.01)  # the server "works"
            body = f"page {number}\n".encode() * 100
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        finally:
            self.open -= 1
            writer.close()


async def http_get(port: int, path: str) -> bytes:
    """GET http://127.0.0.1:port/path and return the body. Runs on the asyncio loop."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()  # also when cancelled: the server sees the connection end
    head, _, body = response.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode()
    if " 200 " not in status:
        msg = f"GET {path}: {status}"
        raise OSError(msg)
    return body


async def fetch_all(port: int, paths: list[str]) -> list[bytes]:
    """Fetch every path at once, reporting how many are done. Runs on the asyncio loop."""
    done = 0

    async def one(path: str) -> bytes:
        nonlocal done
        body = await http_get(port, path)
        done += 1
        qtasks.report_progress(done)
        return body

    return list(await asyncio.gather(*(one(path) for path in paths)))


class Window(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("qtasks: fetch pages with asyncio")
        self.server = PageServer()
        self.server_started = qtasks.run_async(self.server.start)
        self.fetch_button = QPushButton(f"Fetch {PAGES} pages")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setMaximum(PAGES)
        self.status = QLabel("Ready")
        buttons = QHBoxLayout()
        buttons.addWidget(self.fetch_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self._running: qtasks.Task[Any] | None = None
        self.fetch_button.clicked.connect(self.on_fetch)
        self.cancel_button.clicked.connect(self.on_cancel)

    def on_fetch(self) -> None:
        self._running = self.fetch()

    def on_cancel(self) -> None:
        if self._running is not None:
            self._running.cancel()

    @qtasks.slot(reentry="ignore")
    def fetch(self) -> Generator[Any, Any, None]:
        self.fetch_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setText(f"Fetching {PAGES} pages...")
        try:
            yield self.server_started
            paths = [f"/page/{i}" for i in range(PAGES)]
            task = qtasks.run_async(fetch_all, self.server.port, paths)
            task.on_progress(self.progress.setValue)
            pages = yield task
            self.progress.setValue(PAGES)
            self.status.setText(f"Fetched {len(pages)} pages, {sum(map(len, pages)):,} bytes")
        except qtasks.CancelledError:
            self.status.setText("Cancelled")
            raise
        finally:
            self.fetch_button.setEnabled(True)
            self.cancel_button.setEnabled(False)


def smoke(window: Window) -> Generator[Any, Any, None]:
    """Fetch with the server holding the last pages, cancel, then fetch all of them."""
    window.server.hold_from = 10
    window.fetch_button.click()
    yield from wait_until(lambda: window.progress.value() == 10, "the first ten pages")
    yield from wait_until(lambda: window.server.open == PAGES - 10, "the held requests")
    window.cancel_button.click()
    yield from wait_until(lambda: "Cancelled" == window.status.text(), "the cancellation")
    yield from wait_until(lambda: window.server.open == 0, "the server to see every connection closed")

    window.server.hold_from = None
    window.fetch_button.click()
    yield from wait_until(window.fetch_button.isEnabled, "the full fetch")
    size = sum(len(f"page {i}\n") * 100 for i in range(PAGES))
    expected = f"Fetched {PAGES} pages, {size:,} bytes"
    assert expected == window.status.text(), window.status.text()
    assert PAGES == window.progress.value()
    yield qtasks.run_async(window.server.stop)


if __name__ == "__main__":
    sys.exit(main(Window, smoke))
