"""The timeline as fixed-width text, for a terminal: ``Trace.to_text()``.

One row per received chunk (or, for long streams, per time slice of about a twentieth of the
stream), then the verdict, the times and the totals, and any error. The last column says which
of the app's items each chunk carried: that is where buffering shows in text, as many items
produced over a long time arriving in one chunk.

Layer: pictures.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from .lanes import Series, fmt_ms, fmt_range, status_line
from .trace import error_text, plural, request_line, shown_after

if TYPE_CHECKING:
    from .trace import Trace

TEXT_BUCKET_ROWS = 20  # long streams are shown in about this many rows
TEXT_MAX_ROWS = 40  # up to this many chunks, one row each


def to_text(trace: Trace, *, width: int = 24) -> str:
    """A fixed-width timeline for a terminal: one row per chunk (or time slice), then totals.

    Each row says when a piece arrived, how big it was (a bar of at most ``width``
    characters) and which of the app's items it carried: that last column is where
    buffering shows in text ("5 items at 2.0-402 ms" arriving in one chunk).
    """
    received = Series(trace.chunks)
    produced = Series(trace.produced)
    written = Series(trace.written)
    verdict = trace.verdict
    headers_at = trace.headers_at

    lines = [f"{request_line(trace.url, trace.method)} -> {status_line(trace)}"]
    head = f"{'chunk':>13}  {'arrived':>19}  {'bytes':>9}  {'':<{width}}"
    if len(produced):
        head += "  app produced"
    lines.append(head.rstrip())
    if headers_at is not None:
        lines.append(f"{'':>13}  {fmt_ms(float(headers_at)):>19}  headers arrived")
    if not len(received):
        lines.append(f"{'':>13}  {'':>19}  (no body received)")
    else:
        rows = _text_rows(received)
        biggest = max(received.ends[stop - 1] - received.bytes_before(start) for start, stop in rows)
        per_chunk: dict[int, int] = {}
        for event in trace.events:
            per_chunk[event.chunk] = per_chunk.get(event.chunk, 0) + 1
        comments: dict[int, int] = {}
        for comment in trace.comments:
            comments[comment.chunk] = comments.get(comment.chunk, 0) + 1
        first_content = trace.first_content
        for start, stop in rows:
            size = received.ends[stop - 1] - received.bytes_before(start)
            name = str(start + 1) if stop - start == 1 else f"{start + 1}-{stop}"
            t0, t1 = received.ts[start], received.ts[stop - 1]
            when = fmt_range(t0, t1)
            bar = "\u2588" * max(1, round(size / biggest * width)) if size and biggest else "\u00b7"
            line = f"{name:>13}  {when:>19}  {size:>9,}  {bar:<{width}}"
            if len(produced):
                line += "  " + _carried(produced, received, start, stop)
            if trace.event_framing is not None:
                count = sum(per_chunk.get(k, 0) for k in range(start, stop))
                said = []
                if count:
                    said.append(
                        plural(count, "event") + (" in one chunk" if count > 1 and stop - start == 1 else "")
                    )
                quiet = sum(comments.get(k, 0) for k in range(start, stop))
                if quiet:
                    said.append(plural(quiet, "comment"))
                if said:
                    line += f"  [{', '.join(said)}]"
            lines.append(line.rstrip())
            if first_content is not None and t0 - 1e-9 <= first_content <= t1 + 1e-9:
                lines.append(f"{'':>13}  {fmt_ms(first_content):>19}  first content (time to first token)")

    if trace.browser_shown:
        lines += _shown_rows(trace, received, width)

    lines.append("")
    meaning = trace.explain(verdict)
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
    if trace.event_framing is not None:
        lines.append(_events_line(trace))
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
    if trace.stopped:
        lines.append("stopped: max_seconds reached while the stream was still going")
    if trace.note:
        lines.append(f"note: {trace.note.strip().splitlines()[0]}")
    return "\n".join(lines)


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


def _events_line(trace: Trace) -> str:
    """The events in one line: how many, how many with content, the comments, the first
    content against the first byte, and the most events one chunk completed."""
    with_content = sum(1 for event in trace.events if event.content)
    line = f"events: {len(trace.events):,} ({with_content:,} with content"
    if trace.comments:
        line += f", and {plural(len(trace.comments), 'comment')}"
    line += ")"
    if trace.first_content is not None:
        first_byte = fmt_ms(trace.ttfb) if trace.ttfb is not None else "-"
        line += f"; first content {fmt_ms(trace.first_content)} (first byte {first_byte})"
    per_chunk: dict[int, int] = {}
    for event in trace.events:
        per_chunk[event.chunk] = per_chunk.get(event.chunk, 0) + 1
    most = max(per_chunk.values(), default=0)
    if most > 1:
        line += f"; up to {most:,} events in one chunk"
    if trace.unterminated is not None:
        line += "; the body ended inside an event"
    return line
