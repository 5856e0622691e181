"""ASGI apps under a real uvicorn on 127.0.0.1: serving, recording, stopping, leaks.

Timing asserts compare the order of events, or spreads against the stream's own gaps, never
absolute milliseconds (the machine is shared).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from streamkit import App, Response, serve
from streamkit.backends import ServerStartError, port_open
from streamkit.backends.uvicorn import UvicornBackend
from streamkit.recording_asgi import ASGIWatchMiddleware, ObservedASGI, is_asgi_app
from tests.conftest import needs_nginx

GAP = 0.1
PARTS = 5


def pieces(trace: Any) -> list[Any]:
    return [chunk for chunk in trace.chunks if chunk.size]


class Finally:
    """Counts how many generators ran their ``finally`` (thread-safe, waitable)."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def ran(self) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def wait_for(self, n: int, timeout: float = 10.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count >= n, timeout)


def starlette_app(closed: Finally | None = None, started: threading.Event | None = None) -> Starlette:
    """/parts (async, awaits between parts), /blocking (time.sleep in an async generator),
    /sync (a plain generator: Starlette runs it in its threadpool), /endless, /broken."""

    def count_and_gap(request: Request) -> tuple[int, float]:
        return int(request.query_params.get("count", PARTS)), float(request.query_params.get("gap", GAP))

    async def parts(request: Request) -> StreamingResponse:
        count, gap = count_and_gap(request)

        async def body():
            try:
                for i in range(count):
                    if started is not None:
                        started.set()
                    yield f"part {i}\n"
                    await asyncio.sleep(gap)
            finally:
                if closed is not None:
                    closed.ran()

        return StreamingResponse(body(), media_type="text/plain")

    async def blocking(request: Request) -> StreamingResponse:
        count, gap = count_and_gap(request)

        async def body():
            for i in range(count):
                if started is not None:
                    started.set()
                yield f"part {i}\n"
                time.sleep(gap)  # noqa: ASYNC251 - the mistake: blocks the event loop

        return StreamingResponse(body(), media_type="text/plain")

    async def sync(request: Request) -> StreamingResponse:
        count, gap = count_and_gap(request)

        def body():
            for i in range(count):
                if started is not None:
                    started.set()
                yield f"part {i}\n"
                time.sleep(gap)  # fine here: this runs in a worker thread

        return StreamingResponse(body(), media_type="text/plain")

    async def endless(request: Request) -> StreamingResponse:
        async def body():
            try:
                while True:
                    yield "tick\n"
                    await asyncio.sleep(0.05)
            finally:
                if closed is not None:
                    closed.ran()

        return StreamingResponse(body(), media_type="text/plain")

    async def broken(request: Request) -> StreamingResponse:
        async def body():
            yield "first part\n"
            raise RuntimeError("the app broke mid-stream")

        return StreamingResponse(body(), media_type="text/plain")

    return Starlette(
        routes=[
            Route("/parts", parts),
            Route("/blocking", blocking),
            Route("/sync", sync),
            Route("/endless", endless),
            Route("/broken", broken),
        ]
    )


def overlapping(server: Any, path: str, started: threading.Event) -> tuple[Any, Any]:
    """Request ``path`` twice: the second once the first's app has begun its stream."""
    got: dict[str, Any] = {}

    def first() -> None:
        got["a"] = server.get(path)

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(5), "the first request never reached the app"
    time.sleep(GAP / 2)  # into the first stream's gaps
    got["b"] = server.get(path)
    thread.join(10)
    return got["a"], got["b"]


def first_byte(trace: Any) -> float:
    return trace.started + pieces(trace)[0].t


def last_byte(trace: Any) -> float:
    return trace.started + pieces(trace)[-1].t


# -- serving and recording -------------------------------------------------------------


def test_a_slow_async_stream_arrives_in_five_pieces_and_is_recorded() -> None:
    with serve(starlette_app()) as server:
        assert server.description == "uvicorn"
        trace = server.get("/parts")
    got = pieces(trace)
    assert trace.status == 200 and trace.error is None and trace.server_error is None
    assert len(got) == PARTS, [(round(c.t, 3), c.size) for c in trace.chunks]
    assert got[-1].t - got[0].t >= 0.5 * (PARTS - 1) * GAP
    assert got[0].t < 0.5 * got[-1].t
    assert trace.body == b"".join(f"part {i}\n".encode() for i in range(PARTS))
    assert trace.produced is not None and len(trace.produced) == PARTS
    assert trace.written is not None and len(trace.written) == PARTS
    for made, sent in zip(trace.produced, trace.written):
        assert made.t <= sent.t and made.size == sent.size == 7
        assert made.arrived is not None
    assert trace.verdict == "streamed"
    assert trace.note is None


def test_a_blocking_call_in_an_async_generator_stalls_the_next_request() -> None:
    started = threading.Event()
    with serve(starlette_app(started=started)) as server:
        a, b = overlapping(server, "/blocking", started)
        started.clear()
        c, d = overlapping(server, "/parts", started)
    for trace in (a, b, c, d):
        assert trace.status == 200 and len(pieces(trace)) == PARTS, trace
    # time.sleep: the second request's first byte waits for the whole first stream
    assert first_byte(b) >= last_byte(a)
    # await asyncio.sleep: the second starts while the first is still streaming
    assert first_byte(d) < last_byte(c)


def test_a_sync_generator_runs_in_the_threadpool_and_does_not_stall() -> None:
    started = threading.Event()
    with serve(starlette_app(started=started)) as server:
        a, b = overlapping(server, "/sync", started)
    for trace in (a, b):
        assert trace.status == 200 and len(pieces(trace)) == PARTS and trace.verdict == "streamed"
    assert first_byte(b) < last_byte(a)


def test_app_errors_are_recorded_never_printed(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with serve(starlette_app()) as server:
        trace = server.get("/broken")
    assert trace.verdict == "broken"
    assert trace.body == b"first part\n"
    assert isinstance(trace.server_error, RuntimeError)
    assert [type(error) for error in server.errors] == [RuntimeError]
    assert str(server.errors[0]) == "the app broke mid-stream"
    assert any("Exception in ASGI application" in line for line in server.backend.log)
    assert server.log is server.backend.log
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_watch_middleware_inside_gzip_times_the_apps_own_pieces() -> None:
    app = starlette_app()
    app.add_middleware(ASGIWatchMiddleware)  # added first: innermost
    app.add_middleware(GZipMiddleware, minimum_size=1)
    with serve(app) as server:
        trace = server.get("/parts")
    assert trace.headers["Content-Encoding"] == "gzip"
    assert trace.produced is not None and [event.size for event in trace.produced] == [7] * PARTS
    # the server wrote compressed bytes: its sizes add up to the bytes on the wire
    assert trace.written is not None and sum(event.size for event in trace.written) == trace.wire_size
    assert trace.wire_size != trace.size
    assert trace.verdict == "streamed"
    assert trace.note is None


def test_middleware_without_a_watcher_inside_is_named_in_the_note() -> None:
    app = starlette_app()
    app.add_middleware(GZipMiddleware, minimum_size=1)
    with serve(app) as server:
        trace = server.get("/parts")
    # produced was noted where the kit could see it: after the gzip middleware
    assert trace.produced is not None and sum(event.size for event in trace.produced) == trace.wire_size
    assert trace.note is not None and "GZipMiddleware" in trace.note and "ASGIWatchMiddleware" in trace.note


def test_an_untraced_request_is_not_recorded_and_any_async_callable_is_served() -> None:
    calls: list[str] = []

    async def bare(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        calls.append(scope["path"])
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        for i in range(3):
            await send({"type": "http.response.body", "body": b"x%d\n" % i, "more_body": True})
            await asyncio.sleep(0.02)
        await send({"type": "http.response.body", "body": b""})

    assert is_asgi_app(bare)
    with serve(bare) as server:
        trace = server.get("/here")
        from streamkit import probe

        plain = probe(server.url + "/there")
    assert calls == ["/here", "/there"]
    assert trace.produced is not None and len(trace.produced) == 3
    assert plain.produced is None and plain.body == b"x0\nx1\nx2\n"


# -- detection ---------------------------------------------------------------------------


def test_asgi_apps_are_told_from_wsgi_apps() -> None:
    fastapi = pytest.importorskip("fastapi")
    quart = pytest.importorskip("quart")
    assert is_asgi_app(starlette_app())
    assert is_asgi_app(fastapi.FastAPI())
    assert is_asgi_app(quart.Quart(__name__))
    assert is_asgi_app(ASGIWatchMiddleware(starlette_app()))
    assert not is_asgi_app(App(__name__))
    assert not is_asgi_app(lambda environ, start_response: [])
    assert not is_asgi_app("module:app")


def test_the_wrong_server_for_the_app_is_a_clear_type_error() -> None:
    with pytest.raises(TypeError, match="ASGI application"):
        serve(starlette_app(), server="werkzeug")
    with pytest.raises(TypeError, match="is a WSGI app"):
        serve(App(__name__), server="uvicorn")


def test_server_uvicorn_takes_an_asgi_app_it_cannot_recognise() -> None:
    async def inner(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})

    def app(scope: dict, receive: Callable, send: Callable) -> Any:
        return inner(scope, receive, send)  # a plain function returning the coroutine

    assert not is_asgi_app(app)
    with serve(app, server="uvicorn") as server:
        trace = server.get("/")
    assert trace.body == b"hello" and trace.produced is not None and len(trace.produced) == 1


def test_a_fastapi_app_streams_from_serve() -> None:
    fastapi = pytest.importorskip("fastapi")
    api = fastapi.FastAPI()

    @api.get("/tokens")
    async def tokens() -> StreamingResponse:
        async def body():
            for word in ("one ", "two ", "three "):
                yield word
                await asyncio.sleep(GAP)

        return StreamingResponse(body(), media_type="text/plain")

    with serve(api, name="test-fastapi") as server:
        trace = server.get("/tokens")
    assert trace.body == b"one two three "
    assert len(pieces(trace)) == 3 and trace.verdict == "streamed"
    assert trace.produced is not None and len(trace.produced) == 3


def test_quart_stream_with_context_streams_and_prints_nothing(
    capfd: pytest.CaptureFixture[str],
) -> None:
    quart = pytest.importorskip("quart")
    app = quart.Quart(__name__)

    @app.route("/hello")
    async def hello():
        @quart.stream_with_context
        async def body():
            for i in range(3):
                yield f"{quart.request.args['name']} {i}\n".encode()
                await asyncio.sleep(GAP)

        return body(), {"Content-Type": "text/plain"}

    @app.route("/fails")
    async def fails():
        raise ValueError("the view failed")

    with serve(app, name="test-quart") as server:
        trace = server.get("/hello?name=ada")
        failed = server.get("/fails")
    assert trace.body == b"ada 0\nada 1\nada 2\n"
    assert len(pieces(trace)) == 3 and trace.verdict == "streamed"
    assert failed.status == 500
    assert any("the view failed" in line or "Exception on request" in line for line in server.backend.log)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# -- ports, stopping, leaks --------------------------------------------------------------


def test_a_busy_port_is_a_clear_oserror() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"port {port} on 127.0.0.1 is already in use"):
            UvicornBackend(starlette_app(), port=port).start()


def test_a_failed_startup_is_a_server_start_error() -> None:
    async def refuses(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "no database"})

    threads = set(threading.enumerate())
    with pytest.raises(ServerStartError, match="no database"):
        UvicornBackend(ObservedASGI(refuses, lambda error: None), lifespan="on").start()
    assert set(threading.enumerate()) <= threads


def test_stop_with_an_endless_stream_open_is_prompt_and_runs_finally() -> None:
    closed = Finally()
    server = serve(starlette_app(closed=closed), name="test-endless")
    port = server.port
    client = socket.create_connection(("127.0.0.1", port))
    try:
        client.sendall(b"GET /endless HTTP/1.1\r\nHost: test\r\n\r\n")
        assert client.recv(100).startswith(b"HTTP/1.1 200")
        began = time.monotonic()
        server.stop()
        took = time.monotonic() - began
    finally:
        client.close()
    assert took < 3, took  # about 0.3 s; generous for a shared machine
    assert closed.wait_for(1, timeout=0.1), "the generator's finally had not run when stop() returned"
    assert not port_open("127.0.0.1", port)


def test_clients_that_leave_mid_stream_close_their_generators() -> None:
    closed = Finally()
    clients = 100
    with serve(starlette_app(closed=closed), name="test-leavers") as server:
        for _ in range(clients):
            with socket.create_connection(("127.0.0.1", server.port)) as client:
                client.sendall(b"GET /parts?count=1000&gap=0.02 HTTP/1.1\r\nHost: test\r\n\r\n")
                assert b"part 0" in client.recv(1000) or b"part 0" in client.recv(1000)
        assert closed.wait_for(clients), f"only {closed.count} of {clients} generators were closed"
        trace = server.get("/parts?count=2&gap=0")
        assert trace.status == 200 and trace.body == b"part 0\npart 1\n"
        assert server.errors == []


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_serving_again_under_a_name_leaks_no_thread_and_no_fd() -> None:
    app = starlette_app()

    def cell() -> Any:
        server = serve(app, name="test-rerun")
        assert server.get("/parts?count=2&gap=0").body == b"part 0\npart 1\n"
        return server

    cell().stop()  # imports, lazily made objects
    threads, fds = set(threading.enumerate()), open_fds()
    servers = [cell() for _ in range(30)]
    assert [server.running for server in servers] == [False] * 29 + [True]
    servers[-1].stop()
    assert not any(port_open("127.0.0.1", server.port) for server in servers)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and (set(threading.enumerate()) - threads or open_fds() - fds):
        time.sleep(0.05)
    assert set(threading.enumerate()) - threads == set()
    assert open_fds() - fds == set()


def test_a_wsgi_and_an_asgi_server_side_by_side() -> None:
    wsgi = App(__name__)

    @wsgi.route("/parts")
    def parts() -> Response:
        def body():
            for i in range(PARTS):
                yield f"part {i}\n"
                time.sleep(GAP)

        return Response(body(), mimetype="text/plain")

    with serve(wsgi) as threaded, serve(starlette_app()) as evented:
        assert threaded.description == "werkzeug" and evented.description == "uvicorn"
        a, b = threaded.get("/parts"), evented.get("/parts")
    assert a.body == b.body
    for trace in (a, b):
        assert len(pieces(trace)) == PARTS and trace.verdict == "streamed"
        assert trace.produced is not None and len(trace.produced) == PARTS


def test_quart_closes_the_generators_of_clients_that_leave() -> None:
    quart = pytest.importorskip("quart")
    closed = Finally()
    app = quart.Quart(__name__)

    @app.route("/endless")
    async def endless():
        async def body():
            try:
                while True:
                    yield b"tick\n"
                    await asyncio.sleep(0.02)
            finally:
                closed.ran()

        return body(), {"Content-Type": "text/plain"}

    clients = 20
    with serve(app, name="test-quart-leavers") as server:
        for _ in range(clients):
            with socket.create_connection(("127.0.0.1", server.port)) as client:
                client.sendall(b"GET /endless HTTP/1.1\r\nHost: test\r\n\r\n")
                assert client.recv(1000).startswith(b"HTTP/1.1 200")
        assert closed.wait_for(clients), f"only {closed.count} of {clients} generators were closed"
        assert server.errors == []


class CollectBody:
    """An ASGI middleware that gathers every body message and sends the body once, at the end."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kept: list[dict] = []

        async def keep(message: dict) -> None:
            kept.append(message)

        await self.app(scope, receive, keep)
        body = b"".join(m.get("body", b"") for m in kept if m["type"] == "http.response.body")
        await send(kept[0])
        await send({"type": "http.response.body", "body": body})


def test_a_collecting_middleware_shows_as_produced_over_time_and_written_late() -> None:
    app = starlette_app()
    app.add_middleware(ASGIWatchMiddleware)
    app.add_middleware(CollectBody)
    with serve(app) as server:
        trace = server.get("/parts")
    assert trace.verdict == "buffered"
    assert trace.produced is not None and len(trace.produced) == PARTS
    assert trace.written is not None and len(trace.written) == 1
    assert trace.written[0].t >= trace.produced[-1].t
    diagnose = getattr(trace, "diagnose", None)
    if diagnose is not None:  # the diagnosis layer, where it exists
        assert diagnose().culprit == "middleware"


@needs_nginx
def test_an_asgi_app_behind_nginx_is_held_by_gzip_unless_it_says_x_accel_buffering_no() -> None:
    async def parts(request: Request) -> StreamingResponse:
        async def body():
            for i in range(PARTS):
                yield f"part {i}\n"
                await asyncio.sleep(GAP)

        headers = {"X-Accel-Buffering": "no"} if request.url.path == "/accel" else None
        return StreamingResponse(body(), media_type="text/plain", headers=headers)

    app = Starlette(routes=[Route("/parts", parts), Route("/accel", parts)])
    with serve(app, behind="nginx") as server:
        assert server.description == "uvicorn behind nginx"
        held, passed = server.get("/parts"), server.get("/accel")
    assert held.verdict == "buffered" and len(pieces(held)) == 1
    assert held.written is not None and len(held.written) == PARTS  # uvicorn wrote each on time
    assert passed.verdict == "streamed" and len(pieces(passed)) == PARTS
