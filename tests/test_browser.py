"""A real browser renders a streamed page while it is still arriving.

Debian's chromium, headless, driven by playwright's Python API through ``executable_path``:
nothing downloads a browser. The demo's slow page makes one row every 400 ms. The test sees
the first row in the DOM, and the server's own recording shows the last row was produced
after that moment.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from streamkit import recording
from streamkit.demos import create_app
from streamkit.programs import find_program
from streamkit.server import serve
from tests.conftest import CHROMIUM_MISSING

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ROWS = 8
DELAY_MS = 400


@pytest.fixture
def browser_context(tmp_path: Path):
    if CHROMIUM_MISSING:
        pytest.skip(CHROMIUM_MISSING)
    from playwright import sync_api
    trace_id = uuid.uuid4().hex
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh user data dir
            executable_path=find_program("chromium"),
            headless=True,
            args=FLAGS,
            extra_http_headers={recording.TRACE_HEADER: trace_id},
        )
        try:
            yield context, trace_id
        finally:
            context.close()


def test_chromium_shows_the_first_rows_before_the_last_is_produced(browser_context, tmp_path: Path) -> None:
    context, trace_id = browser_context
    page = context.new_page()
    with serve(create_app()) as server:
        noted = recording.start(trace_id)  # the app notes when it produced each item
        try:
            page.goto(f"{server.url}/slow?rows={ROWS}&delay_ms={DELAY_MS}", wait_until="commit")
            page.wait_for_selector("#row-1", state="attached", timeout=15_000)
            seen_first = time.monotonic()
            state = page.evaluate(
                """() => ({
                    rows: [...document.querySelectorAll('#rows li')].map(li => li.id),
                    done: document.getElementById('done') !== null,
                    readyState: document.readyState,
                })"""
            )
            page.screenshot(path=str(tmp_path / "while-loading.png"))
            page.wait_for_selector("#done", state="attached", timeout=30_000)
            final_rows = page.eval_on_selector_all("#rows li", "items => items.map(li => li.id)")
            page.screenshot(path=str(tmp_path / "slow-page.png"), full_page=True)
            assert noted.finished.wait(5)
        finally:
            recording.finish(trace_id)

    # While the page was loading, the browser already had the first row(s), in order.
    assert state["readyState"] == "loading"
    assert not state["done"]
    assert state["rows"] and state["rows"] == [f"row-{n}" for n in range(1, len(state["rows"]) + 1)]
    assert len(state["rows"]) < ROWS
    # The server produced the last row after the browser showed the first one.
    last_produced = noted.produced[-1][0]
    assert seen_first < last_produced
    assert final_rows == [f"row-{n}" for n in range(1, ROWS + 1)]
    for name in ("while-loading.png", "slow-page.png"):
        shot = tmp_path / name
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 1000
