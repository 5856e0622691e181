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

__all__ = [
    "Chunk",
    "Event",
    "StreamBroken",
    "Trace",
    "RECEIVING",
    "VERDICTS",
    "arrivals",
    "carriers",
    "counts_wire_bytes",
    "decoded_ends",
    "error_text",
    "links",
    "own_frames",
    "plural",
    "request_line",
    "shorten",
]

# Two pieces closer together than this count as "at the same time".
AT_ONCE = 0.02

VERDICTS = {
    "streamed": "the body arrived in pieces spread over time, each about when it was produced",
    "buffered": "items the app produced over time were held back and reached the client together",
    "broken": "the stream ended early: the app raised, or the connection broke mid-body",
    "empty": "the response has no body",
    "single": "the whole body arrived at once, and nothing shows it was produced over time",
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
      broke or was stopped), ``error`` (why the body broke, as text), ``stopped`` (``max_seconds``
      ended the read);
    * ``started``: the ``time.monotonic()`` value every ``t`` is counted from.

    Server side (from :meth:`streamkit.Server.get`; None for a plain probe):

    * ``produced``: an :class:`Event` per item the app yielded (needs a streamkit App, or a
      response wrapped with :func:`streamkit.recording.watch`);
    * ``written``: an :class:`Event` per item the server sent;
    * ``server_error``: the exception the app raised, traceback included, and
      ``server_error_at``, when it raised;
    * ``note``: why part of the server side is missing, if it is.
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
    stopped: bool = False
    produced: list[Event] | None = None
    written: list[Event] | None = None
    server_error: BaseException | None = None
    server_error_at: float | None = None
    note: str | None = None
    started: float = 0.0
    _server_traceback: TracebackType | None = field(default=None, repr=False, compare=False)

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

    # -- diagnosis ------------------------------------------------------------------------

    @property
    def verdict(self) -> str:
        """What happened to the stream, in one word.

        * ``"broken"``: the app raised (``server_error``) or the body broke (``error``).
        * ``"empty"``: no body bytes at all.
        * ``"buffered"``: the server side shows items produced over time (``produced``, else
          ``written``), and most of them reached the client only after a later item had been
          produced and at least 20 ms late: something between app and client held them back.
        * ``"streamed"``: items produced over time arrived about when they were produced; or,
          without server-side times, the body arrived in pieces spread over at least 20 ms.
        * ``"single"``: the body arrived at once (one piece, or pieces within 20 ms of each
          other) and nothing shows it was produced over time. A small response that was never
          meant to stream looks like this; so does a buffered one seen from the client alone.
        """
        if self.error or self.server_error is not None:
            return "broken"
        if not any(chunk.size or chunk.wire_size for chunk in self.chunks):
            return "empty"
        source = self.produced or self.written
        if source:
            held = _held_fraction(source, self.chunks)
            if held is not None:
                return "buffered" if held >= 0.5 else "streamed"
        pieces = [chunk for chunk in self.chunks if chunk.size or chunk.wire_size]
        if len(pieces) >= 2 and pieces[-1].t - pieces[0].t >= AT_ONCE:
            return "streamed"
        return "single"

    def explain(self, verdict: str | None = None) -> str:
        """One sentence saying what the verdict means for this trace (``verdict`` may be passed
        in when it is already known: working it out is not free for 100,000 chunks)."""
        if verdict is None:
            verdict = self.verdict
        if verdict == RECEIVING:
            return RECEIVING_TEXT
        return VERDICTS.get(verdict, "")

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
        if self.stopped:
            text += ", stopped at max_seconds"
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
    return [
        None if index is None else chunks[index].t
        for index in carriers(events, chunks, wire=wire)
    ]


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
    writes), ``links["written"]`` indexes ``trace.chunks``; None where nothing carried it. A
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
    return out


def _held_fraction(events: Sequence[Event], chunks: Sequence[Chunk]) -> float | None:
    """The share of items that waited for later items before reaching the client.

    None when the server-side items do not show production over time (fewer than two
    non-empty items, or all made within :data:`AT_ONCE`), so the times cannot tell.
    """
    items = [event for event in events if event.size]
    if len(items) < 2 or items[-1].t - items[0].t < AT_ONCE:
        return None
    arrived = arrivals(items, chunks)
    # Judge each item but the last (which has no later item to wait for) that arrived at all.
    judged = [
        (item.t, when, following.t)
        for item, when, following in zip(items, arrived, items[1:])
        if when is not None
    ]
    if not judged:
        return None
    held = sum(1 for made, when, next_made in judged if when - made >= AT_ONCE and when >= next_made)
    return held / len(judged)
