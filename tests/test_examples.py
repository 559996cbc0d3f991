"""Every example runs headless with --smoke and exits 0, and the tests that come with one pass."""

from __future__ import annotations

import pytest
from support import ROOT, run_pytest, run_python

EXAMPLES = sorted(
    path.name for path in (ROOT / "examples").glob("*.py") if not path.name.startswith(("_", "test_"))
)


def test_the_examples_are_all_there() -> None:
    """The documented examples exist, so a rename cannot silently drop one from the run."""
    expected = [
        "cancel_running.py",
        "compare_engines.py",
        "dask_cluster.py",
        "fan_out.py",
        "handle_click.py",
        "http_fetch.py",
        "inspector.py",
        "plot_gaps.py",
        "search_as_you_type.py",
        "search_widget.py",
        "stream_lines.py",
    ]
    assert expected == EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_smoke_run_exits_zero(name: str) -> None:
    """The example drives its own window headless and exits 0."""
    if name in {"compare_engines.py", "dask_cluster.py"}:
        pytest.importorskip("distributed")
    completed = run_python(str(ROOT / "examples" / name), "--smoke", timeout=90)
    assert 0 == completed.returncode, completed.stdout + completed.stderr
    assert "smoke: ok" in completed.stdout


def test_search_widget_property_tests_pass() -> None:
    """The search widget's own hypothesis tests, run as a user would run them, pass."""
    completed = run_pytest(ROOT / "examples" / "test_search_widget.py", cwd=ROOT)
    assert 0 == completed.returncode, completed.stdout + completed.stderr
    assert "2 passed" in completed.stdout


@pytest.mark.parametrize("name", ["compare_engines.py", "dask_cluster.py"])
def test_a_dask_example_without_dask_names_the_extra_to_install(name: str) -> None:
    """Without `distributed` installed, a Dask example exits 1 with the pip line that adds it."""
    script = ROOT / "examples" / name
    blocked = (
        "import runpy, sys; sys.modules['distributed'] = None; "
        f"sys.argv = [{str(script)!r}, '--smoke']; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    completed = run_python("-c", blocked, path=(ROOT / "examples",))
    expected = f'examples/{name} needs Dask: pip install -e ".[dask]" in the qtasks checkout\n'
    assert (1, "", expected) == (completed.returncode, completed.stdout, completed.stderr)


def test_compare_engines_needs_no_pytest() -> None:
    """The engine comparison, a script, runs with pytest made unimportable."""
    pytest.importorskip("distributed")
    script = ROOT / "examples" / "compare_engines.py"
    blocked = (
        "import runpy, sys; sys.modules['pytest'] = None; "
        f"sys.argv = [{str(script)!r}, '--smoke']; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    completed = run_python("-c", blocked, timeout=90, path=(ROOT / "examples",))
    assert 0 == completed.returncode, completed.stdout + completed.stderr
    assert "smoke: ok" in completed.stdout
