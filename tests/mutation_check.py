"""Break qtasks on purpose, once per promise, and check that the suite notices every break.

Each break is an exact text replacement in one copy of the repository (qtasks/,
tests/, examples/ and setup.cfg in a temporary folder). The suite runs on that
copy with `python -m pytest -x -q`, the copy first on PYTHONPATH and as the
working folder, so the copy's qtasks is the one imported. A break is "killed"
when the suite fails, and "survived" when it passes: then this script fails.

If the text a break replaces is not found exactly once, the script stops at
once and says which break to update: qtasks changes, and a break that no
longer applies must not pass for a killed one.

Usage (stdlib only, from the repository root, with the test requirements installed):

    python tests/mutation_check.py             # every break, two at a time
    python tests/mutation_check.py --list      # the breaks' names and promises
    python tests/mutation_check.py sleep_first_chunk wait_first_exception
    python tests/mutation_check.py --jobs 1    # one at a time

Exit status: 0 when every break chosen was killed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("qtasks", "tests", "examples", "setup.cfg")
# Test files the suite runs without on a broken copy. Why: the guard that every
# break applies to the source fails on a broken copy by design, which would
# count every break as killed.
NOT_RUN_ON_BREAKS = ("tests/test_mutation_check.py",)
# Seconds one suite run may take before the break counts as surviving (a hang
# is not a kill: the suite must fail, not stall).
RUN_TIMEOUT = 600


@dataclasses.dataclass(frozen=True)
class Break:
    """One deliberate break: `edits` are (file, old text, new text), each old text found exactly once."""

    name: str
    promise: str
    edits: tuple[tuple[str, str, str], ...]
    # Test files to run first, so that a killed break is found in seconds;
    # the rest of the suite runs after them.
    first: tuple[str, ...] = ()


BREAKS: tuple[Break, ...] = (
    Break(
        "import_fails",
        "(sanity) the suite imports the copy's qtasks, not an installed one",
        (
            (
                "qtasks/__init__.py",
                "\n__version__ = ",
                '\nraise ImportError("the broken copy")\n__version__ = ',
            ),
        ),
        ("tests/test_coroutines.py",),
    ),
    Break(
        "slot_deferred_delete_ignored",
        "a slot is cancelled before deleteLater deletes its owner",
        (("qtasks/_slot.py", "if event.type() == QEvent.Type.DeferredDelete:", "if False:"),),
        ("tests/test_slot.py",),
    ),
    Break(
        "cancel_false_while_result_in_flight",
        "cancel() is True on a task whose function returned but whose result is not delivered yet",
        (
            (
                "qtasks/_pool.py",
                "        return super().cancel()\n",
                "        with self._pool._lock:\n"
                "            if self._phase is RAN:\n"
                "                return False\n"
                "        return super().cancel()\n",
            ),
        ),
        ("tests/test_pool.py",),
    ),
    Break(
        "wait_first_exception_as_first_completed",
        "wait(return_when=FIRST_EXCEPTION) waits for a failure, not any completion",
        (
            (
                "qtasks/_combinators.py",
                "(when is FIRST_EXCEPTION and self._failed)",
                "(when is FIRST_EXCEPTION and done)",
            ),
        ),
        ("tests/test_combinators.py",),
    ),
    Break(
        "keyword_arguments_dropped",
        "run, Pool.run, run_in and ManualPool pass keyword arguments to the function",
        (
            ("qtasks/_worker.py", "        return fn(*args, **kwargs)\n", "        return fn(*args)\n"),
            (
                "qtasks/_executor.py",
                "future = executor.submit(fn, *args, **kwargs)",
                "future = executor.submit(fn, *args)",
            ),
        ),
        ("tests/test_pool.py",),
    ),
    Break(
        "progress_not_coalesced",
        "a burst of report_progress() reaches listeners coalesced to the newest value",
        (
            (
                "qtasks/_task.py",
                "        if first:\n            _runtime.call_soon(self._deliver_progress)\n",
                "        for fn in list(self._progress_listeners or ()):\n"
                "            _runtime.call_soon(functools.partial(fn, value))\n",
            ),
        ),
        ("tests/test_pool.py", "tests/test_qt.py"),
    ),
    Break(
        "sleep_first_chunk_only",
        "a sleep longer than one QTimer interval lasts its whole duration",
        (("qtasks/_qt.py", "            if self._remaining > 1e-9:", "            if False:"),),
        ("tests/test_qt.py",),
    ),
    Break(
        "gather_keeps_siblings_running",
        "gather cancels the other children on the first failure",
        (
            (
                "qtasks/_combinators.py",
                "                self._finish(CANCELLED)\n"
                "            _cancel_all(children)\n"
                "            return\n",
                "                self._finish(CANCELLED)\n            return\n",
            ),
        ),
        ("tests/test_combinators.py",),
    ),
    Break(
        "queued_cancel_still_runs",
        "cancel() of a queued ThreadTask takes it from the pool: the function never runs",
        (
            # Flag the queued task as if it were running, instead of taking it back.
            (
                "qtasks/_pool.py",
                "        take_back_or_flag(self._pool._lock, (self,))\n",
                "        self._cancel_requested = True\n",
            ),
            # Keep the function and its arguments for the worker that now runs it.
            ("qtasks/_pool.py", "        if not running:\n", "        if False:\n"),
        ),
        ("tests/test_pool.py",),
    ),
    Break(
        "done_callbacks_twice",
        "every done callback fires exactly once",
        (
            (
                "qtasks/_task.py",
                "            for fn in callbacks:\n                post(functools.partial(fn, self))\n",
                "            for fn in callbacks:\n                post(functools.partial(fn, self))\n"
                "                post(functools.partial(fn, self))\n",
            ),
        ),
        ("tests/test_task.py",),
    ),
    Break(
        "progress_last_value_dropped",
        "the last progress value is delivered, before the done callbacks",
        (
            (
                "qtasks/_task.py",
                "        if value is NO_PROGRESS or self._state is CANCELLED:\n",
                "        if value is NO_PROGRESS or self._state is not PENDING:\n",
            ),
        ),
        ("tests/test_qt.py", "tests/test_pool.py"),
    ),
    Break(
        "failure_not_reported",
        "a failure nobody consumes reaches sys.excepthook",
        (
            (
                "qtasks/_bridge.py",
                "        sys.excepthook(type(exc), exc, exc.__traceback__)\n",
                "        pass\n",
            ),
        ),
        ("tests/test_failure_reporting.py",),
    ),
    Break(
        "resumed_on_a_worker_thread",
        "a coroutine is resumed on the GUI thread, never on a worker thread",
        (
            (
                "qtasks/_pool.py",
                "            bridge.transfer(box)\n            now = time.perf_counter()\n",
                "            box.pop()()\n            now = time.perf_counter()\n",
            ),
        ),
        ("tests/test_state_machine.py", "tests/test_coroutines.py"),
    ),
    Break(
        "shutdown_cancels_nothing",
        "shutdown() cancels every coroutine and task",
        (
            (
                "qtasks/_runtime.py",
                "        for task in list(STATE.live):\n            task.cancel()\n",
                "        for task in []:\n            task.cancel()\n",
            ),
        ),
        ("tests/test_shutdown.py",),
    ),
    Break(
        "slot_arguments_not_trimmed",
        "a slot drops the signal arguments its function does not take",
        (("qtasks/_slot.py", "            args = args[:keep]\n", "            pass\n"),),
        ("tests/test_slot.py",),
    ),
    Break(
        "restart_does_not_cancel",
        'reentry="restart" cancels the running call before the new one starts',
        (
            (
                "qtasks/_slot.py",
                '                for task in running:  # reentry == "restart"\n'
                "                    cancel_walk(task, now=True)\n",
                '                for task in running:  # reentry == "restart"\n                    pass\n',
            ),
        ),
        ("tests/test_slot.py",),
    ),
    Break(
        "queue_runs_concurrently",
        'reentry="queue" starts a call only after the calls before it end',
        (
            (
                "qtasks/_slot.py",
                '        if reentry == "queue":\n            turn = queue.wait_for_earlier()\n',
                '        if reentry == "queue":\n            turn = None\n',
            ),
        ),
        ("tests/test_slot.py",),
    ),
    Break(
        "cancel_not_thrown_into_coroutine",
        "a cancelled coroutine gets CancelledError at its suspension point and its finally runs",
        (
            (
                "qtasks/_coroutine.py",
                "    def _resume_cancelled(self) -> None:\n"
                "        if self._state is PENDING and self._waiting_on is None:\n",
                "    def _resume_cancelled(self) -> None:\n        if False:\n",
            ),
        ),
        ("tests/test_cancellation.py",),
    ),
    Break(
        "map_results_out_of_order",
        "map returns results in input order",
        (
            (
                "qtasks/_map.py",
                "        self._results[start : start + len(results)] = results\n",
                "        self._results[start : start + len(results)] = results[::-1]\n",
            ),
        ),
        ("tests/test_map.py",),
    ),
    Break(
        "imap_window_counts_only_items_in_flight",
        "imap's window counts the results its consumer has not taken",
        (
            (
                "qtasks/_stream.py",
                "        return self._pulled - self._consumed\n",
                "        return self._in_flight_items\n",
            ),
        ),
        ("tests/test_stream.py",),
    ),
    Break(
        "stream_generator_ignores_a_full_buffer",
        "a stream's generator is suspended while `buffer` values wait untaken",
        (
            (
                "qtasks/_stream.py",
                "                if self._produced - self._consumed >= limit"
                " and not self._room_came_in_worker(linger_until):\n",
                "                if False:\n",
            ),
        ),
        ("tests/test_stream.py",),
    ),
    Break(
        "stream_lingering_run_goes_on_while_full",
        "a stream's generator lingering for room goes on only once the consumer has taken half the buffer",
        (
            (
                "qtasks/_stream.py",
                "        return self._produced - self._consumed <= self._resume_at\n",
                "        return True\n",
            ),
        ),
        ("tests/test_stream.py",),
    ),
    Break(
        "stream_lingers_past_its_slice",
        "a stream's run lingers for room only in its first slice, so it leaves its thread to other work",
        (
            (
                "qtasks/_stream.py",
                "        if time.perf_counter() > linger_until:\n            return False\n",
                "        if linger_until == 0.0:\n            return False\n",
            ),
        ),
        ("tests/test_stream.py",),
    ),
    Break(
        "shutdown_drops_the_closing_of_a_generator",
        "shutdown closes a cancelled stream's generator on a worker thread",
        (
            (
                "qtasks/_stream.py",
                "    _survives_drop: Final = True\n",
                "    _survives_drop: Final = False\n",
            ),
        ),
        ("tests/test_stream.py",),
    ),
    Break(
        "stream_closes_a_parked_generator_on_the_gui_thread",
        "a cancelled stream's generator is closed on a worker thread",
        (
            (
                "qtasks/_stream.py",
                "            self._pool._submit(_GenClose(self, gen), self)\n",
                "            gen.close()\n",
            ),
        ),
        ("tests/test_stream.py",),
    ),
    Break(
        "timeout_leaves_the_awaitable_running",
        "timeout() cancels the awaitable when the time is up",
        (
            (
                "qtasks/_qt.py",
                "QtasksTimeoutError(msg)) and child is not None:\n            child.cancel()\n",
                "QtasksTimeoutError(msg)) and child is not None:\n            pass\n",
            ),
        ),
        ("tests/test_qt.py",),
    ),
    Break(
        "ignore_starts_a_second_call",
        'reentry="ignore" drops a call made while one runs and returns the running handle',
        (
            (
                "qtasks/_slot.py",
                "                if live:\n                    return live[-1]\n",
                "                if False:\n                    return live[-1]\n",
            ),
        ),
        ("tests/test_slot.py",),
    ),
    Break(
        "cancelled_gather_leaves_children_running",
        "cancelling a gather cancels all its children",
        (
            (
                "qtasks/_combinators.py",
                "        return tuple(self._children or ())\n",
                "        return ()\n",
            ),
        ),
        ("tests/test_combinators.py",),
    ),
    Break(
        "callback_error_swallowed",
        "an exception raised by a done or progress callback is reported at once",
        (
            (
                "qtasks/_bridge.py",
                "                report(exc)\n            del fn\n",
                "                pass\n            del fn\n",
            ),
            (
                "qtasks/_task.py",
                "reported at once, as promised\n                    report(exc)\n",
                "reported at once, as promised\n                    pass\n",
            ),
        ),
        ("tests/test_failure_reporting.py",),
    ),
    Break(
        "run_async_cancel_stays_on_the_gui_thread",
        "cancelling a run_async handle cancels its asyncio task on the loop",
        (
            (
                "qtasks/_asyncio.py",
                "        if self.future is not None:\n            self.future.cancel()\n",
                "        if self.future is None:\n            self.future.cancel()\n",
            ),
        ),
        ("tests/test_asyncio.py",),
    ),
    Break(
        "run_async_self_cancel_finishes",
        "an asyncio task that cancels itself cancels its run_async handle",
        (
            (
                "qtasks/_asyncio.py",
                "        if cancelled:\n            self._finish(CANCELLED)\n",
                "        if False:\n            self._finish(CANCELLED)\n",
            ),
        ),
        ("tests/test_asyncio.py",),
    ),
    Break(
        "run_async_side_not_set",
        "report_progress() and check_cancelled() work inside a coroutine run by run_async",
        (
            (
                "qtasks/_asyncio.py",
                "    ASYNC_SIDE.set(side)\n",
                "    ASYNC_SIDE.set(None)\n",
            ),
        ),
        ("tests/test_asyncio.py",),
    ),
    Break(
        "check_cancelled_never_raises",
        "check_cancelled() raises CancelledError in a function whose task was cancelled",
        (
            (
                "qtasks/_worker.py",
                "    if side is not None and side._cancel_requested:\n        msg = ",
                "    if False:\n        msg = ",
            ),
        ),
        ("tests/test_pool.py",),
    ),
    Break(
        "as_completed_in_argument_order",
        "as_completed gives the inputs' outcomes in the order they finish",
        (
            (
                "qtasks/_combinators.py",
                "        self._done.append(child)\n        self._hand_out()\n",
                "        self._done.appendleft(child)\n        self._hand_out()\n",
            ),
        ),
        ("tests/test_combinators.py",),
    ),
    Break(
        "shield_consumes_after_cancel",
        "an inner failure after its shield was cancelled is reported, not swallowed",
        (
            (
                "qtasks/_combinators.py",
                "        if self._state is not PENDING:\n"
                "            # Why: the shield was cancelled; a failure nobody takes stays\n",
                "        if self._state is not PENDING:\n"
                "            inner._consume()\n"
                "            # Why: the shield was cancelled; a failure nobody takes stays\n",
            ),
        ),
        ("tests/test_combinators.py",),
    ),
    Break(
        "shield_passes_cancel_through",
        "cancelling a shield does not cancel what it shields",
        (
            (
                "qtasks/_combinators.py",
                "    def _released(self) -> None:\n        inner = self._inner\n",
                "    def _awaits(self) -> tuple[Task[Any], ...]:\n"
                "        return () if self._inner is None else (self._inner,)\n\n"
                "    def _released(self) -> None:\n        inner = self._inner\n",
            ),
        ),
        ("tests/test_combinators.py",),
    ),
    Break(
        "every_start_synchronous",
        "a chain of 10 000 coroutines each awaiting the next completes without RecursionError",
        (("qtasks/_coroutine.py", "START_DEPTH_LIMIT: Final = 40\n", "START_DEPTH_LIMIT: Final = 10**9\n"),),
        ("tests/test_coroutines.py",),
    ),
    Break(
        "deferred_start_after_cancel",
        "a deferred start does nothing once a deleted owner's cancellation ended the coroutine",
        (
            (
                "qtasks/_coroutine.py",
                "        if self._state is PENDING and self._waiting_on is None and not self._stepping:\n",
                "        if True:\n",
            ),
        ),
        ("tests/test_slot.py",),
    ),
    Break(
        "unrepresentable_callable_name",
        "a handle made from a callable whose repr raises is made, and its repr does not raise",
        (
            (
                "qtasks/_task.py",
                "    try:\n        return repr(value)\n    except Exception:",
                "    try:\n        return repr(value)\n    except ZeroDivisionError:",
            ),
        ),
        ("tests/test_task.py",),
    ),
    Break(
        "parked_loops_kept_forever",
        "a lingering worker loop gives its thread back to Qt on its own, even with the GUI thread blocked",
        (
            (
                "qtasks/_pool.py",
                "            while parked and now - parked[0][0] >= linger:\n",
                "            while False:\n",
            ),
        ),
        ("tests/test_pool.py",),
    ),
    Break(
        "finishing_loop_ignored",
        "a call made while a worker hands its result over runs on that worker, with no second start",
        (
            (
                "qtasks/_pool.py",
                "            elif self._finishing:\n"
                "                # A loop handing its last result over claims this item next.\n"
                "                self._finishing.pop()\n"
                "                start = False\n",
                "",
            ),
        ),
        ("tests/test_pool.py",),
    ),
    Break(
        "handed_over_item_kept",
        "a worker holds no reference to a task whose result it has handed over",
        (
            (
                "qtasks/_pool.py",
                "            item = None\n            bridge.transfer(box)\n",
                "            bridge.transfer(box)\n",
            ),
        ),
        ("tests/test_pool.py",),
    ),
    Break(
        "loops_park_while_shutdown_waits",
        "a worker loop that runs dry while shutdown waits gives its thread back at once",
        (
            (
                "qtasks/_pool.py",
                "        if self._idle_waiters:\n            waiter.release()\n        else:\n"
                "            self._parked.append((now, waiter))\n",
                "        self._parked.append((now, waiter))\n",
            ),
        ),
        ("tests/test_shutdown.py",),
    ),
    Break(
        "shutdown_wait_leaves_loops_parked",
        "a worker loop parked after shutdown dropped the queue is woken when shutdown waits",
        (
            (
                "qtasks/_pool.py",
                "            # then. Loops that run dry from here on leave (_park_locked).\n"
                "            self._unpark_all_locked()\n",
                "",
            ),
        ),
        ("tests/test_shutdown.py",),
    ),
    Break(
        "limit_kept_through_the_hand_over",
        "calls made as a starved pool's last result reaches the GUI thread all start at once",
        (
            (
                "qtasks/_pool.py",
                "                # start a new burst at once, which must find the limit lifted.\n"
                "                self._end_burst_locked()\n",
                "",
            ),
        ),
        ("tests/test_responsive.py",),
    ),
    Break(
        "exit_wait_missed_beside_a_running_function",
        "at exit, a loop ending its hand-over wakes the wait for loops, though another function runs",
        (
            (
                "qtasks/_pool.py",
                "        if self._idle_waiters:\n"
                "            # Shutdown waits for _executing and _lingering, exit for _lingering.\n",
                "        if self._idle_waiters and not self._executing:\n",
            ),
        ),
        ("tests/test_shutdown.py",),
    ),
    Break(
        "one_function_watched",
        "a pool running one function at a time keeps no heartbeat timer on the GUI thread",
        (
            (
                "qtasks/_pool.py",
                "                and bool(self._executing or len(lane) > 1 or len(self._lanes) > 1)\n",
                "",
            ),
        ),
        ("tests/test_responsive.py",),
    ),
)


@dataclasses.dataclass
class Outcome:
    name: str
    killed: bool
    first_failure: str
    seconds: float


class StaleBreakError(Exception):
    """A break's text is not found exactly once: the source moved on, the break needs updating."""


def apply(brk: Break, copy: Path, *, write: bool = True) -> None:
    """Apply every edit of `brk` to the copy; raise StaleBreakError unless each old text occurs once.

    Also raise it if a test file the break runs first is gone: pytest would
    fail on the missing file, and the break would count as killed untested.
    With `write` False, only check that the break applies to the files in `copy`.
    """
    for relative in brk.first:
        if not (copy / relative).is_file():
            msg = (
                f"break {brk.name!r}: its first test file {relative} does not exist; "
                "name the one that tests it"
            )
            raise StaleBreakError(msg)
    for relative, old, new in brk.edits:
        path = copy / relative
        if not path.is_file():
            msg = f"break {brk.name!r}: {relative} does not exist; update the break to the current source"
            raise StaleBreakError(msg)
        text = path.read_text(encoding="utf-8")
        count = text.count(old)
        if count != 1:
            msg = (
                f"break {brk.name!r}: expected the text to replace exactly once in {relative}, "
                f"found it {count} times; update the break to the current source:\n{old}"
            )
            raise StaleBreakError(msg)
        if write:
            path.write_text(text.replace(old, new), encoding="utf-8")


def make_copy(into: Path) -> Path:
    """Copy what the suite needs into `into`; return the copy's root."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", "*.egg-info")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        else:
            shutil.copy2(source, into / name)
    return into


def environment(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = os.pathsep.join([str(copy), str(copy / "tests"), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def check_imports_the_copy(copy: Path) -> None:
    """Fail loudly unless `import qtasks` in the copy's environment imports the copy."""
    out = subprocess.run(
        [sys.executable, "-c", "import qtasks, sys; sys.stdout.write(qtasks.__file__)"],
        cwd=copy,
        env=environment(copy),
        capture_output=True,
        text=True,
        check=False,
    )
    imported = Path(out.stdout.strip()).resolve() if out.returncode == 0 else None
    if imported is None or copy.resolve() not in imported.parents:
        msg = f"the copy in {copy} does not import its own qtasks (got {out.stdout!r} {out.stderr!r})"
        raise SystemExit(msg)


FAILED_LINE = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


def run_suite(copy: Path, first: tuple[str, ...]) -> tuple[bool, str]:
    """Run the suite on the copy; return (killed, the first failing test or the reason)."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    command += [f"--ignore={path}" for path in NOT_RUN_ON_BREAKS]
    # The files most likely to fail first, then the rest of the suite
    # (tests/test_examples.py runs the examples' own tests). Each file is named
    # once: pytest merges a folder with files inside it into the folder's order.
    rest = sorted(path.relative_to(copy).as_posix() for path in (copy / "tests").glob("test_*.py"))
    rest = [path for path in rest if path not in NOT_RUN_ON_BREAKS]
    targets = [*first, *(path for path in rest if path not in first)]
    try:
        out = subprocess.run(
            [*command, *targets],
            cwd=copy,
            env=environment(copy),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"the suite hung for {RUN_TIMEOUT} s"
    if out.returncode == 0:
        return False, ""
    found = FAILED_LINE.search(out.stdout)
    if found:
        return True, found.group(1)
    tail = (out.stdout.strip().splitlines() or out.stderr.strip().splitlines() or ["?"])[-1]
    return True, f"(exit {out.returncode}) {tail}"


def check(brk: Break) -> Outcome:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"qtasks-mutant-{brk.name}-") as folder:
        copy = make_copy(Path(folder))
        if brk.name != "import_fails":
            check_imports_the_copy(copy)
        apply(brk, copy)
        killed, first_failure = run_suite(copy, brk.first)
    return Outcome(brk.name, killed, first_failure, time.monotonic() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="the breaks to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the breaks and exit")
    parser.add_argument("--jobs", type=int, default=2, help="breaks checked at once (default 2)")
    args = parser.parse_args(argv)
    if args.list:
        for brk in BREAKS:
            print(f"{brk.name:40} {brk.promise}")
        return 0
    by_name = {brk.name: brk for brk in BREAKS}
    unknown = [name for name in args.names if name not in by_name]
    if unknown:
        parser.error(f"unknown break(s) {', '.join(unknown)}; see --list")
    chosen = [by_name[name] for name in args.names] if args.names else list(BREAKS)
    # Every break must apply before any suite runs: a stale break fails at once.
    for brk in chosen:
        try:
            apply(brk, ROOT, write=False)
        except StaleBreakError as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            return 2
    start = time.monotonic()
    outcomes: list[Outcome] = []
    print(f"{'break':40} {'result':9} {'seconds':>7}  first failing test")
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as executor:
        for outcome in executor.map(check, chosen):
            outcomes.append(outcome)
            result = "killed" if outcome.killed else "SURVIVED"
            print(f"{outcome.name:40} {result:9} {outcome.seconds:7.1f}  {outcome.first_failure}", flush=True)
    survived = [outcome.name for outcome in outcomes if not outcome.killed]
    total = time.monotonic() - start
    if survived:
        print(f"\n{len(survived)} break(s) survived the suite ({total:.0f} s): {', '.join(survived)}")
        return 1
    print(f"\nall {len(outcomes)} breaks killed ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
