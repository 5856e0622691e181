"""A learner's view: a real JupyterLab, in Chromium, runs lessons top to bottom.

The test starts JupyterLab on 127.0.0.1 with a token and its own temporary config, data,
runtime and settings directories, opens a *copy* of a lesson notebook in headless Chromium
(playwright's sync API, Debian's chromium through ``executable_path``), chooses
Run > Run All Cells in the menu, waits until every code cell has run, and checks what the
learner sees:

* no error output, except in the cells tagged ``raises-exception`` (the planned ones);
* every timeline ``<img>`` in the outputs has loaded (``naturalWidth > 0``);
* every code cell has run (Run All went on past the planned errors);
* a cell with ``live=True`` redraws its picture at least twice while its stream runs (a
  ``MutationObserver`` counts the changes to that cell's output area while its prompt says
  ``[*]``).

Lessons 00 and 01 have live views (they change 4-6 times while running; a plain cell's output
changes once); lesson 03 has the planned errors. Skips, naming the package, when
Chromium, playwright or JupyterLab is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamkit.browser import LAUNCH_ARGS
from tests.conftest import CHROMIUM_MISSING
from tests.jupyter_server import running_jupyter

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LESSONS = ["00_welcome", "01_generators", "03_context"]
START_TIMEOUT = 60.0  # seconds for JupyterLab to answer (it is slow on a loaded machine)
RUN_TIMEOUT = int(
    os.environ.get("STREAMKIT_LAB_RUN_TIMEOUT", 90_000)
)  # milliseconds for Run All to finish one lesson


def _lab_missing() -> str | None:
    if CHROMIUM_MISSING:
        return CHROMIUM_MISSING
    import importlib.util

    if importlib.util.find_spec("jupyterlab") is None:
        return "JupyterLab is not installed: pip install 'streamkit-http[lab]'"
    return None


pytestmark = pytest.mark.skipif(_lab_missing() is not None, reason=str(_lab_missing()))

SETTINGS = {
    # Every cell in the DOM, in notebook order (no windowing), so cells can be found by index.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # No news or update checks: nothing to fetch, no toast over the menu.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A running JupyterLab serving a temporary folder: its url, token and folder."""
    home = tmp_path_factory.mktemp("lab")
    folder = home / "notebooks"
    folder.mkdir()
    settings = home / "settings"
    for name, value in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    options = [
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.news_url=",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: the notebook's model
    ]
    with running_jupyter(
        "jupyterlab", home, name="JupyterLab", root=folder, options=options, env=env, timeout=START_TIMEOUT
    ) as jupyter:
        yield {"url": jupyter.url, "token": jupyter.token, "folder": folder, "log": jupyter.log}


@pytest.fixture(scope="module")
def browser(lab: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from streamkit.programs import find_program

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=find_program("chromium"), args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# Runs in the page (JupyterLab exposes its app as window.jupyterapp).
NOTEBOOK = "window.jupyterapp.shell.currentWidget"
KERNEL_IDLE = f"""() => {{
  const w = window.jupyterapp && {NOTEBOOK};
  if (!w || !w.content || !w.context || !w.context.path.endsWith('.ipynb')) return false;
  const kernel = w && w.sessionContext && w.sessionContext.session
    && w.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle';
}}"""

# Every code cell has run (the outputs were cleared first, so a count is a new one) and the
# kernel is idle again.
ALL_RUN = f"""() => {{
  const w = {NOTEBOOK};
  const cells = [...w.content.model.cells];
  return w.sessionContext.session.kernel.status === 'idle'
    && cells.every(cell => cell.type !== 'code' || cell.executionCount !== null);
}}"""

# What the learner sees once Run All is over: per cell, its outputs (from the model) and its
# images (from the page).
SEEN = f"""() => {{
  const w = {NOTEBOOK};
  const nodes = [...w.node.querySelectorAll('.jp-Cell')];
  return [...w.content.model.cells].map((cell, i) => ({{
    code: cell.type === 'code',
    count: cell.type === 'code' ? cell.executionCount : null,
    errors: cell.type !== 'code' ? [] : cell.outputs.toJSON()
      .filter(o => o.output_type === 'error' || (o.output_type === 'stream' && o.name === 'stderr'))
      .map(o => o.output_type === 'error'
        ? `${{o.ename}}: ${{o.evalue}}` : String(o.text).slice(0, 300)),
    images: [...(nodes[i] ? nodes[i].querySelectorAll('.jp-OutputArea img') : [])]
      .map(img => ({{complete: img.complete, width: img.naturalWidth, src: img.src.slice(0, 40)}})),
  }}));
}}"""

# Counts the changes to one cell's output area while that cell runs ("[*]" in its prompt).
WATCH = """
(index) => {
  const cell = window.jupyterapp.shell.currentWidget.node.querySelectorAll('.jp-Cell')[index];
  window.__redraws = 0;
  new MutationObserver(records => {
    const inOutput = records.some(r => (r.target.closest && r.target.closest('.jp-OutputArea'))
      || [...r.addedNodes].some(n => n.closest && n.closest('.jp-OutputArea')));
    const prompt = (cell.querySelector('.jp-InputPrompt') || {}).innerText || '';
    if (inOutput && prompt.includes('*')) window.__redraws += 1;
  }).observe(cell, {childList: true, subtree: true, attributes: true, characterData: true});
}
"""


@pytest.mark.parametrize("lesson", LESSONS)
def test_run_all_in_jupyterlab_shows_what_the_lesson_promises(
    lab: dict[str, Any], browser: Any, lesson: str
) -> None:
    source = NOTEBOOKS / f"{lesson}.ipynb"
    shutil.copy(source, lab["folder"] / source.name)  # a copy: the committed one stays as it is
    cells = json.loads(source.read_text())["cells"]
    planned = {i for i, c in enumerate(cells) if "raises-exception" in c["metadata"].get("tags", [])}
    live = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and "live=True" in "".join(c["source"]).split("#")[0]
    ]

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # A workspace of its own: only this notebook open, whatever ran before.
        page.goto(f"{lab['url']}/lab/workspaces/{lesson}/tree/{source.name}?token={lab['token']}&reset")
        page.wait_for_function(KERNEL_IDLE, timeout=60_000, polling=100)
        page.wait_for_function(
            f"{NOTEBOOK}.node.querySelectorAll('.jp-Cell').length === {len(cells)}", timeout=60_000
        )
        # Clear first, so that each execution count seen afterwards is a new one.
        page.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        for index in live[:1]:
            page.evaluate(WATCH, index)
        began = time.monotonic()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(ALL_RUN, timeout=RUN_TIMEOUT, polling=200)
        except Exception:  # a cell never ran: say which, and what the cells showed
            page.screenshot(path=str(lab["folder"].parent / f"{lesson}-stuck.png"))
            seen = page.evaluate(SEEN)
            stuck = [(i, s["count"], s["errors"][:1]) for i, s in enumerate(seen) if s["code"]]
            pytest.fail(f"{lesson}: Run All did not finish; cells: {stuck}")
        took = time.monotonic() - began
        page.wait_for_timeout(300)  # the last outputs' images decode
        seen = page.evaluate(SEEN)
        redraws = page.evaluate("window.__redraws || 0") if live else None
    finally:
        page.close()

    unplanned = {i: s["errors"] for i, s in enumerate(seen) if s["errors"] and i not in planned}
    assert not unplanned, f"{lesson}: error output in cells not tagged raises-exception: {unplanned}"
    for index in planned:
        assert seen[index]["errors"], f"{lesson}: cell {index} is tagged raises-exception but did not raise"
    images = [image for s in seen for image in s["images"]]
    assert any(image["src"].startswith("data:image/svg+xml") for image in images), (
        f"{lesson}: no timeline <img> in the outputs: {images}"
    )
    not_loaded = [image for image in images if not (image["complete"] and image["width"] > 0)]
    assert not not_loaded, f"{lesson}: images that did not load: {not_loaded}"
    if live:
        # the first picture, then at least two redraws while the stream ran
        assert redraws is not None and redraws >= 3, f"{lesson}: live cell changed {redraws} times"
    print(f"{lesson}: Run All took {took:.1f} s, {len(images)} images, live redraws {redraws}")
