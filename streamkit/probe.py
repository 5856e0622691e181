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
import json as jsonlib
import re
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from werkzeug.datastructures import Headers

from .events import FRAMINGS, EventParser, content_path, framing_for, parser_for
from .trace import Chunk, Trace

__all__ = [
    "ProbeError",
    "Request",
    "check_url",
    "decoder_available",
    "request_body",
    "prepare_request",
    "probe",
    "read_here",
    "read_response",
]

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
    method: str | None = None,
    data: bytes | str | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10,
    max_seconds: float | None = None,
    keep_body: bool = True,
    live: bool = False,
    browser: bool = False,
    events: str | None = "auto",
    content: str | None = None,
) -> Trace:
    """Request ``url`` and return a :class:`~streamkit.trace.Trace` of the response's arrival.

    ``data`` (bytes, or text sent as UTF-8) or ``json`` (any JSON-able value, sent with
    ``Content-Type: application/json`` unless ``headers`` set one) is the request body; a body
    without a ``method`` is a POST, as in curl, and no body a GET.

    ``events`` says how to split the body into events (``trace.events``): ``"auto"`` (the
    default) from its Content-Type (``text/event-stream``, ``application/x-ndjson``, ...),
    ``"sse"``, ``"jsonl"`` or ``"json-seq"`` whatever it says, None not at all. ``content``
    names where a JSON event keeps its text (``"message.text"``), for formats the kit does not
    recognise (see :mod:`streamkit.events`); ``trace.first_content`` is when the first came.

    ``timeout`` bounds the wait for the connection and the response headers together, and then
    any silence in the body. ``max_seconds`` ends the read of an endless stream (``trace.stopped``).
    ``keep_body=False`` keeps only times and sizes, so a huge stream costs memory per chunk, not
    per byte. ``live=True`` draws the timeline in a Jupyter output as chunks arrive.

    ``browser=True`` loads ``url`` in headless Chromium instead: the trace then has the
    browser's reads (``chunks``, ``browser_received``) and when the page grew
    (``browser_shown``); with a body, a page of the kit's own sends it with ``fetch()`` and
    reads the reply with a stream reader (``browser_reads``); see :func:`streamkit.browser.browse`.
    """
    if browser:
        from .browser import browse  # same layer; browser imports this module's ProbeError

        return browse(
            url,
            headers=headers,
            timeout=timeout,
            max_seconds=max_seconds,
            keep_body=keep_body,
            method=method,
            data=data,
            json=json,
        )
    view = None
    if live:
        # The live picture is the display layer's, above this one: imported only when asked for.
        from .display import live_view

        view = live_view()
    trace = read_response(
        url,
        method=method,
        data=data,
        json=json,
        headers=headers,
        timeout=timeout,
        max_seconds=max_seconds,
        keep_body=keep_body,
        on_chunk=view.update if view is not None else None,
        events=events,
        content=content,
    )
    if view is not None:
        view.close(trace)
    return trace


def read_response(
    url: str,
    *,
    method: str | None = None,
    data: bytes | str | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10,
    max_seconds: float | None = None,
    keep_body: bool = True,
    on_chunk: Callable[[Trace], Any] | None = None,
    events: str | None = "auto",
    content: str | None = None,
) -> Trace:
    """What :func:`probe` does, with ``on_chunk(trace)`` called after every chunk.

    The socket is read by the reader worker process when there is one (see
    :mod:`streamkit.reader`), so that a busy thread in this process cannot make pieces look
    late; bad arguments and dead URLs raise here all the same.
    """
    request = prepare_request(
        url,
        method=method,
        data=data,
        json=json,
        headers=headers,
        timeout=timeout,
        max_seconds=max_seconds,
        events=events,
        content=content,
    )
    from .reader import read  # the reader imports this module

    return read(request, keep_body=keep_body, on_chunk=on_chunk)


@dataclass(frozen=True)
class Request:
    """A checked request, ready to send: what :func:`read_here` needs (and can be pickled)."""

    url: str
    method: str
    scheme: str
    host: str
    port: int | None
    target: str
    headers: dict[str, str]
    timeout: float
    max_seconds: float | None
    body: bytes | None = None
    events: str | None = "auto"  # "auto" (from the Content-Type), one of events.FRAMINGS, or None
    content: tuple[str | int, ...] | None = None  # where JSON events keep their text


def request_body(data: bytes | str | None = None, json: Any = None) -> tuple[bytes | None, str | None]:
    """The body to send and the Content-Type it implies: ``data`` as bytes (text as UTF-8),
    or ``json`` encoded (``application/json``). ValueError or TypeError saying what is wrong."""
    if data is not None and json is not None:
        raise ValueError("give the body as data= or as json=, not both")
    if json is not None:
        try:
            text = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"json= must be a JSON-able value: {exc}") from None
        return text.encode("utf-8"), "application/json"
    if data is None:
        return None, None
    if isinstance(data, str):
        return data.encode("utf-8"), None
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data), None
    raise TypeError(f"data= must be bytes or str, got {type(data).__name__} (use json= for a JSON body)")


def prepare_request(
    url: str,
    *,
    method: str | None = None,
    data: bytes | str | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10,
    max_seconds: float | None = None,
    events: str | None = "auto",
    content: str | None = None,
) -> Request:
    """Check the arguments (ValueError, TypeError) and build the request's headers and body."""
    parts = _check_url(url)
    body, body_type = request_body(data, json)
    if method is None:
        method = "GET" if body is None else "POST"
    if not isinstance(method, str) or not method.strip() or not method.strip().isalpha():
        raise ValueError(f"method must be an HTTP method such as 'GET' or 'POST', got {method!r}")
    if events is not None and events != "auto" and events not in FRAMINGS:
        raise ValueError(f"events must be 'auto', {', '.join(map(repr, FRAMINGS))} or None, got {events!r}")
    path = content_path(content) if content is not None else None
    if timeout is None or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError(f"max_seconds must be a positive number of seconds, got {max_seconds!r}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request_headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
    for name, value in (headers or {}).items():
        for known in [key for key in request_headers if key.lower() == name.lower()]:
            del request_headers[known]
        request_headers[name] = value
    if body_type is not None and not any(name.lower() == "content-type" for name in request_headers):
        request_headers["Content-Type"] = body_type
    return Request(
        url=url,
        method=method.strip().upper(),
        scheme=parts.scheme,
        host=parts.hostname,
        port=parts.port,
        target=target,
        headers=request_headers,
        timeout=timeout,
        max_seconds=max_seconds,
        body=body,
        events=events,
        content=path,
    )


def read_here(
    request: Request,
    *,
    keep_body: bool = True,
    on_chunk: Callable[[Trace], Any] | None = None,
    on_head: Callable[[Trace], Any] | None = None,
    before_read: Callable[[socket.socket], Any] | None = None,
) -> Trace:
    """Send ``request`` and read the response in this process and thread.

    ``on_head(trace)`` is called once the status line and headers are in, before the body;
    ``before_read(sock)`` before every read of the body from the socket (the reader worker
    sends its batches then, when a read may wait).
    """
    trace = Trace(url=request.url, method=request.method)
    connection_class = (
        http.client.HTTPSConnection if request.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(request.host, request.port, timeout=request.timeout)
    connection.response_class = _Response
    trace.started = time.monotonic()
    response, sock = _send(connection, request)
    try:
        now = time.monotonic()
        trace.status = response.status
        trace.headers = Headers(list(response.headers.items()))
        trace.headers_at = now - trace.started  # set last: a reader in another thread polls it
        framing = (
            framing_for(trace.headers.get("Content-Type")) if request.events == "auto" else request.events
        )
        parser = parser_for(framing, request.content) if framing is not None else None
        trace.event_framing = framing
        if parser is not None:  # the same lists: the trace's events grow as the body is read
            trace.events = parser.events
            trace.comments = parser.comments
        if on_head is not None:
            on_head(trace)
        _read_body(
            trace,
            response,
            sock,
            request.timeout,
            request.max_seconds,
            keep_body,
            on_chunk,
            before_read,
            parser,
        )
    finally:
        response.close()
        sock.close()
        connection.close()
    return trace


def check_url(url: str) -> Any:
    """The URL's parts when the probe can request it; ValueError (or TypeError) saying why not."""
    return _check_url(url)


def _check_url(url: str) -> Any:
    if not isinstance(url, str):
        raise TypeError(f"probe() needs a URL string, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # "127.0.0.1:5000/rows" lacks only its scheme; "htp:/x" is a typo no guess fixes.
        bare = url and "://" not in url and not (parts.scheme.isalpha() and parts.path.startswith("/"))
        hint = f" (did you mean 'http://{url}'?)" if bare else ""
        raise ValueError(f"cannot probe {url!r}: expected an http:// or https:// URL with a host{hint}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ValueError(f"cannot probe {url!r}: {exc}") from None
    return parts


def _send(
    connection: http.client.HTTPConnection, request: Request
) -> tuple[http.client.HTTPResponse, socket.socket]:
    """Connect, send the request, read the status line and headers, all within ``timeout``.

    Returns the response and its socket (http.client lets go of the socket when the server
    says it will close the connection, so keep our own reference to it).
    """
    url, host, timeout = request.url, request.host, request.timeout
    port = request.port or (443 if request.scheme == "https" else 80)
    deadline = time.monotonic() + timeout
    try:
        connection.connect()
        sock = connection.sock
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        connection.request(request.method, request.target, body=request.body, headers=request.headers)
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


class _LibraryDecoder:
    """Decode a br or zstd body piece by piece, with a library when one is importable."""

    def __init__(self, encoding: str, decompressor: Any, method: str, error: type[Exception]) -> None:
        self.encoding = encoding
        self._error = error
        self._decompressor = decompressor
        self._decode = getattr(decompressor, method)
        self._any = False

    def decode(self, data: bytes) -> bytes:
        if not data:
            return b""
        self._any = True
        try:
            return bytes(self._decode(data))
        except self._error as exc:
            raise _BodyBroken(f"DecodeError: the {self.encoding} body does not decode ({exc})") from None

    def finish(self) -> bytes:
        is_finished = getattr(self._decompressor, "is_finished", None)  # brotli
        done = is_finished() if is_finished is not None else getattr(self._decompressor, "eof", True)  # zstd
        if self._any and not done:
            raise _BodyBroken(f"the {self.encoding} stream ended early (truncated compressed body)")
        return b""


def _library_decoder(encoding: str) -> _LibraryDecoder | None:
    """A br/zstd decoder from whichever well-known library is importable, else None."""
    try:
        if encoding == "br":
            import brotli  # type: ignore[import-not-found, import-untyped, unused-ignore]

            return _LibraryDecoder(encoding, brotli.Decompressor(), "process", brotli.error)
        if encoding == "zstd":
            try:
                from compression import zstd  # type: ignore[import-not-found, unused-ignore]  # Python 3.14
            except ImportError:
                from backports import zstd  # type: ignore[import-not-found, no-redef, unused-ignore]
            return _LibraryDecoder(encoding, zstd.ZstdDecompressor(), "decompress", zstd.ZstdError)
    except ImportError:
        return None
    return None


def decoder_available(encoding: str) -> bool:
    """True when the probe decodes this Content-Encoding: gzip and deflate always (zlib), br
    with the ``brotli`` package, zstd with ``compression.zstd`` or ``backports.zstd``."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity", "gzip", "x-gzip", "deflate"):
        return True
    return _library_decoder(encoding) is not None


def _decoder_for(trace: Trace) -> _Decoder | _LibraryDecoder | None:
    encoding = (trace.headers.get("Content-Encoding") or "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Decoder(encoding)
    if encoding not in ("", "identity"):
        decoder = _library_decoder(encoding)
        if decoder is not None:
            return decoder
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
    before_read: Callable[[socket.socket], Any] | None = None,
    parser: EventParser | None = None,
) -> None:
    started = trace.started
    no_body = trace.method == "HEAD" or trace.status in (204, 304) or 100 <= (trace.status or 0) < 200
    stop_at = started + max_seconds if max_seconds is not None else None
    if stop_at is not None and stop_at - time.monotonic() < timeout:
        sock.settimeout(max(stop_at - time.monotonic(), 0.001))
    else:
        sock.settimeout(timeout)
    reader = _Reader(
        trace, response.fp, sock, timeout, stop_at, keep_body, _decoder_for(trace), on_chunk, parser
    )
    if before_read is not None:
        reader.hook_reads(before_read)
    try:
        if no_body:
            pass
        elif response.chunked and not keep_body and reader.decoder is None and parser is None:
            reader.read_chunked_sizes()
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
    except KeyboardInterrupt:
        # Ctrl-C (or a notebook's interrupt) in the middle of the body: keep what was measured.
        trace.interrupted = True
    except zlib.error as exc:
        trace.error = f"DecodeError: the {trace.headers.get('Content-Encoding')} body does not decode ({exc})"
    except OSError as exc:
        trace.error = f"{type(exc).__name__}: the connection broke mid-body ({exc.strerror or exc})"
    trace.duration = time.monotonic() - started
    if trace.ttfb is None and trace.chunks:
        trace.ttfb = trace.chunks[0].t
    if parser is not None and not no_body:
        parser.eof()
        trace.unterminated = parser.unterminated


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
        decoder: _Decoder | _LibraryDecoder | None,
        on_chunk: Callable[[Trace], Any] | None,
        parser: EventParser | None = None,
    ) -> None:
        self.parser = parser
        self.trace = trace
        self.fp = fp
        self.sock = sock
        self.timeout = timeout
        self.stop_at = stop_at
        self.keep_body = keep_body
        self.decoder = decoder
        self.on_chunk = on_chunk
        self.recv_into: Callable[[Any], int] = sock.recv_into

    def hook_reads(self, before_read: Callable[[socket.socket], Any]) -> None:
        """Call ``before_read(sock)`` before each read from the socket, buffered or not."""
        sock = self.sock
        raw = self.fp.raw
        raw_readinto = raw.readinto
        recv_into = sock.recv_into

        def hooked_readinto(buffer: Any) -> Any:
            before_read(sock)
            return raw_readinto(buffer)

        def hooked_recv_into(buffer: Any) -> int:
            before_read(sock)
            return recv_into(buffer)

        raw.readinto = hooked_readinto  # the buffered reader calls its raw reader's readinto
        self.recv_into = hooked_recv_into

    def add(self, wire: bytes, now: float) -> None:
        """Record one received piece (``wire`` as it came, before decoding)."""
        trace = self.trace
        if not trace.chunks:
            trace.ttfb = now - trace.started
        data = self.decoder.decode(wire) if self.decoder is not None else wire
        kept = data if self.keep_body else None
        index = len(trace.chunks)
        trace.chunks.append(Chunk(now - trace.started, len(data), kept, len(wire), index))
        if self.parser is not None:
            self.parser.feed(data, now - trace.started, index, index)
        if self.on_chunk is not None:
            self.on_chunk(trace)
        if self.stop_at is not None:
            self.check_time(now)

    def add_size(self, size: int, now: float) -> None:
        """Record a piece of ``size`` bytes whose data is not kept (and needs no decoding)."""
        trace = self.trace
        if not trace.chunks:
            trace.ttfb = now - trace.started
        trace.chunks.append(Chunk(now - trace.started, size, None, size))
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
                if self.parser is not None:
                    self.parser.feed(rest, last.t, len(self.trace.chunks) - 1, last.read)

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
        plain = (
            self.decoder is None and self.on_chunk is None and self.stop_at is None and self.parser is None
        )
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

    def read_chunked_sizes(self) -> None:
        """:meth:`read_chunked` for a body that is neither kept nor decoded: sizes and times.

        The same checks and messages, but the socket is read into one buffer of this loop's
        own, and a chunk's data is never copied out of it: skipping a chunk is moving an index
        (the buffered reader would copy every byte once more, and a big chunk into a new bytes
        object each time). A chunk larger than what is buffered is read over the whole buffer.
        """
        buf = bytearray(READ_BUFFER)
        view = memoryview(buf)
        first = self.fp.read1(READ_BUFFER)  # what came in with the headers (or one read)
        start, end = 0, len(first)
        buf[:end] = first
        recv_into = self.recv_into
        find = buf.find
        monotonic = time.monotonic
        plain = self.on_chunk is None and self.stop_at is None
        append = self.trace.chunks.append
        add_size = self.add_size
        started = self.trace.started
        count = 0
        while True:
            at = find(b"\n", start, end)
            if start + 1 < at <= start + 17 and buf[at - 1] == 13:  # the usual "1f\r\n"
                digits = buf[start : at - 1]
                if digits.strip(_HEX):
                    size, start, end = self._size_line(buf, view, start, end, count)
                else:
                    size = int(digits, 16)
                    start = at + 1
            else:  # extensions, spaces, a bare LF, a line not all here yet ... or garbage
                size, start, end = self._size_line(buf, view, start, end, count)
            if size == 0:
                break
            if end - start >= size + 2:  # the whole chunk and its CRLF are here: skip them
                at = start + size
                start = at + 2
                if plain:
                    append(Chunk(monotonic() - started, size, None, size))
                else:
                    add_size(size, monotonic())
                count += 1
                if buf[at] == 13 and buf[at + 1] == 10:
                    continue
                raise _BodyBroken(
                    f"MalformedChunk: chunk {count} ({size:,} bytes) is not followed by CRLF "
                    f"(got {bytes(view[at:start])!r})"
                )
            need = size - (end - start)
            if need <= 0:
                start += size
            else:  # read the rest of the chunk over the whole buffer; keep what follows it
                start = end = 0
                while need > 0:
                    n = recv_into(view)
                    if not n:
                        break
                    if n > need:
                        start, end = need, n
                        need = 0
                    else:
                        need -= n
                if need > 0:
                    if size - need:
                        add_size(size - need, monotonic())
                    raise _BodyBroken(
                        f"IncompleteRead: the connection closed inside chunk {count + 1}, after "
                        f"{size - need:,} of its {size:,} bytes"
                    )
            if plain:
                append(Chunk(monotonic() - started, size, None, size))
            else:
                add_size(size, monotonic())
            count += 1
            if end - start >= 2 and buf[start] == 13 and buf[start + 1] == 10:
                start += 2
                continue
            start, end = self._fill(buf, view, start, end, 2)
            crlf = bytes(view[start : min(start + 2, end)])
            start += len(crlf)
            if crlf != b"\r\n":
                raise _BodyBroken(
                    f"MalformedChunk: chunk {count} ({size:,} bytes) is not followed by CRLF "
                    f"(got {crlf[:10]!r})"
                )
        for _ in range(100):  # the trailer, as in _read_trailer
            line, start, end = self._line(buf, view, start, end, 8192)
            if line in (b"\r\n", b"\n"):
                return
            if not line.endswith(b"\n"):
                raise _BodyBroken(
                    "IncompleteRead: the chunked body ended without the empty line after its last chunk"
                )
        raise _BodyBroken("MalformedChunk: more than 100 trailer lines after the last chunk")

    def _size_line(
        self, buf: bytearray, view: memoryview, start: int, end: int, count: int
    ) -> tuple[int, int, int]:
        """Read a chunk size line the slow way (see read_chunked); the size, start and end."""
        line, start, end = self._line(buf, view, start, end, 1024)
        digits = line[:-2]
        if line[-2:] == b"\r\n" and 0 < len(digits) <= 16 and not digits.strip(_HEX):
            return int(digits, 16), start, end
        found = _CHUNK_SIZE_LINE.fullmatch(line)
        if found is None:
            raise _BodyBroken(_bad_size_line(line, count))
        return int(found.group(1), 16), start, end

    def _fill(self, buf: bytearray, view: memoryview, start: int, end: int, need: int) -> tuple[int, int]:
        """Read until ``need`` bytes are buffered after ``start`` (fewer at the end of input)."""
        while end - start < need:
            if len(buf) - end < 8192:  # little room left: move the few bytes left to the front
                left = end - start
                buf[:left] = bytes(view[start:end])
                start, end = 0, left
            n = self.recv_into(view[end:])
            if not n:
                break
            end += n
        return start, end

    def _line(
        self, buf: bytearray, view: memoryview, start: int, end: int, limit: int
    ) -> tuple[bytes, int, int]:
        """Like ``readline(limit)`` on the buffer: a line with its LF, ``limit`` bytes, or the
        rest of the input; and the new start and end."""
        while True:
            at = buf.find(b"\n", start, min(end, start + limit))
            if at >= 0:
                return bytes(view[start : at + 1]), at + 1, end
            if end - start >= limit:
                return bytes(view[start : start + limit]), start + limit, end
            have = end - start
            start, end = self._fill(buf, view, start, end, have + 1)
            if end - start == have:  # the input ended
                return bytes(view[start:end]), end, end

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
                    "IncompleteRead: the chunked body ended without the empty line after its last chunk"
                )
        raise _BodyBroken("MalformedChunk: more than 100 trailer lines after the last chunk")


def _bad_size_line(line: bytes, count: int) -> str:
    where = f"after {count} chunk{'' if count == 1 else 's'}"
    if not line:
        return f"IncompleteRead: the connection closed {where}, before the last (zero-size) chunk"
    if not line.endswith(b"\n"):
        return f"MalformedChunk: the chunk size line {where} is cut short or too long: {line[:40]!r}"
    return f"MalformedChunk: invalid chunk size line {where}: {line[:40]!r}"
