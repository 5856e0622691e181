"""The record of one response: when each piece arrived, and what the server saw while sending it.

:func:`streamkit.probe` fills a :class:`Trace` from the client side: the status, the headers and
one :class:`Chunk` per piece of body as it arrived. :meth:`streamkit.Server.get` adds the server
side: an :class:`Event` per item the app produced and per item the server wrote, and the exception
the app raised, if any. Every time is in seconds since the request started, on one clock.

From those numbers :attr:`Trace.verdict` names what happened to the stream (see its docstring)
and :meth:`Trace.explain` says it in a sentence. The wording every picture and message shares
lives here too (verdict texts, the one-line summary, error and count wording), once.

Layer: measuring. Pictures of a trace (SVG, text) live in :mod:`streamkit.timeline`; the
``to_*`` and ``_repr_*_`` methods here import it when called, the one upward call allowed.
"""

from __future__ import annotations

import bisect
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import accumulate
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import werkzeug
from werkzeug.datastructures import Headers

from .events import CommentRecord, EventFigures, EventRecord, event_figures

__all__ = [
    "VERDICTS",
    "Chunk",
    "Event",
    "Holding",
    "StreamBroken",
    "Trace",
    "RECEIVING",
    "arrivals",
    "carriers",
    "content_items",
    "content_pieces",
    "counts_wire_bytes",
    "decoded_ends",
    "error_text",
    "events_text",
    "held_back",
    "links",
    "own_frames",
    "plural",
    "request_line",
    "shorten",
    "verdict_text",
]

# Two pieces closer together than this count as "at the same time".
AT_ONCE = 0.02
# Clock readings this close are one moment (float sums such as 0.2 * 3 are not exact).
_SAME_TIME = 1e-6

# What each verdict word means in general; :func:`verdict_text` says it for one trace, with
# its numbers.
VERDICTS = {
    "streamed": "the content arrived in pieces spread over time",
    "buffered": "most items the app produced over time were held back and reached the client late",
    "broken": "the stream ended early: the app raised, or the connection broke mid-body",
    "empty": "the response has no content",
    "single": (
        "all the content arrived at once; without the server side the cause may be the app or "
        "any layer in between (streamkit.doctor tells which)"
    ),
}
# What a picture of a response that is still arriving says instead of a verdict.
RECEIVING = "receiving"
RECEIVING_TEXT = "the response is still arriving"


@dataclass(slots=True)
class Chunk:
    """One piece of body as the client received it."""

    t: float  # seconds since the request started, when the piece had arrived
    size: int  # bytes after decoding (gzip/deflate), which is what the app produced
    data: bytes | None  # the decoded bytes; None when probed with keep_body=False
    wire_size: int  # bytes on the wire for this piece (compressed size, without chunk framing)
    read: int = 0  # index of the socket read that completed it: chunks of one read came together


@dataclass(slots=True)
class Event:
    """One item on the server side: produced by the app, or written by the server."""

    t: float  # seconds since the request started
    size: int  # bytes in the item
    parts: int = 1  # template parts joined into this item (enable_buffering), else 1
    arrived: float | None = None  # when the client had this item's last byte (server.get fills it)


class StreamBroken(Exception):
    """The client saw the body break (truncated chunked body, reset, bad encoding, ...)."""


@dataclass(eq=False, repr=False)
class Trace:
    """What one request showed: status, headers, the body's pieces in time, and the server side.

    Client side (from :func:`streamkit.probe`):

    * ``status``, ``headers`` (case-insensitive), ``headers_at`` (s when they arrived);
    * ``chunks``: one :class:`Chunk` per HTTP chunk, or per read for other bodies;
    * ``ttfb`` (s when the first body byte arrived), ``duration`` (s until the body ended,
      broke or was stopped), ``error`` (why the body broke, as text) and ``error_kind`` (how:
      one of :data:`streamkit.http1.ERROR_KINDS`), ``stopped`` (``max_seconds``
      ended the read), ``interrupted`` (Ctrl-C or a notebook interrupt ended it);
    * ``started``: the ``time.monotonic()`` value every ``t`` is counted from;
    * ``reader``: where the arrival times were taken: in the reader worker process (and how its
      clock was checked against this one's, see :mod:`streamkit.reader`), or in this process.

    Events (from the probe, when the body is an event stream; see :mod:`streamkit.events`):

    * ``event_framing``: ``"sse"``, ``"jsonl"`` or ``"json-seq"``, None when the body was not
      split into events;
    * ``events``: one :class:`~streamkit.events.EventRecord` per event, in order, each with the
      time and the chunk and read that completed it, and the ``content`` (text) it carries;
    * ``comments``: the SSE comment lines (keep-alives such as ``: ping``), which are not events;
    * ``unterminated``: the last event when the body ended before its blank line (an
      EventSource never dispatches it), else None;
    * :attr:`first_content` (time to first token), :attr:`first_event` and
      :attr:`event_figures` (gaps between content events, events per chunk, longest silence).

    Server side (from :meth:`streamkit.Server.get`; None for a plain probe):

    * ``produced``: an :class:`Event` per item the app yielded (needs a streamkit App, or a
      response wrapped with :func:`streamkit.recording.watch`);
    * ``written``: an :class:`Event` per item the server sent;
    * ``server_error``: the exception the app raised, traceback included, and
      ``server_error_at``, when it raised;
    * ``note``: why part of the server side is missing, if it is.

    Browser side (from ``probe(url, browser=True)`` / ``Server.get(path, browser=True)``, which
    load the URL in headless Chromium; None otherwise, see :mod:`streamkit.browser`):

    * ``browser_received``: an :class:`Event` per body read in the browser's network stack
      (the ``chunks`` then come from the browser too);
    * ``browser_shown``: an :class:`Event` per frame in which the page's visible text grew
      (``size``: characters added); a first paint before any text is an Event of size 0;
    * ``browser_reads``: for a request with a body, which the kit's page sends with
      ``fetch()``: an :class:`Event` per read of the page's ``ReadableStream`` reader (bytes).
    """

    url: str
    method: str = "GET"
    status: int | None = None
    headers: Headers = field(default_factory=Headers)
    chunks: list[Chunk] = field(default_factory=list)
    headers_at: float | None = None
    ttfb: float | None = None
    duration: float = 0.0
    error: str | None = None
    error_kind: str | None = None
    stopped: bool = False
    interrupted: bool = False
    produced: list[Event] | None = None
    written: list[Event] | None = None
    server_error: BaseException | None = None
    server_error_at: float | None = None
    note: str | None = None
    browser_received: list[Event] | None = None
    browser_shown: list[Event] | None = None
    browser_reads: list[Event] | None = None
    started: float = 0.0
    _server_traceback: TracebackType | None = field(default=None, repr=False, compare=False)
    reader: str | None = None
    event_framing: str | None = None
    events: list[EventRecord] = field(default_factory=list)
    comments: list[CommentRecord] = field(default_factory=list)
    unterminated: EventRecord | None = None

    # -- sizes and body -------------------------------------------------------------------

    @property
    def body(self) -> bytes:
        """The decoded body, joined from the chunks (only when probed with keep_body=True)."""
        pieces = [chunk.data for chunk in self.chunks]
        if any(piece is None for piece in pieces):
            raise ValueError(
                "this trace kept only times and sizes (probe(..., keep_body=False)); "
                "probe again with keep_body=True to get the body"
            )
        return b"".join(pieces)  # type: ignore[arg-type]

    @property
    def size(self) -> int:
        """Decoded body bytes received."""
        return sum(chunk.size for chunk in self.chunks)

    @property
    def wire_size(self) -> int:
        """Body bytes received on the wire (compressed, without chunk framing)."""
        return sum(chunk.wire_size for chunk in self.chunks)

    # -- events ---------------------------------------------------------------------------

    @property
    def first_event(self) -> float | None:
        """Seconds from the request to the first complete event, or None."""
        return self.events[0].t if self.events else None

    @property
    def first_content(self) -> float | None:
        """Seconds from the request to the first event that carried content (time to first
        token), or None: control events (a role-only delta, ``response.created``), comments and
        ``[DONE]`` do not count."""
        for event in self.events:
            if event.content:
                return event.t
        return None

    @property
    def content(self) -> str:
        """The text the events carried, joined (``""`` when none carried any)."""
        return "".join(event.content for event in self.events if event.content)

    @property
    def event_figures(self) -> EventFigures | None:
        """The timing of the event stream (see :class:`~streamkit.events.EventFigures`); None
        when the body was not split into events."""
        if self.event_framing is None:
            return None
        return event_figures(
            self.events,
            self.comments,
            headers_at=self.headers_at,
            first_byte=self.ttfb,
            end=self.duration,
        )

    # -- diagnosis ------------------------------------------------------------------------

    @property
    def verdict(self) -> str:
        """What happened to the stream, in one word.

        Pieces count by decoded content bytes: a chunk that decodes to nothing (a gzip header
        sent on its own, an empty chunk) is not a piece of content.

        * ``"broken"``: the app raised (``server_error``) or the body broke (``error``).
        * ``"empty"``: no content bytes at all.
        * ``"buffered"``: the server side shows items produced over time (``produced``, else
          ``written``), and at least half of them reached the client only after a later item
          had been produced and at least 20 ms late: something between app and client held
          them back (see :func:`held_back`).
        * ``"streamed"``: items produced over time arrived mostly as they were produced (a
          part held back is told by :attr:`verdict_text`); or, without server-side times, the
          content arrived in pieces spread over at least 20 ms.
        * ``"single"``: the content arrived at once (one piece, or pieces within 20 ms of each
          other) and nothing shows it was produced over time. A small response that was never
          meant to stream looks like this; so does a held-back one seen from the client alone.
        """
        if self.error or self.server_error is not None:
            return "broken"
        pieces = content_pieces(self.chunks)
        if not pieces:
            return "empty"
        holding = held_back(self)
        if holding is not None:
            return "buffered" if holding.held * 2 >= holding.judged else "streamed"
        if len(pieces) >= 2 and pieces[-1].t - pieces[0].t >= AT_ONCE:
            return "streamed"
        return "single"

    @property
    def verdict_text(self) -> str:
        """One sentence, true of this trace and made from its numbers, about how the content
        arrived (see :func:`verdict_text`); :meth:`explain` adds an event stream's figures."""
        return verdict_text(self, events=False)

    def explain(self, verdict: str | None = None) -> str:
        """The verdict as one sentence true of this trace, made from its numbers (see
        :func:`verdict_text`), with the figures of an event stream when the body was split into
        events (:func:`events_text`). ``verdict`` may be passed in when it is already known:
        working it out is not free for 100,000 chunks."""
        if verdict == RECEIVING:
            return RECEIVING_TEXT
        return verdict_text(self, verdict)

    def diagnose(self) -> Any:
        """Which layer held this stream back, if any, and what to change: a
        :class:`streamkit.diagnosis.Diagnosis` (see :func:`streamkit.diagnosis.diagnose`)."""
        from .diagnosis import diagnose

        return diagnose(self)

    def raise_for_error(self) -> Trace:
        """Raise the app's exception (``server_error``) here, or :class:`StreamBroken` when the
        body broke on the way; return the trace itself when the stream is whole.

        The traceback shown is the app's own part of it: the frames of the server, the kit and
        werkzeug between the socket and your generator are left out (:attr:`server_traceback`
        keeps them all).
        """
        __tracebackhide__ = True  # IPython and pytest leave this frame out of what they show
        error = self.server_error
        if error is not None:
            # Raising an exception object again adds this frame to its traceback; start from
            # the traceback it had on the server each time, so repeated calls stay readable.
            if self._server_traceback is None:
                self._server_traceback = error.__traceback__
            raise error.with_traceback(own_frames(self._server_traceback))
        if self.error:
            raise StreamBroken(f"{self.method} {self.url}: {self.error}")
        return self

    @property
    def server_traceback(self) -> TracebackType | None:
        """The whole traceback of ``server_error`` as it was on the server, every frame kept."""
        if self._server_traceback is None and self.server_error is not None:
            return self.server_error.__traceback__
        return self._server_traceback

    # -- files ----------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Any:
        """Write this trace to ``path`` as a trace file (JSON; see :mod:`streamkit.tracefile`)
        and return the path. The body is in the file only when the probe kept it."""
        from .tracefile import save

        return save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Trace:
        """Read a trace file written by :meth:`save` (or ``streamkit probe URL --save FILE``);
        :class:`streamkit.tracefile.TraceFileError` says what is wrong with a bad one."""
        from .tracefile import load_trace

        return load_trace(path)

    # -- display --------------------------------------------------------------------------

    def summary(self, verdict: str | None = None) -> str:
        """``<Trace GET /rows -> 200: streamed, 7 chunks, 1,234 bytes>``: the same from run to
        run (no times, no port), for ``repr()`` and the plain-text form of every picture."""
        if verdict is None:
            verdict = self.verdict
        status = self.status if self.status is not None else "no response"
        text = (
            f"<Trace {request_line(self.url, self.method)} -> {status}: {verdict or '?'}, "
            f"{plural(len(self.chunks), 'chunk')}, {self.size:,} bytes"
        )
        if self.event_framing is not None:
            with_content = sum(1 for event in self.events if event.content)
            text += f", {plural(len(self.events), 'event')} ({with_content:,} with content)"
        if self.stopped:
            text += ", stopped at max_seconds"
        if self.interrupted:
            text += ", interrupted"
        if self.server_error is not None:
            text += f", server error {error_text(self.server_error, 100)}"
        elif self.error:
            text += f", error {error_text(self.error, 100)}"
        return text + ">"

    def __repr__(self) -> str:
        return self.summary()

    def to_svg(self, **options: Any) -> str:
        """The timeline as an SVG document (see :func:`streamkit.timeline.to_svg`)."""
        from .timeline import to_svg

        return to_svg(self, **options)

    def to_text(self, **options: Any) -> str:
        """The timeline as fixed-width text (see :func:`streamkit.timeline.to_text`)."""
        from .timeline import to_text

        return to_text(self, **options)

    def _repr_html_(self) -> str:
        from .display import html

        return html(self.to_svg())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from .display import mimebundle

        return mimebundle(self)


# Frames in these folders are the machinery between the socket and the app's code.
_MACHINERY = tuple(
    os.path.join(os.path.abspath(folder), "")
    for folder in {
        os.path.dirname(__file__),  # streamkit itself
        os.path.dirname(os.path.dirname(werkzeug.__file__)),  # site-packages
        sys.prefix,
        sys.base_prefix,
    }
)


def own_frames(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` with the frames of the server, the kit and installed libraries left out.

    What remains is the code that raised (a notebook cell, your module); if nothing would
    remain, ``tb`` itself. The frames are only left out of the chain that is shown: nothing is
    lost, the original ``tb`` is unchanged.
    """
    kept: list[TracebackType] = []
    walk = tb
    while walk is not None:
        if not os.path.abspath(walk.tb_frame.f_code.co_filename).startswith(_MACHINERY):
            kept.append(walk)
        walk = walk.tb_next
    if not kept:
        return tb
    chain: TracebackType | None = None
    for frame in reversed(kept):
        chain = TracebackType(chain, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return chain


# -- wording shared by every picture and message -----------------------------------------------


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 chunk``, ``3 chunks``, ``2 bodies`` (with ``many="bodies"``)."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when it was longer."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def error_text(error: BaseException | str | None, limit: int = 120) -> str:
    """``"RuntimeError: Working outside of request context."``: type and first line only."""
    if error is None:
        return ""
    if isinstance(error, BaseException):
        message = str(error).strip().splitlines()
        first = message[0] if message else ""
        text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    else:
        lines = str(error).strip().splitlines()
        text = lines[0] if lines else ""
    return shorten(text, limit)


def request_line(url: str, method: str = "GET") -> str:
    """``GET /csv?rows=10``: path and query only, so pictures do not depend on the port."""
    parts = urlsplit(url or "")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if not parts.scheme:
        target = url or "?"
    return shorten(f"{(method or 'GET').upper()} {target}", 70)


# -- matching server-side items to what the client received ------------------------------------
#
# Items and chunks are lined up by byte offsets in the body: an item ends at the running total
# of the sizes up to it. The offsets must be counted in the same measure on both sides. Chunks
# have two: decoded bytes (``size``) and bytes on the wire (``wire_size``). The app's items are
# decoded bytes; the server's writes are wire bytes when a middleware compressed the body before
# the server sent it (GzipMiddleware), and decoded bytes when nothing did or a proxy compressed
# it later (nginx gzip). A sync-flushed gzip item is decodable as soon as its wire bytes are in,
# so the two measures agree at chunk ends; the gzip header and trailer are wire bytes that decode
# to nothing, which each measure handles on its own.


def counts_wire_bytes(events: Sequence[Event], chunks: Sequence[Chunk]) -> bool:
    """True when the items' sizes are bytes on the wire (compressed) rather than decoded bytes.

    The items' total is compared with the chunks' two totals: for a whole stream it equals one
    of them; for a stream cut short it is still much nearer the right one. A tie (nothing was
    compressed) counts as decoded.
    """
    total = sum(event.size for event in events)
    decoded = sum(chunk.size for chunk in chunks)
    wire = sum(chunk.wire_size for chunk in chunks)
    return abs(total - wire) < abs(total - decoded)


def carriers(
    events: Sequence[Event], chunks: Sequence[Chunk], *, wire: bool | None = None
) -> list[int | None]:
    """For each item, the index of the chunk that held its last byte (None: it never arrived).

    Item ``i`` arrived with the first chunk whose running total reaches the item's end offset.
    Chunks are counted in decoded bytes, or in bytes on the wire with ``wire=True``; by default
    :func:`counts_wire_bytes` picks the measure the items' sizes are in.
    """
    if wire is None:
        wire = counts_wire_bytes(events, chunks)
    ends = list(accumulate(chunk.wire_size if wire else chunk.size for chunk in chunks))
    last = len(ends)
    found = map(partial(bisect.bisect_left, ends), accumulate(event.size for event in events))
    return [index if index < last else None for index in found]


def arrivals(
    events: Sequence[Event], chunks: Sequence[Chunk], *, wire: bool | None = None
) -> list[float | None]:
    """When the client had each item's last byte: the time of its chunk (see :func:`carriers`)."""
    return [None if index is None else chunks[index].t for index in carriers(events, chunks, wire=wire)]


def decoded_ends(events: Sequence[Event], chunks: Sequence[Chunk]) -> list[float | None]:
    """Where each item ends in the decoded body, for items counted in either measure.

    Items in wire bytes are translated with the chunks: at the end of a chunk the client had
    decoded exactly that chunk's running decoded total; inside a chunk the offset is
    interpolated. None for an item in wire bytes that never arrived (nothing tells where it
    ends in the decoded body).
    """
    item_ends = list(accumulate(event.size for event in events))
    if not counts_wire_bytes(events, chunks):
        return [float(end) for end in item_ends]
    wire_ends = list(accumulate(chunk.wire_size for chunk in chunks))
    plain_ends = list(accumulate(chunk.size for chunk in chunks))
    out: list[float | None] = []
    for end in item_ends:
        k = bisect.bisect_left(wire_ends, end)
        if k == len(wire_ends):  # never arrived
            out.append(None)
        elif wire_ends[k] == end:  # ends with a chunk
            out.append(float(plain_ends[k]))
        else:  # inside chunk k: wire_ends[k - 1] < end < wire_ends[k]
            wire_before = wire_ends[k - 1] if k else 0
            plain_before = plain_ends[k - 1] if k else 0
            share = (end - wire_before) / (wire_ends[k] - wire_before)
            out.append(plain_before + (plain_ends[k] - plain_before) * share)
    return out


def links(trace: Any) -> dict[str, list[int | None]]:
    """Which piece of the next lane down carried the last byte of each server-side item.

    ``links["produced"]`` indexes ``trace.written`` (or ``trace.chunks`` when there are no
    writes), ``links["written"]`` indexes ``trace.chunks``, and for a browser trace
    ``links["received"]`` indexes ``trace.browser_shown`` (:func:`shown_after`); None where
    nothing carried it. A
    server-side item and a chunk are compared in the item's own measure (:func:`carriers`), an
    item and a write in decoded bytes (:func:`decoded_ends`). Compressed writes that never
    reached the client have no decoded offset: the items past the last one that did are paired
    with them in order (one item per write, the rest with the last write). The timeline draws
    its connecting lines from these.
    """
    chunks = list(getattr(trace, "chunks", None) or ())
    produced = list(getattr(trace, "produced", None) or ())
    written = list(getattr(trace, "written", None) or ())
    out: dict[str, list[int | None]] = {}
    if written:
        out["written"] = carriers(written, chunks)
    if produced and written:
        # The writes that arrived come first; their decoded ends are known and in order.
        known = [end for end in decoded_ends(written, chunks) if end is not None]
        later = list(range(len(known), len(written)))  # the writes that never arrived
        targets: list[int | None] = []
        for end in decoded_ends(produced, chunks):
            index = bisect.bisect_left(known, end) if end is not None else len(known)
            if index < len(known):
                targets.append(index)
            elif later:  # past what arrived: the next write that did not arrive, or the last
                targets.append(later.pop(0) if len(later) > 1 else later[0])
            else:
                targets.append(None)
        out["produced"] = targets
    elif produced:
        out["produced"] = carriers(produced, chunks)
    shown = list(getattr(trace, "browser_shown", None) or ())
    if shown and chunks:
        out["received"] = shown_after(chunks, shown)
    return out


# The page's clock is aligned to the trace's within about a millisecond (see streamkit.browser).
SHOWN_TOLERANCE = 0.002


def shown_after(chunks: Sequence[Chunk], shown: Sequence[Event]) -> list[int | None]:
    """For each chunk the browser read, the first growth of the page at or after it (None: none).

    Characters on the page cannot be matched to bytes of markup, so this goes by time: the
    first frame, from the chunk's arrival on, in which the visible text grew. A chunk whose
    bytes the page held (a blocking script, sniffing) points at the late frame that showed it.
    """
    times = [event.t for event in shown]
    out: list[int | None] = []
    for chunk in chunks:
        index = bisect.bisect_left(times, chunk.t - SHOWN_TOLERANCE)
        while index < len(shown) and not shown[index].size:
            index += 1  # a first paint of an empty page shows nothing
        out.append(index if index < len(shown) else None)
    return out


def content_pieces(chunks: Sequence[Chunk]) -> list[Chunk]:
    """The chunks that carried content: decoded bytes. Framing, a compression header sent on
    its own and empty chunks decode to nothing and are not pieces of content. (A body whose
    encoding was not decoded has its wire bytes as its ``size``: each non-empty read counts.)"""
    return [chunk for chunk in chunks if chunk.size]


@dataclass(frozen=True, slots=True)
class Holding:
    """How the server-side items of a trace reached the client (see :func:`held_back`).

    ``source`` is ``"produced"`` or ``"written"``; ``items`` the non-empty items, made over
    ``made_over`` seconds; ``arrived`` how many of them reached the client. ``judged`` are the
    items that could have waited for a later one (all but the last, that arrived); ``held`` of
    them arrived at least :data:`AT_ONCE` late and only after the next item had been made;
    ``worst_held`` is the most one of those was late, ``worst`` the most any arrived item was
    late (the last included), in seconds.
    """

    source: str
    items: int
    made_over: float
    arrived: int
    judged: int
    held: int
    worst_held: float
    worst: float


def content_items(items: Sequence[Event], chunks: Sequence[Chunk]) -> list[int]:
    """The indexes of the items that carry content. Items in decoded bytes all do; compressed
    items (writes, or what left a compressing ASGI middleware) that add no decoded bytes (a
    gzip header sent on its own, a flush of nothing) do not, and are not items of the stream."""
    if not items or not counts_wire_bytes(items, chunks):
        return list(range(len(items)))
    keep, before = [], 0.0
    for index, end in enumerate(decoded_ends(items, chunks)):
        if end is None or end > before:
            keep.append(index)
        before = end if end is not None else before
    return keep


def held_back(trace: Any) -> Holding | None:
    """How the items the server side recorded (``produced``, else ``written``) reached the client.

    None when the server side does not show production over time (no record, fewer than two
    non-empty items, or all made within :data:`AT_ONCE`), or when no judged item arrived: then
    the times cannot tell whether anything was held back.
    """
    source = "produced" if getattr(trace, "produced", None) else "written"
    events = getattr(trace, source, None) or ()
    chunks = getattr(trace, "chunks", None) or ()
    items = [event for event in events if event.size]
    arrived = arrivals(items, chunks)  # on every item: offsets are running totals
    keep = content_items(items, chunks)
    items = [items[i] for i in keep]
    arrived = [arrived[i] for i in keep]
    if len(items) < 2 or items[-1].t - items[0].t < AT_ONCE:
        return None
    lates = [when - item.t for item, when in zip(items, arrived) if when is not None]
    # Judge each item but the last (which has no later item to wait for) that arrived at all.
    judged = [when - item.t for item, when, following in zip(items, arrived, items[1:]) if when is not None]
    if not judged:
        return None
    held = [
        when - item.t
        for item, when, following in zip(items, arrived, items[1:])
        if when is not None and when - item.t >= AT_ONCE and when >= following.t - _SAME_TIME
    ]
    return Holding(
        source=source,
        items=len(items),
        made_over=items[-1].t - items[0].t,
        arrived=len(lates),
        judged=len(judged),
        held=len(held),
        worst_held=max(held, default=0.0),
        worst=max(max(lates), 0.0),
    )


# -- the verdict as a sentence -----------------------------------------------------------------


def seconds_text(t: float) -> str:
    """``0.0123`` -> ``"12.3 ms"``, ``0.5`` -> ``"500 ms"``, ``2.5`` -> ``"2.50 s"``."""
    if t < 0.01:
        return f"{t * 1000:.1f} ms"
    if t < 1:
        return f"{t * 1000:.0f} ms"
    return f"{t:.2f} s"


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def verdict_text(trace: Any, verdict: str | None = None, *, events: bool = True) -> str:
    """The verdict as one sentence made from this trace's numbers, e.g. "Of the 5 items the app
    produced over 600 ms, 3 of the first 4 were held back ...". Every number in it is measured
    in the trace. ``verdict`` may be given when it is already known. For an event stream the
    sentence ends with its event figures (:func:`events_text`), unless ``events=False``."""
    if verdict is None:
        verdict = trace.verdict
    chunks = list(trace.chunks)
    pieces = content_pieces(chunks)
    size = sum(chunk.size for chunk in chunks)
    framing = len(chunks) - len(pieces)
    if verdict == "broken":
        text = _broken_text(trace, pieces, size)
    elif verdict == "empty":
        wire = sum(chunk.wire_size for chunk in chunks)
        if wire:
            text = f"the response has no content: its {_count(wire, 'byte')} on the wire decode to nothing"
        else:
            text = "the response has no body"
    else:
        holding = held_back(trace)
        if holding is not None:
            text = _held_text(holding, pieces)
        elif verdict == "streamed":
            first, last = pieces[0].t, pieces[-1].t
            text = (
                f"the content arrived in {_count(len(pieces), 'piece')} spread over "
                f"{seconds_text(last - first)} (first at {seconds_text(first)}, last at "
                f"{seconds_text(last)}); nothing server-side was recorded, so this shows when "
                "the pieces arrived, not when they were made"
            )
        else:
            note = f"; {_count(framing, 'more chunk')} carried no content" if framing else ""
            text = _single_text(trace, pieces, size, note)
            framing = 0
    if framing and pieces and verdict != "empty":
        text += f" ({_count(framing, 'chunk')} carried no content and {'is' if framing == 1 else 'are'} not counted)"
    if trace.stopped:
        text += f"; reading stopped at max_seconds after {seconds_text(trace.duration)}, with the stream still going"
    if getattr(trace, "interrupted", False):
        text += f"; reading was interrupted after {seconds_text(trace.duration)}, so this is only what had arrived"
    if events and getattr(trace, "event_framing", None) is not None:
        text += "; " + events_text(trace)
    encoding = (trace.headers.get("Content-Encoding") or "").strip().lower()
    if encoding and not _decodable(encoding) and size:
        text += (
            f"; the body is {encoding}-encoded and was not decoded, so sizes are bytes as sent "
            "and a piece may hold no content yet"
        )
    return text[0].upper() + text[1:] + "."


def events_text(trace: Any) -> str:
    """What the events of an event stream show, as a clause made from the trace's figures: the
    counts, when the first byte, event and content came, the gaps between content events, how
    many events shared a chunk, and the longest silence."""
    figures = trace.event_figures
    if figures is None:
        return ""
    name = {"sse": "server-sent event", "jsonl": "JSON line", "json-seq": "JSON record"}
    kind = name.get(trace.event_framing, "event")
    comments = f" (and {_count(figures.comments, 'comment')})" if figures.comments else ""
    if not figures.events:
        text = f"the body was read as {kind}s and held no complete one{comments}"
    else:
        text = f"the body held {_count(figures.events, kind)}{comments}"
        if figures.content_events:
            text += f", {figures.content_events:,} with content"
        else:
            text += (
                ", none with text in a format the kit recognises (content='path.to.text' names where it is)"
            )
        times = []
        if figures.first_byte is not None:
            times.append(f"first byte at {seconds_text(figures.first_byte)}")
        if figures.first_event is not None:
            times.append(f"first event at {seconds_text(figures.first_event)}")
        if figures.first_content is not None:
            times.append(f"first content at {seconds_text(figures.first_content)}")
        text += ": " + ", ".join(times)
        if figures.gap_median is not None:
            text += (
                f"; content events came {seconds_text(figures.gap_median)} apart (median; p95 "
                f"{seconds_text(figures.gap_p95 or 0.0)}, longest {seconds_text(figures.gap_max or 0.0)})"
            )
        if figures.per_chunk_max > 1:
            text += (
                f"; up to {figures.per_chunk_max:,} events came in one chunk "
                f"({figures.per_chunk_mean:.1f} per chunk on average)"
            )
        else:
            text += "; each event came in a chunk of its own"
    if figures.longest_silence is not None and figures.silence_from is not None:
        text += (
            f"; the longest time without an event or comment was {seconds_text(figures.longest_silence)}, "
            f"from {seconds_text(figures.silence_from)}"
        )
    if trace.unterminated is not None:
        text += (
            "; the body ended inside an event (no blank line after it), which an EventSource never dispatches"
            if trace.event_framing == "sse"
            else "; the body ended inside a record that never became complete JSON"
        )
    return text


def _decodable(encoding: str) -> bool:
    """True when the probe decodes this Content-Encoding (see streamkit.probe)."""
    if encoding in ("identity", "gzip", "x-gzip", "deflate"):
        return True
    from .http1 import decoder_available

    return decoder_available(encoding)


def _held_text(holding: Holding, pieces: Sequence[Chunk]) -> str:
    who = "the app produced" if holding.source == "produced" else "the server wrote"
    received = f"the client got {_count(len(pieces), 'piece')}, the first at {seconds_text(pieces[0].t)}"
    missing = holding.items - holding.arrived
    later = f"; {_count(missing, 'item')} had not arrived when reading ended" if missing else ""
    of = f"of the {_count(holding.items, 'item')} {who} over {seconds_text(holding.made_over)}, "
    if holding.held == 0:
        return (
            f"{of}each reached the client within {seconds_text(holding.worst)} of being made; "
            f"{received}{later}"
        )
    if holding.judged == holding.items - 1:
        pool = f"the first {holding.judged}" if holding.judged > 1 else "the first"
    else:
        pool = f"the {holding.judged} that arrived and had a later item"
    if holding.held == holding.judged:
        share = "every one but the last was" if holding.judged == holding.items - 1 else f"all {pool} were"
        if holding.judged == 1:
            share = "the first was"
    else:
        share = f"{holding.held} of {pool} {'was' if holding.held == 1 else 'were'}"
    text = (
        f"{of}{share} held back until a later item was made (up to {seconds_text(holding.worst_held)} late)"
    )
    if holding.held * 2 < holding.judged:
        text += " and the rest arrived about as they were made: the stream is partly held back"
    return f"{text}; {received}{later}"


def _single_text(trace: Any, pieces: Sequence[Chunk], size: int, framing: str) -> str:
    at = seconds_text(pieces[-1].t)
    how = (
        "in one piece"
        if len(pieces) == 1
        else f"in {len(pieces)} pieces within {seconds_text(pieces[-1].t - pieces[0].t)}"
    )
    text = f"all {_count(size, 'byte')} of content arrived at once, at {at} ({how}{framing})"
    source = trace.produced or trace.written
    items = [event for event in source or () if event.size]
    items = [items[i] for i in content_items(items, trace.chunks)]
    if items:
        who = "the app produced" if trace.produced else "the server wrote"
        if len(items) == 1:
            return text + f"; {who} it as one item, at {seconds_text(items[0].t)}"
        return (
            text + f"; {who} it at once too: {len(items)} items within "
            f"{seconds_text(items[-1].t - items[0].t)}, the first at {seconds_text(items[0].t)}"
        )
    return text + (
        "; nothing server-side was recorded, so the cause may be the app (making everything "
        "before its first yield) or any layer in between (a middleware, compression, a proxy): "
        "streamkit.doctor(url) compares requests to find which"
    )


def _broken_text(trace: Any, pieces: Sequence[Chunk], size: int) -> str:
    got = f"the client got {_count(size, 'byte')} in {_count(len(pieces), 'piece')}"
    error = trace.server_error
    if error is not None:
        items = [event for event in trace.produced or () if event.size]
        after = f" after {_count(len(items), 'item')}" if trace.produced is not None else ""
        at = trace.server_error_at
        when = f" at {seconds_text(at)}" if at is not None else ""
        return f"the app raised {type(error).__name__}{after}{when}; {got} before the stream ended"
    first = (str(trace.error).splitlines() or [""])[0][:120]
    return f"the body broke at {seconds_text(trace.duration)}: {first}; {got} before that"
