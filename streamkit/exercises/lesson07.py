"""Exercises for lesson 07, Production: get a stream through nginx, from the app or from the proxy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..backends import ServerStartError, ServerUnavailable
from ..demos import create_app
from ..response import Response
from ..server import Server, serve
from ..trace import error_text, plural
from . import Exercise, Wrong
from .checking import (
    SERVER_NAME,
    calling,
    fetch,
    kind_of,
    pieces,
    require_attempt,
    require_function,
    served,
)
from .guard import Guard, GuardedApp

LESSON = "07"
#: System programs this lesson, its solutions and its checks run (see streamkit.programs): the
#: tests and nbval skip them, naming the package, where one is missing.
NEEDS = ("nginx",)
EVENTS = "/events?count=4&delay_ms=120"  # four events over about 0.36 s
PROXY_OPTIONS = ("gzip", "buffering", "read_timeout")


FEED = "/feed"  # a second event stream, at another path than the demo's /events


def _with_feed(app: Any) -> Any:
    """The demo app with one more event stream, at :data:`FEED`."""

    def feed() -> Response:
        return Response(iter(["data: 1\n\n", "data: 2\n\n"]), mimetype="text/event-stream")

    app.add_url_rule(FEED, endpoint="exercise_feed", view_func=feed)
    return app


@contextmanager
def behind_nginx(app: Any, proxy_options: dict[str, Any] | None = None) -> Iterator[Server]:
    """Serve ``app`` with a real nginx in front for the length of a ``with`` block."""
    guard = Guard()  # the learner's middleware runs under it: nothing runs on after the check
    try:
        server = serve(GuardedApp(app, guard), behind="nginx", proxy_options=proxy_options, name=SERVER_NAME)
    except ServerUnavailable as exc:
        raise Wrong(f"This check needs nginx, which is not installed here: {exc}") from None
    try:
        yield server
    finally:
        guard.end()
        server.stop()


def _held_back(trace: Any) -> str:
    return (
        f"The events arrived {trace.verdict}, in {plural(pieces(trace), 'piece')}, the first after "
        f"{trace.ttfb or 0:.2f} s"
    )


# -- q1 ------------------------------------------------------------------------------------


def _check_no_proxy_buffering(answer: Any) -> str:
    func = require_function(answer, "no_proxy_buffering")
    wrapped = calling(func, _with_feed(create_app()), doing="the check wrapped an app with it")
    require_attempt(func, wrapped, "no_proxy_buffering(app)")
    if not callable(wrapped):
        raise Wrong(
            f"no_proxy_buffering(app) should return a WSGI application (something callable), "
            f"not {kind_of(wrapped)}."
        )
    # First the app server alone: nginx removes the header, so look at it before nginx does.
    with served(wrapped) as server:
        events = fetch(server, "/events?count=2&delay_ms=0", who="your middleware")
        feed = fetch(server, FEED, who="your middleware")
        text = fetch(server, "/csv?rows=2&inline=1", who="your middleware")
    if events.headers.get("X-Accel-Buffering") != "no":
        raise Wrong(
            f"A text/event-stream response has X-Accel-Buffering: "
            f"{events.headers.get('X-Accel-Buffering')!r}; it should be 'no'. Its Content-Type "
            f"is {events.headers.get('Content-Type')!r}: add the header in your own "
            f"start_response when the Content-Type starts with text/event-stream (it may carry "
            f"a charset after it)."
        )
    if feed.headers.get("X-Accel-Buffering") != "no":
        raise Wrong(
            f"/events got X-Accel-Buffering, but the event stream at {FEED} did not: decide by "
            f"the Content-Type ({feed.headers.get('Content-Type')!r}), not by the path."
        )
    if "X-Accel-Buffering" in text.headers:
        raise Wrong(
            "A text/plain response got X-Accel-Buffering too; add it only to text/event-stream "
            "responses (other responses are better off buffered by the proxy)."
        )
    if events.body.count(b"event: tick") != 2:
        raise Wrong(f"The events changed on the way through your middleware: {events.body!r:.80}.")
    with behind_nginx(wrapped) as server:
        trace = fetch(server, EVENTS, who="your middleware behind nginx")
    if trace.verdict != "streamed":
        raise Wrong(
            f"{_held_back(trace)}: the header is right, so something in your middleware collects "
            f"the body. Return the app's iterable as it is."
        )
    return (
        f"Behind nginx with gzip on, the events streamed ({plural(pieces(trace), 'piece')}), and "
        f"other responses are left alone."
    )


q1 = Exercise(
    LESSON,
    1,
    "a middleware that tells the proxy",
    "no_proxy_buffering",
    _check_no_proxy_buffering,
    hint=[
        "Like the stamp() middleware of lesson 04, but add the header only to event streams: "
        "the Content-Type tells which response is one.",
        "Wrap start_response in your own function that looks for the Content-Type in headers, "
        "and appends ('X-Accel-Buffering', 'no') when it starts with text/event-stream. "
        "Return app(environ, your_start_response) unchanged.",
    ],
    solution_code="""
def no_proxy_buffering(app):
    def middleware(environ, start_response):
        def start(status, headers, exc_info=None):
            content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
            if content_type.startswith("text/event-stream"):
                headers = headers + [("X-Accel-Buffering", "no")]
            return start_response(status, headers, exc_info)

        return app(environ, start)  # the body passes through untouched

    return middleware
""",
)


# -- q2 ------------------------------------------------------------------------------------


def _check_proxy_options(answer: Any) -> str:
    if not isinstance(answer, dict):
        raise Wrong(
            f"proxy_options should be a dict such as {{'gzip': True}}, not {kind_of(answer)}: {answer!r:.60}"
        )
    unknown = sorted(set(answer) - set(PROXY_OPTIONS))
    if unknown:
        raise Wrong(
            f"Unknown option(s) {', '.join(map(repr, unknown))}: choose from {', '.join(PROXY_OPTIONS)}."
        )
    for name in ("gzip", "buffering"):
        if name in answer and not isinstance(answer[name], bool):
            raise Wrong(f"{name} should be True or False, not {answer[name]!r}.")
    timeout = answer.get("read_timeout", 60)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise Wrong(f"read_timeout should be a number of seconds above 0, not {timeout!r}.")
    try:
        with behind_nginx(create_app(), answer) as server:
            trace = fetch(server, EVENTS, who="the demo behind your nginx")
    except (ServerStartError, TypeError, ValueError) as exc:
        raise Wrong(f"nginx did not start with {answer!r}: {error_text(exc, 400)}") from None
    if trace.verdict != "streamed":
        raise Wrong(
            f"{_held_back(trace)}. With {answer!r}, nginx still holds the stream back: which of "
            f"its two settings collects the output?"
        )
    return f"With {answer!r} the demo's events streamed through nginx ({plural(pieces(trace), 'piece')})."


q2 = Exercise(
    LESSON,
    2,
    "fix it in the proxy",
    "proxy_options",
    _check_proxy_options,
    hint=[
        "Two of nginx's settings collect output before sending it; one of them is enough to switch off.",
        "Either switch nginx's gzip off ({'gzip': False}), or switch proxy buffering off "
        "({'buffering': False}), which also makes nginx flush its gzip output after every "
        "read. read_timeout only limits the pause between two pieces.",
    ],
    solution_code="""
proxy_options = {"buffering": False}  # {"gzip": False} works too
""",
)

EXERCISES = [q1, q2]
