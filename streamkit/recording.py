"""Server-side notes for one traced request: when the app produced each item, when it was sent.

`Server.get()` opens a :class:`Recording` under a fresh id and sends that id in the
``X-Streamkit-Trace`` request header. Anything on the server side that can see the WSGI
environ can then find the recording with :func:`lookup`:

* the server puts it in the environ under :data:`streamkit.app.RECORDING_KEY`, where the App
  (the core, which does not import this module) finds it and has :meth:`Recording.watch` note
  the time each item leaves the app (``produced``), and any exception raised while producing
  it; streamed templates say how many parts each item joined (``next_parts``);
* the server's request handler notes the time each item is flushed to the socket (``written``);
* :class:`WatchMiddleware` does what the App does, for apps that are not a streamkit App.

Because the id travels in a header, this works even when middleware sits between the server and
the App. Only ids opened by :func:`start` are recorded, so a client sending made-up ids cannot
make the server keep anything. Times are raw ``time.monotonic()`` seconds.

Layer: serving.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .app import RECORDING_KEY

__all__ = [
    "RECORDING_KEY",
    "TRACE_HEADER",
    "Recording",
    "WatchMiddleware",
    "finish",
    "lookup",
    "start",
    "watch",
]

TRACE_HEADER = "X-Streamkit-Trace"
ENVIRON_KEY = "HTTP_X_STREAMKIT_TRACE"


@dataclass
class Recording:
    """What the server side saw of one traced request."""

    trace_id: str
    produced: list[tuple[float, int, int]] = field(default_factory=list)  # (t, size, parts)
    written: list[tuple[float, int]] = field(default_factory=list)  # (t, size)
    error: BaseException | None = None
    error_at: float | None = None  # when the app raised it
    finished: threading.Event = field(default_factory=threading.Event)
    # Set by the server once it has closed the whole response, so every write is noted by
    # then (``finished`` may come sooner: middleware such as NaiveGzipMiddleware closes the
    # app's body before it sends anything).
    sent: threading.Event = field(default_factory=threading.Event)
    # Set by a streamed template before it yields an item made of several template parts.
    next_parts: int = 1
    # What the server side wants said about how it recorded (added to the trace's note).
    note: str | None = None

    def watch(self, app_iter: Iterable[bytes]) -> Iterable[bytes]:
        """``app_iter`` wrapped so that each item's time and size, and any exception, are noted."""
        return _Watched(app_iter, self)


_lock = threading.Lock()
_open: dict[str, Recording] = {}


def start(trace_id: str) -> Recording:
    """Open a recording; requests carrying ``trace_id`` in the trace header are noted in it."""
    recording = Recording(trace_id)
    with _lock:
        _open[trace_id] = recording
    return recording


def finish(trace_id: str) -> Recording | None:
    """Close the recording and hand it back (None if it was never opened)."""
    with _lock:
        return _open.pop(trace_id, None)


def lookup(environ: dict[str, Any]) -> Recording | None:
    """The open recording this request belongs to, if any."""
    trace_id = environ.get(ENVIRON_KEY)
    if not trace_id:
        return None
    return _open.get(trace_id)


def watch(environ: dict[str, Any], app_iter: Iterable[bytes]) -> Iterable[bytes]:
    """Return ``app_iter`` itself, or a recording wrapper when this request is traced."""
    recording = lookup(environ)
    if recording is None:
        return app_iter
    return _Watched(app_iter, recording)


class _Watched:
    """Iterate an app's response, noting each item's time and size and any exception."""

    def __init__(self, app_iter: Iterable[bytes], recording: Recording):
        self._app_iter = app_iter
        self._iterator = iter(app_iter)
        self._recording = recording

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            item = next(self._iterator)
        except StopIteration:
            raise
        except BaseException as exc:
            self._recording.error_at = time.monotonic()
            self._recording.error = exc
            raise
        recording = self._recording
        parts, recording.next_parts = recording.next_parts, 1
        recording.produced.append((time.monotonic(), len(item), parts))
        return item

    def close(self) -> None:
        try:
            close = getattr(self._app_iter, "close", None)
            if close is not None:
                close()
        finally:
            self._recording.finished.set()


class WatchMiddleware:
    """The WSGI middleware form of :func:`watch`, for apps that are not a streamkit App.

    Put it directly around the app whose items you want timed, inside any other middleware:
    ``flask_app.wsgi_app = WatchMiddleware(flask_app.wsgi_app)``.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return watch(environ, self.app(environ, start_response))
