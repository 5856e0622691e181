"""Pictures of a stream: SVG timelines of a Trace, and comparisons of several.

A timeline has one lane for each place a response passes through, top to bottom:

* **app produced**: each item the app yielded (with a dot per template part it joined);
* **server sent**: each item the server wrote to the socket;
* **client received**: each piece the client read (**browser received** for a trace loaded in
  Chromium: each read of its network stack);
* **page showed**: for a browser trace, each frame in which the page's visible text grew (bar
  height from the characters added); its grey lines come from each read to the first frame
  after it that grew, since characters on a page cannot be matched to bytes of markup.

Bars sit at the moment they happened (ms since the request started); taller bars carry more
bytes, on a square-root scale so that small rows stay visible next to a big page head. Thin
grey lines follow the bytes from one lane to the next, so buffering shows up as many lines
running into one bar. A dashed amber line marks when the headers arrived and a red line where
a stream was cut. Long streams are drawn in time slices instead of one bar per piece, so
100,000 chunks still draw quickly.

The SVG comes from the Jinja2 template ``streamkit/templates/timeline.svg.j2``, filled with
the small dataclasses below (a :class:`Figure` of :class:`Panel` s of :class:`DrawnLane` s),
all plain numbers and strings; no plotting library is involved.

Layer: pictures. Reading a trace into lanes (and the shared wording of times and sizes) lives
in :mod:`streamkit.lanes`, the terminal version in :mod:`streamkit.text_timeline`, showing
pictures in Jupyter in :mod:`streamkit.display`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jinja2

from .lanes import (
    Lane,
    Piece,
    Series,
    break_point,
    bucket,
    fmt_bytes,
    fmt_ms,
    read_lanes,
    received_series,
    status_line,
)
from .text_timeline import to_text
from .trace import RECEIVING, error_text, links, plural, request_line, shorten

if TYPE_CHECKING:
    from .trace import Trace

__all__ = ["Comparison", "compare", "render_svg", "to_svg", "to_text"]

# -- layout (SVG user units; the picture scales to its container) ------------------------

WIDTH = 900
LABEL_W = 176  # the lane captions on the left
RIGHT_PAD = 28
PLOT_W = WIDTH - LABEL_W - RIGHT_PAD
LANE_H = 60
BAR_MAX = 30  # tallest bar
BAR_MIN = 3  # every piece stays visible, even an empty one
MAX_MARKS = 300  # more pieces than this in a lane: draw time buckets instead
BUCKET_PX = 3  # width of one bucket
MAX_CONNECTORS = 200  # lines between lanes only when they stay readable
MAX_EVENT_MARKS = 400  # more events than this: no dot per event (the first content is still marked)
EVENT_DOTS = 8  # dots drawn at most for the events one read completed

# Colours chosen for a white card, which is drawn explicitly so that the picture reads the same
# on JupyterLab's light and dark themes.
COLORS = {
    "produced": "#8250df",
    "written": "#0969da",
    "received": "#1a7f37",
    "shown": "#bf3989",
    "text": "#1f2328",
    "muted": "#57606a",
    "grid": "#e6e8eb",
    "headers": "#b35900",
    "error": "#cf222e",
    "stopped": "#57606a",
    "connector": "#8c959f",
    "content": "#0a6e63",
}
VERDICT_COLORS = {
    "streamed": "#1a7f37",
    "buffered": "#b35900",
    "broken": "#cf222e",
    "empty": "#57606a",
    "single": "#57606a",
}


def _verdict(trace: Trace, live: bool) -> str:
    return RECEIVING if live else trace.verdict


def _nice_step(span_ms: float, max_ticks: int = 8) -> float:
    """A 1-2-5 step in ms giving at most ``max_ticks`` ticks over ``span_ms``."""
    raw = span_ms / max_ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power  # pragma: no cover


def _tick_label(ms: float, step: float) -> str:
    decimals = 0 if step >= 1 else min(3, -math.floor(math.log10(step)))
    return f"{ms:,.{decimals}f}"


def _time_span(traces: Sequence[Trace], all_lanes: list[list[Lane]]) -> float:
    """The end of the shared time axis, in seconds."""
    end = 0.0
    for trace, lanes in zip(traces, all_lanes):
        end = max(end, trace.duration)
        if trace.headers_at is not None:
            end = max(end, trace.headers_at)
        for lane in lanes:
            if len(lane.series):
                end = max(end, lane.series.ts[-1])
    return max(end * 1.03, 0.001)


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """A generous estimate of how wide ``text`` draws at font ``size`` (SVG units).

    The picture's fonts are not known here (the viewer picks one from the font list), so the
    estimate errs wide: capitals and wide letters count 0.8 em, everything else 0.62 em, bold
    a tenth more. Layout uses it to keep texts on one line from running into each other.
    """
    ems = sum(0.8 if (ch.isupper() or ch in "mwMW@%") else 0.62 for ch in text)
    return ems * size * (1.1 if bold else 1.0)


def fit(text: str, size: float, room: float, *, bold: bool = False) -> str:
    """``text`` shortened (with an ellipsis) until :func:`text_width` fits in ``room``."""
    if text_width(text, size, bold=bold) <= room:
        return text
    keep = len(text)
    while keep > 1 and text_width(shorten(text, keep), size, bold=bold) > room:
        keep -= 1
    return shorten(text, keep)


def wrap(text: str, size: float, room: float) -> list[str]:
    """``text`` broken at spaces into lines that each fit in ``room`` (by :func:`text_width`)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and text_width(candidate, size) > room:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return [fit(line, size, room) for line in lines] or [""]


# -- what the template draws -----------------------------------------------------------------


@dataclass
class Mark:
    """One bar: a piece, or a time slice of pieces."""

    x: float
    y: float
    w: float
    h: float
    tip: str


@dataclass
class GroupLabel:
    """ "5 parts" above an item that joined several template parts."""

    x: float
    y: float
    text: str


@dataclass
class EventDot:
    """One event on the client lane: filled when it carried content, hollow for a control event."""

    x: float
    y: float
    content: bool
    tip: str


@dataclass
class DrawnLane:
    """One lane of one panel, placed: its caption and its bars (and, on the client's lane of
    an event stream, a dot per event and "3 events" over a read that completed several)."""

    key: str
    title: str
    summary: list[str]
    color: str
    top: float
    base: float
    mid: float
    marks: list[Mark]
    dots: list[tuple[float, float]]
    group_labels: list[GroupLabel]
    events: list[EventDot] = field(default_factory=list)
    event_labels: list[GroupLabel] = field(default_factory=list)
    comments: list[EventDot] = field(default_factory=list)  # keep-alive comments: not events


@dataclass
class HeadersMarker:
    """The dashed line at the moment the headers arrived."""

    x: float
    label: str
    anchor: str
    dx: float


@dataclass
class BreakMarker:
    """The red line and cross where the stream broke."""

    x: float
    mark_y: float
    label: str
    label_x: float
    anchor: str


@dataclass
class StoppedMarker:
    """Where reading stopped at ``max_seconds``."""

    x: float
    label: str


@dataclass
class Note:
    """A line of text under a panel's lanes; ``kind`` picks its style."""

    kind: str  # "stats", "error" or "muted"
    text: str
    y: float = 0.0


@dataclass
class Heading:
    """A panel's first lines: label and request on the left, status on the right (or on a
    line of its own when both would not fit side by side), then the verdict and its meaning."""

    label: str | None
    request: str
    status: str
    y: float
    status_y: float
    verdict: str
    verdict_color: str
    verdict_w: float
    verdict_y: float
    meaning: list[str]
    bottom: float


@dataclass
class Panel:
    """One trace's part of the figure."""

    heading: Heading
    top: float
    separator: bool
    lanes_top: float
    lanes_bottom: float
    lanes: list[DrawnLane]
    connectors: list[tuple[float, float, float, float]]
    headers: HeadersMarker | None
    broken: BreakMarker | None
    stopped: StoppedMarker | None
    notes: list[Note]
    bottom: float
    first_content: HeadersMarker | None = None


@dataclass
class LegendItem:
    """One entry of the legend under the axis."""

    kind: str  # "bar", "parts", "headers", "event", "comment", "first-content" or "connector"
    text: str
    x: float = 0.0
    y: float = 0.0


@dataclass
class Figure:
    """Everything the SVG template needs, as plain numbers and strings."""

    width: int
    height: int
    title: str
    desc: str
    plot_x: float
    plot_w: float
    plot_top: float
    axis_y: float
    ticks: list[tuple[float, str]]
    axis_label: str
    panels: list[Panel]
    legend: list[LegendItem]
    colors: dict[str, str] = field(default_factory=lambda: dict(COLORS))


# -- building the picture ------------------------------------------------------------------


def _x(t: float, span: float) -> float:
    return round(LABEL_W + min(max(t, 0.0), span) / span * PLOT_W, 1)


@dataclass
class _Scale:
    """What every panel of one figure shares: the time span, the bar scale, bucketing."""

    span: float
    bar: float  # bar height per square root of a byte
    bucketed: bool
    biggest: int


def _place_pieces(all_lanes: list[list[Lane]], span: float) -> _Scale:
    """Give every lane its pieces to draw (one per piece, or time slices) and pick the scale."""
    # One rule for the whole figure, so every bar in it measures the same thing.
    bucketed = any(len(lane.series) > MAX_MARKS for lanes in all_lanes for lane in lanes)
    buckets = int(PLOT_W // BUCKET_PX)
    for lanes in all_lanes:
        for lane in lanes:
            s = lane.series
            if bucketed:
                lane.pieces = bucket(s, span, buckets)
            else:
                lane.pieces = [Piece(s.ts[i], s.ts[i], s.sizes[i], 1, s.parts[i], i) for i in range(len(s))]
    biggest = max((piece.size for lanes in all_lanes for lane in lanes for piece in lane.pieces), default=0)
    # Square-root heights: a 600-byte page head must not flatten 30-byte rows into nothing.
    bar = BAR_MAX / math.sqrt(biggest) if biggest else 0.0
    return _Scale(span, bar, bucketed, biggest)


def _ticks(span: float) -> list[tuple[float, str]]:
    step = _nice_step(span * 1000)
    count = int(span * 1000 / step + 1e-9)
    return [(_x(k * step / 1000, span), _tick_label(k * step, step)) for k in range(count + 1)]


def _legend(panels: list[Panel], scale: _Scale, top: float) -> tuple[list[LegendItem], float]:
    """The legend entries that apply, laid out in lines from ``top``; returns them and the last y."""
    if scale.bucketed:
        slice_ms = scale.span * 1000 / int(PLOT_W // BUCKET_PX)
        size_note = (
            f"taller bar = more bytes in a {slice_ms:.2g} ms slice "
            f"(square-root scale, tallest {fmt_bytes(scale.biggest)})"
        )
    else:
        size_note = f"taller bar = more bytes (square-root scale, tallest {fmt_bytes(scale.biggest)})"
    legend = [LegendItem("bar", size_note)]
    if any(lane.dots for p in panels for lane in p.lanes):
        legend.append(LegendItem("parts", "template parts joined into one item"))
    if any(p.headers for p in panels):
        legend.append(LegendItem("headers", "headers arrived"))
    if any(lane.events for p in panels for lane in p.lanes):
        legend.append(LegendItem("event", "event (filled: with content; hollow: control)"))
    if any(lane.comments for p in panels for lane in p.lanes):
        legend.append(LegendItem("comment", "comment (keep-alive)"))
    if any(p.first_content for p in panels):
        legend.append(LegendItem("first-content", "first content (time to first token)"))
    if any(p.connectors for p in panels):
        legend.append(LegendItem("connector", "grey lines follow the bytes from lane to lane"))
    y = top
    x = 16.0
    for item in legend:
        item_w = 30 + text_width(item.text, 12)
        if x > 16 and x + item_w > WIDTH - 16:  # wrap onto the next line
            x, y = 16.0, y + 18
        item.x = round(x, 1)
        item.y = y
        x += item_w + 14
    return legend, y


def _build(
    traces: Sequence[Trace],
    labels: Sequence[str] | None,
    verdicts: list[str],
    live: bool,
    reserve: Sequence[str],
) -> Figure:
    all_lanes = [read_lanes(trace, reserve if live else ()) for trace in traces]
    scale = _place_pieces(all_lanes, _time_span(traces, all_lanes))
    panels: list[Panel] = []
    y = 4.0
    for index, (trace, lanes) in enumerate(zip(traces, all_lanes)):
        label = labels[index] if labels else None
        panel = _panel(trace, lanes, label, verdicts[index], y, scale, live)
        panels.append(panel)
        y = panel.bottom
    axis_y = y + 2
    legend, legend_y = _legend(panels, scale, axis_y + 56)
    return Figure(
        width=WIDTH,
        height=int(legend_y + 14),
        title=_figure_title(traces, labels, verdicts),
        desc=_figure_desc(traces, labels, verdicts, all_lanes, live),
        plot_x=LABEL_W,
        plot_w=PLOT_W,
        plot_top=panels[0].lanes_top,
        axis_y=axis_y,
        ticks=_ticks(scale.span),
        axis_label="time since the request started (ms)",
        panels=panels,
        legend=legend,
    )


def _heading(trace: Trace, label: str | None, verdict: str, top: float) -> Heading:
    """Label, request and status on the first line(s), then the verdict pill and its meaning."""
    room = WIDTH - 32
    status = status_line(trace)
    status_w = text_width(status, 13.5)
    request = request_line(trace.url, trace.method)
    if label:
        label = fit(label, 16, room * 0.6, bold=True)
        left_w = text_width(label, 16, bold=True) + 10
        request = fit(request, 13.5, room - left_w)
        left_w += text_width(request, 13.5)
    else:
        request = fit(request, 16, room, bold=True)
        left_w = text_width(request, 16, bold=True)
    y = top + 22
    # Status on the same line when both fit with a gap; else on its own line, right-aligned.
    status_y = y if left_w + 24 + status_w <= room else y + 18
    verdict_y = status_y + 24
    pill = verdict or "?"
    verdict_w = round(18 + 8.6 * len(pill), 1)
    meaning = wrap(trace.explain(verdict) if verdict else "", 13.5, room - verdict_w - 10)
    return Heading(
        label=label,
        request=request,
        status=fit(status, 13.5, room),
        y=y,
        status_y=status_y,
        verdict=pill,
        verdict_color=VERDICT_COLORS.get(verdict, COLORS["muted"]),
        verdict_w=verdict_w,
        verdict_y=verdict_y,
        meaning=meaning,
        bottom=verdict_y + 16 * (len(meaning) - 1) + 10,
    )


def _markers(
    trace: Trace, lanes: list[Lane], lanes_top: float, span: float
) -> tuple[HeadersMarker | None, BreakMarker | None, StoppedMarker | None, list[Note]]:
    """The headers line, the break and stop marks, and the notes they come with."""
    headers = None
    if trace.headers_at is not None:
        x = _x(trace.headers_at, span)
        near_right = x > LABEL_W + PLOT_W - 110  # then label to the left of the line
        headers = HeadersMarker(x, f"headers {fmt_ms(trace.headers_at)}", "end" if near_right else "start",
                                -4 if near_right else 4)  # fmt: skip
    notes: list[Note] = []
    broken = None
    point = break_point(trace, lanes)
    if point is not None:
        t, key, message = point
        # The cross goes in the lane where the break started (the app's, when it raised), at
        # the moment it happened; the note below names the cause.
        row = next((i for i, lane in enumerate(lanes) if lane.key == key), len(lanes) - 1)
        x = _x(t, span)
        near_right = x > LABEL_W + PLOT_W / 2
        raised = key == "produced" and trace.server_error_at is not None
        broken = BreakMarker(
            x=x,
            mark_y=lanes_top + row * LANE_H + LANE_H - 24,
            label=f"{'the app raised' if raised else 'stream cut'} at {fmt_ms(t)}",
            label_x=x - 8 if near_right else x + 8,
            anchor="end" if near_right else "start",
        )
        notes.append(Note("error", f"\u2716 broken: {message}"))
        if trace.server_error is not None and trace.error:
            notes.append(Note("muted", f"the client then saw: {error_text(trace.error)}"))
    stopped = None
    if trace.stopped:
        stopped = StoppedMarker(_x(trace.duration, span), "stopped reading")
        notes.append(
            Note(
                "muted", f"reading stopped at {fmt_ms(trace.duration)} (max_seconds) while the stream went on"
            )
        )
    return headers, broken, stopped, notes


def _panel(
    trace: Trace, lanes: list[Lane], label: str | None, verdict: str, top: float, scale: _Scale, live: bool
) -> Panel:
    """One trace's heading, lanes, markers and notes, starting at ``top``."""
    heading = _heading(trace, label, verdict, top)
    lanes_top = heading.bottom
    drawn = [_draw_lane(lane, lanes_top + row * LANE_H, scale) for row, lane in enumerate(lanes)]
    lanes_bottom = lanes_top + len(lanes) * LANE_H
    headers, broken, stopped, marker_notes = _markers(trace, lanes, lanes_top, scale.span)
    for lane in drawn:
        if lane.key == "received" and trace.event_framing is not None:
            lane.events, lane.event_labels = _event_dots(trace, lane, scale.span)
            if len(trace.comments) <= MAX_EVENT_MARKS:
                lane.comments = [
                    EventDot(
                        _x(comment.t, scale.span),
                        round(lane.top + 13, 1),
                        False,
                        f"comment {shorten(comment.text.strip(), 40)!r} at {fmt_ms(comment.t)} (not an event)",
                    )
                    for comment in trace.comments
                ]
            if lane.summary != ["nothing"]:
                lane.summary[0] += f" \u00b7 {plural(len(trace.events), 'event')}"
    first_content = None
    if trace.first_content is not None:
        x = _x(trace.first_content, scale.span)
        near_right = x > LABEL_W + PLOT_W - 130
        first_content = HeadersMarker(
            x,
            f"first content {fmt_ms(trace.first_content)}",
            "end" if near_right else "start",
            -4 if near_right else 4,
        )
    notes = [Note("stats", _stats_line(trace, lanes, live)), *marker_notes]
    if trace.note:
        notes.append(Note("muted", fit(trace.note.strip().splitlines()[0], 12.5, WIDTH - 32)))
    note_y = lanes_bottom + (44 if first_content is not None else 30)
    for note in notes:
        note.y = note_y
        note_y += 18
    return Panel(
        heading=heading,
        top=top,
        separator=top > 10,
        lanes_top=lanes_top,
        lanes_bottom=lanes_bottom,
        lanes=drawn,
        connectors=[] if scale.bucketed else _connectors(trace, lanes, drawn, scale.span),
        headers=headers,
        broken=broken,
        stopped=stopped,
        notes=notes,
        bottom=note_y - 4,
        first_content=first_content,
    )


def _event_dots(trace: Trace, lane: DrawnLane, span: float) -> tuple[list[EventDot], list[GroupLabel]]:
    """A dot per event at the top of the client's lane, the events of one read side by side,
    with "N events" over a read that completed several: glued events show as such."""
    events = list(trace.events)
    if not events or len(events) > MAX_EVENT_MARKS:
        return [], []
    reads: dict[int, list[tuple[int, Any]]] = {}
    for number, event in enumerate(events, 1):
        reads.setdefault(event.read, []).append((number, event))
    dots: list[EventDot] = []
    labels: list[GroupLabel] = []
    y = round(lane.top + 13, 1)
    last_label_x = -1e9
    for group in reads.values():
        center = _x(group[-1][1].t, span)
        shown = group[:EVENT_DOTS]
        left = center - (len(shown) - 1) * 2.5
        for k, (number, event) in enumerate(shown):
            kind = "content" if event.content else f"{event.type} event, no content"
            text = f": {shorten(event.content, 40)!r}" if event.content else ""
            tip = f"event {number} ({kind}{text}) at {fmt_ms(event.t)}"
            if len(group) > 1:
                tip += f", one of {len(group)} events in one read"
            dots.append(EventDot(round(left + k * 5, 1), y, bool(event.content), tip))
        if len(group) > 1 and center - last_label_x >= 48:
            labels.append(GroupLabel(round(center, 1), round(lane.top + 6, 1), f"{len(group)} events"))
            last_label_x = center
    return dots, labels


def _draw_lane(lane: Lane, top: float, scale: _Scale) -> DrawnLane:
    """Bars, and for items that joined template parts a row of dots and a label above."""
    base = top + LANE_H - 10
    marks = []
    dots: list[tuple[float, float]] = []
    group_labels = []
    last_label_x = last_dots_x = -1e9
    if scale.bucketed:
        width = BUCKET_PX - 0.6
    else:
        width = max(2.0, min(10.0, PLOT_W / max(1, len(lane.pieces)) * 0.5))
    for piece in lane.pieces:
        height = max(BAR_MIN, math.sqrt(piece.size) * scale.bar)
        x = _x(piece.t, scale.span) - (0 if scale.bucketed else width / 2)
        marks.append(
            Mark(
                round(x, 1),
                round(base - height, 1),
                round(width, 1),
                round(height, 1),
                _piece_tip(lane, piece, scale.bucketed),
            )  # fmt: skip
        )
        if scale.bucketed or piece.parts < 2:
            continue
        # One dot per joined part (up to 10), where the dots do not run into the last group's.
        center = x + width / 2
        shown = min(piece.parts, 10)
        row_w = shown * 4 - 1
        dots_y = round(base - height - 6, 1)
        if center - row_w / 2 >= last_dots_x + 3:
            left = center - row_w / 2
            dots += [(round(left + k * 4, 1), dots_y) for k in range(shown)]
            last_dots_x = left + row_w
        if center - last_label_x >= 48:
            text = f"{piece.parts} parts" if piece.parts <= 10 else f"{piece.parts:,} parts joined"
            group_labels.append(GroupLabel(round(center, 1), round(dots_y - 3, 1), text))
            last_label_x = center
    return DrawnLane(
        key=lane.key,
        title=lane.title,
        summary=_lane_summary(lane),
        color=COLORS[lane.key],
        top=top,
        base=base,
        mid=top + LANE_H / 2,
        marks=marks,
        dots=dots,
        group_labels=group_labels,
    )


def _connectors(
    trace: Trace, lanes: list[Lane], drawn: list[DrawnLane], span: float
) -> list[tuple[float, float, float, float]]:
    """Lines from each piece to the piece of the next lane down that carried its bytes."""
    if any(len(lane.series) > MAX_CONNECTORS for lane in lanes):
        return []
    # The trace says which piece carried which bytes, each lane counted in its own measure
    # (decoded, or compressed bytes on the wire): see streamkit.trace.links.
    carried = links(trace)
    lines = []
    for upper, lower, upper_drawn, lower_drawn in zip(lanes, lanes[1:], drawn, drawn[1:]):
        targets = carried.get(upper.key)
        if not targets or not len(lower.series):
            continue
        y1 = round(upper_drawn.base + 1.5, 1)
        y2 = round(lower_drawn.base - BAR_MAX - 1, 1)
        for t, target in zip(upper.series.ts, targets):
            if target is not None:
                lines.append((_x(t, span), y1, _x(lower.series.ts[target], span), y2))
    return lines


def _lane_summary(lane: Lane) -> list[str]:
    """The caption under a lane's title: counts on one line, bytes on the next."""
    if not len(lane.series):
        return ["nothing"]
    counts = plural(len(lane.series), lane.noun, lane.nouns)
    parts = sum(lane.series.parts)
    if parts != len(lane.series):
        counts += f" \u00b7 {parts:,} parts"
    if lane.unit != "bytes":
        return [counts, plural(lane.series.total, lane.unit[:-1], lane.unit)]
    return [counts, fmt_bytes(lane.series.total)]


def _piece_tip(lane: Lane, piece: Piece, bucketed: bool) -> str:
    if bucketed:
        return (
            f"{lane.title}: {plural(piece.count, lane.noun, lane.nouns)}, {piece.size:,} {lane.unit}, "
            f"{fmt_ms(piece.t)}\u2013{fmt_ms(piece.t_end)}"
        )
    parts = f" ({piece.parts} template parts)" if piece.parts > 1 else ""
    return (
        f"{lane.title}: {lane.noun} {piece.first + 1}, {piece.size:,} {lane.unit}{parts} at {fmt_ms(piece.t)}"
    )


def _stats_line(trace: Trace, lanes: list[Lane], live: bool) -> str:
    received = received_series(lanes)
    count, size = (len(received), received.total) if received else (0, 0)
    bits = [f"first body byte {fmt_ms(trace.ttfb)}" if trace.ttfb is not None else "no body bytes"]
    if live:
        # A trace still being read has no duration yet: the last arrival is the news.
        last = received.ts[-1] if received is not None and len(received) else 0.0
        bits.append(f"last piece so far {fmt_ms(max(trace.duration, last))}")
    else:
        bits.append(f"ended {fmt_ms(trace.duration)}")
    browser = trace.browser_received is not None
    bits.append(f"{size:,} bytes in {plural(count, 'read' if browser else 'chunk')}")
    if trace.wire_size != size:
        bits.append(f"{trace.wire_size:,} bytes on the wire")
    return ("browser: " if browser else "client: ") + " \u00b7 ".join(bits)


def _figure_title(traces: Sequence[Trace], labels: Sequence[str] | None, verdicts: list[str]) -> str:
    if len(traces) == 1:
        return f"Stream timeline of {request_line(traces[0].url, traces[0].method)}: {verdicts[0] or 'no verdict'}"
    names = "; ".join(
        f"{labels[i] if labels else request_line(t.url, t.method)}: {verdicts[i] or 'no verdict'}"
        for i, t in enumerate(traces)
    )
    return f"Stream timelines compared ({names})"


def _figure_desc(
    traces: Sequence[Trace],
    labels: Sequence[str] | None,
    verdicts: list[str],
    all_lanes: list[list[Lane]],
    live: bool,
) -> str:
    sentences = []
    for i, (trace, lanes) in enumerate(zip(traces, all_lanes)):
        name = labels[i] if labels else request_line(trace.url, trace.method)
        received = received_series(lanes) or Series(())
        if live:
            # Still arriving: no duration yet, only what came so far.
            last = received.ts[-1] if len(received) else None
            sentence = (
                f"{name}: status {trace.status}; still receiving: so far "
                f"{plural(len(received), 'chunk')} ({received.total:,} bytes), the latest at {fmt_ms(last)}"
            )
        else:
            client, piece = (
                ("the browser", "read") if trace.browser_received is not None else ("the client", "chunk")
            )
            sentence = (
                f"{name}: status {trace.status}; {client} received "
                f"{plural(len(received), piece)} ({received.total:,} bytes) over "
                f"{fmt_ms(trace.duration)}, the first at {fmt_ms(trace.ttfb)}"
            )
        for lane in lanes:
            if lane.key != "received":
                sentence += f"; {lane.title} {plural(len(lane.series), lane.noun, lane.nouns)}"
        verdict = verdicts[i]
        if verdict:
            sentence += f"; verdict {verdict}: {trace.explain(verdict)}"
        point = break_point(trace, lanes)
        if point is not None:
            sentence += f"; it broke with {point[2]}"
        sentences.append(sentence + ".")
    return " ".join(sentences)


_env: jinja2.Environment | None = None


def _template() -> jinja2.Template:
    global _env
    if _env is None:
        _env = jinja2.Environment(
            loader=jinja2.PackageLoader("streamkit", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _env.get_template("timeline.svg.j2")


# -- public API ----------------------------------------------------------------------------


def render_svg(
    traces: Sequence[Trace],
    labels: Sequence[str] | None = None,
    *,
    live: bool = False,
    reserve: Sequence[str] = (),
) -> tuple[str, list[str]]:
    """The SVG of ``traces`` on one time axis, and the verdicts drawn in it (each verdict is
    worked out once: for 100,000 chunks that is not free). ``live=True`` draws responses that
    are still arriving ("receiving" instead of a verdict), with the lanes named in ``reserve``
    ("produced", "written") drawn even while they are empty."""
    verdicts = [_verdict(trace, live) for trace in traces]
    return _template().render(fig=_build(traces, labels, verdicts, live, reserve)), verdicts


def to_svg(trace: Trace, *, live: bool = False) -> str:
    """The trace's timeline as a standalone SVG document (a string).

    ``live=True`` draws a response that is still arriving ("receiving" instead of a verdict).
    """
    return render_svg([trace], live=live)[0]


class Comparison:
    """Several traces on one time axis (what :func:`compare` returns).

    Displays itself in Jupyter; ``to_svg()`` and ``to_text()`` give the picture as a string.
    """

    def __init__(self, traces: Sequence[Trace], labels: Sequence[str]) -> None:
        self.traces = list(traces)
        self.labels = list(labels)

    def to_svg(self) -> str:
        """All traces stacked over one shared time axis and one shared byte scale."""
        return render_svg(self.traces, self.labels)[0]

    def to_text(self) -> str:
        """Each trace's text timeline under its label, then a summary table."""
        blocks = []
        for label, trace in zip(self.labels, self.traces):
            blocks.append(f"== {label} ==\n{to_text(trace)}")
        name_w = max(len(label) for label in self.labels)
        table = [f"{'':<{name_w}}  {'verdict':<9}  {'chunks':>7}  {'ttfb':>10}  {'duration':>10}"]
        for label, trace in zip(self.labels, self.traces):
            table.append(
                f"{label:<{name_w}}  {trace.verdict or '?':<9}  {len(trace.chunks):>7,}  "
                f"{fmt_ms(trace.ttfb):>10}  {fmt_ms(trace.duration):>10}"
            )
        blocks.append("\n".join(table))
        return "\n\n".join(blocks)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from .display import html  # the display layer, above this one

        svg = self.to_svg()
        return {"image/svg+xml": svg, "text/html": html(svg), "text/plain": repr(self)}

    def _repr_html_(self) -> str:
        from .display import html

        return html(self.to_svg())

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{label}: {trace.verdict or '?'}" for label, trace in zip(self.labels, self.traces)
        )
        return f"<Comparison {inner}>"


def compare(*traces: Trace, labels: Sequence[str] | None = None) -> Comparison:
    """Draw several traces on one time axis, e.g. ``compare(a, b, labels=["streamed", "buffered"])``."""
    if not traces:
        raise ValueError("compare() needs at least one trace")
    if labels is None:
        labels = [request_line(trace.url, trace.method) for trace in traces]
    else:
        labels = [str(label) for label in labels]
        if len(labels) != len(traces):
            raise ValueError(
                f"compare() got {len(traces)} traces but {len(labels)} labels; give one label per trace"
            )
    return Comparison(traces, labels)
