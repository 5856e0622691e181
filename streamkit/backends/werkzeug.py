"""werkzeug's threaded development server, set up for streaming: the default backend of ``serve()``.

:class:`WerkzeugBackend` runs werkzeug's threaded server in a daemon thread with a request
handler of the kit's own (:class:`StreamingRequestHandler`), which

* speaks HTTP/1.1, so a response without Content-Length goes out chunked, one chunk per item
  (set on this class: werkzeug's threaded server would otherwise switch *its shared* handler
  class to HTTP/1.1, changing every later server in the process);
* sets TCP_NODELAY, so a small chunk is not held back waiting for more;
* sends each item with one system call (werkzeug writes the chunk size, the data and the CRLF
  separately, which costs three extra syscalls per item);
* prints nothing: no access log, and errors go to the ``on_error`` callback (output from a
  server thread would land in whichever notebook cell happens to be running).

It also notes in the request's recording when each item was written (``written``).

Layer: serving. Imports only the core's neighbours in this layer (:mod:`streamkit.recording`).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.serving import (
    ThreadedWSGIServer,
    WSGIRequestHandler,
)

from .. import recording
from ..access import Gate, GateWSGI
from . import http_url, listen

__all__ = ["ErrorSink", "StreamingRequestHandler", "WSGIApp", "WerkzeugBackend"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ErrorSink = Callable[[BaseException], None]

STOP_TIMEOUT = 0.5  # how long stop() waits for running requests to notice the closed sockets
POLL_INTERVAL = 0.02  # how often the serving loop checks whether stop() was asked for


class _GatheringWriter:
    """The handler's ``wfile``: collects what werkzeug writes and sends it at ``flush()``.

    werkzeug writes one item as size line, data, CRLF, then flushes; sending the pieces with one
    ``sendmsg`` (scatter/gather, no copy) makes that one system call instead of four.
    """

    closed = False

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> int:
        if not self._pending and data == b"0\r\n\r\n":
            # The end of a chunked body is written without a flush after it, and werkzeug then
            # spends ~10 ms looking for unread request data: send it now.
            self._sock.sendall(data)
        else:
            self._pending.append(data)
        return len(data)

    def flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        self._pending = []
        if len(pending) == 1:
            self._sock.sendall(pending[0])
            return
        sent = self._sock.sendmsg(pending)
        total = sum(map(len, pending))
        if sent < total:  # a partial send: rare on a blocking socket, but possible
            self._sock.sendall(b"".join(pending)[sent:])

    def close(self) -> None:
        self._pending = []
        self.closed = True


class StreamingRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, set up for streaming and silence."""

    protocol_version = "HTTP/1.1"  # chunked responses; set here, never on werkzeug's class
    disable_nagle_algorithm = True  # TCP_NODELAY, set by socketserver in setup()

    def setup(self) -> None:
        super().setup()
        self.wfile = _GatheringWriter(self.connection)  # type: ignore[assignment]

    def run_wsgi(self) -> None:
        # An HTTP/1.0 client cannot read a chunked body: answer it in HTTP/1.0, where the body
        # simply ends when the connection closes. (An instance attribute: this connection only.)
        if self.request_version != "HTTP/1.1":
            self.protocol_version = "HTTP/1.0"
        super().run_wsgi()
        if getattr(self, "_headers_buffer", None):
            # The headers failed half-way (a malformed header from the app: the error is in
            # Server.errors) and were never sent. Close the connection, so the client learns at
            # once instead of waiting, on a kept-alive connection, for an answer never coming.
            self._headers_buffer: list[bytes] = []
            self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No access log."""

    def log(self, type: str, message: str, *args: Any) -> None:
        """Nothing is printed; errors reach Server.errors through the server."""


class _ThreadedServer(ThreadedWSGIServer):
    """werkzeug's threaded server that records instead of printing, and can end its requests."""

    def __init__(self, *args: Any, on_error: ErrorSink, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_error = on_error
        self._active: dict[socket.socket, threading.Thread] = {}
        self._active_lock = threading.Lock()

    def log(self, type: str, message: str, *args: Any) -> None:
        # werkzeug calls this while handling an exception it caught (e.g. a non-bytes item).
        error = sys.exc_info()[1]
        if type == "error" and error is not None:
            self.on_error(error)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver would print the traceback to stderr.
        error = sys.exc_info()[1]
        if error is not None:
            self.on_error(error)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._active_lock:
            self._active[request] = threading.current_thread()
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._active_lock:
                self._active.pop(request, None)

    def end_requests(self, timeout: float) -> None:
        """Shut down every open connection, so running streams fail at their next write and
        close their app iterables; wait up to ``timeout`` for their threads to finish."""
        with self._active_lock:
            active = list(self._active.items())
        for connection, _ in active:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for _, thread in active:
            if thread is not threading.current_thread():  # stop() called from a request
                thread.join(max(deadline - time.monotonic(), 0))


class _NoteWritten:
    """Note in the request's recording when werkzeug has sent each item.

    werkzeug writes and flushes an item before it asks the app for the next one, so the moment
    it asks is the moment the previous item left.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = self.app(environ, start_response)
        traced = recording.lookup(environ)
        if traced is None:
            return body
        return _WrittenBody(body, traced.written)


class _WrittenBody:
    def __init__(self, body: Iterable[bytes], written: list[tuple[float, int]]) -> None:
        self._body = body
        self._written = written

    def __iter__(self) -> Iterator[bytes]:
        monotonic = time.monotonic
        for item in self._body:
            yield item
            if item:
                self._written.append((monotonic(), len(item)))

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


class WerkzeugBackend:
    """werkzeug's threaded server in a daemon thread, with :class:`StreamingRequestHandler`.

    With a ``gate`` (see :mod:`streamkit.access`) only the requests it lets in reach the app.
    """

    name = "werkzeug"

    def __init__(
        self,
        app: WSGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_error: ErrorSink | None = None,
        gate: Gate | None = None,
    ) -> None:
        self.app = app
        self.gate = gate
        self.host = host
        self.port = port
        self.on_error: ErrorSink = on_error or (lambda error: None)
        self._server: _ThreadedServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return http_url(self.host, self.port)

    def start(self) -> WerkzeugBackend:
        """Bind (a busy port is an OSError, never werkzeug's sys.exit), start serving, return."""
        listener = listen(self.host, self.port)
        app: WSGIApp = _NoteWritten(self.app)
        if self.gate is not None:  # outermost: a refused request reaches nothing of the app's
            app = GateWSGI(app, self.gate)
        try:
            # werkzeug takes over a listening socket given by its file descriptor (a dup).
            server = _ThreadedServer(
                self.host,
                listener.getsockname()[1],
                app,
                handler=StreamingRequestHandler,
                fd=listener.fileno(),
                on_error=self.on_error,
            )
        finally:
            listener.close()
        self._server = server
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            # stop() waits up to one poll for the loop to notice: 20 ms keeps a test's server
            # start + stop well under 50 ms (benchmarks/bench_testing.py), for 50 idle
            # wake-ups a second.
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"streamkit-werkzeug-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Close the port, end running requests, join the serving thread."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()  # returns within poll_interval; serve_forever then closes the port
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        server.server_close()
        server.end_requests(timeout)
