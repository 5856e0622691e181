"""The demo app: one small view per streaming technique, plus an index page that links them.

Every view checks its query parameters first (see :mod:`streamkit.demos.params`) and only then
returns its stream, so a bad parameter is a clean 400 and never a half-sent body. Row counts and
delays are parameters with small defaults and upper bounds, so the same views serve a quick
terminal demo, a notebook lesson and a slow page to watch in a browser. The content is the same
on every run (no clocks, no random numbers), so notebook outputs stay stable.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ..app import App
from ..context import request, stream_with_context
from ..response import Response
from ..templating import render_template, stream_template
from . import chat
from .params import Params

MAX_SLEEP_MS = 120_000  # no demo may be asked to sleep longer than this in total


@dataclass(frozen=True)
class Demo:
    """One entry of the index page."""

    path: str  # with a sensible query string
    title: str
    watch: str  # what to watch for, in one line
    method: str = "GET"
    body: str | None = None  # a JSON body to send (a POST demo cannot be a link)

    @property
    def curl(self) -> str:
        """The curl command that requests it, given the server's URL in ``$URL``."""
        if self.body is None:
            return f"curl -N $URL{self.path}"
        return f"curl -N $URL{self.path} --json '{self.body}'"


DEMOS = [
    Demo(
        "/csv?rows=100000&batch=500",
        "A large CSV from a generator",
        "the download starts at once and grows; the server never holds the whole 2.2 MB file",
    ),
    Demo(
        "/csv?rows=300&delay_ms=10&inline=1",
        "The same CSV, slowed down and shown as text",
        "rows appear while the page is still loading, 10 ms apart",
    ),
    Demo(
        "/template?rows=30&delay_ms=100&buffer=0",
        "A streamed template, unbuffered",
        "each template part is sent on its own: rows appear one by one",
    ),
    Demo(
        "/template?rows=30&delay_ms=100&buffer=5",
        "The same template with enable_buffering(5)",
        "five parts per write: fewer, bigger chunks, the page grows in steps",
    ),
    Demo(
        "/context/with?rows=5&delay_ms=300",
        "A generator that reads the request, wrapped in stream_with_context",
        "every row is sent; the generator reads request.path while it streams",
    ),
    Demo(
        "/context/without?rows=5&delay_ms=300",
        "The same generator without stream_with_context",
        "the header row arrives, then RuntimeError: Working outside of request context cuts the stream",
    ),
    Demo(
        "/slow?rows=10&delay_ms=400",
        "A slow page",
        "rows appear one at a time over 4 s: the browser shows the page before it has all of it",
    ),
    Demo(
        "/greet?name=Ada",
        "A validated parameter",
        "without ?name= the answer is 400 before any streaming; ?name=<script> shows up as text",
    ),
    Demo(
        "/events?count=5&delay_ms=500",
        "Server-sent events",
        "a text/event-stream: one event every 0.5 s, each sent as it is made",
    ),
    Demo(
        chat.PATH,
        "An LLM-style reply, OpenAI-compatible (POST, JSON body)",
        "a role-only event at once, the first token after first_token_ms, then tokens_per_second; "
        "openai's own client reads it",
        method="POST",
        body='{"stream": true, "messages": [{"role": "user", "content": "Hi"}], '
        '"first_token_ms": 800, "tokens_per_second": 10, "keepalive_ms": 200}',
    ),
]


def create_app() -> App:
    """A new demo App (the module-level ``streamkit.demos.app`` is one of these)."""
    app = App("streamkit.demos")

    @app.route("/")
    def index() -> str:
        return render_template("index.html", demos=DEMOS)

    @app.route("/csv")
    def csv() -> Response:
        params = Params(request.args)
        rows = params.integer("rows", default=10_000, low=0, high=50_000_000)
        batch = params.integer("batch", default=1, low=1, high=100_000)
        delay_ms = params.integer("delay_ms", default=0, low=0, high=5_000)
        inline = params.flag("inline")
        _check_sleep(params, -(-rows // batch) * delay_ms)
        if params.errors:
            return params.bad_request()
        mimetype = "text/plain" if inline else "text/csv"
        return Response(csv_rows(rows, batch, delay_ms / 1000), mimetype=mimetype)

    @app.route("/template")
    def template() -> Response:
        params = Params(request.args)
        rows = params.integer("rows", default=20, low=0, high=10_000)
        buffer = params.integer("buffer", default=0, low=0, high=1_000)
        delay_ms = params.integer("delay_ms", default=0, low=0, high=5_000)
        params.check(buffer != 1, "buffer must be 0 (no buffering) or at least 2, got 1")
        _check_sleep(params, rows * delay_ms)
        if params.errors:
            return params.bad_request()
        title = f"enable_buffering({buffer})" if buffer else "unbuffered"
        stream = stream_template("rows.html", title=title, total=rows, rows=table_rows(rows, delay_ms / 1000))
        if buffer:
            stream.enable_buffering(buffer)
        return Response(stream)

    @app.route("/context/with")
    def context_with() -> Response:
        params = Params(request.args)
        rows, delay = _context_params(params)
        if params.errors:
            return params.bad_request()
        return Response(stream_with_context(path_rows(rows, delay)), mimetype="text/plain")

    @app.route("/context/without")
    def context_without() -> Response:
        params = Params(request.args)
        rows, delay = _context_params(params)
        if params.errors:
            return params.bad_request()
        # The mistake on purpose: the generator reads `request` after the view has returned.
        return Response(path_rows(rows, delay), mimetype="text/plain")

    @app.route("/slow")
    def slow() -> Response:
        params = Params(request.args)
        rows = params.integer("rows", default=10, low=1, high=1_000)
        delay_ms = params.integer("delay_ms", default=300, low=0, high=5_000)
        _check_sleep(params, rows * delay_ms)
        if params.errors:
            return params.bad_request()
        return Response(
            stream_template(
                "slow.html", total=rows, delay_ms=delay_ms, rows=table_rows(rows, delay_ms / 1000)
            )
        )

    @app.route("/greet")
    def greet() -> Response:
        params = Params(request.args)
        name = params.text("name", max_length=80, required=True)
        delay_ms = params.integer("delay_ms", default=100, low=0, high=5_000)
        if params.errors:
            return params.bad_request()
        # Autoescaping turns "<script>" into "&lt;script&gt;": the name is shown, never run.
        return Response(stream_template("greet.html", name=name, lines=greeting_lines(name, delay_ms / 1000)))

    @app.route("/events")
    def events() -> Response:
        params = Params(request.args)
        count = params.integer("count", default=5, low=1, high=1_000)
        delay_ms = params.integer("delay_ms", default=500, low=0, high=10_000)
        _check_sleep(params, count * delay_ms)
        if params.errors:
            return params.bad_request()
        response = Response(server_events(count, delay_ms / 1000), mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.route(chat.PATH, methods=["POST"])
    def chat_completions() -> Response:
        # Read at most MAX_BODY bytes: a bigger body is a 413 before anything else happens.
        if (request.content_length or 0) > chat.MAX_BODY:
            return chat.error_response(
                chat.BadRequest(f"the request body may have at most {chat.MAX_BODY:,} bytes"), 413
            )
        return chat.respond(request.get_data(cache=False))

    return app


def _check_sleep(params: Params, total_ms: int) -> None:
    params.check(
        total_ms <= MAX_SLEEP_MS,
        f"these rows and delays would take {total_ms / 1000:,.0f} s; the limit is {MAX_SLEEP_MS // 1000} s",
    )


def _context_params(params: Params) -> tuple[int, float]:
    rows = params.integer("rows", default=5, low=1, high=10_000)
    delay_ms = params.integer("delay_ms", default=0, low=0, high=5_000)
    _check_sleep(params, rows * delay_ms)
    return rows, delay_ms / 1000


# -- the generators ------------------------------------------------------------------------


def csv_rows(rows: int, batch: int, delay: float) -> Iterator[str]:
    """A header line, then ``rows`` CSV lines, ``batch`` lines per yield."""
    yield "id,name,value\n"
    for start in range(1, rows + 1, batch):
        if delay:
            time.sleep(delay)
        stop = min(start + batch, rows + 1)
        yield "".join(f"{n},item-{n},{n * 7919 % 10007}\n" for n in range(start, stop))


@dataclass(frozen=True)
class Row:
    n: int
    name: str
    value: int


def table_rows(rows: int, delay: float) -> Iterator[Row]:
    """``rows`` table rows, each made ``delay`` seconds after the one before."""
    for n in range(1, rows + 1):
        if delay:
            time.sleep(delay)
        yield Row(n, f"item-{n}", n * 7919 % 10007)


def path_rows(rows: int, delay: float) -> Iterator[str]:
    """A header, then rows that read ``request.path``: it needs the request while streaming."""
    yield "row,path\n"
    for n in range(1, rows + 1):
        if delay:
            time.sleep(delay)
        yield f"{n},{request.path}\n"


def greeting_lines(name: str, delay: float) -> Iterator[str]:
    """A few lines about ``name``, one every ``delay`` seconds."""
    lines = [
        f"Your name has {len(name)} characters.",
        f"Backwards it reads {name[::-1]}.",
        "Each of these lines was sent as soon as it was made.",
    ]
    for line in lines:
        if delay:
            time.sleep(delay)
        yield line


def server_events(count: int, delay: float) -> Iterator[str]:
    """``count`` server-sent events in the ``text/event-stream`` format."""
    for n in range(1, count + 1):
        if n > 1 and delay:
            time.sleep(delay)
        yield f"id: {n}\nevent: tick\ndata: {json.dumps({'n': n, 'of': count})}\n\n"
