"""The timeline as fixed-width text, for a terminal: ``Trace.to_text()``.

One row per received chunk (or, for long streams, per time slice of about a twentieth of the
stream), then the verdict, the times and the totals, and any error. The last column says which
of the app's items each chunk carried: that is where buffering shows in text, as many items
produced over a long time arriving in one chunk. For an event stream a column counts the events
each row completed (several in one chunk: glued), and lines after the totals give the event
figures: time to first event and first content, gaps between content events, longest silence.

``streamkit probe`` in a terminal prints rows as they arrive: :func:`live_head`,
:func:`live_row`, :func:`live_event_row` and :func:`live_comment_row`, then
``to_text(trace, rows=False)``.

Layer: pictures.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .lanes import Series, fmt_ms, fmt_range, status_line
from .trace import error_text, plural, request_line, shorten, shown_after, verdict_text

if TYPE_CHECKING:
    from .events import EventRecord
    from .trace import Trace

TEXT_BUCKET_ROWS = 20  # long streams are shown in about this many rows
TEXT_MAX_ROWS = 40  # up to this many chunks, one row each


def to_text(trace: Trace, *, width: int = 24, rows: bool = True) -> str:
    """A fixed-width timeline for a terminal: one row per chunk (or time slice), then totals.

    Each row says when a piece arrived, how big it was (a bar of at most ``width``
    characters) and which of the app's items it carried: that last column is where
    buffering shows in text ("5 items at 2.0-402 ms" arriving in one chunk). ``rows=False``
    gives only what follows the rows (the verdict, times, totals and event figures).
    """
    received = Series(trace.chunks)
    produced = Series(trace.produced)
    written = Series(trace.written)
    verdict = trace.verdict
    headers_at = trace.headers_at

    lines = [f"{request_line(trace.url, trace.method)} -> {status_line(trace)}"]
    events = trace.events if trace.event_framing is not None else None
    head = f"{'chunk':>13}  {'arrived':>19}  {'bytes':>9}  {'':<{width}}"
    if events is not None:
        head += f"  {'events':>6}"
    if len(produced):
        head += "  app produced"
    lines.append(head.rstrip())
    if headers_at is not None:
        lines.append(f"{'':>13}  {fmt_ms(float(headers_at)):>19}  headers arrived")
    if not len(received):
        lines.append(f"{'':>13}  {'':>19}  (no body received)")
    else:
        slices = _text_rows(received)
        biggest = max(received.ends[stop - 1] - received.bytes_before(start) for start, stop in slices)
        for start, stop in slices:
            size = received.ends[stop - 1] - received.bytes_before(start)
            name = str(start + 1) if stop - start == 1 else f"{start + 1}-{stop}"
            t0, t1 = received.ts[start], received.ts[stop - 1]
            when = fmt_range(t0, t1)
            bar = "\u2588" * max(1, round(size / biggest * width)) if size and biggest else "\u00b7"
            line = f"{name:>13}  {when:>19}  {size:>9,}  {bar:<{width}}"
            if events is not None:
                line += f"  {_completed(events, start, stop) or '-':>6}"
            if len(produced):
                line += "  " + _carried(produced, received, start, stop)
            lines.append(line.rstrip())

    if trace.browser_shown:
        lines += _shown_rows(trace, received, width)

    if not rows:
        lines = []
    else:
        lines.append("")
    meaning = verdict_text(trace, verdict, events=False) if verdict != "receiving" else trace.explain(verdict)
    lines.append(f"verdict: {verdict or '?'}" + (f" ({meaning})" if meaning else ""))
    ttfb = trace.ttfb
    lines.append(
        f"ttfb: {fmt_ms(ttfb) if ttfb is not None else 'no body bytes'}"
        f"   headers: {fmt_ms(headers_at) if headers_at is not None else '-'}"
        f"   duration: {fmt_ms(trace.duration)}"
    )
    total = f"received: {plural(len(received), 'chunk')}, {received.total:,} bytes"
    wire = trace.wire_size
    if wire != received.total:
        total += f" ({wire:,} bytes on the wire)"
    lines.append(total)
    if len(produced):
        line = f"app produced: {plural(len(produced), 'item')}, {produced.total:,} bytes"
        parts = sum(produced.parts)
        if parts != len(produced):
            line += f", {parts:,} template parts"
        lines.append(line)
    if len(written):
        lines.append(f"server sent: {plural(len(written), 'write')}, {written.total:,} bytes")
    if trace.browser_shown is not None:
        grew = [event for event in trace.browser_shown if event.size]
        lines.append(
            f"page showed: {plural(len(grew), 'step')}, {sum(e.size for e in grew):,} characters of text"
        )
    server_error = trace.server_error
    client_error = trace.error
    if server_error is not None:
        lines.append(f"error in the app: {error_text(server_error)}")
    if client_error:
        lines.append(f"error at the client: {error_text(client_error)}")
    lines += event_lines(trace)
    if trace.stopped:
        lines.append("stopped: max_seconds reached while the stream was still going")
    if trace.note:
        lines.append(f"note: {trace.note.strip().splitlines()[0]}")
    return "\n".join(lines)


def event_lines(trace: Trace) -> list[str]:
    """The event figures, a line each (none when the body was not split into events)."""
    figures = trace.event_figures
    if figures is None:
        return []
    kinds = {"sse": "server-sent event", "jsonl": "JSON line", "json-seq": "JSON record"}
    line = f"events: {plural(figures.events, kinds.get(trace.event_framing or '', 'event'))}"
    line += f" ({figures.content_events:,} with content)"
    if figures.comments:
        line += f", {plural(figures.comments, 'comment')}"
    lines = [line]
    if figures.events:
        lines.append(
            f"first event: {fmt_ms(figures.first_event)}   first content: {fmt_ms(figures.first_content)}"
            f"   (first byte: {fmt_ms(figures.first_byte)})"
        )
    if figures.gap_median is not None:
        lines.append(
            f"between content events: median {fmt_ms(figures.gap_median)}, p95 {fmt_ms(figures.gap_p95)}, "
            f"longest {fmt_ms(figures.gap_max)}"
        )
    if figures.events:
        lines.append(
            f"events per chunk: up to {figures.per_chunk_max:,}, {figures.per_chunk_mean:.1f} on average"
        )
    if figures.longest_silence is not None:
        lines.append(
            f"longest silence (no event or comment): {fmt_ms(figures.longest_silence)}"
            f" from {fmt_ms(figures.silence_from)}"
        )
    if trace.unterminated is not None:
        lines.append(
            "unterminated: the body ended inside an event, with no blank line after it"
            if trace.event_framing == "sse"
            else "unterminated: the body ended inside a record that never became complete JSON"
        )
    return lines


def _completed(events: Sequence[EventRecord], start: int, stop: int) -> int:
    """How many events the chunks ``start``..``stop - 1`` completed (events are in order)."""
    chunks = [event.chunk for event in events]
    return bisect.bisect_left(chunks, stop) - bisect.bisect_left(chunks, start)


def live_head(trace: Trace) -> list[str]:
    """The first lines of a live listing: the request and status, column names, the headers."""
    lines = [f"{request_line(trace.url, trace.method)} -> {status_line(trace)}"]
    if trace.event_framing is not None:
        lines.append(f"{'event':>7}  {'arrived':>11}  {'chunk':>7}  {'type':<12}  content")
    else:
        lines.append(f"{'chunk':>7}  {'arrived':>11}  {'bytes':>9}")
    if trace.headers_at is not None:
        lines.append(f"{'':>7}  {fmt_ms(trace.headers_at):>11}  headers arrived")
    return lines


def live_row(trace: Trace, index: int) -> str:
    """The live row of chunk ``index``: when it arrived and its size."""
    chunk = trace.chunks[index]
    return f"{index + 1:>7}  {fmt_ms(chunk.t):>11}  {chunk.size:>9,}"


def live_comment_row(trace: Trace, index: int) -> str:
    """The live row of SSE comment ``index`` (a keep-alive): not an event, but activity."""
    comment = trace.comments[index]
    text = shorten(json.dumps(":" + comment.text, ensure_ascii=False), 46)
    return f"{'':>7}  {fmt_ms(comment.t):>11}  {comment.chunk + 1:>7}  {'(comment)':<12}  {text}"


def live_event_row(trace: Trace, index: int) -> str:
    """The live row of event ``index``: when it was complete, in which chunk, its type and the
    text it carried (its data, shortened, when it carried none)."""
    event = trace.events[index]
    if event.content:
        shown = shorten(json.dumps(event.content, ensure_ascii=False), 60)
    else:
        shown = "(no content) " + shorten(json.dumps(event.data, ensure_ascii=False), 46)
    return (
        f"{index + 1:>7}  {fmt_ms(event.t):>11}  {event.chunk + 1:>7}  {shorten(event.type, 12):<12}  {shown}"
    )


def _shown_rows(trace: Trace, received: Series, width: int) -> list[str]:
    """A browser trace's page lane: one row per growth of the visible text (up to 40), with the
    browser's reads it was the first growth after (the SVG's grey lines, in words)."""
    shown = list(trace.browser_shown or ())
    targets = shown_after(trace.chunks, shown)
    biggest = max((event.size for event in shown), default=0)
    lines = [
        "",
        f"{'page step':>13}  {'shown':>19}  {'chars':>9}  {'':<{width}}  browser reads it showed".rstrip(),
    ]
    for index, event in enumerate(shown[:TEXT_MAX_ROWS]):
        if not event.size:
            lines.append(f"{'':>13}  {fmt_ms(event.t):>19}  first paint, no text yet")
            continue
        reads = [k for k, target in enumerate(targets) if target == index]
        bar = "\u2588" * max(1, round(event.size / biggest * width)) if biggest else "\u00b7"
        line = f"{index + 1:>13}  {fmt_ms(event.t):>19}  {event.size:>9,}  {bar:<{width}}"
        if reads:
            name = f"read {reads[0] + 1}" if len(reads) == 1 else f"reads {reads[0] + 1}-{reads[-1] + 1}"
            line += f"  {name} at {fmt_range(received.ts[reads[0]], received.ts[reads[-1]])}"
        lines.append(line.rstrip())
    if len(shown) > TEXT_MAX_ROWS:
        lines.append(f"{'':>13}  ... and {plural(len(shown) - TEXT_MAX_ROWS, 'more step')}")
    return lines


def _text_rows(received: Series) -> list[tuple[int, int]]:
    """(start, stop) chunk index ranges: one per chunk, or about 20 equal time slices if many."""
    n = len(received)
    if n <= TEXT_MAX_ROWS:
        return [(i, i + 1) for i in range(n)]
    ts = received.ts
    first, last = ts[0], ts[-1]
    width = (last - first) / TEXT_BUCKET_ROWS
    rows = []
    start = 0
    for k in range(1, TEXT_BUCKET_ROWS + 1):
        stop = n if k == TEXT_BUCKET_ROWS or width <= 0 else bisect.bisect_left(ts, first + k * width, start)
        if stop > start:
            rows.append((start, stop))
        start = stop
        if start >= n:
            break
    return rows


def _carried(produced: Series, received: Series, start: int, stop: int) -> str:
    """Which produced items ended inside received chunks ``start``..``stop - 1``."""
    low = received.bytes_before(start)
    high = received.ends[stop - 1]
    k0 = 0 if start == 0 else bisect.bisect_right(produced.ends, low)
    k1 = bisect.bisect_right(produced.ends, high)
    if k1 <= k0:
        return "-"
    count = k1 - k0
    parts = sum(produced.parts[k0:k1])
    text = plural(count, "item")
    if parts != count:
        text += f" ({parts:,} parts)"
    return f"{text} at {fmt_range(produced.ts[k0], produced.ts[k1 - 1])}"
