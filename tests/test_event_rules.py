"""The event-stream rules (streamkit/rules/events.py): hand-made traces pin each shape and its
edges; real servers on loopback show the same findings from measured streams, and a clean
event stream (the demo's chat completions) is never blamed."""

from __future__ import annotations

import re
import time

import pytest

from streamkit import App, Response, serve
from streamkit.demos import create_app
from streamkit.demos.chat import tokens
from streamkit.diagnosis import WARNING_CODES, diagnose
from streamkit.events import CommentRecord, EventRecord
from streamkit.trace import Chunk, Event, Trace
from tests.conftest import needs_nginx

EVENT_CODES = {"events-glued", "first-content-late", "event-unterminated", "event-stream-type"}
SIZE = len(b"data: tok000\n\n")


def sse_trace(groups, made=None, written=None, content_type="text/event-stream") -> Trace:
    """A trace of ``groups``: (time, events) per socket read, each event one token."""
    trace = Trace(url="http://x/", status=200, headers_at=0.001)
    trace.headers["Content-Type"] = content_type
    trace.headers["Cache-Control"] = "no-cache"
    trace.headers["Transfer-Encoding"] = "chunked"
    trace.event_framing = "sse" if content_type == "text/event-stream" else None
    n = 0
    for read, (when, count) in enumerate(groups):
        data = b"".join(b"data: tok%03d\n\n" % (n + i) for i in range(count))
        trace.chunks.append(Chunk(when, len(data), data, len(data), read))
        if trace.event_framing:
            for i in range(count):
                text = f"tok{n + i:03d}"
                trace.events.append(EventRecord(when, "message", "", text, text, read, read))
        n += count
    trace.duration = groups[-1][0] + 0.001
    trace.ttfb = groups[0][0]
    if made is not None:
        trace.produced = [Event(t, SIZE) for t in made]
    if written is not None:
        trace.written = [Event(t, SIZE) for t in written]
    return trace


MADE = [i * 0.15 for i in range(8)]
APART = [(t + 0.001, 1) for t in MADE]
PAIRED = [(0.001, 1), (0.151, 1), (0.451, 2), (0.751, 2), (1.051, 2)]


def test_every_event_finding_is_a_warning() -> None:
    assert EVENT_CODES <= WARNING_CODES


def test_a_clean_event_stream_gets_no_event_finding() -> None:
    found = diagnose(sse_trace(APART, MADE, MADE))
    assert found.streams and found.culprit is None
    assert found.codes == []


def test_events_glued_after_the_socket_name_a_proxy() -> None:
    found = diagnose(sse_trace(PAIRED, MADE, MADE))
    assert found.streams  # a warning: it streams, in bursts
    glued = next(f for f in found.findings if f.code == "events-glued")
    assert glued.culprit == "proxy" and glued.warning
    assert "6 of 8 events reached the client in 3 socket reads, each completing several" in glued.evidence[0]
    assert re.search(r"2 events made from .* arrived together at ", glued.evidence[1])
    assert "after the socket" in glued.evidence[2]
    assert "proxy_buffering off" in glued.fix


def test_events_glued_before_the_socket_name_the_middleware() -> None:
    written = [0.0, 0.15, 0.45, 0.45, 0.75, 0.75, 1.05, 1.05]  # the server wrote the pairs together
    glued = next(f for f in diagnose(sse_trace(PAIRED, MADE, written)).findings if f.code == "events-glued")
    assert glued.culprit == "middleware"
    assert "between the app and the socket" in glued.evidence[2]


def test_events_the_app_made_together_are_not_glued() -> None:
    made = [0.0, 0.15, 0.45, 0.45, 0.75, 0.75, 1.05, 1.05]  # the app yields pairs together
    assert "events-glued" not in diagnose(sse_trace(PAIRED, made, made)).codes


def test_glued_events_without_the_server_side_are_not_blamed() -> None:
    assert "events-glued" not in diagnose(sse_trace(PAIRED)).codes


def test_first_content_late_behind_a_role_event_and_keep_alives() -> None:
    trace = sse_trace([(0.01, 1), (0.9, 1), (1.0, 1)], [0.0, 0.9, 1.0])
    trace.events[0].content = None  # a role-only delta
    trace.comments = [CommentRecord(0.3, " keep-alive", 0, 0), CommentRecord(0.6, " keep-alive", 0, 0)]
    found = diagnose(trace)
    assert found.streams and found.culprit is None
    late = next(f for f in found.findings if f.code == "first-content-late")
    assert late.culprit == "app" and late.warning
    assert "first byte came at 10 ms, the first content at 900 ms" in late.evidence[0]
    assert "1 event without content and 2 comments" in late.evidence[0]
    assert "made the first content at 900 ms" in late.evidence[1]


def test_first_content_late_without_anything_before_it_is_not_told() -> None:
    trace = sse_trace([(0.9, 1), (1.0, 1)])  # the first byte was the first token: just late
    assert "first-content-late" not in diagnose(trace).codes
    early = sse_trace([(0.01, 1), (0.05, 1), (0.1, 1)])
    early.events[0].content = None
    assert "first-content-late" not in diagnose(early).codes


def test_an_unterminated_last_event_blames_the_app() -> None:
    trace = sse_trace(APART, MADE, MADE)
    trace.unterminated = EventRecord(1.1, "message", "", "last", "last", 7, 7)
    found = next(f for f in diagnose(trace).findings if f.code == "event-unterminated")
    assert found.culprit == "app" and "'last'" in found.evidence[0]
    trace.error = "IncompleteRead: the body broke"  # a cut body is another rule's
    assert "event-unterminated" not in diagnose(trace).codes


def test_server_sent_events_as_text_plain_or_with_a_length_are_the_wrong_type() -> None:
    plain = sse_trace(APART, content_type="text/plain; charset=utf-8")
    wrong = next(f for f in diagnose(plain).findings if f.code == "event-stream-type")
    assert wrong.culprit == "app" and "text/plain; charset=utf-8 on a body of server-sent events" in wrong.evidence[0]
    sized = sse_trace(APART)
    sized.headers["Content-Length"] = str(SIZE * 8)
    told = next(f for f in diagnose(sized).findings if f.code == "event-stream-type")
    assert "Content-Length: 112 on an event stream" in told.evidence[0]
    assert told.culprit is None  # from the client alone, who set it is not known
    sized.produced = [Event(0.0, SIZE * 8)]  # the app made it all in one item
    assert next(f for f in diagnose(sized).findings if f.code == "event-stream-type").culprit == "app"
    prose = sse_trace(APART, content_type="text/plain")
    for chunk in prose.chunks:
        chunk.data = b"just some text\n"
    assert "event-stream-type" not in diagnose(prose).codes


# -- real servers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    with serve(create_app()) as running:
        yield running


def chat(**options):
    return {"messages": [{"role": "user", "content": "Hi"}], "stream": True, "max_tokens": 8, **options}


def test_the_demo_stream_is_clean_and_its_late_first_token_is_told(demo) -> None:
    trace = demo.post("/v1/chat/completions", json=chat(first_token_ms=700, tokens_per_second=20, keepalive_ms=200))
    found = diagnose(trace)
    assert found.streams and found.culprit is None
    assert found.codes == ["first-content-late"], str(found)
    late = found.findings[0]
    assert late.culprit == "app" and "3 comments" in late.evidence[0]
    assert trace.first_content is not None and trace.ttfb is not None
    assert trace.first_content - trace.ttfb > 0.5


def test_the_demo_stream_without_thinking_gets_nothing(demo) -> None:
    trace = demo.post("/v1/chat/completions", json=chat(first_token_ms=0, tokens_per_second=20))
    found = diagnose(trace)
    assert found.streams and found.codes == [], str(found)


class Pairs:
    """A WSGI middleware that writes the app's items two at a time: events glued on purpose."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        body = self.app(environ, start_response)
        try:
            held = []
            for item in body:
                held.append(item)
                if len(held) == 2:
                    yield b"".join(held)
                    held = []
            if held:
                yield b"".join(held)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()


def event_app(tail: str = "\n\n", mimetype: str = "text/event-stream") -> App:
    app = App(__name__)

    @app.route("/")
    def events():
        def generate():
            for n in range(6):
                if n:
                    time.sleep(0.12)
                yield f"data: token {n}" + (tail if n == 5 else "\n\n")

        response = Response(generate(), mimetype=mimetype)
        response.headers["Cache-Control"] = "no-cache"
        return response

    return app


def test_a_middleware_that_pairs_writes_glues_events_and_is_named() -> None:
    app = event_app()
    app.wsgi_app = Pairs(app.wsgi_app)
    with serve(app) as server:
        trace = server.get("/")
    assert [event.data for event in trace.events] == [f"token {n}" for n in range(6)]
    found = diagnose(trace)
    glued = next(f for f in found.findings if f.code == "events-glued")
    assert glued.culprit == "middleware", str(found)
    assert "between the app and the socket" in " ".join(glued.evidence)


def test_an_app_that_forgets_the_last_blank_line_is_told() -> None:
    with serve(event_app(tail="\n")) as server:
        trace = server.get("/")
    assert len(trace.events) == 5 and trace.unterminated is not None
    found = diagnose(trace)
    assert found.streams and "event-unterminated" in found.codes, str(found)


def test_events_served_as_text_plain_are_told() -> None:
    with serve(event_app(mimetype="text/plain")) as server:
        trace = server.get("/")
    found = diagnose(trace)
    assert "event-stream-type" in found.codes, str(found)
    assert next(f for f in found.findings if f.code == "event-stream-type").culprit == "app"


@needs_nginx
def test_nginx_defaults_glue_the_demo_reply_into_one_read_and_are_named() -> None:
    with serve(create_app(), behind="nginx") as server:
        trace = server.post("/v1/chat/completions", json=chat(first_token_ms=0, tokens_per_second=20))
    found = diagnose(trace)
    assert not found.streams and found.culprit == "proxy", str(found)
    glued = next(f for f in found.findings if f.code == "events-glued")
    assert glued.culprit == "proxy" and "nginx" in glued.summary
    assert f"{len(trace.events)} of {len(trace.events)} events" in glued.evidence[0]
    assert trace.content == "".join(tokens()[:8])


def test_a_collecting_gzip_middleware_is_not_blamed_on_the_app_for_its_content_length() -> None:
    from streamkit import NaiveGzipMiddleware

    app = event_app()
    app.wsgi_app = NaiveGzipMiddleware(app.wsgi_app)
    with serve(app) as server:
        trace = server.get("/")
    found = diagnose(trace)
    assert found.culprit == "compression", str(found)
    assert "event-stream-type" not in found.codes
    assert next(f for f in found.findings if f.code == "events-glued").culprit == "compression"


@needs_nginx
def test_doctor_with_hops_names_the_proxy_that_glued_the_events() -> None:
    from streamkit import doctor

    with serve(create_app(), behind="nginx") as server:
        found = doctor(
            server.url + "/v1/chat/completions",
            json=chat(first_token_ms=0, tokens_per_second=20),
            upstream=[server.backend.url + "/v1/chat/completions"],
        )
    glued = next(f for f in found.findings if f.code == "events-glued")
    assert glued.culprit == "proxy" and "nginx" in glued.summary, str(found)
    assert "the hop behind it" in glued.evidence[1]
