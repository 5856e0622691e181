"""Each committed notebook is what its source builds: the lessons from ``tools/notebooks/*.py``,
the solution notebooks from ``streamkit.exercises``.

Notebooks are generated (``make notebooks``) and committed with their outputs. Someone who
edits a ``.ipynb`` by hand, or a source without rebuilding, gets a failing test that says which
cell differs and how to fix it, instead of a workshop whose notebook and source disagree.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
assert spec is not None and spec.loader is not None
build_notebooks = importlib.util.module_from_spec(spec)
sys.modules.setdefault("build_notebooks", build_notebooks)
spec.loader.exec_module(build_notebooks)

TARGETS = build_notebooks.targets([])


def cells_of(cells: list[nbformat.NotebookNode]) -> list[tuple[str, str, list[str]]]:
    """(type, source, tags) of every cell: what the builder decides, not what running adds."""
    return [
        (cell.cell_type, cell.source.strip(), sorted(cell.get("metadata", {}).get("tags", [])))
        for cell in cells
    ]


def test_every_source_has_its_notebook_and_back() -> None:
    built = {path.resolve() for _, path, _ in TARGETS}
    committed = {
        path.resolve()
        for path in (ROOT / "notebooks").rglob("*.ipynb")
        if ".ipynb_checkpoints" not in path.parts
    }
    assert committed - built == set(), "notebooks with no source in tools/notebooks/ (or streamkit/exercises)"
    assert built - committed == set(), "sources whose notebook was never built: run make notebooks"


@pytest.mark.parametrize("name,path,cells", TARGETS, ids=[name for name, _, _ in TARGETS])
def test_committed_notebook_matches_its_source(
    name: str, path: Path, cells: list[nbformat.NotebookNode]
) -> None:
    if not path.exists():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: run `make notebooks NB={name[:2]}`")
    committed = nbformat.read(str(path), as_version=4)
    expected, actual = cells_of(cells), cells_of(committed.cells)
    for index, (want, got) in enumerate(zip(expected, actual)):
        assert got == want, (
            f"{path.relative_to(ROOT)} cell {index} differs from its source; edit the source "
            f"(never the .ipynb) and run `make notebooks NB={name[:2]}`"
        )
    assert len(actual) == len(expected), (
        f"{path.relative_to(ROOT)} has {len(actual)} cells, its source {len(expected)}"
    )
