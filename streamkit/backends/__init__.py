"""Production servers for :func:`streamkit.serve`: waitress, gunicorn, and nginx in front.

Each backend is a small class with the same shape:

* ``start()`` returns once the port accepts connections (or raises :class:`ServerStartError`
  with whatever the server said about why it could not start);
* ``host``, ``port`` and ``url`` say where it listens;
* ``stop()`` returns promptly and leaves no thread, process, port or temporary file behind.

* :class:`~streamkit.backends.waitress.WaitressBackend` runs waitress in a background thread of
  this process;
* :class:`~streamkit.backends.gunicorn.GunicornBackend` runs gunicorn as a subprocess, from an
  import string such as ``"myapp:app"``;
* :class:`~streamkit.backends.nginx.NginxProxy` runs a real nginx with a production-like
  configuration in front of any of them.

Layer: serving. This module holds what every backend and proxy shares: the :class:`Backend` and
:class:`Proxy` protocols (the contract :func:`streamkit.serve` relies on), the start-up errors,
port helpers, and :func:`stop_process_group` for the ones that run in subprocesses.
"""

from __future__ import annotations

import atexit
import errno
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Backend",
    "Proxy",
    "ServerStartError",
    "ServerUnavailable",
    "check_port_free",
    "free_port",
    "http_url",
    "listen",
    "port_open",
    "port_to_bind",
    "stop_process_group",
    "tail",
    "wait_for_port",
]


@runtime_checkable
class Backend(Protocol):
    """A server that runs a WSGI app on ``host:port`` for :func:`streamkit.serve`.

    A backend class is built as ``Backend(app, host, port, *, on_error=callable, gate=gate,
    **options)``: ``app`` is the WSGI app, or an import string such as ``"myapp:app"`` when the
    class says ``runs_elsewhere = True`` (it runs the app in processes of its own); ``on_error``
    is called with each exception the app raises, when the backend can see them; ``gate`` (a
    :class:`streamkit.access.Gate`, or None for a shared server) decides who may use the app,
    checked before the app sees a request; ``options`` are the backend's own settings. ``port``
    0 means "any free port": after ``start()`` it holds the real one.
    """

    name: str
    host: str
    port: int

    @property
    def url(self) -> str:
        """Where a local client reaches the server, e.g. ``http://127.0.0.1:5000``."""
        ...

    def start(self) -> Backend:
        """Return (self) once the port accepts connections; raise :class:`ServerStartError`
        (with what the server said) when it does not come up."""
        ...

    def stop(self) -> None:
        """Return promptly, leaving no thread, process, port or temporary file behind."""
        ...


@runtime_checkable
class Proxy(Protocol):
    """A reverse proxy in front of a running backend: ``serve(app, behind="nginx")``.

    A proxy class is built as ``Proxy(upstream, **options)``, ``upstream`` being the backend's
    ``"host:port"``. ``config`` is the configuration it runs with (text, once started) and
    ``log`` what it has logged so far.
    """

    name: str
    port: int

    @property
    def url(self) -> str: ...

    @property
    def config(self) -> str: ...

    @property
    def log(self) -> str: ...

    def start(self) -> Proxy:
        """Return (self) once the proxy accepts connections, or raise ServerStartError."""
        ...

    def stop(self) -> None:
        """Return promptly, leaving no process, port or temporary file behind."""
        ...


class ServerUnavailable(RuntimeError):
    """The server program or package is not installed; the message says how to install it."""


class ServerStartError(RuntimeError):
    """The server did not come up; the message holds the tail of what it wrote to stderr."""


_running_lock = threading.Lock()
_running: set[Any] = set()


def started(backend: Any) -> None:
    """Remember a backend with processes of its own, so interpreter exit stops it."""
    with _running_lock:
        _running.add(backend)


def stopped(backend: Any) -> None:
    with _running_lock:
        _running.discard(backend)


@atexit.register
def _stop_leftovers() -> None:
    """Stop subprocess servers nobody stopped: they run in their own process groups, so they
    would otherwise outlive this interpreter."""
    with _running_lock:
        leftovers = list(_running)
    for backend in leftovers:
        backend.stop()


def signal_group(group: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False when the group no longer exists."""
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a reused group id of someone else's
        return False
    return True


def stop_process_group(
    process: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 2.0
) -> None:
    """Stop a server started in a process group of its own (``start_new_session=True``).

    Send ``sig`` (the server's quick-shutdown signal) to the whole group, wait up to ``timeout``
    for the leader to exit and then for its workers to go, SIGKILL whatever is left, and reap
    the leader; for a process started by :func:`streamkit.backends.launcher.launch`, end its
    watchdog too. Returns within about ``2 * timeout``.
    """
    group = process.pid  # start_new_session: the group id is the leader's pid
    signal_group(group, sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + timeout
    while signal_group(group, 0) and time.monotonic() < deadline:
        time.sleep(0.02)  # workers finishing their quick shutdown
    if signal_group(group, signal.SIGKILL):
        time.sleep(0.05)
    if process.poll() is None:
        process.wait()
    release = getattr(process, "release", None)  # started by launcher.launch(): end its watchdog
    if release is not None:
        release()


def http_url(host: str, port: int) -> str:
    """The URL a local client uses for a server bound to ``host:port``.

    A server bound to every interface ("0.0.0.0", "::") is reached at the loopback address.
    """
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (for servers that cannot report the port they got)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def check_port_free(host: str, port: int) -> None:
    """Raise a clear OSError naming the port when ``host:port`` cannot be bound right now.

    Servers in subprocesses report a busy port late and in their own words (gunicorn and nginx
    retry for seconds first), so the kit checks before starting them.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                reason = f"port {port} on {host} is already in use"
            else:
                reason = f"cannot listen on {host} port {port}: {exc.strerror or exc}"
            raise OSError(exc.errno, reason) from None


def port_to_bind(host: str, port: int) -> int:
    """The port to hand a server in a subprocess: a free one for ``port`` 0, else ``port``
    itself once :func:`check_port_free` found it free (which raises when it is not)."""
    if port == 0:
        return free_port(host)
    check_port_free(host, port)
    return port


def listen(host: str, port: int, *, backlog: int = 128) -> socket.socket:
    """A listening socket on ``host:port`` for a backend that runs in this process; a clear
    OSError naming the port when that is not possible (never a server's own exit)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=backlog)
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


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_for_port(
    host: str,
    port: int,
    *,
    timeout: float,
    ready: Callable[[], bool] = lambda: True,
    failed: Callable[[], bool] = lambda: False,
) -> bool:
    """Poll until the port accepts connections and ``ready()`` holds; False on timeout or failure.

    ``failed()`` is checked on every round (for example "the process has exited") so a server
    that dies while starting is noticed at once, not after the whole timeout.
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < deadline:
        if failed():
            return False
        if ready() and port_open(host, port):
            return True
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    return False


def tail(text: str, lines: int = 30) -> str:
    """The last ``lines`` lines of ``text``, indented, for error messages."""
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join("    " + line for line in kept) if kept else "    (nothing)"
