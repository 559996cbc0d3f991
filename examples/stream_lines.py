"""Values as they come, with qtasks.stream and qtasks.imap.

Three panes, each fed by a stream that its slot consumes with `async for`:

- Log: `tail()` is a generator on a worker that yields each line appended to
  a log file; the pane shows them as they are written.
- Thumbnails: `qtasks.imap(thumbnail, paths)` scales images on the pool; each
  shows as soon as it and those before it are done, and none is kept after.
- Camera: `frames()` is a generator standing in for a camera; the consumer
  takes frames at its own pace and the generator waits (without holding a
  thread) while `buffer` frames are untaken. Stop leaves the `with` block,
  which closes the generator on its worker: its `finally` releases the camera.

    python examples/stream_lines.py            # the window
    python examples/stream_lines.py --smoke    # drive it headless; exit 0 on success
"""

from __future__ import annotations

import itertools
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Generator, Iterator

from _qt import QColor, QHBoxLayout, QImage, QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget
from _smoke import main, wait_until

import qtasks


def tail(path: Path, poll: float = 0.05) -> Iterator[str]:
    """Yield each line appended to the file at `path`, forever. Worker thread.

    It holds its thread while it waits for a new line: a log being written
    is worth one.
    """
    with path.open(encoding="utf-8") as file:
        while True:
            qtasks.check_cancelled()
            line = file.readline()
            if line:
                yield line.rstrip("\n")
            else:
                time.sleep(poll)


def thumbnail(path: Path) -> QImage:
    """Load an image and scale it to 64 pixels wide. Worker thread (QImage works off the GUI thread)."""
    return QImage(str(path)).scaledToWidth(64)


class Camera:
    """A stand-in for a camera: a frame number per read."""

    def __init__(self) -> None:
        self.frames = itertools.count()
        self.released = threading.Event()

    def read(self) -> int:
        return next(self.frames)

    def release(self) -> None:
        self.released.set()


def frames(camera: Camera) -> Iterator[int]:
    """Yield frames from the camera until closed; release it on the worker. Worker thread."""
    try:
        while True:
            frame = camera.read()
            qtasks.report_progress(frame)
            yield frame
    finally:
        camera.release()


class Window(QWidget):
    def __init__(self, folder: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("qtasks: streams")
        self.folder = folder or Path(tempfile.mkdtemp(prefix="qtasks-stream-"))
        self.log_path = self.folder / "app.log"
        self.log_path.touch()
        self.lines = QListWidget()
        self.thumbs = QListWidget()
        self.camera_label = QLabel("camera off")
        self.camera_button = QPushButton("Start camera")
        self.camera = Camera()
        self.camera_on = False
        layout = QHBoxLayout(self)
        for title, pane in (("Log", self.lines), ("Thumbnails", self.thumbs)):
            column = QVBoxLayout()
            column.addWidget(QLabel(title))
            column.addWidget(pane)
            layout.addLayout(column)
        column = QVBoxLayout()
        column.addWidget(self.camera_label)
        column.addWidget(self.camera_button)
        layout.addLayout(column)
        self.camera_button.clicked.connect(self.toggle_camera)
        self.follow_log()

    @qtasks.slot
    async def follow_log(self) -> None:
        async for line in qtasks.stream(tail, self.log_path):
            self.lines.addItem(line)

    @qtasks.slot
    async def show_thumbnails(self, paths: list[Path]) -> None:
        async for image in qtasks.imap(thumbnail, paths):
            self.thumbs.addItem(f"{image.width()}x{image.height()}")

    def toggle_camera(self) -> None:
        self.camera_on = not self.camera_on
        self.camera_button.setText("Stop camera" if self.camera_on else "Start camera")
        if self.camera_on:
            self.watch_camera()

    @qtasks.slot(reentry="ignore")
    async def watch_camera(self) -> None:
        with qtasks.stream(frames, self.camera, buffer=4) as stream:
            async for frame in stream:
                self.camera_label.setText(f"frame {frame}")
                if not self.camera_on:
                    break  # leaving the with block closes the generator on its worker
                await qtasks.sleep(0.03)  # about 30 frames a second
        self.camera_label.setText("camera off")

    def write_log(self, line: str) -> None:
        with self.log_path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")


def smoke(window: Window) -> Generator[Any, Any, None]:
    """Write log lines and see them; thumbnail three images; start and stop the camera."""
    for i in range(3):
        window.write_log(f"line {i}")
    yield from wait_until(lambda: window.lines.count() == 3, "three log lines")
    assert ["line 0", "line 1", "line 2"] == [window.lines.item(i).text() for i in range(3)]

    paths = []
    for i, width in enumerate((128, 256, 640)):
        image = QImage(width, width // 2, QImage.Format.Format_RGB32)
        image.fill(QColor("teal"))
        path = window.folder / f"image{i}.png"
        assert image.save(str(path))
        paths.append(path)
    window.show_thumbnails(paths)
    yield from wait_until(lambda: window.thumbs.count() == 3, "three thumbnails")
    assert ["64x32"] * 3 == [window.thumbs.item(i).text() for i in range(3)]

    window.camera_button.click()
    yield from wait_until(lambda: window.camera_label.text().startswith("frame 5"), "five frames")
    window.camera_button.click()
    yield from wait_until(window.camera.released.is_set, "the camera to be released")
    yield from wait_until(lambda: window.camera_label.text() == "camera off", "the camera to stop")


if __name__ == "__main__":
    sys.exit(main(Window, smoke))
