"""Request a URL and time every piece of the body as it arrives: the client half of a Trace.

``probe(url)`` sends one request, the way a browser would (``Accept-Encoding: gzip, deflate``),
with a body if one is given, and reads the response as it comes:

* a chunked body gives one :class:`~streamkit.trace.Chunk` per HTTP chunk;
* a Content-Length or close-delimited body gives one per read, as soon as the data is there
  (``requests``' ``iter_content(None)`` would wait for the end and hand over one blob);
* an event stream (``text/event-stream``, JSON lines) is also split into events
  (``trace.events``), each timed by the read that completed it, with the text it carries
  (``trace.first_content`` is the time to first token): see :mod:`streamkit.events`.

gzip and deflate are decoded piece by piece with ``zlib``, so each chunk keeps both its size on
the wire and its decoded size.

This module is the API. The socket is read by :mod:`streamkit.client` (in the reader worker
process when there is one, see :mod:`streamkit.reader`), and the body's bytes are parsed by
the sans-I/O readers of :mod:`streamkit.http1`.

A dead URL (refused, unknown host, no answer in time) raises :class:`ProbeError`. A body that
breaks half-way is not an exception: the trace keeps every chunk that arrived and says what
went wrong in ``trace.error``.

Layer: measuring.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .client import ProbeError, Request, check_url, prepare_request, read_here, request_body
from .http1 import decoder_available
from .reader import read
from .trace import Trace

__all__ = [
    "ProbeError",
    "Request",
    "check_url",
    "decoder_available",
    "prepare_request",
    "probe",
    "read_here",
    "read_response",
    "request_body",
]


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

    ``browser=True`` loads ``url`` in headless Chromium instead (GET only): the trace then has
    the browser's reads (``chunks``, ``browser_received``) and when the page grew
    (``browser_shown``); see :func:`streamkit.browser.browse`.
    """
    if browser:
        if data is not None or json is not None or (method is not None and method.upper() != "GET"):
            raise ValueError(
                f"probe(browser=True) loads the page with GET, not {method or 'POST'} with a body"
            )
        from .browser import browse  # same layer; browser imports this module's ProbeError

        return browse(url, headers=headers, timeout=timeout, max_seconds=max_seconds, keep_body=keep_body)
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
    on_head: Callable[[Trace], Any] | None = None,
) -> Trace:
    """What :func:`probe` does, with ``on_chunk(trace)`` called after every read of the socket
    that added chunks (the trace then holds them, and the events they completed), and
    ``on_head(trace)`` once the status and headers are in.

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
    return read(request, keep_body=keep_body, on_chunk=on_chunk, on_head=on_head)
