"""Fault injection: each scenario runs in its own process with Python's default excepthook.

Every process must exit normally (never abort with 134 / -6), and every error
must reach stderr exactly once, with its traceback.
"""

from __future__ import annotations

import subprocess

import pytest
from support import ROOT, run_python

FAULTS = ROOT / "tests" / "faults"


def run_script(name: str) -> subprocess.CompletedProcess[str]:
    """Run tests/faults/<name>.py headless, with the repository's qtasks first on the path."""
    return run_python(str(FAULTS / f"{name}.py"), timeout=60)


@pytest.mark.parametrize(
    ("script", "errors"),
    [
        ("worker_exception", ["ValueError: boom-awaited", "ValueError: boom-unawaited"]),
        ("coroutine_after_resume", ["RuntimeError: boom-after-resume 3"]),
        ("done_callback", ["KeyError: 'boom-in-done-callback'"] * 2),
        ("progress_callback", ["LookupError: boom-in-progress-callback 1"]),
        ("base_exceptions", ["SystemExit: boom-system-exit", "KeyboardInterrupt: boom-keyboard-interrupt"]),
        ("gc_in_workers", ["OSError: boom-collected-unconsumed"]),
        ("error_in_finally_at_quit", ["RuntimeError: boom-in-finally-at-quit"]),
        ("coroutine_on_a_signal", ["TypeError: on_click() takes 0 positional arguments but 1 was given"]),
        ("owner_deleted_at_every_suspension", []),
        (
            "slot_off_the_gui_thread",
            [
                "RuntimeError: qtasks slot Box.on_poke was called off the GUI thread; slots run on "
                "the GUI thread: connect the signal with a queued connection, to an object that "
                "lives on the GUI thread, or use qtasks.run() for work on a worker thread"
            ],
        ),
    ],
)
def test_every_error_is_printed_once_and_the_process_exits_normally(script: str, errors: list[str]) -> None:
    """The process exits 0 and prints each injected error once, each with its traceback."""
    proc = run_script(script)
    assert (0, "exited normally") == (proc.returncode, proc.stdout.splitlines()[0]), proc.stderr
    stderr = proc.stderr
    lines = stderr.splitlines()
    # The exception line of each traceback; the note qtasks adds repeats the text in a sentence.
    assert {e: errors.count(e) for e in errors} == {e: lines.count(e) for e in errors}, stderr
    # One traceback per error; a chained one ("During handling...") prints its cause's too.
    chained = stderr.count("During handling of the above exception, another exception occurred:")
    assert len(errors) == stderr.count("Traceback (most recent call last):") - chained, stderr
    assert "Fatal Python error" not in stderr
    assert [] == [line for line in lines if line.startswith("QObject::")], stderr


def test_collected_garbage_runs_its_clean_up_on_the_gui_thread() -> None:
    """With workers calling gc.collect(), every coroutine's finally block runs on the GUI thread."""
    proc = run_script("gc_in_workers")
    assert ["exited normally", "finally blocks on the GUI thread"] == proc.stdout.splitlines()
