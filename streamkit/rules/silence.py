"""Rules about silence: a stream cut after a silence (an idle timeout), and silences long
enough to meet one."""

from __future__ import annotations

import itertools

from ..finding import Finding
from ..measurements import Measured, Measurements
from ..products import GENERIC, fix_for
from ..trace import seconds_text

WARNINGS = frozenset({"sse-idle-gap", "long-silence"})

# A cut after at least this much silence (and twice the longest gap before it) is a cut after
# silence.
SILENT_CUT = 0.5
# An event stream silent this long gets the heartbeat warning; any stream, at LONG_SILENCE.
SSE_IDLE = 10.0
LONG_SILENCE = 30.0
TIMEOUTS = "nginx proxy_read_timeout 60 s, common load balancers 60 s, Cloudflare about 100 s"
# Another hop counts as having kept going when it had content this long after the cut.
KEPT_GOING = 0.05


def silent_cut(r: Measured) -> bool:
    """The body broke after a silence of at least :data:`SILENT_CUT`, twice any gap before it."""
    s = r.silence
    if not r.cut or s is None or not s.before_cut or s.length < SILENT_CUT:
        return False
    times = [t for t in [r.trace.headers_at, *(p.t for p in r.pieces)] if t is not None]
    before = max((b - a for a, b in itertools.pairwise(times)), default=0.0)
    return s.length >= 2 * before


def _silence_fact(r: Measured) -> str:
    assert r.silence is not None
    return (
        f"{r.label}: nothing arrived for {seconds_text(r.silence.length)}, from "
        f"{seconds_text(r.silence.start)}, then the body broke at {seconds_text(r.silence.end)}"
    )


def _last_content(r: Measured) -> float:
    return r.sent + (r.pieces[-1].t if r.pieces else 0.0)


def cut_after_silence(m: Measurements) -> list[Finding]:
    """Shape: the body broke after a silence: an idle timeout in a proxy or the server.

    Evidence: the silence before the cut and the moment of the cut. With the hop comparison,
    the proxy is named when the hop behind it kept going after the cut (had content later, or
    did not break); when every hop broke, the cut is at or behind the innermost hop. Without
    hops, a proxy is named only when a header proves it, and only as consistent with its idle
    timeout. Never names a layer from the silence alone (``cut_unnamed`` says so).
    """
    hops = m.hops
    if len(hops) >= 2:
        return _cut_between_hops(m)
    r = m.primary
    if not silent_cut(r):
        return []
    facts = [r.trace.verdict_text, _silence_fact(r)]
    match = m.product("proxy")
    if match is None:
        return []
    facts.append(f"{match.evidence} names {match.name}; the cut is consistent with its idle timeout")
    return [
        Finding(
            "cut-after-silence",
            "proxy",
            f"the stream broke after {seconds_text(r.silence.length if r.silence else 0.0)} of silence, "
            f"on its way through {match.name}: consistent with {match.name}'s idle timeout",
            facts,
            fix_for(match, "cut"),
        )
    ]


def _ended_early(front: Measured, behind: Measured) -> bool:
    """The front hop's body ended (broke, or closed cleanly as Caddy's read_timeout does) while
    the hop behind it still had content to come."""
    if front.trace.stopped or front.trace.interrupted or front.trace.server_error is not None:
        return False
    if not (front.cut or front.trace.error is None):
        return False
    return _last_content(behind) > front.ended + KEPT_GOING or (
        front.cut and not behind.cut and behind.ended > front.ended + KEPT_GOING
    )


def _cut_between_hops(m: Measurements) -> list[Finding]:
    hops = m.hops
    for front, behind in itertools.pairwise(hops):
        if not _ended_early(front, behind):
            continue
        last = front.pieces[-1].t if front.pieces else (front.trace.headers_at or 0.0)
        silent = front.trace.duration - last
        if silent < SILENT_CUT:
            continue
        how = "broke" if front.cut else "ended (cleanly: no client can tell it from a whole body)"
        facts = [
            front.trace.verdict_text,
            f"{front.label}: nothing arrived for {seconds_text(silent)}, from {seconds_text(last)}, then "
            f"the body {how} at {seconds_text(front.trace.duration)}",
            *(hop.summary for hop in hops),
            f"{behind.trace.url}, the hop behind, kept going after {front.trace.url} {how.split(' ')[0]}: "
            f"the layer listening at {front.trace.url} cut it",
        ]
        match = next(
            (
                f
                for f in m.products
                if f.label == front.label and f.proof == "header" and f.product.kind == "proxy"
            ),
            None,
        )
        if match is not None:
            facts.append(f"{match.evidence} names {match.name}")
        who = match.name if match else f"the proxy at {front.trace.url}"
        return [
            Finding(
                "cut-after-silence",
                "proxy",
                f"{who} cut the stream after {seconds_text(silent)} of silence: an idle timeout",
                facts,
                fix_for(match, "cut"),
            )
        ]
    inner = hops[-1]
    if silent_cut(m.primary) and inner.cut and silent_cut(inner):
        return [
            Finding(
                "cut-after-silence",
                "server",
                "the server (or something behind the innermost hop) cut the stream after a silence",
                [
                    m.primary.trace.verdict_text,
                    _silence_fact(m.primary),
                    *(hop.summary for hop in hops),
                    f"the innermost hop ({inner.trace.url}) broke too, after its own silence: the cut is at "
                    "the app's server or behind it",
                ],
                fix_for(m.product("server", [inner]), "cut"),
            )
        ]
    return []


def cut_unnamed(m: Measurements) -> list[Finding]:
    """Shape: the body broke after a silence, and nothing says which layer cut it.

    Evidence: the silence and the moment of the cut; no proxy proved, no hop comparison.
    Never blames a layer; says what would tell (the hop comparison, the server's log).
    """
    r = m.primary
    if not silent_cut(r) or len(m.hops) >= 2 or m.product("proxy") is not None:
        return []
    return [
        Finding(
            "cut-after-silence",
            None,
            "the stream broke after a silence: an idle timeout cut it, in a proxy or the server; "
            "the response names no proxy (most add no header of their own), so the layer is not known",
            [r.trace.verdict_text, _silence_fact(r)],
            GENERIC["cut"]
            + "; to find the layer, compare hops: doctor(url, upstream=[...]) (CLI: --upstream URL)",
        )
    ]


def _sse_gap(r: Measured) -> float:
    times = [0.0 if r.trace.headers_at is None else r.trace.headers_at] + [p.t for p in r.pieces]
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def long_silence(m: Measurements) -> list[Finding]:
    """Shape (warning): a stream silent long enough to meet an idle timeout, even if nothing
    cut it: an event stream for :data:`SSE_IDLE` (``sse-idle-gap``), any stream for
    :data:`LONG_SILENCE` (``long-silence``).

    Evidence: the longest gap between pieces (heartbeat comments are pieces). Never claims
    that anything was cut.
    """
    for r in m.subjects:
        if r.mimetype == "text/event-stream":
            gap = _sse_gap(r)
            if gap >= SSE_IDLE:
                return [
                    Finding(
                        "sse-idle-gap",
                        "app",
                        f"the event stream was silent for {seconds_text(gap)} with no heartbeat",
                        [
                            f"longest gap between pieces: {seconds_text(gap)}",
                            f"idle timeouts streams meet: {TIMEOUTS}",
                        ],
                        "send a comment line (': ping') every 10-15 s, so proxies and load "
                        "balancers do not cut an idle connection",
                        warning=True,
                    )
                ]
        elif r.silence is not None and not r.silence.before_cut and r.silence.length >= LONG_SILENCE:
            s = r.silence
            return [
                Finding(
                    "long-silence",
                    "app",
                    f"the stream was silent for {seconds_text(s.length)}: long enough for an idle timeout to cut it",
                    [
                        f"{r.label}: nothing arrived from {seconds_text(s.start)} to {seconds_text(s.end)}",
                        f"idle timeouts streams meet: {TIMEOUTS}",
                    ],
                    GENERIC["cut"],
                    warning=True,
                )
            ]
    return []
