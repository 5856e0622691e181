"""Events in the pictures: the client lane marks each event (filled with content, hollow for a
control event), a read that completed several events says so ("3 events"), the first content is
marked like the headers; the text timeline says the same; a live view redraws sooner for a new
event."""

from __future__ import annotations

import re
import time

import markupsafe

from streamkit import display, serve
from streamkit.demos import chat, create_app
from streamkit.events import CommentRecord, EventRecord
from streamkit.trace import Chunk, Trace


def token_trace() -> Trace:
    """A role-only event, a keep-alive, then tokens: one alone, three glued in one read, one more."""
    trace = Trace(url="http://x/v1/chat/completions", method="POST", status=200, headers_at=0.001)
    trace.headers["Content-Type"] = "text/event-stream"
    trace.event_framing = "sse"
    reads = [(0.01, [None]), (0.2, []), (0.4, ["Hel"]), (0.7, ["lo", ",", " you"]), (0.8, ["!"])]
    for read, (t, contents) in enumerate(reads):
        size = 20 * max(1, len(contents))
        trace.chunks.append(Chunk(t, size, None, size, read))
        for text in contents:
            trace.events.append(EventRecord(t, "message", "", text or "{}", text, read, read))
    trace.comments = [CommentRecord(0.2, " keep-alive", 1, 1)]
    trace.ttfb = 0.01
    trace.duration = 0.81
    return trace


def test_the_svg_marks_each_event_the_glued_read_and_the_first_content() -> None:
    svg = token_trace().to_svg()
    assert svg.count('<circle class="event"') == 5  # the tokens, filled
    assert svg.count('<circle class="event control"') == 1  # the role-only event, hollow
    assert ">3 events</text>" in svg  # the glued read says so
    assert "one of 3 events in one read" in svg
    assert 'class="first-content-marker"' in svg and "first content 400.0 ms" in svg
    assert "event (filled: with content; hollow: control)" in svg
    assert "5 chunks \u00b7 6 events" in svg
    assert svg.count('<line class="comment"') == 1 and "comment (keep-alive)" in svg
    assert str(markupsafe.escape("comment 'keep-alive' at 200.0 ms (not an event)")) in svg
    # the first-content line is right of the headers line
    headers_x = float(re.search(r'class="headers-marker">\s*<line x1="([\d.]+)"', svg).group(1))
    content_x = float(re.search(r'class="first-content-marker">\s*<line x1="([\d.]+)"', svg).group(1))
    assert content_x > headers_x


def test_a_plain_stream_has_no_event_marks() -> None:
    trace = token_trace()
    trace.event_framing = None
    trace.events = []
    svg = trace.to_svg()
    assert "<circle" not in svg and "first-content-marker" not in svg and "events</text>" not in svg


def test_the_text_timeline_says_the_same() -> None:
    text = token_trace().to_text()
    rows = text.splitlines()
    glued = next(row for row in rows if row.strip().startswith("4 "))  # the fourth read
    assert glued.split()[-1] == "3"  # its events column: three events in one chunk
    marker = next(i for i, row in enumerate(rows) if "first content (time to first token)" in row)
    assert "400.0 ms" in rows[marker] and rows[marker - 1].strip().startswith("3 ")
    assert rows.index(next(r for r in rows if "headers arrived" in r)) < marker


def test_the_demo_reply_drawn_from_a_real_stream() -> None:
    body = {"messages": [{"role": "user", "content": "Hi"}], "stream": True, "max_tokens": 6}
    with serve(create_app()) as server:
        trace = server.post(chat.PATH, json={**body, "first_token_ms": 300, "tokens_per_second": 30})
    svg = trace.to_svg()
    assert svg.count("<circle class=\"event") == len(trace.events) == 9  # role, 6 tokens, finish, [DONE]
    assert svg.count('<circle class="event control"') == 3
    assert "first content" in svg and "first content (time to first token)" in trace.to_text()


class Counting(display.LiveView):
    """A live view that counts its redraws instead of showing them (no notebook here)."""

    def __init__(self) -> None:
        super().__init__(enabled=True, per_second=10)
        self.drawn: list[int] = []

    def _draw(self, trace: Trace, live: bool) -> None:
        self._events = len(trace.events)
        self._last = time.monotonic()
        self.drawn.append(len(trace.events))


def test_a_live_view_redraws_sooner_for_a_new_event() -> None:
    view = Counting()
    trace = token_trace()
    events = trace.events
    trace.events = events[:1]
    assert view.update(trace)  # the first picture
    assert not view.update(trace)  # nothing new, too soon
    trace.events = events[:2]
    time.sleep(0.05)  # a third of the chunk interval has passed: enough for a new event
    assert view.update(trace)
    time.sleep(0.05)
    assert not view.update(trace)  # no new event: it waits the full interval
    assert view.drawn == [1, 2]
