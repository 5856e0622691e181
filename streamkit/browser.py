"""Load a URL in a real headless Chromium and time what its network stack got and its page showed.

Measuring layer (next to :mod:`streamkit.probe`). :func:`browse` returns a
:class:`~streamkit.trace.Trace` whose client side comes from the browser:

* ``chunks`` and ``browser_received``: one piece per body read in Chromium's network stack, from
  the DevTools protocol's ``Network.dataReceived`` (its time and decoded size);
* ``browser_shown``: one :class:`~streamkit.trace.Event` per animation frame in which the page's
  visible text (``document.body.innerText``) grew, found by a ``MutationObserver`` that is
  installed before navigation; the first paint (paint timing) is an Event of size 0 when it
  came before any text.

Everything is on the trace's own clock (``trace.started`` is a ``time.monotonic()`` value).
On Linux the protocol's ``Network`` timestamps are that same CLOCK_MONOTONIC; each call checks
it (the request's timestamp must fall between the monotonic readings taken around the
navigation) and converts through the protocol's wall-clock stamp if it does not. Page-side
times are wall-clock milliseconds (``performance.timeOrigin + performance.now()``): they are
moved onto the monotonic clock by an offset read from the page between two monotonic readings,
whose half-distance is the error bound. ``trace.note`` says which alignment was used and how
well it holds.

Chromium is Debian's ``chromium`` (or ``$STREAMKIT_CHROMIUM``), driven by playwright's sync API.
Nothing here downloads a browser. Playwright's sync API refuses to run where an asyncio loop
is running (a Jupyter cell), so the browser lives in a thread of its own: started at the first
call, reused by later ones, closed by :func:`stop` and at interpreter exit. If the interpreter
is killed (a kernel restart sends SIGKILL), playwright's driver sees its stdin pipe close and
ends Chromium with it.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json as jsonlib
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from werkzeug.datastructures import Headers

from .events import framing_for, parser_for
from .probe import ProbeError
from .programs import PROGRAMS, ProgramUnavailable, find_program
from .trace import Chunk, Event, Trace

__all__ = [
    "CHROMIUM_ENV",
    "LAUNCH_ARGS",
    "BrowserUnavailable",
    "browse",
    "chromium_path",
    "fetch_page",
    "running",
    "stop",
    "unavailable_reason",
    "version",
]

CHROMIUM_ENV = "STREAMKIT_CHROMIUM"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = (
    "install Debian's chromium package (apt-get install chromium) or point "
    f"{CHROMIUM_ENV} at a Chromium binary, and playwright with pip install 'streamkit-http[browser]'"
)
POLL = 0.02  # seconds between looks at the page while waiting
FETCH_PAGE = "/__streamkit__/fetch"  # where the kit's fetch() page is given, on the URL's origin
SETTLE = 0.15  # seconds to keep watching the page after its body has ended
PAGE_TIMER = 0.0001  # s: Chromium coarsens performance.now() to 0.1 ms outside isolated pages

# Installed before any of the page's own scripts: notes the paints, and every animation frame in
# which the visible text grew (a mutation asks for the next frame; the frame measures). The time
# is read in the frame's callback: rAF's own timestamp argument is when the compositor began
# the frame, which can be earlier than the mutation that asked for it.
_INIT_SCRIPT = """
(() => {
  if (window.__streamkit) return;
  const rec = window.__streamkit = {shown: [], paints: [], length: 0};
  const clock = () => performance.timeOrigin + performance.now();
  let asked = false;
  const measure = (at) => {
    asked = false;
    const body = document.body;
    const length = body ? body.innerText.length : 0;
    if (length !== rec.length) {
      rec.shown.push([at, length - rec.length]);
      rec.length = length;
    }
  };
  rec.measure = () => measure(clock());
  const ask = () => {
    if (asked) return;
    asked = true;
    requestAnimationFrame(() => measure(clock()));
  };
  new MutationObserver(ask).observe(document, {childList: true, subtree: true, characterData: true});
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) rec.paints.push([entry.name, performance.timeOrigin + entry.startTime]);
    }).observe({type: "paint", buffered: true});
  } catch (error) {}
})();
"""


class BrowserUnavailable(RuntimeError):
    """Chromium or playwright is missing (or Chromium would not start): no browser lane."""


def chromium_path() -> str | None:
    """The Chromium to drive, or None: ``$STREAMKIT_CHROMIUM``, else ``chromium`` on PATH, else
    the places distributions put it; the one lookup of :mod:`streamkit.programs`, so the tests
    that launch it through :func:`~streamkit.programs.find_program` agree with this one."""
    try:
        return find_program("chromium")
    except ProgramUnavailable:
        return None


def unavailable_reason() -> str | None:
    """Why the browser lane cannot run here (a sentence for an error or a skip), or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the browser lane needs playwright, which is not installed: " + INSTALL_HINT
    if chromium_path() is None:
        chosen = os.environ.get(CHROMIUM_ENV)
        if chosen:
            return f"{CHROMIUM_ENV}={chosen} is not an executable file; " + INSTALL_HINT
        chromium = PROGRAMS["chromium"]
        looked = f"{' and '.join(chromium.names)} on PATH, {', '.join(chromium.places)}"
        return f"the browser lane needs Chromium, and none was found ({looked}): " + INSTALL_HINT
    return None


# -- the browser's own thread --------------------------------------------------------------


@dataclass
class _Job:
    work: Callable[[Any], Any]
    result: Future[Any] = field(default_factory=Future)
    cancelled: threading.Event = field(default_factory=threading.Event)


class _Worker:
    """A thread that owns playwright and one Chromium, and runs jobs on it one at a time."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.version = ""
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._ready: Future[str] = Future()
        self._thread = threading.Thread(target=self._run, name="streamkit-browser", daemon=True)

    def start(self, timeout: float = 30) -> None:
        self._thread.start()
        self.version = self._ready.result(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, work: Callable[[Any], Any]) -> _Job:
        job = _Job(work)
        self._jobs.put(job)
        return job

    def close(self, timeout: float = 10) -> None:
        self._jobs.put(None)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        playwright: Any = None
        browser: Any = None
        try:
            from playwright.sync_api import sync_playwright

            playwright = sync_playwright().start()
            browser = playwright.chromium.launch(
                executable_path=self.executable,
                headless=True,
                args=LAUNCH_ARGS,
                # A notebook's interrupt button must stop the cell, not the shared browser.
                handle_sigint=False,
                handle_sigterm=False,
                handle_sighup=False,
            )
            self._ready.set_result(browser.version)
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            self._ready.set_exception(error)
            _quietly(browser.close if browser is not None else None)
            _quietly(playwright.stop if playwright is not None else None)
            return
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    break
                if not job.result.set_running_or_notify_cancel():
                    continue
                try:
                    job.result.set_result(job.work((browser, job.cancelled)))
                except BaseException as error:  # noqa: BLE001 - handed to the caller
                    job.result.set_exception(error)
                if not browser.is_connected():
                    break  # Chromium died: the next call starts a new one
        finally:
            _quietly(browser.close)
            _quietly(playwright.stop)
            while True:  # anyone still waiting gets an answer, not a hang
                try:
                    left = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if left is not None and left.result.set_running_or_notify_cancel():
                    left.result.set_exception(BrowserUnavailable("the browser was stopped"))


def _quietly(call: Callable[[], Any] | None) -> None:
    if call is None:
        return
    with contextlib.suppress(Exception):  # closing something that may already be gone
        call()


_lock = threading.Lock()
_worker: _Worker | None = None


def _get_worker() -> _Worker:
    global _worker
    with _lock:
        if _worker is not None and _worker.alive:
            return _worker
        reason = unavailable_reason()
        if reason is not None:
            raise BrowserUnavailable(reason)
        worker = _Worker(chromium_path() or "")
        try:
            worker.start()
        except Exception as error:
            worker.close()
            raise BrowserUnavailable(
                f"Chromium ({worker.executable}) did not start: {str(error).strip().splitlines()[0]}"
            ) from error
        _worker = worker
        return worker


def running() -> bool:
    """True while the shared browser is up (between the first :func:`browse` and :func:`stop`)."""
    with _lock:
        return _worker is not None and _worker.alive


def version() -> str:
    """Chromium's version, e.g. ``"156.0.8078.114"`` (starts the browser if needed)."""
    return _get_worker().version


def stop() -> None:
    """Close the shared browser and its thread (safe to repeat; the next call starts anew)."""
    global _worker
    with _lock:
        worker, _worker = _worker, None
    if worker is not None:
        worker.close()


atexit.register(stop)


# -- one page load ---------------------------------------------------------------------------


def browse(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    follow: str | None = None,
    timeout: float = 10,
    max_seconds: float | None = None,
    keep_body: bool = True,
    cookies: Mapping[str, str] | None = None,
    method: str | None = None,
    data: bytes | str | None = None,
    json: Any = None,
) -> Trace:
    """Load ``url`` in headless Chromium and return a Trace of what the browser got and showed.

    ``follow`` names the request whose body makes the received lane (a URL, or a path relative
    to ``url``); by default the page itself. Use it for a resource the page fetches, such as
    the stream an ``EventSource`` reads. ``headers`` are sent with that request only (this is
    how :meth:`streamkit.Server.get` sends its trace id); ``cookies`` are set for ``url``'s site
    before the page loads, so every request the page makes carries them (how it sends a
    server's token cookie). ``timeout`` bounds the wait for the
    response and any silence after it; ``max_seconds`` ends the load of an endless stream
    (``trace.stopped``). Raises :class:`BrowserUnavailable` without Chromium or playwright,
    and :class:`~streamkit.probe.ProbeError` when the URL gives no response.

    With a body (``data=`` or ``json=``, as :func:`streamkit.probe` takes them) or a ``method``
    other than GET, the browser cannot simply navigate (EventSource and links only GET): it
    loads a small page of the kit's own, on the URL's origin, that sends the request with
    ``fetch()`` and reads the body with a ``ReadableStream`` reader, adding each read's text to
    the page. ``browser_reads`` then has one :class:`~streamkit.trace.Event` per read the page's
    reader got, ``browser_shown`` when the page showed it, and ``events`` the body's events.
    """
    from .client import request_body  # same layer

    body, body_type = request_body(data, json)
    if method is None:
        method = "GET" if body is None else "POST"
    if not isinstance(method, str) or not method.strip().isalpha():
        raise ValueError(f"method must be an HTTP method such as 'GET' or 'POST', got {method!r}")
    method = method.strip().upper()
    if body is not None or method != "GET":
        if follow is not None:
            raise ValueError(
                "follow= is for a request the page makes; a request with a body is fetched directly"
            )
        if body_type is not None and not any(name.lower() == "content-type" for name in headers or {}):
            headers = {**(headers or {}), "Content-Type": body_type}
        page = urljoin(url, FETCH_PAGE)
        return _browse(
            url, page, dict(headers or {}), timeout, max_seconds, keep_body, (method, body), cookies
        )
    _check_load(url, timeout, max_seconds)
    target = urljoin(url, follow) if follow else url
    return _browse(target, url, dict(headers or {}), timeout, max_seconds, keep_body, None, cookies)


def _check_load(url: str, timeout: float, max_seconds: float | None) -> None:
    """A ValueError naming the argument when ``url`` is not http(s) or a time limit is not positive."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"cannot load {url!r} in the browser: expected an http:// or https:// URL")
    if timeout is None or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError(f"max_seconds must be a positive number of seconds, got {max_seconds!r}")


def _browse(
    target: str,
    page: str,
    headers: dict[str, str],
    timeout: float,
    max_seconds: float | None,
    keep_body: bool,
    fetch: tuple[str, bytes | None] | None,
    cookies: Mapping[str, str] | None = None,
) -> Trace:
    _check_load(target, timeout, max_seconds)
    load = _Load(page, target, headers, timeout, max_seconds, keep_body, fetch, dict(cookies or {}))
    worker = _get_worker()
    job = worker.submit(load.run)
    try:
        trace: Trace = job.result.result()
    except BaseException:
        job.cancelled.set()  # an interrupted cell: the page load ends at its next look
        raise
    version_note = f"Chromium {worker.version}"
    trace.note = f"{version_note}; {trace.note}" if trace.note else version_note
    return trace


class _Load:
    """One navigation, run on the browser's thread."""

    def __init__(
        self,
        url: str,
        target: str,
        headers: dict[str, str],
        timeout: float,
        max_seconds: float | None,
        keep_body: bool,
        fetch: tuple[str, bytes | None] | None = None,
        cookies: dict[str, str] | None = None,
    ) -> None:
        self.fetch = fetch  # (method, body): the kit's page fetches target
        self.url = url
        self.target = target
        self.headers = headers
        self.timeout = timeout
        self.max_seconds = max_seconds
        self.keep_body = keep_body
        self.cookies = cookies or {}
        self.request_id: str | None = None
        self.sent: dict[str, Any] | None = None  # Network.requestWillBeSent of the target
        self.response: dict[str, Any] | None = None
        self.data: list[tuple[float, int, int]] = []  # (timestamp, decoded, encoded)
        self.finished: dict[str, Any] | None = None
        self.failed: dict[str, Any] | None = None
        self.last_activity = 0.0

    # CDP events arrive on the browser thread while it waits inside a playwright call.
    def _on_sent(self, params: dict[str, Any]) -> None:
        if self.request_id is None and _same_url(params.get("request", {}).get("url", ""), self.target):
            self.request_id = params["requestId"]
            self.sent = params
        self.last_activity = time.monotonic()

    def _mine(self, params: dict[str, Any]) -> bool:
        return self.request_id is not None and params.get("requestId") == self.request_id

    def _on_response(self, params: dict[str, Any]) -> None:
        if self._mine(params) and self.response is None:
            self.response = params
            self.last_activity = time.monotonic()

    def _on_data(self, params: dict[str, Any]) -> None:
        if self._mine(params):
            self.data.append(
                (
                    params["timestamp"],
                    int(params.get("dataLength") or 0),
                    int(params.get("encodedDataLength") or 0),
                )
            )
            self.last_activity = time.monotonic()

    def _on_finished(self, params: dict[str, Any]) -> None:
        if self._mine(params):
            self.finished = params

    def _on_failed(self, params: dict[str, Any]) -> None:
        if self._mine(params):
            self.failed = params

    def run(self, handles: tuple[Any, threading.Event]) -> Trace:
        browser, cancelled = handles
        context = browser.new_context()
        try:
            if self.cookies:
                context.add_cookies(
                    [
                        {"name": k, "value": v, "url": self.url, "httpOnly": True}
                        for k, v in self.cookies.items()
                    ]
                )
            return self._load(context, cancelled)
        finally:
            _quietly(context.close)

    def _load(self, context: Any, cancelled: threading.Event) -> Trace:
        from playwright.sync_api import Error as PlaywrightError

        page = context.new_page()
        page.add_init_script(_INIT_SCRIPT)
        cdp = context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", self._on_sent)
        cdp.on("Network.responseReceived", self._on_response)
        cdp.on("Network.dataReceived", self._on_data)
        cdp.on("Network.loadingFinished", self._on_finished)
        cdp.on("Network.loadingFailed", self._on_failed)
        cdp.send("Network.enable")
        if self.headers and self.fetch is None:  # the fetch page sends its headers itself
            extra = self.headers

            def add_headers(route: Any) -> None:
                route.continue_(headers={**route.request.headers, **extra})

            target = self.target
            page.route(lambda url: _same_url(url, target), add_headers)
        if self.fetch is not None:
            html = fetch_page(self.target, self.fetch[0], self.headers, self.fetch[1])

            def give_page(route: Any) -> None:
                route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

            page.route(lambda url: _same_url(url, self.url), give_page)

        started = time.monotonic()
        stop_at = started + self.max_seconds if self.max_seconds is not None else None
        try:
            page.goto(self.url, wait_until="commit", timeout=self.timeout * 1000)
        except PlaywrightError as error:
            if self.response is None or self.target == self.url:
                raise ProbeError(self.url, _navigation_reason(error, self.timeout)) from None
        committed = time.monotonic()
        self.last_activity = committed

        # Wait for the followed body to end (or break, or stop), and the page to finish loading.
        stopped = False
        while True:
            now = time.monotonic()
            if cancelled.is_set():
                stopped = True
                break
            if stop_at is not None and now >= stop_at:
                stopped = True
                break
            if self.finished is not None or self.failed is not None:
                if _page_loaded(page):
                    break
            elif now - self.last_activity > self.timeout:
                break
            page.wait_for_timeout(POLL * 1000)
        ended = time.monotonic()
        if not stopped:
            page.wait_for_timeout(SETTLE * 1000)

        trace = Trace(url=self.target, method=self.fetch[0] if self.fetch else "GET", started=started)
        notes: list[str] = []
        to_trace = self._cdp_clock(started, committed, notes)
        self._fill_network(trace, cdp, to_trace, ended, notes)
        trace.stopped = stopped
        if self.response is None and self.failed is None and not stopped:
            trace.error = f"no response within {self.timeout:g} s"
        elif not stopped and self.finished is None and self.failed is None and self.response is not None:
            trace.error = f"ReadTimeout: no data for {self.timeout:g} s in the middle of the body"
        self._fill_page(trace, page, notes)
        trace.note = "; ".join(notes) or None
        return trace

    def _cdp_clock(self, started: float, committed: float, notes: list[str]) -> Callable[[float], float]:
        """Seconds since ``started`` for a protocol timestamp; checked against our own clock."""
        sent = self.sent
        if sent is None:
            notes.append("network times: the request was not seen by the DevTools protocol")
            return lambda stamp: stamp - started
        stamp = float(sent["timestamp"])
        if started <= stamp <= committed:
            notes.append(
                "network times: the DevTools clock is this process's monotonic clock (the "
                f"request's stamp fell inside the {(committed - started) * 1000:.1f} ms around "
                "the navigation)"
            )
            return lambda value: value - started
        # Another clock: go through the protocol's wall-clock stamp for the same moment.
        offset = (float(sent["wallTime"]) - (time.time() - time.monotonic())) - stamp
        notes.append(
            "network times: the DevTools clock is not this process's monotonic clock; aligned "
            "through its wall-clock stamp (good to about 1 ms)"
        )
        return lambda value: value + offset - started

    def _fill_network(
        self,
        trace: Trace,
        cdp: Any,
        to_trace: Callable[[float], float],
        ended: float,
        notes: list[str],
    ) -> None:
        response = self.response
        if response is not None:
            info = response.get("response", {})
            trace.status = int(info.get("status") or 0) or None
            headers = Headers()
            for name, value in (info.get("headers") or {}).items():
                for line in str(value).split("\n"):  # repeated headers come joined by newlines
                    headers.add(name, line)
            trace.headers = headers
            trace.headers_at = to_trace(float(response["timestamp"]))
        pieces = [(stamp, size, wire) for stamp, size, wire in self.data if size]
        bodies = self._body_pieces(cdp, [size for _, size, _ in pieces], notes)
        encoded = bool(trace.headers.get("Content-Encoding"))
        for (stamp, size, wire), data in zip(pieces, bodies):
            trace.chunks.append(Chunk(to_trace(stamp), size, data, wire if (encoded and wire) else size))
        trace.browser_received = [Event(chunk.t, chunk.size) for chunk in trace.chunks]
        if encoded:
            notes.append("the body was compressed: Chromium reports decoded sizes per read")
        if trace.chunks:
            trace.ttfb = trace.chunks[0].t
        if self.finished is not None:
            trace.duration = max(
                to_trace(float(self.finished["timestamp"])),
                trace.chunks[-1].t if trace.chunks else 0.0,
            )
        else:
            trace.duration = ended - trace.started
        if self.failed is not None and self.failed.get("canceled"):
            # The page ended the request itself (EventSource.close(), a navigation): not a
            # broken stream. The body had ended, as far as the page was concerned.
            notes.append("the page itself cancelled this request after its last read")
            trace.duration = max(
                to_trace(float(self.failed["timestamp"])), trace.chunks[-1].t if trace.chunks else 0.0
            )
        elif self.failed is not None:
            text = str(self.failed.get("errorText") or "the load failed")
            trace.error = f"the browser's load failed mid-body ({text})"

    def _body_pieces(self, cdp: Any, sizes: list[int], notes: list[str]) -> list[bytes | None]:
        """Each read's bytes, cut from the body Chromium kept (None where it cannot be had)."""
        if not self.keep_body or self.finished is None or not sizes:
            return [None] * len(sizes)
        try:
            got = cdp.send("Network.getResponseBody", {"requestId": self.request_id})
        except Exception:  # noqa: BLE001 - some bodies are not kept (e.g. event streams)
            notes.append("the browser did not keep the body: only times and sizes")
            return [None] * len(sizes)
        body = base64.b64decode(got["body"]) if got.get("base64Encoded") else str(got["body"]).encode("utf-8")
        if len(body) != sum(sizes):
            notes.append("the body the browser kept does not match its reads: only times and sizes")
            return [None] * len(sizes)
        out: list[bytes | None] = []
        at = 0
        for size in sizes:
            out.append(body[at : at + size])
            at += size
        return out

    def _fill_page(self, trace: Trace, page: Any, notes: list[str]) -> None:
        """The page's own record, moved onto the trace's clock by a bracketed reading."""
        try:
            page.evaluate("() => window.__streamkit && window.__streamkit.measure()")
            record = page.evaluate("() => window.__streamkit || null")
            document = page.evaluate("() => [document.contentType, document.characterSet]")
            best: tuple[float, float, float] | None = None
            for _ in range(5):
                before = time.monotonic()
                wall_ms = float(page.evaluate("() => performance.timeOrigin + performance.now()"))
                after = time.monotonic()
                if best is None or after - before < best[1] - best[0]:
                    best = (before, after, wall_ms)
        except Exception as error:  # noqa: BLE001 - the page went away (closed, crashed)
            notes.append(f"page times: the page could not be read ({str(error).splitlines()[0][:80]})")
            return
        if not record or best is None:
            notes.append("page times: the page's observer did not run")
            return
        before, after, wall_ms = best
        offset = wall_ms / 1000 - (before + after) / 2  # page seconds minus monotonic seconds
        bound = (after - before) / 2 + PAGE_TIMER
        start = trace.started

        def to_trace(ms: float) -> float:
            return ms / 1000 - offset - start

        if self.fetch is not None:
            self._fill_reads(trace, record, to_trace, notes)
        shown = [Event(to_trace(at), int(grew)) for at, grew in record.get("shown", []) if grew > 0]
        paints = {name: to_trace(at) for name, at in record.get("paints", [])}
        first_paint = paints.get("first-paint", paints.get("first-contentful-paint"))
        if first_paint is not None and (not shown or first_paint < shown[0].t - 0.001):
            shown.insert(0, Event(first_paint, 0))
        trace.browser_shown = sorted(shown, key=lambda event: event.t)
        if document and len(document) == 2 and self.fetch is None:
            # What Chromium made of the body: sniffed type and the charset it decoded with.
            notes.append(f"the page showed it as {document[0]}, decoded as {document[1]}")
        notes.append(
            "page times: the page's wall clock, moved onto the monotonic clock with an offset read "
            f"from the page between two readings of ours (within \u00b1{bound * 1000:.2f} ms)"
        )

    def _fill_reads(
        self, trace: Trace, record: dict[str, Any], to_trace: Callable[[float], float], notes: list[str]
    ) -> None:
        """The fetch page's own record: each read of its reader, and the body's events."""
        reads = record.get("reads") or []
        trace.browser_reads = [Event(to_trace(at), int(size)) for at, size, _ in reads]
        failed = record.get("fetchError")
        if failed:
            notes.append(f"the page's fetch() failed: {str(failed)[:120]}")
            if trace.error is None:
                trace.error = f"the page's fetch() failed ({str(failed)[:120]})"
        body = b"".join(base64.b64decode(data) for _, _, data in reads)
        if trace.chunks and all(chunk.data is None for chunk in trace.chunks) and len(body) == trace.size:
            at = 0
            for chunk in trace.chunks:  # the network's reads, cut from the bytes the page read
                chunk.data = body[at : at + chunk.size] if self.keep_body else None
                at += chunk.size
        framing = framing_for(trace.headers.get("Content-Type"))
        if framing is None:
            return
        parser = parser_for(framing)
        if trace.chunks and len(body) == trace.size:
            at = 0
            for index, chunk in enumerate(trace.chunks):
                parser.feed(body[at : at + chunk.size], chunk.t, index, chunk.read)
                at += chunk.size
            notes.append("events: timed by the browser's network reads")
        else:
            for index, (at_ms, _, data) in enumerate(reads):
                parser.feed(base64.b64decode(data), to_trace(at_ms), 0, index)
            notes.append("events: timed by the page's reads")
        parser.eof()
        trace.event_framing = framing
        trace.events = parser.events
        trace.comments = parser.comments
        trace.unterminated = parser.unterminated


def fetch_page(target: str, method: str, headers: Mapping[str, str], body: bytes | None) -> str:
    """The kit's page that sends one request with ``fetch()`` and reads its body as it comes.

    Each read of the ``ReadableStream`` reader is noted (time, size, bytes) and its text is
    added to the page, so the page's observer times when it was shown. Everything the page
    uses comes in as JSON (``</`` escaped), so no header or body can end the script early.
    """
    request = {
        "url": target,
        "method": method,
        "headers": dict(headers),
        "body": base64.b64encode(body).decode("ascii") if body is not None else None,
    }
    text = jsonlib.dumps(request).replace("</", "<\\/")
    return _FETCH_PAGE.replace("REQUEST", text)


_FETCH_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>streamkit fetch</title></head>
<body><pre id="out"></pre>
<script>
(async () => {
  const request = REQUEST;
  const rec = window.__streamkit;
  rec.reads = [];
  const clock = () => performance.timeOrigin + performance.now();
  const out = document.getElementById("out");
  const decoder = new TextDecoder();
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const base64 = (chunk) => {
    let text = "";
    for (let i = 0; i < chunk.length; i += 0x8000) text += String.fromCharCode(...chunk.subarray(i, i + 0x8000));
    return btoa(text);
  };
  try {
    const init = {method: request.method, headers: request.headers, cache: "no-store"};
    if (request.body !== null) init.body = bytes(request.body);
    const response = await fetch(request.url, init);
    const reader = response.body.getReader();
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      rec.reads.push([clock(), value.length, base64(value)]);
      out.append(decoder.decode(value, {stream: true}));
    }
    rec.fetchDone = true;
  } catch (error) {
    rec.fetchError = String(error);
  }
})();
</script></body></html>
"""


def _same_url(seen: str, wanted: str) -> bool:
    """Whether the browser's URL is ``wanted`` (Chromium percent-encodes what needs it)."""
    return _normal_url(seen) == _normal_url(wanted)


def _normal_url(url: str) -> str:
    url = url.split("#", 1)[0]
    parts = urlsplit(url)
    if not parts.path:
        url = urlunsplit(parts._replace(path="/"))
    return quote(unquote(url), safe=":/?&=;+,@!$'()*[]~")


def _page_loaded(page: Any) -> bool:
    try:
        return bool(page.evaluate("() => document.readyState === 'complete'"))
    except Exception:  # noqa: BLE001 - mid-navigation: look again
        return False


def _navigation_reason(error: Exception, timeout: float) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "Timeout" in type(error).__name__ or "Timeout" in text:
        return f"no response within {timeout:g} s (timed out, in the browser)"
    if "Download is starting" in text:
        return (
            "Chromium saves this response as a download instead of showing it (a CSV, a binary "
            "type or Content-Disposition: attachment), so there is no page to watch; probe it "
            "without browser=True"
        )
    if "ERR_CONNECTION_REFUSED" in text:
        return "connection refused: nothing is listening there (in the browser)"
    if "ERR_NAME_NOT_RESOLVED" in text:
        return "unknown host (in the browser)"
    return f"the browser could not load it ({text[:120]})"
