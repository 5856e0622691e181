"""Serve a WSGI app from a background thread, so the same notebook (or test) can request it.

``serve(app)`` starts werkzeug's threaded development server with a request handler of the
kit's own, and returns a :class:`Server` once the port accepts connections. The handler

* speaks HTTP/1.1, so a response without Content-Length goes out chunked, one chunk per item
  (set on this class: werkzeug's threaded server would otherwise switch *its shared* handler
  class to HTTP/1.1, changing every later server in the process);
* sets TCP_NODELAY, so a small chunk is not held back waiting for more;
* sends each item with one system call (werkzeug writes the chunk size, the data and the CRLF
  separately, which costs three extra syscalls per item);
* prints nothing: no access log, and the app's exceptions are kept in :attr:`Server.errors`
  with their tracebacks (output from a server thread would land in whichever notebook cell
  happens to be running).

:meth:`Server.get` probes a path and adds the server's side of the story to the trace: when
the app produced each item, when the server wrote it, and the exception that broke the stream.

Other servers plug in as *backends*: a class taking ``(app, host, port, on_error=...)`` with
``start()``, ``stop()`` and ``url``; see :data:`BACKENDS`.
"""

from __future__ import annotations

import atexit
import errno
import ipaddress
import logging
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, select_address_family
from werkzeug.utils import import_string

from . import recording
from .backends import http_url
from .probe import _live_view, read_response
from .trace import Event, Trace, arrivals

__all__ = ["BACKENDS", "PROXIES", "Server", "StreamingRequestHandler", "WerkzeugBackend", "serve"]

log = logging.getLogger("streamkit.server")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ErrorSink = Callable[[BaseException], None]

KEEP_ERRORS = 100  # Server.errors keeps the most recent ones
SHARE_GIL_EVERY = 0.002  # seconds; see _ObservedBody
STOP_TIMEOUT = 0.5  # how long stop() waits for running requests to notice the closed sockets


# -- the werkzeug backend ------------------------------------------------------------------


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
        noted = recording.lookup(environ)
        if noted is None:
            return body
        return _WrittenBody(body, noted.written)


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


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a clear OSError when that is not possible."""
    family = select_address_family(host, port)
    try:
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = (
                f"port {port} on {host} is already in use; stop whatever serves it, or pick "
                "another port (port=0 picks a free one)"
            )
        elif exc.errno == errno.EACCES:
            reason = f"no permission to listen on port {port} on {host}"
        else:
            reason = f"cannot listen on {host} port {port}: {exc.strerror or exc}"
        raise OSError(exc.errno, reason) from None


class WerkzeugBackend:
    """werkzeug's threaded server in a daemon thread, with :class:`StreamingRequestHandler`."""

    name = "werkzeug"

    def __init__(
        self,
        app: WSGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_error: ErrorSink | None = None,
    ) -> None:
        self.app = app
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
        listener = _listen(self.host, self.port)
        try:
            # werkzeug takes over a listening socket given by its file descriptor (a dup).
            server = _ThreadedServer(
                self.host,
                listener.getsockname()[1],
                _NoteWritten(self.app),
                handler=StreamingRequestHandler,
                fd=listener.fileno(),
                on_error=self.on_error,
            )
        finally:
            listener.close()
        self._server = server
        self.host = server.server_address[0]
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
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


# Known servers: a backend class, or an import string loaded when first used.
BACKENDS: dict[str, type | str] = {
    "werkzeug": WerkzeugBackend,
    "waitress": "streamkit.backends.waitress:WaitressBackend",
    # Takes an import string, not an app: it runs the app in worker processes of its own
    # (such a backend class says so with ``runs_elsewhere = True``).
    "gunicorn": "streamkit.backends.gunicorn:GunicornBackend",
}

# Proxies that can stand in front of any backend: ``serve(app, behind="nginx")``.
PROXIES: dict[str, str] = {
    "nginx": "streamkit.backends.nginx:NginxProxy",
}


def _backend_class(server: str) -> type:
    if server not in BACKENDS:
        raise ValueError(f"unknown server {server!r}: choose one of {', '.join(sorted(BACKENDS))}")
    backend = BACKENDS[server]
    return import_string(backend) if isinstance(backend, str) else backend


def _proxy_class(behind: str) -> type:
    if behind not in PROXIES:
        raise ValueError(f"unknown proxy {behind!r}: choose one of {', '.join(sorted(PROXIES))}")
    return import_string(PROXIES[behind])


# -- what every backend gets: an app whose errors and output are recorded ----------------


class _ErrorOutput:
    """``wsgi.errors`` for the served app: lines kept in :attr:`Server.log`, never printed."""

    def __init__(self, lines: deque[str]) -> None:
        self._lines = lines

    def write(self, text: str) -> int:
        for line in str(text).splitlines():
            if line.strip():
                self._lines.append(line)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


class _Observed:
    """Wrap the served app: note its exceptions, and when its response body has been closed."""

    def __init__(self, app: WSGIApp, on_error: ErrorSink, errors_stream: _ErrorOutput) -> None:
        self.app = app
        self.on_error = on_error
        self.errors_stream = errors_stream

    def failed(self, error: BaseException, noted: recording.Recording | None) -> None:
        self.on_error(error)
        if noted is not None and noted.error is None:
            noted.error_at = time.monotonic()
            noted.error = error

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["wsgi.errors"] = self.errors_stream
        noted = recording.lookup(environ)
        try:
            body = self.app(environ, start_response)
        except Exception as error:
            self.failed(error, noted)
            if noted is not None:
                noted.finished.set()
                noted.sent.set()
            raise
        return _ObservedBody(self, body, noted)


class _ObservedBody:
    def __init__(self, observed: _Observed, body: Iterable[bytes], noted: recording.Recording | None) -> None:
        self._observed = observed
        self._body = body
        self._noted = noted

    def __iter__(self) -> Iterator[bytes]:
        # A traced request comes from Server.get in this very process. A server thread that
        # makes items without pause holds the GIL almost all the time, and the probe's thread
        # would only get to read once the socket buffers are full: every chunk would look
        # late. So every few ms, between items, give the GIL away for a moment.
        share = self._noted is not None
        monotonic = time.monotonic
        last = monotonic()
        try:
            for item in self._body:
                if not isinstance(item, bytes):
                    raise TypeError(
                        f"the app's response yielded {type(item).__name__} ({item!r:.40}); "
                        "a WSGI response body must yield bytes"
                    )
                yield item
                if share and monotonic() - last > SHARE_GIL_EVERY:
                    time.sleep(0)
                    last = monotonic()
        except Exception as error:
            self._observed.failed(error, self._noted)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        except Exception as error:
            self._observed.failed(error, self._noted)
            raise
        finally:
            if self._noted is not None:
                self._noted.finished.set()
                self._noted.sent.set()  # the server closes the body after its last write


# -- Server ----------------------------------------------------------------------------------

_registry_lock = threading.Lock()
_running: set[Server] = set()
_named: dict[str, Server] = {}


class Server:
    """A WSGI app served from a background thread. Made by :func:`serve`.

    ``url`` is where it listens (no trailing slash); ``errors`` holds the exceptions the app
    raised, with tracebacks; ``log`` holds what the app wrote to ``wsgi.errors``. ``stop()``
    (or leaving a ``with`` block) closes the port and joins the thread.
    """

    def __init__(
        self,
        app: WSGIApp | str,
        backend_class: type,
        *,
        host: str,
        port: int,
        name: str | None,
        behind: str | None = None,
        options: dict[str, Any] | None = None,
        proxy_options: dict[str, Any] | None = None,
    ) -> None:
        self.app = app
        self.name = name
        self.errors: list[BaseException] = []
        self.log: deque[str] = deque(maxlen=500)
        self._errors_lock = threading.Lock()
        # A backend that runs the app in processes of its own gets the import string as it is.
        self._elsewhere = getattr(backend_class, "runs_elsewhere", False)
        served = app
        if not self._elsewhere:
            served = _Observed(app, self._note_error, _ErrorOutput(self.log))
        options = options or {}
        self._backend = backend_class(served, host, port, on_error=self._note_error, **options)
        self._backend.start()
        self.server = getattr(self._backend, "name", backend_class.__name__)
        self._proxy: Any = None
        if behind is not None:
            try:
                upstream = urlsplit(self._backend.url).netloc
                self._proxy = _proxy_class(behind)(upstream, **(proxy_options or {})).start()
            except BaseException:
                self._backend.stop()
                raise
            self.server = f"{self.server} behind {behind}"

    def _note_error(self, error: BaseException) -> None:
        with self._errors_lock:
            if any(known is error for known in self.errors):
                return  # seen by both the app wrapper and the backend
            self.errors.append(error)
            del self.errors[:-KEEP_ERRORS]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return (self._proxy or self._backend).url

    @property
    def backend(self) -> Any:
        """The server running the app, e.g. a ``GunicornBackend`` (its ``log`` has gunicorn's
        messages, such as "WORKER TIMEOUT")."""
        return self._backend

    @property
    def proxy(self) -> Any:
        """The proxy in front (a ``NginxProxy``, with its ``config`` and ``log``), or None."""
        return self._proxy

    @property
    def port(self) -> int:
        return (self._proxy or self._backend).port

    @property
    def running(self) -> bool:
        return self in _running

    def stop(self) -> None:
        """Close the port, end running requests and join the server thread. Safe to repeat."""
        with _registry_lock:
            _running.discard(self)
            if self.name is not None and _named.get(self.name) is self:
                del _named[self.name]
        proxy, self._proxy = self._proxy, None
        try:
            if proxy is not None:
                proxy.stop()
        finally:
            self._backend.stop()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name is not None else ""
        state = "running" if self.running else "stopped"
        return f"<Server{name} {self.server} {self.url} {state}>"

    def get(self, path: str = "/", *, live: bool = False, **probe_options: Any) -> Trace:
        """Probe ``path`` on this server and add what the server saw (see :func:`probe`).

        The trace gets ``produced`` (when the app yielded each item: needs a streamkit App),
        ``written`` (when the server sent it), each matched to the chunk that carried its last
        byte (``Event.arrived``), and ``server_error``, the exception that broke the stream.
        """
        if not path.startswith("/"):
            path = "/" + path
        headers = dict(probe_options.pop("headers", None) or {})
        trace_id = uuid.uuid4().hex
        headers[recording.TRACE_HEADER] = trace_id
        view = _live_view(live)
        noted = recording.start(trace_id)
        try:
            trace = read_response(
                self.url + path,
                headers=headers,
                on_chunk=view.update if view is not None else None,
                **probe_options,
            )
            # The client has it all; the server closes the response moments later (after
            # noting its last write: the app's own body may have been closed long before).
            done = self._elsewhere or noted.sent.wait(
                0.5 if (trace.error or trace.stopped) else 2.0
            )
        finally:
            recording.finish(trace_id)
        if self._elsewhere:
            trace.note = (
                f"no produced or written times: {self._backend.name} runs the app in worker "
                "processes of its own, and the recording lives in this process"
            )
        else:
            _add_server_side(trace, noted, done)
        if view is not None:
            view.close(trace)
        return trace


def _add_server_side(trace: Trace, noted: recording.Recording, done: bool) -> None:
    """Copy a recording into the trace, as seconds since the request started, matched to chunks."""
    start = trace.started
    produced = [Event(t - start, size, parts) for t, size, parts in list(noted.produced)]
    written = [Event(t - start, size) for t, size in list(noted.written)]
    for events in (produced, written):
        # Each list in its own measure: the app's items in decoded bytes, the server's writes in
        # bytes on the wire when a middleware compressed them (see streamkit.trace.carriers).
        for event, when in zip(events, arrivals(events, trace.chunks)):
            event.arrived = when
    trace.produced = produced or None
    trace.written = written or None
    trace.server_error = noted.error
    if noted.error_at is not None:
        trace.server_error_at = noted.error_at - start
    notes = [trace.note] if trace.note else []
    if not produced and trace.size:
        notes.append(
            "no produced times: a streamkit App records when each item was made; for other "
            "apps wrap them with streamkit.recording.WatchMiddleware"
        )
    if not done:
        notes.append("the server was still sending when the probe ended; its side is shown so far")
    trace.note = "; ".join(notes) or None


# -- serve() and the registry --------------------------------------------------------------


def serve(
    app: WSGIApp | str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    name: str | None = None,
    server: str = "werkzeug",
    behind: str | None = None,
    proxy_options: dict[str, Any] | None = None,
    **options: Any,
) -> Server:
    """Serve ``app`` from a background thread and return the running :class:`Server`.

    ``app`` is any WSGI callable (a streamkit App, a Flask app, a plain function) or an import
    string such as ``"myapp:app"``. ``port=0`` picks a free port. Serving again under the same
    ``name`` stops the server that had it (re-running a notebook cell); every server stops when
    the interpreter exits. Binds loopback unless ``host`` says otherwise.

    ``server`` picks the WSGI server: ``"werkzeug"`` (the default), ``"waitress"`` (in a
    background thread), or ``"gunicorn"`` (a subprocess: ``app`` must then be an import string;
    ``cwd=`` says where to import it from). Other keyword ``options`` go to the server's backend
    class, e.g. ``worker_class="sync", timeout=5`` for gunicorn (see :mod:`streamkit.backends`).
    ``behind="nginx"`` starts a real nginx in front of it, configured as production sites usually
    are (proxy buffering and gzip on; ``proxy_options`` such as ``gzip=False`` change that), and
    ``url`` is then nginx's address.
    """
    backend_class = _backend_class(server)
    if getattr(backend_class, "runs_elsewhere", False):
        if not isinstance(app, str):
            raise TypeError(
                f"server={server!r} runs the app in processes of its own, so it needs an import "
                f"string such as 'myapp:app', not a {type(app).__name__} object"
            )
    elif isinstance(app, str):
        app = import_string(app)
    if not isinstance(app, str) and not callable(app):
        raise TypeError(f"serve() needs a WSGI application (a callable), got {type(app).__name__}")
    if behind is not None:
        _proxy_class(behind)  # an unknown proxy name fails before anything starts
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer from 0 to 65535, got {port!r}")
    if name is not None:
        with _registry_lock:
            old = _named.get(name)
        if old is not None:
            old.stop()
    running = Server(
        app,
        backend_class,
        host=host,
        port=port,
        name=name,
        behind=behind,
        options=options,
        proxy_options=proxy_options,
    )
    with _registry_lock:
        _running.add(running)
        if name is not None:
            _named[name] = running
    if not _is_loopback(running._backend.host):
        log.warning(
            "serving on %s: other machines can reach %s (pass host='127.0.0.1' to keep it local)",
            host,
            running.url,
        )
    return running


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def stop_all() -> None:
    """Stop every server this process started (also runs at interpreter exit)."""
    with _registry_lock:
        servers = list(_running)
    for running in servers:
        running.stop()


atexit.register(stop_all)
