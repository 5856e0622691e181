"""Rules about a middleware between the app and the server that collects the body."""

from __future__ import annotations

from ..finding import Finding
from ..measurements import Measured, Measurements, server_side_summary
from ..trace import counts_wire_bytes, seconds_text

WARNINGS: frozenset[str] = frozenset()

FIX_MIDDLEWARE = (
    "find the middleware (or after_request hook) that reads the whole body: anything that "
    "computes a Content-Length, reads response.data / get_data(), or joins the iterable (a "
    "profiler, a minifier, a naive gzip) must pass streaming responses through item by item"
)


def writes_late(r: Measured) -> bool:
    """The server wrote at least half the app's items only after a later one was made."""
    return r.writes is not None and r.writes.held * 2 >= r.writes.judged


def compressed_writes(r: Measured) -> bool:
    """The server wrote compressed bytes (a middleware compressed them before the server)."""
    return bool(r.encoding and r.trace.written and counts_wire_bytes(r.trace.written, r.trace.chunks))


def writes_fact(r: Measured) -> str:
    assert r.writes is not None
    return (
        f"the server wrote {r.writes.held} of {r.writes.judged} items only after a later item was made "
        f"(up to {seconds_text(r.writes.worst)} late): they were held between the app and the socket"
    )


def collects_body(m: Measurements) -> list[Finding]:
    """Shape: a middleware between the app and the server collected the body.

    Evidence: the server side shows the app's items made over time and most of them written
    by the server only after a later item was made, uncompressed. Never claims it from the
    client alone (a proxy, or the app making everything first, looks the same from there).
    """
    r = m.primary
    if not r.held or r.holding is None or not writes_late(r) or compressed_writes(r):
        return []
    facts = [r.trace.verdict_text]
    if r.content_length:
        facts.append(f"Content-Length: {r.content_length} on a body the app produced over time")
    facts += [writes_fact(r), *server_side_summary(r.trace)]
    return [
        Finding(
            "middleware-collects-body",
            "middleware",
            "a middleware between the app and the server collected the body before sending it",
            facts,
            FIX_MIDDLEWARE,
        )
    ]
