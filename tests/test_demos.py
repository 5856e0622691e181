"""The demo app, served for real on loopback and read with the probe."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import markupsafe
import pytest

from streamkit import probe
from streamkit.demos import DEMOS, app, create_app
from streamkit.server import Server, serve


@pytest.fixture(scope="module")
def server() -> Server:
    with serve(create_app()) as running:
        yield running


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"] or "")


def test_module_level_app_is_a_ready_app() -> None:
    assert app.test_client().get("/").status_code == 200


def test_index_links_every_demo_and_says_what_to_watch(server: Server) -> None:
    trace = server.get("/")
    assert trace.status == 200
    page = trace.body.decode()
    links = Links()
    links.feed(page)
    assert links.hrefs == [demo.path for demo in DEMOS if demo.method == "GET"]
    assert page.count("Watch for:") == len(DEMOS)
    for demo in DEMOS:
        assert str(markupsafe.escape(demo.watch)) in page
    # A POST demo cannot be a link: the page gives its curl line instead
    posts = [demo for demo in DEMOS if demo.method == "POST"]
    assert posts
    for demo in posts:
        assert str(markupsafe.escape(demo.curl)) in page


GETS = [demo for demo in DEMOS if demo.method == "GET"]


@pytest.mark.parametrize("demo", GETS, ids=[d.path for d in GETS])
def test_every_linked_demo_answers_200_and_starts_streaming(server: Server, demo) -> None:
    trace = server.get(demo.path, max_seconds=0.6)
    assert trace.status == 200
    assert trace.chunks, "some body arrives within the first 0.6 s"


def test_csv_rows_and_batches(server: Server) -> None:
    trace = server.get("/csv?rows=2500&batch=1000&delay_ms=30")
    lines = trace.body.decode().splitlines()
    assert lines[0] == "id,name,value"
    assert len(lines) == 2501
    assert lines[1] == "1,item-1,7919" and lines[-1].startswith("2500,item-2500,")
    assert trace.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert [event.size > 0 for event in trace.produced] == [True] * 4  # header + 3 batches
    assert len(trace.chunks) == 4
    assert trace.verdict == "streamed"
    # The same rows every time (notebook outputs stay stable).
    assert server.get("/csv?rows=2500&batch=1000").body == trace.body


def test_csv_inline_is_plain_text(server: Server) -> None:
    trace = server.get("/csv?rows=3&inline=1")
    assert trace.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_template_buffering_groups_five_parts(server: Server) -> None:
    buffered = server.get("/template?rows=8&buffer=5")
    unbuffered = server.get("/template?rows=8&buffer=0")
    assert buffered.body == unbuffered.body.replace(b"unbuffered", b"enable_buffering(5)")
    parts = [event.parts for event in buffered.produced]
    assert all(p == 5 for p in parts[:-1]) and 1 <= parts[-1] <= 5
    nonempty = [event for event in unbuffered.produced if event.size]
    assert sum(parts) == len(nonempty)
    assert len(buffered.chunks) == len(buffered.produced) < len(unbuffered.chunks)
    assert b"<title>Streamed template: enable_buffering(5)</title>" in buffered.body


def test_template_rows_arrive_over_time(server: Server) -> None:
    trace = server.get("/template?rows=5&delay_ms=80&buffer=5")
    assert trace.verdict == "streamed"
    assert trace.ttfb < trace.duration / 2


def test_stream_with_context_finishes(server: Server) -> None:
    trace = server.get("/context/with?rows=3")
    assert trace.verdict == "streamed" or trace.verdict == "single"
    assert trace.server_error is None and trace.error is None
    assert trace.body == b"row,path\n1,/context/with\n2,/context/with\n3,/context/with\n"


def test_without_stream_with_context_breaks_with_the_runtime_error(server: Server) -> None:
    trace = server.get("/context/without?rows=3")
    assert trace.status == 200
    assert trace.verdict == "broken"
    assert isinstance(trace.server_error, RuntimeError)
    assert str(trace.server_error).startswith("Working outside of request context.")
    assert trace.body == b"row,path\n"  # what was sent before the break is kept
    with pytest.raises(RuntimeError, match="Working outside of request context"):
        trace.raise_for_error()


def test_slow_page_rows_arrive_progressively(server: Server) -> None:
    trace = server.get("/slow?rows=4&delay_ms=150")
    body = trace.body.decode()
    assert [int(n) for n in re.findall(r'id="row-(\d+)"', body)] == [1, 2, 3, 4]
    assert 'id="done"' in body
    assert arrival(trace, b'id="row-1"') < arrival(trace, b'id="row-4"') / 2


def arrival(trace, marker: bytes) -> float:
    """When the chunk holding the end of ``marker`` arrived (a marker may span chunks)."""
    end = trace.body.index(marker) + len(marker)
    received = 0
    for chunk in trace.chunks:
        received += chunk.size
        if received >= end:
            return chunk.t
    raise AssertionError(f"{marker!r} never arrived")


def test_missing_name_is_400_before_any_streaming(server: Server) -> None:
    trace = server.get("/greet")
    assert trace.status == 400
    assert trace.verdict != "broken"
    assert trace.headers["Content-Type"].startswith("text/plain")
    assert "name is required" in trace.body.decode()
    assert "Transfer-Encoding" not in trace.headers  # a whole answer, not a stream


def test_name_is_escaped(server: Server) -> None:
    trace = server.get("/greet?name=%3Cscript%3Ealert(1)%3C/script%3E&delay_ms=0")
    assert trace.status == 200
    body = trace.body.decode()
    assert "<script>" not in body
    assert "Hello, &lt;script&gt;alert(1)&lt;/script&gt;!" in body
    assert "Backwards it reads &gt;tpircs/&lt;" in body


@pytest.mark.parametrize(
    "path, words",
    [
        ("/csv?rows=abc", ["rows", "whole number", "'abc'"]),
        ("/csv?rows=-1", ["rows", "from 0"]),
        ("/csv?batch=0", ["batch"]),
        ("/csv?inline=maybe", ["inline"]),
        ("/csv?rows=1000000&delay_ms=1000", ["limit is 120 s"]),
        ("/template?buffer=1", ["buffer must be 0", "at least 2"]),
        ("/template?rows=1&delay_ms=99999", ["delay_ms"]),
        ("/slow?rows=0", ["rows"]),
        ("/greet?name=" + "x" * 81, ["at most 80"]),
        ("/events?count=0", ["count"]),
    ],
)
def test_bad_parameters_get_a_400_naming_them(server: Server, path: str, words: list[str]) -> None:
    trace = server.get(path)
    assert trace.status == 400
    text = trace.body.decode()
    for word in words:
        assert word in text


def test_every_problem_is_listed_at_once(server: Server) -> None:
    text = server.get("/csv?rows=x&batch=y&delay_ms=z").body.decode()
    assert text.count("\n- ") == 3


def test_server_sent_events(server: Server) -> None:
    trace = server.get("/events?count=3&delay_ms=60")
    assert trace.headers["Content-Type"].startswith("text/event-stream")
    events = trace.body.decode().split("\n\n")[:-1]
    assert [e.splitlines()[0] for e in events] == ["id: 1", "id: 2", "id: 3"]
    assert len(trace.chunks) == 3 and trace.verdict == "streamed"


def test_demo_works_through_a_plain_probe(server: Server) -> None:
    trace = probe(server.url + "/context/with?rows=2")
    assert trace.status == 200 and trace.produced is None
