"""A real browser renders a streamed page while it is still arriving; the browser lane times it.

Debian's chromium, headless, driven by playwright's Python API through ``executable_path``:
nothing downloads a browser. The demo's slow page makes one row every 400 ms. The test sees
the first row in the DOM, and the server's own recording shows the last row was produced
after that moment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamkit import App, Response, browser, recording, request
from streamkit.demos import create_app
from streamkit.probe import ProbeError
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
            page.goto(
                f"{server.url}/slow?rows={ROWS}&delay_ms={DELAY_MS}",
                wait_until="commit",
            )
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


# -- the browser lane (streamkit.browser) ----------------------------------------------------

needs_browser = pytest.mark.skipif(
    browser.unavailable_reason() is not None, reason=browser.unavailable_reason() or ""
)

PARTS = 5
GAP = 0.3  # seconds between parts


def _lane_app() -> App:
    app = App(__name__, template_folder=None)

    @app.route("/slow.js")
    def slow_js() -> Response:
        time.sleep(2.0)  # a script in <head> that loads after the whole stream is in (1.5 s)
        return Response("window.loaded = true;", mimetype="text/javascript")

    @app.route("/rows")
    def rows() -> Response:
        head = '<script src="/slow.js"></script>' if "script" in request.args else ""

        def generate() -> Iterator[str]:
            yield f"<!doctype html><html><head><meta charset=utf-8><title>rows</title>{head}</head><body><table>"
            for n in range(1, PARTS + 1):
                time.sleep(GAP)
                yield f"<tr><td>row {n}</td></tr>\n"
            yield "</table></body></html>"

        return Response(generate(), mimetype="text/html")

    @app.route("/feed")
    def feed() -> Response:
        page = (
            "<!doctype html><meta charset=utf-8><ul id=log></ul><script>"
            "const s = new EventSource('/events');"
            "s.onmessage = (e) => { const li = document.createElement('li'); li.textContent = e.data;"
            " document.getElementById('log').append(li); if (e.data === 'event 5') s.close(); };"
            "</script>"
        )
        return Response(page, mimetype="text/html")

    @app.route("/events")
    def events() -> Response:
        def generate() -> Iterator[str]:
            for n in range(1, PARTS + 1):
                time.sleep(GAP)
                yield f"data: event {n}\n\n"

        return Response(generate(), mimetype="text/event-stream")

    @app.route("/endless")
    def endless() -> Response:
        def generate() -> Iterator[str]:
            yield "<!doctype html><meta charset=utf-8><ul>"
            n = 0
            while True:
                n += 1
                yield f"<li>tick {n}</li>"
                time.sleep(0.1)

        return Response(generate(), mimetype="text/html")

    @app.route("/nocharset")
    def nocharset() -> Response:
        def generate() -> Iterator[str]:
            yield "<!doctype html><html><head></head><body>"
            for n in range(1, PARTS + 1):
                time.sleep(GAP)
                yield f"<p>r\u00e9ponse {n}</p>"  # UTF-8 bytes, but no charset anywhere

        response = Response(generate(), mimetype="text/html")
        response.headers["Content-Type"] = "text/html"
        return response

    @app.route("/download")
    def download() -> Response:
        return Response(["a,b\n", "1,2\n"], mimetype="text/csv")

    @app.route("/plain")
    def plain() -> Response:
        def generate() -> Iterator[str]:
            for n in range(1, PARTS + 1):
                yield f"line {n}\n"  # 35 bytes in all: well under the 1 KiB Chromium sniffs
                time.sleep(GAP)

        response = Response(generate(), mimetype="text/plain")
        if "nosniff" in request.args:
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app


@pytest.fixture(scope="module")
def lane_server():
    if browser.unavailable_reason() is not None:
        pytest.skip(browser.unavailable_reason() or "")
    with serve(_lane_app()) as server:
        yield server
    browser.stop()


@needs_browser
def test_a_slow_html_stream_is_shown_in_steps_before_it_ends(lane_server) -> None:
    trace = lane_server.get("/rows", browser=True)
    assert trace.status == 200 and trace.error is None and not trace.stopped
    steps = [event for event in trace.browser_shown or [] if event.size > 0]
    assert len(steps) >= 3, trace.browser_shown
    assert trace.produced and len(trace.produced) == PARTS + 2  # recorded for the browser's request
    last_produced = trace.produced[-2].t  # the last row
    assert steps[0].t < last_produced
    # Each row's text reached the page after its bytes reached the browser.
    received = trace.browser_received or []
    assert len(received) >= 3 and [e.t for e in received] == sorted(e.t for e in received)
    assert steps[0].t >= received[0].t
    assert trace.body.decode().count("<tr>") == PARTS
    assert "monotonic" in (trace.note or "") and "Chromium" in (trace.note or "")
    assert "showed it as text/html, decoded as UTF-8" in (trace.note or "")


@needs_browser
def test_small_text_plain_is_held_for_sniffing_unless_nosniff(lane_server) -> None:
    sniffed = lane_server.get("/plain", browser=True)
    plain = lane_server.get("/plain?nosniff=1", browser=True)
    for trace in (sniffed, plain):
        assert trace.status == 200 and trace.body.decode().count("line") == PARTS
        assert trace.browser_shown and trace.browser_received
    # Sniffed: nothing reached the page (nor left the network stack) before the app had made
    # its last part; what was shown came after what was received.
    last = sniffed.produced[-1].t
    first_shown = next(e for e in sniffed.browser_shown if e.size > 0)
    assert sniffed.browser_received[0].t > last
    assert first_shown.t >= sniffed.browser_received[-1].t
    # nosniff: the first line was on the page before the app made its last one.
    last = plain.produced[-1].t
    steps = [e for e in plain.browser_shown if e.size > 0]
    assert steps[0].t < last and len(steps) >= 3
    assert steps[0].t >= plain.browser_received[0].t


@needs_browser
def test_probe_with_browser_has_no_server_side(lane_server) -> None:
    from streamkit import probe

    trace = probe(lane_server.url + "/rows", browser=True)
    assert trace.produced is None and trace.written is None
    assert trace.browser_received and trace.chunks and len(trace.browser_received) == len(trace.chunks)
    assert [e.size for e in trace.browser_received] == [c.size for c in trace.chunks]
    assert trace.body.endswith(b"</html>") and trace.verdict == "streamed"
    # Another method is sent by the kit's fetch() page (tests/test_browser_post.py): here a 405
    posted = probe(lane_server.url + "/rows", method="POST", browser=True)
    assert posted.method == "POST" and posted.status == 405


@needs_browser
def test_follow_records_the_stream_a_page_reads(lane_server) -> None:
    trace = lane_server.get("/feed", browser=True, follow="/events")
    assert trace.url.endswith("/events") and trace.error is None
    assert trace.headers["Content-Type"].startswith("text/event-stream")
    made = [e.t for e in trace.produced or [] if e.size]
    shown = [e for e in trace.browser_shown or [] if e.size]
    assert len(made) == PARTS and len(shown) == PARTS
    assert shown[0].t < made[-1]
    with pytest.raises(ValueError, match="browser=True"):
        lane_server.get("/feed", follow="/events")


@needs_browser
def test_the_browser_is_reused_and_leaves_nothing_after_stop(lane_server) -> None:
    browser.stop()
    before_threads = {t.ident for t in threading.enumerate()}
    # Other children of this process (the probe's reader worker, say) are not the browser's.
    others = _descendants(os.getpid())
    first = browser.browse(lane_server.url + "/plain?nosniff=1")
    helpers = _descendants(os.getpid()) - others
    main = _main_processes(helpers)
    worker_threads = {t.ident for t in threading.enumerate()} - before_threads
    assert browser.running() and len(main) == 2
    for _ in range(3):
        again = browser.browse(lane_server.url + "/plain?nosniff=1")
        assert again.body == first.body
    assert _main_processes(_descendants(os.getpid()) - others) == main  # the same driver and Chromium
    helpers |= _descendants(os.getpid()) - others
    browser.stop()
    browser.stop()  # safe to repeat
    assert not browser.running()
    assert _wait_gone(helpers), f"still running after stop(): {_alive(helpers)}"
    assert not _alive(_descendants(os.getpid()) - others)
    left = {t.ident for t in threading.enumerate() if t.is_alive()} & worker_threads
    assert not left


@needs_browser
def test_chromium_dies_with_a_killed_interpreter(lane_server, tmp_path: Path) -> None:
    script = tmp_path / "kill_me.py"
    script.write_text(
        "import os, sys, time\n"
        "from streamkit import browser\n"
        "browser.browse(sys.argv[1])\n"
        "print('loaded', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    child = subprocess.Popen(
        [sys.executable, str(script), lane_server.url + "/plain?nosniff=1"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        line = _readline(child, 60)
        assert line.strip() == "loaded"
        helpers = _descendants(child.pid)
        assert any(b"chrom" in _cmdline(pid) for pid in helpers)
        child.send_signal(signal.SIGKILL)  # what a kernel restart does: no atexit
        child.wait(10)
        assert _wait_gone(helpers, 15), f"outlived the killed interpreter: {_alive(helpers)}"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if child.stdout is not None:
            child.stdout.close()


def test_without_chromium_the_error_names_the_package_and_the_extra(
    monkeypatch,
) -> None:
    browser.stop()
    monkeypatch.setenv(browser.CHROMIUM_ENV, "/nonexistent/chromium")
    reason = browser.unavailable_reason()
    assert reason is not None and "apt-get install chromium" in reason
    assert "pip install 'streamkit-http[browser]'" in reason
    with pytest.raises(browser.BrowserUnavailable, match="streamkit-http\\[browser\\]"):
        browser.browse("http://127.0.0.1:9/")
    assert not browser.running()


def test_the_browser_lane_and_find_program_agree_on_chromium(monkeypatch, tmp_path: Path) -> None:
    """A directory (executable, not a file) is no Chromium for either lookup: the skip reason
    says so instead of a launch failing later; a real executable file is taken by both."""
    browser.stop()
    monkeypatch.setenv(browser.CHROMIUM_ENV, str(tmp_path))
    assert browser.chromium_path() is None
    reason = browser.unavailable_reason()
    if reason is not None and "playwright" in reason and "not installed" in reason:
        pytest.skip(reason)
    assert reason is not None and "is not an executable file" in reason and str(tmp_path) in reason
    program = tmp_path / "chromium"
    program.write_text("#!/bin/sh\nexit 1\n")
    program.chmod(0o755)
    monkeypatch.setenv(browser.CHROMIUM_ENV, str(program))
    assert browser.chromium_path() == find_program("chromium") == str(program)
    assert browser.unavailable_reason() is None


def test_without_chromium_anywhere_the_reason_says_where_it_looked(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(browser.CHROMIUM_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: nothing on PATH
    if browser.chromium_path() is not None:
        pytest.skip(f"chromium is installed in a fixed place here ({browser.chromium_path()})")
    reason = browser.unavailable_reason()
    if reason is not None and "playwright" in reason and "not installed" in reason:
        pytest.skip(reason)
    assert reason is not None and "/usr/bin/chromium" in reason and "apt-get install chromium" in reason


@needs_browser
def test_a_dead_url_is_a_probe_error() -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProbeError, match="refused"):
        browser.browse(f"http://127.0.0.1:{port}/", timeout=5)


def test_browse_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="http"):
        browser.browse("example.org/")
    with pytest.raises(ValueError, match="timeout"):
        browser.browse("http://127.0.0.1:9/", timeout=0)


# -- process helpers ---------------------------------------------------------------------------


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
            except FileNotFoundError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _main_processes(pids: set[int]) -> set[int]:
    """playwright's driver and Chromium's browser process (not its per-page renderers)."""
    found = set()
    for pid in pids:
        line = _cmdline(pid)  # Chromium's helpers rewrite theirs as one space-joined string
        program = line.split(b"\0")[0].split(b" ")[0]
        if program.endswith(b"/node") or (b"chrom" in program and b"--type=" not in line):
            found.add(pid)
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pids: set[int]) -> set[int]:
    """The pids still running (zombies count as gone)."""
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            out.add(pid)
    return out


def _wait_gone(pids: set[int], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pids)


def _readline(child: subprocess.Popen[str], timeout: float) -> str:
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(child.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    return got[0] if got else ""


# -- the two browser lanes in the pictures -----------------------------------------------------


def test_each_read_links_to_the_first_growth_of_the_page_after_it() -> None:
    from streamkit.trace import Chunk, Event, Trace, links, shown_after

    chunks = [
        Chunk(0.01, 60, None, 60),
        Chunk(0.30, 20, None, 20),
        Chunk(0.60, 20, None, 20),
        Chunk(0.9, 9, None, 9),
    ]
    # A first paint with no text, then the page grew after the 2nd and (held) after the 3rd read.
    shown = [Event(0.02, 0), Event(0.301, 5), Event(0.75, 6)]
    assert shown_after(chunks, shown) == [1, 1, 2, None]
    trace = Trace(url="http://127.0.0.1:1/", chunks=chunks, browser_received=[], browser_shown=shown)
    assert links(trace)["received"] == [1, 1, 2, None]
    assert "received" not in links(Trace(url="http://127.0.0.1:1/", chunks=chunks))


def test_a_browser_trace_draws_browser_and_page_lanes() -> None:
    from streamkit.trace import Chunk, Event, Trace

    chunks = [Chunk(0.01 + 0.3 * n, 20, None, 20) for n in range(4)]
    trace = Trace(
        url="http://127.0.0.1:1/rows",
        status=200,
        headers_at=0.005,
        ttfb=0.01,
        duration=1.0,
        chunks=chunks,
        browser_received=[Event(c.t, c.size) for c in chunks],
        browser_shown=[Event(c.t + 0.004, 6) for c in chunks[1:]],
    )
    svg = trace.to_svg()
    assert "browser received" in svg and "page showed" in svg and "client received" not in svg
    assert "18 characters" in svg and "3 steps" in svg
    text = trace.to_text()
    assert "page step" in text and "reads 1-2 at" in text and "page showed: 3 steps, 18 characters" in text
    plain = Trace(url="http://127.0.0.1:1/rows", status=200, duration=1.0, chunks=chunks)
    assert "page showed" not in plain.to_svg() and "client received" in plain.to_svg()
    assert "page step" not in plain.to_text()


@needs_browser
def test_a_real_browser_trace_has_lines_from_reads_to_page_steps(lane_server) -> None:
    trace = lane_server.get("/rows", browser=True)
    from streamkit.trace import links

    targets = links(trace)["received"]
    steps = [i for i, e in enumerate(trace.browser_shown or []) if e.size]
    assert len(targets) == len(trace.chunks) and set(steps) <= set(t for t in targets if t is not None)
    assert "page showed" in trace.to_svg() and "page step" in trace.to_text()


# -- failure modes -----------------------------------------------------------------------------


@needs_browser
def test_max_seconds_stops_an_endless_page_and_the_browser_carries_on(lane_server) -> None:
    trace = lane_server.get("/endless", browser=True, max_seconds=0.8)
    assert trace.stopped and trace.error is None
    assert len([e for e in trace.browser_shown or [] if e.size]) >= 3
    again = lane_server.get("/plain?nosniff=1", browser=True)
    assert again.error is None and again.body.count(b"line") == PARTS


@needs_browser
def test_a_server_that_never_answers_is_a_probe_error_within_the_timeout() -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts, never answers
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(ProbeError, match="no response within 1 s"):
            browser.browse(f"http://127.0.0.1:{port}/", timeout=1)
        assert time.monotonic() - started < 10


@needs_browser
def test_html_without_a_charset_is_shown_at_once_but_decoded_as_windows_1252(lane_server) -> None:
    """As measured with Chromium 156: no wait for a charset, and UTF-8 shown as mojibake."""
    trace = lane_server.get("/nocharset", browser=True)
    steps = [e for e in trace.browser_shown or [] if e.size]
    assert len(steps) >= 3 and steps[0].t < trace.produced[-1].t
    assert "decoded as windows-1252" in (trace.note or "")
    # "r\u00e9ponse 1" is 10 characters, not 9, once its two UTF-8 bytes are read as two letters.
    assert steps[0].size == len("r\u00c3\u00a9ponse 1")


@needs_browser
def test_a_download_is_a_clear_error(lane_server) -> None:
    with pytest.raises(ProbeError, match="download"):
        lane_server.get("/download", browser=True)


@needs_browser
def test_it_works_where_an_asyncio_loop_is_running(lane_server) -> None:
    """A Jupyter cell runs inside a running event loop, where playwright's sync API refuses."""
    import asyncio

    async def cell() -> object:
        return browser.browse(lane_server.url + "/plain?nosniff=1")

    trace = asyncio.run(cell())
    assert trace.body.count(b"line") == PARTS  # type: ignore[attr-defined]


@needs_browser
def test_diagnose_names_the_browser_where_it_held_and_nothing_where_it_did_not(lane_server) -> None:
    clean = lane_server.get("/rows", browser=True).diagnose()
    assert clean.streams and clean.culprit is None
    assert not [code for code in clean.codes if code.startswith("browser-")]
    # A script in <head> holds the rows the browser already has: a warning about the client.
    blocked = lane_server.get("/rows?script=1", browser=True)
    found = blocked.diagnose()
    assert "browser-held" in found.codes and found.culprit is None
    held = next(f for f in found.findings if f.code == "browser-held")
    assert held.culprit == "client" and "defer" in held.fix
    # Small text/plain without nosniff: Chromium's network stack held the body itself; the
    # server wrote it on time, so the browser is the culprit, not a proxy.
    sniffed = lane_server.get("/plain", browser=True).diagnose()
    assert not sniffed.streams and sniffed.culprit == "client"
    assert sniffed.codes[0] == "browser-held-body" and "nosniff" in sniffed.findings[0].fix
