"""What the requests measured, worked out once: :class:`Measurements`, read by every rule.

Measuring layer. A diagnosis judges numbers; this module makes them, so that no rule reads a
header or walks the chunks itself. From each request (a :class:`~streamkit.trace.Trace`) it
takes the encoding, media type and framing, the verdict and :func:`~streamkit.trace.held_back`,
how the server's writes followed the app's items, the arrival summary and the longest silence.
Across requests it measures what only comparing shows: a later request whose headers waited
for an earlier stream to end (:class:`Wait`), and the hops of a proxy chain, client first.
The products the responses name (``Server``, ``Via``, ...) come from
:func:`streamkit.products.recognise`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .trace import (
    AT_ONCE,
    Chunk,
    Holding,
    Trace,
    content_pieces,
    held_back,
    links,
    plural,
    seconds_text,
)

if TYPE_CHECKING:
    from .products import Match

__all__ = [
    "Failed",
    "Measured",
    "Measurements",
    "Silence",
    "Wait",
    "WritesHeld",
    "arrival_summary",
    "measure",
]

# How a trace's error starts when the probe itself stopped waiting for the next byte.
CLIENT_GAVE_UP = "ReadTimeout:"
# A wait shorter than this is a server's ordinary latency, not a queue.
QUEUED = 0.2
# Clock readings of two requests this close count as the same moment (threads start apart).
TOGETHER = 0.05


@dataclass(frozen=True)
class WritesHeld:
    """How the server's writes followed the app's items: ``held`` of ``judged`` items were
    written only after a later item was made, up to ``worst`` seconds late."""

    held: int
    judged: int
    worst: float


@dataclass(frozen=True)
class Silence:
    """The longest time with nothing arriving: from ``start`` to ``end`` (seconds since the
    request), ``before_cut`` when it ran into the body breaking."""

    start: float
    end: float
    before_cut: bool = False

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Failed:
    """A request that got no response: ``reason``, sent at ``sent`` and given up at ``gave_up``
    (``time.monotonic()`` values), ``timed_out`` when it was a wait for the headers."""

    label: str
    reason: str
    sent: float
    gave_up: float
    timed_out: bool


@dataclass(frozen=True)
class Wait:
    """A request (``later``) whose headers came only when another one's stream (``earlier``)
    ended: ``waited`` seconds after it was sent; ``open_for`` how long after the later request was sent
    the earlier stream ended. ``gave_up``: the later request timed out waiting."""

    earlier: str
    later: str
    waited: float
    open_for: float
    gave_up: bool = False


def _header(trace: Trace, name: str) -> str:
    return (trace.headers.get(name) or "").strip()


def encoding_of(trace: Trace) -> str:
    """The response's Content-Encoding, lower case; "" for none or identity."""
    encoding = _header(trace, "Content-Encoding").lower()
    return "" if encoding == "identity" else encoding


def arrival_summary(label: str, trace: Trace) -> str:
    """One line on how a request's content arrived: encoding, pieces, first and last, verdict."""
    pieces = content_pieces(trace.chunks)
    encoding = encoding_of(trace) or "identity"
    if trace.status is None:
        return f"{label}: no response"
    if not pieces:
        return f"{label}: {trace.status}, no content ({encoding}), {trace.verdict}"
    spread = pieces[-1].t - pieces[0].t
    count = f"{len(pieces)} piece{'s' if len(pieces) != 1 else ''}"
    return (
        f"{label}: {encoding}, {count} of content from {seconds_text(pieces[0].t)} to "
        f"{seconds_text(pieces[-1].t)} (spread {seconds_text(spread)}), {trace.verdict}"
    )


def encodings_fact(held: Sequence[Measured]) -> str:
    """What the held requests asked for and got, in words: the encodings are named, never
    counted ("every encoding tried" after one is not true)."""
    asked = sorted({r.accept_encoding for r in held if r.accept_encoding}, key=len)
    got = sorted({r.encoding or "identity" for r in held})
    if asked:
        tried = "; ".join(f"Accept-Encoding: {value}" for value in asked)
        return f"held with every encoding tried ({tried}); the responses came as {', '.join(got)}"
    return f"held in all {len(held)} requests; the responses came as {', '.join(got)}"


def _items(events: Sequence[Any] | None) -> list[Any]:
    return [event for event in events or () if event.size]


def writes_held(trace: Trace) -> WritesHeld | None:
    """How the server's writes followed the app's items, or None when the server side does not
    show both (or the app made everything within :data:`~streamkit.trace.AT_ONCE`)."""
    produced = _items(trace.produced)
    written = list(trace.written or ())
    if len(produced) < 2 or not written or produced[-1].t - produced[0].t < AT_ONCE:
        return None
    targets = links(trace).get("produced") or []
    judged = held = 0
    worst = 0.0
    events = list(trace.produced or ())
    nonempty = [i for i, event in enumerate(events) if event.size]
    for position, index in enumerate(nonempty[:-1]):
        target = targets[index] if index < len(targets) else None
        if target is None:
            continue
        item, following = events[index], events[nonempty[position + 1]]
        when = written[target].t
        judged += 1
        if when - item.t >= AT_ONCE and when >= following.t - 1e-6:
            held += 1
            worst = max(worst, when - item.t)
    return WritesHeld(held, judged, worst) if judged else None


def _silence(trace: Trace, pieces: Sequence[Chunk]) -> Silence | None:
    if trace.headers_at is None:
        return None
    times = [trace.headers_at] + [piece.t for piece in pieces]
    cut = bool(trace.error) and trace.server_error is None
    if cut or trace.stopped:  # (a cut here includes the probe's own timeout: time without data)
        times.append(max(trace.duration, times[-1]))
    best: Silence | None = None
    for index, (a, b) in enumerate(itertools.pairwise(times)):
        if best is None or b - a > best.length:
            best = Silence(a, b, before_cut=cut and index == len(times) - 2)
    return best


@dataclass
class Measured:
    """One request, measured: its ``label`` (``"identity (Accept-Encoding: identity)"``,
    ``"hop 2: http://..."``), the :class:`~streamkit.trace.Trace`, and what the rules read."""

    label: str
    trace: Trace
    role: str = "variant"  # "variant" or "hop"
    accept_encoding: str | None = None  # what the request asked for, when known
    encoding: str = ""
    mimetype: str = ""
    content_type: str = ""
    content_length: str = ""  # the Content-Length header, "" when there is none
    framing: str = ""  # "chunked", "length" or "close" (the body ends when the connection closes)
    nosniff: bool = False  # X-Content-Type-Options: nosniff
    cache_control: str = ""  # lower case
    server: str = ""  # the Server header
    verdict: str = ""
    pieces: list[Chunk] = field(default_factory=list)
    framing_first: int = 0
    holding: Holding | None = None
    writes: WritesHeld | None = None
    summary: str = ""
    silence: Silence | None = None

    @property
    def held(self) -> bool:
        """The content did not reach the client spread over time, as produced. A request
        interrupted (Ctrl-C) before its second piece is not counted: it had no time to show."""
        if self.verdict == "single" and self.trace.interrupted:
            return False
        return self.verdict in ("buffered", "single")

    @property
    def streams(self) -> bool:
        return self.verdict == "streamed"

    @property
    def cut(self) -> bool:
        """The body broke with no error from the app recorded, and not because the client
        itself stopped waiting (its own ``timeout``: the stream may have gone on)."""
        error = self.trace.error or ""
        gave_up = self.trace.error_kind == "timeout" or error.startswith(CLIENT_GAVE_UP)
        return bool(error) and self.trace.server_error is None and not gave_up

    def header(self, name: str) -> str:
        """A response header (for the product table's tells; rules read the fields)."""
        return _header(self.trace, name)

    @property
    def sent(self) -> float:
        return self.trace.started

    @property
    def headers_came(self) -> float | None:
        """When the headers came, on the ``time.monotonic()`` clock."""
        at = self.trace.headers_at
        return None if at is None else self.trace.started + at

    @property
    def ended(self) -> float:
        return self.trace.started + self.trace.duration


def measure(label: str, trace: Trace, role: str = "variant", accept_encoding: str | None = None) -> Measured:
    """Measure one trace once; ``accept_encoding`` is what the request asked for, if known."""
    pieces = content_pieces(trace.chunks)
    framing = 0
    for chunk in trace.chunks:
        if chunk.size:
            break
        framing += chunk.wire_size
    content_type = _header(trace, "Content-Type")
    length = _header(trace, "Content-Length")
    if "chunked" in _header(trace, "Transfer-Encoding").lower():
        ends_by = "chunked"
    else:
        ends_by = "length" if length else "close"
    return Measured(
        label=label,
        trace=trace,
        role=role,
        accept_encoding=accept_encoding,
        encoding=encoding_of(trace),
        mimetype=content_type.split(";", 1)[0].strip().lower(),
        content_type=content_type,
        content_length=length,
        framing=ends_by,
        nosniff=_header(trace, "X-Content-Type-Options").lower() == "nosniff",
        cache_control=_header(trace, "Cache-Control").lower(),
        server=_header(trace, "Server"),
        verdict=trace.verdict,
        pieces=pieces,
        framing_first=framing if pieces else 0,
        holding=held_back(trace),
        writes=writes_held(trace),
        summary=arrival_summary(label, trace),
        silence=_silence(trace, pieces),
    )


def _waits(requests: Sequence[Measured], failed: Sequence[Failed]) -> list[Wait]:
    """Later requests whose headers came only when an earlier stream ended.

    A request counts as queued behind another when it was sent while the other's stream had
    at least :data:`QUEUED` to run, its headers came no earlier than that stream's end, it
    waited at least :data:`QUEUED` for them, and its own content then streamed (a proxy that
    holds the whole body also sends its headers at the end, but then nothing streams after
    them). A request that timed out waiting while the other stream was still open counts too.
    """
    found: list[Wait] = []
    streamed = [r for r in requests if r.streams and r.headers_came is not None]
    for later in requests:
        came = later.headers_came
        if came is None or not later.streams or came - later.sent < QUEUED:
            continue
        # The stream it waited for: the last to end before its headers came.
        candidates = [
            earlier
            for earlier in streamed
            if earlier is not later
            and earlier.headers_came is not None
            and earlier.ended - later.sent >= QUEUED
            and earlier.ended - earlier.headers_came >= QUEUED
            and came >= earlier.ended - TOGETHER
        ]
        if candidates:
            earlier = max(candidates, key=lambda r: r.ended)
            found.append(Wait(earlier.label, later.label, came - later.sent, earlier.ended - later.sent))
    for fail in failed:
        if not fail.timed_out:
            continue
        for earlier in streamed:
            if earlier.headers_came is not None and earlier.headers_came - fail.sent < QUEUED:
                if earlier.ended >= fail.gave_up - TOGETHER:
                    found.append(
                        Wait(
                            earlier.label,
                            fail.label,
                            fail.gave_up - fail.sent,
                            fail.gave_up - fail.sent,
                            True,
                        )
                    )
                    break
    return found


@dataclass
class Measurements:
    """Everything a diagnosis is judged from, measured once.

    ``requests``: the variants of one URL (the request as given first; one request for
    :func:`~streamkit.diagnosis.diagnose`). ``hops``: the same resource at each hop, from the
    client toward the app (``hops[0]`` is the request as given), empty without ``upstream``.
    ``failed``: requests that got no response. ``waits``: requests queued behind another
    stream (:class:`Wait`). ``products``: what the responses name (see
    :func:`streamkit.products.recognise`).
    """

    requests: list[Measured]
    hops: list[Measured] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    interrupted: bool = False
    doctored: bool = False

    @property
    def primary(self) -> Measured:
        """The request as given."""
        return self.requests[0]

    @property
    def trace(self) -> Trace:
        return self.primary.trace

    @property
    def compared(self) -> bool:
        """More than one variant was requested (by :func:`~streamkit.doctor.doctor`)."""
        return self.doctored

    @cached_property
    def alike(self) -> list[Measured]:
        """The variants that got what the request as given got (same status class, some
        content): a server may answer ``Accept: text/event-stream`` with a 406."""
        base = self.primary.trace.status
        return [
            r
            for r in self.requests
            if r.trace.status is not None
            and base is not None
            and r.trace.status // 100 == base // 100
            and r.pieces
        ]

    @property
    def subjects(self) -> list[Measured]:
        """The requests whose own headers and arrival the warnings judge: the comparable
        variants, or the one request when it got a response with content."""
        if self.doctored:
            return self.alike
        return [r for r in self.requests if r.pieces and r.trace.status is not None]

    @cached_property
    def streams(self) -> bool:
        """Every comparable request streamed (the one request, for a single trace)."""
        if not self.doctored:
            return self.primary.streams
        return bool(self.alike) and all(r.streams for r in self.alike)

    @cached_property
    def waits(self) -> list[Wait]:
        return _waits(self.requests + self.hops[1:], self.failed)

    @cached_property
    def products(self) -> list[Match]:
        from .products import recognise

        return recognise(self)

    def product(self, kind: str, requests: Sequence[Measured] | None = None) -> Match | None:
        """The first product of ``kind`` a response header proved (in ``requests``, or any)."""
        labels = None if requests is None else {r.label for r in requests}
        for match in self.products:
            if match.product.kind == kind and match.proof == "header":
                if labels is None or match.label in labels:
                    return match
        return None

    @property
    def all_requests(self) -> list[Measured]:
        return self.requests + self.hops[1:]

    @classmethod
    def of_trace(cls, trace: Trace) -> Measurements:
        """The measurements of one request (:func:`~streamkit.diagnosis.diagnose`)."""
        return cls([measure(f"{trace.method} {trace.url}", trace)], interrupted=bool(trace.interrupted))


def server_side_summary(trace: Trace) -> list[str]:
    """The innermost hops, when :meth:`streamkit.Server.get` recorded them: when the app made
    its items and when the server wrote them, one line each."""
    lines = []
    for name, events, verb in (("app", trace.produced, "produced"), ("server", trace.written, "wrote")):
        items = _items(events)
        if items:
            lines.append(
                f"{name}: {verb} {plural(len(items), 'item')} from {seconds_text(items[0].t)} to "
                f"{seconds_text(items[-1].t)}"
            )
    return lines
