"""Build the workshop notebooks from their sources and run them, so they are committed with outputs.

Sources live in ``tools/notebooks/NN_name.py`` as plain Python in the "percent" format that
Jupytext and VS Code also read:

* ``# %%`` starts a code cell; ``# %% tags=["raises-exception"]`` gives it cell tags;
* ``# %% [markdown]`` starts a Markdown cell whose lines are comments (``# `` is removed).

The solution notebooks (``notebooks/solutions/NN_solutions.ipynb``) are made from
:mod:`streamkit.exercises`: each exercise's ``solution_code`` (exactly what ``solution()``
shows), followed by its ``check()``.

Every notebook is run top to bottom in a fresh kernel with nbclient, from the ``notebooks``
folder, and written back with its outputs. ``make notebooks`` runs this script::

    python tools/build_notebooks.py            # build and run every notebook
    python tools/build_notebooks.py 03 05      # only the lessons whose names start so
    python tools/build_notebooks.py --no-run   # write the cells, do not run them

Each notebook runs twice in the same kernel (all cells, then all cells again), which proves it
is safe to re-run; the first run's outputs are kept. ``--once`` skips the second run.

Lesson 05 reads ``STREAMKIT_BIG_CSV`` for its size; this script removes it, so the committed
outputs are those of the small default that ``make test`` checks.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "tools" / "notebooks"
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"

MARKER = re.compile(r"^# %%(?P<markdown>\s*\[markdown\])?(?P<options>.*)$")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
# Variables the notebooks read; unset while building so outputs match what CI checks.
UNSET = ("STREAMKIT_BIG_CSV",)


def parse_source(text: str) -> list[nbformat.NotebookNode]:
    """Cells from a percent-format source (anything before the first ``# %%`` is skipped)."""
    cells: list[nbformat.NotebookNode] = []
    kind: str | None = None
    tags: list[str] = []
    lines: list[str] = []

    def flush() -> None:
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = list(tags)
        cells.append(cell)

    for line in text.splitlines():
        found = MARKER.match(line)
        if found:
            flush()
            kind = "markdown" if found.group("markdown") else "code"
            tags = _tags(found.group("options"))
            lines = []
        elif kind == "markdown":
            lines.append(re.sub(r"^# ?", "", line))
        elif kind == "code":
            lines.append(line)
    flush()
    return cells


def _tags(options: str) -> list[str]:
    found = re.search(r"tags\s*=\s*(\[.*?\])", options)
    return list(ast.literal_eval(found.group(1))) if found else []


def solution_cells(lesson: str) -> list[nbformat.NotebookNode]:
    """The cells of one lesson's solution notebook, from streamkit.exercises."""
    import importlib

    module = importlib.import_module(f"streamkit.exercises.lesson{lesson}")
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [
        md(
            f"# Solutions for lesson {lesson}\n\n"
            f"One way to solve each exercise of lesson {lesson}, checked for real by the same "
            f"`check()` you call in the lesson. Try the exercises yourself first: these "
            f"solutions are also what `solution()` shows.\n\n"
            f"Running this notebook is part of the test suite, so every exercise is known to be "
            f"solvable."
        ),
        code(f"from streamkit.exercises import lesson{lesson} as ex"),
    ]
    setup = getattr(module, "SETUP", "").strip()
    if setup:
        cells.append(md("The lesson's app and server, which the exercises use:"))
        cells.append(code(setup))
    for exercise in module.EXERCISES:
        n = exercise.number
        cells.append(md(f"## Exercise {lesson}.{n}: {exercise.title}"))
        cells.append(code(exercise.solution_code.strip()))
        cells.append(code(f"result{n} = ex.q{n}.check({exercise.answer_name})\nresult{n}"))
    names = ", ".join(f"result{e.number}" for e in module.EXERCISES)
    cells.append(md("Every solution passed its check:"))
    cells.append(code(f"results = [{names}]\nassert all(result.correct for result in results), results\nlen(results)"))
    return cells


def new_notebook(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells
    notebook.metadata = {
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
    }
    for number, cell in enumerate(cells):
        cell.id = f"c{number:03d}"  # stable ids keep diffs small
    return notebook


def run(notebook: nbformat.NotebookNode, folder: Path, twice: bool = True) -> None:
    """Run every cell in a fresh kernel started in ``folder``; cells tagged raises-exception may raise.

    With ``twice``, all the cells run a second time in the same kernel (re-run safety: a
    learner runs a notebook again without restarting), and the first run's outputs are kept.
    """
    cells = notebook.cells
    if twice:
        notebook.cells = cells + [nbformat.from_dict(copy.deepcopy(dict(cell))) for cell in cells]
        for number, cell in enumerate(notebook.cells[len(cells):]):
            cell.id = f"again{number:03d}"
    saved = {name: os.environ.pop(name) for name in UNSET if name in os.environ}
    try:
        client = NotebookClient(
            notebook,
            timeout=600,
            kernel_name=KERNELSPEC["name"],
            resources={"metadata": {"path": str(folder)}},
            record_timing=False,
        )
        try:
            client.execute()
        except Exception:
            failed = Path(tempfile.gettempdir()) / f"{Path(str(folder)).name}-failed.ipynb"
            nbformat.write(notebook, str(failed))
            print(f"a cell failed; the notebook as far as it ran is in {failed}", file=sys.stderr)
            raise
    finally:
        os.environ.update(saved)
        notebook.cells = cells
    notebook.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}


def targets(selected: list[str]) -> list[tuple[str, Path, list[nbformat.NotebookNode]]]:
    """(name, output path, cells) for every notebook, or those whose names start with ``selected``."""
    found = []
    for source in sorted(SOURCES.glob("[0-9][0-9]_*.py")):
        found.append((source.stem, NOTEBOOKS / f"{source.stem}.ipynb", parse_source(source.read_text())))
        lesson = source.stem[:2]
        try:
            cells = solution_cells(lesson)
        except ModuleNotFoundError:
            continue
        name = f"{lesson}_solutions"
        found.append((name, SOLUTIONS / f"{name}.ipynb", cells))
    if selected:
        found = [item for item in found if any(item[0].startswith(prefix) for prefix in selected)]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="build only notebooks whose names start with these")
    parser.add_argument("--no-run", action="store_true", help="write the cells without running them")
    parser.add_argument("--once", action="store_true", help="run each notebook once, not twice in one kernel")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    chosen = targets(args.names)
    if not chosen:
        print(f"no notebook matches {args.names}", file=sys.stderr)
        return 1
    for _name, path, cells in chosen:
        notebook = new_notebook(cells)
        started = time.monotonic()
        if not args.no_run:
            run(notebook, path.parent, twice=not args.once)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.validate(notebook)
        nbformat.write(notebook, str(path))
        took = "" if args.no_run else f" ({time.monotonic() - started:.1f} s)"
        print(f"wrote {path.relative_to(ROOT)}{took}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
