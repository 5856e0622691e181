"""Exercises for lesson 03, Context: keep the request, predict teardown, read before streaming."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from ..app import App
from ..context import request, stream_with_context
from ..response import Response
from ..trace import plural
from . import Exercise, Wrong
from .checking import app_with_view, fetch, pieces, require_function, served, try_view

LESSON = "03"

# -- q1 ------------------------------------------------------------------------------------


def _check_greet(answer: Any) -> str:
    view = require_function(answer, "greet")
    app = app_with_view(view)
    try_view(app, view, "/?name=Ada")
    with served(app) as server:
        trace = fetch(server, "/?name=Ada", who="greet()")
    if trace.body != b"Hello, Ada!\n":
        raise Wrong(f"For ?name=Ada the body should be b'Hello, Ada!\\n', but it was {trace.body!r:.80}.")
    if pieces(trace) < 2:
        raise Wrong("The greeting arrived in one piece; keep the generator, with its separate yields.")
    return f"The generator kept its request: no RuntimeError, {plural(pieces(trace), 'chunk')} streamed."


q1 = Exercise(
    LESSON,
    1,
    "keep the request",
    "greet",
    _check_greet,
    hint="Same view as greet_broken, but return Response(stream_with_context(generate()), ...): "
    "the wrapper must be created inside the view, while the request is active.",
    solution_code="""
import time
from streamkit import Response, request, stream_with_context

def greet():
    def generate():
        yield "Hello, "
        time.sleep(0.1)
        yield request.args["name"]
        yield "!\\n"

    return Response(stream_with_context(generate()), mimetype="text/plain")
""",
)


# -- q2 ------------------------------------------------------------------------------------

EVENTS = ("view returned", "generator started", "generator finished", "teardown")


def measure_order() -> list[str]:
    """Serve a stream and note when each of :data:`EVENTS` happens, in the order they happen."""
    noted: list[str] = []
    app = App(__name__, template_folder=None)

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        noted.append("teardown")

    @app.route("/")
    def view() -> Response:
        @stream_with_context
        def generate() -> Iterator[str]:
            noted.append("generator started")
            for n in range(3):
                yield f"{request.path} {n}\n"
                time.sleep(0.02)
            noted.append("generator finished")

        response = Response(generate(), mimetype="text/plain")
        noted.append("view returned")
        return response

    with served(app) as server:
        fetch(server, "/", who="the measuring app")
    return noted


def _check_order(answer: Any) -> str:
    if not isinstance(answer, (list, tuple)) or sorted(answer) != sorted(EVENTS):
        raise Wrong(f"order should be a list holding each of these four once, in some order: {list(EVENTS)}.")
    measured = measure_order()
    if list(answer) != measured:
        position = next(i for i, (a, b) in enumerate(zip(answer, measured)) if a != b)
        raise Wrong(
            f"Your first {position} step(s) match what the server did; from {answer[position]!r} on they "
            f"differ. Remember: the view returns before the server pulls the first item."
        )
    return "That is the order a real request went through: " + " -> ".join(measured) + "."


q2 = Exercise(
    LESSON,
    2,
    "when teardown runs",
    "order",
    _check_order,
    hint="The view builds the generator and returns it without running it. The server then "
    "pulls items out, one at a time. When does the request count as finished?",
    solution_code="""
order = ["view returned", "generator started", "generator finished", "teardown"]
""",
)


# -- q3 ------------------------------------------------------------------------------------


def _check_shout(answer: Any) -> str:
    view = require_function(answer, "shout")
    app = app_with_view(view)
    try_view(app, view, "/", headers={"X-Name": "ada"})
    with served(app) as server:
        trace = fetch(server, "/", who="shout()", headers={"X-Name": "ada"})
    if trace.body != b"A\nD\nA\n":
        raise Wrong(
            f"With the header X-Name: ada the body should be b'A\\nD\\nA\\n', but it was {trace.body!r:.80}."
        )
    if pieces(trace) < 3:
        raise Wrong("The letters arrived together; yield one line per letter.")
    return f"The header was read in the view and the generator streamed {plural(pieces(trace), 'letter')}."


q3 = Exercise(
    LESSON,
    3,
    "read before streaming",
    "shout",
    _check_shout,
    hint='In the view, name = request.headers["X-Name"]. Give name to the generator as an '
    "argument; then the generator never touches request.",
    solution_code="""
import time
from streamkit import Response, request

def shout():
    name = request.headers["X-Name"]  # read while the view runs

    def letters(text):
        for letter in text.upper():
            yield letter + "\\n"
            time.sleep(0.05)

    return Response(letters(name), mimetype="text/plain")
""",
)

EXERCISES = [q1, q2, q3]
