"""pytest set-up for the notebooks: strict nbval with our sanitize file, and a timing summary.

``pyproject.toml`` turns on ``--nbval --nbval-current-env`` for the whole suite, so plain
``pytest`` (``make test``) runs every notebook here and in ``solutions/`` and compares each
cell's output with the committed one. This file adds:

* ``--nbval-sanitize-with notebooks/sanitize.cfg`` when no sanitize file was given (found from
  this file, so it works from any working directory);
* the small default size for lesson 05 (``STREAMKIT_BIG_CSV`` is removed), which is what the
  committed outputs show;
* a skip, naming the package to install, for every cell of a notebook that needs a system
  program this machine lacks (nginx for lesson 07, Chromium and playwright for lesson 09, and their solutions). What a notebook needs is
  its metadata's ``"streamkit": {"needs": [...]}`` if it has one, else its lesson module's
  ``NEEDS`` (``streamkit.exercises.lesson07.NEEDS``); see :mod:`streamkit.programs`;
* at the end of the run, the time nbval took in total and per notebook.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SANITIZE = HERE / "sanitize.cfg"
BUDGET = 240.0  # seconds: the whole nbval run should stay under four minutes on 2 cores

_cells: dict[str, int] = defaultdict(int)
_first: dict[str, float] = {}
_last: dict[str, float] = {}


def pytest_configure(config: pytest.Config) -> None:
    option = config.option
    if getattr(option, "nbval", False) or getattr(option, "nbval_lax", False):
        if not getattr(option, "nbval_sanitize_with", None):
            option.nbval_sanitize_with = str(SANITIZE)
        os.environ.pop("STREAMKIT_BIG_CSV", None)


def notebook_needs(path: Path) -> tuple[str, ...]:
    """The system programs the notebook at ``path`` runs (``"nginx"``, ``"chromium"``)."""
    try:
        metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        metadata = {}
    declared = metadata.get("streamkit", {}).get("needs")
    if declared is not None:
        return tuple(declared)
    lesson = path.name[:2]
    if not lesson.isdigit():
        return ()
    try:
        module = importlib.import_module(f"streamkit.exercises.lesson{lesson}")
    except ImportError:
        return ()
    return tuple(getattr(module, "NEEDS", ()))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons: dict[Path, str | None] = {}
    for item in items:
        path = Path(str(item.path))
        if path.suffix != ".ipynb":
            continue
        if path not in reasons:
            reasons[path] = None
            for program in notebook_needs(path):
                from streamkit.exercises import why_missing

                missing = why_missing(program)
                if missing:
                    reasons[path] = f"{path.name} runs {program}: {missing}"
                    break
        reason = reasons[path]
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path, _, cell = report.nodeid.partition("::")
    if not path.endswith(".ipynb"):
        return
    start = getattr(report, "start", None) or time.time() - report.duration
    stop = getattr(report, "stop", None) or time.time()
    _first[path] = min(_first.get(path, start), start)
    _last[path] = max(_last.get(path, stop), stop)
    if report.when == "call":
        _cells[path] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if not _first:
        return
    total = max(_last.values()) - min(_first.values())
    terminalreporter.section("nbval timing")
    for path in sorted(_first):
        took = _last[path] - _first[path]
        terminalreporter.write_line(f"{path:<48} {_cells[path]:>4} cells  {took:6.1f} s")
    verdict = "within" if total <= BUDGET else "OVER"
    terminalreporter.write_line(
        f"nbval total: {len(_first)} notebooks, {sum(_cells.values())} cells, {total:.1f} s "
        f"({verdict} the {BUDGET:.0f} s budget)"
    )
