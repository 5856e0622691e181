"""Server-side notes for traced ASGI requests: the ASGI form of :mod:`streamkit.recording`.

Serving layer. `Server.get()` sends a fresh id in the ``X-Streamkit-Trace`` request header and
opens a :class:`~streamkit.recording.Recording` under it; an ASGI app finds that id in
``scope["headers"]``, so it works through any middleware that passes the scope on (and
Starlette, FastAPI and Quart all do).

Two wrappers fill the recording:

* :class:`ObservedASGI` is what :func:`streamkit.serve` puts around an ASGI app, between the
  server and the app. It notes each ``http.response.body`` message the app sends
  (``produced``, unless an :class:`ASGIWatchMiddleware` further in already does), when the
  server's ``send()`` returned for it (``written``), and the exception that ended the app.
* :class:`ASGIWatchMiddleware` notes ``produced`` where you put it: directly around the part of
  the app whose messages you want timed, inside middleware that changes the body (gzip, for
  instance), so ``produced`` shows what the app made and ``written`` what left the server.

What ``written`` means, exactly: uvicorn (h11 and httptools alike) hands each body message to
asyncio's transport inside ``send()``, and the transport sends it to the socket at once when
nothing is queued before it. So the moment ``send()`` returns is the moment the bytes went to
the kernel, except when a slow client has filled the socket buffer: then the transport queues
them, uvicorn's flow control makes the *next* ``send()`` wait, and the time noted is when they
were queued. Empty body messages (Starlette ends every stream with one) are not noted.

Only requests whose id was opened by :func:`streamkit.recording.start` are noted; times are raw
``time.monotonic()`` seconds, as in the WSGI recording.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from . import recording

__all__ = ["STATE_KEY", "ASGIWatchMiddleware", "ObservedASGI", "is_asgi_app", "lookup", "middleware_names"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
ErrorSink = Callable[[BaseException], None]

_TRACE_HEADER = recording.TRACE_HEADER.lower().encode("latin-1")
# Where a traced request's notes travel in the scope (a mutable object: middleware that copies
# the scope dict still passes the same notes on).
STATE_KEY = "streamkit.recording"


class _Notes:
    """One traced request's recording, and whether a watcher further in notes ``produced``."""

    __slots__ = ("recording", "watched")

    def __init__(self, noted: recording.Recording) -> None:
        self.recording = noted
        self.watched = False


def lookup(scope: Scope) -> recording.Recording | None:
    """The open recording this ASGI request belongs to, if any (from its trace header)."""
    notes = scope.get(STATE_KEY)
    if isinstance(notes, _Notes):
        return notes.recording
    if scope.get("type") != "http":
        return None
    for name, value in scope.get("headers") or ():
        if name.lower() == _TRACE_HEADER:
            return recording.lookup({recording.ENVIRON_KEY: value.decode("latin-1")})
    return None


def _notes(scope: Scope) -> _Notes | None:
    notes = scope.get(STATE_KEY)
    if isinstance(notes, _Notes):
        return notes
    noted = lookup(scope)
    if noted is None:
        return None
    notes = _Notes(noted)
    scope[STATE_KEY] = notes
    return notes


def _failed(noted: recording.Recording, error: BaseException) -> None:
    if noted.error is None:
        noted.error_at = time.monotonic()
        noted.error = error


class ASGIWatchMiddleware:
    """Note when the wrapped ASGI app sends each piece of body (``produced``) in traced requests.

    The ASGI form of :class:`streamkit.recording.WatchMiddleware`. Put it directly around the
    app, inside any middleware that changes the body:

    * Starlette or FastAPI: ``app.add_middleware(ASGIWatchMiddleware)`` *before* the other
      ``add_middleware`` calls (the middleware added last is the outermost);
    * Quart: ``quart_app.asgi_app = ASGIWatchMiddleware(quart_app.asgi_app)``;
    * any ASGI callable: ``ASGIWatchMiddleware(app)``.

    Requests that are not traced pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        notes = _notes(scope)
        if notes is None:
            await self.app(scope, receive, send)
            return
        notes.watched = True
        noted = notes.recording
        add_produced = noted.produced.append
        monotonic = time.monotonic

        async def watched_send(message: Message) -> None:
            body = message.get("body")
            if body:
                add_produced((monotonic(), len(body), 1))
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as error:
            _failed(noted, error)
            raise
        finally:
            noted.finished.set()


class ObservedASGI:
    """What the kit's server runs: the app, with its errors and body messages recorded.

    ``on_error`` gets every exception the app raises (a stream that is cancelled because the
    server stops is not an error). For traced requests the recording gets ``produced`` and
    ``written`` (see the module docstring), the exception, and ``sent`` once the app is done.
    Scopes other than ``http`` (lifespan, websockets) pass through untouched.
    """

    def __init__(self, app: ASGIApp, on_error: ErrorSink) -> None:
        self.app = app
        self.on_error = on_error
        self.middleware = middleware_names(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            # lifespan (an app without it raises here, and uvicorn notes "unsupported"),
            # websockets: not streams of this kit
            await self.app(scope, receive, send)
            return
        notes = _notes(scope)
        if notes is None:
            try:
                await self.app(scope, receive, send)
            except Exception as error:
                self.on_error(error)
                raise
            return
        noted = notes.recording
        add_produced, add_written = noted.produced.append, noted.written.append
        monotonic = time.monotonic

        async def observed_send(message: Message) -> None:
            # Lean on purpose: this runs for every message of a traced stream. Only body
            # messages of an http scope carry a "body".
            body = message.get("body")
            if not body:
                await send(message)
                return
            size = len(body)
            if not notes.watched:
                add_produced((monotonic(), size, 1))
            await send(message)
            add_written((monotonic(), size))

        try:
            await self.app(scope, receive, observed_send)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            _failed(noted, error)
            self.on_error(error)
            raise
        finally:
            if not notes.watched and self.middleware:
                noted.note = (
                    f"produced shows the body as it left the app's middleware "
                    f"({', '.join(self.middleware)}); to time the app's own messages, add "
                    "streamkit.recording_asgi.ASGIWatchMiddleware before the other middleware"
                )
            noted.finished.set()
            noted.sent.set()


def middleware_names(app: Any) -> list[str]:
    """The class names of a Starlette or FastAPI app's own middleware (``add_middleware``), outermost
    first; empty for other apps (whose middleware cannot be seen from outside)."""
    found = getattr(app, "user_middleware", None)
    if not isinstance(found, list):
        return []
    names = [getattr(getattr(item, "cls", None), "__name__", "") for item in found]
    return [name for name in names if name and name != ASGIWatchMiddleware.__name__]


def is_asgi_app(app: Any) -> bool:
    """True for an ASGI application: an ``async def`` callable, or an object whose ``__call__``
    is one (Starlette, FastAPI and Quart apps, most ASGI middleware)."""
    if not callable(app):
        return False
    if asyncio.iscoroutinefunction(app):
        return True
    call = type(app).__call__
    if asyncio.iscoroutinefunction(call):
        return True
    # functools.partial and friends around an async function
    func = getattr(app, "func", None)
    return func is not None and asyncio.iscoroutinefunction(func)
