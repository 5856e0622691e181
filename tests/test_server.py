"""serve() and Server.get(): a real server on loopback, real sockets, and the server-side timeline.

The streaming pattern's views are written once and served both by a streamkit App and by a Flask
app (``kit`` fixture), so every API here is exercised against Flask with the same code.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from werkzeug.middleware.profiler import ProfilerMiddleware
from werkzeug.serving import WSGIRequestHandler

import streamkit
from streamkit import App, Response, recording, serve
from streamkit.backends.werkzeug import StreamingRequestHandler
from streamkit.probe import ProbeError, probe
from streamkit.server import Server, ServerStopped
from streamkit.trace import Trace
from tests.conftest import needs_nginx


def plain_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def slow_app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    """A bare WSGI generator: headers at once (b"" first), then 5 parts 0.1 s apart."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b""
    for i in range(5):
        time.sleep(0.1)
        yield b"part %d\n" % i


def open_fd_targets() -> Counter[str]:
    """What this process's open file descriptors point at ("socket:[123]", a path, ...)."""
    targets: Counter[str] = Counter()
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets[os.readlink(f"/proc/self/fd/{fd}")] += 1
        except FileNotFoundError:  # the fd listdir itself used, closed already
            pass
    return targets


def settle(leftover: Callable[[], Any], seconds: float = 5.0) -> Any:
    """Poll ``leftover()`` until it is empty or ``seconds`` pass (threads that are just ending)."""
    deadline = time.monotonic() + seconds
    while (left := leftover()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


# -- the streaming pattern, written once, served by streamkit and by Flask --------------------


def build_pattern_app(framework: str) -> Any:
    if framework == "flask":
        from flask import Flask as AppClass
        from flask import Response, request, stream_with_context
    else:
        from streamkit import App as AppClass
        from streamkit import Response, request, stream_with_context

    app = AppClass(__name__)

    @app.route("/rows")
    def rows():
        def generate():
            for i in range(5):
                time.sleep(0.1)
                yield f"{i},{request.args.get('name', 'nobody')}\n"

        return Response(stream_with_context(generate()), mimetype="text/csv")

    @app.route("/forgot-context")
    def forgot_context():
        def generate():
            yield "Hello "
            yield request.args.get("name", "nobody")

        return Response(generate(), mimetype="text/plain")

    @app.route("/boom")
    def boom():
        raise ValueError("the view failed")

    return app


@pytest.fixture(params=["streamkit", "flask"])
def kit(request: pytest.FixtureRequest) -> str:
    if request.param == "flask":
        pytest.importorskip("flask")
    return request.param


@pytest.fixture
def pattern_server(kit: str) -> Iterator[Server]:
    app = build_pattern_app(kit)
    if kit == "flask":
        # Flask does not time its items itself; this records them as a streamkit App does.
        app.wsgi_app = recording.WatchMiddleware(app.wsgi_app)
    with serve(app) as server:
        yield server


# -- serve(): start, url, stop ---------------------------------------------------------------


def test_serve_returns_once_the_port_accepts_connections() -> None:
    server = serve(plain_app)
    try:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert not server.url.endswith("/")
        with socket.create_connection(("127.0.0.1", server.port), timeout=2):
            pass
        assert server.get("/").body == b"hello"
        assert server.running and "running" in repr(server)
    finally:
        server.stop()


def test_stop_is_prompt_closes_the_port_and_joins_the_thread() -> None:
    server = serve(plain_app)
    port = server.port
    started = time.monotonic()
    server.stop()
    # The contract is "well under a second"; the margin is for a loaded 2-core machine.
    assert time.monotonic() - started < 2.5
    assert port_is_closed(port)
    assert not any(thread.name == f"streamkit-werkzeug-{port}" for thread in threading.enumerate())
    assert not server.running
    server.stop()  # again: nothing happens
    with pytest.raises(ProbeError, match="refused"):
        probe(server.url)


def test_stop_ends_a_running_long_stream() -> None:
    length = 20.0  # seconds the stream would run if nothing stopped it
    closed = threading.Event()
    ran_to_the_end = threading.Event()

    def long_stream(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        ends = time.monotonic() + length
        try:
            while time.monotonic() < ends:
                yield b"tick\n"
                time.sleep(0.01)
            ran_to_the_end.set()
        finally:
            closed.set()

    server = serve(long_stream)
    client = socket.create_connection(("127.0.0.1", server.port))
    try:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"tick" in client.recv(4096) + client.recv(4096)
        started = time.monotonic()
        server.stop()
        took = time.monotonic() - started
        # stop() did not wait for the stream: it returned long before the stream would have ended.
        assert took < length / 8, f"stop() took {took:.1f} s with a {length:.0f} s stream running"
        assert closed.wait(length / 4), "the stream's generator was not closed"
        assert not ran_to_the_end.is_set()
    finally:
        client.close()


def test_context_manager_stops_the_server() -> None:
    with serve(plain_app) as server:
        port = server.port
        assert server.get("/").status == 200
    assert port_is_closed(port)


def test_serving_again_under_a_name_stops_the_old_server() -> None:
    first = serve(plain_app, name="cell")
    second = serve(plain_app, name="cell")
    try:
        assert not first.running and second.running
        assert port_is_closed(first.port)
        assert second.get("/").body == b"hello"
    finally:
        second.stop()


def test_thirty_reruns_under_one_name_leave_no_threads_or_fds() -> None:
    def parts(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        for i in range(3):
            time.sleep(0.02)
            yield b"part %d\n" % i

    serve(parts, name="rerun").get("/")  # warm up lazy imports
    serve(parts, name="rerun").stop()
    threads, fds = set(threading.enumerate()), open_fd_targets()
    for run in range(30):
        server = serve(parts, name="rerun")
        if run % 2:
            assert server.get("/").verdict == "streamed"
        else:  # leave mid-stream: the next run stops a server whose stream is still going
            assert server.get("/", max_seconds=0.03).stopped
    server.stop()
    # Nothing new is left: no thread, and no fd pointing at anything that was not open before
    # (a thread or socket left over from an earlier test may go away meanwhile; that is fine).
    assert settle(lambda: set(threading.enumerate()) - threads) == set()
    assert settle(lambda: open_fd_targets() - fds) == Counter()


def test_port_in_use_is_a_clear_oserror_and_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    with serve(plain_app) as server:
        with pytest.raises(OSError) as info:
            serve(plain_app, port=server.port)
    assert not isinstance(info.value, SystemExit)
    assert info.value.errno == errno.EADDRINUSE
    assert f"port {server.port}" in str(info.value) and "in use" in str(info.value)
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("example.org", False),
    ],
)
def test_which_hosts_count_as_loopback(host: str, loopback: bool) -> None:
    assert streamkit.server._is_loopback(host) is loopback


def test_a_non_loopback_host_logs_a_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with caplog.at_level(logging.WARNING, logger="streamkit.server"):
        with serve(plain_app) as local:
            assert local.get("/").status == 200
        assert caplog.records == []
        # Tests only bind loopback: take the warning path by making 127.0.0.1 look exposed.
        monkeypatch.setattr(streamkit.server, "_is_loopback", lambda host: False)
        with serve(plain_app, host="127.0.0.1") as exposed:
            assert exposed.get("/").status == 200
    [record] = [record for record in caplog.records if record.name == "streamkit.server"]
    assert record.levelno == logging.WARNING
    assert "serving on 127.0.0.1" in record.getMessage()
    assert "other machines" in record.getMessage() and exposed.url in record.getMessage()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown server 'tornado'"):
        serve(plain_app, server="tornado")
    with pytest.raises(TypeError, match="WSGI application"):
        serve(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port"):
        serve(plain_app, port=70000)


def test_serve_an_import_string() -> None:
    with serve("werkzeug.testapp:test_app") as server:
        trace = server.get("/")
    assert trace.status == 200 and b"Werkzeug" in trace.body


def test_interpreter_exit_stops_every_server() -> None:
    code = """
import atexit, socket, threading
state = {}
def check():
    with socket.socket() as s:
        closed = s.connect_ex(("127.0.0.1", state["port"])) != 0
    alive = [t.name for t in threading.enumerate() if t.name.startswith("streamkit-")]
    print("closed" if closed else "open", alive)
atexit.register(check)  # registered first, so it runs after streamkit's own exit handler
from streamkit import serve
def app(environ, start_response):
    start_response("200 OK", [])
    return [b"x"]
state["port"] = serve(app).port
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "closed []"
    assert done.stderr == ""


# -- the handler: HTTP/1.1 on our class, TCP_NODELAY, silence, errors -----------------------------


def test_chunked_http11_is_set_on_our_handler_not_werkzeugs() -> None:
    with serve(slow_app) as server:
        trace = server.get("/")
    assert trace.headers["Transfer-Encoding"] == "chunked"
    assert len(trace.chunks) == 5
    assert StreamingRequestHandler.protocol_version == "HTTP/1.1"
    assert "protocol_version" not in vars(WSGIRequestHandler)
    assert WSGIRequestHandler.protocol_version == "HTTP/1.0"


def test_an_http10_client_gets_an_http10_body_that_ends_at_close() -> None:
    with serve(slow_app) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
            client.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            received = b""
            while data := client.recv(65536):
                received += data
        # HTTP/1.1 clients on the same server still get chunks.
        assert server.get("/").headers["Transfer-Encoding"] == "chunked"
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200")
    assert b"chunked" not in head.lower()
    assert body == b"".join(b"part %d\n" % i for i in range(5))


def test_tcp_nodelay_is_set() -> None:
    seen: list[int] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["werkzeug.socket"].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        start_response("200 OK", [])
        return [b"ok"]

    with serve(app) as server:
        server.get("/")
    assert seen and seen[0] != 0


def test_headers_go_out_at_once_when_the_first_item_is_empty() -> None:
    with serve(slow_app) as server:
        trace = server.get("/")
    # Headers arrive long before the first part, which comes 0.1 s later.
    assert trace.headers_at < trace.ttfb / 2
    assert trace.body == b"".join(b"part %d\n" % i for i in range(5))


def test_nothing_is_printed_and_errors_are_kept_with_tracebacks(capfd: pytest.CaptureFixture[str]) -> None:
    werkzeug_handlers = list(logging.getLogger("werkzeug").handlers)

    def failing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/str":
            start_response("200 OK", [])
            return ["not bytes"]  # type: ignore[list-item]
        raise KeyError("missing thing")

    with serve(failing) as server:
        boom = server.get("/boom")
        text = server.get("/str")
        raw = socket.create_connection(("127.0.0.1", server.port))
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        raw.recv(4096)
        raw.close()
    assert boom.status == 500 and text.status == 500
    assert [type(error) for error in server.errors] == [KeyError, TypeError]
    assert "yielded str" in str(text.server_error)
    assert all(error.__traceback__ is not None for error in server.errors)
    assert isinstance(boom.server_error, KeyError)
    assert capfd.readouterr() == ("", "")
    assert logging.getLogger("werkzeug").handlers == werkzeug_handlers


def test_app_output_to_wsgi_errors_is_kept_not_printed(capfd: pytest.CaptureFixture[str]) -> None:
    def chatty(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        print("a warning for the log", file=environ["wsgi.errors"])
        start_response("200 OK", [])
        return [b"ok"]

    with serve(chatty) as server:
        server.get("/")
    assert list(server.log) == ["a warning for the log"]
    assert capfd.readouterr() == ("", "")


def test_a_hundred_clients_leaving_mid_stream_get_their_generators_closed() -> None:
    closed = 0
    lock = threading.Lock()

    def endless(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        nonlocal closed
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            while True:
                yield b"x" * 100
                time.sleep(0.01)
        finally:
            with lock:
                closed += 1

    with serve(endless) as server:
        clients = []
        for _ in range(100):
            client = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            clients.append(client)
        for client in clients:
            assert client.recv(4096)  # the stream is running for this client
        for client in clients:
            client.close()
        deadline = time.monotonic() + 15
        while closed < 100 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert closed == 100
        # ... and the server keeps serving.
        assert server.get("/", max_seconds=0.1).chunks
    assert server.errors == []


def test_twenty_concurrent_half_second_streams_finish_together() -> None:
    with serve(slow_app) as server:
        started = time.monotonic()
        with ThreadPoolExecutor(20) as pool:
            traces = list(pool.map(lambda _: probe(server.url), range(20)))
        elapsed = time.monotonic() - started
    assert all(trace.verdict == "streamed" and len(trace.chunks) == 5 for trace in traces)
    assert elapsed < 0.5 * 20 / 3  # one after another would take 10 s


def test_a_content_length_response_arrives_whole() -> None:
    def sized(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "5")])
        return [b"hello"]

    with serve(sized) as server:
        trace = server.get("/x", timeout=5)
    assert trace.verdict == "single" and trace.body == b"hello"
    assert "Transfer-Encoding" not in trace.headers


# -- Server.get(): the server-side timeline ------------------------------------------------------


def test_get_streamed_pattern_records_produced_written_and_arrival(pattern_server: Server) -> None:
    trace = pattern_server.get("/rows?name=ada")
    assert trace.verdict == "streamed"
    assert trace.body == b"".join(b"%d,ada\n" % i for i in range(5))
    assert trace.server_error is None and trace.error is None
    assert len(trace.produced) == len(trace.written) == len(trace.chunks) == 5
    for produced, written, chunk in zip(trace.produced, trace.written, trace.chunks):
        # Same clock, seconds from the request start: produced, then written, then received.
        assert 0 < produced.t <= written.t
        assert produced.arrived == written.arrived == chunk.t
    # Each part arrived before the next one was produced (0.1 s later): nothing was held back.
    for i, chunk in enumerate(trace.chunks[:-1]):
        assert chunk.t < trace.produced[i + 1].t, (i, chunk.t, trace.produced[i + 1].t)
    assert trace.raise_for_error() is trace


def test_get_without_stream_with_context_is_broken_with_the_runtime_error(
    pattern_server: Server, capfd: pytest.CaptureFixture[str]
) -> None:
    trace = pattern_server.get("/forgot-context?name=ada")
    assert trace.verdict == "broken"
    assert isinstance(trace.server_error, RuntimeError)
    assert str(trace.server_error).startswith("Working outside of request context.")
    assert trace.body == b"Hello "  # what was sent before the break is kept
    assert trace.error  # the client saw the chunked body end without its last chunk
    # The app raised after its first item went out, and before the client saw the break.
    assert trace.written[0].t <= trace.server_error_at <= trace.duration
    assert pattern_server.errors == [trace.server_error]
    with pytest.raises(RuntimeError, match="Working outside of request context"):
        trace.raise_for_error()
    assert capfd.readouterr() == ("", "")


def test_a_failing_view_is_a_500_and_is_not_printed(
    kit: str, pattern_server: Server, capfd: pytest.CaptureFixture[str]
) -> None:
    trace = pattern_server.get("/boom")
    assert trace.status == 500
    assert capfd.readouterr() == ("", "")
    if kit == "streamkit":
        assert isinstance(trace.server_error, ValueError)
        assert trace.verdict == "broken"
    else:  # Flask turns the exception into a 500 itself, and logs it (to wsgi.errors: kept)
        assert trace.server_error is None


def test_profiler_middleware_is_diagnosed_as_buffered(kit: str) -> None:
    app = build_pattern_app(kit)
    inner = recording.WatchMiddleware(app.wsgi_app) if kit == "flask" else app.wsgi_app
    app.wsgi_app = ProfilerMiddleware(inner, stream=None)
    with serve(app) as server:
        trace = server.get("/rows")
    assert trace.verdict == "buffered"
    assert len(trace.produced) == 5 and len(trace.written) == 1 and len(trace.chunks) == 1
    # Every part arrived together, after the last one was produced.
    assert all(event.arrived >= trace.produced[-1].t for event in trace.produced)
    assert "buffered" in repr(trace)


def test_get_through_a_flask_app_without_watch_still_traces_the_server_side() -> None:
    pytest.importorskip("flask")
    with serve(build_pattern_app("flask")) as server:
        trace = server.get("/rows")
        broken = server.get("/forgot-context")
    assert trace.verdict == "streamed"
    assert trace.produced is None and len(trace.written) == 5
    assert "WatchMiddleware" in trace.note
    assert isinstance(broken.server_error, RuntimeError) and broken.verdict == "broken"


def test_get_passes_probe_options_and_adds_the_trace_header() -> None:
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ.get("HTTP_X_STREAMKIT_TRACE", ""))
        seen.append(environ.get("HTTP_X_EXTRA", ""))
        start_response("200 OK", [])
        return [b"x" * 100]

    with serve(app) as server:
        trace = server.get("page", headers={"X-Extra": "yes"}, keep_body=False, timeout=5, live=True)
    assert isinstance(trace, Trace)
    assert trace.url == server.url + "/page"
    assert len(seen[0]) == 32 and seen[1] == "yes"
    assert trace.chunks[0].data is None and trace.size == 100
    assert recording._open == {}  # the recording was closed


def test_get_on_a_stopped_server_raises_one_line_and_leaves_no_recording() -> None:
    server = serve(plain_app, name="stopped-one")
    server.stop()
    with pytest.raises(ServerStopped) as caught:
        server.get("/")
    message = str(caught.value)
    assert "\n" not in message
    assert "'stopped-one' was stopped" in message
    assert recording._open == {}


def test_public_names() -> None:
    for name in ("serve", "probe", "Server", "Trace"):
        assert hasattr(streamkit, name) and name in streamkit.__all__


# -- compressed responses: each side matched in its own measure ----------------------------------


def slow_items_app() -> streamkit.App:
    """A streamkit App (so produced items are recorded): 5 text items of growing size, 0.1 s apart."""
    app = streamkit.App(__name__)

    @app.route("/items")
    def items():
        def generate():
            for i in range(5):
                if i:
                    time.sleep(0.1)
                yield f"item {i} " + "x" * (40 + 30 * i) + "\n"

        return streamkit.Response(generate(), mimetype="text/plain")

    return app


def connector_rows(trace: Trace) -> list[list[tuple[float, float]]]:
    """The timeline's connecting lines as (x1, x2) pairs, one list per gap between lanes, top first."""
    import xml.etree.ElementTree as ET

    svg = "{http://www.w3.org/2000/svg}"
    group = [g for g in ET.fromstring(trace.to_svg()).iter(f"{svg}g") if g.get("class") == "connectors"]
    rows: dict[float, list[tuple[float, float]]] = {}
    for line in group[0] if group else ():
        rows.setdefault(float(line.get("y1")), []).append((float(line.get("x1")), float(line.get("x2"))))
    return [sorted(rows[y]) for y in sorted(rows)]


def test_streaming_gzip_matches_item_i_to_write_i_and_chunk_i() -> None:
    from streamkit.compression import GzipMiddleware
    from streamkit.trace import links

    with serve(GzipMiddleware(slow_items_app())) as server:
        trace = server.get("/items")
    assert trace.headers["Content-Encoding"] == "gzip" and trace.verdict == "streamed"
    # One chunk per item (its wire bytes; the first also carries the gzip header), then the
    # gzip trailer: wire bytes that decode to nothing.
    assert [chunk.size > 0 for chunk in trace.chunks] == [True] * 5 + [False]
    assert len(trace.produced) == 5 and len(trace.written) == 6
    assert [event.arrived for event in trace.produced] == [chunk.t for chunk in trace.chunks[:5]]
    assert [event.arrived for event in trace.written] == [chunk.t for chunk in trace.chunks]
    assert links(trace) == {"produced": [0, 1, 2, 3, 4], "written": [0, 1, 2, 3, 4, 5]}
    # In the picture, the lines from the 5 items go to 5 different writes, and the lines from
    # the 5 item writes to 5 different chunks, left to right.
    to_written, to_received = connector_rows(trace)
    assert len(to_written) == 5 and len(to_received) == 6
    ends = [x2 for _, x2 in to_written]
    assert ends == sorted(ends) and len(set(ends)) == 5
    ends = [x2 for _, x2 in to_received[:5]]
    assert ends == sorted(ends) and len(set(ends)) == 5


def test_naive_gzip_matches_every_item_to_the_one_piece() -> None:
    from streamkit.compression import NaiveGzipMiddleware
    from streamkit.trace import links

    with serve(NaiveGzipMiddleware(slow_items_app())) as server:
        trace = server.get("/items")
    assert trace.headers["Content-Encoding"] == "gzip" and trace.verdict == "buffered"
    assert len(trace.produced) == 5 and len(trace.written) == 1
    carried = links(trace)
    assert carried["produced"] == [0] * 5  # all items went out in the single write
    last = len(trace.chunks) - 1  # the client may read one piece in several reads
    assert carried["written"] == [last]
    assert all(event.arrived == trace.chunks[last].t for event in trace.produced)


@needs_nginx
def test_gzip_by_a_proxy_matches_the_server_writes_in_decoded_bytes() -> None:
    from streamkit.trace import links

    # The server writes the app's own bytes; nginx compresses them and holds them back.
    with serve(slow_items_app(), behind="nginx") as server:
        trace = server.get("/items")
    assert trace.headers["Content-Encoding"] == "gzip"
    assert len(trace.produced) == len(trace.written) == 5
    carried = links(trace)
    assert carried["produced"] == [0, 1, 2, 3, 4]
    assert None not in carried["written"] and carried["written"] == sorted(carried["written"])
    assert trace.verdict == "buffered"


def test_raise_for_error_shows_the_apps_frames_and_keeps_every_frame_in_server_traceback() -> None:
    import traceback

    app = App(__name__)

    @app.route("/")
    def broken_view() -> Response:
        def generate() -> Iterator[str]:
            yield "a"
            raise ValueError("made in the app")

        return Response(generate())

    with serve(app) as server:
        trace = server.get("/")
    with pytest.raises(ValueError, match="made in the app") as info:
        trace.raise_for_error()
    frames = traceback.extract_tb(info.value.__traceback__)
    # raise_for_error's own frame is where it raises (IPython and pytest hide it: it sets
    # __tracebackhide__); between it and the app's generator nothing of the server is left.
    shown = [frame.filename for frame in frames if frame.name != "raise_for_error"]
    kit = {"server.py", "werkzeug.py", "recording.py", "response.py"}
    machinery = [
        name
        for name in shown
        if "site-packages" in name or (os.path.basename(name) in kit and "/streamkit/" in name)
    ]
    assert machinery == [] and frames[-1].name == "generate", shown
    # ... while the full server-side traceback still has werkzeug's and the kit's.
    assert trace.server_traceback is not None
    full = [frame.filename for frame in traceback.extract_tb(trace.server_traceback)]
    assert any("werkzeug" in name for name in full) and len(full) > len(shown)
