"""Pictures of a stream: SVG and text timelines of a Trace, comparisons, and a live view.

A timeline has one lane for each place a response passes through, top to bottom:

* **app produced**: each item the app yielded (with a dot per template part it joined);
* **server sent**: each item the server wrote to the socket;
* **client received**: each piece the client read.

Bars sit at the moment they happened (ms since the request started); taller bars carry more
bytes, on a square-root scale so that small rows stay visible next to a big page head. Thin
grey lines follow the bytes from one lane to the next, so buffering shows up as many lines
running into one bar. A dashed amber line marks when the headers arrived and a red line where
a stream was cut. Long streams are drawn in time slices instead of one bar per piece, so
100,000 chunks still draw quickly.

The SVG comes from the Jinja2 template ``streamkit/templates/timeline.svg.j2``, filled with
the plain numbers computed here; no plotting library is involved. :class:`LiveView` keeps one
picture in a Jupyter output up to date while a response arrives.

Reading a trace into lanes (and the shared wording of times and sizes) lives in
:mod:`streamkit.lanes`, the terminal version in :mod:`streamkit.text_timeline`. Both read a
Trace through its documented attributes only (``chunks``, ``produced``, ``written``,
``headers_at``, ``ttfb``, ``duration``, ``error``, ``server_error``, ``verdict``, ...).
"""

from __future__ import annotations

import base64
import math
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from .lanes import (
    VERDICT_MEANING,
    Lane,
    Piece,
    Series,
    break_point,
    bucket,
    error_text,
    fmt_bytes,
    fmt_ms,
    plural,
    read_lanes,
    received_series,
    request_line,
    shorten,
    status_line,
    wire_total,
)
from .text_timeline import to_text
from .trace import links

__all__ = ["Comparison", "LiveView", "compare", "error_text", "html", "mimebundle", "plain", "to_svg", "to_text"]

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

# Colours chosen for a white card, which is drawn explicitly so that the picture reads the same
# on JupyterLab's light and dark themes.
COLORS = {
    "produced": "#8250df",
    "written": "#0969da",
    "received": "#1a7f37",
    "text": "#1f2328",
    "muted": "#57606a",
    "grid": "#e6e8eb",
    "headers": "#b35900",
    "error": "#cf222e",
    "stopped": "#57606a",
    "connector": "#8c959f",
}
VERDICT_COLORS = {
    "streamed": "#1a7f37",
    "buffered": "#b35900",
    "broken": "#cf222e",
    "empty": "#57606a",
    "single": "#57606a",
}


def _verdict(trace: Any, live: bool) -> str:
    if live:
        return "receiving"
    return str(getattr(trace, "verdict", "") or "")


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


def _time_span(traces: Sequence[Any], all_lanes: list[list[Lane]]) -> float:
    """The end of the shared time axis, in seconds."""
    end = 0.0
    for trace, lanes in zip(traces, all_lanes):
        end = max(end, float(getattr(trace, "duration", 0.0) or 0.0))
        headers_at = getattr(trace, "headers_at", None)
        if headers_at is not None:
            end = max(end, float(headers_at))
        for lane in lanes:
            if len(lane.series):
                end = max(end, lane.series.ts[-1])
    return max(end * 1.03, 0.001)


# -- building the picture ------------------------------------------------------------------


@dataclass
class _Figure:
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
    panels: list[dict[str, Any]]
    legend: list[dict[str, Any]]
    colors: dict[str, str]


def _x(t: float, span: float) -> float:
    return round(LABEL_W + min(max(t, 0.0), span) / span * PLOT_W, 1)


def _build(traces: Sequence[Any], labels: Sequence[str] | None, verdicts: list[str], live: bool) -> _Figure:
    all_lanes = [read_lanes(trace) for trace in traces]
    span = _time_span(traces, all_lanes)
    # One rule for the whole figure, so every bar in it measures the same thing.
    bucketed = any(len(lane.series) > MAX_MARKS for lanes in all_lanes for lane in lanes)
    buckets = int(PLOT_W // BUCKET_PX)
    for lanes in all_lanes:
        for lane in lanes:
            s = lane.series
            if bucketed:
                lane.pieces = bucket(s, span, buckets)
            else:
                lane.pieces = [
                    Piece(s.ts[i], s.ts[i], s.sizes[i], 1, s.parts[i], i) for i in range(len(s))
                ]
    biggest = max(
        (piece.size for lanes in all_lanes for lane in lanes for piece in lane.pieces), default=0
    )
    # Square-root heights: a 600-byte page head must not flatten 30-byte rows into nothing.
    scale = BAR_MAX / math.sqrt(biggest) if biggest else 0.0

    panels: list[dict[str, Any]] = []
    y = 4.0
    for index, (trace, lanes) in enumerate(zip(traces, all_lanes)):
        label = labels[index] if labels else None
        panel, y = _panel(trace, lanes, label, verdicts[index], y, span, scale, bucketed, live)
        panels.append(panel)

    axis_y = y + 2
    step = _nice_step(span * 1000)
    ticks = []
    count = int(span * 1000 / step + 1e-9)
    for k in range(count + 1):
        ticks.append((_x(k * step / 1000, span), _tick_label(k * step, step)))
    if bucketed:
        size_note = (
            f"taller bar = more bytes in a {span * 1000 / buckets:.2g} ms slice "
            f"(square-root scale, tallest {fmt_bytes(biggest)})"
        )
    else:
        size_note = f"taller bar = more bytes (square-root scale, tallest {fmt_bytes(biggest)})"
    legend = [{"kind": "bar", "text": size_note}]
    if any(lane["dots"] for p in panels for lane in p["lanes"]):
        legend.append({"kind": "parts", "text": "template parts joined into one item"})
    if any(p["headers"] for p in panels):
        legend.append({"kind": "headers", "text": "headers arrived"})
    if any(p["connectors"] for p in panels):
        legend.append({"kind": "connector", "text": "grey lines follow the bytes from lane to lane"})
    legend_y = axis_y + 56
    x = 16.0
    for item in legend:
        item_w = 30 + 6.7 * len(item["text"])
        if x > 16 and x + item_w > WIDTH - 16:  # wrap onto the next line
            x, legend_y = 16.0, legend_y + 18
        item["x"] = x
        item["y"] = legend_y
        x += item_w + 14

    return _Figure(
        width=WIDTH,
        height=int(legend_y + 14),
        title=_figure_title(traces, labels, verdicts),
        desc=_figure_desc(traces, labels, verdicts, all_lanes),
        plot_x=LABEL_W,
        plot_w=PLOT_W,
        plot_top=panels[0]["lanes_top"],
        axis_y=axis_y,
        ticks=ticks,
        axis_label="time since the request started (ms)",
        panels=panels,
        legend=legend,
        colors=COLORS,
    )


def _panel(
    trace: Any,
    lanes: list[Lane],
    label: str | None,
    verdict: str,
    y: float,
    span: float,
    scale: float,
    bucketed: bool,
    live: bool,
) -> tuple[dict[str, Any], float]:
    """One trace's heading, lanes, markers and notes, starting at ``y``; returns the next y."""
    heading_y = y + 22
    verdict_y = heading_y + 24
    lanes_top = verdict_y + 10
    drawn_lanes = [
        _draw_lane(lane, lanes_top + row * LANE_H, span, scale, bucketed)
        for row, lane in enumerate(lanes)
    ]
    lanes_bottom = lanes_top + len(lanes) * LANE_H

    headers_at = getattr(trace, "headers_at", None)
    headers = None
    if headers_at is not None:
        x = _x(float(headers_at), span)
        headers = {
            "x": x,
            "label": f"headers {fmt_ms(float(headers_at))}",
            # Label to the right of the line, or to its left near the right edge.
            "anchor": "end" if x > LABEL_W + PLOT_W - 110 else "start",
            "dx": -4 if x > LABEL_W + PLOT_W - 110 else 4,
        }

    notes = [{"kind": "stats", "text": _stats_line(trace, lanes, live)}]
    broken = None
    point = break_point(trace, lanes)
    if point is not None:
        t, key, message = point
        # The cross goes in the lane where the break started (the app's, when it raised), at
        # the moment it happened; the note below names the cause.
        row = next((i for i, lane in enumerate(lanes) if lane.key == key), len(lanes) - 1)
        x = _x(t, span)
        near_right = x > LABEL_W + PLOT_W / 2
        raised = key == "produced" and getattr(trace, "server_error_at", None) is not None
        broken = {
            "x": x,
            "mark_y": lanes_top + row * LANE_H + LANE_H - 24,
            "label": f"{'the app raised' if raised else 'stream cut'} at {fmt_ms(t)}",
            "label_x": x - 8 if near_right else x + 8,
            "anchor": "end" if near_right else "start",
        }
        notes.append({"kind": "error", "text": f"\u2716 broken: {message}"})
        client_error = getattr(trace, "error", None)
        if getattr(trace, "server_error", None) is not None and client_error:
            notes.append({"kind": "muted", "text": f"the client then saw: {error_text(client_error)}"})
    stopped = None
    if getattr(trace, "stopped", False):
        duration = float(getattr(trace, "duration", 0.0) or 0.0)
        stopped = {"x": _x(duration, span), "label": "stopped reading"}
        notes.append(
            {"kind": "muted", "text": f"reading stopped at {fmt_ms(duration)} (max_seconds) while the stream went on"}
        )
    note = getattr(trace, "note", None)
    if note:
        notes.append({"kind": "muted", "text": shorten(str(note).strip().splitlines()[0], 130)})
    note_y = lanes_bottom + 30
    for item in notes:
        item["y"] = note_y
        note_y += 18

    panel = {
        "label": label,
        "request": request_line(trace),
        "status": status_line(trace),
        "heading_y": heading_y,
        "verdict": verdict or "?",
        "verdict_color": VERDICT_COLORS.get(verdict, COLORS["muted"]),
        "verdict_w": round(18 + 8.6 * len(verdict or "?"), 1),
        "meaning": VERDICT_MEANING.get(verdict, ""),
        "verdict_y": verdict_y,
        "lanes_top": lanes_top,
        "lanes_bottom": lanes_bottom,
        "lanes": drawn_lanes,
        "connectors": [] if bucketed else _connectors(trace, lanes, drawn_lanes, span),
        "headers": headers,
        "broken": broken,
        "stopped": stopped,
        "notes": notes,
        "separator": y > 10,
        "top": y,
    }
    return panel, note_y - 4


def _draw_lane(lane: Lane, top: float, span: float, scale: float, bucketed: bool) -> dict[str, Any]:
    """Bars, and for items that joined template parts a row of dots and a label above."""
    base = top + LANE_H - 10
    marks = []
    dots: list[tuple[float, float]] = []
    group_labels = []
    last_label_x = last_dots_x = -1e9
    if bucketed:
        width = BUCKET_PX - 0.6
    else:
        width = max(2.0, min(10.0, PLOT_W / max(1, len(lane.pieces)) * 0.5))
    for piece in lane.pieces:
        height = max(BAR_MIN, math.sqrt(piece.size) * scale)
        x = _x(piece.t, span) - (0 if bucketed else width / 2)
        marks.append(
            {
                "x": round(x, 1),
                "y": round(base - height, 1),
                "w": round(width, 1),
                "h": round(height, 1),
                "tip": _piece_tip(lane, piece, bucketed),
            }
        )
        if bucketed or piece.parts < 2:
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
            group_labels.append({"x": round(center, 1), "y": round(dots_y - 3, 1), "text": text})
            last_label_x = center
    return {
        "key": lane.key,
        "title": lane.title,
        "summary": _lane_summary(lane),
        "color": COLORS[lane.key],
        "top": top,
        "base": base,
        "mid": top + LANE_H / 2,
        "marks": marks,
        "dots": dots,
        "group_labels": group_labels,
    }


def _connectors(
    trace: Any, lanes: list[Lane], drawn: list[dict[str, Any]], span: float
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
        y1 = round(upper_drawn["base"] + 1.5, 1)
        y2 = round(lower_drawn["base"] - BAR_MAX - 1, 1)
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
    return [counts, fmt_bytes(lane.series.total)]


def _piece_tip(lane: Lane, piece: Piece, bucketed: bool) -> str:
    if bucketed:
        return (
            f"{lane.title}: {plural(piece.count, lane.noun, lane.nouns)}, {piece.size:,} bytes, "
            f"{fmt_ms(piece.t)}\u2013{fmt_ms(piece.t_end)}"
        )
    parts = f" ({piece.parts} template parts)" if piece.parts > 1 else ""
    return f"{lane.title}: {lane.noun} {piece.first + 1}, {piece.size:,} bytes{parts} at {fmt_ms(piece.t)}"


def _stats_line(trace: Any, lanes: list[Lane], live: bool) -> str:
    received = received_series(lanes)
    count, size = (len(received), received.total) if received else (0, 0)
    bits = []
    ttfb = getattr(trace, "ttfb", None)
    bits.append(f"first body byte {fmt_ms(ttfb)}" if ttfb is not None else "no body bytes")
    duration = float(getattr(trace, "duration", 0.0) or 0.0)
    if live:
        # A trace still being read has no duration yet: the last arrival is the news.
        last = received.ts[-1] if received is not None and len(received) else 0.0
        bits.append(f"last piece so far {fmt_ms(max(duration, last))}")
    else:
        bits.append(f"ended {fmt_ms(duration)}")
    bits.append(f"{size:,} bytes in {plural(count, 'chunk', 'chunks')}")
    wire = wire_total(trace)
    if wire != size:
        bits.append(f"{wire:,} bytes on the wire")
    return "client: " + " \u00b7 ".join(bits)


def _figure_title(traces: Sequence[Any], labels: Sequence[str] | None, verdicts: list[str]) -> str:
    if len(traces) == 1:
        return f"Stream timeline of {request_line(traces[0])}: {verdicts[0] or 'no verdict'}"
    names = "; ".join(
        f"{labels[i] if labels else request_line(t)}: {verdicts[i] or 'no verdict'}"
        for i, t in enumerate(traces)
    )
    return f"Stream timelines compared ({names})"


def _figure_desc(
    traces: Sequence[Any], labels: Sequence[str] | None, verdicts: list[str], all_lanes: list[list[Lane]]
) -> str:
    sentences = []
    for i, (trace, lanes) in enumerate(zip(traces, all_lanes)):
        name = labels[i] if labels else request_line(trace)
        received = received_series(lanes) or Series(())
        sentence = (
            f"{name}: status {getattr(trace, 'status', None)}; the client received "
            f"{plural(len(received), 'chunk', 'chunks')} ({received.total:,} bytes) over "
            f"{fmt_ms(float(getattr(trace, 'duration', 0.0) or 0.0))}, the first at "
            f"{fmt_ms(getattr(trace, 'ttfb', None))}"
        )
        for lane in lanes:
            if lane.key != "received":
                sentence += f"; {lane.title} {plural(len(lane.series), lane.noun, lane.nouns)}"
        verdict = verdicts[i]
        if verdict:
            sentence += f"; verdict {verdict}: {VERDICT_MEANING.get(verdict, verdict)}"
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


def _render(
    traces: Sequence[Any], labels: Sequence[str] | None, live: bool = False
) -> tuple[str, list[str]]:
    """The SVG and the verdicts drawn in it (each verdict is worked out once: it can be slow)."""
    verdicts = [_verdict(trace, live) for trace in traces]
    return _template().render(fig=_build(traces, labels, verdicts, live)), verdicts


# -- public API ----------------------------------------------------------------------------


def to_svg(trace: Any, *, live: bool = False) -> str:
    """The trace's timeline as a standalone SVG document (a string).

    ``live=True`` draws a response that is still arriving ("receiving" instead of a verdict).
    """
    return _render([trace], None, live)[0]


def plain(trace: Any, verdict: str | None = None) -> str:
    """A short one-line text that is the same from run to run (no times, no port)."""
    chunks = getattr(trace, "chunks", None) or ()
    size = sum(c.size for c in chunks)
    status = getattr(trace, "status", None)
    if verdict is None:
        verdict = str(getattr(trace, "verdict", "") or "")
    text = (
        f"<Trace {request_line(trace)} -> {status if status is not None else 'no response'}: "
        f"{verdict or '?'}, {plural(len(chunks), 'chunk', 'chunks')}, {size:,} bytes"
    )
    if getattr(trace, "stopped", False):
        text += ", stopped at max_seconds"
    server_error = getattr(trace, "server_error", None)
    if server_error is not None:
        text += f", server error {shorten(error_text(server_error), 100)}"
    elif getattr(trace, "error", None):
        text += f", error {shorten(error_text(trace.error), 100)}"
    return text + ">"


def html(svg: str) -> str:
    """The SVG as an ``<img>`` with a data URI, for a notebook's text/html output.

    Why not the ``<svg>`` element itself: a notebook opened from disk is "untrusted", and
    JupyterLab then sanitizes HTML, which strips inline SVG down to a wall of loose text, and
    refuses ``image/svg+xml`` outright. An ``<img>`` with a data URI passes the sanitizer, so
    committed notebooks show their pictures before anyone re-runs them.
    """
    match = re.search(r"<title>(.*?)</title>", svg, flags=re.S)
    alt = match.group(1) if match else "stream timeline"  # already escaped by the template
    width = re.search(r'width="(\d+)"', svg)
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (
        f'<img class="streamkit-timeline" alt="{alt}" width="{width.group(1) if width else 900}" '
        f'style="max-width:100%;height:auto" src="data:image/svg+xml;base64,{data}">'
    )


def mimebundle(trace: Any, *, live: bool = False) -> dict[str, str]:
    """What Jupyter displays: ``image/svg+xml``, ``text/html`` and a short ``text/plain``."""
    svg, verdicts = _render([trace], None, live)
    return {"image/svg+xml": svg, "text/html": html(svg), "text/plain": plain(trace, verdicts[0])}


class Comparison:
    """Several traces on one time axis (what :func:`compare` returns).

    Displays itself in Jupyter; ``to_svg()`` and ``to_text()`` give the picture as a string.
    """

    def __init__(self, traces: Sequence[Any], labels: Sequence[str]) -> None:
        self.traces = list(traces)
        self.labels = list(labels)

    def to_svg(self) -> str:
        """All traces stacked over one shared time axis and one shared byte scale."""
        return _render(self.traces, self.labels)[0]

    def to_text(self) -> str:
        """Each trace's text timeline under its label, then a summary table."""
        blocks = []
        for label, trace in zip(self.labels, self.traces):
            blocks.append(f"== {label} ==\n{to_text(trace)}")
        name_w = max(len(label) for label in self.labels)
        table = [f"{'':<{name_w}}  {'verdict':<9}  {'chunks':>7}  {'ttfb':>10}  {'duration':>10}"]
        for label, trace in zip(self.labels, self.traces):
            chunks = getattr(trace, "chunks", None) or []
            table.append(
                f"{label:<{name_w}}  {str(getattr(trace, 'verdict', '') or '?'):<9}  {len(chunks):>7,}  "
                f"{fmt_ms(getattr(trace, 'ttfb', None)):>10}  {fmt_ms(getattr(trace, 'duration', None)):>10}"
            )
        blocks.append("\n".join(table))
        return "\n\n".join(blocks)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        svg = self.to_svg()
        return {"image/svg+xml": svg, "text/html": html(svg), "text/plain": repr(self)}

    def _repr_html_(self) -> str:
        return html(self.to_svg())

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{label}: {getattr(trace, 'verdict', '') or '?'}" for label, trace in zip(self.labels, self.traces)
        )
        return f"<Comparison {inner}>"


def compare(*traces: Any, labels: Sequence[str] | None = None) -> Comparison:
    """Draw several traces on one time axis, e.g. ``compare(a, b, labels=["streamed", "buffered"])``."""
    if not traces:
        raise ValueError("compare() needs at least one trace")
    if labels is None:
        labels = [request_line(trace) for trace in traces]
    else:
        labels = [str(label) for label in labels]
        if len(labels) != len(traces):
            raise ValueError(
                f"compare() got {len(traces)} traces but {len(labels)} labels; give one label per trace"
            )
    return Comparison(traces, labels)


# -- live display in Jupyter ------------------------------------------------------------------


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where display handles can update an output)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveView:
    """One picture in a notebook output, redrawn as a response arrives.

    The probe calls :meth:`update` with the trace so far after each chunk and :meth:`close`
    with the final trace. Redraws are limited to about ``per_second`` a second (fewer when
    drawing itself gets slow), the final picture stays as the cell's output, and outside a
    Jupyter kernel every call does nothing.
    """

    def __init__(self, *, per_second: float = 10.0, enabled: bool | None = None) -> None:
        self.enabled = in_notebook() if enabled is None else enabled
        self.min_interval = 1.0 / per_second
        self.updates = 0  # how many times the picture was drawn
        self._interval = self.min_interval
        self._last = -math.inf
        self._handle: Any = None

    def update(self, trace: Any) -> bool:
        """Redraw with the trace so far, unless the last redraw was too recent. True if drawn."""
        if not self.enabled:
            return False
        if time.monotonic() - self._last < self._interval:
            return False
        self._draw(trace, live=True)
        return True

    def close(self, trace: Any) -> None:
        """Draw the final picture (always) and keep it."""
        if self.enabled:
            self._draw(trace, live=False)

    def _draw(self, trace: Any, live: bool) -> None:
        started = time.monotonic()
        bundle = mimebundle(trace, live=live)
        if self._handle is None:
            from IPython.display import display

            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)
        self.updates += 1
        finished = time.monotonic()
        self._last = finished
        # If drawing takes long (huge traces), redraw less often so the probe keeps reading.
        self._interval = max(self.min_interval, 4 * (finished - started))
