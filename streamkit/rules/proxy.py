"""Rules about a proxy between the server and the client: buffering, compressing, streaming
only some requests. Most proxies leave no trace in the response (Apache, HAProxy, lighttpd and
Caddy pass the app server's ``Server`` header on and add no ``Via``), so a proxy is named only
from the hop comparison, the server side, or a header that proves it."""

from __future__ import annotations

from ..finding import Finding
from ..measurements import Measured, Measurements, encodings_fact, server_side_summary
from ..products import Match, fix_for
from ..trace import counts_wire_bytes
from .middleware import writes_late

WARNINGS: frozenset[str] = frozenset()


def proxy_between(m: Measurements, front: Measured, behind: Measured) -> Match | None:
    """The proxy a header proves at the hop ``front`` and not at ``behind``, the hop behind it.

    None when no header of ``front``'s response names a proxy that ``behind``'s does not name
    too (most proxies add no header of their own). Used by the hop rules here and by
    :func:`streamkit.rules.events.events_glued`.
    """
    behind_names = {
        match.name for match in m.products if match.label == behind.label and match.proof == "header"
    }
    return next(
        (
            found
            for found in m.products
            if found.label == front.label
            and found.proof == "header"
            and found.name not in behind_names
            and found.product.kind == "proxy"
        ),
        None,
    )


def hop_status_differs(m: Measurements) -> list[Finding]:
    """Shape: two neighbouring hops gave different answers (a 403 or 502 in front of a 200).

    Evidence: the hop comparison's status codes. The hops did not serve the same response, so
    no arrival pattern can be compared between them. Never names a layer, and never lets
    :func:`hop_held` call a short error page a held stream.
    """
    hops = m.hops
    for front, behind in zip(hops, hops[1:]):
        if front.trace.status is None or behind.trace.status is None:
            continue
        if front.trace.status != behind.trace.status:
            return [
                Finding(
                    "hop-status-differs",
                    None,
                    f"{front.trace.url} answered {front.trace.status} where the hop behind it "
                    f"answered {behind.trace.status}: they did not serve the same response",
                    [hop.summary for hop in hops],
                    "look at what the layer listening at "
                    f"{front.trace.url} refused or failed (its error log, its access rules, how it "
                    "reaches the hop behind), then run the comparison again",
                )
            ]
    return []


def hop_held(m: Measurements) -> list[Finding]:
    """Shape: the same resource streams at one hop and is held at the hop in front of it.

    Evidence: the hop comparison (``upstream=[...]``, client first): the layer named is the one
    listening at the last hop that does not stream, in front of the first (from the app) that
    does. Names its product only when that hop's headers prove one the hop behind lacks; the
    arrival of every hop is in the evidence. Never claims anything when the innermost hop is
    held too (the hold is then at the app or its server: other rules).
    """
    hops = m.hops
    if len(hops) < 2 or not hops[-1].streams or hop_status_differs(m):
        return []
    for index in range(len(hops) - 2, -1, -1):
        front, behind = hops[index], hops[index + 1]
        if front.streams:
            continue
        if not front.held:
            return []  # broken or empty: the cut rules say what they can
        match = proxy_between(m, front, behind)
        compressing = bool(front.encoding and not behind.encoding)
        facts = [hop.summary for hop in hops]
        facts.append(
            f"{front.trace.url} was held while {behind.trace.url}, the hop behind it, streamed: "
            f"the layer listening at {front.trace.url} held it"
        )
        if match is not None:
            facts.append(f"{match.evidence} at that hop, not behind it: {match.name}")
        else:
            facts.append("that hop's response names no product (most proxies add no header of their own)")
        if compressing:
            facts.append(
                f"it also compressed the body ({front.encoding}); the hop behind sent it uncompressed"
            )
        who = match.name if match is not None else f"the proxy at {front.trace.url}"
        return [
            Finding(
                "proxy-compression" if compressing else "proxy-buffering",
                "proxy",
                f"{who} held the stream back"
                + (f" while compressing it ({front.encoding})" if compressing else ""),
                facts,
                fix_for(match, "compression" if compressing else "buffering"),
            )
        ]
    return []


def event_stream_only(m: Measurements) -> list[Finding]:
    """Shape: only the request with ``Accept: text/event-stream`` streams.

    Evidence: the variants: the event-stream one streamed, another was held. Behaviour
    consistent with jupyter-server-proxy (JupyterHub, Binder); never names it as proven.
    """
    held = [r for r in m.alike if r.held]
    flowing = [r for r in m.alike if r.streams]
    if not m.compared or not held or not any(r.label.startswith("event-stream") for r in flowing):
        return []
    if any(r.streams and not r.label.startswith("event-stream") for r in m.alike):
        return []
    facts = [r.summary for r in held + flowing]
    facts.append(
        "consistent with jupyter-server-proxy (in front of Jupyter, JupyterHub and Binder), which "
        "streams only when Accept is exactly text/event-stream; the response does not say which layer it is"
    )
    return [
        Finding(
            "proxy-needs-event-stream",
            "proxy",
            "only the request with Accept: text/event-stream streamed: a proxy buffers the others",
            facts,
            fix_for(None, "event-stream-only") + "; or turn response buffering off in that proxy",
        )
    ]


def held_after_socket(m: Measurements) -> list[Finding]:
    """Shape: the server wrote each item about when it was made, and it reached the client late.

    Evidence: the server side's writes (on time against the app's items, or the only side
    known) and a held arrival. A real browser with no proxy named is the client's rule. Names
    a product only when a header proves it; never claims it without the server's writes.
    """
    r = m.primary
    trace = r.trace
    if not r.held or r.holding is None or not trace.written:
        return []
    on_time = (r.writes is not None and not writes_late(r)) or trace.produced is None
    if not on_time:
        return []
    match = m.product("proxy")
    if trace.browser_received is not None and match is None:
        return []
    facts = [trace.verdict_text]
    if r.content_length:
        facts.append(f"Content-Length: {r.content_length} on a body the app produced over time")
    facts.append("the server wrote each item about when it was made: it was held after the socket")
    facts += server_side_summary(trace)
    compressing = bool(r.encoding and not counts_wire_bytes(trace.written, trace.chunks))
    if compressing:
        facts.append(
            f"the server wrote plain bytes, the client got {r.encoding}: a layer after the server compressed them"
        )
    if match is not None:
        facts.append(f"{match.evidence} names {match.name}")
    who = match.name if match is not None else "a proxy between the server and the client"
    return [
        Finding(
            "proxy-compression" if compressing else "proxy-buffering",
            "proxy",
            f"{who} held the stream back" + (f" while compressing it ({r.encoding})" if compressing else ""),
            facts,
            fix_for(match, "compression" if compressing else "buffering"),
        )
    ]


def named_proxy_held(m: Measurements) -> list[Finding]:
    """Shape: every request was held, and a response header proves a proxy in the path.

    Evidence: the variants all held (with different encodings, so not the compression alone),
    and a header that proves the proxy (``Server: nginx``, ``Via: ... varnish``, ``CF-Ray``).
    From one request alone, only with the app's items showing production over time. Says that
    it is certain only if the app's own port streams (the hop comparison tells). Never names a
    proxy from behaviour alone.
    """
    if m.compared:
        held = [r for r in m.alike if r.held]
        if not m.alike or len(held) != len(m.alike):
            return []
    else:
        r = m.primary
        if not r.held or r.holding is None or r.trace.written:
            return []
        held = [r]
    match = m.product("proxy", held)
    if match is None:
        return []
    facts = [r.summary if m.compared else r.trace.verdict_text for r in held]
    if m.compared:
        facts.append(encodings_fact(held))
    facts.append(f"{match.evidence} names {match.name}")
    return [
        Finding(
            "proxy-buffering",
            "proxy",
            f"{match.name} answered and every request was held back: {match.name} buffers the response "
            "(certain if the app's own port streams: compare hops with upstream=[...])",
            facts,
            fix_for(match, "buffering"),
        )
    ]
