"""Exercises for lesson 00, Welcome: take a trace, then write a first stream."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..trace import Trace, plural
from . import Exercise, Wrong
from .checking import (
    app_with_view,
    fetch,
    kind_of,
    pieces,
    require_function,
    served,
    spread,
    try_view,
)

LESSON = "00"

# The solution notebook runs this first: the lesson's app and server.
SETUP = """
import time
from streamkit import App, Response, request, serve

app = App(__name__)

@app.route("/count")
def count():
    n = int(request.args.get("n", 5))

    def numbers():
        for i in range(1, n + 1):
            yield f"{i}\\n"
            time.sleep(0.1)

    return Response(numbers(), mimetype="text/plain")

server = serve(app, name="welcome")
"""


def _check_trace(answer: Any) -> str:
    if not isinstance(answer, Trace):
        called = " (server.get itself, not called)" if callable(answer) else ""
        raise Wrong(
            f"my_trace should be the Trace that server.get(...) returns, but it is "
            f"{kind_of(answer)}{called}. Did you store the result: my_trace = server.get(...)?"
        )
    parts = urlsplit(answer.url)
    if parts.path != "/count":
        raise Wrong(f"my_trace is a trace of {parts.path or '/'}, not of /count.")
    n = parse_qs(parts.query).get("n")
    if n != ["3"]:
        raise Wrong('Ask for three numbers: add ?n=3 to the path, as in server.get("/count?n=3").')
    if answer.status != 200:
        raise Wrong(f"The response had status {answer.status}; is the server from the cells above running?")
    if answer.body != b"1\n2\n3\n":
        raise Wrong(f"Expected the body b'1\\n2\\n3\\n', got {answer.body!r:.60}.")
    if answer.verdict != "streamed":
        raise Wrong(f"That trace's verdict is {answer.verdict!r}, not 'streamed'. Probe again?")
    return f"{plural(len(answer.chunks), 'chunk')} arrived one by one: verdict {answer.verdict!r}."


q1 = Exercise(
    LESSON,
    1,
    "your own trace",
    "my_trace",
    _check_trace,
    hint=[
        "server.get(...) requests a path on the running server and gives back a Trace; store "
        "what it returns in my_trace.",
        'The path may carry a query string: the view reads n from "/count?n=3". So: '
        'my_trace = server.get("/count?n=3").',
    ],
    solution_code="""
my_trace = server.get("/count?n=3")
my_trace
""",
)

_COUNTDOWN = b"3\n2\n1\nliftoff!\n"


def _check_countdown(answer: Any) -> str:
    view = require_function(answer, "countdown")
    app = app_with_view(view)
    try_view(app, view)
    with served(app) as server:
        trace = fetch(server, "/", who="countdown()")
    if trace.body != _COUNTDOWN:
        raise Wrong(f"The body should be {_COUNTDOWN!r}, but it was {trace.body!r:.80}.")
    received = pieces(trace)
    made = [event for event in trace.produced or () if event.size]
    if len(made) < 4:
        raise Wrong(
            f"Your view handed the server the four lines as {plural(len(made), 'item')}, so they "
            f"arrived in {plural(received, 'piece')}. Yield each line on its own (a generator "
            f"with one yield per line) instead of returning them joined."
        )
    if spread(trace) < 0.15:
        raise Wrong(
            f"The four lines were {plural(len(made), 'item')}, but all arrived within "
            f"{spread(trace) * 1000:.0f} ms (in {plural(received, 'piece')}): nothing made them wait. "
            f"Pause between them: time.sleep(0.1) after each yield."
        )
    return f"Your countdown streamed: {plural(received, 'chunk')} over {spread(trace):.2f} s, one per line."


q2 = Exercise(
    LESSON,
    2,
    "a first stream",
    "countdown",
    _check_countdown,
    hint=[
        "Look at the count() view above: a generator inside the view, handed to Response.",
        'Write a generator inside countdown() that yields "3\\n", "2\\n", "1\\n" and '
        '"liftoff!\\n", calling time.sleep(0.1) after each yield, and return '
        'Response(generator(), mimetype="text/plain").',
    ],
    solution_code="""
import time
from streamkit import Response

def countdown():
    def lines():
        for line in ["3\\n", "2\\n", "1\\n", "liftoff!\\n"]:
            yield line
            time.sleep(0.1)

    return Response(lines(), mimetype="text/plain")
""",
)

EXERCISES = [q1, q2]
