"""Checks for your own test suite: keep a stream streaming.

Test clients (Flask's, Starlette's ``TestClient``, httpx's ``ASGITransport``) collect the whole
body before a test sees it, so a test written with them stays green when a middleware starts
holding the stream back. These checks read a real response from a real server instead:

* :func:`assert_streams` fails unless the body arrived in pieces spread over time, as it was
  made (and, when asked, the first byte or the first content event came soon enough);
* :func:`assert_held` is the opposite, for a test that documents a layer known to hold back;
* :class:`ServerFactory` serves any app for real on loopback (the ``stream_server`` fixture
  of the pytest plugin is one, per test; see :mod:`streamkit.pytest_plugin`).

They are plain functions with no pytest import, so a notebook can run them too. A failure
raises :class:`StreamAssertionError`, an ``AssertionError`` that carries the ``trace`` and its
``diagnosis`` and whose message holds the verdict sentence, the diagnosis and the text
timeline, so the failure explains itself in a CI log. The pytest plugin saves that trace to a
file when a test fails.

Layer: display (it puts measurements into words for a person reading a test report).
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

from .diagnosis import Diagnosis, printable
from .recording_asgi import is_asgi_app
from .server import Server, serve
from .trace import Trace, content_pieces, plural, request_line, seconds_text

__all__ = ["ServerFactory", "StreamAssertionError", "as_app", "assert_held", "assert_streams"]


class StreamAssertionError(AssertionError):
    """A stream check failed. ``trace`` is what the request showed, ``diagnosis`` which layer
    held it back (``trace.diagnose()``)."""

    def __init__(self, message: str, trace: Trace, diagnosis: Diagnosis) -> None:
        super().__init__(message)
        self.trace = trace
        self.diagnosis = diagnosis


def _failure(trace: Trace, problems: list[str], diagnosis: Diagnosis) -> StreamAssertionError:
    """The error for a failed check: what failed, then the measured story."""
    head = f"{request_line(trace.url, trace.method)}: " + "; ".join(problems)
    parts = [
        printable(head),
        f"verdict: {trace.verdict}. {printable(trace.verdict_text)}",
        str(diagnosis),
        "\n".join(printable(line) for line in trace.to_text().split("\n")),
    ]
    return StreamAssertionError("\n\n".join(parts), trace, diagnosis)


def _check_trace(trace: Any, check: str) -> Trace:
    if not isinstance(trace, Trace):
        raise TypeError(
            f"{check}() takes a streamkit Trace (what server.get(path) or probe(url) returns), "
            f"got {type(trace).__name__}"
        )
    return trace


def _limit(name: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, (int, float)) and value > 0):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


def assert_streams(
    trace: Trace,
    *,
    min_pieces: int = 2,
    first_byte_within: float | None = None,
    first_content_within: float | None = None,
) -> Trace:
    """Fail unless ``trace`` streamed; return the trace when it did.

    It streamed when its verdict is ``"streamed"`` (pieces spread over time, as they were made;
    see :attr:`streamkit.Trace.verdict`) and at least ``min_pieces`` pieces carried content.
    ``first_byte_within``: the first body byte arrived within that many seconds of the
    request. ``first_content_within``: the first event carrying content (a token: see
    ``Trace.first_content``) arrived within that many seconds. Limits are in seconds; leave
    them generous, a test machine is busy.
    """
    __tracebackhide__ = True
    trace = _check_trace(trace, "assert_streams")
    if not isinstance(min_pieces, int) or min_pieces < 1:
        raise ValueError(f"min_pieces must be a whole number of at least 1, got {min_pieces!r}")
    _limit("first_byte_within", first_byte_within)
    _limit("first_content_within", first_content_within)
    problems = []
    verdict = trace.verdict
    if verdict != "streamed":
        problems.append(f"it did not stream (verdict {verdict!r})")
    pieces = len(content_pieces(trace.chunks))
    if pieces < min_pieces:
        lead = "it did not stream in pieces: " if verdict == "streamed" else ""
        problems.append(f"{lead}{plural(pieces, 'piece')} of content arrived, at least {min_pieces} wanted")
    if first_byte_within is not None:
        if trace.ttfb is None:
            problems.append(
                f"no body byte arrived (wanted the first within {seconds_text(first_byte_within)})"
            )
        elif trace.ttfb > first_byte_within:
            problems.append(
                f"the first byte arrived at {seconds_text(trace.ttfb)}, later than "
                f"{seconds_text(first_byte_within)}"
            )
    if first_content_within is not None:
        first = trace.first_content
        if first is None:
            problems.append(
                "no event carrying content arrived "
                f"(wanted the first within {seconds_text(first_content_within)})"
            )
        elif first > first_content_within:
            problems.append(
                f"the first content event arrived at {seconds_text(first)}, later than "
                f"{seconds_text(first_content_within)}"
            )
    if problems:
        raise _failure(trace, problems, trace.diagnose())
    return trace


def assert_held(trace: Trace) -> Trace:
    """Fail unless something held ``trace`` back; return the trace when it was.

    Held back means the verdict is ``"buffered"`` (items made over time reached the client
    late), or the diagnosis names the layer that held it (a compressor that sent everything
    at the end, a proxy, ...). For a test that pins down a layer known to buffer, so the day
    it starts streaming is noticed too.
    """
    __tracebackhide__ = True
    trace = _check_trace(trace, "assert_held")
    diagnosis = trace.diagnose()
    verdict = trace.verdict
    if verdict == "buffered" or (verdict != "broken" and not diagnosis.streams and diagnosis.culprit):
        return trace
    if verdict == "streamed":
        problem = "it was not held back: it streamed"
    else:
        problem = f"nothing shows it was held back (verdict {verdict!r})"
    raise _failure(trace, [problem], diagnosis)


# -- serving any app ---------------------------------------------------------------------------


def _is_factory(candidate: Any) -> bool:
    """A function (or class) that can be called with no arguments: an app factory such as
    Flask's ``create_app`` or Django's ``get_wsgi_application``. WSGI and ASGI apps need
    arguments (environ and start_response; scope, receive and send)."""
    if not callable(candidate) or not (inspect.isfunction(candidate) or inspect.ismethod(candidate)):
        return False
    try:
        signature = inspect.signature(candidate)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in signature.parameters.values()
    )


def as_app(app: Any) -> Any:
    """What :func:`streamkit.serve` takes, from what a test has: an app factory is called (a
    Flask ``create_app``, Django's ``get_wsgi_application`` / ``get_asgi_application``);
    apps (Flask, Django's handlers, FastAPI, Starlette, Quart, a streamkit App, any WSGI or
    ASGI callable) and import strings (``"myproject.wsgi:application"``) are served as they
    are."""
    if isinstance(app, str) or is_asgi_app(app):
        return app
    if _is_factory(app):
        made = app()
        if made is None or not callable(made):
            name = getattr(app, "__name__", repr(app))
            raise TypeError(f"the app factory {name}() returned {type(made).__name__}, not an app")
        return made
    if not callable(app):
        raise TypeError(
            f"stream_server() serves a WSGI or ASGI app, an app factory or an import string; "
            f"got {type(app).__name__}"
        )
    return app


class ServerFactory:
    """Serves apps for one test and stops them all at the end (the ``stream_server`` fixture).

    ``factory(app, **serve_options)`` serves ``app`` (see :func:`as_app`) on loopback with
    :func:`streamkit.serve` and returns the running :class:`~streamkit.Server`; the options
    are serve()'s (``server="waitress"``, ``behind="nginx"``, ...), over the ``defaults``.
    Each server is named ``name`` plus a count, so servers of parallel test processes never
    share a name. :meth:`stop_all` stops every one, even when some fail to stop, then raises
    what failed.
    """

    def __init__(self, name: str, defaults: dict[str, Any] | None = None) -> None:
        self.name = name
        self.defaults = dict(defaults or {})
        self.servers: list[Server] = []

    def __call__(self, app: Any, **serve_options: Any) -> Server:
        options = {**self.defaults, **serve_options}
        options.setdefault("name", f"{self.name}#{len(self.servers) + 1}")
        options.setdefault("port", 0)
        running = serve(as_app(app), **options)
        self.servers.append(running)
        return running

    def stop_all(self) -> None:
        """Stop every server this factory started; raise the errors afterwards (one error as
        itself, several as an ExceptionGroup on Python 3.11+)."""
        errors: list[Exception] = []
        while self.servers:
            running = self.servers.pop()
            try:
                running.stop()
            except Exception as exc:  # keep stopping the others
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            if sys.version_info >= (3, 11):
                raise ExceptionGroup(f"{len(errors)} servers failed to stop", errors)  # noqa: F821
            raise errors[0]
