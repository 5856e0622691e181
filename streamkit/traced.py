"""A probe of a kit-served app with the server's side recorded: what :meth:`Server.get` does.

The probe sends a fresh trace id in the ``X-Streamkit-Trace`` header and opens a
:class:`~streamkit.recording.Recording` under it; the served app and the backend note in it
when each item was produced and written. Once the client has read the response, the
recording is copied into the trace as seconds since the request started, and each item is
matched to the chunk that carried its last byte.

Layer: measuring (it uses the probe, and the recording of the serving layer below).
"""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING, Any

from . import recording
from .browser import browse
from .probe import ProbeError, read_response
from .trace import Event, Trace, arrivals, error_text, own_frames

if TYPE_CHECKING:
    from .server import Server

__all__ = ["add_server_side", "get_traced"]


def get_traced(
    server: Server,
    path: str = "/",
    *,
    live: bool = False,
    browser: bool = False,
    follow: str | None = None,
    **probe_options: Any,
) -> Trace:
    """Probe ``path`` on ``server`` and add what the server saw (see :meth:`Server.get`).

    With ``browser=True`` the client is headless Chromium (:func:`streamkit.browser.browse`),
    and the trace id travels with the request it follows (the page, or ``follow``).
    """
    if not path.startswith("/"):
        path = "/" + path
    if follow is not None and not browser:
        raise ValueError("follow= needs browser=True: it names a request the page makes")
    headers = dict(probe_options.pop("headers", None) or {})
    # The server's token, for where its owner cannot be told by uid (the gate removes it
    # before the app sees the request).
    headers.update(server.access_headers)
    trace_id = uuid.uuid4().hex
    headers[recording.TRACE_HEADER] = trace_id
    # The live picture is the display layer's: imported only when asked for.
    view = None
    if live:
        from .display import live_view

        # The server's side arrives at the end: keep room for its lanes from the start.
        view = live_view(reserve=() if server.runs_elsewhere else ("produced", "written"))
    traced = recording.start(trace_id)
    known_errors = {id(error) for error in server.errors}
    try:
        try:
            if browser:
                if follow is not None and not follow.startswith(("/", "http:", "https:")):
                    follow = "/" + follow
                # The token cookie too: the page's own requests (its EventSource) carry it.
                cookies = {server.gate.cookie_name: server.gate.token} if server.gate is not None else None
                trace = browse(
                    server.url + path, headers=headers, follow=follow, cookies=cookies, **probe_options
                )
            else:
                trace = read_response(
                    server.url + path,
                    headers=headers,
                    on_chunk=view.update if view is not None else None,
                    **probe_options,
                )
        except ProbeError as no_response:
            raise_with_app_error(no_response, traced.error or _new_error(server, known_errors))
            raise
        # The client has it all; the server closes the response moments later (after
        # noting its last write: the app's own body may have been closed long before).
        done = server.runs_elsewhere or traced.sent.wait(0.5 if (trace.error or trace.stopped) else 2.0)
    finally:
        recording.finish(trace_id)
    if server.runs_elsewhere:
        trace.note = (
            f"no produced or written times: {server.description} runs the app in worker "
            "processes of its own, and the recording lives in this process"
        )
    else:
        add_server_side(trace, traced, done)
    if view is not None:
        view.close(trace)
    return trace


def _new_error(server: Server, known: set[int]) -> BaseException | None:
    """The newest exception the server recorded that is not one of ``known`` (their ids)."""
    new = [error for error in list(server.errors) if id(error) not in known]
    return new[-1] if new else None


def raise_with_app_error(no_response: ProbeError, error: BaseException | None) -> None:
    """When the app raised while the probe waited, raise ``no_response`` again naming it.

    The app's exception becomes the cause, in its own frames (as ``Trace.raise_for_error()``
    shows it), so the traceback ends in the code that failed rather than in the probe.
    """
    __tracebackhide__ = True
    if error is None:
        return
    named = ProbeError(no_response.url, f"{no_response.reason}; the app raised {error_text(error, 300)}")
    # A copy carries the short traceback, so server.errors keeps every frame (as raise_for_error).
    try:
        shown = copy.copy(error)
    except Exception:
        shown = error
    else:
        shown.__cause__, shown.__context__ = error.__cause__, error.__context__
    raise named from shown.with_traceback(own_frames(error.__traceback__))


def add_server_side(trace: Trace, traced: recording.Recording, done: bool) -> None:
    """Copy a recording into the trace, as seconds since the request started, matched to chunks.

    ``done`` says whether the server had finished sending; if not, the note says its side is
    shown only so far.
    """
    start = trace.started
    produced = [Event(t - start, size, parts) for t, size, parts in list(traced.produced)]
    written = [Event(t - start, size) for t, size in list(traced.written)]
    for events in (produced, written):
        # Each list in its own measure: the app's items in decoded bytes, the server's writes in
        # bytes on the wire when a middleware compressed them (see streamkit.trace.carriers).
        for event, when in zip(events, arrivals(events, trace.chunks)):
            event.arrived = when
    trace.produced = produced or None
    trace.written = written or None
    trace.server_error = traced.error
    if traced.error_at is not None:
        trace.server_error_at = traced.error_at - start
    notes = [trace.note] if trace.note else []
    if traced.note:
        notes.append(traced.note)
    if not produced and trace.size:
        notes.append(
            "no produced times: a streamkit App records when each item was made; for other "
            "apps wrap them with streamkit.recording.WatchMiddleware"
        )
    if not done:
        notes.append("the server was still sending when the probe ended; its side is shown so far")
    trace.note = "; ".join(notes) or None
