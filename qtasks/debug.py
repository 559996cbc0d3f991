"""Seeing what runs: the live task tree, a watch for GUI freezes, and a dockable inspector.

`import qtasks.debug`; `import qtasks` does not import it, so a program that
never looks pays nothing, not even the import of QtWidgets.

- `format_tasks()` draws the tree of live tasks: each top-level task (one
  nobody awaits) is a root, and under each task comes what it waits on
  (`Task._awaits()`, the path `cancel()` walks, plus what a shield or a
  `wait()` waits on and a map's chunk tasks). Siblings alike are summarised,
  so ten thousand live tasks make a few dozen lines.
- `watch_freezes()` runs a thread of its own that pings the GUI thread
  through a queued signal. A ping left unanswered past the threshold is a
  freeze in progress: the watch then reads the GUI thread's Python stack
  (`sys._current_frames()`) and the coroutine being stepped
  (`_runtime.STATE.current`, which the step keeps anyway), and reports once
  the GUI thread answers.
- `TaskInspector` shows the same tree in a `QTreeView`, diffed into its model
  by task identity on each refresh.

Zero cost when off: the scheduler does no per-step work for any of this. A
task records when it was made and its newest delivered progress value, which
is all the tree needs besides what tasks hold already.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
import traceback
import weakref
from typing import TYPE_CHECKING, Any, Callable, Final, Iterable

import attrs

from . import _binding
from ._binding import (
    QAbstractItemModel,
    QCoreApplication,
    QModelIndex,
    QObject,
    Qt,
    QTimer,
    Signal,
    is_deleted,
)
from ._bridge import report
from ._runtime import STATE, on_gui_thread
from ._task import NO_PROGRESS, PENDING, Task

if TYPE_CHECKING:
    from PyQt5.QtWidgets import QAction, QTreeView, QWidget
else:
    QTreeView = _binding.gui_class("QTreeView")
    QAction = _binding.gui_class("QAction")
    QWidget = _binding.gui_class("QWidget")

__all__ = ["FreezeReport", "TaskInspector", "Watch", "format_tasks", "watch_freezes"]

logger = logging.getLogger("qtasks")

# How many rows one task's children may take before the rest are summarised
# in one line, and how deep the tree is drawn (a chain of coroutines awaiting
# each other may be thousands deep).
MAX_SIBLINGS: Final = 12
MAX_DEPTH: Final = 24
# The longest pause between a watch's pings (threshold / 2 below it). A
# freeze is timed from the first ping it leaves waiting, so its duration is
# at most this much short, and one shorter than the threshold plus this may
# be missed. Why not shorter: each ping wakes two threads, about 0.1 ms of
# CPU each on a loaded machine, and the watch must stay cheap enough to leave on.
PING_INTERVAL_S: Final = 0.05
# Siblings of the same kind, name, state and place share one line ("x N")
# once there are this many of them; the first one's children come under it.
GROUP_MIN: Final = 4

_PACKAGE_DIR: Final = os.path.dirname(os.path.abspath(__file__)) + os.sep

# The kind of each task class, as the call that makes it.
_KINDS: Final = {
    "AsyncioTask": "run_async",
    "CoroutineTask": "coroutine",
    "ExecutorTask": "run_in",
    "GatherTask": "gather",
    "ImapTask": "imap",
    "MapTask": "map",
    "NextDone": "as_completed",
    "ShieldTask": "shield",
    "SignalTask": "wait_signal",
    "SleepTask": "sleep",
    "StreamTask": "stream",
    "Task": "future",
    "ThreadTask": "run",
    "TimeoutTask": "timeout",
    "WaitTask": "wait",
    "_AllDone": "slot queue",
    "_Next": "next",
}
# What a pool without lanes runs for each map chunk (a testing pool's task per chunk).
_CHUNK_RUNNER: Final = "_run_item_in_worker"
# The generator of qtasks._slot that drives a slot's body, which it holds as `body`.
_SLOT_DRIVER: Final = "_run_owned"
# The kinds whose handle runs a function (the line names it).
_FUNCTION_KINDS: Final = frozenset({"coroutine", "imap", "map", "run", "run_async", "run_in", "stream"})
# The kinds that run a function over items in chunks.
_MAP_KINDS: Final = frozenset({"imap", "map"})


# -- the tree -----------------------------------------------------------------

# What makes sibling tasks alike: kind, title, state, where it waits.
_Signature = tuple[str, str, str, str]


@attrs.frozen
class _Row:
    """One line of the tree: a task, a group of like tasks, or a summary of the rest."""

    key: object  # identity among its siblings: the task, or the group's signature
    task: Task[Any] | None  # None for a group or a summary
    kind: str
    title: str  # the function's qualified name, or what the task is ("gather of 3")
    state: str
    age: str
    where: str
    progress: str
    count: int  # tasks the row stands for (1 for a task)
    children: tuple[_Row, ...] = ()
    members: tuple[Task[Any], ...] = ()  # a group's tasks (empty for a task or a summary)

    def cells(self) -> tuple[str, str, str, str, str]:
        title = self.title if self.count == 1 or self.task is not None else f"{self.title} \u00d7{self.count}"
        return (title, self.state, self.age, self.where, self.progress)


def _live_tasks() -> list[Task[Any]]:
    """Copy the live registry, oldest first. Any thread.

    Why the retry: another thread copying the dict can meet a change the GUI
    thread makes between two bytecodes of a finaliser run by the copy.
    """
    for _ in range(10):
        try:
            return list(STATE.live)
        except RuntimeError:
            continue
    return []


def _below(task: Task[Any]) -> list[Task[Any]]:
    """Return what `task` waits on, to draw under it. Any thread; never raises."""
    try:
        below = list(task._awaits())
        kind = _kind(task)
        if kind == "shield":
            inner = getattr(task, "_inner", None)
            if inner is not None:
                below.append(inner)
        elif kind == "wait":
            below.extend(getattr(task, "_children", None) or ())
        elif kind in _MAP_KINDS:
            for _attempt in range(10):
                try:
                    chunks = list(getattr(task, "_in_flight", None) or ())
                    break
                except RuntimeError:
                    continue
            else:
                chunks = []
            for chunk in chunks:
                carrier = getattr(chunk, "_carrier", None)
                if carrier is not None:
                    below.append(carrier)
        return below
    except Exception:  # noqa: BLE001 - read while the GUI thread changes it
        return []


def _kind(task: Task[Any]) -> str:
    name = type(task).__name__
    return _KINDS.get(name, name)


def _title(task: Task[Any], kind: str) -> str:
    name = getattr(task, "_name", None)
    if kind in _FUNCTION_KINDS and isinstance(name, str):
        # run_in and run_async name their handles "fn()"; the tree names functions bare.
        return "map chunk" if name == _CHUNK_RUNNER else name.removesuffix("()")
    try:
        described = task._describe()
    except Exception:  # noqa: BLE001 - a description must never raise here
        described = ""
    return f"{kind} {described}".strip()


def _state(task: Task[Any], kind: str) -> str:
    """Say where the task stands, in a few words. Any thread."""
    if task._state is not PENDING:
        return str(task._state)
    if kind == "coroutine":
        if getattr(task, "_must_cancel", False):
            return "cancelling"
        if getattr(task, "_stepping", False):
            return "running"
        return "waiting" if getattr(task, "_waiting_on", None) is not None else "scheduled"
    if kind == "run":
        return str(getattr(task, "_phase", PENDING))
    if kind in _MAP_KINDS:
        pulled = getattr(task, "_pulled", 0)
        collected = getattr(task, "_collected", 0)
        more = "" if getattr(task, "_exhausted", False) else "+"
        chunks = len(getattr(task, "_in_flight", None) or ())
        return f"{collected} of {pulled}{more} done, {chunks} chunk(s) out"
    if kind == "gather":
        total = getattr(task, "_total", 0)
        return f"{total - getattr(task, '_remaining', total)} of {total} done"
    if kind == "run_in":
        return f"on {getattr(task, '_kind', 'an executor')}"
    if kind == "run_async":
        return "on asyncio"
    return "pending"


def _where(task: Task[Any]) -> str:
    """Return `file:line` where a suspended coroutine waits, in the user's code. Any thread.

    Follows what the coroutine delegates to (`yield from`, `await` of a
    plain coroutine) down to the innermost frame outside qtasks.
    """
    obj: Any = getattr(task, "_coro", None)
    found = ""
    for _depth in range(100):
        if obj is None:
            break
        frame = getattr(obj, "gi_frame", None) or getattr(obj, "cr_frame", None)
        if frame is None:
            break
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_DIR):
            found = f"{os.path.basename(filename)}:{frame.f_lineno}"
        delegate = getattr(obj, "gi_yieldfrom", None) or getattr(obj, "cr_await", None)
        if delegate is None and frame.f_code.co_name == _SLOT_DRIVER and not obj.gi_running:
            # A @qtasks.slot drives its body by hand, not with `yield from`.
            # Read only while suspended: another thread may be asking.
            delegate = frame.f_locals.get("body")
        obj = delegate
    return found


def _progress(task: Task[Any]) -> str:
    value = task._progress
    if value is NO_PROGRESS:
        value = getattr(task, "_last_progress", NO_PROGRESS)
    if value is NO_PROGRESS:
        return ""
    try:
        text = value if isinstance(value, str) else repr(value)
    except Exception:  # noqa: BLE001 - a user's __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:39] + "\u2026"


def _age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


class _Tree:
    """The live tasks, each under the first (oldest) task that waits on it. Any thread."""

    def __init__(self) -> None:
        self.now = time.monotonic()
        self.live = _live_tasks()
        live_set = set(self.live)
        self.children: dict[Task[Any], list[Task[Any]]] = {}
        placed: set[Task[Any]] = set()
        for task in self.live:
            kids = []
            for child in _below(task):
                if child in live_set and child not in placed and child is not task:
                    placed.add(child)
                    kids.append(child)
            self.children[task] = kids
        self.roots = [task for task in self.live if task not in placed]
        self.drawn: set[Task[Any]] = set()

    def rows(self) -> list[_Row]:
        """Return the rows of the whole tree, roots first."""
        rows = self._rows(self.roots, 0)
        # A task only reachable through a cycle of waits has no root: draw it as one.
        rest = [task for task in self.live if task not in self.drawn]
        while rest:
            rows.extend(self._rows(rest[:1], 0))
            rest = [task for task in rest if task not in self.drawn]
        return rows

    def _size(self, task: Task[Any]) -> int:
        """Count `task` and everything drawn under it, without recursion."""
        count = 0
        todo = [task]
        while todo:
            each = todo.pop()
            if each in self.drawn:
                continue
            self.drawn.add(each)
            count += 1
            todo.extend(self.children.get(each, ()))
        return count

    def _row(self, task: Task[Any], depth: int) -> _Row:
        self.drawn.add(task)
        kind = _kind(task)
        try:
            state = _state(task, kind)
            where = _where(task) if kind == "coroutine" else ""
            progress = _progress(task)
        except Exception:  # noqa: BLE001 - read while the GUI thread changes it
            state, where, progress = "?", "", ""
        children = self._below_rows(task, depth)
        return _Row(
            task,
            task,
            kind,
            _title(task, kind),
            state,
            _age(self.now - task._created),
            where,
            progress,
            1,
            children,
        )

    def _below_rows(self, task: Task[Any], depth: int) -> tuple[_Row, ...]:
        """Return the rows under `task`, or past MAX_DEPTH one row counting them."""
        kids = self.children.get(task, [])
        if depth + 1 < MAX_DEPTH:
            return tuple(self._rows(kids, depth + 1))
        if not kids:
            return ()
        hidden = sum(self._size(kid) for kid in kids)
        return (_Row(("deeper",), None, "", f"\u2026 {hidden} task(s) deeper", "", "", "", "", hidden),)

    def _rows(self, tasks: list[Task[Any]], depth: int) -> list[_Row]:
        """Return the rows of sibling tasks: like ones grouped, the tail summarised."""
        # First the items, cheaply: a group of like tasks, or one task.
        groups: dict[_Signature, list[Task[Any]]] = {}
        items: list[_Signature | Task[Any]] = []
        for task in tasks:
            kind = _kind(task)
            try:
                where = _where(task) if kind == "coroutine" else ""
                signature = (kind, _title(task, kind), _state(task, kind), where)
            except Exception:  # noqa: BLE001 - read while the GUI thread changes it
                items.append(task)
                continue
            members = groups.get(signature)
            if members is None:
                groups[signature] = members = []
                items.append(signature)
            members.append(task)
        flat: list[_Signature | Task[Any]] = []
        for item in items:
            if isinstance(item, tuple) and len(groups[item]) < GROUP_MIN:
                flat.extend(groups[item])
            else:
                flat.append(item)
        shown, rest = flat, []
        if len(flat) > MAX_SIBLINGS:
            shown, rest = flat[: MAX_SIBLINGS - 1], flat[MAX_SIBLINGS - 1 :]
        rows = []
        for item in shown:
            if isinstance(item, tuple):
                rows.append(self._group_row(item, groups[item], depth))
            else:
                rows.append(self._row(item, depth))
        if rest:
            rows.append(self._rest_row(rest, groups))
        return rows

    def _group_row(self, signature: _Signature, members: list[Task[Any]], depth: int) -> _Row:
        """One row for like tasks; under it, what the first of them waits on."""
        kind, title, state, where = signature
        first, others = members[0], members[1:]
        self.drawn.add(first)
        for task in others:
            self._size(task)
        children = self._below_rows(first, depth)
        oldest = min(task._created for task in members)
        age = _age(self.now - oldest)
        count = len(members)
        return _Row(signature, None, kind, title, state, age, where, "", count, children, tuple(members))

    def _rest_row(
        self, rest: list[_Signature | Task[Any]], groups: dict[_Signature, list[Task[Any]]]
    ) -> _Row:
        """Summarise the siblings past MAX_SIBLINGS in one row: how many of what."""
        counts: dict[str, int] = {}
        total = 0
        for item in rest:
            members = groups[item] if isinstance(item, tuple) else [item]
            for task in members:
                kind = _kind(task)
                title = _title(task, kind)
                label = f"{kind} {title}" if kind in _FUNCTION_KINDS else title
                counts[label] = counts.get(label, 0) + 1
                total += self._size(task)
        common = sorted(counts.items(), key=lambda pair: -pair[1])
        what = ", ".join(f"{count} {label}" for label, count in common[:3])
        if len(common) > 3:
            what += ", \u2026"
        title = f"\u2026 {len(rest)} more ({total} task(s)): {what}"
        return _Row(("more",), None, "", title, "", "", "", "", total)


def _tree_rows() -> tuple[list[_Row], int]:
    tree = _Tree()
    return tree.rows(), len(tree.live)


def format_tasks() -> str:
    """Return a text tree of every live task: kind, name, state, age, where it waits, progress.

    Any thread, and safe there: it only reads, and a task that changes while
    it is read gives a line of its moment (what runs on the GUI thread meanwhile
    may differ between two lines). Each top-level task is a root, and under a
    task comes what it waits on. Four or more like siblings (same kind, name,
    state and place) share a line ("x 9990"), with what the first of them
    waits on under it; past a dozen siblings the rest are counted in one line,
    and past 24 levels what lies deeper is counted too.
    """
    rows, live = _tree_rows()
    if not live:
        return "qtasks: no live tasks"
    lines = [f"qtasks: {live} live task(s)"]
    # (row, its line's lead, the indent of its children's lines); popped from the end.
    todo: list[tuple[_Row, str, str]] = [(row, "", "") for row in reversed(rows)]
    while todo:
        row, lead, indent = todo.pop()
        lines.append(lead + _line(row))
        kids = row.children
        for at in reversed(range(len(kids))):
            last = at == len(kids) - 1
            todo.append(
                (
                    kids[at],
                    indent + ("\u2514\u2500 " if last else "\u251c\u2500 "),
                    indent + ("   " if last else "\u2502  "),
                )
            )
    return "\n".join(lines)


def _line(row: _Row) -> str:
    if row.task is None and row.key in (("more",), ("deeper",)):
        return row.title
    head = row.title
    if row.kind in _FUNCTION_KINDS:
        head = f"{row.kind} {row.title}"
    if row.task is None:
        head += f" \u00d7{row.count}"
    details = [row.state]
    if row.age:
        details.append(row.age if row.task is not None else f"oldest {row.age}")
    if row.where:
        details.append(f"at {row.where}")
    if row.progress:
        details.append(f"progress {row.progress}")
    return f"{head}: {', '.join(detail for detail in details if detail)}"


# -- the freeze watch -----------------------------------------------------------


@attrs.frozen
class FreezeReport:
    """One freeze of the GUI thread, as a `Watch` saw it."""

    duration: float  # seconds the GUI thread stayed away from its event loop
    stack: str  # the GUI thread's Python stack during the freeze, innermost call last
    task: Task[Any] | None  # the qtasks coroutine being stepped then, if any

    def __str__(self) -> str:
        task = self.task
        where = "outside any qtasks task"
        if task is not None:
            kind = _kind(task)
            where = f"while stepping {kind} {_title(task, kind)}"
        return (
            f"qtasks: the GUI thread froze for {self.duration:.3f} s {where}; "
            f"its stack during the freeze:\n{self.stack}"
        )


def _check_threshold(threshold: object) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        msg = (
            f"qtasks.debug.watch_freezes(threshold={threshold!r}): the threshold must be a number "
            "of seconds greater than 0, e.g. watch_freezes(0.1)"
        )
        raise TypeError(msg)
    if not (threshold > 0 and math.isfinite(threshold)):
        msg = (
            f"qtasks.debug.watch_freezes(threshold={threshold!r}): the threshold must be a finite "
            "number of seconds greater than 0, e.g. watch_freezes(0.1)"
        )
        raise ValueError(msg)
    return float(threshold)


def _stack_of(frame: Any) -> str:
    """Format the stack that ends at `frame`, outermost call first. Watch thread.

    Reads file, line and function names in one pass, and lets go of the
    frames before the source lines are looked up. Why: a frame that has
    returned meanwhile owns its locals, which must not be freed here.
    """
    if frame is None:
        return "(the GUI thread's stack was not found)\n"
    entries = []
    while frame is not None:
        code = frame.f_code
        entries.append(
            traceback.FrameSummary(code.co_filename, frame.f_lineno, code.co_name, lookup_line=False)
        )
        frame = frame.f_back
    entries.reverse()
    return "".join(traceback.StackSummary.from_list(entries).format())


class _Heartbeat(QObject):
    """The watch's end on the GUI thread: it answers pings and hands reports over.

    Made on the GUI thread; the watch thread only emits its signals, which Qt
    queues to the GUI thread. Its slots never raise.
    """

    ping = Signal()
    # (duration, stack, weak reference to the task or None)
    freeze = Signal(float, str, object)

    def __init__(self, watch: Watch) -> None:
        super().__init__()
        self._watch = watch
        queued = Qt.ConnectionType.QueuedConnection
        self.ping.connect(self._answer, queued)  # type: ignore[call-arg]
        self.freeze.connect(self._deliver, queued)  # type: ignore[call-arg]
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._quit)

    def _answer(self) -> None:
        self._watch._answered()

    def _deliver(self, duration: float, stack: str, ref: weakref.ref[Task[Any]] | None) -> None:
        self._watch._deliver(FreezeReport(duration, stack, None if ref is None else ref()))

    def _quit(self) -> None:
        try:
            self._watch.stop()
        except BaseException as exc:  # noqa: BLE001 - a slot must never raise
            report(exc)


class Watch:
    """A running `watch_freezes()`: `stop()` it, or use it as a context manager."""

    def __init__(self, threshold: float, callback: Callable[[FreezeReport], object] | None) -> None:
        self.threshold = threshold
        self._callback = callback
        # How often the GUI thread is pinged: a freeze is measured from the
        # ping that went unanswered, so at most this much of it is missed.
        self._interval = min(threshold / 2, PING_INTERVAL_S)
        self._gui_ident = threading.get_ident()
        self._stopped = threading.Event()
        # Set by the GUI thread's answer (or by stop()); cleared by the watch
        # thread before each ping. One ping is in flight at a time.
        self._answer = threading.Event()
        self._answered_at = 0.0
        # A freeze seen, not reported yet: (ping sent at, stack, task). The
        # task is held weakly: its last reference must drop on the GUI thread.
        self._seen: tuple[float, str, weakref.ref[Task[Any]] | None] | None = None
        self._lock = threading.Lock()
        self._heartbeat: _Heartbeat | None = _Heartbeat(self)
        self._thread = threading.Thread(
            target=self._watch_in_thread, name="qtasks-watch-freezes", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching. GUI thread; idempotent.

        A freeze seen but not reported yet (it ended in the call that stops
        the watch) is reported now.
        """
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._answer.set()
        self._thread.join()
        with self._lock:
            seen, self._seen = self._seen, None
        if seen is not None:
            sent, stack, ref = seen
            self._deliver(FreezeReport(time.monotonic() - sent, stack, None if ref is None else ref()))
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None:
            heartbeat.deleteLater()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped.is_set() else "watching"
        return f"<qtasks.debug.Watch threshold={self.threshold:g} s, {state}>"

    # -- GUI thread ---------------------------------------------------------

    def _answered(self) -> None:
        self._answered_at = time.monotonic()
        self._answer.set()

    def _deliver(self, found: FreezeReport) -> None:
        """Hand a report to the callback, or log it. GUI thread; never raises."""
        try:
            if self._callback is None:
                logger.warning("%s", found)
            else:
                self._callback(found)
        except BaseException as exc:  # noqa: BLE001 - reported; the watch goes on
            report(exc)

    # -- the watch thread ---------------------------------------------------

    def _watch_in_thread(self) -> None:
        """Ping the GUI thread; sample its stack when a ping waits past the threshold. Watch thread."""
        try:
            while True:
                self._answer.clear()
                # Why after the clear: stop() sets _stopped, then _answer. A
                # clear that undid stop()'s wake-up sees _stopped here, so no
                # ping is left waiting for a GUI thread that is joining us.
                if self._stopped.is_set():
                    return
                sent = time.monotonic()
                heartbeat = self._heartbeat
                if heartbeat is None or is_deleted(heartbeat):
                    return  # stopped, or the application is gone
                heartbeat.ping.emit()
                if not self._answer.wait(self.threshold):
                    self._sample(sent)
                    self._answer.wait()
                    if self._stopped.is_set():
                        return  # stop() reports what was seen: it ended the freeze
                    with self._lock:
                        seen, self._seen = self._seen, None
                    if seen is not None:
                        heartbeat.freeze.emit(self._answered_at - sent, seen[1], seen[2])
                self._stopped.wait(self._interval)
        except BaseException as exc:  # noqa: BLE001 - nothing may escape a thread unseen
            if not self._stopped.is_set():
                report(exc)

    def _sample(self, sent: float) -> None:
        """Record the GUI thread's stack and the task being stepped, now. Watch thread."""
        ref = _current_task_ref()
        stack = _stack_of(sys._current_frames().get(self._gui_ident))
        with self._lock:
            self._seen = (sent, stack, ref)


def _current_task_ref() -> weakref.ref[Task[Any]] | None:
    """Return a weak reference to the coroutine being stepped now, or None. Any thread."""
    try:
        return weakref.ref(STATE.current)  # type: ignore[arg-type]
    except TypeError:  # None: no step runs
        return None


def watch_freezes(
    threshold: float = 0.1, *, callback: Callable[[FreezeReport], object] | None = None
) -> Watch:
    """Report each time the GUI thread stays away from its event loop longer than `threshold` s.

    GUI thread, with a QApplication. A thread of the watch sees the freeze
    while it lasts and takes the GUI thread's Python stack then; once the GUI
    thread is back, one `FreezeReport` (`duration`, `stack`, `task`) goes to
    `callback(report)` on the GUI thread, or without a callback to a warning
    on the `qtasks` logger. A callback that raises is reported to
    `sys.excepthook` and the watch goes on. Several watches may run at once.
    Returns the `Watch`; `stop()` it, or use `with watch_freezes():`.
    Raises TypeError or ValueError for a threshold that is not a number of
    seconds > 0, TypeError for a callback that is not callable, RuntimeError
    off the GUI thread or without an application.
    """
    seconds = _check_threshold(threshold)
    if callback is not None and not callable(callback):
        msg = (
            f"qtasks.debug.watch_freezes(callback={callback!r}): the callback must be a callable "
            "taking the report, e.g. watch_freezes(callback=reports.append)"
        )
        raise TypeError(msg)
    if not on_gui_thread():
        msg = (
            "qtasks.debug.watch_freezes() was called off the GUI thread: start the watch on the "
            "GUI thread, the one it watches"
        )
        raise RuntimeError(msg)
    return Watch(seconds, callback)


# -- the inspector --------------------------------------------------------------

_COLUMNS: Final = ("Task", "State", "Age", "Where", "Progress")


class _Node:
    """A row of the inspector's model: what it shows, and a weak handle on its task."""

    __slots__ = ("cells", "children", "key", "members", "parent", "ref", "tip")

    def __init__(self, parent: _Node | None, row: _Row | None) -> None:
        self.parent = parent
        self.children: list[_Node] = []
        self.key: object = None
        self.ref: weakref.ref[Task[Any]] | None = None
        # A group's tasks, held weakly, as of the last refresh.
        self.members: tuple[weakref.ref[Task[Any]], ...] = ()
        self.cells: tuple[str, ...] = ("",) * len(_COLUMNS)
        self.tip = ""
        if row is not None:
            self.key = None if row.task is not None else row.key
            self.ref = weakref.ref(row.task) if row.task is not None else None
            self.update(row)

    def update(self, row: _Row) -> bool:
        """Take what `row` shows and the tasks it groups; tell whether the cells changed."""
        self.members = tuple(weakref.ref(task) for task in row.members)
        self.tip = row.kind
        cells = row.cells()
        if cells == self.cells:
            return False
        self.cells = cells
        return True

    def matches(self, row: _Row) -> bool:
        if row.task is not None:
            return self.ref is not None and self.ref() is row.task
        return self.ref is None and self.key == row.key


class _TaskModel(QAbstractItemModel):
    """The live tree as an item model, updated in place by `sync()`. GUI thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._root = _Node(None, None)

    # -- QAbstractItemModel ---------------------------------------------------

    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        node = self._node(parent)
        if not (0 <= row < len(node.children) and 0 <= column < len(_COLUMNS)):
            return QModelIndex()
        return self.createIndex(row, column, node.children[row])

    def parent(self, index: QModelIndex | None = None) -> Any:
        if index is None:
            return QObject.parent(self)
        if not index.isValid():
            return QModelIndex()
        node: _Node = index.internalPointer()
        up = node.parent
        if up is None or up is self._root or up.parent is None:
            return QModelIndex()
        return self.createIndex(up.parent.children.index(up), 0, up)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        if parent.isValid() and parent.column() > 0:
            return 0
        return len(self._node(parent).children)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return len(_COLUMNS)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node: _Node = index.internalPointer()
        if role == Qt.ItemDataRole.DisplayRole:
            return node.cells[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 0:
            return node.tip or None
        return None

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _COLUMNS[section]
        return None

    # -- ours -----------------------------------------------------------------

    def _node(self, index: QModelIndex) -> _Node:
        return index.internalPointer() if index.isValid() else self._root

    def task_at(self, index: QModelIndex) -> Task[Any] | None:
        """Return the live task of the row at `index`, or None (a group, a summary, gone)."""
        if not index.isValid():
            return None
        node = self._node(index)
        return node.ref() if node.ref is not None else None

    def tasks_at(self, index: QModelIndex) -> list[Task[Any]]:
        """Return the tasks of the row at `index` still alive: its task, or a group's (none for a summary)."""
        if not index.isValid():
            return []
        node = self._node(index)
        refs = (node.ref,) if node.ref is not None else node.members
        return [task for task in (ref() for ref in refs) if task is not None]

    def sync(self, rows: list[_Row]) -> None:
        """Make the model show `rows`: remove, insert and update rows, keyed by task identity."""
        todo: list[tuple[_Node, QModelIndex, Iterable[_Row]]] = [(self._root, QModelIndex(), rows)]
        while todo:
            node, index, wanted = todo.pop()
            for child, child_index, row in self._sync_children(node, index, list(wanted)):
                todo.append((child, child_index, row.children))

    def _sync_children(
        self, node: _Node, index: QModelIndex, rows: list[_Row]
    ) -> list[tuple[_Node, QModelIndex, _Row]]:
        old = node.children
        wanted_tasks = {id(row.task) for row in rows if row.task is not None}
        wanted_keys = {row.key for row in rows if row.task is None}

        def wanted(each: _Node) -> bool:
            if each.ref is None:
                return each.key in wanted_keys
            task = each.ref()
            return task is not None and id(task) in wanted_tasks

        # Remove the rows no longer wanted, as runs from the end.
        end = len(old)
        while end > 0:
            if wanted(old[end - 1]):
                end -= 1
                continue
            start = end - 1
            while start > 0 and not wanted(old[start - 1]):
                start -= 1
            self.beginRemoveRows(index, start, end - 1)
            del old[start:end]
            self.endRemoveRows()
            end = start
        # Walk the wanted rows: keep a match in place, else insert; a kept row
        # that comes later than wanted loses the rows before it (rare: a state change).
        pairs = []
        for at, row in enumerate(rows):
            if at < len(old) and old[at].matches(row):
                kept = old[at]
                if kept.update(row):
                    self.dataChanged.emit(
                        self.createIndex(at, 0, kept), self.createIndex(at, len(_COLUMNS) - 1, kept)
                    )
            else:
                later = next((j for j in range(at + 1, len(old)) if old[j].matches(row)), None)
                if later is not None:
                    self.beginRemoveRows(index, at, later - 1)
                    del old[at:later]
                    self.endRemoveRows()
                    kept = old[at]
                    if kept.update(row):
                        self.dataChanged.emit(
                            self.createIndex(at, 0, kept), self.createIndex(at, len(_COLUMNS) - 1, kept)
                        )
                else:
                    kept = _Node(node, row)
                    self.beginInsertRows(index, at, at)
                    old.insert(at, kept)
                    self.endInsertRows()
            pairs.append((kept, self.createIndex(at, 0, kept), row))
        if len(old) > len(rows):
            self.beginRemoveRows(index, len(rows), len(old) - 1)
            del old[len(rows) :]
            self.endRemoveRows()
        return pairs


class TaskInspector(QTreeView):
    """A tree view of the live tasks, to dock into any window while developing.

    GUI thread. One row per live task, under the task that waits on it; like
    tasks are grouped and long lists summarised, as in `format_tasks()`.
    Columns: the function's qualified name (or what the task is), state,
    age, where a coroutine waits, and its newest progress value. It
    refreshes every `interval_ms` while shown (the model is updated in place,
    so selection and scrolling stay) and not at all while hidden.
    `cancel_action` (also in the context menu) cancels the selected task, or
    every task of a selected group.
    """

    def __init__(self, parent: QWidget | None = None, *, interval_ms: int = 500) -> None:
        super().__init__(parent)
        self._model = _TaskModel(self)
        self.setModel(self._model)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self._model.rowsInserted.connect(self._expand_inserted)
        self.cancel_action = QAction("Cancel task", self)
        self.cancel_action.setEnabled(False)
        self.cancel_action.triggered.connect(self._cancel_selected)
        self.addAction(self.cancel_action)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        selection = self.selectionModel()
        if selection is not None:
            selection.currentChanged.connect(self._update_action)
        self._interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._tick)

    def refresh(self) -> None:
        """Bring the rows up to date now. GUI thread."""
        rows, _live = _tree_rows()
        self._model.sync(rows)
        self._update_action()

    def selected_task(self) -> Task[Any] | None:
        """Return the live task of the current row, or None (a group's row too)."""
        return self._model.task_at(self.currentIndex())

    def selected_tasks(self) -> list[Task[Any]]:
        """Return the live tasks of the current row: its task, or every task of a group."""
        return self._model.tasks_at(self.currentIndex())

    # -- Qt -------------------------------------------------------------------

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        self._tick()

    def hideEvent(self, event: Any) -> None:  # noqa: N802
        self._timer.stop()
        super().hideEvent(event)

    # -- ours -----------------------------------------------------------------

    def _tick(self) -> None:
        """Refresh, then come back after the interval (longer if the refresh was slow). Never raises."""
        started = time.monotonic()
        try:
            self.refresh()
        except BaseException as exc:  # noqa: BLE001 - a slot must never raise
            report(exc)
        # Why: with many live tasks a refresh takes a while; it then takes
        # at most a twentieth of the GUI thread's time.
        spent_ms = (time.monotonic() - started) * 1000
        if self.isVisible():
            self._timer.start(max(self._interval_ms, int(20 * spent_ms)))

    def _expand_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            self.expand(parent)
        for row in range(first, last + 1):
            self.expand(self._model.index(row, 0, parent))

    def _update_action(self, *_args: object) -> None:
        pending = [task for task in self.selected_tasks() if not task.done()]
        self.cancel_action.setEnabled(bool(pending))
        self.cancel_action.setText("Cancel task" if len(pending) <= 1 else f"Cancel {len(pending)} tasks")

    def _cancel_selected(self, *_args: object) -> None:
        try:
            for task in self.selected_tasks():
                task.cancel()
            self.refresh()
        except BaseException as exc:  # noqa: BLE001 - a slot must never raise
            report(exc)
