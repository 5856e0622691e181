"""Request bodies and events through the probe, against real servers on loopback.

The app below echoes the request it got and streams OpenAI-style events, JSON lines or plain
text; the probe must send the body as given and split what comes back into the same events
whether the reader worker or this process reads the socket.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from streamkit import App, Response, probe, request
from streamkit.server import Server, serve

app = App(__name__)


@app.route("/echo", methods=["GET", "POST", "PUT", "DELETE"])
def echo() -> Response:
    body = request.get_data()
    answer = {
        "method": request.method,
        "body": body.decode("utf-8", "replace"),
        "type": request.headers.get("Content-Type"),
        "length": request.headers.get("Content-Length"),
        "accept": request.headers.get("Accept"),
    }
    return Response(json.dumps(answer), mimetype="application/json")


@app.route("/chat", methods=["POST"])
def chat() -> Response:
    words = request.get_json()["words"]
    gap = float(request.args.get("gap", "0.02"))

    def generate() -> Iterator[str]:
        yield ": ping\n\n"
        yield 'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
        for word in words:
            time.sleep(gap)
            yield "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": word}}]}) + "\n\n"
        yield "data: [DONE]\n\n"

    return Response(generate(), mimetype="text/event-stream")


@app.route("/glued")
def glued() -> Response:
    def generate() -> Iterator[str]:
        yield "".join(f"data: {n}\n\n" for n in range(5))
        time.sleep(0.05)
        yield "data: last\n"  # no blank line: never dispatched

    return Response(generate(), mimetype="text/event-stream")


@app.route("/ndjson")
def ndjson() -> Response:
    def generate() -> Iterator[str]:
        for word in ["a", "b", "c"]:
            time.sleep(0.01)
            yield json.dumps({"message": {"role": "assistant", "content": word}, "done": False}) + "\n"
        yield json.dumps({"message": {"role": "assistant", "content": ""}, "done": True}) + "\n"

    return Response(generate(), mimetype="application/x-ndjson")


@app.route("/plain")
def plain() -> Response:
    return Response(iter(["data: one\n\n", "data: two\n\n"]), mimetype="text/plain")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = serve(app)
    yield running
    running.stop()


@pytest.fixture(params=["worker", "inprocess"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("STREAMKIT_READER", request.param)
    return str(request.param)


def echoed(trace) -> dict:
    return json.loads(trace.body)


# -- request bodies ------------------------------------------------------------------------------


def test_json_body_is_posted_with_its_content_type(server: Server) -> None:
    trace = probe(server.url + "/echo", json={"q": "café", "n": [1, 2]})
    got = echoed(trace)
    assert trace.method == "POST" and got["method"] == "POST"
    assert json.loads(got["body"]) == {"q": "café", "n": [1, 2]}
    assert got["type"] == "application/json"
    assert got["length"] == str(len(got["body"].encode()))


def test_data_as_text_or_bytes_and_a_method_of_ones_own(server: Server) -> None:
    got = echoed(probe(server.url + "/echo", data="a=1&b=é"))
    assert (got["method"], got["body"], got["type"]) == ("POST", "a=1&b=é", None)
    got = echoed(probe(server.url + "/echo", method="put", data=b"\x00raw", headers={"Content-Type": "x/y"}))
    assert (got["method"], got["body"], got["type"]) == ("PUT", "\x00raw", "x/y")
    got = echoed(probe(server.url + "/echo", json=[1], headers={"content-type": "application/vnd.x+json"}))
    assert got["type"] == "application/vnd.x+json"
    assert echoed(probe(server.url + "/echo"))["method"] == "GET"


def test_server_get_and_post_send_the_body_and_keep_the_server_side(server: Server) -> None:
    trace = server.post("/echo", json={"a": 1})
    assert echoed(trace)["method"] == "POST" and json.loads(echoed(trace)["body"]) == {"a": 1}
    assert trace.written
    assert echoed(server.get("/echo", data="x"))["method"] == "POST"
    assert echoed(server.get("/echo", method="DELETE"))["method"] == "DELETE"
    assert echoed(server.post("/echo"))["method"] == "POST"


def test_bad_bodies_are_clear_errors_before_any_request(server: Server) -> None:
    with pytest.raises(ValueError, match="not both"):
        probe(server.url + "/echo", data="a", json={"b": 1})
    with pytest.raises(TypeError, match="JSON-able"):
        probe(server.url + "/echo", json={"s": {1, 2}})
    with pytest.raises(TypeError, match="bytes or str"):
        probe(server.url + "/echo", data=123)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="events must be"):
        probe(server.url + "/echo", events="xml")


# -- events --------------------------------------------------------------------------------------


def test_openai_style_stream_gives_events_and_first_content(server: Server, reader: str) -> None:
    trace = probe(server.url + "/chat", json={"words": ["Hel", "lo", "!"]}, keep_body=False)
    assert trace.event_framing == "sse"
    assert [e.content for e in trace.events] == [None, "Hel", "lo", "!", None]
    assert [c.text for c in trace.comments] == [" ping"]
    assert trace.content == "Hello!"
    first = trace.first_content
    assert first is not None and trace.events[1].t == first
    assert trace.ttfb is not None and trace.ttfb <= trace.first_event <= first  # type: ignore[operator]
    times = [e.t for e in trace.events]
    assert times == sorted(times)
    for event in trace.events:  # each event's chunk had arrived by the event's time
        assert trace.chunks[event.chunk].t == event.t
    figures = trace.event_figures
    assert figures is not None and figures.content_events == 3 and figures.comments == 1
    assert figures.gap_median is not None and figures.gap_median > 0.005  # 20 ms apart when written
    assert "5 events (3 with content)" in trace.summary()
    assert "first content at" in trace.explain()


def test_a_follower_sees_each_event_as_its_chunk_arrives(server: Server, reader: str) -> None:
    # on_chunk (a live view, the CLI's rows) gets the events of every read at once, whether the
    # reader worker or this process reads: not only when the body has ended.
    from streamkit.probe import read_response

    seen: list[list[str | None]] = []
    trace = read_response(
        server.url + "/chat?gap=0.1",
        json={"words": ["Hel", "lo", "!"]},
        on_chunk=lambda trace: seen.append([event.content for event in trace.events]),
    )
    assert trace.content == "Hello!"
    assert [None, "Hel"] in seen and [None, "Hel", "lo"] in seen  # each token on its own


def test_glued_events_share_a_chunk_and_an_unterminated_one_is_kept_apart(
    server: Server, reader: str
) -> None:
    trace = server.get("/glued")
    assert [e.data for e in trace.events] == ["0", "1", "2", "3", "4"]
    assert len({e.chunk for e in trace.events}) == 1
    assert trace.unterminated is not None and trace.unterminated.data == "last"
    figures = trace.event_figures
    assert figures is not None and figures.per_chunk_max == 5
    assert "up to 5 events came in one chunk" in trace.explain()
    assert "never dispatches" in trace.explain()


def test_json_lines_from_the_content_type(server: Server, reader: str) -> None:
    trace = probe(server.url + "/ndjson", keep_body=False)
    assert trace.event_framing == "jsonl"
    assert [e.content for e in trace.events] == ["a", "b", "c", None]


def test_framing_by_option_overrides_or_turns_off_the_content_type(server: Server) -> None:
    assert probe(server.url + "/plain").event_framing is None
    trace = probe(server.url + "/plain", events="sse")
    assert [e.data for e in trace.events] == ["one", "two"]
    off = probe(server.url + "/chat", json={"words": ["a"]}, events=None)
    assert off.event_framing is None and off.events == [] and off.event_figures is None
    assert off.first_content is None


def test_a_user_path_names_the_content(server: Server) -> None:
    trace = probe(server.url + "/chat?gap=0", json={"words": ["a"]}, content="choices.0.delta.role")
    assert [e.content for e in trace.events] == ["assistant", None, None]


def test_the_text_timeline_counts_events_per_row_and_says_the_figures(server: Server) -> None:
    trace = server.get("/glued")
    text = trace.to_text()
    lines = text.splitlines()
    columns = lines[1].index("events") + len("events")
    first = next(line for line in lines if line.split()[:1] == ["1"])
    assert first[columns - 6 : columns].strip() == "5", text  # five events completed by chunk 1
    assert "events: 5 server-sent events (5 with content)" in text
    assert "events per chunk: up to 5" in text
    assert "unterminated: the body ended inside an event" in text
    tail = trace.to_text(rows=False)
    assert tail.startswith("verdict:") and "events: 5 server-sent events" in tail
    plain = probe(server.url + "/plain")
    assert "events" not in plain.to_text()


@app.route("/fixed")
def fixed() -> Response:
    return Response("data: a\n\n: ping\n\ndata: b\n\n", mimetype="text/event-stream")


def test_a_content_length_event_stream_is_split_too(server: Server, reader: str) -> None:
    trace = probe(server.url + "/fixed", keep_body=False)
    assert "Content-Length" in trace.headers
    assert [e.content for e in trace.events] == ["a", "b"] and len(trace.comments) == 1


def test_events_of_a_gzipped_stream_come_from_the_decoded_bytes(reader: str) -> None:
    from streamkit import GzipMiddleware

    with serve(GzipMiddleware(app)) as zipped:
        trace = probe(zipped.url + "/chat", json={"words": ["x", "y"]}, keep_body=False)
    assert trace.headers.get("Content-Encoding") == "gzip"
    assert trace.content == "xy" and trace.wire_size != trace.size
