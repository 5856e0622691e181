"""Send one request and read its response on this thread: the socket side of the probe.

Measuring layer, below :mod:`streamkit.probe` (the API) and :mod:`streamkit.reader` (which runs
:func:`read_here` in the reader worker process, or here). http.client connects, sends the
request (and its body) and parses the status line and headers; the body is read here, straight
from the socket, and handed read by read to the sans-I/O readers of :mod:`streamkit.http1`,
with the time each read returned. This module keeps what those readers do not have: the socket,
the timeouts and ``max_seconds``, and the ``before_read`` hook the reader worker uses to send
its batches when a read may wait.

A dead URL (refused, unknown host, no answer in time) raises :class:`ProbeError`. A body that
breaks half-way is not an exception: the trace keeps every chunk that arrived and says what
went wrong in ``trace.error`` (and how, in ``trace.error_kind``).
"""

from __future__ import annotations

import http.client
import json as jsonlib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from werkzeug.datastructures import Headers

from .events import FRAMINGS, content_path, framing_for, parser_for
from .http1 import BodyError, ChunkedReader, LengthReader, decoder_for
from .server import token_headers_for
from .trace import Trace

__all__ = [
    "READ_BUFFER",
    "USER_AGENT",
    "ProbeError",
    "Request",
    "check_url",
    "prepare_request",
    "read_here",
    "request_body",
]

USER_AGENT = "streamkit-probe"
READ_BUFFER = 256 * 1024  # the most one read of the socket takes
PARSE_BEHIND = 10_000  # chunks whose events may wait while full reads keep coming
# Chunks queued before the probe parses them between reads, when nobody follows the trace as
# it grows: one parse of many costs far less per event than one per read, and the records and
# their times are the same. With a follower (on_chunk, or the reader worker's batches) every
# read that took all there was is parsed, so that the follower sees its events at once.
PARSE_EVERY = 256


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
    # A kit server of this process that asks for its token gets it (only where uids cannot be
    # checked; the server removes it before its app sees the request).
    request_headers.update(token_headers_for(url))
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
        trace.event_framing = (
            framing_for(trace.headers.get("Content-Type")) if request.events == "auto" else request.events
        )
        no_body = trace.method == "HEAD" or trace.status in (204, 304) or 100 <= (trace.status or 0) < 200
        if no_body:
            trace.event_framing = None
        if on_head is not None:
            on_head(trace)
        if no_body:
            trace.duration = time.monotonic() - trace.started
        else:
            _read_body(trace, response, sock, request, keep_body, on_chunk, before_read)
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


class _Stop(Exception):
    """max_seconds reached."""


def _read_body(
    trace: Trace,
    response: http.client.HTTPResponse,
    sock: socket.socket,
    request: Request,
    keep_body: bool,
    on_chunk: Callable[[Trace], Any] | None,
    before_read: Callable[[socket.socket], Any] | None,
) -> None:
    """Read the body from the socket into ``trace``, read by read, through an http1 reader."""
    started = trace.started
    timeout, max_seconds = request.timeout, request.max_seconds
    stop_at = started + max_seconds if max_seconds is not None else None
    if stop_at is not None and stop_at - time.monotonic() < timeout:
        sock.settimeout(max(stop_at - time.monotonic(), 0.001))
    else:
        sock.settimeout(timeout)
    decoder, trace.note = decoder_for(trace.headers.get("Content-Encoding"))
    parser = None
    if trace.event_framing is not None:
        parser = parser_for(trace.event_framing, request.content)
        trace.events = parser.events  # the same lists: the trace's events grow as it is read
        trace.comments = parser.comments
    options: dict[str, Any] = {"started": started, "keep": keep_body, "decoder": decoder, "events": parser}
    reader = (
        ChunkedReader(trace.chunks, **options)
        if response.chunked
        else LengthReader(response.length, trace.chunks, **options)
    )
    fp = response.fp
    buffer = bytearray(READ_BUFFER)
    view = memoryview(buffer)
    recv_into = sock.recv_into
    monotonic = time.monotonic
    feed = reader.feed
    chunks = trace.chunks
    seen = 0
    parsed = 0  # chunks whose events are parsed
    every = 1 if on_chunk is not None or before_read is not None else PARSE_EVERY
    try:
        if not reader.done:
            if before_read is not None:
                before_read(sock)
            data = fp.read1(READ_BUFFER)  # what came in with the headers, else one read
            now = monotonic()
            while True:
                if not data:
                    reader.eof()
                    break
                if feed(data, now):
                    break
                queued = len(chunks) - parsed
                if parser is not None and (
                    (queued >= every and len(data) < READ_BUFFER) or queued > PARSE_BEHIND
                ):
                    # The read took all there was: parse the events queued while the next bytes
                    # are on their way. A full read means more is waiting: reading comes first
                    # (see streamkit.events).
                    parser.parse()
                    parsed = len(chunks)
                if on_chunk is not None and len(chunks) > seen:
                    seen = len(chunks)
                    on_chunk(trace)
                if stop_at is not None:
                    left = stop_at - now
                    if left <= 0:
                        raise _Stop
                    if left < timeout:
                        sock.settimeout(left)  # never wait on a read past max_seconds
                if before_read is not None:
                    before_read(sock)
                n = recv_into(view)
                now = monotonic()
                data = bytes(view[:n])
        if on_chunk is not None and len(chunks) > seen:
            on_chunk(trace)
    except BodyError as exc:
        trace.error, trace.error_kind = str(exc), exc.kind
    except TimeoutError:
        if stop_at is not None and time.monotonic() >= stop_at - 0.01:
            trace.stopped = True
        else:
            trace.error = f"ReadTimeout: no data for {timeout:g} s in the middle of the body"
            trace.error_kind = "timeout"
    except _Stop:
        trace.stopped = True
    except KeyboardInterrupt:
        # Ctrl-C (or a notebook's interrupt) in the middle of the body: keep what was measured.
        trace.interrupted = True
    except OSError as exc:
        trace.error = f"{type(exc).__name__}: the connection broke mid-body ({exc.strerror or exc})"
        trace.error_kind = "reset"
    trace.duration = time.monotonic() - started
    if trace.ttfb is None and trace.chunks:
        trace.ttfb = trace.chunks[0].t
    if parser is not None:
        parser.eof()
        trace.unterminated = parser.unterminated
