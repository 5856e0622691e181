"""Real products on loopback for tests/test_stacks.py: proxies, servers and frameworks.

Each product runs for real on 127.0.0.1, on a free port, with its configuration written to a
temporary directory of its own (which also takes its pid file, logs and working files), so
nothing is read from or written to the system's configuration. Every program is started with
:func:`streamkit.backends.launcher.launch` (its whole process group dies with the test process,
however that dies) and stopped with :func:`streamkit.backends.stop_process_group`.

* :func:`apache`, :func:`caddy`, :func:`haproxy`, :func:`varnish`, :func:`lighttpd`: a proxy
  in front of ``upstream`` (a ``host:port``), each a context manager giving a :class:`Running`;
* :func:`uwsgi`, :func:`waitress`, :func:`granian`, :func:`hypercorn`, :func:`daphne`, :func:`uvicorn_app`, :func:`aiohttp_app`,
  :func:`tornado_app`: a server (with its app) in a subprocess;
* :func:`express_app`: Express on node, with and without the compression middleware (the npm
  packages are installed into tests/apps/express on first use);
* :func:`jupyter_server`: a real Jupyter Server with jupyter-server-proxy, whose
  ``/proxy/<port>/`` reaches an app on this machine;
* :data:`PROGRAMS` (the Debian packages) and :func:`missing` say why a product cannot run here,
  naming the package to install; tests skip with that reason.

The app they serve is ``tests/apps/stack_app.py`` (and its Django, aiohttp and tornado
siblings in tests/apps/).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from streamkit.backends import ServerStartError, free_port, stop_process_group, tail, wait_for_port
from streamkit.backends.launcher import launch
from streamkit.programs import Program, ProgramUnavailable

APPS = Path(__file__).parent / "apps"
HOST = "127.0.0.1"
BIN = Path(sys.executable).parent


def _debian(name: str, package: str, *places: str) -> Program:
    return Program(
        name=name,
        env=f"STREAMKIT_{name.upper()}",
        names=(name,),
        places=places,
        install=(
            f"On Debian or Ubuntu install the package {package}: sudo apt-get install {package} "
            "(make test installs it when it runs as root)"
        ),
    )


#: The Debian programs the stacks need; tools/system_packages.sh installs the same packages.
PROGRAMS: dict[str, Program] = {
    "apache2": _debian("apache2", "apache2", "/usr/sbin/apache2"),
    "caddy": _debian("caddy", "caddy", "/usr/bin/caddy"),
    "haproxy": _debian("haproxy", "haproxy", "/usr/sbin/haproxy"),
    "varnishd": _debian("varnishd", "varnish", "/usr/sbin/varnishd"),
    "lighttpd": _debian("lighttpd", "lighttpd", "/usr/sbin/lighttpd"),
    "node": _debian("node", "nodejs", "/usr/bin/node"),
    "npm": _debian("npm", "npm", "/usr/bin/npm"),
}

#: The Python packages (the ``test`` extra) a stack imports, by import name.
PACKAGES = {
    "uwsgidecorators": "pyuwsgi",
    "hypercorn": "hypercorn",
    "daphne": "daphne",
    "granian": "granian",
    "django": "django",
    "aiohttp": "aiohttp",
    "tornado": "tornado",
    "uvicorn": "uvicorn",
    "waitress": "waitress",
    "jupyter_server": "jupyter-server",
    "jupyter_server_proxy": "jupyter-server-proxy",
}


EXPRESS = APPS / "express"
_npm_lock = threading.Lock()


def npm_modules() -> str | None:
    """Install tests/apps/express's npm packages (once, into its node_modules); why not, or None."""
    with _npm_lock:
        if (EXPRESS / "node_modules" / "express").is_dir() and (
            EXPRESS / "node_modules" / "compression"
        ).is_dir():
            return None
        command = [PROGRAMS["npm"].find(), "install", "--no-audit", "--no-fund", "--no-package-lock"]
        try:
            done = subprocess.run(command, cwd=EXPRESS, capture_output=True, text=True, timeout=180)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"npm install (express, compression) in {EXPRESS} failed: {error}"
        if done.returncode != 0:
            return f"npm install (express, compression) in {EXPRESS} failed:\n{tail(done.stderr)}"
        return None


def missing(*needs: str) -> str | None:
    """Why a stack that needs these programs and packages cannot run here, or None
    (``"express"`` installs the npm packages when node and npm are there)."""
    for need in needs:
        if need == "express":
            why = missing("node", "npm") or npm_modules()
            if why is not None:
                return why
        elif need in PROGRAMS:
            try:
                PROGRAMS[need].find()
            except ProgramUnavailable as error:
                return str(error)
        elif need == "uwsgi":
            if not (BIN / "uwsgi").exists() and shutil.which("uwsgi") is None:
                return "uWSGI is not installed: pip install pyuwsgi (in the test extra)"
        elif importlib.util.find_spec(need) is None:
            package = PACKAGES.get(need, need)
            return f"{package} is not installed: pip install {package} (in the test extra)"
    return None


_ports_lock = threading.Lock()
_handed_out: set[int] = set()


def fresh_port() -> int:
    """A free port never handed out before in this process (stacks start side by side)."""
    with _ports_lock:
        while True:
            port = free_port()
            if port not in _handed_out:
                _handed_out.add(port)
                return port


def _listening_sockets(port: int) -> set[str]:
    """The inodes of the sockets listening on ``port`` (Linux: /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                found.add(fields[9])
    return found


def listens(group: int, port: int) -> bool:
    """True when a process of ``group`` holds the socket listening on ``port``: not another
    program that took the port meanwhile (other test runs share this machine). True where
    /proc cannot tell (not Linux)."""
    if not Path("/proc/net/tcp").exists():
        return True
    sockets = _listening_sockets(port)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat[stat.rindex(")") + 2 :].split()[2]) != group:
                continue
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in sockets:
                    return True
        except (OSError, ValueError):
            continue
    return False


class Running:
    """A product running in a process group of its own, with its files in ``dir``."""

    def __init__(
        self, name: str, port: int, process: subprocess.Popen[bytes], dir: Path, config: str
    ) -> None:
        self.name = name
        self.port = port
        self.process = process
        self.dir = dir
        self.config = config

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def log(self) -> str:
        path = self.dir / "output.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __repr__(self) -> str:
        return f"<{self.name} on {self.url}>"


@contextmanager
def running(
    name: str,
    command: Sequence[str],
    *,
    port: int,
    dir: Path,
    config: str = "",
    stop_signal: int = signal.SIGTERM,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 20.0,
) -> Iterator[Running]:
    """Start ``command`` (output to ``dir/output.log``), wait for ``port``, stop it on exit."""
    log = open(dir / "output.log", "wb")  # noqa: SIM115 - closed when the product stops
    try:
        process = launch(
            list(command),
            stop_signal=stop_signal,
            cleanup=[dir],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd or dir,
            env={**os.environ, **(env or {})},
        )
    except BaseException:
        log.close()
        raise
    product = Running(name, port, process, dir, config)
    try:
        if not wait_for_port(
            HOST,
            port,
            timeout=timeout,
            ready=lambda: listens(process.pid, port),
            failed=lambda: process.poll() is not None,
        ):
            raise ServerStartError(
                f"{name} did not start on port {port} (exit status {process.poll()}):\n{tail(product.log)}"
            )
        yield product
    finally:
        stop_process_group(process, stop_signal, timeout=2.0)
        log.close()


@contextmanager
def workdir(name: str) -> Iterator[Path]:
    """A fresh temporary directory (readable by the unprivileged users some daemons switch to)."""
    path = Path(tempfile.mkdtemp(prefix=f"streamkit-{name}-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write(dir: Path, name: str, text: str) -> Path:
    path = dir / name
    path.write_text(text)
    return path


# -- proxies ---------------------------------------------------------------------------------

APACHE_MODULES = "/usr/lib/apache2/modules"


@contextmanager
def apache(upstream: str, *, deflate: bool = False, timeout: float | None = None) -> Iterator[Running]:
    """Apache httpd 2.4, mod_proxy_http (``ProxyPass``); ``deflate`` adds mod_deflate for text
    types; ``timeout`` sets ``ProxyPass ... timeout=`` (seconds of upstream silence)."""
    port = fresh_port()
    with workdir("apache") as dir:
        options = f" timeout={timeout:g}" if timeout else ""
        compress = "AddOutputFilterByType DEFLATE text/plain text/html text/event-stream\n" if deflate else ""
        config = f"""\
ServerRoot "{dir}"
ServerName {HOST}
Listen {HOST}:{port}
PidFile {dir}/httpd.pid
DefaultRuntimeDir {dir}
Mutex file:{dir} default
ErrorLog {dir}/error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module {APACHE_MODULES}/mod_mpm_event.so
LoadModule authz_core_module {APACHE_MODULES}/mod_authz_core.so
LoadModule proxy_module {APACHE_MODULES}/mod_proxy.so
LoadModule proxy_http_module {APACHE_MODULES}/mod_proxy_http.so
LoadModule filter_module {APACHE_MODULES}/mod_filter.so
LoadModule deflate_module {APACHE_MODULES}/mod_deflate.so
ProxyPass / http://{upstream}/{options}
ProxyPassReverse / http://{upstream}/
{compress}"""
        path = _write(dir, "httpd.conf", config)
        command = [PROGRAMS["apache2"].find(), "-f", str(path), "-DFOREGROUND"]
        with running(
            "Apache httpd", command, port=port, dir=dir, config=config, stop_signal=signal.SIGTERM
        ) as p:
            yield p


@contextmanager
def caddy(
    upstream: str, *, encode: bool = False, flush_interval: str | None = None, read_timeout: str | None = None
) -> Iterator[Running]:
    """Caddy 2 ``reverse_proxy``; ``encode`` adds ``encode gzip``; ``flush_interval`` sets it;
    ``read_timeout`` sets the http transport's (the longest silence from the upstream)."""
    port = fresh_port()
    with workdir("caddy") as dir:
        flush = f"\n        flush_interval {flush_interval}" if flush_interval else ""
        if read_timeout:
            flush += f"\n        transport http {{\n            read_timeout {read_timeout}\n        }}"
        config = f"""\
{{
    admin off
    auto_https off
    storage file_system {dir}/data
}}
http://{HOST}:{port} {{
    bind {HOST}
    {"encode gzip" if encode else ""}
    reverse_proxy {upstream} {{{flush}
    }}
}}
"""
        path = _write(dir, "Caddyfile", config)
        command = [PROGRAMS["caddy"].find(), "run", "--config", str(path), "--adapter", "caddyfile"]
        env = {"HOME": str(dir), "XDG_DATA_HOME": str(dir / "data"), "XDG_CONFIG_HOME": str(dir / "config")}
        with running("Caddy", command, port=port, dir=dir, config=config, env=env) as p:
            yield p


@contextmanager
def haproxy(
    upstream: str,
    *,
    compression: bool = False,
    no_delay: bool = False,
    wait_for_body: bool = False,
    timeout_server: str = "30s",
) -> Iterator[Running]:
    """HAProxy 2.6 in HTTP mode; ``compression`` (gzip for text/plain), ``option
    http-no-delay``, ``http-response wait-for-body``, ``timeout server``."""
    port = fresh_port()
    with workdir("haproxy") as dir:
        backend = ""
        if compression:
            backend += (
                "    compression algo gzip\n    compression type text/plain text/html text/event-stream\n"
            )
        if wait_for_body:
            backend += "    http-response wait-for-body time 10s\n"
        config = f"""\
global
    maxconn 256
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server {timeout_server}
frontend web
    bind {HOST}:{port}
{"    option http-no-delay" if no_delay else ""}
    default_backend app
backend app
{backend}    server app1 {upstream}
"""
        path = _write(dir, "haproxy.cfg", config)
        command = [PROGRAMS["haproxy"].find(), "-db", "-f", str(path)]
        with running("HAProxy", command, port=port, dir=dir, config=config) as p:
            yield p


@contextmanager
def varnish(
    upstream: str,
    *,
    do_stream: bool = True,
    do_gzip: bool = False,
    between_bytes_timeout: float | None = None,
) -> Iterator[Running]:
    """Varnish 7 with its built-in VCL; ``do_stream = false`` or ``do_gzip = true`` set in
    ``vcl_backend_response``; ``between_bytes_timeout`` on the backend."""
    port = fresh_port()
    host, _, upstream_port = upstream.rpartition(":")
    with workdir("varnish") as dir:
        between = (
            f"\n    .between_bytes_timeout = {between_bytes_timeout:g}s;" if between_bytes_timeout else ""
        )
        settings = ""
        if not do_stream:
            settings += "    set beresp.do_stream = false;\n"
        if do_gzip:
            settings += "    set beresp.do_gzip = true;\n"
        config = f"""\
vcl 4.1;
backend default {{
    .host = "{host}";
    .port = "{upstream_port}";{between}
}}
sub vcl_backend_response {{
{settings}}}
"""
        path = _write(dir, "default.vcl", config)
        command = [
            PROGRAMS["varnishd"].find(), "-F", "-j", "none", "-n", str(dir / "varnish"),
            "-a", f"{HOST}:{port}", "-T", "none", "-f", str(path), "-s", "malloc,16m",
        ]  # fmt: skip
        with running("Varnish", command, port=port, dir=dir, config=config, stop_signal=signal.SIGTERM) as p:
            yield p


@contextmanager
def lighttpd(
    upstream: str, *, stream_response_body: int | None = None, read_timeout: int | None = None
) -> Iterator[Running]:
    """lighttpd 1.4 ``mod_proxy``; ``stream_response_body`` sets ``server.stream-response-body``
    (0, its default, sends the whole body; 1 and 2 stream); ``read_timeout`` the proxy host's
    ``"read-timeout"`` (whole seconds of upstream silence)."""
    port = fresh_port()
    host, _, upstream_port = upstream.rpartition(":")
    with workdir("lighttpd") as dir:
        stream = (
            f"server.stream-response-body = {stream_response_body}\n"
            if stream_response_body is not None
            else ""
        )
        timeout = f', "read-timeout" => {read_timeout}' if read_timeout else ""
        config = f"""\
server.document-root = "{dir}"
server.bind = "{HOST}"
server.port = {port}
server.pid-file = "{dir}/lighttpd.pid"
server.errorlog = "{dir}/error.log"
server.modules = ("mod_proxy")
{stream}proxy.server = ("" => (("host" => "{host}", "port" => {upstream_port}{timeout})))
"""
        path = _write(dir, "lighttpd.conf", config)
        command = [PROGRAMS["lighttpd"].find(), "-D", "-f", str(path)]
        with running("lighttpd", command, port=port, dir=dir, config=config) as p:
            yield p


# -- servers and frameworks in subprocesses ------------------------------------------------


def _python_env() -> dict[str, str]:
    """The test's interpreter finds the apps in tests/apps and the kit itself."""
    paths = [str(APPS), str(APPS.parent.parent), os.environ.get("PYTHONPATH", "")]
    return {"PYTHONPATH": os.pathsep.join(p for p in paths if p), "PYTHONUNBUFFERED": "1"}


@contextmanager
def uwsgi(*, threads: int = 8, extra: Sequence[str] = ()) -> Iterator[Running]:
    """uWSGI with its HTTP router (``--http``), one worker process with ``threads`` threads
    (0: none, uWSGI's default, so it serves one request at a time), ``stack_app:app``."""
    port = fresh_port()
    program = str(BIN / "uwsgi") if (BIN / "uwsgi").exists() else (shutil.which("uwsgi") or "uwsgi")
    with workdir("uwsgi") as dir:
        command = [
            program, "--http", f"{HOST}:{port}", "--module", "stack_app:app", "--master",
            "--processes", "1", "--die-on-term", "--disable-logging", "--pythonpath", str(APPS),
            *(["--threads", str(threads)] if threads else []), *extra,
        ]  # fmt: skip
        with running("uWSGI", command, port=port, dir=dir, config=" ".join(command), env=_python_env()) as p:
            yield p


@contextmanager
def python_server(
    name: str, arguments: Sequence[str], *, port: int, env: dict[str, str] | None = None
) -> Iterator[Running]:
    """``python ARGUMENTS`` (a server module or script) listening on ``port``."""
    with workdir(name.split()[0].lower()) as dir:
        command = [sys.executable, *arguments]
        environment = {**_python_env(), **(env or {})}
        with running(
            name, command, port=port, dir=dir, config=" ".join(command), env=environment, cwd=APPS
        ) as p:
            yield p


@contextmanager
def waitress(*, send_bytes: int | None = None, threads: int | None = None) -> Iterator[Running]:
    """waitress as people run it (``python -m waitress``, ``Server: waitress``); ``send_bytes``
    as given (waitress 3 sends each write at once; 1.x held 18,000 bytes), ``threads`` (4)."""
    port = fresh_port()
    arguments = ["-m", "waitress", f"--host={HOST}", f"--port={port}", "stack_app:app"]
    if send_bytes is not None:
        arguments.insert(-1, f"--send-bytes={send_bytes}")
    if threads is not None:
        arguments.insert(-1, f"--threads={threads}")
    with python_server("waitress", arguments, port=port) as p:
        yield p


@contextmanager
def granian(interface: str = "asgi", *, extra: Sequence[str] = ()) -> Iterator[Running]:
    """granian (Rust) serving ``stack_app`` through its ``asgi`` or ``wsgi`` interface."""
    port = fresh_port()
    app = "stack_app:asgi_app" if interface == "asgi" else "stack_app:app"
    arguments = [
        "-m", "granian", "--interface", interface, "--host", HOST, "--port", str(port),
        "--no-ws", *extra, app,
    ]  # fmt: skip
    with python_server("granian", arguments, port=port) as p:
        yield p


@contextmanager
def hypercorn(app: str = "stack_app:asgi_app") -> Iterator[Running]:
    port = fresh_port()
    with python_server("hypercorn", ["-m", "hypercorn", "--bind", f"{HOST}:{port}", app], port=port) as p:
        yield p


@contextmanager
def daphne(app: str = "stack_app:asgi_app", *, env: dict[str, str] | None = None) -> Iterator[Running]:
    port = fresh_port()
    arguments = ["-m", "daphne", "-b", HOST, "-p", str(port), app]
    with python_server("daphne", arguments, port=port, env=env) as p:
        yield p


@contextmanager
def uvicorn_app(app: str, *, env: dict[str, str] | None = None) -> Iterator[Running]:
    port = fresh_port()
    arguments = ["-m", "uvicorn", "--host", HOST, "--port", str(port), "--no-access-log", app]
    with python_server("uvicorn", arguments, port=port, env=env) as p:
        yield p


@contextmanager
def aiohttp_app() -> Iterator[Running]:
    port = fresh_port()
    arguments = ["-m", "aiohttp.web", "-H", HOST, "-P", str(port), "stack_aiohttp:make_app"]
    with python_server("aiohttp", arguments, port=port) as p:
        yield p


@contextmanager
def tornado_app() -> Iterator[Running]:
    port = fresh_port()
    with python_server("tornado", [str(APPS / "stack_tornado.py"), str(port)], port=port) as p:
        yield p


@contextmanager
def express_app(*, compress: bool = False) -> Iterator[Running]:
    """Express 5 on node (tests/apps/express/server.js); ``compress`` adds the compression
    middleware. Call :func:`missing` with ``"express"`` first: it installs the npm packages."""
    port = fresh_port()
    with workdir("express") as dir:
        command = [PROGRAMS["node"].find(), str(EXPRESS / "server.js"), str(port)]
        if compress:
            command.append("compress")
        with running("Express", command, port=port, dir=dir, config=" ".join(command), cwd=EXPRESS) as p:
            yield p


@contextmanager
def jupyter_server() -> Iterator[Running]:
    """A real Jupyter Server (no token, loopback) with the jupyter-server-proxy extension."""
    port = fresh_port()
    with workdir("jupyter") as dir:
        env = {
            "JUPYTER_CONFIG_DIR": str(dir / "config"),
            "JUPYTER_DATA_DIR": str(dir / "data"),
            "JUPYTER_RUNTIME_DIR": str(dir / "runtime"),
            "HOME": str(dir),
        }
        command = [
            sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
            f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={dir}", "--IdentityProvider.token=", "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
        ]  # fmt: skip
        with running(
            "Jupyter Server", command, port=port, dir=dir, config=" ".join(command), env=env, timeout=40
        ) as p:
            yield p
