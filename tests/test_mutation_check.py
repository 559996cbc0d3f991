"""Every deliberate break in tests/mutation_check.py still applies to the source as it is now."""

from __future__ import annotations

from pathlib import Path

import mutation_check
import pytest
from mutation_check import BREAKS, ROOT, Break, StaleBreakError, apply


@pytest.mark.parametrize("brk", BREAKS, ids=[brk.name for brk in BREAKS])
def test_break_text_is_found_exactly_once(brk: Break) -> None:
    """Each text a break replaces occurs exactly once in the source, so the break still breaks its promise."""
    try:
        apply(brk, ROOT, write=False)
    except StaleBreakError as exc:
        stale = f"{exc}\n(promise: {brk.promise}; update the break in tests/mutation_check.py)"
    else:
        return
    pytest.fail(stale, pytrace=False)


@pytest.mark.parametrize("brk", BREAKS, ids=[brk.name for brk in BREAKS])
def test_break_changes_the_text(brk: Break) -> None:
    """Each edit of a break replaces its text with a different one, so the copy it tests is broken."""
    assert [] == [old for _, old, new in brk.edits if old == new]


def test_break_names_are_unique() -> None:
    """Breaks are chosen by name on the command line, so no two share one."""
    names = [brk.name for brk in BREAKS]
    assert sorted(set(names)) == sorted(names)


def test_a_stale_break_is_named_with_the_file() -> None:
    """A break whose file is gone stops with the break's name and the file, not a bare traceback."""
    gone = Break("gone", "(example)", (("qtasks/_no_such_module.py", "x", "y"),))
    with pytest.raises(StaleBreakError, match=r"break 'gone': qtasks/_no_such_module.py does not exist"):
        apply(gone, ROOT, write=False)


def test_a_stale_break_is_named_with_the_text() -> None:
    """A break whose text is not in its file stops with the break's name, the file and the count."""
    stale = Break("stale", "(example)", (("qtasks/__init__.py", "text that is not there\n", "y"),))
    with pytest.raises(StaleBreakError, match=r"break 'stale': .* in qtasks/__init__.py, found it 0 times"):
        apply(stale, ROOT, write=False)


def test_this_guard_does_not_run_on_broken_copies() -> None:
    """The suite run on a broken copy leaves this file out: here every break's own text is gone."""
    this_file = Path(__file__).resolve().relative_to(ROOT).as_posix()
    assert this_file in mutation_check.NOT_RUN_ON_BREAKS
