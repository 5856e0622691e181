"""Gzip for WSGI apps, two ways: one that keeps a stream streaming, and the naive one that does not.

:class:`GzipMiddleware` compresses each item the app yields on its own and ends it with a zlib
*sync flush*, so the compressed bytes of every item can leave at once and the client can decode
them at once. The whole body is still one valid gzip stream.

:class:`NaiveGzipMiddleware` is what many compression layers do: it collects the whole body,
compresses it in one go and sets ``Content-Length``. Every byte waits for the last item. It is
here so the difference can be measured, not to be used in front of a stream.

Both compress only when the client accepts gzip, the content type is text-like, and the response
is not already encoded, is not a 204/206/304 or a HEAD answer, and does not say
``Cache-Control: no-transform``. Both add ``Vary: Accept-Encoding`` to text-like responses.

Layer: core.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.http import parse_accept_header, parse_options_header

__all__ = ["COMPRESSIBLE_TYPES", "GzipMiddleware", "NaiveGzipMiddleware", "is_compressible"]

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
Headers = list[tuple[str, str]]

#: Exact media types (besides ``text/*`` and ``*+json`` / ``*+xml``) worth compressing.
COMPRESSIBLE_TYPES = frozenset(
    {
        "application/json",
        "application/javascript",
        "application/x-ndjson",
        "application/xml",
        "image/svg+xml",
    }
)


def _header(headers: Headers, name: str) -> str | None:
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _without(headers: Headers, *names: str) -> Headers:
    drop = {name.lower() for name in names}
    return [(key, value) for key, value in headers if key.lower() not in drop]


def is_compressible(content_type: str | None) -> bool:
    """True when a response of this ``Content-Type`` is text-like and worth compressing."""
    if not content_type:
        return False
    mimetype = parse_options_header(content_type)[0].lower()
    return (
        mimetype.startswith("text/") or mimetype in COMPRESSIBLE_TYPES or mimetype.endswith(("+json", "+xml"))
    )


def _with_vary(headers: Headers) -> Headers:
    """Add ``Accept-Encoding`` to ``Vary`` (the body now depends on that request header)."""
    vary = _header(headers, "Vary")
    if vary is None:
        return [*headers, ("Vary", "Accept-Encoding")]
    names = {part.strip().lower() for part in vary.split(",")}
    if "accept-encoding" in names or "*" in names:
        return headers
    return [*_without(headers, "Vary"), ("Vary", f"{vary}, Accept-Encoding")]


def _gzip_headers(headers: Headers) -> Headers:
    """Headers for the compressed body: encoding named, old length dropped, strong ETag weakened."""
    etag = _header(headers, "ETag")
    out = _without(headers, "Content-Length", "ETag")
    if etag is not None:
        out.append(("ETag", etag if etag.startswith("W/") else f"W/{etag}"))
    out.append(("Content-Encoding", "gzip"))
    return _with_vary(out)


def _plan(environ: dict[str, Any], status: str, headers: Headers) -> str:
    """Decide what to do with one response: "gzip", "vary" (text-like, left as is) or "pass"."""
    if not is_compressible(_header(headers, "Content-Type")):
        return "pass"
    if _header(headers, "Content-Encoding") not in (None, "", "identity"):
        return "pass"  # already encoded: never compress twice
    code = status.split(" ", 1)[0]
    cache_control = (_header(headers, "Cache-Control") or "").lower()
    if (
        environ.get("REQUEST_METHOD") == "HEAD"
        or code in ("204", "206", "304")
        or "no-transform" in cache_control
        or parse_accept_header(environ.get("HTTP_ACCEPT_ENCODING", "")).quality("gzip") <= 0
    ):
        return "vary"
    return "gzip"


def _close(iterable: Iterable[bytes]) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()


def _gzip_level(level: int) -> int:
    """``level`` when it is a gzip compression level (0..9); else a ValueError naming it."""
    if not 0 <= level <= 9:
        raise ValueError(f"gzip level must be 0..9, got {level!r}")
    return level


class GzipMiddleware:
    """Gzip a WSGI app's responses item by item, flushing after each, so streams keep streaming.

    ``GzipMiddleware(app, level=6)``. Each non-empty item becomes ``compress(item) +
    flush(Z_SYNC_FLUSH)``: a few bytes of overhead per item buy an item that can be decoded the
    moment it arrives. Empty items pass through as ``b""`` (a server may use one to send the
    headers early). ``Content-Length`` is dropped, so the server streams the body chunked.
    """

    def __init__(self, app: WSGIApp, *, level: int = 6) -> None:
        self.app = app
        self.level = _gzip_level(level)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        stream = _GzipStream(self.level)

        def gzip_start_response(
            status: str, headers: Headers, exc_info: Any = None
        ) -> Callable[[bytes], Any]:
            plan = _plan(environ, status, headers)
            if plan == "gzip":
                headers = _gzip_headers(headers)
            elif plan == "vary":
                headers = _with_vary(headers)
            # With exc_info after the headers went out, this raises: the stream is over.
            write = start_response(status, headers, exc_info)
            # (Re)start the compressor only now: an error page replacing unsent headers gets
            # a fresh gzip stream, or none.
            stream.compressor = None
            if plan == "gzip":
                stream.start()
            return lambda data: write(stream.encode(data))

        stream.app_iter = self.app(environ, gzip_start_response)
        return stream


class _GzipStream:
    """The response iterable of :class:`GzipMiddleware`: one compressed piece per app item."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.app_iter: Iterable[bytes] = ()
        self.compressor: Any = None
        self._iterator: Iterator[bytes] | None = None
        self._done = False
        self._closed = False

    def start(self) -> None:
        # wbits=31: a gzip header and trailer around the deflate data.
        self.compressor = zlib.compressobj(self.level, zlib.DEFLATED, 31)

    def encode(self, data: bytes) -> bytes:
        if self.compressor is None or not data:
            return data
        return self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._done:
            raise StopIteration
        if self._iterator is None:
            self._iterator = iter(self.app_iter)
        try:
            item = next(self._iterator)
        except StopIteration:
            self._done = True
            if self.compressor is None:
                raise
            tail, self.compressor = self.compressor.flush(zlib.Z_FINISH), None
            return tail  # the end of the deflate data and the gzip trailer (CRC, length)
        return self.encode(item)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _close(self.app_iter)


class NaiveGzipMiddleware:
    """Gzip the whole body at once, as many compression layers do: every stream becomes one blob.

    ``NaiveGzipMiddleware(app, level=6)``. When the response is going to be compressed, it
    reads the app's iterable to the end, compresses the lot, sets ``Content-Length`` and only
    then starts the response. Responses it does not compress pass through untouched (when the
    app has called ``start_response`` by the time it returns, which nearly every app does).
    """

    def __init__(self, app: WSGIApp, *, level: int = 6) -> None:
        self.app = app
        self.level = _gzip_level(level)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        captured: list[tuple[str, Headers]] = []
        written: list[bytes] = []  # from the legacy write() callable

        def capture(status: str, headers: Headers, exc_info: Any = None) -> Callable[[bytes], None]:
            captured[:] = [(status, headers)]  # nothing was sent yet, so a second call may replace
            return written.append

        app_iter = self.app(environ, capture)
        if captured and _plan(environ, *captured[0]) != "gzip":
            status, headers = captured[0]
            if _plan(environ, status, headers) == "vary":
                headers = _with_vary(headers)
            write = start_response(status, headers)
            for data in written:
                write(data)
            return app_iter  # the same iterable: the server closes it, exactly once

        body = list(written)
        try:
            body.extend(app_iter)
        finally:
            _close(app_iter)
        if not captured:
            raise RuntimeError("the app returned without calling start_response")
        status, headers = captured[0]
        data = b"".join(body)
        if _plan(environ, status, headers) == "gzip":
            data = gzip.compress(data, self.level, mtime=0)
            headers = _gzip_headers(headers)
        elif _plan(environ, status, headers) == "vary":
            headers = _with_vary(headers)
        headers = [*_without(headers, "Content-Length"), ("Content-Length", str(len(data)))]
        start_response(status, headers)
        return [data]
