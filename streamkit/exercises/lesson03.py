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


class Reads:
    """When the view returned, and when the request's ``key`` was read from the environ.

    Serve ``reads.app(view)``: the view is wrapped to note when it returns, and each request
    notes every read of ``key``: ``"args"`` for ``request.args``, an environ key such as
    ``HTTP_X_NAME`` for ``request.headers["X-Name"]``.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.returned: float | None = None
        self.read_at: list[float] = []

    def app(self, view: Any) -> Any:
        def noted_view() -> Any:
            if self.key == "args":  # request.args parses a copy made earlier: note the reads
                current = request._get_current_object()  # type: ignore[attr-defined]
                current.__class__ = _noting_args(type(current), self)
            try:
                return view()
            finally:
                self.returned = time.monotonic()

        noted_view.__name__ = view.__name__
        inner = app_with_view(noted_view)

        def noting(environ: dict[str, Any], start_response: Any) -> Any:
            return inner(_NotingEnviron(environ, self), start_response)

        return noting

    def after_return(self) -> bool:
        """True when the key was read after the view had returned (by the generator)."""
        return self.returned is not None and any(t > self.returned for t in self.read_at)

    def before_return(self) -> bool:
        return any(self.returned is None or t <= self.returned for t in self.read_at)


def _noting_args(base: type, reads: Reads) -> type:
    """A subclass of the request class whose ``args`` notes when it is read."""

    def args(self: Any) -> Any:
        reads.read_at.append(time.monotonic())
        return base.args.__get__(self, base)  # type: ignore[attr-defined]

    return type(base.__name__, (base,), {"args": property(args)})


class _NotingEnviron(dict[str, Any]):
    def __init__(self, environ: dict[str, Any], reads: Reads) -> None:
        super().__init__(environ)
        self._reads = reads

    def __getitem__(self, key: str) -> Any:
        if key == self._reads.key:
            self._reads.read_at.append(time.monotonic())
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        if key == self._reads.key:
            self._reads.read_at.append(time.monotonic())
        return super().get(key, default)


# -- q1 ------------------------------------------------------------------------------------


def _check_greet(answer: Any) -> str:
    view = require_function(answer, "greet")
    try_view(app_with_view(view), view, "/?name=Ada")
    reads = Reads("args")
    with served(reads.app(view)) as server:
        trace = fetch(server, "/?name=Ada", who="greet()")
    if trace.body != b"Hello, Ada!\n":
        raise Wrong(f"For ?name=Ada the body should be b'Hello, Ada!\\n', but it was {trace.body!r:.80}.")
    if pieces(trace) < 2:
        raise Wrong("The greeting arrived in one piece; keep the generator, with its separate yields.")
    if not reads.after_return():
        raise Wrong(
            "The greeting is right, but the name was read in the view, before it returned, so the "
            "generator never needed the request. This exercise is about keeping it: read "
            'request.args["name"] inside the generator, and wrap the generator with '
            "stream_with_context(...)."
        )
    return (
        f"The generator read the request after the view had returned, and streamed "
        f"{plural(pieces(trace), 'chunk')} without a RuntimeError: it kept its request."
    )


q1 = Exercise(
    LESSON,
    1,
    "keep the request",
    "greet",
    _check_greet,
    hint=[
        "Keep greet_broken's generator, which reads the name while it streams; what is missing "
        "is something that keeps the request alive for it.",
        "Return Response(stream_with_context(generate()), ...): the wrapper must be created "
        "inside the view, while the request is active.",
    ],
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
        start = (
            f"Your order starts with {answer[0]!r}, but the server began with {measured[0]!r}"
            if position == 0
            else f"The first {plural(position, 'step')} match ({' -> '.join(measured[:position])}); "
            f"then the server went on with {measured[position]!r}, where you wrote {answer[position]!r}"
        )
        raise Wrong(f"{start}. {_order_reminder(answer[position], measured[position])}")
    return "That is the order a real request went through: " + " -> ".join(measured) + "."


def _order_reminder(yours: str, actual: str) -> str:
    if yours == "teardown":
        return (
            "With stream_with_context the request, and so its teardown, lasts until the "
            "generator has finished. (Flask 3.1.3 also runs teardown once when the view "
            "returns, and again at the end; this server runs it once, at the end.)"
        )
    if actual == "view returned":
        return "The view only builds the generator: it returns before the server pulls the first item."
    return "The server pulls the generator's items after the view has returned."


q2 = Exercise(
    LESSON,
    2,
    "when teardown runs",
    "order",
    _check_order,
    hint=[
        "The view builds the generator and returns it without running it. The server then "
        "pulls items out, one at a time.",
        "With stream_with_context, the request counts as finished only when the generator "
        "has finished; teardown runs then.",
    ],
    solution_code="""
order = ["view returned", "generator started", "generator finished", "teardown"]
""",
)


# -- q3 ------------------------------------------------------------------------------------


def _check_shout(answer: Any) -> str:
    view = require_function(answer, "shout")
    try_view(app_with_view(view), view, "/", headers={"X-Name": "ada"})
    reads = Reads("HTTP_X_NAME")
    with served(reads.app(view)) as server:
        trace = fetch(server, "/", who="shout()", headers={"X-Name": "ada"})
    if trace.body != b"A\nD\nA\n":
        raise Wrong(
            f"With the header X-Name: ada the body should be b'A\\nD\\nA\\n', but it was {trace.body!r:.80}."
        )
    if pieces(trace) < 3:
        raise Wrong("The letters arrived together; yield one line per letter.")
    if reads.after_return() or not reads.before_return():
        raise Wrong(
            "The letters are right, but the header was read inside the generator, after the view "
            "had returned (stream_with_context kept the request for it). Read it in the view, "
            "name = request.headers['X-Name'], and give name to the generator."
        )
    return (
        f"The header was read while the view ran, and the generator streamed "
        f"{plural(pieces(trace), 'letter')} without touching the request."
    )


q3 = Exercise(
    LESSON,
    3,
    "read before streaming",
    "shout",
    _check_shout,
    hint=[
        "Read everything the generator needs from the request while the view runs.",
        'In the view, name = request.headers["X-Name"]. Give name to the generator as an '
        "argument; then the generator never touches request.",
    ],
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
