"""When no layer can be named: no content, a small quick answer, a held stream the response
leaves no trace of (and what would tell), and a stream held only in part."""

from __future__ import annotations

from ..finding import Finding
from ..measurements import Measured, Measurements, encodings_fact
from ..products import fix_for
from ..trace import seconds_text
from .middleware import FIX_MIDDLEWARE

WARNINGS = frozenset({"partly-held"})

# A first content byte later than this (and most of the response's time) counts as late.
LATE_FIRST_BYTE = 0.2

WHAT_WOULD_TELL = (
    "compare hops: doctor(url, upstream=['http://<the app's own address>/...']) (CLI: --upstream URL, "
    "client first) names a proxy that adds no header; serve the app with streamkit.serve(app) and "
    "diagnose server.get(path): its server side tells the app from a middleware"
)


def _first_late(r: Measured) -> bool:
    return bool(r.pieces) and r.pieces[0].t >= LATE_FIRST_BYTE and r.pieces[0].t >= 0.5 * r.trace.duration


def held_unnamed(m: Measurements) -> list[Finding]:
    """Shape: no content, a small quick answer, or a held stream no rule could place.

    Evidence: the client's view only. Blames nobody, and says what would tell (the hop
    comparison, the server side). Never says a proxy would have named itself: most proxies
    add no header of their own.
    """
    r = m.primary
    if not m.alike or (not m.compared and r.verdict == "empty"):
        if r.verdict != "empty":
            return []
        return [
            Finding(
                "no-content",
                None,
                "the response has no content, so there is nothing to stream",
                [f"status {r.trace.status}", r.trace.verdict_text],
                "",
            )
        ]
    held = m.alike if m.compared else [r]
    if not all(x.held for x in held):
        return []
    if r.holding is not None and not m.compared:
        facts = [r.trace.verdict_text]
        if r.content_length:
            facts.append(f"Content-Length: {r.content_length} on a body the app produced over time")
        facts.append(
            "the server's writes were not recorded, so app-to-socket and socket-to-client cannot be told apart"
        )
        return [
            Finding(
                "held-between",
                None,
                "the app produced the stream over time, and a layer between it and the client held it back",
                facts,
                FIX_MIDDLEWARE,
            )
        ]
    if any(x.trace.produced for x in held):
        return []
    if not any(_first_late(x) for x in held) and m.product("proxy") is None:
        return [
            Finding(
                "single-piece",
                None,
                "the body arrived in one piece, soon after the request: a small or quick response",
                [x.summary if m.compared else x.trace.verdict_text for x in held],
                "",
            )
        ]
    facts = [x.summary if m.compared else x.trace.verdict_text for x in held]
    if m.compared:
        facts.append(encodings_fact(held))
    else:
        if _first_late(r):
            facts.append(f"the first content byte came late, at {seconds_text(r.pieces[0].t)}")
        if r.content_length:
            facts.append(
                f"Content-Length: {r.content_length}: whoever set it had the whole body before sending"
            )
        if r.encoding:
            facts.append(f"Content-Encoding: {r.encoding}")
    for match in m.products:
        facts.append(match.evidence if match.proof == "behaviour" else f"{match.evidence} names {match.name}")
    if len(m.hops) >= 2:
        facts += [hop.summary for hop in m.hops]
        if all(hop.held for hop in m.hops):
            facts.append(
                f"every hop was held, the innermost too ({m.hops[-1].trace.url}): the layer is the app, a "
                "middleware or the server at that hop"
            )
    else:
        facts.append("no response header proves a proxy; most proxies add none of their own")
    code = "held-before-client" if m.compared else "held-somewhere"
    summary = (
        "every request arrived at once, and nothing in the responses names the layer: the app "
        "(making everything first), a middleware, the server, or a proxy that adds no header"
        if m.compared
        else "the content arrived at once, late; from the client alone the layer cannot be told: the "
        "app (making everything first), a middleware, compression, the server or a proxy may hold it"
    )
    return [Finding(code, None, summary, facts, WHAT_WOULD_TELL)]


def partly_held(m: Measurements) -> list[Finding]:
    """Shape (warning): most items arrived as produced, but some were held back.

    Evidence: the server side (``held_back``: some items late, fewer than half). Names the
    middleware when the server wrote those items late, a proxy when it wrote them on time;
    otherwise nobody. Never makes the stream count as held.
    """
    r = m.primary
    if r.verdict != "streamed" or r.holding is None or not r.holding.held:
        return []
    culprit = None
    fix = ""
    facts = [r.trace.verdict_text]
    if r.writes is not None and r.writes.held:
        culprit, fix = "middleware", FIX_MIDDLEWARE
        facts.append(
            f"the server wrote {r.writes.held} of {r.writes.judged} items only after a later item was made"
        )
    elif r.trace.written and (r.writes is not None or r.trace.produced is None):
        culprit, fix = "proxy", fix_for(m.product("proxy"), "buffering")
        facts.append("the server wrote each item about when it was made: part was held after the socket")
    return [
        Finding(
            "partly-held",
            culprit,
            "most of the stream arrived as produced, but part of it was held back",
            facts,
            fix,
            warning=True,
        )
    ]
