"""The servers, proxies and frameworks the doctor can recognise, and the directive that fixes each.

Measuring layer, and data: one frozen :class:`Product` row per product. A row says how the
product's responses look (exact header tells: ``Server``, ``Via``, ``X-Varnish``, ``CF-Ray``,
...), how it is known to behave (holding 18,000 bytes, 4-8 KiB pages, ...) and, for each
failure shape, the fix in the product's own words. A row describes; it never predicts: whether
anything was held is for the measurements to say (Starlette's GZip flushes in one release and
not in another, under one name).

:func:`recognise` returns each product a response proves, with the header that proves it, and
the behaviour tells a held response is *consistent with* (never a proof). A product without a
row, or one that leaves no trace in the response (most proxies pass the app server's
``Server`` header on and add no ``Via``), gets the generic fix of :data:`GENERIC`, and the
findings say what would tell: the hop comparison, or the server side.

Adding a product is one row. The failure shapes (keys of ``fixes``):

* ``buffering``: it holds the body (or most of it) before passing it on;
* ``compression``: its compression holds the content to the end;
* ``cut``: it cuts a stream that stays silent longer than its idle timeout;
* ``one-at-a-time``: it serves one request at a time (per worker);
* ``holds-writes``: a server that collects small writes before sending them;
* ``event-stream-only``: it streams only requests that ask for ``text/event-stream``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .trace import AT_ONCE

if TYPE_CHECKING:
    from .measurements import Measured, Measurements

__all__ = [
    "GENERIC",
    "PRODUCTS",
    "SHAPES",
    "Behaviour",
    "HeaderTell",
    "Match",
    "Product",
    "fix_for",
    "recognise",
]

SHAPES = ("buffering", "compression", "cut", "one-at-a-time", "holds-writes", "event-stream-only")


@dataclass(frozen=True)
class HeaderTell:
    """A response header whose value proves the product: ``pattern`` is a regular expression
    searched case-insensitively in the value (``".*"``: the header's presence proves it);
    ``sample`` a value seen from the product (the table test checks that it matches)."""

    header: str
    pattern: str
    sample: str

    def matches(self, value: str) -> bool:
        return re.search(self.pattern, value, re.IGNORECASE) is not None


@dataclass(frozen=True)
class Behaviour:
    """How the product is known to behave, in words (``text``), with the numbers a measurement
    can be checked against: ``holds_bytes`` (it sends nothing until it has that many bytes, or
    the body ends), ``pages`` (it passes the body on in pieces of this range of sizes)."""

    text: str
    holds_bytes: int | None = None
    pages: tuple[int, int] | None = None


@dataclass(frozen=True)
class Product:
    """One product: ``name``, ``kind`` (``"proxy"``, ``"server"`` or ``"framework"``), header
    tells, behaviour tells, and ``fixes``: (failure shape, fix) pairs, each fix naming the
    product's own directive, listed in ``directives``."""

    name: str
    kind: str
    headers: tuple[HeaderTell, ...] = ()
    behaviours: tuple[Behaviour, ...] = ()
    fixes: tuple[tuple[str, str], ...] = ()
    directives: tuple[str, ...] = ()

    def fix(self, shape: str) -> str | None:
        for key, text in self.fixes:
            if key == shape:
                return text
        return None


@dataclass(frozen=True)
class Match:
    """A product seen in a response: ``proof`` is ``"header"`` (``evidence`` is the header
    line that proves it, e.g. ``"Server: waitress"``) or ``"behaviour"`` (``evidence`` says
    what the measurements are consistent with); ``label`` names the request."""

    product: Product
    proof: str
    evidence: str
    label: str = ""

    @property
    def name(self) -> str:
        return self.product.name


#: The fix for each failure shape when no row names the product.
GENERIC: dict[str, str] = {
    "buffering": (
        "turn response buffering off in the proxy for the streaming path (nginx: X-Accel-Buffering: "
        "no or proxy_buffering off; Apache mod_proxy: flushpackets=on; Varnish: beresp.do_stream; "
        "lighttpd: server.stream-response-body = 2; HAProxy: no http-response wait-for-body)"
    ),
    "compression": (
        "flush the compressor after every item (zlib: compress(item) + flush(Z_SYNC_FLUSH); "
        "streamkit.GzipMiddleware does this), or leave streaming responses uncompressed: most "
        "compression middlewares skip a response that already has a Content-Encoding, or one "
        "whose type they are not told to compress"
    ),
    "cut": (
        "send a heartbeat (an SSE comment line ': ping', or an empty event) every 15-20 s, more "
        "often than the idle timeouts streams meet (nginx proxy_read_timeout 60 s, common load "
        "balancers 60 s, Cloudflare about 100 s); or raise the timeout of the layer that cut it "
        "(nginx: proxy_read_timeout; Apache: ProxyPass timeout= or ProxyTimeout; HAProxy: timeout "
        'server; Varnish: between_bytes_timeout; Caddy: read_timeout; lighttpd: the proxy.server "read-timeout")'
    ),
    "one-at-a-time": (
        "serve requests side by side: threads or async workers, or more workers; each open "
        "stream holds one of them for as long as it runs (gunicorn: --worker-class gthread "
        "--threads N or --workers; uWSGI: --processes / --threads; waitress: threads=; werkzeug: "
        "threaded=True; granian: --blocking-threads; an async view: await the slow call)"
    ),
    "holds-writes": "make the server send each write at once (its output buffer or send threshold)",
    "event-stream-only": "request with Accept: text/event-stream (exactly that value)",
}


def _row(
    name: str,
    kind: str,
    headers: tuple[HeaderTell, ...] = (),
    behaviours: tuple[Behaviour, ...] = (),
    fixes: dict[str, str] | None = None,
    directives: tuple[str, ...] = (),
) -> Product:
    return Product(name, kind, headers, behaviours, tuple((fixes or {}).items()), directives)


#: The table. One row per product: add a product by adding a row.
PRODUCTS: tuple[Product, ...] = (
    # -- proxies, CDNs and load balancers --------------------------------------------------
    _row(
        "nginx",
        "proxy",
        (HeaderTell("Server", r"^nginx\b", "nginx/1.22.1"),),
        (Behaviour("passes a buffered body on in 4-8 KiB pages (proxy_buffers)", pages=(4096, 8192)),),
        {
            "buffering": (
                "send the response header X-Accel-Buffering: no from the app for streaming responses, or "
                "set proxy_buffering off; for the streaming location; and proxy_http_version 1.1; (nginx "
                "talks HTTP/1.0 to the upstream unless told, and buffers a close-delimited body)"
            ),
            "compression": (
                "if nginx compresses it (gzip on), send X-Accel-Buffering: no from the app on streaming "
                "responses (nginx then passes each piece on, gzip output included), or leave the type out "
                "of gzip_types; if a middleware behind nginx compresses, flush it after every item (zlib "
                "Z_SYNC_FLUSH, as streamkit.GzipMiddleware does)"
            ),
            "cut": (
                "send a heartbeat (': ping' comment line) more often than proxy_read_timeout (60 s by "
                "default), or raise proxy_read_timeout for the streaming location"
            ),
        },
        ("X-Accel-Buffering", "proxy_buffering", "proxy_http_version", "gzip_types", "proxy_read_timeout"),
    ),
    _row(
        "Apache httpd",
        "proxy",
        (HeaderTell("Server", r"^Apache\b", "Apache/2.4.62 (Debian)"),),
        (Behaviour("passes a held body on in pages of ProxyIOBufferSize (8 KiB)", pages=(4096, 8192)),),
        {
            "buffering": "add flushpackets=on to the ProxyPass line (mod_proxy), so each piece is flushed on",
            "compression": (
                "keep mod_deflate off the streaming path: SetEnvIf Request_URI ^/stream no-gzip "
                "(or SetEnv no-gzip 1 in its <Location>)"
            ),
            "cut": (
                "send a heartbeat more often than the ProxyPass timeout= (ProxyTimeout, else Timeout, "
                "60 s by default), or raise timeout= on the ProxyPass line"
            ),
        },
        ("flushpackets", "no-gzip", "ProxyPass", "timeout="),
    ),
    _row(
        "Caddy",
        "proxy",
        # reverse_proxy sends two Server lines: its own "Caddy" first, then the backend's (2.6.2)
        (HeaderTell("Server", r"^Caddy\b", "Caddy"),),
        (
            Behaviour(
                "encode compresses only a response whose first write is at least minimum_length "
                "(512 bytes); then it sends the 10-byte gzip header at once and holds the content to the end"
            ),
        ),
        {
            "buffering": "set flush_interval -1 in the reverse_proxy block, so Caddy flushes every write",
            "compression": (
                "keep encode off streaming responses: give it a match block that leaves them out "
                "(encode { match { header Content-Type text/html* } }), or no encode on that route"
            ),
            "cut": (
                "Caddy's read_timeout ends the body cleanly, so the client cannot tell it from a whole "
                "one: send a heartbeat more often than read_timeout (transport http), or raise it"
            ),
        },
        ("flush_interval", "encode", "read_timeout"),
    ),
    _row(
        "HAProxy",
        "proxy",
        (),
        (
            Behaviour(
                "holds each small piece of a chunked response about 200 ms and then sends what has "
                "come meanwhile, so pieces closer together than that arrive together (option "
                "http-no-delay sends each at once; not seen with a close-delimited upstream body)"
            ),
            Behaviour(
                "http-response wait-for-body holds headers and body until the body ends, its time "
                "passes, or its buffer (tune.bufsize) is full: about 15,000 bytes came at once",
                holds_bytes=15000,
            ),
        ),
        {
            "buffering": (
                "remove http-response wait-for-body (and http-buffer-request) for the streaming "
                "backend, and set option http-no-delay so each small piece goes out at once"
            ),
            "compression": "leave the streaming type out of compression type (or no compression algo there)",
            "cut": "send a heartbeat more often than timeout server (and timeout tunnel), or raise them",
        },
        ("wait-for-body", "http-no-delay", "compression type", "timeout server"),
    ),
    _row(
        "Varnish",
        "proxy",
        (
            HeaderTell("Via", r"varnish", "1.1 varnish (Varnish/7.1)"),
            HeaderTell("X-Varnish", r"^\d+", "32770"),
        ),
        (Behaviour("do_gzip = true holds the body even for a client that asks for identity"),),
        {
            "buffering": "set beresp.do_stream = true; in vcl_backend_response (and return (pass) for streams)",
            "compression": "set beresp.do_gzip = false; in vcl_backend_response for streaming responses",
            "cut": "send a heartbeat more often than between_bytes_timeout (60 s by default), or raise it",
        },
        ("beresp.do_stream", "beresp.do_gzip", "between_bytes_timeout"),
    ),
    _row(
        "lighttpd",
        "proxy",
        (HeaderTell("Server", r"^lighttpd\b", "lighttpd/1.4.69"),),
        (
            Behaviour(
                "server.stream-response-body = 0 (the default) sends the whole body with a Content-Length"
            ),
        ),
        {
            "buffering": "set server.stream-response-body = 2 (or 1) in lighttpd.conf",
            "cut": 'send a heartbeat more often than the proxy.server "read-timeout", or raise it',
        },
        ("server.stream-response-body", "read-timeout"),
    ),
    _row(
        "Traefik",
        "proxy",
        (),
        (Behaviour("the buffering middleware holds whole bodies; the compress middleware compresses"),),
        {
            "buffering": "remove the buffering middleware from the streaming route (responseForwarding flushInterval sets how often it flushes)",
            "compression": "leave the type out of the compress middleware (excludedContentTypes)",
            "cut": "send a heartbeat more often than the entry point's respondingTimeouts (and any forwardingTimeouts)",
        },
        ("buffering", "excludedContentTypes", "respondingTimeouts"),
    ),
    _row(
        "Cloudflare",
        "proxy",
        (
            HeaderTell("CF-Ray", r".+", "8f1d2c3b4a5e6f70-AMS"),
            HeaderTell("Server", r"^cloudflare\b", "cloudflare"),
        ),
        (),
        {
            "compression": "send Cache-Control: no-transform on streaming responses, so Cloudflare does not recompress them",
            "buffering": "send Cache-Control: no-cache (and text/event-stream for events): Cloudflare streams uncached responses",
            "cut": "send a heartbeat well within Cloudflare's Proxy Read Timeout (100 s by default; a 524 error)",
        },
        ("no-transform", "no-cache", "Proxy Read Timeout"),
    ),
    _row(
        "Amazon CloudFront",
        "proxy",
        (
            HeaderTell("X-Amz-Cf-Id", r".+", "nL8c2Y9b3QwErTyUiOp0AsDfGhJkL1ZxCvBnM2QwErTyUiOp0AsDfG=="),
            HeaderTell("Via", r"cloudfront", "1.1 3f2a4b5c6d7e8f9a.cloudfront.net (CloudFront)"),
        ),
        (),
        {
            "compression": "turn off Compress objects automatically in the cache behaviour for the streaming path",
            "cut": "send a heartbeat more often than the origin's response timeout (OriginReadTimeout, 30 s by default)",
        },
        ("Compress objects automatically", "OriginReadTimeout"),
    ),
    _row(
        "AWS ALB",
        "proxy",
        (HeaderTell("Server", r"^awselb\b", "awselb/2.0"),),
        (),
        {
            "cut": "send a heartbeat more often than the load balancer's idle_timeout.timeout_seconds (60 s by default)"
        },
        ("idle_timeout.timeout_seconds",),
    ),
    _row(
        "Amazon API Gateway",
        "proxy",
        (
            HeaderTell("X-Amz-Apigw-Id", r".+", "Ab1Cd2EfGhIJkLm="),
            HeaderTell("X-Amzn-RequestId", r".+", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"),
        ),
        (
            Behaviour(
                "an integration's response is returned whole unless its response transfer mode is STREAM"
            ),
        ),
        {
            "buffering": "set the integration's responseTransferMode to STREAM (REST APIs), or serve the stream outside API Gateway"
        },
        ("responseTransferMode",),
    ),
    _row(
        "Fly.io proxy",
        "proxy",
        (HeaderTell("Fly-Request-Id", r".+", "01HZX3V4W5Y6Z7A8B9C0D1E2F3-ams"),),
    ),
    _row(
        "jupyter-server-proxy",
        "proxy",
        # Jupyter Server's identity cookie for an anonymous user, set on the proxied response;
        # the app's own Server header is passed on
        (
            HeaderTell(
                "Set-Cookie",
                r"^username-[\w.-]+=\"?2\|1:0\|",
                'username-127-0-0-1-8888="2|1:0|10:1796480135|24:...',
            ),
        ),
        (
            Behaviour(
                "buffers whole responses unless the request's Accept is exactly text/event-stream; a "
                "buffered one comes with Content-Length and tornado's Etag (a 40-hex SHA-1)"
            ),
        ),
        {
            "event-stream-only": (
                "request with Accept: text/event-stream (exactly that value: jupyter-server-proxy "
                "compares the string), or open the app's port without the proxy"
            ),
            "buffering": (
                "request with Accept: text/event-stream (exactly that value: jupyter-server-proxy "
                "streams only those), or open the app's port without the proxy"
            ),
        },
        ("Accept: text/event-stream",),
    ),
    # -- servers -----------------------------------------------------------------------------
    _row(
        "waitress",
        "server",
        (HeaderTell("Server", r"\bwaitress\b", "waitress"),),
        (
            Behaviour(
                "send_bytes=18000 (its 1.x default) holds headers and body until 18,000 bytes",
                holds_bytes=18000,
            ),
        ),
        {
            "holds-writes": "serve with send_bytes=1 (waitress 3's default; 1.x held 18,000 bytes)",
            "one-at-a-time": "raise threads= (4 by default): each open stream holds one thread",
        },
        ("send_bytes", "threads="),
    ),
    _row(
        "gunicorn",
        "server",
        (HeaderTell("Server", r"^gunicorn\b", "gunicorn"),),
        (),
        {
            "one-at-a-time": (
                "run gunicorn with --worker-class gthread --threads 16 (or gevent), or more --workers: "
                "a sync worker serves one request at a time"
            ),
            "cut": "run gunicorn with --worker-class gthread (or gevent) for streams, or raise --timeout above the longest stream",
        },
        ("--worker-class", "--timeout"),
    ),
    _row(
        "uWSGI",
        "server",
        (),  # --http sends no Server header of its own
        (
            Behaviour(
                "--http answers HTTP/1.1 with neither Content-Length nor chunking: the body ends when "
                "the connection closes"
            ),
            Behaviour("--route-run gzip: compresses even for a client that asked for identity"),
        ),
        {
            "compression": "leave the streaming path out of --route-run gzip: (or drop that route)",
            "one-at-a-time": "raise --processes, or add --threads (with --enable-threads)",
        },
        ("--route-run", "--processes"),
    ),
    _row(
        "uvicorn",
        "server",
        (HeaderTell("Server", r"^uvicorn\b", "uvicorn"),),
        (),
        {
            "one-at-a-time": (
                "an async server serves one request at a time only when the app blocks its event loop: "
                "await the slow call (asyncio.sleep, an async client), or run it with "
                "await asyncio.to_thread(...) / starlette's run_in_threadpool"
            )
        },
        ("asyncio.to_thread",),
    ),
    _row(
        "hypercorn",
        "server",
        (HeaderTell("Server", r"^hypercorn\b", "hypercorn-h11"),),
        (),
        {
            "one-at-a-time": "await the slow call in the async view, or run it with await asyncio.to_thread(...)"
        },
        ("asyncio.to_thread",),
    ),
    _row(
        "daphne",
        "server",
        (HeaderTell("Server", r"^daphne\b", "daphne"),),
        (),
        {
            "one-at-a-time": "await the slow call in the async view, or wrap sync code in sync_to_async (asgiref)"
        },
        ("sync_to_async",),
    ),
    _row(
        "granian",
        "server",
        (HeaderTell("Server", r"^granian\b", "granian"),),
        (),
        {"one-at-a-time": "add --blocking-threads (WSGI) or --workers; in an async app, await the slow call"},
        ("--blocking-threads",),
    ),
    _row(
        "Werkzeug development server",
        "server",
        (HeaderTell("Server", r"^Werkzeug\b", "Werkzeug/3.1.8 Python/3.11.2"),),
        (),
        {"one-at-a-time": "serve with threaded=True (run_simple / make_server), or a production server"},
        ("threaded=True",),
    ),
    _row(
        "wsgiref",
        "server",
        (HeaderTell("Server", r"^WSGIServer\b", "WSGIServer/0.2 CPython/3.11.2"),),
        (),
        {"one-at-a-time": "give wsgiref a ThreadingMixIn server class (or use a production server)"},
        ("ThreadingMixIn",),
    ),
    _row(
        "tornado",
        "framework",
        (HeaderTell("Server", r"^TornadoServer\b", "TornadoServer/6.4.2"),),
        (Behaviour("write() without flush() sends the whole body at the end, with a Content-Length"),),
        {"buffering": "call await self.flush() after each self.write(...) in the handler"},
        ("self.flush()",),
    ),
    _row(
        "aiohttp",
        "framework",
        (HeaderTell("Server", r"\baiohttp\b", "Python/3.11 aiohttp/3.14.0"),),
        (),
        {"compression": "do not call enable_compression() on a StreamResponse that streams"},
        ("enable_compression",),
    ),
    # -- frameworks ----------------------------------------------------------------------------
    _row(
        "Django",
        "framework",
        (),
        (
            Behaviour("under ASGI, StreamingHttpResponse collects a sync iterator before sending it"),
            Behaviour(
                "GZipMiddleware's compress_sequence writes each item into a GzipFile without flushing "
                "(newer releases flush each item)"
            ),
        ),
        {
            "buffering": "under ASGI give StreamingHttpResponse an async iterator (async def generator)",
            "compression": (
                "keep GZipMiddleware off streaming responses (it skips a response that already has a "
                "Content-Encoding), or upgrade to a Django whose compress_sequence flushes each item"
            ),
        },
        ("StreamingHttpResponse", "GZipMiddleware"),
    ),
    _row(
        "Flask",
        "framework",
        (),
        (),
        {
            "compression": (
                "with Flask-Compress before 1.21, set COMPRESS_STREAMS = False (it compressed streamed "
                "responses whole); 1.21 and later compress streams as they go"
            )
        },
        ("COMPRESS_STREAMS",),
    ),
    _row(
        "Starlette / FastAPI",
        "framework",
        (),
        (
            Behaviour(
                "GZipMiddleware through 1.3.1 releases compressed output only in large blocks; later releases flush per message"
            ),
        ),
        {
            "compression": (
                "upgrade Starlette to a release whose GZipMiddleware flushes each message, or leave "
                "the stream out of GZipMiddleware (it skips text/event-stream)"
            )
        },
        ("GZipMiddleware",),
    ),
    _row(
        "Express",
        "framework",
        (HeaderTell("X-Powered-By", r"^Express\b", "Express"),),
        (),
        {
            "compression": "call res.flush() after each res.write() (the compression middleware adds it), or filter the stream out"
        },
        ("res.flush()",),
    ),
)


def fix_for(match: Match | None, shape: str) -> str:
    """The product's own fix for a failure shape, else the generic one."""
    if match is not None:
        own = match.product.fix(shape)
        if own:
            return own
    return GENERIC[shape]


def _held_behaviour(behaviour: Behaviour, request: Measured) -> str | None:
    if not request.pieces:
        return None
    if behaviour.holds_bytes is not None and request.held:
        first = request.pieces[0].size
        total = sum(piece.size for piece in request.pieces)
        at_once = request.pieces[-1].t - request.pieces[0].t < AT_ONCE
        if first >= behaviour.holds_bytes:
            return f"{request.label}: the first content came as {first:,} bytes at once"
        if total < behaviour.holds_bytes and at_once:
            return f"{request.label}: the whole body, {total:,} bytes (under {behaviour.holds_bytes:,}), came at once"
    if behaviour.pages is not None and len(request.pieces) >= 3:
        low, high = behaviour.pages
        inner = request.pieces[:-1]
        if all(low <= piece.size <= high for piece in inner):
            return f"{request.label}: the content came in {len(inner)} pieces of {low:,}-{high:,} bytes"
    return None


def recognise(m: Measurements) -> list[Match]:
    """The products the responses prove, each with the header that proves it (first per
    product and request), then behaviour tells the measurements are consistent with (never a
    proof: they name no product on their own)."""
    found: list[Match] = []
    for request in m.requests + m.hops[1:]:
        seen: set[str] = set()
        for product in PRODUCTS:
            for tell in product.headers:
                value = request.header(tell.header)
                if value and product.name not in seen and tell.matches(value):
                    seen.add(product.name)
                    found.append(Match(product, "header", f"{tell.header}: {value[:80]}", request.label))
    for request in m.requests + m.hops[1:]:
        for product in PRODUCTS:
            for behaviour in product.behaviours:
                seen_fact = _held_behaviour(behaviour, request)
                if seen_fact is not None:
                    found.append(
                        Match(
                            product,
                            "behaviour",
                            f"{seen_fact}: consistent with {product.name} ({behaviour.text})",
                            request.label,
                        )
                    )
    return found
