"""tests/qt.py for the fault scripts, which run with this folder first on sys.path."""

from pathlib import Path

SOURCE = Path(__file__).parents[1] / "qt.py"
exec(compile(SOURCE.read_text(), str(SOURCE), "exec"))  # noqa: S102 - the same module under this name
