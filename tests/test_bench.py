"""The bench runs end to end and prints its table (no timing is asserted)."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from support import run_python

from qtasks import bench


def test_bench_prints_a_table_for_a_few_rows(capsys: pytest.CaptureFixture[str], qapp: Any) -> None:
    """A tiny run of three rows prints one table line per row with its ratio to the floor."""
    assert 0 == bench.main(["--n", "20", "--rounds", "1", "--rows", "gather,map,floor"])
    out = capsys.readouterr().out
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert ["row", "gather", "map", "floor"] == rows
    assert "x floor |" in out


def test_bench_runs_with_a_freeze_watch_on(capsys: pytest.CaptureFixture[str], qapp: Any) -> None:
    """--watch runs the rows with a freeze watch on and says so in the header."""
    assert 0 == bench.main(["--n", "20", "--rounds", "1", "--rows", "gather", "--watch", "5"])
    out = capsys.readouterr().out
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert ["row", "gather", "floor"] == rows
    assert "1 rounds, with watch_freezes(5) on\n" in out


def test_bench_refuses_an_unknown_row() -> None:
    """An unknown row name is refused with the list of known ones."""
    with pytest.raises(SystemExit):
        bench.main(["--rows", "nosuchrow"])


def test_bench_measures_the_floor_its_ratios_need(capsys: pytest.CaptureFixture[str], qapp: Any) -> None:
    """Rows chosen without their floor get it measured too, so every ratio is a number."""
    assert 0 == bench.main(["--n", "20", "--rounds", "1", "--rows", "gather,sequential"])
    out = capsys.readouterr().out
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert ["row", "gather", "sequential", "floor", "floor-seq"] == rows
    assert "nan" not in out


def test_bench_refuses_a_thread_count_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    """--threads 0 is refused with a message saying what to give instead."""
    with pytest.raises(SystemExit):
        bench.main(["--threads", "0"])
    assert "give a thread count >= 1" in capsys.readouterr().err


def test_bench_reports_how_long_a_quit_during_a_fan_out_takes(
    capsys: pytest.CaptureFixture[str], qapp: Any
) -> None:
    """The quit row prints the seconds from app.quit() to the end of a process busy with a fan-out."""
    assert 0 == bench.main(["--rounds", "1", "--rows", "quit"])
    out = capsys.readouterr().out
    assert re.search(r"^quit: .* ended the process after \d+\.\d+ s \(median of 1, worst", out, re.M), out


def test_bench_runs_the_stream_rows(capsys: pytest.CaptureFixture[str], qapp: Any) -> None:
    """The imap and stream rows take every value through `async for` and print their lines."""
    assert 0 == bench.main(["--n", "20", "--rounds", "1", "--rows", "imap,stream"])
    out = capsys.readouterr().out
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert ["row", "imap", "stream", "floor"] == rows


def test_bench_prints_the_load_rows_with_their_bare_row(
    capsys: pytest.CaptureFixture[str], qapp: Any
) -> None:
    """A load row prints in a table of its own, with the bare QRunnables it is a ratio to, and tick gaps."""
    assert 0 == bench.main(["--rounds", "1", "--rows", "io-gather,raw"])
    out = capsys.readouterr().out
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]
    assert ["row", "raw", "floor-seq", "row", "io-gather", "io-bare"] == rows
    bare = r"^\| io-bare \| 100 \| \d+\.\d+ s \| 1\.00x \| \d+\.\d ms \| \d+\.\d ms \|$"
    assert re.search(bare, out, re.M), out


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="--one-core needs os.sched_setaffinity")
def test_bench_runs_every_thread_on_one_core() -> None:
    """--one-core pins the bench (in a process of its own) to one core and says so in the header."""
    options = ["--one-core", "--n", "50", "--rounds", "1", "--rows", "sequential"]
    completed = run_python("-m", "qtasks.bench", *options)
    assert 0 == completed.returncode, completed.stderr
    rows = [line.split("|")[1].strip() for line in completed.stdout.splitlines() if line.startswith("| ")]
    assert ["row", "sequential", "floor-seq"] == rows
    assert "1 rounds, every thread on one core\n" in completed.stdout
