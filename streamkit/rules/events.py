"""Rules about event streams (server-sent events, JSON lines): events glued together on the way,
the first content late behind control events, an event left without its blank line, and an
event stream served with the wrong headers.

All four are warnings: a stream can stream and still have them, and none of them holds the
stream back as a whole (the held-back rules say that). Each reads the events the probe split
the body into (``trace.events``, see :mod:`streamkit.events`) and, for glued events, the server
side (``produced``/``written``) to tell where the events were put together.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..events import SSEParser
from ..finding import Finding
from ..measurements import Measurements
from ..products import fix_for
from ..trace import AT_ONCE, Trace, carriers, counts_wire_bytes, links, plural, seconds_text
from .middleware import FIX_MIDDLEWARE
from .proxy import proxy_between

WARNINGS = frozenset({"events-glued", "first-content-late", "event-unterminated", "event-stream-type"})

# Items made at least this far apart that reach the client in one read were glued on the way.
# A reader in its own process reads a loopback socket within a millisecond or two, but a busy
# machine can stall it for tens of milliseconds: a clean stream must never look glued.
GLUED_APART = 0.1
# The first content this long after the first byte is late (the first byte was a control
# event or a keep-alive).
LATE_CONTENT = 0.2
# How much of a text/plain body is parsed to see whether it is really an event stream.
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class Glue:
    """One socket read that completed ``events`` events made ``made_from``..``made_to`` (s),
    arriving at ``t``; ``written_apart``: the server wrote them apart too (None: not known)."""

    read: int
    t: float
    events: int
    made_from: float
    made_to: float
    written_apart: bool | None


def glued(trace: Trace) -> list[Glue]:
    """The reads that completed several events whose items the server side shows made (or,
    without the app's items, written) at least :data:`GLUED_APART` apart."""
    per_read: dict[int, int] = defaultdict(int)
    for event in trace.events:
        per_read[event.read] += 1
    if max(per_read.values(), default=0) < 2:
        return []
    source = trace.produced or trace.written
    if not source or not trace.chunks:
        return []
    items = [event for event in source if event.size]
    where = carriers(items, trace.chunks)
    # Which write carried each produced item (to tell a hold before the socket from one after).
    write_of: list[int | None] = []
    if trace.produced and trace.written:
        every = list(trace.produced)
        targets = links(trace).get("produced") or []
        nonempty = [i for i, event in enumerate(every) if event.size]
        write_of = [targets[i] if i < len(targets) else None for i in nonempty]
    by_read: dict[int, list[int]] = defaultdict(list)
    for index, chunk in enumerate(where):
        if chunk is not None:
            by_read[trace.chunks[chunk].read].append(index)
    found = []
    for read, count in sorted(per_read.items()):
        if count < 2 or read not in by_read:
            continue
        made = [items[i].t for i in by_read[read]]
        if max(made) - min(made) < GLUED_APART:
            continue
        written_apart: bool | None = None
        if write_of and trace.written:
            writes = [trace.written[w].t for w in (write_of[i] for i in by_read[read]) if w is not None]
            if len(writes) >= 2:
                written_apart = max(writes) - min(writes) >= GLUED_APART
        elif not trace.produced:
            written_apart = True  # the items are the server's writes
        arrived = max(event.t for event in trace.events if event.read == read)
        found.append(Glue(read, arrived, count, min(made), max(made), written_apart))
    return found


def events_glued(m: Measurements) -> list[Finding]:
    """Shape (warning): events made apart reached the client together, several in one read.

    Evidence: ``trace.events`` (which read completed each event) and the server side: the
    items that carried the events of one read were made at least :data:`GLUED_APART` apart.
    Where: written together by the server (compressed or not: a compressor or a middleware
    before the socket), or written apart and read together (a layer after the server: a proxy,
    named only when a header proves it). Never claims anything without the server side (events
    the app yields together are not glued). A stream held back as a whole gets it too, beside
    the held-back rule that names the layer: it says what the hold did to the events.
    """
    r = m.primary
    trace = r.trace
    if not trace.events:
        return []
    found = glued(trace)
    if not found:
        return _glued_between_hops(m)
    events = sum(glue.events for glue in found)
    worst = max(found, key=lambda glue: (glue.events, glue.made_to - glue.made_from))
    facts = [
        f"{events} of {plural(len(trace.events), 'event')} reached the client in {_reads(len(found))} "
        f"several events that the server side shows made apart",
        f"e.g. {worst.events} events made from {seconds_text(worst.made_from)} to "
        f"{seconds_text(worst.made_to)} arrived together at {seconds_text(worst.t)}",
    ]
    apart = [glue.written_apart for glue in found if glue.written_apart is not None]
    after_socket = bool(apart) and all(apart)
    before_socket = bool(apart) and not any(apart)
    if before_socket:
        facts.append("the server wrote them together: they were joined between the app and the socket")
        if r.encoding and counts_wire_bytes(trace.written or [], trace.chunks):
            facts.append(
                f"the server wrote {r.encoding}-compressed bytes: a compressing middleware joined them"
            )
            culprit, fix = "compression", fix_for(None, "compression")
        else:
            culprit, fix = "middleware", FIX_MIDDLEWARE
        summary = f"events the app made apart were joined before the server wrote them ({culprit})"
    elif after_socket:
        facts.append("the server wrote them apart: they were joined after the socket")
        match = m.product("proxy")
        if match is not None:
            facts.append(f"{match.evidence} names {match.name}")
        who = match.name if match is not None else "a proxy between the server and the client"
        compressing = bool(r.encoding and not counts_wire_bytes(trace.written or [], trace.chunks))
        if compressing:
            facts.append(
                f"the server wrote plain bytes, the client got {r.encoding}: compressed after the server"
            )
        culprit, fix = "proxy", fix_for(match, "compression" if compressing else "buffering")
        summary = f"{who} glued events together: tokens reach the client in bursts, not as made"
    else:
        culprit, fix = None, fix_for(None, "buffering")
        summary = "events made apart reached the client together, in bursts"
    return [Finding("events-glued", culprit, summary, facts, fix, warning=True)]


def _reads(count: int) -> str:
    return "1 socket read that completed" if count == 1 else f"{count:,} socket reads, each completing"


def _glued_between_hops(m: Measurements) -> list[Finding]:
    """Events one hop got in one read that the hop behind it got apart (``upstream=[...]``).

    The hops are separate requests for the same resource, so their events are matched by
    their place in the stream, and times are compared within each hop only. The layer named
    is the one listening at the front hop of the first pair (from the client) that shows it.
    """
    hops = m.hops
    for front, behind in zip(hops, hops[1:]):
        ahead, back = front.trace.events, behind.trace.events
        if len(ahead) < 2 or len(ahead) != len(back):
            continue
        by_read: dict[int, list[int]] = defaultdict(list)
        for index, event in enumerate(ahead):
            by_read[event.read].append(index)
        groups = []
        for indexes in by_read.values():
            if len(indexes) < 2:
                continue
            times = [back[i].t for i in indexes]
            if max(times) - min(times) >= GLUED_APART and len({back[i].read for i in indexes}) > 1:
                groups.append(indexes)
        if not groups:
            continue
        events = sum(len(group) for group in groups)
        worst = max(groups, key=len)
        spread = max(back[i].t for i in worst) - min(back[i].t for i in worst)
        match = proxy_between(m, front, behind)
        facts = [
            f"{front.trace.url}: {events} of {plural(len(ahead), 'event')} came in {_reads(len(groups))} "
            "several events",
            f"{behind.trace.url}, the hop behind it: the same {len(worst)} events came over "
            f"{seconds_text(spread)}, in several reads",
        ]
        if match is not None:
            facts.append(f"{match.evidence} at that hop, not behind it: {match.name}")
        who = match.name if match is not None else f"the proxy at {front.trace.url}"
        compressing = bool(front.encoding and not behind.encoding)
        return [
            Finding(
                "events-glued",
                "proxy",
                f"{who} glued events together: tokens reach the client in bursts, not as made",
                facts,
                fix_for(match, "compression" if compressing else "buffering"),
                warning=True,
            )
        ]
    return []


def first_content_late(m: Measurements) -> list[Finding]:
    """Shape (warning, informational): the first byte came early, the first content late.

    Evidence: ``trace.first_content`` at least :data:`LATE_CONTENT` after the first byte, with
    control events (a role-only delta, ``response.created``) or comments (keep-alives) before
    it, in a stream that streamed. Nothing held it: the app (or the model behind it) was slow
    to make its first content. Names the app only when its items show the content made late;
    time to first token must be measured at the first content, not the first byte. Never told
    for a stream held back (that hold is the news) or one whose first byte was its content.
    """
    r = m.primary
    trace = r.trace
    first = trace.first_content
    if not r.streams or first is None or trace.ttfb is None or first - trace.ttfb < LATE_CONTENT:
        return []
    before = [event for event in trace.events if event.t <= first and not event.content]
    comments = [comment for comment in trace.comments if comment.t < first]
    if not before and not comments:
        return []
    came = []
    if before:
        came.append(plural(len(before), "event") + " without content")
    if comments:
        came.append(plural(len(comments), "comment") + f" ({comments[0].text.strip()[:30]!r})")
    facts = [
        f"the first byte came at {seconds_text(trace.ttfb)}, the first content at {seconds_text(first)}: "
        f"{' and '.join(came)} came first",
    ]
    culprit = None
    items = [event for event in trace.produced or () if event.size]
    if items:
        where = carriers(items, trace.chunks)
        first_chunk = next(event.chunk for event in trace.events if event.content)
        made = [item.t for item, chunk in zip(items, where) if chunk == first_chunk]
        if made and made[-1] >= first - AT_ONCE - 0.05:
            culprit = "app"
            facts.append(
                f"the app made the first content at {seconds_text(made[-1])}: it was late, nothing held it"
            )
    return [
        Finding(
            "first-content-late",
            culprit,
            "the stream started at once, but its first content (the first token) came late",
            facts,
            "nothing to change in the layers: the app or the model behind it was slow to its first "
            "token; measure time to first token at the first content event, not the first byte",
            warning=True,
        )
    ]


def event_unterminated(m: Measurements) -> list[Finding]:
    """Shape (warning): the body ended inside a server-sent event (no blank line after it).

    Evidence: ``trace.unterminated`` from the parser, on a body that ended cleanly (a broken
    or stopped body is another story). An EventSource never dispatches such an event, and
    parsers that wait for the blank line see it one event late or never.
    """
    r = m.primary
    trace = r.trace
    last = trace.unterminated
    if last is None or trace.event_framing != "sse" or trace.error or trace.stopped or trace.interrupted:
        return []
    return [
        Finding(
            "event-unterminated",
            "app",
            "the last event has no blank line after it: an EventSource never sees it",
            [
                f"the body ended at {seconds_text(trace.duration)} inside an event "
                f"(type {last.type!r}, data {last.data[:40]!r}) that never got its blank line",
                f"{plural(len(trace.events), 'complete event')} came before it",
            ],
            'end every event with a blank line: yield f"data: {text}\\n\\n" (two newlines)',
            warning=True,
        )
    ]


def _looks_like_events(trace: Trace) -> int:
    """How many server-sent events the start of a kept body holds (0: not an event stream)."""
    if not trace.chunks or trace.chunks[0].data is None:
        return 0
    body = b"".join(chunk.data or b"" for chunk in trace.chunks)[:SNIFF_BYTES]
    if not body.lstrip(b"\xef\xbb\xbf").startswith((b"data:", b"event:", b"id:", b"retry:", b":")):
        return 0
    parser = SSEParser()
    parser.feed(body, 0.0, 0, 0)
    return len(parser.events)


def event_stream_type(m: Measurements) -> list[Finding]:
    """Shape (warning): an event stream with the wrong headers: served as ``text/plain`` (or no
    type), or with a ``Content-Length``.

    Evidence: the Content-Type and a body that parses as server-sent events (two or more); or
    an event stream's Content-Length. EventSource refuses any type but ``text/event-stream``;
    browsers sniff ``text/plain``, holding its first KiB; a Content-Length means the length was
    known before the first byte went out, so the events were all made (or collected) first.
    Never blames the app for a Content-Length that a layer holding the stream set, nor for a
    ``text/plain`` body that does not parse as events.
    """
    r = m.primary
    trace = r.trace
    if trace.status is None or not r.pieces:
        return []
    facts = []
    if r.mimetype in ("", "text/plain", "application/octet-stream"):
        found = _looks_like_events(trace)
        if found >= 2:
            facts.append(
                f"Content-Type: {r.content_type or '(none)'} on a body of server-sent events "
                f"({found:,} in its first {min(trace.size, SNIFF_BYTES):,} bytes)"
            )
    is_events = r.mimetype == "text/event-stream" or bool(facts)
    length = r.content_length
    culprit: str | None = "app"
    if is_events and length and not (r.held and r.holding is not None):
        # (A layer that held a stream made over time set it: the held-back rules name that layer.)
        facts.append(
            f"Content-Length: {length} on an event stream: its length was known before the first "
            "byte was sent, so every event was made (or collected) first"
        )
        items = [event for event in trace.produced or () if event.size]
        if len(facts) == 1 and len(items) != 1:
            culprit = None  # without the app's items, the layer that set it is not known
    if not facts:
        return []
    return [
        Finding(
            "event-stream-type",
            culprit,
            "an event stream served with the wrong headers",
            facts,
            "send Content-Type: text/event-stream (EventSource accepts nothing else, and browsers "
            "hold text/plain while they sniff it) and no Content-Length: stream the body "
            "(a generator) so it goes out chunked",
            warning=True,
        )
    ]
