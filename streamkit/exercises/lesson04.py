"""Exercises for lesson 04, What breaks streaming: a middleware, early headers, validation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from ..app import App
from ..response import Response
from ..trace import error_text, plural
from . import Exercise, Wrong, where_raised
from .checking import (
    MAX_SECONDS,
    app_with_view,
    calling,
    fetch,
    kind_of,
    pieces,
    require_attempt,
    require_function,
    served,
    try_view,
)

LESSON = "04"


def five_parts_app(pause: float = 0.08) -> App:
    """An App whose ``/`` streams five lines, ``pause`` seconds apart."""
    app = App(__name__, template_folder=None)

    @app.route("/")
    def parts() -> Response:
        def generate() -> Iterator[str]:
            for n in range(1, 6):
                yield f"part {n}\n"
                time.sleep(pause)

        return Response(generate(), mimetype="text/plain")

    return app


def slow_report() -> Iterator[str]:
    """A report whose first line takes 0.4 s to compute (a slow query), then three lines."""
    time.sleep(0.4)
    for n in range(1, 4):
        yield f"row {n}\n"


# -- q1 ------------------------------------------------------------------------------------


def _check_stamp(answer: Any) -> str:
    func = require_function(answer, "stamp")
    wrapped = calling(func, five_parts_app(), doing="the check wrapped an app with it")
    require_attempt(func, wrapped, "stamp(app)")
    if not callable(wrapped):
        raise Wrong(
            f"stamp(app) should return a WSGI application (something callable), not {kind_of(wrapped)}."
        )
    with served(wrapped) as server:
        trace = fetch(server, "/", who="the stamped app")
    if trace.headers.get("X-Stamp") != "streamkit":
        raise Wrong(
            f"The response has X-Stamp: {trace.headers.get('X-Stamp')!r}; add ('X-Stamp', "
            f"'streamkit') to the headers in your own start_response before calling the real one."
        )
    if trace.body != b"".join(f"part {n}\n".encode() for n in range(1, 6)):
        raise Wrong(f"The body changed on the way through your middleware: {trace.body!r:.80}.")
    if trace.verdict != "streamed":
        raise Wrong(
            f"The five parts reached the client {trace.verdict}, in {plural(pieces(trace), 'piece')}: "
            f"your middleware collected the body. Return the app's iterable itself instead of a "
            f"list or a joined string."
        )
    return f"The header is there and the parts still streamed ({plural(pieces(trace), 'chunk')}, verdict 'streamed')."


q1 = Exercise(
    LESSON,
    1,
    "a middleware that does not buffer",
    "stamp",
    _check_stamp,
    hint=[
        "A WSGI middleware is a function (environ, start_response) that calls the app. The "
        "headers go out through start_response, so that is the place to add one.",
        "Inside stamp(app) define middleware(environ, start_response) with its own "
        "start_response(status, headers, exc_info=None) that adds the header as a pair, "
        "('X-Stamp', 'streamkit'), and calls the real one. Then return app(environ, "
        "your_start_response) unchanged, and return middleware.",
    ],
    solution_code="""
def stamp(app):
    def middleware(environ, start_response):
        def start_with_stamp(status, headers, exc_info=None):
            return start_response(status, headers + [("X-Stamp", "streamkit")], exc_info)

        return app(environ, start_with_stamp)  # the body passes through untouched

    return middleware
""",
)


# -- q2 ------------------------------------------------------------------------------------


def _check_slow_start(answer: Any) -> str:
    view = require_function(answer, "slow_start")
    app = app_with_view(view)
    try_view(app, view)
    with served(app) as server:
        trace = fetch(server, "/", who="slow_start()")
    if trace.body != b"row 1\nrow 2\nrow 3\n":
        raise Wrong(f"The body should be the three rows of slow_report(), but it was {trace.body!r:.80}.")
    mimetype = (trace.headers.get("Content-Type") or "").split(";")[0].strip()
    if mimetype != "text/plain":
        raise Wrong(
            f"The rows went out as {mimetype or 'unlabelled'}; stream them as text/plain: "
            f'Response(..., mimetype="text/plain").'
        )
    if trace.ttfb is None or trace.ttfb < 0.3:
        raise Wrong("The rows came at once; keep slow_report() as it is (its 0.4 s stands for a slow query).")
    if trace.headers_at is None or trace.headers_at > trace.ttfb / 2:
        raise Wrong(
            "The headers waited for the first row. werkzeug sends them with the first item, "
            'so make the first item an empty one: yield b"" before the slow work starts.'
        )
    return (
        f"The headers arrived after {trace.headers_at * 1000:.0f} ms; the rows followed when they "
        f"were ready ({trace.ttfb:.2f} s)."
    )


q2 = Exercise(
    LESSON,
    2,
    "send the headers first",
    "slow_start",
    _check_slow_start,
    hint=[
        "werkzeug sends the headers together with the first item of the body. What first item "
        "could go out at once, without changing the body?",
        'Wrap slow_report() in a generator of your own that first yields b"" and then '
        'yields from slow_report(); return it in a Response with mimetype="text/plain".',
    ],
    solution_code="""
from streamkit import Response
from streamkit.exercises.lesson04 import slow_report

def slow_start():
    def body():
        yield b""  # the headers go out with this empty first item
        yield from slow_report()

    return Response(body(), mimetype="text/plain")
""",
)


# -- q3 ------------------------------------------------------------------------------------

_BAD = ["/?rows=abc", "/?rows=0", "/?rows=101", "/"]
_VALUE_OF = {
    "/?rows=abc": "a value that is not a number",
    "/?rows=0": "0, which is below the range",
    "/?rows=101": "101, which is above the range",
    "/": "a request without rows",
}


def _check_export(answer: Any) -> str:
    view = require_function(answer, "export")
    app = app_with_view(view)
    try_view(app, view, "/?rows=3")
    with served(app) as server:
        good = fetch(server, "/?rows=3", who="export()")
        if good.body != b"row 1\nrow 2\nrow 3\n":
            raise Wrong(f"/?rows=3 should stream b'row 1\\nrow 2\\nrow 3\\n', but sent {good.body!r:.80}.")
        if pieces(good) < 3:
            raise Wrong("/?rows=3 sent its rows together; yield one row at a time.")
        for path in _BAD:
            trace = server.get(path, timeout=5, max_seconds=MAX_SECONDS)
            if trace.status == 400:
                continue
            if trace.status == 200 and (trace.server_error is not None or trace.verdict == "broken"):
                raise Wrong(
                    f"{path} got status 200 and then a broken stream"
                    f"{f' ({error_text(trace.server_error)})' if trace.server_error else ''}. By the "
                    f"time the generator finds a bad value the 200 has been sent: check rows in "
                    f"the view and abort(400) before returning the Response."
                )
            if trace.status == 200:
                rows = trace.body.count(b"row ")
                raise Wrong(
                    f"{path} got status 200 and {plural(rows, 'row')}: your view let "
                    f"{_VALUE_OF[path]} through. rows must be a whole number from 1 to 100; "
                    f"anything else gets abort(400)."
                )
            raised = (
                f" (the app raised {error_text(trace.server_error)}{where_raised(trace.server_error)})"
                if trace.server_error
                else ""
            )
            raise Wrong(
                f"{path} got status {trace.status}{raised}; a bad rows value should give 400. Check "
                f"rows in the view and abort(400) when it is missing, not a number, or out of range."
            )
    return (
        f"Good rows stream ({plural(pieces(good), 'chunk')}), and every bad value gets a 400 before any body."
    )


q3 = Exercise(
    LESSON,
    3,
    "validate before streaming",
    "export",
    _check_export,
    hint=[
        "Once the first byte has gone the status cannot change: decide about the 400 in the "
        "view, before you return the Response.",
        'In the view: rows = request.args.get("rows", type=int) gives None for a missing '
        "or non-numeric value. If rows is None or not 1 <= rows <= 100, abort(400). Only then "
        "build the generator and return the Response.",
    ],
    solution_code="""
from streamkit import Response, abort, request

def export():
    rows = request.args.get("rows", type=int)
    if rows is None or not 1 <= rows <= 100:
        abort(400, "rows must be a whole number from 1 to 100")

    def generate():
        for n in range(1, rows + 1):
            yield f"row {n}\\n"

    return Response(generate(), mimetype="text/plain")
""",
)

EXERCISES = [q1, q2, q3]
