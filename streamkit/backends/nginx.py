"""A real nginx in front of a running server, configured the way production sites usually are.

The configuration is written to a fresh temporary directory, which also holds the pid file, the
error log and every temporary-file path, so nginx writes nothing anywhere else and ``stop()``
removes all of it. The proxy is set up as nginx ships it and as most sites keep it:

* ``proxy_buffering on``: nginx reads the upstream response into its buffers and sends the
  client what it has gathered; an upstream response header ``X-Accel-Buffering: no`` turns that
  off for one response;
* ``gzip on`` for text types: nginx's gzip holds compressed output back until its own buffer
  fills or the response ends, so a slow text stream arrives in one piece at the end;
* ``proxy_http_version 1.1`` (``http_version="1.0"`` gives nginx's own default, under which
  the upstream answers HTTP/1.0 and nginx holds the whole response) with the usual ``Host``
  and ``X-Forwarded-*`` headers, and ``proxy_read_timeout`` (60 s unless told otherwise): a stream that stays silent that long is
  cut off.

nginx runs in the foreground (``daemon off``) in its own process group, with one worker.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile

from streamkit.access import CLIENT_HEADER
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
from streamkit.backends.launcher import launch
from streamkit.programs import ProgramUnavailable, find_program

__all__ = ["GZIP_TYPES", "NginxProxy", "find_nginx"]

#: What the config compresses besides text/html (which nginx always includes).
GZIP_TYPES = (
    "text/plain text/css text/xml text/javascript text/event-stream "
    "application/json application/javascript application/xml application/x-ndjson image/svg+xml"
)

_CONFIG = """\
# Written by streamkit for one run; removed when the proxy stops.
daemon off;
master_process on;
{user}
worker_processes 1;
pid {dir}/nginx.pid;
lock_file {dir}/nginx.lock;
error_log {dir}/error.log warn;

events {{
    worker_connections 512;
}}

http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    gzip {gzip};
    gzip_types {gzip_types};
    gzip_proxied any;
    gzip_vary on;

    server {{
        listen {host}:{port};

        location / {{
            proxy_pass http://{upstream};
            proxy_http_version {http_version};
            proxy_set_header Host $http_host;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
{client_header}            proxy_buffering {buffering};
            proxy_read_timeout {read_timeout}s;
        }}
    }}
}}
"""


def find_nginx() -> str:
    """The nginx executable: ``$STREAMKIT_NGINX``, then ``PATH``, then the usual sbin places.

    Raises :class:`ServerUnavailable` naming the package to install when there is none (see
    :mod:`streamkit.programs`).
    """
    try:
        return find_program("nginx")
    except ProgramUnavailable as error:
        raise ServerUnavailable(str(error)) from None


class NginxProxy:
    """nginx on a free loopback port, proxying every request to ``upstream`` (``"host:port"``).

    ``NginxProxy("127.0.0.1:5000", gzip=True, buffering=True, read_timeout=60,
    http_version="1.1", owner_only=True)``; ``url`` is
    nginx's address. ``config`` holds the configuration text once started, ``log`` the error log.

    ``owner_only`` (on unless ``serve(..., shared=True)``) lets a gated backend
    (see :mod:`streamkit.access`) check the user behind each request: nginx's workers run as the
    user who started it (as root they would be ``nobody``), and every proxied request carries
    the ``X-Streamkit-Client`` header with the client's address and port and nginx's own, so the
    backend looks up the client's socket. nginx cannot check a uid itself.
    """

    name = "nginx"

    def __init__(
        self,
        upstream: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        gzip: bool = True,
        buffering: bool = True,
        read_timeout: float = 60,
        http_version: str = "1.1",
        start_timeout: float = 10,
        owner_only: bool = True,
    ) -> None:
        if http_version not in ("1.0", "1.1"):
            raise ValueError(f"http_version must be '1.0' or '1.1', got {http_version!r}")
        self.executable = find_nginx()
        self.upstream = upstream
        self.host = host
        self.port = port
        self.gzip = gzip
        self.buffering = buffering
        self.read_timeout = read_timeout
        self.http_version = http_version
        self.start_timeout = start_timeout
        self.owner_only = owner_only
        self.config = ""
        self.directory: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._final_log = ""

    @property
    def url(self) -> str:
        return http_url(self.host, self.port)

    @property
    def log(self) -> str:
        """nginx's error log (warnings and errors) so far."""
        if self.directory is None:
            return self._final_log
        return _read(os.path.join(self.directory, "error.log"))

    def start(self) -> NginxProxy:
        """Write the config, start nginx, and return once it accepts connections."""
        self.port = port_to_bind(self.host, self.port)
        self.directory = tempfile.mkdtemp(prefix="streamkit-nginx-")
        try:
            self._start_in(self.directory)
        except BaseException:
            self.stop()  # a failed or interrupted start leaves nothing behind
            raise
        return self

    def _start_in(self, directory: str) -> None:
        # nginx's worker may run as an unprivileged user (when started as root): let it reach
        # its temporary directories inside this one.
        os.chmod(directory, 0o755)
        self.config = _CONFIG.format(
            dir=directory,
            host=self.host,
            port=self.port,
            upstream=self.upstream,
            gzip="on" if self.gzip else "off",
            gzip_types=GZIP_TYPES,
            buffering="on" if self.buffering else "off",
            read_timeout=f"{self.read_timeout:g}",
            http_version=self.http_version,
            user=_user_directive() if self.owner_only else "",
            # Replaces any header of that name a client sends: only this nginx can set it.
            client_header=(
                f'            proxy_set_header {CLIENT_HEADER} "$remote_addr $remote_port $server_addr $server_port";\n'
                if self.owner_only
                else ""
            ),
        )
        config_path = os.path.join(directory, "nginx.conf")
        with open(config_path, "w", encoding="utf-8") as f:
            f.write(self.config)
        error_log = os.path.join(directory, "error.log")
        stderr_path = os.path.join(directory, "stderr.log")
        with open(stderr_path, "wb") as stderr:
            # Its own process group, ended (and the directory removed) when this process
            # dies, even by SIGKILL (see streamkit.backends.launcher).
            self.process = launch(
                # -e: the log for messages before the config is read (else a system path).
                [self.executable, "-p", directory, "-c", config_path, "-e", error_log],
                stop_signal=signal.SIGTERM,
                cleanup=[directory],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
            )
        started(self)
        process = self.process
        pid_file = os.path.join(directory, "nginx.pid")
        ready = wait_for_port(
            self.host,
            self.port,
            timeout=self.start_timeout,
            # nginx writes its pid file after it has bound its port: until then an open port
            # could belong to someone else.
            ready=lambda: os.path.exists(pid_file),
            failed=lambda: process.poll() is not None,
        )
        if not ready:
            code = process.poll()
            said = _read(stderr_path) + self.log
            how = f"exited with code {code}" if code is not None else "did not start listening"
            raise ServerStartError(
                f"nginx in front of {self.upstream} on {self.host}:{self.port} {how}. It said:\n{tail(said)}"
            )

    def stop(self, timeout: float = 2.0) -> None:
        """Fast-stop nginx (SIGTERM to its group), SIGKILL if it lingers, remove the directory."""
        process, self.process = self.process, None
        stopped(self)
        if process is not None:
            stop_process_group(process, signal.SIGTERM, timeout)
        if self.directory is not None:
            self._final_log = self.log
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def _user_directive() -> str:
    """``user <owner> <group>;`` when started as root, whose workers would otherwise run as
    ``nobody``: the backend then sees the owner's uid on nginx's connections. (Otherwise nginx
    ignores the directive, and its workers run as the user who started it anyway.)"""
    if os.geteuid() != 0:
        return ""
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
    except KeyError:  # pragma: no cover - a uid without a name
        return ""
    return f"user {user} {group};"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""
