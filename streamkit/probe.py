"""Request a URL and time every piece of the body as it arrives: the client half of a Trace.

``probe(url)`` sends one request, the way a browser would (``Accept-Encoding: gzip, deflate``),
and reads the body as it comes:

* a chunked body gives one :class:`~streamkit.trace.Chunk` per HTTP chunk;
* a Content-Length or close-delimited body gives one per read, as soon as the data is there
  (``requests``' ``iter_content(None)`` would wait for the end and hand over one blob).

http.client sends the request and parses the status line and headers. The chunked body is
read here, with a few lines of code, because http.client and urllib3 both skip the CRLF after
each chunk without checking it, and a diagnostic tool must report a malformed stream instead of
quietly reading something else. gzip and deflate are decoded piece by piece with ``zlib``, so
each chunk keeps both its size on the wire and its decoded size.

A dead URL (refused, unknown host, no answer in time) raises :class:`ProbeError`. A body that
breaks half-way is not an exception: the trace keeps every chunk that arrived and says what
went wrong in ``trace.error``.

Layer: measuring.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from werkzeug.datastructures import Headers

from .trace import Chunk, Trace

__all__ = ["ProbeError", "probe", "read_response"]

USER_AGENT = "streamkit-probe"
READ_SIZE = 64 * 1024  # most bytes asked for in one read of a non-chunked body
READ_BUFFER = 256 * 1024  # the socket reader's buffer: one recv() takes up to this much
SMALL_CHUNK = 4096  # smaller chunks are read together with their CRLF
BIG_CHUNK = 1024 * 1024  # chunks larger than this are read in pieces (a bogus size cannot eat memory)
_HEX = b"0123456789abcdefABCDEF"
_CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")


class ProbeError(OSError):
    """The URL gave no response: refused, unknown host, timeout, or not HTTP at all."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class _Response(http.client.HTTPResponse):
    """http.client's response, reading the socket through a large buffer.

    When the server runs in this same process (``Server.get`` in a notebook), a busy server
    thread holds the GIL most of the time, and the probe gets it back only every few ms after
    each read from the socket. Taking everything that has arrived in one read (up to
    READ_BUFFER bytes) keeps the probe from falling behind and recording chunks late.
    """

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp.close()  # the default 8 KiB reader: nothing has been read through it yet
        self.fp = sock.makefile("rb", buffering=READ_BUFFER)  # type: ignore[assignment]


class _BodyBroken(Exception):
    """Raised inside the reading loop when the body breaks; becomes ``trace.error``."""


def probe(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    timeout: float = 10,
    max_seconds: float | None = None,
    keep_body: bool = True,
    live: bool = False,
) -> Trace:
    """Request ``url`` and return a :class:`~streamkit.trace.Trace` of the response's arrival.

    ``timeout`` bounds the wait for the connection and the response headers together, and then
    any silence in the body. ``max_seconds`` ends the read of an endless stream (``trace.stopped``).
    ``keep_body=False`` keeps only times and sizes, so a huge stream costs memory per chunk, not
    per byte. ``live=True`` draws the timeline in a Jupyter output as chunks arrive.
    """
    view = None
    if live:
        # The live picture is the display layer's, above this one: imported only when asked for.
        from .display import live_view

        view = live_view()
    trace = read_response(
        url,
        method=method,
        headers=headers,
        timeout=timeout,
        max_seconds=max_seconds,
        keep_body=keep_body,
        on_chunk=view.update if view is not None else None,
    )
    if view is not None:
        view.close(trace)
    return trace


def read_response(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    timeout: float = 10,
    max_seconds: float | None = None,
    keep_body: bool = True,
    on_chunk: Callable[[Trace], Any] | None = None,
) -> Trace:
    """What :func:`probe` does, with ``on_chunk(trace)`` called after every chunk."""
    parts = _check_url(url)
    if timeout is None or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError(f"max_seconds must be a positive number of seconds, got {max_seconds!r}")
    method = method.upper()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request_headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
    for name, value in (headers or {}).items():
        for known in [key for key in request_headers if key.lower() == name.lower()]:
            del request_headers[known]
        request_headers[name] = value

    trace = Trace(url=url, method=method)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    connection.response_class = _Response
    trace.started = time.monotonic()
    response, sock = _send(connection, url, parts, method, target, request_headers, timeout)
    try:
        trace.headers_at = time.monotonic() - trace.started
        trace.status = response.status
        trace.headers = Headers(list(response.headers.items()))
        _read_body(trace, response, sock, timeout, max_seconds, keep_body, on_chunk)
    finally:
        response.close()
        sock.close()
        connection.close()
    return trace


def _check_url(url: str) -> Any:
    if not isinstance(url, str):
        raise TypeError(f"probe() needs a URL string, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        hint = f" (did you mean 'http://{url}'?)" if "://" not in url and url else ""
        raise ValueError(f"cannot probe {url!r}: expected an http:// or https:// URL with a host{hint}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ValueError(f"cannot probe {url!r}: {exc}") from None
    return parts


def _send(
    connection: http.client.HTTPConnection,
    url: str,
    parts: Any,
    method: str,
    target: str,
    headers: dict[str, str],
    timeout: float,
) -> tuple[http.client.HTTPResponse, socket.socket]:
    """Connect, send the request, read the status line and headers, all within ``timeout``.

    Returns the response and its socket (http.client lets go of the socket when the server
    says it will close the connection, so keep our own reference to it).
    """
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    deadline = time.monotonic() + timeout
    try:
        connection.connect()
        sock = connection.sock
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        connection.request(method, target, headers=headers)
        return connection.getresponse(), sock
    except socket.gaierror as exc:
        reason = f"unknown host {host!r} ({exc.strerror})"
    except ConnectionRefusedError:
        reason = f"connection refused: nothing is listening on {host} port {port}"
    except TimeoutError:
        reason = f"no response within {timeout:g} s (timed out)"
    except http.client.RemoteDisconnected:
        reason = "the server closed the connection without sending a response"
    except (http.client.BadStatusLine, http.client.LineTooLong, http.client.UnknownProtocol) as exc:
        reason = f"not a valid HTTP response ({type(exc).__name__}: {str(exc)[:80]})"
    except http.client.HTTPException as exc:
        reason = f"malformed response headers ({type(exc).__name__}: {str(exc)[:80]})"
    except ssl.SSLError as exc:
        reason = f"TLS failed ({exc.reason or exc})"
    except OSError as exc:
        reason = f"the connection failed ({type(exc).__name__}: {exc.strerror or exc})"
    connection.close()
    raise ProbeError(url, reason)


class _Decoder:
    """Decode a gzip or deflate body piece by piece."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._gzip = encoding in ("gzip", "x-gzip")
        self._first = True
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    def decode(self, data: bytes) -> bytes:
        if self._first and data:
            self._first = False
            if not self._gzip:
                try:
                    return self._z.decompress(data)
                except zlib.error:  # some servers send raw deflate, without the zlib header
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        out = self._z.decompress(data)
        while self._gzip and self._z.eof and self._z.unused_data:  # a second gzip member
            rest = self._z.unused_data
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self._z.decompress(rest)
        return out

    def finish(self) -> bytes:
        """What is left; raises _BodyBroken if the compressed stream was cut short."""
        out = self._z.flush()
        if not self._first and not self._z.eof:
            raise _BodyBroken(f"the {self.encoding} stream ended early (truncated compressed body)")
        return out


def _decoder_for(trace: Trace) -> _Decoder | None:
    encoding = (trace.headers.get("Content-Encoding") or "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Decoder(encoding)
    if encoding not in ("", "identity"):
        trace.note = f"Content-Encoding {encoding!r} is not decoded: sizes are wire sizes"
    return None


def _read_body(
    trace: Trace,
    response: http.client.HTTPResponse,
    sock: socket.socket,
    timeout: float,
    max_seconds: float | None,
    keep_body: bool,
    on_chunk: Callable[[Trace], Any] | None,
) -> None:
    started = trace.started
    no_body = trace.method == "HEAD" or trace.status in (204, 304) or 100 <= (trace.status or 0) < 200
    stop_at = started + max_seconds if max_seconds is not None else None
    if stop_at is not None and stop_at - time.monotonic() < timeout:
        sock.settimeout(max(stop_at - time.monotonic(), 0.001))
    else:
        sock.settimeout(timeout)
    reader = _Reader(trace, response.fp, sock, timeout, stop_at, keep_body, _decoder_for(trace), on_chunk)
    try:
        if no_body:
            pass
        elif response.chunked:
            reader.read_chunked()
        else:
            reader.read_plain(response.length)
        reader.finish()
    except _BodyBroken as exc:
        trace.error = f"{exc}"
    except TimeoutError:
        if stop_at is not None and time.monotonic() >= stop_at - 0.01:
            trace.stopped = True
        else:
            trace.error = f"ReadTimeout: no data for {timeout:g} s in the middle of the body"
    except _Stop:
        trace.stopped = True
    except zlib.error as exc:
        trace.error = f"DecodeError: the {trace.headers.get('Content-Encoding')} body does not decode ({exc})"
    except OSError as exc:
        trace.error = f"{type(exc).__name__}: the connection broke mid-body ({exc.strerror or exc})"
    trace.duration = time.monotonic() - started
    if trace.ttfb is None and trace.chunks:
        trace.ttfb = trace.chunks[0].t


class _Stop(Exception):
    """max_seconds reached."""


class _Reader:
    """The body-reading loops; each received piece becomes a Chunk appended to the trace."""

    def __init__(
        self,
        trace: Trace,
        fp: Any,
        sock: socket.socket,
        timeout: float,
        stop_at: float | None,
        keep_body: bool,
        decoder: _Decoder | None,
        on_chunk: Callable[[Trace], Any] | None,
    ) -> None:
        self.trace = trace
        self.fp = fp
        self.sock = sock
        self.timeout = timeout
        self.stop_at = stop_at
        self.keep_body = keep_body
        self.decoder = decoder
        self.on_chunk = on_chunk

    def add(self, wire: bytes, now: float) -> None:
        """Record one received piece (``wire`` as it came, before decoding)."""
        trace = self.trace
        if not trace.chunks:
            trace.ttfb = now - trace.started
        data = self.decoder.decode(wire) if self.decoder is not None else wire
        kept = data if self.keep_body else None
        trace.chunks.append(Chunk(now - trace.started, len(data), kept, len(wire)))
        if self.on_chunk is not None:
            self.on_chunk(trace)
        if self.stop_at is not None:
            self.check_time(now)

    def check_time(self, now: float) -> None:
        """Stop at ``max_seconds``; before that, never wait on a read past it."""
        left = self.stop_at - now  # type: ignore[operator]
        if left <= 0:
            raise _Stop
        if left < self.timeout:
            self.sock.settimeout(left)

    def finish(self) -> None:
        if self.decoder is not None:
            rest = self.decoder.finish()
            if rest and self.trace.chunks:
                last = self.trace.chunks[-1]
                last.size += len(rest)
                if last.data is not None:
                    last.data += rest

    def read_plain(self, length: int | None) -> None:
        """A Content-Length body (``length``) or one that ends when the server closes (None)."""
        read1 = self.fp.read1
        monotonic = time.monotonic
        add = self.add
        remaining = length
        received = 0
        while remaining is None or remaining > 0:
            data = read1(READ_SIZE if remaining is None else min(READ_SIZE, remaining))
            if not data:
                if remaining:
                    raise _BodyBroken(
                        f"IncompleteRead: the connection closed after {received:,} of {length:,} "
                        "bytes (Content-Length)"
                    )
                return
            received += len(data)
            if remaining is not None:
                remaining -= len(data)
            add(data, monotonic())

    def read_chunked(self) -> None:
        """A chunked body: one record per chunk, checking every size line and CRLF."""
        readline = self.fp.readline
        read = self.fp.read
        match = _CHUNK_SIZE_LINE.fullmatch
        monotonic = time.monotonic
        add = self.add
        # With nothing to decode, report or watch, a small chunk is recorded right here: this
        # loop runs once per chunk, and a method call per chunk is a measurable share of it.
        plain = self.decoder is None and self.on_chunk is None and self.stop_at is None
        keep = self.keep_body
        append = self.trace.chunks.append
        started = self.trace.started
        count = 0
        while True:
            line = readline(1024)
            digits = line[:-2]
            if line[-2:] == b"\r\n" and 0 < len(digits) <= 16 and not digits.strip(_HEX):
                size = int(digits, 16)  # the usual "1f\r\n", checked without a regex
            else:
                found = match(line)  # extensions, spaces, a bare LF ... or garbage
                if found is None:
                    raise _BodyBroken(_bad_size_line(line, count))
                size = int(found.group(1), 16)
            if size == 0:
                break
            if size < SMALL_CHUNK:
                # One read for data and CRLF; slicing a small chunk is cheaper than a second read.
                data = read(size + 2)
                if len(data) == size + 2 and data[-2:] == b"\r\n":
                    if plain:
                        append(Chunk(monotonic() - started, size, data[:-2] if keep else None, size))
                    else:
                        add(data[:-2], monotonic())
                    count += 1
                    continue
            else:
                # Read a big chunk on its own (no copy to cut off the CRLF), a bogus size in pieces.
                data = read(size) if size <= BIG_CHUNK else self._read_big(size)
            if len(data) < size:
                if data:
                    add(data, monotonic())
                raise _BodyBroken(
                    f"IncompleteRead: the connection closed inside chunk {count + 1}, after "
                    f"{len(data):,} of its {size:,} bytes"
                )
            add(data[:size] if len(data) > size else data, monotonic())
            count += 1
            end = data[size:] if len(data) > size else read(2)
            if end != b"\r\n":
                raise _BodyBroken(
                    f"MalformedChunk: chunk {count} ({size:,} bytes) is not followed by CRLF "
                    f"(got {end[:10]!r})"
                )
        self._read_trailer()

    def _read_big(self, size: int) -> bytes:
        """Read a chunk over BIG_CHUNK bytes in pieces: a bogus size costs only what arrives."""
        pieces = []
        left = size
        while left > 0:
            piece = self.fp.read(min(left, BIG_CHUNK))
            if not piece:
                break
            pieces.append(piece)
            left -= len(piece)
        return b"".join(pieces)

    def _read_trailer(self) -> None:
        """After the last (zero) chunk: optional trailer fields, then an empty line."""
        for _ in range(100):
            line = self.fp.readline(8192)
            if line in (b"\r\n", b"\n"):
                return
            if not line.endswith(b"\n"):
                raise _BodyBroken(
                    "IncompleteRead: the chunked body ended without the empty line after its "
                    "last chunk"
                )
        raise _BodyBroken("MalformedChunk: more than 100 trailer lines after the last chunk")


def _bad_size_line(line: bytes, count: int) -> str:
    where = f"after {count} chunk{'' if count == 1 else 's'}"
    if not line:
        return f"IncompleteRead: the connection closed {where}, before the last (zero-size) chunk"
    if not line.endswith(b"\n"):
        return f"MalformedChunk: the chunk size line {where} is cut short or too long: {line[:40]!r}"
    return f"MalformedChunk: invalid chunk size line {where}: {line[:40]!r}"
