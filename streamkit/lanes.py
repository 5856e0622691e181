"""Reading a Trace into lanes: the numbers behind both timelines (SVG and text).

A trace has up to three lists of timed pieces: what the app produced, what the server wrote
and what the client received. Each becomes a :class:`Series` (parallel lists of times, sizes
and template parts, with running byte totals) inside a :class:`Lane`. Running totals make the
questions a timeline asks cheap, even for 100,000 chunks, such as how many pieces and bytes
fall into each time slice (:func:`bucket`). Which piece carried which bytes from one lane to the
next is the trace's to say: :func:`streamkit.trace.links`.

The small formatting helpers of the pictures (``12.5 ms``, ``1.2 kB``, "the app raised after
its 3rd item") live here too, so the SVG and the text say things the same way; the wording of
verdicts, counts and errors is the trace's (:mod:`streamkit.trace`).

Layer: pictures. Reads a :class:`~streamkit.trace.Trace` through its public attributes only.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING

from .trace import error_text

if TYPE_CHECKING:
    from .trace import Chunk, Event, Trace

LANES = (
    ("produced", "app produced", "item", "items"),
    ("written", "server sent", "write", "writes"),
    ("received", "client received", "chunk", "chunks"),
)


@dataclass
class Piece:
    """One chunk / event, or one time bucket of them, ready to draw."""

    t: float  # seconds (start of the bucket)
    t_end: float  # seconds (last piece in the bucket)
    size: int
    count: int = 1
    parts: int = 1
    first: int = 0  # index of the first piece it holds


class Series:
    """One lane's pieces as parallel lists in time order, with running byte totals.

    Plain lists (rather than one object per piece) keep 100,000-chunk traces fast to draw.
    """

    def __init__(self, items: Sequence[Chunk | Event] | None) -> None:
        items = list(items or ())
        ts = [item.t for item in items]
        if ts != sorted(ts):
            order = sorted(range(len(items)), key=ts.__getitem__)
            items = [items[i] for i in order]
            ts = [ts[i] for i in order]
        self.ts: list[float] = ts
        self.sizes: list[int] = [item.size for item in items]
        # Chunks have no template parts; events say how many parts each item joined.
        self.parts: list[int] = [getattr(item, "parts", 1) or 1 for item in items]
        self.ends: list[int] = list(itertools.accumulate(self.sizes))

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def total(self) -> int:
        return self.ends[-1] if self.ends else 0

    def bytes_before(self, index: int) -> int:
        return self.ends[index - 1] if index > 0 else 0


@dataclass
class Lane:
    """One row of the picture: a title, what its pieces are called, and the pieces."""

    key: str
    title: str
    noun: str
    nouns: str
    series: Series
    pieces: list[Piece] = field(default_factory=list)


def read_lanes(trace: Trace, reserve: Sequence[str] = ()) -> list[Lane]:
    """The lanes that have data, top to bottom; the client lane if nothing has data.

    Lanes named in ``reserve`` are kept even while empty: a live picture of a traced request
    gets the server's side only at the end, and should not grow lanes then.
    """
    sources: dict[str, Sequence[Chunk | Event] | None] = {
        "produced": trace.produced,
        "written": trace.written,
        "received": trace.chunks,
    }
    lanes = [
        Lane(key, title, noun, nouns, Series(sources[key]))
        for key, title, noun, nouns in LANES
    ]
    with_data = [lane for lane in lanes if len(lane.series) or lane.key in reserve]
    return with_data or [lanes[-1]]


def status_line(trace: Trace) -> str:
    """``200 OK \u00b7 text/csv``: status, media type and any content encoding."""
    if trace.status is None:
        return "no response"
    try:
        phrase = HTTPStatus(int(trace.status)).phrase
    except ValueError:
        phrase = ""
    text = f"{trace.status} {phrase}".strip()
    content_type = trace.headers.get("Content-Type")
    if content_type:
        text += " \u00b7 " + content_type.split(";")[0].strip()
    encoding = trace.headers.get("Content-Encoding")
    if encoding:
        text += " \u00b7 " + encoding
    return text


def break_point(trace: Trace, lanes: list[Lane]) -> tuple[float, str, str] | None:
    """(time, lane key, sentence) for a broken stream, or None.

    For an exception the app raised, the time is when it raised (``server_error_at``) and the
    lane is the app's; if that time is unknown, the end of the stream (after the last piece
    seen anywhere). For a break only the client saw, the end of the stream, in the client's
    lane.
    """
    server_error = trace.server_error
    client_error = trace.error
    if server_error is None and not client_error:
        return None
    keys = [lane.key for lane in lanes]
    end = trace.duration
    for lane in lanes:
        if len(lane.series):
            end = max(end, lane.series.ts[-1])
    if server_error is not None:
        produced = next((lane.series for lane in lanes if lane.key == "produced"), None)
        if produced is not None and len(produced):
            when = f"after its {_ordinal(len(produced))} item"
        else:
            when = "before its first item"
        key = "produced" if "produced" in keys else keys[0]
        raised_at = trace.server_error_at
        return (
            raised_at if raised_at is not None else end,
            key,
            f"the app raised {when}: {error_text(server_error)}",
        )
    key = "received" if "received" in keys else keys[-1]
    return end, key, f"the client saw the stream break at {fmt_ms(end)}: {error_text(client_error)}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


def fmt_ms(seconds: float | None) -> str:
    """``0.42 ms``, ``12.5 ms``, ``1,204 ms``: seconds shown as milliseconds."""
    if seconds is None:
        return "\u2013"
    ms = seconds * 1000
    if abs(ms) < 9.995:
        return f"{ms:.2f} ms"
    if abs(ms) < 999.95:
        return f"{ms:.1f} ms"
    return f"{ms:,.0f} ms"


def fmt_bytes(n: int) -> str:
    """``512 B``, ``1.2 kB``, ``34 MB``: a byte count for a caption."""
    if n < 1000:
        return f"{n} B"
    for unit, scale in (("kB", 1e3), ("MB", 1e6)):
        if n < scale * 999.5:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 99.95 else f"{value:.0f} {unit}"
    return f"{n / 1e9:,.1f} GB"


def bucket(series: Series, span: float, buckets: int) -> list[Piece]:
    """Group a lane into ``buckets`` equal time slices (empty slices left out).

    The times are sorted, so each slice's edge is one bisect and its bytes one subtraction of
    running totals: no Python loop over the pieces themselves.
    """
    width = span / buckets
    ts, parts_sum = series.ts, None
    pieces = []
    start = 0
    for b in range(buckets):
        stop = len(ts) if b == buckets - 1 else bisect.bisect_left(ts, (b + 1) * width, start)
        if stop > start:
            if parts_sum is None:
                parts_sum = list(itertools.accumulate(series.parts))
            size = series.ends[stop - 1] - series.bytes_before(start)
            parts = parts_sum[stop - 1] - (parts_sum[start - 1] if start else 0)
            pieces.append(Piece(b * width, ts[stop - 1], size, stop - start, parts, start))
        start = stop
    return pieces


def received_series(lanes: list[Lane]) -> Series | None:
    """The client's lane, if the trace has one."""
    return next((lane.series for lane in lanes if lane.key == "received"), None)


def wire_total(trace: Trace) -> int:
    """Body bytes on the wire (compressed sizes, when the body was compressed)."""
    return trace.wire_size


def fmt_range(t0: float, t1: float) -> str:
    """``12.5 ms``, or ``12.5\u201319.0 ms`` for a span that shows as two different numbers."""
    first, last = fmt_ms(t0), fmt_ms(t1)
    return first if first == last else f"{first[:-3]}\u2013{last}"
