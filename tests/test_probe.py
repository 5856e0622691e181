"""probe(): chunk-by-chunk reading, decoding, and clear errors, against real loopback sockets.

Well-formed responses come from streamkit.serve(); malformed ones from a tiny socket server in
this file that sends exactly the bytes a test gives it (fuzzed with hypothesis).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamkit.cli import main
from streamkit.probe import ProbeError, probe
from streamkit.server import serve

CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"


class RawServer:
    """Accepts one connection at a time, reads the request head, then runs ``script(conn)``."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.script: Callable[[socket.socket], None] = lambda conn: None
        self.requests: list[bytes] = []
        self.release = threading.Event()  # scripts that hold a connection open wait on this
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    data = conn.recv(65536)
                    if not data:
                        break
                    head += data
                self.requests.append(head)
                try:
                    self.script(conn)
                except OSError:
                    pass

    def close(self) -> None:
        self.release.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(2)


@pytest.fixture(scope="module")
def raw() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _fresh_release(raw: RawServer) -> Iterator[None]:
    raw.release.clear()
    yield
    raw.release.set()


def sends(*pieces: bytes | float) -> Callable[[socket.socket], None]:
    """A script: send each bytes piece; a float sleeps that many seconds."""

    def script(conn: socket.socket) -> None:
        for piece in pieces:
            if isinstance(piece, float):
                time.sleep(piece)
            else:
                conn.sendall(piece)

    return script


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


# -- reading as data arrives ------------------------------------------------------------------


def test_chunked_body_gives_one_record_per_http_chunk(raw: RawServer) -> None:
    raw.script = sends(CHUNKED_HEAD, b"5\r\nhello\r\n", 0.05, b"1;ext=1\r\n \r\n", 0.05, b"6\r\nworld!\r\n0\r\n\r\n")
    trace = probe(raw.url + "/x")
    assert [c.data for c in trace.chunks] == [b"hello", b" ", b"world!"]
    assert trace.body == b"hello world!"
    assert trace.error is None and trace.status == 200
    assert trace.headers["content-type"] == "text/plain"
    times = [c.t for c in trace.chunks]
    assert times == sorted(times)
    assert trace.headers_at <= trace.ttfb == times[0] <= trace.duration


def test_ttfb_is_the_first_chunk_whatever_the_chunk_sizes(raw: RawServer) -> None:
    big = b"y" * 10_000
    raw.script = sends(CHUNKED_HEAD, b"1\r\na\r\n", 0.1, b"%x\r\n%s\r\n0\r\n\r\n" % (len(big), big))
    trace = probe(raw.url)
    assert [c.size for c in trace.chunks] == [1, 10_000]
    assert trace.ttfb == trace.chunks[0].t < trace.chunks[1].t


def test_content_length_body_is_recorded_per_read_as_it_arrives(raw: RawServer) -> None:
    sent_last: list[float] = []
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n"

    def script(conn: socket.socket) -> None:
        conn.sendall(head + b"a" * 10)
        time.sleep(0.15)
        conn.sendall(b"b" * 10)
        time.sleep(0.15)
        sent_last.append(time.monotonic())
        conn.sendall(b"c" * 10)

    raw.script = script
    trace = probe(raw.url)
    assert trace.body == b"a" * 10 + b"b" * 10 + b"c" * 10
    assert len(trace.chunks) >= 3
    # The first piece was recorded before the server had even sent the last one.
    assert trace.started + trace.chunks[0].t < sent_last[0]
    assert trace.verdict == "streamed"


def test_close_delimited_body_is_recorded_as_it_arrives(raw: RawServer) -> None:
    raw.script = sends(b"HTTP/1.0 200 OK\r\n\r\nfirst,", 0.15, b"second")
    trace = probe(raw.url)
    assert trace.body == b"first,second"
    assert [c.data for c in trace.chunks] == [b"first,", b"second"]
    assert trace.error is None


def test_accept_encoding_is_sent_and_gzip_is_decoded_piece_by_piece() -> None:
    seen: list[str] = []
    lines = [b"line %d %s\n" % (i, b"abc" * 40) for i in range(4)]

    def app(environ, start_response):
        seen.append(environ.get("HTTP_ACCEPT_ENCODING", ""))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Encoding", "gzip")])
        z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

        def body():
            for line in lines:
                yield z.compress(line) + z.flush(zlib.Z_SYNC_FLUSH)
                time.sleep(0.03)
            yield z.flush()

        return body()

    with serve(app) as server:
        trace = probe(server.url)
    assert seen == ["gzip, deflate"]
    assert trace.body == b"".join(lines)
    # Each flushed item decodes on arrival: the first four chunks are exactly the four lines.
    assert [c.data for c in trace.chunks[:4]] == lines
    assert trace.wire_size < trace.size  # compressed on the wire
    assert all(c.wire_size > 0 for c in trace.chunks)
    assert trace.verdict == "streamed"


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_with_and_without_zlib_header(raw: RawServer, wbits: int) -> None:
    z = zlib.compressobj(6, zlib.DEFLATED, wbits)
    data = z.compress(b"deflated " * 50) + z.flush()
    raw.script = sends(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n" % len(data) + data
    )
    trace = probe(raw.url)
    assert trace.error is None
    assert trace.body == b"deflated " * 50
    assert trace.wire_size == len(data)


def test_user_headers_override_the_defaults() -> None:
    seen: list[tuple[str, str]] = []

    def app(environ, start_response):
        seen.append((environ.get("HTTP_ACCEPT_ENCODING", ""), environ.get("HTTP_X_TEST", "")))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with serve(app) as server:
        trace = probe(server.url, headers={"accept-encoding": "identity", "X-Test": "1"})
    assert seen == [("identity", "1")]
    assert trace.body == b"ok"


def test_keep_body_false_keeps_times_and_sizes_only() -> None:
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"x" * 1000 for _ in range(50))

    with serve(app) as server:
        trace = probe(server.url, keep_body=False)
    assert len(trace.chunks) == 50
    assert all(c.data is None and c.size == 1000 for c in trace.chunks)
    assert trace.size == 50_000
    with pytest.raises(ValueError, match="keep_body"):
        trace.body


def test_head_and_204_are_empty(raw: RawServer) -> None:
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/none":
            start_response("204 No Content", [])
            return []
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"body"]

    with serve(app) as server:
        head = probe(server.url + "/", method="HEAD")
        none = probe(server.url + "/none")
    assert (head.status, head.chunks, head.verdict) == (200, [], "empty")
    assert (none.status, none.chunks, none.verdict) == (204, [], "empty")


# -- max_seconds ---------------------------------------------------------------------------------


def test_max_seconds_ends_an_endless_stream_and_the_server_closes_it() -> None:
    closed = threading.Event()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])

        def forever():
            try:
                while True:
                    yield b"tick\n"
                    time.sleep(0.02)
            finally:
                closed.set()

        return forever()

    with serve(app) as server:
        trace = probe(server.url, max_seconds=0.3)
        assert closed.wait(5), "the server never closed the endless generator"
    assert trace.stopped and trace.error is None
    assert len(trace.chunks) >= 3
    assert trace.verdict == "streamed"
    assert trace.chunks[-1].t <= trace.duration
    assert "stopped" in repr(trace)


def test_max_seconds_also_ends_a_silent_stream_long_before_the_timeout(raw: RawServer) -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(CHUNKED_HEAD + b"2\r\nhi\r\n")
        raw.release.wait(10)

    raw.script = script
    started = time.monotonic()
    trace = probe(raw.url, max_seconds=0.3, timeout=20)
    elapsed = time.monotonic() - started
    assert trace.stopped and trace.error is None
    assert [c.data for c in trace.chunks] == [b"hi"]
    assert elapsed < 10  # the 20 s timeout did not apply


# -- errors before the response: ProbeError naming URL and reason ---------------------------------


def test_refused_connection_names_url_and_reason() -> None:
    url = closed_port_url()
    with pytest.raises(ProbeError) as info:
        probe(url)
    assert url in str(info.value) and "refused" in str(info.value)
    assert info.value.url == url


def test_unknown_host_names_the_host() -> None:
    with pytest.raises(ProbeError, match="unknown host 'no-such-host.invalid'") as info:
        probe("http://no-such-host.invalid/")
    assert "http://no-such-host.invalid/" in str(info.value)


def test_no_response_times_out_within_the_timeout(raw: RawServer) -> None:
    raw.script = lambda conn: raw.release.wait(10)
    started = time.monotonic()
    with pytest.raises(ProbeError, match=r"no response within 0.5 s") as info:
        probe(raw.url + "/slow", timeout=0.5)
    elapsed = time.monotonic() - started
    assert raw.url + "/slow" in str(info.value)
    assert 0.4 < elapsed < 3  # the timeout, not the server's 10 s


@pytest.mark.parametrize(
    ("reply", "reason"),
    [(b"", "closed the connection without sending a response"), (b"hello there\r\n\r\n", "not a valid HTTP response")],
    ids=["closed", "garbage"],
)
def test_no_valid_response_is_a_probe_error(raw: RawServer, reply: bytes, reason: str) -> None:
    raw.script = sends(reply)
    with pytest.raises(ProbeError, match=reason):
        probe(raw.url)


@pytest.mark.parametrize("url", ["127.0.0.1:5000/x", "ftp://example.com/", "http:///nohost", "http://h:99999/"])
def test_bad_urls_are_value_errors(url: str) -> None:
    with pytest.raises(ValueError, match="cannot probe"):
        probe(url)


def test_bad_timeouts_are_value_errors() -> None:
    with pytest.raises(ValueError, match="timeout"):
        probe("http://127.0.0.1:1/", timeout=0)
    with pytest.raises(ValueError, match="max_seconds"):
        probe("http://127.0.0.1:1/", max_seconds=-1)


# -- broken bodies: recorded in trace.error, chunks kept -----------------------------------------


def test_reset_mid_body_keeps_the_chunks(raw: RawServer) -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(CHUNKED_HEAD + b"5\r\nhello\r\n")
        time.sleep(0.1)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    raw.script = script
    trace = probe(raw.url)
    assert [c.data for c in trace.chunks] == [b"hello"]
    assert trace.error and trace.verdict == "broken"
    assert trace.error_kind == "reset", trace.error


def test_short_content_length_is_an_incomplete_read(raw: RawServer) -> None:
    raw.script = sends(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 40)
    trace = probe(raw.url)
    assert trace.error == "IncompleteRead: the connection closed after 40 of 100 bytes (Content-Length)"
    assert trace.error_kind == "incomplete"
    assert trace.body == b"x" * 40


def test_silence_mid_body_is_a_read_timeout_with_chunks_kept(raw: RawServer) -> None:
    def script(conn: socket.socket) -> None:
        conn.sendall(CHUNKED_HEAD + b"3\r\nabc\r\n")
        raw.release.wait(10)

    raw.script = script
    started = time.monotonic()
    trace = probe(raw.url, timeout=0.4)
    assert time.monotonic() - started < 3
    assert trace.error.startswith("ReadTimeout") and trace.error_kind == "timeout"
    assert trace.body == b"abc"


def test_a_body_that_does_not_decode_is_broken(raw: RawServer) -> None:
    raw.script = sends(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 12\r\n\r\nnot gzip!!!!")
    trace = probe(raw.url)
    assert trace.error.startswith("DecodeError") and trace.error_kind == "decode"
    assert trace.verdict == "broken"


def test_a_truncated_gzip_stream_is_broken(raw: RawServer) -> None:
    z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    part = z.compress(b"never finished " * 20) + z.flush(zlib.Z_SYNC_FLUSH)
    raw.script = sends(b"HTTP/1.0 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + part)
    trace = probe(raw.url)
    assert trace.body == b"never finished " * 20  # what arrived is decoded and kept
    assert "gzip stream ended early" in trace.error


# -- malformed chunked responses, fuzzed ----------------------------------------------------------

chunk_data = st.binary(min_size=1, max_size=30).map(lambda b: b.replace(b"\r", b"."))


@st.composite
def malformed_chunked(draw: st.DrawFn) -> tuple[bytes, bytes, str]:
    """(raw body, data of the chunks before the fault, kind of fault)."""
    chunks = draw(st.lists(chunk_data, min_size=1, max_size=5))
    framed = [b"%x\r\n%s\r\n" % (len(c), c) for c in chunks]
    end = b"0\r\n\r\n"
    kind = draw(st.sampled_from(["bad size token", "size too small", "size too big", "missing CRLF", "early close"]))
    if kind == "early close":
        full = b"".join(framed) + end
        cut = draw(st.integers(0, len(full) - 1))
        return full[:cut], b"".join(chunks[: _count(framed, cut)]), kind
    i = draw(st.integers(0, len(chunks) - 1))
    c = chunks[i]
    rest = b"".join(framed[i + 1 :]) + end
    if kind == "bad size token":
        token = draw(st.sampled_from([b"zz", b"-5", b"0x5", b"+5", b"", b" 5", b"5 5", b"1_0", b"\x00", b"1" * 17]))
        bad = token + b"\r\n" + c + b"\r\n"
    elif kind == "size too small":
        if len(c) < 2:
            c = c + b"x"
        bad = b"%x\r\n%s\r\n" % (draw(st.integers(1, len(c) - 1)), c)
    elif kind == "size too big":
        claimed = draw(st.one_of(st.integers(len(c) + 2 + len(rest) + 1, len(c) + len(rest) + 200), st.just(0xFFFFFFFFFFFF)))
        bad = b"%x\r\n%s\r\n" % (claimed, c)
    else:  # missing CRLF after the chunk data
        bad = b"%x\r\n%s" % (len(c), c) + draw(st.sampled_from([b"", b"\n", b"\r", b"XX", b"\n\r"]))
    return b"".join(framed[:i]) + bad + rest, b"".join(chunks[:i]), kind


def _count(framed: list[bytes], cut: int) -> int:
    """How many framed chunks fit entirely in the first ``cut`` bytes."""
    total = count = 0
    for piece in framed:
        total += len(piece)
        if total > cut:
            break
        count += 1
    return count


# The grammar is tested in memory by the thousand (tests/test_http1.py); these few examples
# check that a malformed body read from a real socket never hangs and keeps what arrived.
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=malformed_chunked())
def test_malformed_chunked_responses_never_hang_and_give_a_clear_error(
    raw: RawServer, case: tuple[bytes, bytes, str]
) -> None:
    body, before, kind = case
    raw.script = sends(CHUNKED_HEAD + body)
    trace = probe(raw.url, timeout=5)
    assert trace.error, f"{kind}: no error for {body!r}"
    assert trace.error_kind in ("incomplete", "malformed-chunk", "bad-size-line"), trace.error
    assert trace.error.split(":")[0] in ("IncompleteRead", "MalformedChunk"), trace.error
    assert trace.verdict == "broken"
    received = b"".join(c.data for c in trace.chunks)
    # Every whole chunk before the fault is kept, byte for byte.
    assert received[: len(before)] == before


# -- command line ---------------------------------------------------------------------------------


def test_cli_probe_prints_the_verdict_and_a_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])

        def rows():
            for i in range(3):
                yield b"row %d\n" % i
                time.sleep(0.05)

        return rows()

    with serve(app) as server:
        status = main(["probe", server.url + "/rows", "--timeout", "5", "-H", "X-A: 1"])
    out = capsys.readouterr()
    assert status == 0
    assert "streamed" in out.out
    assert "GET /rows" in out.out
    assert out.err == ""


def test_cli_probe_of_a_dead_url_is_one_line_and_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    url = closed_port_url()
    status = main(["probe", url])
    out = capsys.readouterr()
    assert status != 0
    assert out.out == ""
    assert out.err.count("\n") == 1 and "refused" in out.err and url in out.err
    assert "Traceback" not in out.err


def test_cli_probe_rejects_a_malformed_header(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "http://127.0.0.1:1/", "-H", "no colon"]) == 2
    assert "Name: value" in capsys.readouterr().err


def test_cli_probe_help_names_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["probe", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--timeout", "--max-seconds", "--header", "URL".lower()):
        assert option in text


def test_python_dash_m_streamkit_probe_runs_end_to_end() -> None:
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    with serve(app) as server:
        done = subprocess.run(
            [sys.executable, "-m", "streamkit", "probe", server.url + "/"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "single" in done.stdout
    dead = subprocess.run(
        [sys.executable, "-m", "streamkit", "probe", closed_port_url()],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert dead.returncode != 0
    assert dead.stderr.strip().count("\n") == 0 and "Traceback" not in dead.stderr
