"""Every lesson notebook survives being run twice in one kernel, as learners do.

A learner runs a notebook, edits something, and runs it all again without restarting the
kernel: servers are still up, names are already defined. ``make notebooks`` proves the lessons
cope, but only when someone rebuilds them. This test proves it on every ``make test``: each
lesson in ``notebooks/`` (not the solutions) runs top to bottom twice in one fresh kernel, and
no cell may raise on either run except those tagged ``raises-exception``, which show an error
on purpose.

It runs the notebooks one after the other (the machine has two cores); the kernel name and
the environment variables to unset come from ``tools/build_notebooks.py``, so this runs the
notebooks as the builder does.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
CELL_TIMEOUT = 300  # seconds: only a hung cell gets anywhere near this


def _load_builder():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = _load_builder()
LESSONS = sorted(builder.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _missing_requirement(path: Path) -> str | None:
    """Why this machine cannot run the notebook at all (None: it can)."""
    from streamkit.exercises import lesson_unavailable

    return lesson_unavailable(path.name[:2])


def test_every_lesson_is_covered() -> None:
    sources = sorted(path.stem for path in (ROOT / "tools" / "notebooks").glob("[0-9][0-9]_*.py"))
    assert [path.stem for path in LESSONS] == sources


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.stem)
def test_lesson_runs_twice_in_one_kernel(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = _missing_requirement(path)
    if reason:
        pytest.skip(reason)
    for name in builder.UNSET:  # the committed outputs are those of the defaults
        monkeypatch.delenv(name, raising=False)

    code = [cell for cell in nbformat.read(str(path), as_version=4).cells if cell.cell_type == "code"]
    assert code, f"{path.name} has no code cells"
    cells, labels = [], []
    for run in ("first", "second"):
        for number, cell in enumerate(code, start=1):
            again = nbformat.from_dict(copy.deepcopy(dict(cell)))
            again.outputs, again.execution_count = [], None
            cells.append(again)
            labels.append(f"code cell {number} of {len(code)}, {run} run")
    notebook = builder.new_notebook(cells)  # also gives the copies unique ids

    current = [0]
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name=builder.KERNELSPEC["name"],
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        on_cell_start=lambda cell, cell_index: current.__setitem__(0, cell_index),
    )
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(
            f"{path.name}: {labels[current[0]]} raised (run twice in one kernel):\n{error}", pytrace=False
        )

    second = cells[len(code) :]
    assert all(cell.execution_count is not None for cell in second), "the second run stopped early"
    for cell in second:  # a tagged cell must still raise on the second run, as the lesson says
        if "raises-exception" in cell.metadata.get("tags", []):
            assert any(output.output_type == "error" for output in cell.outputs), (
                f"{path.name}: a cell tagged raises-exception did not raise on the second run:\n{cell.source}"
            )
