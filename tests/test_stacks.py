"""The doctor on real stacks: Apache, Caddy, HAProxy, Varnish and lighttpd in front of a
streaming app; uWSGI, waitress, granian, hypercorn and daphne; Django over ASGI, aiohttp, tornado
and Express (npm); jupyter-server-proxy in a real Jupyter Server. Every product runs for real on loopback
(tests/stacks.py); the app is tests/apps/stack_app.py: 5 pieces 200 ms apart.

Each case is one configuration of one product, held or clean, and checks what
``doctor(url, upstream=[inner hops])`` says: ``streams``, the culprit, and that the fix names
the product's own directive. A clean configuration is never blamed. A cut after silence names
the hop that cut it.

The cases run side by side (``STACKS_WORKERS``, 6 by default), once per test session, for the
cases selected; the module prints its total time. A product that is not installed skips,
naming its package.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import pytest

from streamkit import serve
from streamkit.diagnosis import Diagnosis
from streamkit.doctor import doctor
from streamkit.probe import probe
from tests import stacks
from tests.apps import stack_app

pytestmark = pytest.mark.stacks

STREAM = "/stream"
#: 3 s of silence after the second piece; the proxies cut after 1.5-2 s of it (a silence
#: of a whole second or more is what the doctor calls a cut after silence).
SILENT = "/stream?silence=3&after=2"
#: lighttpd checks its "read-timeout" about once a second: 1 s cut after about 3 s of silence.
LONG_SILENT = "/stream?silence=5&after=2"
#: Pieces of 600 bytes: above Caddy's encode minimum_length (512), judged on the first write.
LARGE = "/stream?size=600"
WORKERS = int(os.environ.get("STACKS_WORKERS", "6"))


@dataclass(frozen=True)
class Target:
    """Where to send the doctor: the outermost URL, and the inner hops (client first)."""

    url: str
    upstream: tuple[str, ...] = ()


Start = Callable[[str], AbstractContextManager[Target]]


@dataclass(frozen=True)
class Case:
    """One configuration of one product, and what the doctor must say about it.

    ``start(app_address)`` runs the stack in front of the app at ``app_address`` (a
    ``host:port`` serving stack_app) and yields the :class:`Target`. ``culprit`` None means a
    clean stack (it streams, nothing blamed); otherwise the culprit(s) accepted and
    ``directives``: the fix names at least one. ``names_hop``: the culprit's finding names the
    outermost URL (the hop that cut it). ``names``: the product the culprit's finding names (its
    response proves it). ``warning``: a clean stack's warning code that must be there, whose fix
    names one of ``directives``. ``unnamed``: held or broken, and no layer can be named from what
    the doctor was given: nothing is blamed. ``timeout``: the doctor's (each wait for data); ``headers``: the caller's. ``gap``: why the doctor still gets it wrong (the case
    is then an xfail(strict=True)).
    """

    id: str
    needs: tuple[str, ...]
    start: Start
    culprit: tuple[str, ...] | None = None
    directives: tuple[str, ...] = ()
    names_hop: bool = False
    names: str = ""
    warning: str = ""
    unnamed: bool = False
    timeout: float = 10.0
    headers: tuple[tuple[str, str], ...] = ()
    gap: str = ""


def _proxy(
    proxy: Callable[..., AbstractContextManager[stacks.Running]],
    path: str = STREAM,
    *,
    hops: bool = True,
    **options,
) -> Start:
    """The proxy in front of the app; the app's own port is the hop behind it unless ``hops``
    is False (the doctor then sees the proxy's responses alone)."""

    @contextmanager
    def start(app: str) -> Iterator[Target]:
        with proxy(app, **options) as running:
            yield Target(running.url + path, (f"http://{app}{path}",) if hops else ())

    return start


def _server(server: Callable[..., AbstractContextManager[stacks.Running]], path: str, **options) -> Start:
    @contextmanager
    def start(app: str) -> Iterator[Target]:
        with server(**options) as running:
            yield Target(running.url + path)

    return start


@contextmanager
def _jupyter(app: str) -> Iterator[Target]:
    port = app.rpartition(":")[2]
    with stacks.jupyter_server() as jupyter:
        yield Target(f"{jupyter.url}/proxy/{port}{STREAM}", (f"http://{app}{STREAM}",))


PROXY, SERVER, APP, COMPRESSION = ("proxy",), ("server",), ("app",), ("compression",)

CASES = [
    # -- Apache httpd 2.4, mod_proxy_http ------------------------------------------------------
    Case("apache", ("apache2",), _proxy(stacks.apache)),
    Case("apache-deflate", ("apache2",), _proxy(stacks.apache, deflate=True)),
    Case(
        "apache-timeout-cut",
        ("apache2",),
        _proxy(stacks.apache, SILENT, timeout=2),
        PROXY,
        ("timeout=", "ProxyTimeout"),
        names_hop=True,
    ),
    Case(  # from the client alone, the cut cannot be pinned on a layer: never on the server
        "apache-timeout-cut-no-hops",
        ("apache2",),
        _proxy(stacks.apache, SILENT, hops=False, timeout=2),
        unnamed=True,
    ),
    # -- Caddy 2.6, reverse_proxy ------------------------------------------------------------
    Case("caddy", ("caddy",), _proxy(stacks.caddy)),
    Case("caddy-flush-interval", ("caddy",), _proxy(stacks.caddy, flush_interval="-1")),
    # a first write under encode's minimum_length goes out uncompressed, and streams
    Case("caddy-encode-small-writes", ("caddy",), _proxy(stacks.caddy, encode=True)),
    Case(
        "caddy-encode",
        ("caddy",),
        _proxy(stacks.caddy, LARGE, encode=True),
        ("proxy", "compression"),
        ("encode",),
    ),
    Case(  # Caddy ends the body with a proper last chunk when read_timeout cuts the upstream
        "caddy-read-timeout-cut",
        ("caddy",),
        _proxy(stacks.caddy, SILENT, read_timeout="1500ms"),
        PROXY,
        ("read_timeout",),
        names_hop=True,
    ),
    # -- HAProxy 2.6 -------------------------------------------------------------------------
    Case("haproxy", ("haproxy",), _proxy(stacks.haproxy)),  # pieces 200 ms apart come in pairs: it streams
    Case("haproxy-http-no-delay", ("haproxy",), _proxy(stacks.haproxy, no_delay=True)),
    Case("haproxy-compression", ("haproxy",), _proxy(stacks.haproxy, compression=True)),
    Case(
        "haproxy-wait-for-body",
        ("haproxy",),
        _proxy(stacks.haproxy, wait_for_body=True),
        PROXY,
        ("wait-for-body",),
    ),
    Case(
        "haproxy-wait-for-body-no-hops",
        ("haproxy",),
        _proxy(stacks.haproxy, hops=False, wait_for_body=True),
        unnamed=True,
    ),
    Case(
        "haproxy-timeout-server-cut",
        ("haproxy",),
        _proxy(stacks.haproxy, SILENT, timeout_server="1500ms"),
        PROXY,
        ("timeout server",),
        names_hop=True,
    ),
    Case(
        "haproxy-timeout-server-cut-no-hops",
        ("haproxy",),
        _proxy(stacks.haproxy, SILENT, hops=False, timeout_server="1500ms"),
        unnamed=True,
    ),
    # -- Varnish 7.1 -------------------------------------------------------------------------
    Case("varnish", ("varnishd",), _proxy(stacks.varnish)),
    Case(
        "varnish-no-do-stream",
        ("varnishd",),
        _proxy(stacks.varnish, do_stream=False),
        PROXY,
        ("do_stream",),
        names="Varnish",
    ),
    Case(
        "varnish-do-gzip",
        ("varnishd",),
        _proxy(stacks.varnish, do_gzip=True),
        PROXY,
        ("do_gzip",),
        names="Varnish",
    ),
    Case(
        "varnish-between-bytes-cut",
        ("varnishd",),
        _proxy(stacks.varnish, SILENT, between_bytes_timeout=2),
        PROXY,
        ("between_bytes_timeout",),
        names_hop=True,
        names="Varnish",
    ),
    Case(  # Via names Varnish: the cut is consistent with its timeout, without the hops too
        "varnish-between-bytes-cut-no-hops",
        ("varnishd",),
        _proxy(stacks.varnish, SILENT, hops=False, between_bytes_timeout=1.5),
        PROXY,
        ("between_bytes_timeout",),
        names="Varnish",
    ),
    # -- lighttpd 1.4 ------------------------------------------------------------------------
    Case(
        "lighttpd",  # server.stream-response-body = 0, its default: the whole body
        ("lighttpd",),
        _proxy(stacks.lighttpd),
        PROXY,
        ("server.stream-response-body",),
    ),
    Case(
        "lighttpd-read-timeout-cut",
        ("lighttpd",),
        _proxy(stacks.lighttpd, LONG_SILENT, stream_response_body=2, read_timeout=1),
        PROXY,
        ('"read-timeout"',),
        names_hop=True,
    ),
    Case(  # the doctor waits 4 s for data: it gives up on the silent hop behind before it resumes
        "lighttpd-read-timeout-cut-doctor-gives-up-first",
        ("lighttpd",),
        _proxy(stacks.lighttpd, LONG_SILENT, stream_response_body=2, read_timeout=1),
        PROXY,
        ('"read-timeout"',),
        names_hop=True,
        timeout=4,
    ),
    Case(  # from the client alone: Server: Werkzeug is passed on, nothing names lighttpd
        "lighttpd-no-hops",
        ("lighttpd",),
        _proxy(stacks.lighttpd, hops=False),
        unnamed=True,
    ),
    Case("lighttpd-stream-response-body-2", ("lighttpd",), _proxy(stacks.lighttpd, stream_response_body=2)),
    # -- servers -----------------------------------------------------------------------------
    Case("uwsgi-http", ("uwsgi",), _server(stacks.uwsgi, STREAM)),
    Case("waitress", ("waitress",), _server(stacks.waitress, STREAM)),
    Case(
        "waitress-send-bytes-18000",
        ("waitress",),
        _server(stacks.waitress, STREAM, send_bytes=18000),
        SERVER,
        ("send_bytes",),
        names="waitress",
    ),
    Case(  # uWSGI's own default: one process, no threads
        "uwsgi-one-worker",
        ("uwsgi",),
        _server(stacks.uwsgi, STREAM, threads=0),
        directives=("--processes", "--threads"),
        warning="served-one-at-a-time",
    ),
    Case(
        "waitress-one-thread",
        ("waitress",),
        _server(stacks.waitress, STREAM, threads=1),
        directives=("threads=",),
        warning="served-one-at-a-time",
    ),
    Case("granian-asgi", ("granian",), _server(stacks.granian, STREAM)),
    Case("granian-wsgi", ("granian",), _server(stacks.granian, STREAM, interface="wsgi")),
    Case(
        "granian-wsgi-one-blocking-thread",
        ("granian",),
        _server(stacks.granian, STREAM, interface="wsgi", extra=["--blocking-threads", "1"]),
        directives=("--blocking-threads",),
        warning="served-one-at-a-time",
    ),
    Case("hypercorn", ("hypercorn",), _server(stacks.hypercorn, STREAM)),
    Case("daphne", ("daphne",), _server(stacks.daphne, STREAM)),
    # -- frameworks --------------------------------------------------------------------------
    Case(
        "django-asgi-async-iterator",
        ("django", "daphne"),
        _server(stacks.daphne, "/async", app="stack_django:application"),
    ),
    Case(
        "django-asgi-sync-iterator",
        ("django", "daphne"),
        _server(stacks.daphne, "/sync", app="stack_django:application"),
        APP,
        ("async",),
    ),
    Case(
        "django-gzipmiddleware",  # Django 5.2 flushes its gzip stream per piece
        ("django", "uvicorn"),
        _server(stacks.uvicorn_app, "/async", app="stack_django:application", env={"STACK_DJANGO_GZIP": "1"}),
    ),
    Case("aiohttp-streamresponse", ("aiohttp",), _server(stacks.aiohttp_app, STREAM)),
    Case(
        "aiohttp-enable-compression",
        ("aiohttp",),
        _server(stacks.aiohttp_app, "/compressed"),
        COMPRESSION,
        ("enable_compression",),
        names="aiohttp",
    ),
    Case("tornado-flush", ("tornado",), _server(stacks.tornado_app, STREAM)),
    Case(
        "tornado-no-flush",
        ("tornado",),
        _server(stacks.tornado_app, "/unflushed"),
        APP,
        ("flush()",),
        names="tornado",
    ),
    # -- Express 5 on node (npm packages) ------------------------------------------------------
    Case("express", ("express",), _server(stacks.express_app, STREAM)),
    Case(
        "express-compression",
        ("express",),
        _server(stacks.express_app, STREAM, compress=True),
        COMPRESSION,
        ("res.flush()",),
        names="Express",  # X-Powered-By: Express
    ),
    Case(
        "express-compression-res-flush",
        ("express",),
        _server(stacks.express_app, STREAM + "?flush=1", compress=True),
    ),
    # -- jupyter-server-proxy in a real Jupyter Server ---------------------------------------
    Case(
        "jupyter-server-proxy",
        ("jupyter_server", "jupyter_server_proxy"),
        _jupyter,
        PROXY,
        ("Accept: text/event-stream",),
        names="jupyter-server-proxy",  # by Jupyter Server's identity cookie
    ),
    Case(  # the caller's Accept wins over the doctor's event-stream variant: a list is buffered
        "jupyter-server-proxy-accept-list",
        ("jupyter_server", "jupyter_server_proxy"),
        _jupyter,
        PROXY,
        ("exactly",),
        names="jupyter-server-proxy",
        headers=(("Accept", "text/event-stream, */*"),),
    ),
]


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.gap)] if case.gap else []
    return pytest.param(case, id=case.id, marks=marks)


# -- running the cases side by side ------------------------------------------------------------


class Skipped(Exception):
    """The stack cannot run here; the message names the package."""


def _diagnose(case: Case, app: str) -> Diagnosis:
    why = stacks.missing(*case.needs)
    if why is not None:
        raise Skipped(why)
    with case.start(app) as target:
        return doctor(
            target.url,
            upstream=list(target.upstream),
            timeout=case.timeout,
            max_seconds=10,
            headers=dict(case.headers),
        )


@pytest.fixture(scope="module")
def diagnoses(request: pytest.FixtureRequest) -> Iterator[dict[str, Diagnosis | BaseException]]:
    """Every selected case's diagnosis (or why there is none), measured side by side."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "module", None) is request.module and hasattr(item, "callspec") and "case" in item.callspec.params
    ]
    started = time.monotonic()
    results: dict[str, Diagnosis | BaseException] = {}
    # Apache drops to www-data, so the app behind the proxies answers any local user (shared=True):
    # the owner-only gate would refuse its workers with a 403.
    with serve(stack_app.app, shared=True) as app:
        address = f"{stacks.HOST}:{app.port}"
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="stacks") as pool:
            futures = {case.id: pool.submit(_diagnose, case, address) for case in selected}
            for name, future in futures.items():
                try:
                    results[name] = future.result()
                except Exception as error:  # reported by the case's own test
                    results[name] = error
    yield results
    line = (
        f"stacks: {len(selected)} cases measured in {time.monotonic() - started:.1f} s ({WORKERS} at a time)"
    )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


def _blamed(diagnosis: Diagnosis) -> list[str]:
    return [f"{f.code} ({f.culprit})" for f in diagnosis.findings if f.culprit is not None and not f.warning]


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_stack(case: Case, diagnoses: dict[str, Diagnosis | BaseException]) -> None:
    result = diagnoses[case.id]
    if isinstance(result, Skipped):
        pytest.skip(str(result))
    if isinstance(result, BaseException):
        raise result
    diagnosis = result
    shown = f"{case.id}:\n{diagnosis}"
    if case.unnamed:
        assert not diagnosis.streams, shown
        assert diagnosis.culprit is None, shown
        assert not _blamed(diagnosis), shown
        # it says what would tell: the hop comparison
        assert any("upstream" in f.fix for f in diagnosis.findings), shown
        return
    if case.culprit is None:
        assert diagnosis.streams, shown
        assert diagnosis.culprit is None, shown
        assert not _blamed(diagnosis), shown
        if case.warning:
            warning = next((f for f in diagnosis.findings if f.code == case.warning), None)
            assert warning is not None and warning.warning, shown
            assert any(word in warning.fix for word in case.directives), (case.directives, warning.fix)
        return
    assert not diagnosis.streams, shown
    assert diagnosis.culprit in case.culprit, shown
    finding = next(f for f in diagnosis.findings if f.culprit == diagnosis.culprit)
    assert any(word in finding.fix for word in case.directives), (case.directives, finding.fix)
    if case.names:
        assert case.names in finding.summary, finding
    if case.names_hop:
        url = next(t.url for t in diagnosis.traces)
        outer = url.split("/", 3)[2]
        assert outer in finding.summary + " ".join(finding.evidence), finding


@pytest.mark.parametrize("program, package", [("apache2", "apache2"), ("varnishd", "varnish")])
def test_a_missing_program_skips_naming_its_package(program, package, monkeypatch):
    monkeypatch.setenv(stacks.PROGRAMS[program].env, "/nonexistent")
    why = stacks.missing(program)
    assert why is not None and f"apt-get install {package}" in why, why
    assert stacks.missing("no_such_module_for_stacks") == (
        "no_such_module_for_stacks is not installed: pip install no_such_module_for_stacks (in the test extra)"
    )


def test_haproxy_gathers_small_pieces_of_a_chunked_body() -> None:
    """What the HAProxy row of streamkit/products.py says, measured: 2.6 holds each small piece
    of a chunked response about 200 ms and sends what came meanwhile, so 8 pieces 80 ms apart
    arrive in about 3 reads (measured: 3); ``option http-no-delay`` sends each one at once."""
    reason = stacks.missing("haproxy")
    if reason is not None:
        pytest.skip(reason)
    path = "/stream?count=8&gap=0.08"
    with serve(stack_app.app) as app:
        address = f"{stacks.HOST}:{app.port}"
        with stacks.haproxy(address) as plain:
            paired = probe(plain.url + path, timeout=10)
        with stacks.haproxy(address, no_delay=True) as no_delay:
            apart = probe(no_delay.url + path, timeout=10)
    for trace in (paired, apart):
        assert trace.error is None and trace.body.count(b"piece ") == 8
    reads_paired = len({chunk.read for chunk in paired.chunks})
    reads_apart = len({chunk.read for chunk in apart.chunks})
    assert reads_apart >= 7, f"http-no-delay: 8 pieces came in {reads_apart} reads"
    assert reads_paired <= 5, f"default: 8 pieces came in {reads_paired} reads, not gathered"
