"""uvicorn in a background thread with an event loop of its own, for ASGI apps in a notebook.

Serving layer. ``uvicorn.run(app)`` in a notebook cell fails ("asyncio.run() cannot be called
from a running event loop": the kernel runs one already), and even where it works it blocks
the cell and takes over the process's signals and logging. :class:`UvicornBackend` instead runs
``uvicorn.Server(config).serve()`` in a daemon thread, on a new asyncio loop that belongs to
that thread alone; the kernel's loop is never touched. It also

* binds the port itself, so a busy port is a clear :class:`OSError` raised by ``start()``;
* uses the plain asyncio loop (uvloop cannot run off the main thread) and installs no signal
  handlers (uvicorn only installs them from the main thread);
* prints nothing: no logging configuration (``log_config=None``), and every record uvicorn or
  the app's own logger (Quart's ``app.logger``) makes in this server's thread is kept in
  :attr:`UvicornBackend.log` instead; exceptions go to ``on_error``;
* stops promptly: ``stop()`` asks uvicorn to exit, lets open responses finish for
  ``grace`` seconds (0.1 by default), then cancels them, so an endless stream's async
  generator gets ``CancelledError`` and its ``finally`` runs; generators left suspended are
  closed when the loop shuts down. It returns in well under a second.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from streamkit.access import Gate, GateASGI
from streamkit.backends import ServerStartError, ServerUnavailable, http_url, listen, tail

try:
    import uvicorn
    from uvicorn.config import HTTP_PROTOCOLS
    from uvicorn.importer import import_from_string
except ImportError:  # pragma: no cover - depends on the environment
    uvicorn = None  # type: ignore[assignment]  # UvicornBackend() then says how to install it

__all__ = ["UvicornBackend"]

ErrorSink = Callable[[BaseException], None]

START_TIMEOUT = 10.0  # seconds for uvicorn's startup (the app's lifespan startup included)
GRACE = 0.1  # seconds open responses get to finish on stop() before they are cancelled
# Loggers whose records from a server thread are kept instead of printed.
LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "asyncio")


class _ThreadLogs(logging.Filter):
    """A logger filter that keeps the records made in a kit server's thread, and drops them.

    Installed on uvicorn's loggers (which every uvicorn in the process shares): records made in
    other threads pass on as usual, so a uvicorn the user runs elsewhere logs as it always did.
    """

    def __init__(self) -> None:
        super().__init__()
        self.sinks: dict[int, tuple[deque[str], ErrorSink]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        sink = self.sinks.get(record.thread or 0)
        if sink is None:
            return True
        lines, on_error = sink
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string in someone's log call
            message = str(record.msg)
        lines.append(f"{record.levelname}: {message}")
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and not isinstance(error, asyncio.CancelledError):
            on_error(error)
        return False


_filter = _ThreadLogs()
_filtered: set[str] = set()
_filter_lock = threading.Lock()


def _keep_logs_of(logger_names: list[str]) -> None:
    with _filter_lock:
        for name in logger_names:
            if name not in _filtered:
                logging.getLogger(name).addFilter(_filter)
                _filtered.add(name)


def _app_loggers(app: Any) -> list[str]:
    """Names of the app's own loggers (Quart and Flask have ``app.logger``), found through
    wrappers that keep the wrapped app in ``.app``."""
    names: list[str] = []
    seen = 0
    while app is not None and seen < 20:
        logger = getattr(app, "logger", None)
        if isinstance(logger, logging.Logger):
            names.append(logger.name)
        app = getattr(app, "app", None)
        seen += 1
    return names


if uvicorn is not None:

    class _Server(uvicorn.Server):
        """uvicorn's server, telling the starting thread when startup is over."""

        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.ready = threading.Event()

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            try:
                await super().startup(sockets=sockets)
            finally:
                self.ready.set()


def gated_protocol(base: type, gate: Gate) -> type:
    """uvicorn's HTTP protocol class ``base`` (one instance per connection), letting in only the
    requests ``gate`` allows: the peer's uid is looked up once, when the connection opens."""

    class Gated(base):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            server, client = self.server, self.client
            uid = gate.peer_uid(client, server) if server is not None and client is not None else None
            self.app: Any = GateASGI(self.app, gate, uid)

    Gated.__name__ = Gated.__qualname__ = f"Gated{base.__name__}"
    return Gated


class UvicornBackend:
    """Serve an ASGI app with uvicorn from a daemon thread that runs its own event loop.

    ``UvicornBackend(app, host="127.0.0.1", port=0, on_error=None, grace=0.1, **options)``;
    ``options`` go to :class:`uvicorn.Config` (for example ``http="h11"``,
    ``timeout_keep_alive=5``, ``lifespan="off"``). ``log`` keeps what uvicorn and the app's
    logger said, newest last. With a ``gate`` (see :mod:`streamkit.access`) only the requests
    it lets in reach the app.
    """

    name = "uvicorn"
    interface = "asgi"  # serve() wraps the app for ASGI and picks this backend for ASGI apps

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_error: ErrorSink | None = None,
        grace: float = GRACE,
        gate: Gate | None = None,
        **options: Any,
    ) -> None:
        if uvicorn is None:
            raise ServerUnavailable(
                "uvicorn is not installed: pip install 'streamkit-http[asgi]' (or uvicorn)"
            )
        for fixed in ("host", "port", "fd", "uds", "reload", "workers"):
            if fixed in options:
                raise TypeError(f"UvicornBackend sets {fixed!r} itself; it cannot be an option")
        self.app = app
        self.host = host
        self.port = port
        self.grace = grace
        self.gate = gate
        self.options = options
        self.on_error: ErrorSink = on_error or (lambda error: None)
        self.log: deque[str] = deque(maxlen=500)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        return http_url(self.host, self.port)

    def _config(self) -> Any:
        settings: dict[str, Any] = {
            "loop": "asyncio",  # uvloop cannot run off the main thread
            "log_config": None,  # never touch the process's logging configuration
            "timeout_graceful_shutdown": self.grace,
            "lifespan": "auto",
            "ws": "none",  # a streaming kit; websockets would also need an extra package
        }
        settings.update(self.options)
        if self.gate is not None:
            # The HTTP protocol class uvicorn would pick ("auto": httptools when installed),
            # wrapped so that each connection checks its peer once.
            http = settings.get("http", "auto")
            if isinstance(http, str):
                http = import_from_string(HTTP_PROTOCOLS.get(http, http))
            settings["http"] = gated_protocol(http, self.gate)
        return uvicorn.Config(self.app, **settings)

    def start(self) -> UvicornBackend:
        """Bind (a busy port is an OSError), start uvicorn's thread, return once it serves."""
        listener = listen(self.host, self.port, backlog=2048)
        self.host, self.port = listener.getsockname()[:2]
        try:
            server = _Server(self._config())
        except BaseException:
            listener.close()
            raise
        self._server = server
        _keep_logs_of([*LOGGERS, *_app_loggers(self.app)])
        self._thread = threading.Thread(
            target=self._run,
            args=(server, listener),
            name=f"streamkit-uvicorn-{self.port}",
            daemon=True,
        )
        self._thread.start()
        if not server.ready.wait(START_TIMEOUT) or not server.started:
            failure = self._failure
            self.stop()
            listener.close()
            detail = f": {type(failure).__name__}: {failure}" if failure is not None else ""
            raise ServerStartError(
                f"uvicorn did not start on {self.url}{detail}; it said:\n{tail(chr(10).join(self.log))}"
            )
        return self

    def _run(self, server: Any, listener: socket.socket) -> None:
        """The server thread: a loop of its own, uvicorn on it, everything closed at the end."""
        ident = threading.get_ident()
        _filter.sinks[ident] = (self.log, self.on_error)
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.set_exception_handler(self._loop_error)
        try:
            asyncio.set_event_loop(loop)  # this thread's loop only
            loop.run_until_complete(server.serve(sockets=[listener]))
        except BaseException as exc:  # noqa: BLE001 - SystemExit from a failed lifespan startup, too
            self._failure = exc
            self.log.append(f"ERROR: uvicorn stopped: {type(exc).__name__}: {exc}")
        finally:
            server.ready.set()
            try:
                self._finish(loop)
            finally:
                listener.close()
                asyncio.set_event_loop(None)
                loop.close()
                _filter.sinks.pop(ident, None)

    def _finish(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel what still runs on the loop and close suspended async generators (their
        ``finally`` runs), each step bounded so a stubborn app cannot hold up stop()."""
        tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks, timeout=0.5))
        loop.run_until_complete(asyncio.wait([loop.create_task(loop.shutdown_asyncgens())], timeout=0.5))

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """asyncio's own complaints (a task's exception never retrieved, ...): kept, not printed."""
        self.log.append(f"ERROR: asyncio: {context.get('message', 'error')}")
        error = context.get("exception")
        if isinstance(error, Exception):
            self.on_error(error)

    def stop(self, timeout: float = 1.0) -> None:
        """Ask uvicorn to exit, give open responses ``grace`` seconds, cancel the rest, join."""
        server, self._server = self._server, None
        if server is None:
            return
        server.should_exit = True  # uvicorn's main loop looks every 0.1 s
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():  # pragma: no cover - an app that ignores cancellation
                server.force_exit = True
                thread.join(0.5)
