"""Rules about the server: a worker killed mid-stream, a server that collects small writes,
a cut with no error from the app, a close-delimited (HTTP/1.0 style) body."""

from __future__ import annotations

from ..finding import Finding
from ..measurements import Measurements
from ..products import fix_for
from ..trace import seconds_text
from .silence import silent_cut

WARNINGS = frozenset({"close-delimited"})


def worker_timeout(m: Measurements) -> list[Finding]:
    """Shape: gunicorn killed the sync worker that was streaming (``--timeout``).

    Evidence: the body broke with no error from the app, and ``Server: gunicorn`` proves the
    server. Never claims it for another server.
    """
    r = m.primary
    if not r.cut:
        return []
    match = next(
        (found for found in m.products if found.name == "gunicorn" and found.proof == "header"), None
    )
    if match is None or match.label != r.label:
        return []
    return [
        Finding(
            "server-worker-timeout",
            "server",
            "gunicorn cut the stream: a sync worker is killed when one response takes longer than its --timeout",
            [
                r.trace.verdict_text,
                match.evidence,
                f"the body broke after {seconds_text(r.trace.duration)}, with no error from the app",
            ],
            fix_for(match, "cut"),
        )
    ]


def holds_writes(m: Measurements) -> list[Finding]:
    """Shape: a server (or framework) that a header proves is there, whose known behaviour the
    held response is consistent with: waitress's ``send_bytes``, tornado's ``write`` without
    ``flush()``.

    Evidence: every request held, a header that proves the product, and a behaviour tell of
    that product matched by the numbers (or, for tornado, a Content-Length on the held body).
    Never claims it from a behaviour alone, without the header.
    """
    held = m.alike if m.compared else [m.primary]
    if not held or not all(r.held for r in held):
        return []
    if any(r.trace.produced for r in held):
        return []  # the server side knows more: its own rules
    for match in m.products:
        if match.proof != "header" or match.product.kind not in ("server", "framework"):
            continue
        shape = "holds-writes" if match.product.fix("holds-writes") else "buffering"
        own = match.product.fix(shape)
        if not own:
            continue
        consistent = [
            found.evidence for found in m.products if found.proof == "behaviour" and found.name == match.name
        ]
        sized = [r for r in held if r.content_length]
        if not consistent and shape == "buffering" and len(sized) == len(held):
            consistent = [
                f"{r.label}: Content-Length {r.content_length} on a body held to the end: "
                f"consistent with {match.name} ({b.text})"
                for r in sized[:1]
                for b in match.product.behaviours[:1]
            ]
        if not consistent:
            continue
        culprit = "server" if match.product.kind == "server" else "app"
        return [
            Finding(
                "server-holds-writes" if culprit == "server" else "app-holds-writes",
                culprit,
                f"{match.name} held the body back before sending it",
                [
                    *(r.summary if m.compared else r.trace.verdict_text for r in held),
                    match.evidence,
                    *consistent,
                    "a proxy in front that adds no header of its own would pass this Server header on "
                    "and could hold it the same way: the hop comparison (upstream=[...]) tells them apart",
                ],
                own,
            )
        ]
    return []


def stream_cut(m: Measurements) -> list[Finding]:
    """Shape: the connection broke mid-body, with no error from the app, after no long silence.

    Evidence: the client's broken body. Names the server only when no proxy is proved and
    nothing was silent long before the cut (a silence points at an idle timeout: silence rules);
    never for a read the probe itself gave up on.
    """
    r = m.primary
    if not r.cut or silent_cut(r):
        return []
    match = m.product("proxy")
    facts = [r.trace.verdict_text]
    server = r.server
    if server:
        facts.append(f"Server: {server}")
    if match is not None:
        return [
            Finding(
                "proxy-cut",
                "proxy",
                f"the stream broke on its way through {match.name}",
                [*facts, f"{match.evidence} names {match.name}"],
                fix_for(match, "cut"),
            )
        ]
    return [
        Finding(
            "stream-cut",
            "server",
            "the connection broke in the middle of the body, with no error from the app recorded",
            facts,
            "look at the server's log: a worker timeout or a crash cuts a stream like this",
        )
    ]


def close_delimited(m: Measurements) -> list[Finding]:
    """Shape (warning): a body that ends when the server closes the connection.

    Evidence: no Content-Length and no chunked Transfer-Encoding (not for HEAD). Never claims
    the stream was held: such a body can stream.
    """
    for r in m.subjects:
        if r.framing == "close" and r.trace.method != "HEAD":
            return [
                Finding(
                    "close-delimited",
                    "server",
                    "the body ends when the server closes the connection (no Content-Length, not "
                    "chunked): HTTP/1.0 style",
                    [f"{r.label}: no Content-Length and no Transfer-Encoding: chunked"],
                    "serve HTTP/1.1 so the body is chunked: a client then can tell a whole body from a "
                    "cut one, and a proxy (nginx) need not read to the close",
                    warning=True,
                )
            ]
    return []
