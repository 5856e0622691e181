"""On a machine without nginx and chromium, everything that needs them skips, naming the package.

A representative subset of the suite runs in a child pytest with both programs hidden: the
nginx tests (servers, exercise checks, kernel death), lesson 07's notebook and its solutions
(nbval), and the browser tests. Nothing may fail or error; the tests that need a program must
be skipped with a reason naming the Debian package to install (``nginx-light``, ``chromium``)
and, for chromium, the ``browser`` extra.

The programs are hidden twice over: by the lookup override the kit honours
(``STREAMKIT_NGINX=/nonexistent``, see :mod:`streamkit.programs`), which works anywhere, and,
where a private mount namespace can be made (root), by ``tools/without_programs.sh``, which
bind-mounts /dev/null over the executables themselves.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HIDE = ROOT / "tools" / "without_programs.sh"

NGINX_TESTS = [
    "tests/test_production.py",
    "tests/test_exercises_lesson07.py",
    "tests/test_kernel_death.py",
    "notebooks/07_production.ipynb",
    "notebooks/solutions/07_solutions.ipynb",
    "tests/test_exercises.py::test_solution_passes[07.1]",
    "tests/test_exercises.py::test_solution_passes[07.2]",
    "tests/test_exercises.py::test_placeholder_is_not_attempted[07.1]",
    "tests/test_notebooks_rerun.py::test_lesson_runs_twice_in_one_kernel[07_production]",
]
CHROMIUM_TESTS = ["tests/test_browser.py", "tests/test_jupyterlab.py", "tests/test_timeline_layout.py"]
# Deselected: tests that need neither program (they would only make the run slower).
NEEDS_NEITHER = "not gunicorn and not waitress and not gzip and not url and not unknown_proxy"


def run_hidden(tmp_path: Path, prefix: list[str], env: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Run the subset in a child pytest; {test id: (outcome, skip reason or failure text)}."""
    report = tmp_path / "report.xml"
    targets = [path for path in NGINX_TESTS + CHROMIUM_TESTS if (ROOT / path.partition("::")[0]).exists()]
    command = [
        *prefix,
        sys.executable, "-m", "pytest", *targets,
        "-k", f"{NEEDS_NEITHER} or nginx or 07 or chromium or browser or lab or ipynb",
        "-p", "no:cacheprovider", "-q", f"--junitxml={report}",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert report.exists(), f"pytest did not run:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    outcomes: dict[str, tuple[str, str]] = {}
    for case in ET.parse(report).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome, text = "passed", ""
        for child in case:
            if child.tag in ("skipped", "failure", "error"):
                outcome, text = child.tag, child.get("message") or child.text or ""
        outcomes[name] = outcome, text
    bad = {name: text[:300] for name, (outcome, text) in outcomes.items() if outcome in ("failure", "error")}
    assert not bad, f"failed with the programs hidden:\n{bad}\n{done.stdout[:6000]}"
    return outcomes


def check_skips(outcomes: dict[str, tuple[str, str]]) -> None:
    def skipped(part: str) -> list[str]:
        return [text for name, (outcome, text) in outcomes.items() if part in name and outcome == "skipped"]

    for part in (
        "test_exercises",
        "test_notebooks_rerun",
        "test_production",
        "test_exercises_lesson07",
        "test_kernel_death",
        "07_production",
        "07_solutions",
    ):
        reasons = skipped(part)
        assert reasons, f"nothing in {part} skipped with nginx hidden"
        assert all("nginx-light" in reason for reason in reasons), reasons
    # the notebooks skip every cell, not only some
    for notebook in ("07_production", "07_solutions"):
        cells = [o for name, (o, _) in outcomes.items() if notebook in name]
        assert cells and set(cells) == {"skipped"}, cells
    reasons = skipped("test_browser") + skipped("test_jupyterlab") + skipped("test_timeline_layout")
    # test_browser's check of the "where it looked" reason needs Chromium hidden from its fixed
    # places too: under the lookup override alone it skips for that, naming the place found.
    reasons = [reason for reason in reasons if "is installed in a fixed place here" not in reason]
    assert reasons, "nothing needing chromium skipped with chromium hidden"
    assert all("chromium" in reason and "streamkit-http[browser]" in reason for reason in reasons), reasons
    # nginx tests that do not need nginx still ran
    assert any(o == "passed" for name, (o, _) in outcomes.items() if "test_production" in name)


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**env, **extra}


def test_nginx_and_chromium_hidden_by_the_lookup_override_skip(tmp_path: Path) -> None:
    env = child_env(STREAMKIT_NGINX="/nonexistent/nginx", STREAMKIT_CHROMIUM="/nonexistent/chromium")
    check_skips(run_hidden(tmp_path, [], env))


def _can_hide() -> bool:
    try:
        return subprocess.run([str(HIDE), "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(
    sys.platform != "linux" or not _can_hide(),
    reason="needs a private mount namespace (root or user namespaces, Linux)",
)
def test_nginx_and_chromium_hidden_by_a_mount_namespace_skip(tmp_path: Path) -> None:
    env = child_env()
    env.pop("STREAMKIT_NGINX", None)
    env.pop("STREAMKIT_CHROMIUM", None)
    check_skips(run_hidden(tmp_path, [str(HIDE)], env))
