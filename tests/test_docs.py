"""Every code snippet in the documentation runs as written, and the reference names the whole API.

A fenced ``python`` block is, by the HTML comment on the line before it (see
CONTRIBUTING.md): a complete script (no comment), a complete pytest module
(``<!-- snippet: pytest -->``) or a part of a file the suite runs
(``<!-- snippet: from PATH -->``). Each runs headless in a fresh process.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import attrs
import pytest
from support import ROOT, run_pytest, run_python

import qtasks
import qtasks.debug

DOCS = sorted([*ROOT.glob("*.md"), *(ROOT / "docs").glob("*.md")])
SITE = ROOT / "tests" / "snippet_site"
FENCE = re.compile(r"^```(?P<lang>\S*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"<!-- snippet: (?P<kind>.*?) -->\s*\Z")
# Files the suite runs: the examples (test_examples.py) and the scripts of docs/examples (below).
RUN_FILES = sorted(
    [
        *(ROOT / "examples").glob("[!_]*.py"),
        *(ROOT / "docs" / "examples").glob("*.py"),
    ]
)


@attrs.frozen
class Snippet:
    """One fenced python block of a documentation file."""

    doc: Path
    line: int
    kind: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def snippets(lang: str = "python") -> list[Snippet]:
    """Return every fenced block in `lang` of the documentation, with the marker before it."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for fence in FENCE.finditer(text):
            if fence["lang"] != lang:
                continue
            marker = MARKER.search(text[: fence.start()].rstrip() + "\n")
            kind = marker["kind"] if marker else "script"
            line = text.count("\n", 0, fence.start()) + 1
            found.append(Snippet(doc, line, kind, fence["code"]))
    return found


SNIPPETS = snippets()


def by_kind(kind: str) -> list[Snippet]:
    return [snippet for snippet in SNIPPETS if snippet.kind.split(" ")[0] == kind]


def ids(items: list[Snippet]) -> list[str]:
    return [snippet.name for snippet in items]


def test_every_snippet_has_a_known_kind() -> None:
    """A marker with a typo cannot make a block silently untested."""
    unknown = [
        (snippet.name, snippet.kind)
        for snippet in SNIPPETS
        if not (snippet.kind in ("script", "pytest") or snippet.kind.startswith("from "))
    ]
    assert [] == unknown
    assert by_kind("script"), "the README has complete scripts"
    assert by_kind("from"), "the README shows parts of files"


@pytest.mark.parametrize("snippet", by_kind("script"), ids=ids(by_kind("script")))
def test_a_complete_script_runs_and_exits_zero(snippet: Snippet, tmp_path: Path) -> None:
    """The block, saved as a file and run with python, exits 0 with no traceback, its buttons clicked."""
    if re.search(r"^import distributed", snippet.code, re.MULTILINE) and not importlib.util.find_spec(
        "distributed"
    ):
        pytest.skip("needs Dask: pip install -e '.[dask]'")
    script = tmp_path / "snippet.py"
    script.write_text(snippet.code)
    completed = run_python(str(script), cwd=tmp_path, path=(SITE,), timeout=180)
    assert 0 == completed.returncode, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr


@pytest.mark.parametrize("snippet", by_kind("pytest"), ids=ids(by_kind("pytest")))
def test_a_test_module_passes(snippet: Snippet, tmp_path: Path) -> None:
    """The block, saved as a test module beside nothing but examples/ on the path, passes."""
    module = tmp_path / "test_snippet.py"
    module.write_text(snippet.code)
    completed = run_pytest(module, cwd=tmp_path, path=(ROOT / "examples",))
    assert 0 == completed.returncode, completed.stdout + completed.stderr
    assert re.search(r"\d+ passed", completed.stdout), completed.stdout
    assert "failed" not in completed.stdout


def lines_contained(block: str, text: str) -> bool:
    """Tell whether the lines of `block` appear in `text` in a row, all shifted by one indentation."""
    wanted = block.rstrip("\n").split("\n")
    have = text.split("\n")
    first = wanted[0]
    for start, line in enumerate(have):
        if not line.endswith(first):
            continue
        indent = line[: len(line) - len(first)]
        if indent.strip():
            continue
        window = have[start : start + len(wanted)]
        expected = [indent + each if each else "" for each in wanted]
        if [each.rstrip() for each in window] == [each.rstrip() for each in expected]:
            return True
    return False


@pytest.mark.parametrize("snippet", by_kind("from"), ids=ids(by_kind("from")))
def test_a_part_is_in_a_file_the_suite_runs(snippet: Snippet) -> None:
    """The block is contained, word for word, in the file its marker names, and the suite runs that file."""
    source = ROOT / snippet.kind.removeprefix("from ").strip()
    assert source in RUN_FILES, f"{snippet.name}: {source} is not a file the test suite runs"
    assert lines_contained(snippet.code, source.read_text()), (
        f"{snippet.name}: the block is not in {source.relative_to(ROOT)} as written"
    )


DOCS_EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))


@pytest.mark.parametrize("script", DOCS_EXAMPLES, ids=[path.name for path in DOCS_EXAMPLES])
def test_a_docs_example_checks_out(script: Path) -> None:
    """Each script behind the documentation's snippets runs headless and exits 0."""
    completed = run_python(str(script))
    assert 0 == completed.returncode, completed.stdout + completed.stderr
    assert f"{script.stem}: ok\n" == completed.stdout


def test_the_lines_contained_check_can_fail() -> None:
    """A block changed by a single word, or with its lines out of order, is not found."""
    text = "class A:\n    def f(self):\n        return 1\n\n    def g(self):\n        return 2\n"
    assert lines_contained("def f(self):\n    return 1\n", text)
    assert not lines_contained("def f(self):\n    return 2\n", text)
    assert not lines_contained("def g(self):\n    return 1\n", text)


def test_the_reference_names_every_public_name() -> None:
    """docs/reference.md has an entry for each name in qtasks.__all__."""
    reference = (ROOT / "docs" / "reference.md").read_text()
    missing = [name for name in qtasks.__all__ if f"qtasks.{name}" not in reference]
    assert [] == missing


def test_the_reference_names_every_debug_name() -> None:
    """docs/reference.md has an entry for each name in qtasks.debug.__all__."""
    reference = (ROOT / "docs" / "reference.md").read_text()
    missing = [name for name in qtasks.debug.__all__ if f"qtasks.debug.{name}" not in reference]
    assert [] == missing


def test_every_install_line_installs_this_checkout() -> None:
    """No documented pip install can fetch a project of the index named qtasks: each installs from here."""
    lines = [
        (path.relative_to(ROOT), line.strip())
        for path in [*DOCS, *RUN_FILES, *(ROOT / "qtasks").glob("*.py")]
        for line in path.read_text().splitlines()
        if "pip install" in line
    ]
    assert lines, "the README shows how to install"
    bad = [(path, line) for path, line in lines if not re.search(r'pip install -e (\.|"\.\[\w+\]")', line)]
    assert [] == bad


def test_the_readme_starts_with_the_two_commands() -> None:
    """The README's first commands install and run the demo, then install and run the tests."""
    readme = (ROOT / "README.md").read_text()
    [first, *_] = [fence["code"] for fence in FENCE.finditer(readme) if fence["lang"] == "bash"]
    commands = [line.split("#")[0].strip() for line in first.splitlines()]
    expected = [
        'python -m pip install -e ".[pyqt5]" && python examples/fan_out.py',
        'python -m pip install -e ".[test]" && python -m pytest',
    ]
    assert expected == commands


def test_the_readme_first_example_is_a_whole_program() -> None:
    """The README's first python block is a complete script: imports, a QApplication, and its exec."""
    [first, *_] = [snippet for snippet in SNIPPETS if snippet.doc.name == "README.md"]
    assert "script" == first.kind
    for needed in ("import qtasks", "QApplication(sys.argv)", "app.exec_()", "@qtasks.slot"):
        assert needed in first.code
