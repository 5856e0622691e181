"""The request context: ``request``, and ``stream_with_context`` to keep it for a stream.

While a view runs, ``request`` points at the current request. A streamed body is different:
the view returns a generator, the view's work is over, and only then does the server pull the
items out one at a time. By that time the request context has been popped, so a generator that
reads ``request`` fails with "Working outside of request context."

:func:`stream_with_context` fixes that. It remembers the context that is active when the stream
is created, and puts it back for exactly the moment the generator is running (each ``next()``),
then takes it away again. Three details are deliberate:

* the wrapped iterator's ``close()`` runs exactly once, whether the stream was read to the end,
  abandoned by the client, or never started;
* ``teardown_request`` callbacks run once, after the stream has ended (the App registers them
  on the response, which the server closes last);
* between two items the request is *not* visible to whoever is iterating the stream.

Layer: core.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar, Token, copy_context
from itertools import repeat
from typing import TYPE_CHECKING, Any, TypeVar

from werkzeug.local import LocalProxy
from werkzeug.wrappers import Request

if TYPE_CHECKING:
    from .app import App

OUTSIDE_REQUEST = (
    "Working outside of request context.\n\n"
    "Something used 'request' while no request was active. In a streamed response this "
    "usually means a generator touched 'request': the server runs the generator after the "
    "view function has returned, when the request is already gone. Wrap the generator "
    "with stream_with_context(...) so that it keeps the request while it runs."
)

_current: ContextVar[RequestContext] = ContextVar("streamkit.request_context")


class RequestContext:
    """One request being handled: the Request object, its App, and its teardown.

    ``with ctx:`` makes it current; leaving the block runs the teardown callbacks.
    The App pushes and pops it around a view by hand instead, and runs the teardown when the
    server closes the response, so a stream's teardown waits for the stream.
    """

    def __init__(self, app: App, environ: dict[str, Any]) -> None:
        self.app = app
        self.request = Request(environ)
        # The exception that ended the request or its stream, handed to teardown callbacks.
        self.error: BaseException | None = None
        self._torn_down = False
        self._tokens: list[Token[RequestContext]] = []

    def push(self) -> None:
        self._tokens.append(_current.set(self))

    def pop(self) -> None:
        _current.reset(self._tokens.pop())

    def teardown(self) -> None:
        """Run the App's ``teardown_request`` callbacks, once, with this context active."""
        if self._torn_down:
            return
        self._torn_down = True
        self.push()
        try:
            for callback in reversed(self.app.teardown_request_funcs):
                callback(self.error)
        finally:
            self.pop()

    def __enter__(self) -> RequestContext:
        self.push()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.pop()
        if exc is not None and self.error is None:
            self.error = exc
        self.teardown()


def current_context() -> RequestContext | None:
    """The active request context, or None outside a request."""
    return _current.get(None)


def _current_request() -> Request:
    ctx = _current.get(None)
    if ctx is None:
        raise RuntimeError(OUTSIDE_REQUEST)
    return ctx.request


#: The request being handled. Outside a request every use raises RuntimeError.
request: Request = LocalProxy(_current_request)  # type: ignore[assignment]


class ContextStream:
    """An iterator that runs another iterator inside a saved request context.

    Made by :func:`stream_with_context`; you rarely build one yourself.

    The request context is kept in a copy of the ``contextvars`` context taken when the stream
    is created. Each step of the wrapped iterator runs inside that copy (``Context.run``), so
    the generator sees the request, and the code that is iterating never does.
    """

    def __init__(self, ctx: RequestContext, items: Iterable[Any]) -> None:
        self._ctx = ctx
        self._context = copy_context()
        self._context.run(_current.set, ctx)  # normally set already; explicit is safer
        self._iterator = iter(items)
        # WSGI asks the iterable for close(), which may differ from its iterator's.
        self._close = getattr(items, "close", None) or getattr(self._iterator, "close", None)
        self._closed = False
        self._steps = self._run()

    def __iter__(self) -> Iterator[Any]:
        return self._steps

    def __next__(self) -> Any:
        return next(self._steps)

    def run_each(self, wrap: Callable[[Iterator[Any]], Iterator[Any]]) -> Iterator[Any]:
        """Iterate ``wrap(inner iterator)`` with every step inside the saved context.

        :class:`~streamkit.response.Response` uses this to check and encode each item in the
        same context switch that produces it: one layer less per item on the server's hot
        path. Closing stays with :meth:`close`, which the server calls when it is done.
        """
        return map(self._context.run, repeat(wrap(self._iterator).__next__))

    def _run(self) -> Iterator[Any]:
        try:
            # map() calls run(step) again and again until step raises StopIteration, all in
            # C: the cheapest way to take each item inside the saved context.
            yield from map(self._context.run, repeat(self._iterator.__next__))
        except GeneratorExit:
            raise
        except BaseException as exc:
            self._ctx.error = exc  # handed to the teardown callbacks
            raise
        finally:
            self.close()

    def close(self) -> None:
        """Close the wrapped iterator (once), with the request context active."""
        if self._closed:
            return
        self._closed = True
        if self._close is not None:
            self._context.run(self._close)


F = TypeVar("F", bound=Callable[..., Any])


def stream_with_context(generator_or_function: Any) -> Any:
    """Keep the current request available while a streamed generator runs.

    Two forms, as in Flask::

        return Response(stream_with_context(generate()))   # wrap an iterator

        @stream_with_context                              # decorate a generator function
        def generate(): ...
        return Response(generate())

    The request is captured when the iterator is wrapped (for the decorator form: when the
    decorated function is called), so that must happen while a request is active, normally
    inside the view. Otherwise RuntimeError is raised right away.
    """
    __tracebackhide__ = True  # a misuse shows the caller's line, not the kit's insides
    if callable(generator_or_function) and not hasattr(generator_or_function, "__iter__"):
        function = generator_or_function

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> ContextStream:
            ctx = _require_context()
            return ContextStream(ctx, function(*args, **kwargs))

        return wrapper
    return ContextStream(_require_context(), generator_or_function)


def _require_context() -> RequestContext:
    __tracebackhide__ = True
    ctx = _current.get(None)
    if ctx is None:
        raise RuntimeError(
            "stream_with_context() was called with no request active. Call it inside the "
            "view function (or a test_request_context() block), where the request it "
            "should keep for the stream is available."
        )
    return ctx
