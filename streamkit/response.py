"""The Response class: werkzeug's Response, strict about what a stream may yield.

werkzeug already does the two things a streaming response needs: ``str`` items are encoded
as UTF-8, and text mimetypes get ``; charset=utf-8`` (so clients decode UTF-8 text right).
What it does not do is complain when a generator yields something else, such as an ``int``
or a ``dict``: that item reaches the server unchanged and fails there, far from its cause.
This subclass checks each item as it passes and names the wrong type.

Layer: core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.wrappers import Response as _WerkzeugResponse

from .context import ContextStream, current_context


class Response(_WerkzeugResponse):
    """A werkzeug Response whose streamed items must be ``str`` or ``bytes``.

    Pass a generator as the body and every ``yield`` is sent to the client as it is made::

        def rows():
            for n in range(3):
                yield f"{n}\\n"

        Response(rows(), mimetype="text/plain")
    """

    default_mimetype = "text/html"

    def get_app_iter(self, environ: dict[str, Any]) -> Iterable[bytes]:
        """The WSGI body. werkzeug's choices, with one less layer per item.

        Like werkzeug, send no body for HEAD, 1xx, 204 and 304. Unlike werkzeug, do not wrap the
        body in ``ClosingIterator``, whose ``__next__`` is a Python call for every item: the
        server iterates the encoded items directly, and calls ``close()`` on the body when done.
        """
        status = self.status_code
        if environ["REQUEST_METHOD"] == "HEAD" or 100 <= status < 200 or status in (204, 304):
            return super().get_app_iter(environ)
        if self.direct_passthrough:
            return self.response  # type: ignore[return-value]
        return Body(self.iter_encoded(), self.close)

    def iter_encoded(self) -> Iterator[bytes]:
        items = self.response
        if isinstance(items, ContextStream):
            return items.run_each(_iter_checked)
        return _iter_checked(items)


class Body:
    """A response body for the server: iterating it yields the items; ``close()`` ends it."""

    __slots__ = ("_items", "close")

    def __init__(self, items: Iterator[bytes], close: Callable[[], None]) -> None:
        self._items = items
        self.close = close

    def __iter__(self) -> Iterator[bytes]:
        return self._items

    def __next__(self) -> bytes:
        return next(self._items)


def _iter_checked(items: Iterable[str | bytes]) -> Iterator[bytes]:
    # The server's hot path: one isinstance check per item in the common case.
    try:
        for item in items:
            if isinstance(item, str):
                yield item.encode("utf-8")
            elif type(item) is bytes:
                yield item
            elif isinstance(item, (bytes, bytearray, memoryview)):
                yield bytes(item)
            else:
                raise TypeError(
                    f"A streamed response item must be str or bytes, but the iterator yielded "
                    f"{type(item).__name__}: {item!r:.80}"
                )
    except Exception as exc:
        # Inside stream_with_context this runs in the request context: let the teardown
        # callbacks know what broke the stream.
        ctx = current_context()
        if ctx is not None and ctx.error is None:
            ctx.error = exc
        raise
