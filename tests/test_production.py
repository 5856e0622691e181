"""Production servers and a real nginx in front, measured with the probe (gzip middlewares: test_compression.py).

Every test starts real servers on 127.0.0.1 and reads real sockets. Timing asserts are ratios
of the stream's own spread (parts ``GAP`` seconds apart), never absolute milliseconds.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from streamkit import probe, serve
from streamkit.backends import ServerStartError, ServerUnavailable
from streamkit.backends.gunicorn import GunicornBackend
from streamkit.backends.nginx import NginxProxy
from streamkit.backends.waitress import WaitressBackend
from tests.conftest import (
    APPS,
    PARTS,
    SLOW,
    app,
    assert_held_back,
    assert_streamed,
    needs_nginx,
    pieces,
)

# A stream that runs for LONG_SECONDS unless stopped: stop() must return long before it would end.
LONG_COUNT, LONG_GAP = 200, 0.1
LONG_SECONDS = LONG_COUNT * LONG_GAP
LONG = f"/parts?count={LONG_COUNT}&gap={LONG_GAP}"


def stop_during_long_stream(backend) -> float:
    """Start the LONG stream on ``backend``, stop the backend mid-stream; seconds stop() took."""
    client = socket.create_connection(("127.0.0.1", backend.port))
    try:
        client.sendall(f"GET {LONG} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        assert client.recv(100).startswith(b"HTTP/1.1 200")
    finally:
        started = time.monotonic()
        backend.stop()
        took = time.monotonic() - started
        client.close()
    return took


def port_closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


def group_gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- waitress ------------------------------------------------------------------------------


def test_waitress_streams_each_part_as_it_is_made():
    with serve(app, server="waitress") as server:
        assert server.description == "waitress"
        trace = server.get(SLOW)
    assert_streamed(trace)
    assert trace.body.count(b"part ") == PARTS
    assert trace.produced is not None and len(trace.produced) == PARTS
    # waitress notes when each item reached the socket: one per part, in time order
    assert trace.written is not None and len(trace.written) == PARTS
    assert [event.t for event in trace.written] == sorted(event.t for event in trace.written)


def test_waitress_records_app_errors_instead_of_printing(capfd):
    def failing(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first part\n"
        raise RuntimeError("the app broke mid-stream")

    with serve(failing, server="waitress") as server:
        trace = server.get("/")
    assert trace.verdict == "broken"
    assert trace.body == b"first part\n"
    assert [type(error) for error in server.errors] == [RuntimeError]
    assert str(server.errors[0]) == "the app broke mid-stream"
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_waitress_stop_is_prompt_and_leaves_nothing_behind():
    threads_before = set(threading.enumerate())
    backend = WaitressBackend(app).start()
    port = backend.port
    # a client in the middle of a long stream must not hold stop() up
    took = stop_during_long_stream(backend)
    # "well under a second" in the contract; 2.5 s (1/8 of the stream) leaves room for a busy machine
    assert took < LONG_SECONDS / 8, f"stop() took {took:.1f} s with a {LONG_SECONDS:.0f} s stream running"
    assert port_closed(port)
    deadline = time.monotonic() + 2
    while set(threading.enumerate()) - threads_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert set(threading.enumerate()) - threads_before == set()


def test_waitress_stop_works_after_waitress_closed_its_own_trigger():
    """waitress closes its wake-up pipe itself when handling it fails (once in a CI run, stop()
    then died in os.write with EBADF and left the server up). stop() must still close it all."""
    threads_before = set(threading.enumerate())
    backend = WaitressBackend(app).start()
    port = backend.port
    server = backend._server
    assert server is not None
    closed = threading.Event()

    def close_trigger() -> None:  # runs in waitress's loop thread, as its own error handling does
        server.trigger.close()
        closed.set()

    server.trigger.pull_trigger(close_trigger)
    assert closed.wait(5)
    # The closed pipe's descriptor numbers are free again, and the next file opened takes them
    # (here a pipe of the test's own; in a full run, any thread's socket or pipe). Its write
    # end must not be written to: the old stop() wrote the wake-up byte there, raised nothing,
    # and the server stayed up.
    other_read, other_write = os.pipe()
    os.set_blocking(other_read, False)
    try:
        backend.stop()
        with pytest.raises(BlockingIOError):
            os.read(other_read, 10)
    finally:
        os.close(other_read)
        os.close(other_write)
    assert port_closed(port)
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - threads_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert set(threading.enumerate()) - threads_before == set()


# -- gunicorn ------------------------------------------------------------------------------


def test_gunicorn_streams_each_part_as_it_is_made():
    with serve("production_app:app", server="gunicorn", cwd=APPS) as server:
        pid = int(probe(server.url + "/pid").body)
        trace = server.get(SLOW)
    assert pid != os.getpid()  # really served by a gunicorn worker process
    assert_streamed(trace)
    # the recording lives in this process, the app in gunicorn's worker: say so
    assert trace.produced is None and trace.written is None
    assert "gunicorn" in trace.note and "process" in trace.note


def test_gunicorn_start_failure_shows_its_stderr():
    started = time.monotonic()
    with pytest.raises(ServerStartError) as caught:
        serve("production_app:broken()", server="gunicorn", cwd=APPS)
    message = str(caught.value)
    assert "the test app refuses to load (on purpose)" in message  # the app's own error
    assert "production_app:broken()" in message
    assert "exited with code" in message
    assert time.monotonic() - started < 20  # noticed when gunicorn exited, not at a timeout


def test_gunicorn_missing_module_names_it():
    with pytest.raises(ServerStartError, match="No module named 'no_such_module_here'"):
        serve("no_such_module_here:app", server="gunicorn", cwd=APPS)


@pytest.mark.parametrize(
    ("target", "error", "words"),
    [
        (app, TypeError, "import string"),
        ("production_app", ValueError, "module:attr"),
        ("production_app:app; rm -rf /", ValueError, "module:attr"),
    ],
)
def test_gunicorn_needs_an_import_string(target, error, words):
    with pytest.raises(error, match=words):
        GunicornBackend(target)
    if not isinstance(target, str):
        with pytest.raises(TypeError, match="import string"):
            serve(target, server="gunicorn")


def test_gunicorn_stop_ends_the_whole_process_group():
    backend = GunicornBackend("production_app:app", cwd=APPS, workers=2).start()
    group, port = backend.process.pid, backend.port
    took = stop_during_long_stream(backend)
    # stop() did not wait for the stream; a quarter of it covers the SIGKILL fallback's grace time
    assert took < LONG_SECONDS / 4, f"stop() took {took:.1f} s with a {LONG_SECONDS:.0f} s stream running"
    assert group_gone(group)
    assert port_closed(port)
    assert "worker ready" in backend.log  # the log outlives the process


def test_gunicorn_sync_worker_timeout_cuts_a_long_stream_gthread_does_not():
    """The sync worker must finish each response within ``timeout``; gthread keeps beating."""
    # About 4.5 s against a 2 s worker timeout. (gthread reports to the arbiter about once a
    # second, so a 1 s timeout could kill even the gthread worker by chance.)
    long_stream = "/parts?count=10&gap=0.5"
    with serve("production_app:app", server="gunicorn", cwd=APPS, worker_class="sync", timeout=2) as server:
        cut = server.get(long_stream)
        killed_log = server.backend.log
    assert cut.verdict == "broken"
    assert cut.error is not None
    assert 1 <= len(pieces(cut)) < 10
    assert "WORKER TIMEOUT" in killed_log

    with serve(
        "production_app:app", server="gunicorn", cwd=APPS, worker_class="gthread", timeout=2
    ) as server:
        whole = server.get(long_stream)
    assert whole.error is None
    assert len(pieces(whole)) == 10


# -- nginx in front ------------------------------------------------------------------------


@needs_nginx
def test_nginx_with_gzip_holds_a_text_stream_back():
    with serve(app, behind="nginx") as server:
        assert server.description == "werkzeug behind nginx"
        proxy = server.proxy
        assert server.url == proxy.url and server.url != server.backend.url
        trace = server.get(SLOW)
    assert trace.headers.get("Server", "").startswith("nginx")
    assert trace.headers.get("Content-Encoding") == "gzip"
    assert trace.body.count(b"part ") == PARTS
    assert trace.wire_size < trace.size
    assert_held_back(trace)
    # the app produced its parts over time; nginx let them go only at the end
    produced = trace.produced
    assert produced is not None and len(produced) == PARTS
    assert pieces(trace)[0].t >= produced[-1].t
    assert trace.verdict == "buffered"


@needs_nginx
def test_nginx_streams_when_the_app_says_x_accel_buffering_no():
    with serve(app, server="waitress", behind="nginx") as server:
        trace = server.get(SLOW + "&accel=no")
    assert trace.headers.get("Content-Encoding") == "gzip"  # still compressed, yet streamed
    assert_streamed(trace)


@needs_nginx
def test_nginx_in_front_of_gunicorn_holds_the_stream_back_too():
    with serve("production_app:app", server="gunicorn", cwd=APPS, behind="nginx") as server:
        trace = server.get(SLOW)
    assert_held_back(trace)
    assert trace.body.count(b"part ") == PARTS


@needs_nginx
def test_nginx_stop_removes_process_port_and_temporary_directory():
    with serve(app) as upstream:
        proxy = NginxProxy(f"127.0.0.1:{upstream.port}").start()
        try:
            directory, group, port = proxy.directory, proxy.process.pid, proxy.port
            assert os.path.isdir(directory)
            assert "proxy_buffering on;" in proxy.config and "gzip on;" in proxy.config
            assert probe(proxy.url + "/pid").status == 200
        finally:
            proxy.stop()
    assert not os.path.exists(directory)
    assert group_gone(group)
    assert port_closed(port)
    proxy.stop()  # a second stop is harmless


@needs_nginx
def test_nginx_start_failure_shows_what_nginx_said():
    proxy = NginxProxy("127.0.0.1:99999")  # nginx refuses the config: invalid upstream port
    with pytest.raises(ServerStartError, match="invalid port") as caught:
        proxy.start()
    assert "nginx in front of 127.0.0.1:99999" in str(caught.value)
    assert proxy.directory is None and proxy.process is None  # cleaned up


@needs_nginx
def test_nginx_on_a_busy_port_is_a_clear_oserror():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        with pytest.raises(OSError, match=f"port {taken} on 127.0.0.1 is already in use"):
            NginxProxy("127.0.0.1:9", port=taken).start()


def test_missing_nginx_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setenv("STREAMKIT_NGINX", str(tmp_path / "nginx"))  # hidden: not there
    threads_before = set(threading.enumerate())
    with pytest.raises(ServerUnavailable, match="nginx-light"):
        serve(app, behind="nginx")
    # the server started for the app was stopped again
    deadline = time.monotonic() + 2
    while set(threading.enumerate()) - threads_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert set(threading.enumerate()) - threads_before == set()


def test_unknown_proxy_is_refused_before_anything_starts():
    with pytest.raises(ValueError, match="unknown proxy 'apache'"):
        serve(app, behind="apache")


@pytest.mark.parametrize(
    "host, url",
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("0.0.0.0", "http://127.0.0.1:8000"),  # every interface: reached on loopback
        ("::", "http://[::1]:8000"),
        ("::1", "http://[::1]:8000"),
    ],
)
def test_every_backend_names_a_local_url_the_same_way(host: str, url: str) -> None:
    from streamkit.backends import http_url

    assert http_url(host, 8000) == url
