"""Serve a WSGI app from a background thread, so the same notebook (or test) can request it.

``serve(app)`` picks a backend (werkzeug's threaded server by default, see
:mod:`streamkit.backends.werkzeug`), wraps the app so that its exceptions and its
``wsgi.errors`` output are kept instead of printed, starts it, and returns a :class:`Server`
once the port accepts connections. Re-running a notebook cell that serves under the same
``name`` replaces the old server; every server stops when the interpreter exits.

:meth:`Server.get` probes a path and adds the server's side of the story to the trace: when
the app produced each item, when the server wrote it, and the exception that broke the stream
(the measuring is done by :mod:`streamkit.traced`).

Other servers plug in as *backends* (see :data:`BACKENDS` and :mod:`streamkit.backends`), and
proxies such as nginx stand in front of any of them (:data:`PROXIES`).

Layer: serving. ``Server.get`` is the one call up into the measuring layer, imported when it
runs (the probe needs a server; a server does not need the probe to serve).
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.utils import import_string

from . import recording
from .access import Gate
from .backends import Backend, Proxy
from .backends.werkzeug import ErrorSink, WerkzeugBackend, WSGIApp
from .recording_asgi import ObservedASGI, is_asgi_app

if TYPE_CHECKING:
    from .display import Link
    from .trace import Trace

__all__ = ["BACKENDS", "PROXIES", "Server", "ServerStopped", "serve", "stop_all", "token_headers_for"]

log = logging.getLogger("streamkit.server")

KEEP_ERRORS = 100  # Server.errors keeps the most recent ones


# Known servers: a backend class, or an import string loaded when first used.
BACKENDS: dict[str, type | str] = {
    "werkzeug": WerkzeugBackend,
    "waitress": "streamkit.backends.waitress:WaitressBackend",
    # Takes an import string, not an app: it runs the app in worker processes of its own
    # (such a backend class says so with ``runs_elsewhere = True``).
    "gunicorn": "streamkit.backends.gunicorn:GunicornBackend",
    # ASGI apps (Starlette, FastAPI, Quart): a backend class for them says ``interface = "asgi"``.
    "uvicorn": "streamkit.backends.uvicorn:UvicornBackend",
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

    def failed(self, error: BaseException, traced: recording.Recording | None) -> None:
        self.on_error(error)
        if traced is not None and traced.error is None:
            traced.error_at = time.monotonic()
            traced.error = error

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["wsgi.errors"] = self.errors_stream
        traced = recording.lookup(environ)
        if traced is not None:
            environ[recording.RECORDING_KEY] = traced  # for the App inside (see streamkit.app)
        try:
            body = self.app(environ, start_response)
        except Exception as error:
            self.failed(error, traced)
            if traced is not None:
                traced.finished.set()
                traced.sent.set()
            raise
        return _ObservedBody(self, body, traced)


class _ObservedBody:
    def __init__(
        self, observed: _Observed, body: Iterable[bytes], traced: recording.Recording | None
    ) -> None:
        self._observed = observed
        self._body = body
        self._traced = traced

    def __iter__(self) -> Iterator[bytes]:
        # No pause for the probe: Server.get reads in the reader worker process (see
        # streamkit.reader), so a server thread that holds the GIL cannot delay its readings.
        try:
            for item in self._body:
                if not isinstance(item, bytes):
                    raise TypeError(
                        f"the app's response yielded {type(item).__name__} ({item!r:.40}); "
                        "a WSGI response body must yield bytes"
                    )
                yield item
        except Exception as error:
            self._observed.failed(error, self._traced)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        except Exception as error:
            self._observed.failed(error, self._traced)
            raise
        finally:
            if self._traced is not None:
                self._traced.finished.set()
                self._traced.sent.set()  # the server closes the body after its last write


# -- Server ----------------------------------------------------------------------------------

_registry_lock = threading.Lock()
_running: set[Server] = set()
_named: dict[str, Server] = {}


class ServerStopped(RuntimeError):
    """:meth:`Server.get` on a server that was stopped; the message says how to start it again."""


class Server:
    """A WSGI app served from a background thread. Made by :func:`serve`.

    ``url`` is where it listens (no trailing slash); ``errors`` holds the exceptions the app
    raised, with tracebacks; ``log`` holds what the app wrote to ``wsgi.errors`` (for an ASGI
    app on uvicorn: what uvicorn and the app's logger said);
    ``description`` says what serves it ("werkzeug", "gunicorn behind nginx"). ``stop()`` (or
    leaving a ``with`` block) closes the port and joins the thread.
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
        gate: Gate | None = None,
    ) -> None:
        self.app = app
        self.name = name
        self.gate = gate
        self.errors: list[BaseException] = []
        self.log: deque[str] = deque(maxlen=500)
        self._errors_lock = threading.Lock()
        self._started_in = _where_started()
        # A backend that runs the app in processes of its own gets the import string as it is.
        self.runs_elsewhere: bool = getattr(backend_class, "runs_elsewhere", False)
        served: Any = app
        if isinstance(app, str):  # serve() resolved import strings unless runs_elsewhere
            pass
        elif getattr(backend_class, "interface", "wsgi") == "asgi":
            served = ObservedASGI(app, self._note_error)  # type: ignore[arg-type]
        else:
            served = _Observed(app, self._note_error, _ErrorOutput(self.log))
        options = options or {}
        # Every backend and proxy implements the Backend / Proxy protocol of streamkit.backends.
        self._backend: Backend = backend_class(
            served, host, port, on_error=self._note_error, gate=gate, **options
        )
        self._backend.start()
        if served is not app and isinstance(served, ObservedASGI):
            # No wsgi.errors in ASGI: what uvicorn and the app's own logger said is the log.
            self.log = self._backend.log
        self.description: str = getattr(self._backend, "name", backend_class.__name__)
        self._proxy: Proxy | None = None
        if behind is not None:
            try:
                upstream = urlsplit(self._backend.url).netloc
                self._proxy = _proxy_class(behind)(
                    upstream, owner_only=gate is not None, **(proxy_options or {})
                ).start()
            except BaseException:
                self._backend.stop()
                raise
            self.description = f"{self.description} behind {behind}"

    def _note_error(self, error: BaseException) -> None:
        with self._errors_lock:
            if any(known is error for known in self.errors):
                return  # seen by both the app wrapper and the backend
            self.errors.append(error)
            del self.errors[:-KEEP_ERRORS]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return str((self._proxy or self._backend).url)

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
        return int((self._proxy or self._backend).port)

    @property
    def shared(self) -> bool:
        """True when anyone who can reach the port may use it (``serve(..., shared=True)``)."""
        return self.gate is None

    @property
    def token(self) -> str | None:
        """The server's secret (None when shared): ``url + "/?token=" + token`` opens it in a
        browser anywhere, and sets a cookie so the page's own requests get in too."""
        return self.gate.token if self.gate is not None else None

    @property
    def needs_token(self) -> bool:
        """True when a request must carry the token to get in: the server cannot tell which
        user opened a connection (not Linux, or ``STREAMKIT_ACCESS=token``; see :func:`serve`)."""
        return self.gate is not None and not self.gate.check_uid

    @property
    def access_headers(self) -> dict[str, str]:
        """Headers that let a request in wherever the owner's uid cannot be checked (not Linux,
        another machine): ``requests.get(server.url, headers=server.access_headers)``. Empty
        for a shared server. :meth:`get` sends them by itself."""
        return self.gate.headers if self.gate is not None else {}

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
        return f"<Server{name} {self.description} {self.url} {state}>"

    def link(self, path: str = "/") -> Link:
        """A link to ``path`` the learner can click (shown as a link in a notebook).

        In a notebook behind JupyterHub or Binder (``JUPYTERHUB_SERVICE_PREFIX`` set and
        jupyter-server-proxy installed) it goes through the proxy,
        ``{prefix}proxy/{port}{path}``, with one line saying what streams there: only requests
        whose Accept is exactly ``text/event-stream``. Elsewhere it is the plain loopback URL.
        Where uids cannot be checked (see :func:`serve`) it carries the token.
        """
        # The display layer sits above this one: imported when a link is asked for.
        from .display import link

        return link(self.url, self.port, path, token=self.token if self.needs_token else None)

    def check_running(self) -> None:
        """Raise :class:`ServerStopped`, in one line that says how to start it again, unless
        the server is running."""
        if self.running:
            return
        name = f"server {self.name!r}" if self.name is not None else f"the server at {self.url}"
        again = (
            f"run the cell that starts it again ({self._started_in})"
            if self._started_in
            else ("call serve() again")
        )
        raise ServerStopped(f"{name} was stopped; {again}")

    def get(self, path: str = "/", *, live: bool = False, **probe_options: Any) -> Trace:
        """Probe ``path`` on this server and add what the server saw (see :func:`probe`).

        The trace gets ``produced`` (when the app yielded each item: needs a streamkit App),
        ``written`` (when the server sent it), each matched to the chunk that carried its last
        byte (``Event.arrived``), and ``server_error``, the exception that broke the stream.
        A stopped server raises :class:`ServerStopped`.

        Every option of :func:`streamkit.probe` applies: ``method``, a body (``data=`` or
        ``json=``; a body without a method is a POST, see also :meth:`post`), ``headers``,
        ``events`` and ``content`` (how to split an event stream and where its text is), ...

        ``browser=True`` loads the path in headless Chromium instead of the probe: the client
        side is then the browser's, with ``browser_received`` and ``browser_shown`` (see
        :func:`streamkit.browser.browse`); ``follow="/events"`` records a request the page
        makes (such as its EventSource stream) rather than the page itself.
        """
        self.check_running()
        # The measuring layer sits above this one: imported when a probe is asked for.
        from .traced import get_traced

        return get_traced(self, path, live=live, **probe_options)

    def post(self, path: str = "/", *, live: bool = False, **probe_options: Any) -> Trace:
        """:meth:`get` with ``method="POST"``: send ``data=`` (bytes or text) or ``json=`` (any
        JSON-able value) as the body, e.g. ``server.post("/v1/chat/completions", json={...})``."""
        if probe_options.get("method") is None:
            probe_options["method"] = "POST"
        return self.get(path, live=live, **probe_options)


def _where_started() -> str | None:
    """``"In [7]"`` when serve() runs in a Jupyter cell (the cell to run again), else None."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    count = getattr(shell, "execution_count", None)
    return f"In [{count}]" if isinstance(count, int) else None


# -- serve() and the registry --------------------------------------------------------------


def serve(
    app: WSGIApp | str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    name: str | None = None,
    server: str | None = None,
    behind: str | None = None,
    proxy_options: dict[str, Any] | None = None,
    shared: bool = False,
    **options: Any,
) -> Server:
    """Serve ``app`` from a background thread and return the running :class:`Server`.

    ``app`` is any WSGI callable (a streamkit App, a Flask app, a plain function) or an import
    string such as ``"myapp:app"``. ``port=0`` picks a free port. Serving again under the same
    ``name`` stops the server that had it (re-running a notebook cell); every server stops when
    the interpreter exits. Binds loopback unless ``host`` says otherwise.

    ``server`` picks the WSGI server: ``"werkzeug"`` (the default), ``"waitress"`` (in a
    background thread), or ``"gunicorn"`` (a subprocess: ``app`` must then be an import string;
    ``cwd=`` says where to import it from). An ASGI app (an ``async`` callable such as a
    Starlette, FastAPI or Quart app) is served by ``"uvicorn"``, in a background thread with an
    event loop of its own; ``server="uvicorn"`` says so explicitly. Other keyword ``options`` go to the server's backend
    class, e.g. ``worker_class="sync", timeout=5`` for gunicorn (see :mod:`streamkit.backends`).
    ``behind="nginx"`` starts a real nginx in front of it, configured as production sites usually
    are, and ``url`` is then nginx's address. ``proxy_options`` change that configuration:

    * ``gzip`` (default True): nginx compresses text responses, and its gzip holds a slow stream
      back until its buffer fills or the response ends; False turns compression off;
    * ``buffering`` (default True): ``proxy_buffering``, nginx reads the app's response into its
      buffers before passing it on; False passes each piece on as it is read, and the gzip
      filter then flushes after every read too (an app can ask for that for one response with
      the header ``X-Accel-Buffering: no``);
    * ``read_timeout`` (seconds, default 60): ``proxy_read_timeout``, a stream that stays
      silent that long is cut off;
    * ``http_version`` (``"1.1"``, the default, or ``"1.0"``): how nginx talks to the app.

    Only the user who started the server gets in (see :mod:`streamkit.access`): on Linux the
    kernel says who opened each connection, so the owner's browser, ``requests`` and ``curl``
    need nothing; other users' requests get ``403`` and one line saying why, without reaching
    the app. Where the uid cannot be checked (another system; a connection from another machine,
    or through a container's published port; ``STREAMKIT_ACCESS=token`` in the environment) a
    request needs the server's ``token``, which :meth:`Server.get` and :func:`streamkit.probe`
    (for this process's servers) send by themselves (``server.access_headers`` for other
    clients, ``?token=`` in a browser). ``host`` says which network interfaces listen: ``"0.0.0.0"`` lets other machines connect, and they too need the
    token. ``shared=True`` drops the check: anyone who can reach the port uses the app, with
    whatever it can read and do as you.
    """
    if isinstance(app, str) and server in (None, "uvicorn"):
        app = import_string(app)
    asgi = not isinstance(app, str) and is_asgi_app(app)
    if server is None:
        server = "uvicorn" if asgi else "werkzeug"
    backend_class = _backend_class(server)
    speaks_asgi = getattr(backend_class, "interface", "wsgi") == "asgi"
    if asgi and not speaks_asgi:
        raise TypeError(
            f"{type(app).__name__} is an ASGI application (an async callable), and "
            f"server={server!r} serves WSGI apps; use server='uvicorn' (or leave server out)"
        )
    if speaks_asgi and not asgi and callable(getattr(app, "wsgi_app", None)):
        # Flask and streamkit Apps; other callables are taken at their word (a plain function
        # that returns a coroutine is an ASGI app too)
        raise TypeError(
            f"server={server!r} serves ASGI applications (async callables taking scope, receive, "
            f"send), and {type(app).__name__} is a WSGI app; leave server out to serve it "
            "with werkzeug"
        )
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
        gate=None if shared else Gate(),
    )
    with _registry_lock:
        _running.add(running)
        if name is not None:
            _named[name] = running
    if not _is_loopback(running.backend.host):
        log.warning(
            "serving on %s: other machines can reach %s, %s (pass host='127.0.0.1' to keep it local)",
            host,
            running.url,
            "and use it: shared=True" if shared else "with the server's token",
        )
    return running


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def token_headers_for(url: str) -> dict[str, str]:
    """The token header for ``url`` when it belongs to a running server of this process that
    asks for its token (see :mod:`streamkit.access`: not Linux, or ``STREAMKIT_ACCESS=token``);
    else nothing. :func:`streamkit.probe` adds it, so ``probe(server.url + path)`` and
    ``doctor(...)`` work wherever ``server.get`` does; on Linux it adds nothing."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return {}
    host = parts.hostname or ""
    with _registry_lock:
        servers = list(_running)
    for running in servers:
        if not running.needs_token or port != running.port:
            continue
        listening = running.url.split("//", 1)[1].rsplit(":", 1)[0].strip("[]")
        if host == listening or (_is_loopback(host) and _is_loopback(listening)):
            return running.access_headers
    return {}


def stop_all() -> None:
    """Stop every server this process started (also runs at interpreter exit)."""
    with _registry_lock:
        servers = list(_running)
    for running in servers:
        running.stop()


atexit.register(stop_all)
