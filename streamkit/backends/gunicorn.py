"""gunicorn as a subprocess, started from an import string such as ``"myapp:app"``.

gunicorn forks its workers, so the app must be importable by name in a fresh interpreter; an
app object made in a notebook cell cannot be handed over. The subprocess:

* runs this interpreter's ``-m gunicorn`` in its own process group (``stop()`` ends the whole
  group: master and workers);
* uses the ``gthread`` worker by default, which sends each item the app yields at once and keeps
  telling the master it is alive while a stream runs; the ``sync`` worker handles one request at
  a time and is killed when a single response takes longer than ``timeout`` seconds;
* writes its log to a temporary file (never to a pipe that could fill up and stall it), whose
  tail goes into the error when start-up fails.

Readiness is a worker saying it has loaded the app (see :mod:`streamkit.backends.gunicorn_hooks`)
and the port accepting connections.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import IO

from streamkit.access import GATE_ENV, Gate
from streamkit.backends import (
    ServerStartError,
    ServerUnavailable,
    http_url,
    port_to_bind,
    started,
    stop_process_group,
    stopped,
    tail,
    wait_for_port,
)
from streamkit.backends.gunicorn_hooks import READY_MARK
from streamkit.backends.launcher import launch

__all__ = ["GunicornBackend", "check_import_string"]

_IMPORT_STRING = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*(\(.*\))?$")
WORKER_CLASSES = ("gthread", "sync")


def check_import_string(target: object) -> str:
    """Return ``target`` when it looks like ``"module:attr"``; raise a clear error otherwise."""
    if not isinstance(target, str):
        raise TypeError(
            "gunicorn runs the app in other processes, so it needs an import string such as "
            f"'myapp:app', not {type(target).__name__} object {target!r}"
        )
    if not _IMPORT_STRING.match(target):
        raise ValueError(
            f"{target!r} is not an import string of the form 'module:attr' (e.g. 'myapp:app' or "
            "'myapp:create_app()')"
        )
    return target


class GunicornBackend:
    """Run ``gunicorn`` on an import string in a subprocess.

    ``GunicornBackend("myapp:app", host="127.0.0.1", port=0, worker_class="gthread", workers=1,
    threads=4, timeout=30, cwd=None, env=None, args=())``. ``cwd`` is where the module is
    imported from (default: the current directory); ``env`` adds environment variables;
    ``args`` are passed to gunicorn as they are. The app's exceptions happen in other
    processes: their tracebacks are in :attr:`log`, and ``on_error`` (accepted for the common
    backend shape) is never called. With a ``gate`` (see :mod:`streamkit.access`) each worker
    lets only the requests it allows reach the app.
    """

    name = "gunicorn"
    runs_elsewhere = True  # the app runs in gunicorn's workers: serve() passes the import string

    def __init__(
        self,
        target: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        worker_class: str = "gthread",
        workers: int = 1,
        threads: int = 4,
        timeout: int = 30,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        start_timeout: float = 30,
        on_error: Callable[[BaseException], None] | None = None,
        gate: Gate | None = None,
    ) -> None:
        self.target = check_import_string(target)
        if importlib.util.find_spec("gunicorn") is None:
            raise ServerUnavailable(
                "gunicorn is not installed: pip install 'streamkit-http[servers]' (or gunicorn)"
            )
        if worker_class not in WORKER_CLASSES:
            raise ValueError(f"worker_class must be one of {WORKER_CLASSES}, got {worker_class!r}")
        self.host = host
        self.port = port
        self.worker_class = worker_class
        self.workers = workers
        self.threads = threads
        if int(timeout) != timeout or timeout < 0:
            raise ValueError(f"timeout must be whole seconds (0: no timeout), got {timeout!r}")
        self.timeout = int(timeout)
        self.cwd = os.path.abspath(cwd) if cwd is not None else os.getcwd()
        self.env = dict(env or {})
        self.args = list(args)
        self.start_timeout = start_timeout
        self.gate = gate
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._final_log = ""

    @property
    def url(self) -> str:
        return http_url(self.host, self.port)

    @property
    def log(self) -> str:
        """Everything gunicorn (and the app's tracebacks) wrote to stderr so far."""
        if self._log_file is None:
            return self._final_log
        fd = self._log_file.fileno()
        # pread leaves the file offset alone: gunicorn shares it and is still appending.
        return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")

    def command(self) -> list[str]:
        """The gunicorn command line this backend runs."""
        return [
            sys.executable, "-m", "gunicorn",
            "--config", "python:streamkit.backends.gunicorn_hooks",
            "--bind", f"{self.host}:{self.port}",
            "--worker-class", self.worker_class,
            "--workers", str(self.workers),
            # gunicorn turns "sync" into "gthread" when threads > 1: keep sync really sync.
            "--threads", str(1 if self.worker_class == "sync" else self.threads),
            "--timeout", str(self.timeout),
            "--graceful-timeout", "1",
            "--chdir", self.cwd,
            "--log-level", "warning",
            *self.args,
            self.target,
        ]  # fmt: skip

    def start(self) -> GunicornBackend:
        """Start gunicorn and return once a worker has loaded the app and the port answers."""
        self.port = port_to_bind(self.host, self.port)
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        env.pop(GATE_ENV, None)
        if self.gate is not None:  # the hooks wrap each worker's app in it (and drop the variable)
            env[GATE_ENV] = self.gate.to_environment()
        # The kit itself must be importable in the subprocess (for the readiness hook).
        kit_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (self.cwd, kit_root, env.get("PYTHONPATH")) if p)
        self._log_file = tempfile.TemporaryFile(prefix="streamkit-gunicorn-")
        try:
            # Its own process group (stop() ends master and workers), which also ends when
            # this process dies, even by SIGKILL (see streamkit.backends.launcher).
            self.process = launch(
                self.command(),
                stop_signal=signal.SIGINT,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=self._log_file,
            )
        except OSError:
            self.stop()
            raise
        started(self)
        process = self.process
        try:
            ready = wait_for_port(
                self.host,
                self.port,
                timeout=self.start_timeout,
                ready=lambda: READY_MARK in self.log,
                failed=lambda: process.poll() is not None,
            )
        except BaseException:  # interrupted while waiting: leave nothing running
            self.stop()
            raise
        if not ready:
            code = process.poll()
            log = self.log
            self.stop()
            how = (
                f"exited with code {code}"
                if code is not None
                else f"was not ready after {self.start_timeout:g} s"
            )
            raise ServerStartError(
                f"gunicorn serving {self.target!r} from {self.cwd} {how}. Its stderr ends with:\n{tail(log)}"
            )
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Quick-stop the whole process group (SIGINT), then SIGKILL whatever is left."""
        process, self.process = self.process, None
        stopped(self)
        if process is not None:
            stop_process_group(process, signal.SIGINT, timeout)
        if self._log_file is not None:
            self._final_log = self.log
            self._log_file.close()
            self._log_file = None
