"""Rules about the app: it raised, it made everything before its first yield, it started late,
an event stream without ``Cache-Control: no-cache``."""

from __future__ import annotations

from ..finding import Finding
from ..measurements import Measured, Measurements, server_side_summary
from ..trace import plural, seconds_text

WARNINGS = frozenset({"late-first-byte", "sse-no-cache"})

# A first content byte later than this (and most of the response's time) counts as late.
LATE_FIRST_BYTE = 0.2
# A stream whose headers come later than this started late (even if it then streams).
LATE_START = 0.5

FIX_APP_FIRST = (
    "yield each piece as soon as it is ready instead of building a list or a string first "
    "(a generator, or template.stream()/stream_template); yield a small first piece early so "
    "the headers go out at once"
)


def app_raised(m: Measurements) -> list[Finding]:
    """Shape: the app raised in the middle of the stream.

    Evidence: the server side recorded the app's exception (``server_error``). Never claims
    anything from the client alone: a body that breaks with no recorded error is another rule's.
    """
    trace = m.trace
    error = trace.server_error
    if error is None:
        return []
    return [
        Finding(
            "app-raised",
            "app",
            f"the app raised {type(error).__name__} in the middle of the stream",
            [trace.verdict_text, f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}"],
            "fix the exception; validate input before the first yield so an error can still "
            "become an error status (once the body has started, the status is already 200)",
        )
    ]


def makes_all_first(m: Measurements) -> list[Finding]:
    """Shape: the content arrived at once, and the app produced it all at once.

    Evidence: the server side's ``produced`` items, all within 20 ms (so there is no holding
    to measure). Late first item: ``app-makes-all-first``; early: ``app-one-piece``. Never
    claims it without the app's items.
    """
    r = m.primary
    items = [event for event in r.trace.produced or () if event.size]
    if not items or r.holding is not None or r.verdict != "single":
        return []
    first = items[0].t
    made = (
        f"the app produced {plural(len(items), 'item')} within {seconds_text(items[-1].t - first)}, "
        f"the first {seconds_text(first)} after the request"
    )
    if first >= LATE_FIRST_BYTE:
        return [
            Finding(
                "app-makes-all-first",
                "app",
                "the app made everything before its first yield: nothing could go out earlier",
                [made, r.trace.verdict_text, *server_side_summary(r.trace)],
                FIX_APP_FIRST,
            )
        ]
    return [
        Finding(
            "app-one-piece",
            "app",
            "the app produced the whole body at once: there was nothing to stream",
            [made],
            FIX_APP_FIRST,
        )
    ]


def late_first_byte(m: Measurements) -> list[Finding]:
    """Shape (warning): it streams, but the headers came only after a long wait.

    Evidence: ``headers_at`` (or the first piece) at least 0.5 s after the request, in a
    request that was not queued behind another stream (that is the concurrency rule's). Names
    the app only when the server side shows the app's first item that late; otherwise nobody:
    never guesses from the client alone.
    """
    queued = {wait.later for wait in m.waits}
    for r in m.subjects:
        if r.label in queued:
            continue  # it waited for another stream: the concurrency rule says so
        found = _late(r)
        if found:
            return found
    return []


def _late(r: Measured) -> list[Finding]:
    if r.verdict != "streamed" or not r.pieces:
        return []
    start = r.trace.headers_at if r.trace.headers_at is not None else r.pieces[0].t
    if start < LATE_START:
        return []
    facts = [
        f"the headers arrived {seconds_text(start)} after the request, the first content byte at "
        f"{seconds_text(r.pieces[0].t)}"
    ]
    items = [event for event in r.trace.produced or () if event.size]
    culprit = None
    if items and items[0].t >= LATE_START:
        culprit = "app"
        facts.append(f"the app yielded its first item {seconds_text(items[0].t)} after the request")
    return [
        Finding(
            "late-first-byte",
            culprit,
            "it streams, but nothing (not even the headers) came for a long time first",
            facts,
            'yield b"" (or a small first piece) before the slow work, so the status and headers go '
            "out at once and clients and proxies know the response has started",
            warning=True,
        )
    ]


def sse_no_cache(m: Measurements) -> list[Finding]:
    """Shape (warning): ``text/event-stream`` without ``Cache-Control: no-cache``.

    Evidence: the response headers. Never claims that a cache did hold it.
    """
    for r in m.subjects:
        if r.mimetype != "text/event-stream" or not r.pieces:
            continue
        cache = r.cache_control
        if "no-cache" in cache or "no-store" in cache:
            return []
        return [
            Finding(
                "sse-no-cache",
                "app",
                "an event stream without Cache-Control: no-cache, so caches and proxies may keep or hold it",
                [f"Cache-Control: {cache or '(none)'}"],
                "send Cache-Control: no-cache with text/event-stream responses",
                warning=True,
            )
        ]
    return []


# Servers that run only ASGI apps: they send each body message as the app gives it.
ASGI_SERVERS = ("uvicorn", "hypercorn", "daphne")


def collected_under_asgi(m: Measurements) -> list[Finding]:
    """Shape: behind an ASGI server, every request's headers came late, together with the whole
    body: the app (or its framework) collected the stream before sending it. Django under ASGI
    does this with a sync iterator.

    Evidence: every request held, each one's headers arriving with its content and late, a
    header that proves an ASGI server (uvicorn, hypercorn, daphne: they send each message as the
    app gives it), and no proxy proved. Never names Django (nothing in the response proves it),
    and says a proxy that adds no header would look the same.
    """
    held = m.alike if m.compared else [m.primary]
    if not held or not all(r.held for r in held) or any(r.trace.produced for r in held):
        return []
    for r in held:
        at = r.trace.headers_at
        if at is None or at < LATE_FIRST_BYTE or r.pieces[0].t - at >= 0.02:
            return []
    server = m.product("server", held)
    if server is None or server.name not in ASGI_SERVERS or m.product("proxy") is not None:
        return []
    return [
        Finding(
            "app-collects-body",
            "app",
            f"behind {server.name}, the headers and the whole body came together, late: the app (or its "
            "framework) collected the stream before sending it",
            [
                *(r.summary if m.compared else r.trace.verdict_text for r in held),
                f"{server.evidence} names {server.name}, an ASGI server: it sends each body message as the app gives it",
                "consistent with a framework that collects a sync iterator under ASGI (Django's "
                "StreamingHttpResponse does), or an app that makes everything first",
                "a proxy in front that adds no header of its own would look the same: the hop comparison "
                "(upstream=[...]) tells them apart",
            ],
            "stream from an async iterator (an async def generator): under ASGI, Django collects a sync "
            "iterator given to StreamingHttpResponse before sending it; and yield the first piece early",
        )
    ]
