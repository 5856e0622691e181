"""Measuring memory in the lessons: the peak a request costs, from its start to its last byte.

:class:`PeakMemory` is a WSGI middleware. Around each request it resets ``tracemalloc``'s
peak, lets the body pass through untouched (item by item, so it does not change streaming),
and when the last item has gone out notes how far the traced memory of this whole process
rose above where it started. The lessons serve ``PeakMemory(app)`` and compare the numbers.

Why stop at the last item rather than when the request is fully over? After a response,
werkzeug's server drains the connection with a ``read(10_000_000)``, which allocates a 10 MB
buffer for a moment. That one-off says nothing about the stream, so it is left out.

``tracemalloc`` must be tracing (``tracemalloc.start()``); otherwise every peak is 0.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["PeakMemory"]


class PeakMemory:
    """Wrap a WSGI app; ``peaks`` gets one number of bytes per request that ran to its end."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.peaks: list[int] = []
        self._running = 0
        self._changed = threading.Condition()

    @property
    def last(self) -> int:
        """The most recent request's peak, in bytes.

        A client can have the last byte a moment before the server has finished with the
        request, so this waits (up to 5 s) until no request is running.
        """
        with self._changed:
            self._changed.wait_for(lambda: self._running == 0, timeout=5)
        if not self.peaks:
            raise ValueError("no request has run to its end yet (is tracemalloc started?)")
        return self.peaks[-1]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._changed:
            self._running += 1
        try:
            tracemalloc.reset_peak()
            baseline = tracemalloc.get_traced_memory()[0]
            body = self.app(environ, start_response)
        except BaseException:
            self._done()
            raise
        return self._pass_through(body, baseline)

    def _pass_through(self, body: Iterable[bytes], baseline: int) -> _Metered:
        return _Metered(self, body, baseline)

    def _done(self) -> None:
        with self._changed:
            self._running -= 1
            self._changed.notify_all()


class _Metered:
    """A response body passed through item by item; notes the peak when it runs out."""

    def __init__(self, owner: PeakMemory, body: Iterable[bytes], baseline: int) -> None:
        self._owner = owner
        self._body = body
        self._items = iter(body)
        self._baseline = baseline
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._items)
        except StopIteration:
            self._owner.peaks.append(max(0, tracemalloc.get_traced_memory()[1] - self._baseline))
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._owner._done()
