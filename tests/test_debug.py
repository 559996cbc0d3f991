"""qtasks.debug: the live task tree, the freeze watch, and the inspector.

The freezes here are real: the GUI thread busy-waits or sleeps, which is the
behaviour under test, never a way to wait for another thread.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import pytest
from qt import QObject, QTimer
from support import Gate, run_python

import qtasks
import qtasks.debug
from qtasks.debug import FreezeReport, TaskInspector, format_tasks, watch_freezes
from qtasks.testing import ManualPool

HERE = Path(__file__).name


def _line_of(marker: str) -> int:
    """Return the line number of this file's line that ends with `marker`."""
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    [number] = [at for at, line in enumerate(lines, 1) if line.endswith(marker)]
    return number


def _ageless(text: str) -> list[str]:
    """Split `text` into lines, each age written as AGE."""
    return re.sub(r"\d+\.\d s", "AGE", text).splitlines()


def fetch(key: object) -> object:
    """Return `key`: the function the pools run here."""
    return key


def busy_wait(seconds: float) -> None:
    """Keep the calling thread busy for `seconds`: the freeze under test."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@qtasks.coroutine
def load_all(keys: list[object]) -> Any:
    results = yield qtasks.gather(*[qtasks.run(fetch, key) for key in keys])  # load_all waits
    return results


@qtasks.coroutine
def load_one(key: object) -> Any:
    result = yield qtasks.run(fetch, key)  # load_one waits
    return result


def test_importing_qtasks_leaves_the_debug_module_and_qtwidgets_out() -> None:
    """`import qtasks` imports neither qtasks.debug nor QtWidgets; `import qtasks.debug` works on its own."""
    script = (
        "import sys\n"
        "import qtasks\n"
        "print('qtasks.debug' in sys.modules, any(name.endswith('.QtWidgets') for name in sys.modules))\n"
        "import qtasks.debug\n"
        "print(sorted(qtasks.debug.__all__))\n"
    )
    completed = run_python("-c", script)
    expected = "False False\n['FreezeReport', 'TaskInspector', 'Watch', 'format_tasks', 'watch_freezes']\n"
    assert (0, expected) == (completed.returncode, completed.stdout), completed.stderr


# -- format_tasks ---------------------------------------------------------------


def test_format_tasks_without_live_tasks_says_so(qapp: Any) -> None:
    """With nothing live, the tree is one line saying so."""
    assert "qtasks: no live tasks" == format_tasks()


def test_format_tasks_draws_each_coroutine_over_what_it_awaits(qtasks_manual_pool: ManualPool) -> None:
    """A coroutine is a root with where it waits; its gather and the functions come under it."""
    task = load_all(["a", "b"])
    one = load_one("c")
    expected = [
        "qtasks: 6 live task(s)",
        f"coroutine load_all: waiting, AGE, at {HERE}:{_line_of('# load_all waits')}",
        "\u2514\u2500 gather of 2: 0 of 2 done, AGE",
        "   \u251c\u2500 run fetch: queued, AGE",
        "   \u2514\u2500 run fetch: queued, AGE",
        f"coroutine load_one: waiting, AGE, at {HERE}:{_line_of('# load_one waits')}",
        "\u2514\u2500 run fetch: queued, AGE",
    ]
    assert expected == _ageless(format_tasks())
    task.cancel()
    one.cancel()


def test_format_tasks_finds_where_a_slot_s_body_waits(qtasks_manual_pool: ManualPool) -> None:
    """A @qtasks.slot's coroutine line gives the line in the slot's body where it waits."""

    class Window(QObject):
        @qtasks.slot
        def on_click(self) -> Any:
            yield qtasks.run(fetch, "a")  # on_click waits

    window = Window()
    task = window.on_click()
    [line] = [line for line in format_tasks().splitlines() if "Window.on_click" in line]
    assert line.endswith(f", at {HERE}:{_line_of('# on_click waits')}")
    task.cancel()
    qtasks_manual_pool.run_all()


def test_format_tasks_shows_a_function_s_newest_progress(qtbot: Any) -> None:
    """A running function's line ends with the newest progress value it reported."""
    gate = Gate()

    def work() -> None:
        qtasks.report_progress(41)
        qtasks.report_progress(42)
        gate()

    task = qtasks.run(work)
    qtbot.waitUntil(lambda: "progress 42" in format_tasks())
    assert [
        "qtasks: 1 live task(s)",
        "run test_format_tasks_shows_a_function_s_newest_progress.<locals>.work: running, AGE, progress 42",
    ] == _ageless(format_tasks())
    gate.opened.set()
    qtbot.waitUntil(task.done)


def test_format_tasks_stays_short_with_ten_thousand_tasks(qtasks_manual_pool: ManualPool) -> None:
    """Ten thousand functions under a gather, and a thousand like coroutines, take a line each."""
    fan_out = load_all(list(range(10_000)))
    roots = [load_one(key) for key in range(1000)]
    assert [
        "qtasks: 12002 live task(s)",
        f"coroutine load_all: waiting, AGE, at {HERE}:{_line_of('# load_all waits')}",
        "\u2514\u2500 gather of 10000: 0 of 10000 done, AGE",
        "   \u2514\u2500 run fetch \u00d710000: queued, oldest AGE",
        f"coroutine load_one \u00d71000: waiting, oldest AGE, at {HERE}:{_line_of('# load_one waits')}",
        "\u2514\u2500 run fetch: queued, AGE",
    ] == _ageless(format_tasks())
    fan_out.cancel()
    for each in roots:
        each.cancel()


def test_format_tasks_summarises_siblings_past_a_dozen(qapp: Any) -> None:
    """Past a dozen unlike siblings, the rest are counted in one line."""
    sleeps = [qtasks.sleep(60 + seconds) for seconds in range(20)]
    lines = _ageless(format_tasks())
    assert ["qtasks: 20 live task(s)"] + [
        f"sleep {60 + seconds} s: pending, AGE" for seconds in range(11)
    ] + ["\u2026 9 more (9 task(s)): 1 sleep 71 s, 1 sleep 72 s, 1 sleep 73 s, \u2026"] == lines
    for each in sleeps:
        each.cancel()


def test_format_tasks_cuts_a_deep_chain_of_coroutines(qtasks_run: Any) -> None:
    """A chain of coroutines awaiting each other a thousand deep is drawn a few dozen levels deep."""
    hold = qtasks.Task[None]()

    @qtasks.coroutine
    def chain(depth: int) -> Any:
        if depth == 0:
            yield hold
        else:
            yield chain(depth - 1)

    top = chain(1000)
    qtasks_run(qtasks.sleep(0.05))  # the deepest starts are made on later steps
    lines = format_tasks().splitlines()
    assert "qtasks: 1002 live task(s)" == lines[0]
    assert lines[-1].endswith("\u2026 978 task(s) deeper")
    assert len(lines) < 40
    top.cancel()


def test_format_tasks_cuts_like_chains_drawn_as_one(qapp: Any) -> None:
    """Four like chains share a line; the first is drawn 24 levels deep and the rest counted, nothing else."""
    hold = qtasks.Task[None]()

    @qtasks.coroutine
    def chain(depth: int) -> Any:
        if depth == 0:
            yield hold
        else:
            yield chain(depth - 1)

    tops = [chain(30) for _ in range(4)]
    lines = format_tasks().splitlines()
    assert "qtasks: 125 live task(s)" == lines[0]
    assert lines[1].startswith(
        "coroutine test_format_tasks_cuts_like_chains_drawn_as_one.<locals>.chain \u00d74:"
    )
    assert lines[-1].endswith("\u2514\u2500 \u2026 8 task(s) deeper")
    assert 26 == len(lines)
    for top in tops:
        top.cancel()
    hold.cancel()


def test_format_tasks_counts_what_lies_under_a_group_at_the_depth_limit(qapp: Any) -> None:
    """Like tasks grouped at the deepest level drawn count what they wait on, not draw it as a root."""
    hold = qtasks.Task[None]()

    @qtasks.coroutine
    def leaf() -> Any:
        yield hold

    @qtasks.coroutine
    def chain(depth: int) -> Any:
        if depth == 0:
            yield qtasks.gather(*[leaf() for _ in range(4)])
        else:
            yield chain(depth - 1)

    top = chain(21)
    lines = format_tasks().splitlines()
    assert "qtasks: 28 live task(s)" == lines[0]
    assert "leaf \u00d74: waiting" in lines[-2]
    assert lines[-1].endswith("\u2514\u2500 \u2026 1 task(s) deeper")
    assert 26 == len(lines)
    top.cancel()
    hold.cancel()


def test_format_tasks_off_the_gui_thread_reads_the_same_tree(qtasks_manual_pool: ManualPool) -> None:
    """Called from another thread, format_tasks() draws the tree the GUI thread sees."""
    task = load_all(["a", "b", "c"])
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(format_tasks()))
    thread.start()
    thread.join(10)
    assert [_ageless(format_tasks())] == [_ageless(text) for text in seen]
    task.cancel()


def test_format_tasks_draws_every_kind_under_what_awaits_it(qtbot: Any) -> None:
    """Executor and asyncio work, a timeout, a shield and a wait each come under what awaits them."""
    gate = Gate()
    shielded, waited = qtasks.sleep(60), qtasks.sleep(61)
    with ThreadPoolExecutor(1) as executor:
        outer = qtasks.gather(
            qtasks.run_in(executor, gate.__call__),
            qtasks.run_async(asyncio.sleep, 60),
            qtasks.timeout(60, qtasks.sleep(120)),
            qtasks.shield(shielded),
            qtasks.wait([waited]),
        )
        assert [
            "qtasks: 9 live task(s)",
            "gather of 5: 0 of 5 done, AGE",
            "\u251c\u2500 run_in Gate.__call__: on concurrent.futures, AGE",
            "\u251c\u2500 run_async sleep: on asyncio, AGE",
            "\u251c\u2500 timeout 60 s: pending, AGE",
            "\u2502  \u2514\u2500 sleep 120 s: pending, AGE",
            "\u251c\u2500 shield: pending, AGE",
            "\u2502  \u2514\u2500 sleep 60 s: pending, AGE",
            "\u2514\u2500 wait ALL_COMPLETED of 1: pending, AGE",
            "   \u2514\u2500 sleep 61 s: pending, AGE",
        ] == _ageless(format_tasks())
        for task in (outer, shielded, waited):
            task.cancel()  # neither a shield nor a wait cancels what it waits on
        gate.opened.set()


def lines_after(gate: Gate) -> Any:
    """Yield one line, wait at `gate`, yield another: a stream the tests hold mid-way."""
    yield "first"
    gate()
    yield "second"


def test_format_tasks_names_streams_and_what_their_consumer_waits_on(qtasks_run: Any) -> None:
    """An imap and a stream are drawn by kind and function, and a consumer's wait as Stream.next()."""
    gate = Gate()
    mapped = qtasks.imap(fetch, itertools.count())  # never taken: it stops at its window, holding no thread
    streamed = qtasks.stream(lines_after, gate)

    @qtasks.coroutine
    async def consume() -> list[str]:
        return [line async for line in streamed]

    consumer = consume()
    assert gate.entered.wait(10)
    drawn = _ageless(format_tasks())
    assert [
        "qtasks: 4 live task(s)",
        "imap fetch",
        "stream lines_after: pending, AGE",
        "coroutine test_format_tasks_names_streams_and_what_their_consumer_waits_on.<locals>.consume"
        ": waiting",
        "\u2514\u2500 next Stream.next(): pending, AGE",
    ] == [
        line.split(":")[0] if line.startswith("imap") else re.sub(r", AGE, at .*", "", line) for line in drawn
    ]
    gate.opened.set()
    assert ["first", "second"] == qtasks_run(consumer)
    mapped.cancel()


def test_format_tasks_off_the_gui_thread_is_safe_while_tasks_come_and_go(qtasks_run: Any) -> None:
    """Another thread drawing the tree while the GUI thread starts and ends tasks meets no error."""
    drawn: list[str] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def draw_until_done() -> None:
        try:
            while not done.is_set():
                drawn.append(format_tasks().splitlines()[0])
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    @qtasks.coroutine
    def churn() -> Any:
        for _ in range(20):
            yield qtasks.gather(*[load_one(key) for key in range(100)])

    thread = threading.Thread(target=draw_until_done)
    thread.start()
    try:
        qtasks_run(churn(), timeout=60)
    finally:
        done.set()
        thread.join(10)
    assert [] == errors
    assert drawn
    assert all(re.fullmatch(r"qtasks: (no live tasks|\d+ live task\(s\))", line) for line in drawn)


def test_format_tasks_summarises_a_map_s_chunks(qtasks_manual_pool: ManualPool) -> None:
    """A map's line counts what is done and out; its chunk tasks come under it."""
    mapped = qtasks.map(fetch, range(3))
    assert [
        "qtasks: 3 live task(s)",
        "map fetch: 0 of 2+ done, 2 chunk(s) out, AGE",
        "\u251c\u2500 run map chunk: queued, AGE",
        "\u2514\u2500 run map chunk: queued, AGE",
    ] == _ageless(format_tasks())
    mapped.cancel()


# -- watch_freezes -------------------------------------------------------------


def _watched(qtbot: Any, reports: list[FreezeReport], count: int = 1) -> None:
    qtbot.waitUntil(lambda: len(reports) >= count, timeout=10_000)


def test_a_freeze_in_a_qtimer_callback_is_reported_with_its_stack(qtbot: Any) -> None:
    """A blocking QTimer callback is reported once, on the GUI thread, with its stack and no task."""
    reports: list[FreezeReport] = []
    threads: list[int] = []

    def block_in_timer() -> None:
        time.sleep(0.6)

    def callback(found: FreezeReport) -> None:
        reports.append(found)
        threads.append(threading.get_ident())

    with watch_freezes(0.25, callback=callback):
        QTimer.singleShot(0, block_in_timer)
        _watched(qtbot, reports)
        qtbot.wait(300)  # a quiet stretch after the freeze adds no report
    [found] = reports
    assert [threading.get_ident()] == threads
    assert found.task is None
    assert "in block_in_timer\n    time.sleep(0.6)" in found.stack
    assert 0.25 <= found.duration < 10


def test_a_freeze_in_a_coroutine_step_names_the_task(qtbot: Any, qtasks_run: Any) -> None:
    """A coroutine step that blocks the GUI thread is reported with that coroutine as the task."""
    reports: list[FreezeReport] = []

    @qtasks.coroutine
    def crunch() -> Any:
        yield qtasks.sleep(0)
        busy_wait(0.6)

    with watch_freezes(0.25, callback=reports.append):
        task = crunch()
        qtasks_run(task)
        _watched(qtbot, reports)
    [found] = reports
    assert task is found.task
    assert "in crunch\n    busy_wait(0.6)" in found.stack
    assert "while stepping coroutine test_a_freeze_in_a_coroutine_step_names_the_task.<locals>.crunch" in str(
        found
    )


def test_a_responsive_gui_thread_gets_no_report(qtbot: Any) -> None:
    """While the event loop keeps running, the watch reports nothing."""
    reports: list[FreezeReport] = []
    with watch_freezes(1.0, callback=reports.append):
        qtbot.wait(1500)
    assert [] == reports


def test_the_default_report_is_a_warning_on_the_qtasks_logger(qtbot: Any, caplog: Any) -> None:
    """Without a callback, a freeze is a warning on the `qtasks` logger naming the blocking call."""
    caplog.set_level(logging.WARNING, logger="qtasks")
    with watch_freezes(0.25):
        QTimer.singleShot(0, lambda: time.sleep(0.6))
        qtbot.waitUntil(lambda: bool(caplog.records), timeout=10_000)
    [record] = caplog.records
    assert "qtasks" == record.name
    assert logging.WARNING == record.levelno
    assert record.getMessage().startswith("qtasks: the GUI thread froze for ")
    assert "time.sleep(0.6)" in record.getMessage()


def test_a_callback_that_raises_is_reported_and_the_watch_goes_on(
    qtbot: Any, hook_calls: list[BaseException]
) -> None:
    """The callback's exception reaches sys.excepthook, and the next freeze is reported too."""
    reports: list[FreezeReport] = []

    def callback(found: FreezeReport) -> None:
        reports.append(found)
        raise OSError("the report went nowhere")

    with watch_freezes(0.25, callback=callback):
        QTimer.singleShot(0, lambda: time.sleep(0.6))
        _watched(qtbot, reports)
        QTimer.singleShot(0, lambda: time.sleep(0.6))
        _watched(qtbot, reports, 2)
    assert 2 == len(reports)
    assert ["the report went nowhere"] * 2 == [str(exc) for exc in hook_calls]


def test_two_watches_each_report_the_freeze(qtbot: Any) -> None:
    """Two watches at once each report the same freeze."""
    first: list[FreezeReport] = []
    second: list[FreezeReport] = []
    with watch_freezes(0.25, callback=first.append), watch_freezes(0.3, callback=second.append):
        QTimer.singleShot(0, lambda: time.sleep(0.8))
        _watched(qtbot, first)
        _watched(qtbot, second)
    assert [1, 1] == [len(first), len(second)]


def test_a_stopped_watch_reports_nothing(qtbot: Any) -> None:
    """After stop() (which may be called twice), a freeze goes unreported."""
    reports: list[FreezeReport] = []
    watch = watch_freezes(0.1, callback=reports.append)
    watch.stop()
    watch.stop()
    QTimer.singleShot(0, lambda: time.sleep(0.3))
    qtbot.wait(600)
    assert [] == reports
    assert "stopped" in repr(watch)


def test_a_freeze_that_ends_in_stop_is_reported(qtbot: Any) -> None:
    """A freeze seen while the GUI thread was busy up to the stop() call is reported by stop()."""
    reports: list[FreezeReport] = []
    watch = watch_freezes(0.25, callback=reports.append)
    qtbot.wait(50)
    time.sleep(0.6)
    watch.stop()
    [found] = reports
    assert "time.sleep(0.6)" in found.stack


def test_a_watch_stops_when_the_application_quits() -> None:
    """A watch left running stops at QCoreApplication.aboutToQuit, and the process ends cleanly."""
    script = (
        "import sys\n"
        "from qt import QApplication, QTimer\n"
        "import qtasks.debug\n"
        "app = QApplication(sys.argv)\n"
        "watch = qtasks.debug.watch_freezes(0.1)\n"
        "QTimer.singleShot(100, app.quit)\n"
        "app.exec()\n"
        "print(repr(watch))\n"
    )
    completed = run_python("-c", script)
    assert (0, "<qtasks.debug.Watch threshold=0.1 s, stopped>\n") == (completed.returncode, completed.stdout)


@pytest.mark.parametrize(
    ("threshold", "error", "match"),
    [
        (0, ValueError, r"threshold=0\): the threshold must be a finite number of seconds greater than 0"),
        (-1, ValueError, r"threshold=-1\)"),
        (math.nan, ValueError, r"threshold=nan\)"),
        (math.inf, ValueError, r"threshold=inf\)"),
        ("0.1", TypeError, r"threshold='0.1'\): the threshold must be a number of seconds"),
        (True, TypeError, r"threshold=True\)"),
        (None, TypeError, r"threshold=None\)"),
    ],
)
def test_a_bad_threshold_is_refused(qapp: Any, threshold: Any, error: type[Exception], match: str) -> None:
    """A threshold that is not a finite number of seconds > 0 is refused, naming it and the fix."""
    with pytest.raises(error, match=match + r".*e\.g\. watch_freezes\(0\.1\)"):
        watch_freezes(threshold)


def test_a_callback_that_is_not_callable_is_refused(qapp: Any) -> None:
    """A callback that cannot be called is refused before the watch starts."""
    with pytest.raises(
        TypeError, match=r"callback=\[\]\): the callback must be a callable taking the report"
    ):
        watch_freezes(callback=[])  # type: ignore[arg-type]


def test_a_watch_started_off_the_gui_thread_is_refused(qapp: Any) -> None:
    """watch_freezes() on another thread raises RuntimeError saying where to start it."""
    errors: list[BaseException] = []

    def start() -> None:
        try:
            watch_freezes(0.1)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join(10)
    [error] = errors
    assert "called off the GUI thread: start the watch on the GUI thread" in str(error)


# -- TaskInspector --------------------------------------------------------------


def _names(inspector: TaskInspector) -> list[str]:
    """Return column 0 of every row, depth first."""
    model = inspector.model()
    found: list[str] = []
    todo = [model.index(row, 0) for row in reversed(range(model.rowCount()))]
    while todo:
        index = todo.pop()
        found.append(model.data(index))
        todo.extend(model.index(row, 0, index) for row in reversed(range(model.rowCount(index))))
    return found


def _row_of(inspector: TaskInspector, name: str) -> Any:
    model = inspector.model()
    todo = [model.index(row, 0) for row in range(model.rowCount())]
    while todo:
        index = todo.pop()
        if model.data(index) == name:
            return index
        todo.extend(model.index(row, 0, index) for row in range(model.rowCount(index)))
    raise AssertionError(f"no row {name!r}")


@pytest.fixture
def inspector(qtbot: Any) -> TaskInspector:
    view = TaskInspector(interval_ms=50)
    qtbot.addWidget(view)
    return view


def test_the_inspector_lists_and_cancels_a_live_task(
    qtbot: Any, qtasks_manual_pool: ManualPool, inspector: TaskInspector
) -> None:
    """A shown inspector lists a live coroutine over its function; Cancel cancels the selected one."""
    task = load_one("a")
    inspector.show()
    qtbot.waitUntil(lambda: ["load_one", "fetch"] == _names(inspector))
    row = _row_of(inspector, "load_one")
    assert ["load_one", "waiting"] == [row.siblingAtColumn(column).data() for column in (0, 1)]
    assert f"{HERE}:{_line_of('# load_one waits')}" == row.siblingAtColumn(3).data()
    inspector.setCurrentIndex(row)
    assert inspector.cancel_action.isEnabled()
    inspector.cancel_action.trigger()
    qtbot.waitUntil(task.cancelled)
    qtbot.waitUntil(lambda: [] == _names(inspector))


def test_the_inspector_cancels_every_task_of_a_grouped_row(
    qtbot: Any, qtasks_manual_pool: ManualPool, inspector: TaskInspector
) -> None:
    """A row grouping five like tasks offers to cancel all five, and does; a like task added since runs on."""
    grouped = [load_one(key) for key in range(5)]
    inspector.show()
    qtbot.waitUntil(lambda: "load_one \u00d75" in _names(inspector))
    other = load_one("other")  # joins the group only at the next refresh
    inspector.setCurrentIndex(_row_of(inspector, "load_one \u00d75"))
    assert inspector.selected_task() is None
    assert set(grouped) == set(inspector.selected_tasks())
    assert inspector.cancel_action.isEnabled()
    assert "Cancel 5 tasks" == inspector.cancel_action.text()
    inspector.cancel_action.trigger()
    qtbot.waitUntil(lambda: all(task.cancelled() for task in grouped))
    assert not other.done()
    qtbot.waitUntil(lambda: ["load_one", "fetch"] == _names(inspector))
    inspector.setCurrentIndex(_row_of(inspector, "load_one"))
    assert "Cancel task" == inspector.cancel_action.text()
    other.cancel()


def test_the_inspector_updates_rows_in_place(
    qtbot: Any, qtasks_manual_pool: ManualPool, inspector: TaskInspector
) -> None:
    """Refreshes keep the selected row selected and never reset the model."""
    resets: list[str] = []
    inspector.model().modelReset.connect(lambda: resets.append("reset"))
    first = load_one("a")
    inspector.show()
    qtbot.waitUntil(lambda: ["load_one", "fetch"] == _names(inspector))
    inspector.setCurrentIndex(_row_of(inspector, "load_one"))
    second = load_all(["b"])
    qtbot.waitUntil(lambda: ["load_one", "fetch", "load_all", "gather of 1", "fetch"] == _names(inspector))
    assert first is inspector.selected_task()
    [job] = [each for each in qtasks_manual_pool.pending if each._describe() == "fetch()"][:1]
    qtasks_manual_pool.complete(job)
    qtbot.waitUntil(lambda: ["load_all", "gather of 1", "fetch"] == _names(inspector))
    assert [] == resets
    second.cancel()


def test_the_inspector_refreshes_only_while_shown(
    qtbot: Any, qtasks_manual_pool: ManualPool, inspector: TaskInspector
) -> None:
    """A hidden inspector does no work; showing it brings it up to date."""
    task = load_one("a")
    qtbot.wait(200)
    assert [] == _names(inspector)
    inspector.show()
    qtbot.waitUntil(lambda: ["load_one", "fetch"] == _names(inspector))
    inspector.hide()
    other = load_one("b")
    qtbot.wait(200)
    assert ["load_one", "fetch"] == _names(inspector)
    task.cancel()
    other.cancel()


def test_the_inspector_groups_ten_thousand_tasks(
    qtbot: Any, qtasks_manual_pool: ManualPool, inspector: TaskInspector
) -> None:
    """Ten thousand functions under one gather take one row."""
    task = load_all(list(range(10_000)))
    inspector.show()
    qtbot.waitUntil(lambda: ["load_all", "gather of 10000", "fetch \u00d710000"] == _names(inspector))
    task.cancel()


# -- qtasks_run -----------------------------------------------------------------


def test_a_qtasks_run_timeout_says_what_is_still_live(
    qtasks_manual_pool: ManualPool, qtasks_run: Callable[..., Any]
) -> None:
    """When qtasks_run times out, its message draws the tree of what was still live."""
    with pytest.raises(qtasks.TimeoutError) as caught:
        qtasks_run(load_one("a"), timeout=0.1)
    message = str(caught.value)
    assert message.startswith(
        "<CoroutineTask load_one() pending, waiting on <ThreadTask fetch() pending, queued>> "
        "was not done after 0.1 s; still live then:\nqtasks: 2 live task(s)\n"
    )
    assert [
        f"coroutine load_one: waiting, AGE, at {HERE}:{_line_of('# load_one waits')}",
        "\u2514\u2500 run fetch: queued, AGE",
    ] == _ageless(message)[-2:]
