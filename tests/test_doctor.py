"""The culprit zoo: real servers, proxies and middlewares on loopback, each diagnosed.

Every case is a real component that holds a stream back in a known way (or does not), and the
test asserts what ``Trace.diagnose()`` (with the server side) and ``doctor(url)`` (from the
client alone, comparing request variants) say: ``streams``, ``culprit`` and the finding codes.
The clean cases matter as much: a stream that streams is never blamed, compressed or sized.

Streams are 5 parts 150 ms apart; asserts are about layers and counts, never absolute times.
"""

from __future__ import annotations

import importlib.util
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from streamkit import probe, serve
from streamkit.backends import ServerUnavailable, free_port
from streamkit.backends import nginx as nginx_backend
from streamkit.compression import GzipMiddleware, NaiveGzipMiddleware
from streamkit.diagnosis import CULPRITS, Diagnosis, printable
from streamkit.doctor import doctor
from tests.conftest import endless_text_app, raw_server

APPS = Path(__file__).parent / "apps"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, APPS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


zoo = _load("zoo_app")
app = zoo.app


def _nginx_missing() -> str | None:
    try:
        nginx_backend.find_nginx()
    except ServerUnavailable as exc:
        return str(exc)
    return None


needs_nginx = pytest.mark.skipif(_nginx_missing() is not None, reason=f"no nginx: {_nginx_missing()}")


def assert_clean(diagnosis: Diagnosis) -> None:
    """It streams, and no layer is blamed; warnings (browser, SSE) may remain."""
    assert diagnosis.streams, diagnosis
    assert diagnosis.culprit is None, diagnosis
    assert not [f for f in diagnosis.findings if f.code == "partly-held"], diagnosis
    for finding in diagnosis.findings:
        assert finding.culprit is None or finding.culprit in CULPRITS


def assert_held(diagnosis: Diagnosis, culprit: str | None, code: str) -> None:
    assert not diagnosis.streams, diagnosis
    assert diagnosis.culprit == culprit, diagnosis
    assert diagnosis.findings[0].code == code, diagnosis
    first = diagnosis.findings[0]
    assert first.summary and first.evidence
    if culprit is not None:
        assert first.fix, first


# -- clean: nothing is blamed ----------------------------------------------------------------


def test_a_plain_stream_is_not_blamed_and_text_plain_gets_the_sniffing_warning():
    with serve(app) as server:
        traced = server.get("/parts")
        doctored = doctor(server.url + "/parts")
        nosniff = server.get("/nosniff").diagnose()
    for diagnosis in (traced.diagnose(), doctored):
        assert_clean(diagnosis)
        assert "browser-sniffs" in diagnosis.codes
    assert_clean(nosniff)
    assert "browser-sniffs" not in nosniff.codes
    assert len(doctored.traces) == 4  # as given, identity, browser encodings, event-stream
    assert "it streams" in str(doctored)


def test_compressed_streams_that_flush_per_chunk_are_not_blamed():
    with serve(GzipMiddleware(app)) as server:
        traced = server.get("/parts")
        doctored = doctor(server.url + "/parts")
    assert traced.headers["Content-Encoding"] == "gzip"
    assert_clean(traced.diagnose())
    assert_clean(doctored)
    assert {t.headers.get("Content-Encoding") for t in doctored.traces} == {
        "gzip",
        None,
    }


def test_content_length_bodies_that_arrive_over_time_are_not_blamed():
    with serve(app) as server:
        traced = server.get("/sized")
        doctored = doctor(server.url + "/sized")
    assert "Content-Length" in traced.headers
    assert len([c for c in traced.chunks if c.size]) == zoo.COUNT
    assert_clean(traced.diagnose())
    assert_clean(doctored)


def test_starlette_gzip_under_uvicorn_streams_and_is_not_blamed():
    pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    with uvicorn_server(zoo.starlette_gzip_app()) as url:
        doctored = doctor(url + "/parts")
    assert "gzip" in {t.headers.get("Content-Encoding") for t in doctored.traces}
    assert_clean(doctored)


def test_an_event_stream_without_no_cache_streams_with_a_warning():
    with serve(app) as server:
        diagnosis = server.get("/events").diagnose()
    assert_clean(diagnosis)
    assert "sse-no-cache" in diagnosis.codes


def test_a_close_delimited_http_1_0_body_streams_with_a_warning():
    with raw_server(http10_reply) as url:
        diagnosis = probe(url).diagnose()
    assert_clean(diagnosis)
    assert "close-delimited" in diagnosis.codes
    assert "browser-sniffs" not in diagnosis.codes  # it sends nosniff


# -- compression that does not flush ---------------------------------------------------------


def test_naive_gzip_middleware_is_named_with_and_without_the_server_side():
    with serve(NaiveGzipMiddleware(app)) as server:
        traced = server.get("/parts").diagnose()
        doctored = doctor(server.url + "/parts")
    assert_held(traced, "compression", "compression-no-flush")
    assert_held(doctored, "compression", "compression-no-flush")
    assert "identity" in " ".join(doctored.findings[0].evidence)


@pytest.mark.parametrize("algorithm", ["gzip", "deflate", "br", "zstd"])
def test_flask_compress_holds_the_stream_for_every_algorithm(algorithm):
    pytest.importorskip("flask_compress")
    with serve(zoo.flask_compress_app(algorithm)) as server:
        doctored = doctor(server.url + "/parts")
        traced = server.get("/parts", headers={"Accept-Encoding": algorithm})
    assert traced.headers.get("Content-Encoding") == algorithm
    assert traced.body.count(b"part ") == zoo.COUNT  # decoded, br and zstd included
    assert_held(doctored, "compression", "compression-no-flush")
    assert algorithm in doctored.findings[0].summary
    # One request alone: gzip and deflate send their header at once, which names the
    # compressor; br and zstd send nothing until the end, and from one request that looks
    # like an app that made it all late: it is not blamed on a guess.
    alone = traced.diagnose()
    if algorithm in ("gzip", "deflate"):
        assert_held(alone, "compression", "compression-no-flush")
    else:
        assert_held(alone, None, "held-somewhere")


# -- a middleware that collects the body, an app that makes everything first ------------------


def test_profiler_middleware_collecting_the_body_is_named_with_the_server_side():
    from werkzeug.middleware.profiler import ProfilerMiddleware

    with serve(ProfilerMiddleware(app, stream=io.StringIO())) as server:
        traced = server.get("/parts").diagnose()
        doctored = doctor(server.url + "/parts")
    assert_held(traced, "middleware", "middleware-collects-body")
    # From the client alone every variant is held, and nothing names the layer: say so.
    assert_held(doctored, None, "held-before-client")


def test_an_app_that_makes_everything_first_is_named():
    with serve(app) as server:
        diagnosis = server.get("/all-first").diagnose()
    assert_held(diagnosis, "app", "app-makes-all-first")


# -- the server cuts the stream --------------------------------------------------------------


def test_a_gunicorn_sync_worker_timeout_is_named():
    with serve(
        "production_app:app",
        server="gunicorn",
        cwd=APPS,
        worker_class="sync",
        timeout=2,
    ) as server:
        diagnosis = probe(server.url + "/parts?count=10&gap=0.5").diagnose()
    assert_held(diagnosis, "server", "server-worker-timeout")
    assert "--worker-class gthread" in diagnosis.findings[0].fix


# -- nginx -----------------------------------------------------------------------------------


@needs_nginx
def test_nginx_gzip_is_named_by_the_server_side_and_by_doctor():
    with serve(app, behind="nginx") as server:
        traced = server.get("/parts").diagnose()
        doctored = doctor(server.url + "/parts")
    # The server side: written on time, compressed and held after the socket.
    assert_held(traced, "proxy", "proxy-compression")
    # doctor: identity streams through the same nginx, gzip does not.
    assert_held(doctored, "compression", "compression-no-flush")
    assert "nginx" in doctored.findings[0].summary
    assert "X-Accel-Buffering: no" in doctored.findings[0].fix


@needs_nginx
def test_nginx_with_its_http_1_0_upstream_default_is_named():
    options = {"gzip": False, "http_version": "1.0"}
    with serve(app, behind="nginx", proxy_options=options) as server:
        traced = server.get("/parts").diagnose()
        doctored = doctor(server.url + "/parts")
    assert_held(traced, "proxy", "proxy-buffering")
    assert_held(doctored, "proxy", "proxy-buffering")
    assert "proxy_http_version 1.1" in doctored.findings[0].fix


@needs_nginx
def test_nginx_with_x_accel_buffering_no_is_not_blamed():
    with serve(app, behind="nginx") as server:
        doctored = doctor(server.url + "/accel-off")
    assert "gzip" in {t.headers.get("Content-Encoding") for t in doctored.traces}
    assert_clean(doctored)


# -- doctor itself ---------------------------------------------------------------------------


def test_doctor_lets_caller_headers_win_but_keeps_its_own_encodings_and_sends_no_duplicate():
    with serve(app) as server:
        diagnosis = doctor(
            server.url + "/parts",
            headers={"accept-encoding": "identity", "X-Test": "1"},
        )
    # The caller's Accept-Encoding made "as given" the identity request: sent once. The browser
    # encodings are the doctor's own, whatever the caller asked for.
    assert len(diagnosis.traces) == 3
    assert diagnosis.labels[0].startswith("as given")
    assert any(
        label.startswith("browser encodings (Accept-Encoding: gzip, deflate, br, zstd")
        for label in diagnosis.labels
    )
    assert_clean(diagnosis)


def test_doctor_runs_the_variants_at_once_and_bounds_endless_streams():
    endless = "/parts"

    with serve(endless_text_app) as server:
        started = time.monotonic()
        diagnosis = doctor(server.url + endless, max_seconds=1.0)
        took = time.monotonic() - started
    assert took < 3.5  # four 1 s requests, run at once (not one after another)
    assert all(trace.stopped for trace in diagnosis.traces)
    assert_clean(diagnosis)


def test_doctor_rejects_bad_arguments_and_reports_an_unreachable_url():
    from streamkit.probe import ProbeError

    with pytest.raises(ValueError):
        doctor("localhost:5000/x")
    with pytest.raises(ValueError):
        doctor("http://127.0.0.1:9/", timeout=0)
    with pytest.raises(ValueError):
        doctor("http://127.0.0.1:9/", max_seconds=-1)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProbeError, match="refused"):
        doctor(f"http://127.0.0.1:{port}/")


def test_diagnosis_text_and_html_escape_what_the_server_sent():
    assert printable("ok\r\nSet-Cookie: x\x1b[2J") == "ok\\r\\nSet-Cookie: x\\x1b[2J"
    with serve(NaiveGzipMiddleware(app)) as server:
        diagnosis = server.get("/parts").diagnose()
    text = str(diagnosis)
    assert "held back by: compression" in text and "[compression-no-flush]" in text
    page = diagnosis._repr_html_()
    assert "compression-no-flush" in page and "<img" in page


# -- servers the zoo needs that streamkit.serve does not run ---------------------------------


@contextmanager
def uvicorn_server(asgi_app) -> Iterator[str]:
    """uvicorn in a thread with its own event loop (as in a notebook), stopped on exit."""
    import asyncio

    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        asgi_app, host="127.0.0.1", port=port, loop="asyncio", log_level="critical",
        lifespan="off", timeout_graceful_shutdown=1,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
        assert not thread.is_alive()


def http10_reply(connection: socket.socket) -> None:
    """A bare HTTP/1.0 answer: no Content-Length, no chunking, the body ends at the close."""
    connection.sendall(
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"X-Content-Type-Options: nosniff\r\n\r\n"
    )
    for part in zoo.parts():
        connection.sendall(part.encode())


def test_a_layer_that_streams_only_accept_event_stream_is_found_by_comparison():
    """Like the proxy in front of JupyterHub/Binder kernels, which streams a response only
    when the request's Accept header is exactly text/event-stream (see NOTES.md)."""

    def only_event_stream(inner):
        def wsgi(environ, start_response):
            body = inner(environ, start_response)
            if environ.get("HTTP_ACCEPT") == "text/event-stream":
                return body
            try:
                return [b"".join(body)]
            finally:
                getattr(body, "close", lambda: None)()

        return wsgi

    with serve(only_event_stream(app)) as server:
        diagnosis = doctor(server.url + "/events")
    assert_held(diagnosis, "proxy", "proxy-needs-event-stream")


# -- hops, requests served one at a time, cuts after silence (issue 17) ---------------------


@needs_nginx
def test_the_hop_comparison_names_the_proxy_between_the_app_port_and_nginx():
    options = {"gzip": False, "http_version": "1.0"}
    with serve(app, behind="nginx", proxy_options=options) as server:
        doctored = doctor(server.url + "/parts", upstream=[server.backend.url + "/parts"])
        clean = doctor(server.url + "/accel-off", upstream=[server.backend.url + "/accel-off"])
    assert_held(doctored, "proxy", "proxy-buffering")
    first = doctored.findings[0]
    assert "proxy_http_version 1.1" in first.fix  # Server: nginx proves it at the front hop
    assert any(fact.startswith("hop 1: ") and "streamed" in fact for fact in first.evidence)
    assert any(server.url in fact and "held it" in fact for fact in first.evidence)
    assert len(doctored.hops) == 1 and doctored.to_dict()["hops"][0]["verdict"] == "streamed"
    assert_clean(clean)


def test_a_sync_gunicorn_worker_serves_one_stream_at_a_time_and_threads_do_not():
    path = "/parts?count=5&gap=0.2"
    with serve("production_app:app", server="gunicorn", cwd=APPS, worker_class="sync", workers=1) as server:
        one = doctor(server.url + path)
    with serve(
        "production_app:app", server="gunicorn", cwd=APPS, worker_class="gthread", threads=8
    ) as server:
        side = doctor(server.url + path)
    assert_clean(one)  # each request streamed: only the queue is reported
    queued = next(f for f in one.findings if f.code == "served-one-at-a-time")
    assert queued.warning and queued.culprit == "server"
    assert "--worker-class gthread" in queued.fix and "server-sent events" in " ".join(queued.evidence)
    assert sum("its headers waited" in fact for fact in queued.evidence) >= 2  # 4 requests, 1 worker
    assert_clean(side)
    assert "served-one-at-a-time" not in side.codes


@needs_nginx
def test_a_cut_after_silence_names_nginx_when_the_hop_behind_kept_going():
    def pause_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Content-Type-Options", "nosniff")])

        def body():
            yield b"first\n"
            time.sleep(0.2)
            yield b"second\n"
            time.sleep(2.5)  # silent longer than nginx's proxy_read_timeout below
            yield b"after the silence\n"

        return body()

    options = {"gzip": False, "buffering": False, "read_timeout": 1}
    with serve(pause_app, behind="nginx", proxy_options=options) as server:
        alone = doctor(server.url + "/")
        compared = doctor(server.url + "/", upstream=[server.backend.url + "/"])
    for diagnosis in (alone, compared):
        assert not diagnosis.streams and diagnosis.findings[0].code == "cut-after-silence", diagnosis
    assert alone.culprit == "proxy"  # Server: nginx proves the proxy: consistent with its timeout
    assert compared.culprit == "proxy" and "proxy_read_timeout" in compared.findings[0].fix
    assert any("kept going" in fact for fact in compared.findings[0].evidence)
    assert any("nothing arrived for" in fact for fact in compared.findings[0].evidence)


def test_doctor_sends_the_same_method_and_body_to_every_variant_and_hop():
    seen: list[tuple[str, bytes, str]] = []

    def echo_app(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        seen.append((environ["REQUEST_METHOD"], body, environ.get("HTTP_HOST", "")))
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Content-Type-Options", "nosniff")])
        return (part.encode() for part in zoo.parts())

    with serve(echo_app) as front, serve(echo_app) as behind:
        diagnosis = doctor(front.url + "/", json={"q": 1}, upstream=[behind.url + "/"])
    assert_clean(diagnosis)
    assert len(seen) == len(diagnosis.traces) + 1 == 5  # four variants and one hop
    assert {(method, body) for method, body, _ in seen} == {("POST", b'{"q":1}')}
    hosts = {host for _, _, host in seen}
    assert hosts == {front.url.split("//")[1], behind.url.split("//")[1]}  # only Host differs
    assert all(trace.method == "POST" for trace in diagnosis.traces + diagnosis.hops)


def test_the_callers_browser_encodings_do_not_replace_the_identity_request():
    # "Copy as cURL" from a browser passes Accept-Encoding: gzip, deflate, br, zstd: the doctor
    # still makes its identity request, names the compression, and names what it tried.
    pytest.importorskip("flask_compress")
    with serve(zoo.flask_compress_app("gzip")) as server:
        doctored = doctor(server.url + "/parts", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert any(label.startswith("identity") for label in doctored.labels)
    assert_held(doctored, "compression", "compression-no-flush")
    assert any("identity" in fact and "streamed" in fact for fact in doctored.findings[0].evidence)


def test_an_async_view_that_blocks_its_loop_is_named_as_the_app_under_uvicorn():
    pytest.importorskip("uvicorn")

    async def blocking_app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"x-content-type-options", b"nosniff")]})  # fmt: skip
        for i in range(5):
            if i:
                time.sleep(0.2)  # a blocking call in an async view: the loop serves nothing else
            await send({"type": "http.response.body", "body": f"part {i}\n".encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    with uvicorn_server(blocking_app) as url:
        diagnosis = doctor(url + "/")
    assert_clean(diagnosis)
    queued = next(f for f in diagnosis.findings if f.code == "served-one-at-a-time")
    assert queued.culprit == "app" and "asyncio.to_thread" in queued.fix
    assert "Server: uvicorn" in " ".join(queued.evidence)


def test_wsgiref_serves_one_at_a_time_and_an_endless_stream_makes_the_others_time_out():
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):  # no access log on stderr
            pass

    httpd = make_server("127.0.0.1", 0, endless_text_app, handler_class=Quiet)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_port}/"
        started = time.monotonic()
        diagnosis = doctor(url, timeout=1.0, max_seconds=2.0)
        took = time.monotonic() - started
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
    # One request got the only thread and streamed until max_seconds; the others gave up.
    assert len(diagnosis.traces) >= 1 and diagnosis.streams
    queued = next(f for f in diagnosis.findings if f.code == "served-one-at-a-time")
    assert queued.culprit == "server" and "ThreadingMixIn" in queued.fix
    assert any("no headers within" in fact for fact in queued.evidence)
    assert took < 6  # bounded by max_seconds and the timeout, not by four streams in a row
