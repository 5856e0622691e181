"""The two gzip middlewares of :mod:`streamkit.compression`, measured with the probe.

:class:`~streamkit.compression.GzipMiddleware` flushes the compressor after every item, so a
stream stays a stream; :class:`~streamkit.compression.NaiveGzipMiddleware` compresses the body
in one go, as many real middlewares do. Both run on the kit's werkzeug server on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import time

import pytest

from streamkit import serve
from streamkit.compression import GzipMiddleware, NaiveGzipMiddleware
from tests.conftest import PARTS, SLOW, app, assert_held_back, assert_streamed, pieces


def test_streaming_gzip_sends_each_part_compressed_at_once():
    with serve(GzipMiddleware(app)) as server:
        trace = server.get(SLOW)
    assert trace.headers.get("Content-Encoding") == "gzip"
    assert trace.headers.get("Vary") == "Accept-Encoding"
    assert "Content-Length" not in trace.headers
    assert_streamed(trace)
    assert trace.wire_size < trace.size
    assert trace.body.count(b"part ") == PARTS


def test_naive_gzip_sends_one_piece_at_the_end():
    with serve(NaiveGzipMiddleware(app)) as server:
        trace = server.get(SLOW)
    assert trace.headers.get("Content-Encoding") == "gzip"
    assert int(trace.headers["Content-Length"]) == trace.wire_size
    assert trace.wire_size < trace.size
    got = pieces(trace)
    assert len(got) == 1
    assert got[0].t >= trace.produced[-1].t  # nothing left before the last part was made
    assert_held_back(trace)
    assert trace.verdict == "buffered"


@pytest.mark.parametrize("middleware", [GzipMiddleware, NaiveGzipMiddleware])
def test_gzip_honours_accept_encoding(middleware):
    with serve(middleware(app)) as server:
        plain = server.get(SLOW, headers={"Accept-Encoding": "identity"})
        refused = server.get(SLOW, headers={"Accept-Encoding": "gzip;q=0, deflate"})
    for trace in (plain, refused):
        assert "Content-Encoding" not in trace.headers
        assert trace.headers.get("Vary") == "Accept-Encoding"  # the answer depends on it
        assert trace.wire_size == trace.size
        assert_streamed(trace)  # left alone, so the stream streams, even through the naive one


class CountingBody:
    """A response body that notes how often it is closed."""

    def __init__(self, items: list[bytes]) -> None:
        self.items = items
        self.closed = 0

    def __iter__(self):
        for item in self.items:
            time.sleep(0.05)
            yield item

    def close(self) -> None:
        self.closed += 1


def body_app(content_type: str, items: list[bytes], bodies: list, extra=()):
    def wsgi(environ, start_response):
        start_response("200 OK", [("Content-Type", content_type), *extra])
        body = CountingBody(items)
        bodies.append(body)
        return body

    return wsgi


def wait_closed(bodies: list) -> None:
    deadline = time.monotonic() + 2
    while not (bodies and bodies[-1].closed) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # room for a second, wrong close


@pytest.mark.parametrize("middleware", [GzipMiddleware, NaiveGzipMiddleware])
def test_gzip_leaves_binary_and_encoded_responses_alone_and_closes_once(middleware):
    bodies: list[CountingBody] = []
    png = [b"\x89PNG\r\n\x1a\n", b"\x00" * 100, b"\x01" * 100]
    with serve(middleware(body_app("image/png", png, bodies))) as server:
        image = server.get("/")
    wait_closed(bodies)
    assert "Content-Encoding" not in image.headers and "Vary" not in image.headers
    assert image.body == b"".join(png)
    assert len(pieces(image)) == 3  # passed through item by item
    assert [body.closed for body in bodies] == [1]

    bodies.clear()
    already = [gzip.compress(b"compressed by the app itself\n" * 20)]
    encoded = body_app("text/plain", already, bodies, extra=[("Content-Encoding", "gzip")])
    with serve(middleware(encoded)) as server:
        trace = server.get("/")
    wait_closed(bodies)
    assert trace.headers.get("Content-Encoding") == "gzip"
    assert trace.body == b"compressed by the app itself\n" * 20  # decoded once: not twice
    assert [body.closed for body in bodies] == [1]

    bodies.clear()
    text = [b"one\n", b"two\n", b"three\n"]
    with serve(middleware(body_app("text/plain; charset=utf-8", text, bodies))) as server:
        trace = server.get("/")
    wait_closed(bodies)
    assert trace.headers.get("Content-Encoding") == "gzip"
    assert trace.body == b"one\ntwo\nthree\n"
    assert [body.closed for body in bodies] == [1]


def test_streaming_gzip_closes_the_app_body_when_the_client_leaves():
    bodies: list[CountingBody] = []
    endless = body_app("text/plain", [b"tick\n"] * 200, bodies)  # about 10 s
    with serve(GzipMiddleware(endless)) as server:
        trace = server.get("/", max_seconds=0.3)
        assert trace.stopped
        wait_closed(bodies)
        assert [body.closed for body in bodies] == [1]


def test_gzip_level_is_checked():
    with pytest.raises(ValueError, match="0..9"):
        GzipMiddleware(app, level=11)
    with pytest.raises(ValueError, match="0..9"):
        NaiveGzipMiddleware(app, level=-1)
