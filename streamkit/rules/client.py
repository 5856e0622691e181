"""Rules about the client: a browser that holds what it received (type sniffing, a page that
waits), and text/html without a charset."""

from __future__ import annotations

import bisect

from ..finding import Finding
from ..measurements import Measurements, server_side_summary
from ..trace import AT_ONCE, SHOWN_TOLERANCE, plural, seconds_text
from .middleware import writes_late

WARNINGS = frozenset({"browser-sniffs", "browser-held", "html-no-charset"})

FIX_BROWSER = (
    "look at what the browser waits for: text/plain needs X-Content-Type-Options: nosniff (and "
    "a charset), or Chromium holds the first 1,024 bytes to sniff the type; a <script> without "
    "async/defer or a stylesheet in <head> blocks rendering (move scripts to the end, or mark "
    "them defer); rows must be real <tr><td> elements for a table to grow"
)

# Chromium 156 shows nothing of a text/plain response without nosniff until this many bytes
# have arrived, or the body has ended (measured for this kit: a first piece of 1,001 bytes
# waited for the piece that made 1,025; one of 1,024 bytes was shown at once).
SNIFF_BYTES = 1024
# The page showing a piece later than this after the browser had read it counts as held there.
BROWSER_HELD = 0.1


def browser_held_body(m: Measurements) -> list[Finding]:
    """Shape: a real browser's network stack held the body (type sniffing holds it there).

    Evidence: ``browser=True`` (the chunks are the browser's reads), the server's writes on
    time, and no proxy proved by a header. Never claims it for a non-browser client.
    """
    r = m.primary
    trace = r.trace
    if trace.browser_received is None or not r.held or r.holding is None or not trace.written:
        return []
    if not ((r.writes is not None and not writes_late(r)) or trace.produced is None):
        return []
    if m.product("proxy") is not None:
        return []
    return [
        Finding(
            "browser-held-body",
            "client",
            "the browser held the stream back before its page could show it",
            [
                trace.verdict_text,
                "the server wrote each item about when it was made: it was held after the socket",
                *server_side_summary(trace),
                "the client was a browser (browser=True) and no proxy names itself: its network "
                "stack reported the bytes only late",
            ],
            FIX_BROWSER,
        )
    ]


def browser_held(m: Measurements) -> list[Finding]:
    """Shape (warning): with the browser lane, the page showed pieces late after the browser
    had read them (a render-blocking script, the HTML parser, sniffing).

    Evidence: ``browser_shown`` steps more than :data:`BROWSER_HELD` after the last read
    before them. Reads that bring only markup are not counted against the page. Never claims
    it without the browser lane.
    """
    trace = m.trace
    shown = [event for event in trace.browser_shown or () if event.size]
    reads = [piece.t for piece in m.primary.pieces]
    if not shown or len(reads) < 2:
        return []
    late = []
    for step in shown:
        index = bisect.bisect_right(reads, step.t + SHOWN_TOLERANCE) - 1
        if index >= 0 and step.t - reads[index] > BROWSER_HELD:
            late.append(step.t - reads[index])
    if not late:
        return []
    return [
        Finding(
            "browser-held",
            "client",
            "the browser had the pieces, but the page showed them late",
            [
                f"the browser read {plural(len(reads), 'piece')} from {seconds_text(reads[0])} to "
                f"{seconds_text(reads[-1])}; the page grew in {plural(len(shown), 'step')}",
                f"{len(late)} of those steps came more than {seconds_text(BROWSER_HELD)} after the "
                f"browser's last read before them (up to {seconds_text(max(late))}): the page was "
                "holding what it already had",
            ],
            FIX_BROWSER,
            warning=True,
        )
    ]


def browser_sniffs(m: Measurements) -> list[Finding]:
    """Shape (warning): text/plain without ``nosniff``, whose first 1,024 bytes took time.

    Evidence: the headers and when the first :data:`SNIFF_BYTES` bytes were in (Chromium 156,
    measured). Never claims it when those bytes came at once.
    """
    for r in m.subjects:
        if r.mimetype != "text/plain" or r.nosniff:
            continue
        total = 0
        shown_at = None
        for piece in r.pieces:
            total += piece.size
            if total >= SNIFF_BYTES:
                shown_at = piece.t
                break
        if shown_at is not None and shown_at - r.pieces[0].t < AT_ONCE:
            continue
        if shown_at is None:
            when = (
                f"this body is {sum(p.size for p in r.pieces):,} bytes in all: such a browser shows it "
                f"only at the end, {seconds_text(r.trace.duration)} after the request"
            )
        else:
            when = (
                f"this stream's first {SNIFF_BYTES:,} bytes were in only at {seconds_text(shown_at)} "
                f"(its first content came at {seconds_text(r.pieces[0].t)})"
            )
        return [
            Finding(
                "browser-sniffs",
                "client",
                "a browser holds this stream back to sniff its type: text/plain without "
                "X-Content-Type-Options: nosniff",
                [
                    f"Content-Type: {r.content_type}, no X-Content-Type-Options: nosniff",
                    "Chromium 156, measured for this kit: such a response showed nothing until "
                    f"{SNIFF_BYTES:,} bytes had arrived or the body had ended; with nosniff it "
                    "showed each piece as it came",
                    when,
                ],
                "send X-Content-Type-Options: nosniff (and a charset) with streamed text",
                warning=True,
            )
        ]
    return []


def html_no_charset(m: Measurements) -> list[Finding]:
    """Shape (warning): text/html without a charset. Evidence: the Content-Type header. Never
    claims a delay: a wrong guess garbles non-ASCII text, it does not hold the page."""
    for r in m.subjects:
        if r.mimetype == "text/html" and "charset" not in r.content_type.lower():
            return [
                Finding(
                    "html-no-charset",
                    "client",
                    "text/html without a charset: the browser has to guess the encoding",
                    [
                        f"Content-Type: {r.content_type}",
                        "Chromium 156, measured for this kit: a text/html stream without a "
                        "charset (5 ASCII pieces 250 ms apart) was still shown piece by piece; "
                        "what a wrong guess costs is garbled non-ASCII text, not time",
                    ],
                    "name it: Content-Type: text/html; charset=utf-8",
                    warning=True,
                )
            ]
    return []
