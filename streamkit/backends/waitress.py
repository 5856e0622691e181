"""waitress in a background thread of this process, streaming each item as soon as it is yielded.

waitress hands each item the app yields to its connection ("channel"), and with ``send_bytes``
at its default of 1 the channel sends it from the worker thread at once; with no
``Content-Length`` on an HTTP/1.1 request it sends each item as one HTTP chunk, and its default
socket options set TCP_NODELAY. So a streaming app streams under waitress as it is; this module
only adds what the kit needs around it:

* a clean, prompt ``stop()`` (waitress itself runs until the process is told to quit);
* errors recorded instead of printed: the app's exceptions go to ``on_error`` and waitress's
  own log messages to ``log``, through a logger that belongs to this server alone;
* the time each item reaches the socket, noted in the request's :mod:`streamkit.recording`.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from streamkit import recording
from streamkit.access import SOCKET_KEY, Gate, GateWSGI
from streamkit.backends import ServerStartError, ServerUnavailable, http_url

try:
    from waitress.channel import ClientDisconnected, HTTPChannel
    from waitress.server import create_server
    from waitress.task import WSGITask
except ImportError:  # pragma: no cover - depends on the environment
    create_server = None  # WaitressBackend() then says how to install waitress

__all__ = ["WaitressBackend"]


class _LogList(logging.Handler):
    """Keep waitress's log messages in a bounded list instead of printing them."""

    def __init__(self, keep: deque[str]) -> None:
        super().__init__(logging.DEBUG)
        self.keep = keep

    def emit(self, record: logging.LogRecord) -> None:
        self.keep.append(f"{record.levelname}: {record.getMessage()}")


class WaitressBackend:
    """Serve a WSGI app with waitress from a daemon thread.

    ``WaitressBackend(app, host="127.0.0.1", port=0, threads=8, on_error=None, **adjustments)``;
    ``adjustments`` go to :func:`waitress.server.create_server` (for example
    ``channel_timeout=...``). With a ``gate`` (see :mod:`streamkit.access`) only the requests
    it lets in reach the app.
    """

    name = "waitress"

    def __init__(
        self,
        app: Callable,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        threads: int = 8,
        on_error: Callable[[BaseException], None] | None = None,
        gate: Gate | None = None,
        **adjustments: Any,
    ) -> None:
        if create_server is None:
            raise ServerUnavailable(
                "waitress is not installed: pip install 'streamkit-http[servers]' (or waitress)"
            )
        self.app = app
        self.gate = gate
        self.host = host
        self.port = port
        self.threads = threads
        self.adjustments = adjustments
        self.on_error = on_error or (lambda exc: None)
        self.log: deque[str] = deque(maxlen=200)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return http_url(self.host, self.port)

    def _classes(self) -> tuple[Any, Any]:  # classes made here, on waitress's untyped ones
        """A task and a channel class for this server alone: its logger, recording, errors."""
        logger = logging.Logger(f"streamkit.waitress.{id(self)}")  # not in the global registry
        logger.addHandler(_LogList(self.log))
        on_error = self.on_error

        class Task(WSGITask):
            def execute(self) -> None:
                try:
                    super().execute()
                except ClientDisconnected:
                    raise  # the client left: not the app's fault
                except Exception as exc:
                    on_error(exc)
                    raise

            def get_environment(self) -> Any:
                environ = super().get_environment()
                environ[SOCKET_KEY] = self.channel.socket  # the gate's once-per-connection check
                return environ

            def write(self, data: bytes) -> None:
                super().write(data)
                if data:
                    noted = recording.lookup(self.environ or {})
                    if noted is not None:
                        noted.written.append((time.monotonic(), len(data)))

        Task.logger = logger

        class Channel(HTTPChannel):
            task_class = Task

        Channel.logger = logger
        return Task, Channel

    def start(self) -> WaitressBackend:
        """Bind, start the serving thread, and return once the port accepts connections."""
        task_class, channel_class = self._classes()
        try:
            server = create_server(
                GateWSGI(self.app, self.gate) if self.gate is not None else self.app,
                host=self.host,
                port=self.port,
                threads=self.threads,
                ident="streamkit-waitress",
                **self.adjustments,
            )
        except OSError as exc:
            raise OSError(
                exc.errno, f"waitress cannot listen on {self.host}:{self.port}: {exc.strerror}"
            ) from None
        server.channel_class = channel_class
        server.logger = channel_class.logger
        server.task_dispatcher.logger = channel_class.logger
        self._server = server
        self.port = server.effective_port
        self._thread = threading.Thread(
            target=self._loop, args=(server,), name=f"streamkit-waitress-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._thread.is_alive():  # pragma: no cover - run() returned at once
            raise ServerStartError(f"waitress stopped right after starting on {self.url}")
        return self

    def _loop(self, server: Any) -> None:
        """waitress's loop, in the serving thread. A socket that :meth:`stop` closed under a
        ``select`` in progress ends it with EBADF: that is the stop, not an error."""
        try:
            server.run()
        except OSError:
            if self._server is server:  # not stopping: a real error
                raise

    def stop(self, timeout: float = 1.0) -> None:
        """Close every connection and the listening socket from the loop thread, then join it.

        Streams still running see their client gone at their next item: waitress raises in the
        worker thread and closes the app's iterable.
        """
        server, self._server = self._server, None
        if server is None:
            return
        socket_map = server._map

        def close_everything() -> None:  # in waitress's loop thread (or, its trigger gone, here)
            for dispatcher in list(socket_map.values()):
                dispatcher.close()  # the loop ends once its map is empty

        # waitress closes its wake-up pipe itself when handling it failed, and takes it out of
        # the map. Then its loop no longer wakes up for us, and the pipe's descriptor numbers may
        # already belong to another file of this process: pulling the trigger would write into
        # that file (or fail with EBADF). So a trigger that left the map is not pulled: the rest
        # is closed from here, and the loop, if it still runs, ends once its map is empty (or at
        # the closed sockets' error).
        def close_from_here() -> None:
            # A select() in progress in the loop thread keeps every socket it waits on open (the
            # port would still accept) until it returns. Shutting them down first ends the
            # listening at once and wakes that select.
            for dispatcher in list(socket_map.values()):
                sock = getattr(dispatcher, "socket", None)
                if isinstance(sock, socket.socket):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            close_everything()

        if any(dispatcher is server.trigger for dispatcher in list(socket_map.values())):
            try:
                server.trigger.pull_trigger(close_everything)
            except OSError:  # closed between the look and the pull
                close_from_here()
        else:
            close_from_here()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        # Let the worker threads finish the task they are on; they are daemons, so a stream
        # that never yields again cannot hold up the interpreter.
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=min(timeout, 0.5))
