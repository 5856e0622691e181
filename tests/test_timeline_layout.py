"""The timeline's layout, measured where it is drawn: text boxes in a real browser, lanes kept
while a picture is live.

Chromium lays the SVG out with its own fonts and reports each text's box (``getBBox``), so the
overlap check does not trust the kit's own width estimate. It skips where Chromium is missing.
"""

from __future__ import annotations

import pytest

from streamkit import compare, serve
from streamkit.demos import create_app
from streamkit.programs import find_program
from streamkit.timeline import render_svg
from streamkit.trace import Chunk, Trace
from tests.conftest import CHROMIUM_MISSING

FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


def made_up(path: str, content_type: str) -> Trace:
    trace = Trace(url=f"http://127.0.0.1:8000{path}", status=200, started=0.0, headers_at=0.01, ttfb=0.02)
    trace.headers["Content-Type"] = content_type
    trace.chunks = [Chunk(0.02 + 0.1 * k, 10, None, 10) for k in range(4)]
    trace.duration = 0.4
    return trace


@pytest.fixture(scope="module")
def page():
    if CHROMIUM_MISSING:
        pytest.skip(CHROMIUM_MISSING)
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_program("chromium"), headless=True, args=FLAGS
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def text_boxes(page, svg: str) -> list[dict]:
    page.set_content(f"<!doctype html><body style='margin:0'>{svg}</body>")
    return page.evaluate(
        """() => [...document.querySelectorAll('svg > g.panel > text')].map(t => {
            const b = t.getBBox();
            return {text: t.textContent, x: b.x, y: b.y, w: b.width, h: b.height};
        })"""
    )


def overlaps(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


@pytest.mark.parametrize("length", [5, 40, 90, 200])
def test_compare_headings_never_overlap_at_any_url_length(page, length: int) -> None:
    path = "/" + "x" * length + "?q=" + "y" * length
    traces = [made_up(path, "text/html; charset=utf-8"), made_up("/short", "text/event-stream")]
    labels = ["a label of fair length " * (1 + length // 60), "b"]
    svg = compare(*traces, labels=labels).to_svg()
    boxes = [box for box in text_boxes(page, svg) if box["w"] > 0]
    width = 900
    for box in boxes:
        assert box["x"] >= 0 and box["x"] + box["w"] <= width, box  # nothing runs off the card
    clashes = [(a["text"], b["text"]) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if overlaps(a, b)]
    assert clashes == []
    # The status is still there, whole, for every panel.
    assert sum(1 for box in boxes if box["text"].startswith("200 OK")) == 2


def test_a_live_picture_keeps_the_lanes_the_final_one_will_have() -> None:
    with serve(create_app()) as server:
        final = server.get("/slow?rows=3&delay_ms=50")
    assert final.produced and final.written
    so_far = Trace(url=final.url, status=final.status, headers=final.headers, chunks=final.chunks[:1],
                   headers_at=final.headers_at, ttfb=final.ttfb, started=final.started)  # fmt: skip
    live_svg, _ = render_svg([so_far], live=True, reserve=("produced", "written"))
    final_svg, _ = render_svg([final])
    for lane in ("produced", "written", "received"):
        assert f'class="lane lane-{lane}"' in live_svg and f'class="lane lane-{lane}"' in final_svg
    # Without reserving, a live client-only trace would draw one lane and grow later.
    assert 'class="lane lane-produced"' not in render_svg([so_far], live=True)[0]
    assert "still receiving" in live_svg and "over 0.00 ms" not in live_svg


def test_the_live_desc_is_true_of_what_has_arrived() -> None:
    trace = made_up("/x", "text/plain")
    svg, _ = render_svg([trace], live=True)
    assert "still receiving: so far 4 chunks (40 bytes)" in svg
