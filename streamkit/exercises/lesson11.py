"""Exercises for lesson 11, Keep it streaming: a test that catches a buffering middleware, then the fix.

* q1: the learner writes ``test_feed(server)``, a test in the style of their own suite. The
  check runs it twice against real servers: the feed behind the lesson's ``server_timing``
  middleware (which holds the body back) must make it fail with an AssertionError, and the
  plain feed must make it pass. A test that passes both ways catches nothing; one that fails
  both ways would block every change.
* q2: the learner fixes the middleware (``server_timing_fixed(app)``): it must still add a
  ``Server-Timing`` header, and the feed behind it must pass the lesson's test.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..app import App
from ..response import Response
from ..server import Server
from ..testing import StreamAssertionError, assert_streams
from ..trace import content_pieces, error_text, plural
from . import Exercise, NotAttempted, Wrong, where_raised
from .checking import (
    SERVER_NAME,
    calling,
    fetch,
    is_untouched,
    kind_of,
    require_attempt,
    require_function,
    served,
)

LESSON = "11"
LINES = 5
GAP = 0.2  # seconds between two lines of the feed

SETUP = """
import time

from streamkit import App, Response, serve
from streamkit.exercises.lesson11 import feed_app, server_timing
"""


def feed_lines() -> Iterator[str]:
    """Five lines of a live feed, 0.2 s apart."""
    for n in range(1, LINES + 1):
        yield f"update {n}\n"
        if n < LINES:
            time.sleep(GAP)


def feed_app() -> App:
    """The lesson's app: ``/feed`` streams :func:`feed_lines` as text/plain (nosniff)."""
    app = App(__name__)

    @app.route("/feed")
    def feed() -> Response:
        response = Response(feed_lines(), mimetype="text/plain")
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app


def server_timing(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """A WSGI middleware that adds ``Server-Timing: app;dur=<ms>``, how long the app took.

    To know that before the headers go out, it runs the whole body first and sends it in one
    piece: every stream behind it is held back until it ends.
    """

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        seen: dict[str, Any] = {}

        def remember(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            seen["status"], seen["headers"] = status, headers
            return lambda data: None

        body = app(environ, remember)
        try:
            whole = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        took = (time.perf_counter() - started) * 1000
        start_response(seen["status"], [*seen["headers"], ("Server-Timing", f"app;dur={took:.1f}")])
        return [whole]

    return middleware


def timed_headers(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """A middleware that adds ``Server-Timing`` without holding the body: a feed behind it
    streams, so a right test passes on it (one that tests the header, not the stream, fails)."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("Server-Timing", "app;dur=0.1")], exc_info)

        return app(environ, start)

    return middleware


def _run_test(test: Callable[[Server], Any], app: Any, who: str) -> BaseException | None:
    """Serve ``app`` and run the learner's test on it, under the time limit: what it raised or None."""
    with served(app) as server:
        try:
            returned = calling(
                test,
                server,
                doing=f"it tested the {who} feed",
                likely="a loop in the test never ends (request /feed once, then assert)",
            )
        except AssertionError as failed:
            return failed
        except NotImplementedError:
            raise NotAttempted() from None
        except Wrong:
            raise
        except Exception as exc:
            raise Wrong(
                f"On the {who} feed, test_feed raised {error_text(exc, 200)}{where_raised(exc)}: a test "
                "that finds a problem should fail with an AssertionError (assert_streams raises one)."
            ) from None
    if returned is not None:
        raise Wrong(
            f"test_feed returned {returned!r:.40} on the {who} feed instead of failing or passing: "
            "pytest ignores what a test returns. Use assert (or assert_streams), which fails the test."
        )
    return None


def _first_line(failed: BaseException) -> str:
    """The first line of a failed test's message, or where it failed when it had none."""
    first = (str(failed).strip().splitlines() or [""])[0][:300]
    return first or f"an assert with no message failed{where_raised(failed)}"


# -- q1 ------------------------------------------------------------------------------------


def _check_test_feed(answer: Any) -> str:
    test = require_function(answer, "test_feed")
    if is_untouched(test):
        raise NotAttempted()
    try:
        inspect.signature(test).bind(None)
    except TypeError:
        raise Wrong(
            "test_feed should take one argument, the running server: def test_feed(server):"
        ) from None
    except ValueError:  # no signature to read (a builtin): let the call tell
        pass
    app = feed_app()
    # The held-back feed first: a test that passes here catches nothing.
    held = _run_test(test, server_timing(app), "held-back")
    if held is None:
        raise Wrong(
            "test_feed passed on the feed behind server_timing, which holds every line until the "
            "last one: it does not catch the middleware. Request /feed with server.get and check "
            "how it arrived (assert_streams), not only what arrived."
        )
    fine = _run_test(test, app, "streaming")
    if fine is not None:
        trace = getattr(fine, "trace", None)
        status = getattr(trace, "status", 200)
        wrong_path = f" (the request got status {status}: request /feed)" if status != 200 else ""
        raise Wrong(
            "test_feed fails on the plain feed too, which streams its 5 lines 0.2 s apart: "
            f"{_first_line(fine)}{wrong_path}. A test that always fails cannot tell a change that "
            "broke streaming from one that did not; loosen the limit that fails."
        )
    timed = _run_test(test, timed_headers(app), "streaming, Server-Timing")
    if timed is not None:
        raise Wrong(
            "test_feed fails on a feed that streams behind a middleware that adds Server-Timing "
            f"without holding the body: {_first_line(timed)}. Test how the feed arrived, not "
            "which headers it has: a fixed middleware keeps the header."
        )
    why = ""
    if isinstance(held, StreamAssertionError):
        why = f" (verdict {held.trace.verdict!r})"
    return (
        f"test_feed failed on the held-back feed{why} and passed on the streaming one, with and "
        "without a Server-Timing header."
    )


q1 = Exercise(
    LESSON,
    1,
    "a test that catches the buffering middleware",
    "test_feed",
    _check_test_feed,
    hint=[
        "A test requests the feed and fails (raises AssertionError) when it did not stream. "
        "What in a trace tells a stream from a body that came in one piece?",
        "Inside test_feed: trace = server.get('/feed'), then assert_streams(trace). It fails "
        "when the lines arrive together. Keep the limits loose (min_pieces=3 is plenty): the "
        "machine running the tests is busy.",
    ],
    solution_code="""
from streamkit.testing import assert_streams

def test_feed(server):
    trace = server.get("/feed")
    assert_streams(trace, min_pieces=3)
""",
)


# -- q2 ------------------------------------------------------------------------------------


def _check_fixed(answer: Any) -> str:
    fix = require_function(answer, "server_timing_fixed")
    wrapped = calling(fix, feed_app(), doing="the check wrapped the feed app with it")
    require_attempt(fix, wrapped, "server_timing_fixed(app)")
    if not callable(wrapped):
        raise Wrong(
            f"server_timing_fixed(app) should return a WSGI application (a callable), got {kind_of(wrapped)}."
        )
    with served(wrapped) as server:
        trace = fetch(server, "/feed", who="your middleware")
    lines = trace.body.count(b"update")
    if lines != LINES:
        raise Wrong(f"Requesting /feed gave {lines} of the {LINES} lines; pass the whole body through.")
    timing = trace.headers.get("Server-Timing")
    if not timing:
        raise Wrong(
            "The response has no Server-Timing header: the fix should keep the middleware's job "
            "(a header with a duration), only without holding the body."
        )
    if not re.search(r"dur=\d", timing):
        raise Wrong(
            f"The header is Server-Timing: {timing[:60]!r}, without a duration: write it as "
            "app;dur=<milliseconds>, as server_timing does."
        )
    try:
        assert_streams(trace, min_pieces=3)
    except StreamAssertionError as failed:
        pieces = len(content_pieces(trace.chunks))
        raise Wrong(
            f"The feed behind your middleware is still held back: it arrived in {plural(pieces, 'piece')} "
            f"(verdict {failed.trace.verdict!r}). A middleware that joins or collects the body "
            "holds it; time what you can know before the body starts (until start_response is "
            "called) and return the app's iterable as it is."
        ) from None
    pieces = len(content_pieces(trace.chunks))
    return (
        f"The feed arrived in {plural(pieces, 'piece')} (verdict {trace.verdict!r}) behind your "
        f"middleware, with Server-Timing: {timing[:40]}."
    )


q2 = Exercise(
    LESSON,
    2,
    "fix the middleware",
    "server_timing_fixed",
    _check_fixed,
    hint=[
        "The duration of the whole body cannot be in a header that goes out before the body. "
        "What duration is known when the headers go out?",
        "Measure the time until the app calls start_response (the time to the headers): wrap "
        "start_response, add the header there, and return the app's iterable itself instead "
        "of joining it.",
    ],
    solution_code="""
import time

def server_timing_fixed(app):
    def middleware(environ, start_response):
        started = time.perf_counter()

        def start(status, headers, exc_info=None):
            took = (time.perf_counter() - started) * 1000  # time to the headers, known now
            return start_response(status, [*headers, ("Server-Timing", f"app;dur={took:.1f}")], exc_info)

        return app(environ, start)  # the body goes through piece by piece

    return middleware
""",
)

EXERCISES = [q1, q2]
__all__ = ["EXERCISES", "SERVER_NAME", "feed_app", "feed_lines", "q1", "q2", "server_timing", "timed_headers"]
