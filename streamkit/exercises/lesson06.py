"""Exercises for lesson 06, Live updates: format server-sent events, clean up after a client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from ..app import App
from ..response import Response
from ..trace import plural
from . import Exercise, Wrong
from .checking import calling, fetch, kind_of, pieces, require_attempt, require_function, served


def parse_events(text: str) -> list[dict[str, str]]:
    """Split a ``text/event-stream`` body into events, the way a browser's EventSource does.

    Lines are ``field: value``; a blank line ends an event; several ``data`` lines are joined
    with newlines; lines starting with ``:`` are comments. Only events with data are kept.
    """
    events: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            if data:
                events.append({**fields, "data": "\n".join(data)})
            fields, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name in ("event", "id", "retry"):
            fields[name] = value
    return events


LESSON = "06"

# -- q1 ------------------------------------------------------------------------------------

_SENT: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("hello",), {}),
    (("two\nlines",), {"event": "note", "id": "7"}),
    (("bye",), {"event": "done"}),
    (("zero",), {"id": 0}),
]
_EXPECTED = [
    {"data": "hello"},
    {"event": "note", "id": "7", "data": "two\nlines"},
    {"event": "done", "data": "bye"},
    {"id": "0", "data": "zero"},
]
_ENDS = ("\n\n", "\r\n\r\n", "\r\r")  # the blank line that ends an event, in each line end SSE allows


def _check_sse(answer: Any) -> str:
    func = require_function(answer, "sse")
    first = calling(func, "hello")
    require_attempt(func, first, 'sse("hello")')
    if not isinstance(first, str):
        raise Wrong(f"sse() should return a str, but it returned {kind_of(first)}.")
    if not first.endswith(_ENDS):
        raise Wrong(
            f'sse("hello") returned {first!r}: an event ends with a blank line, so the text must '
            f'end with "\\n\\n".'
        )

    app = App(__name__, template_folder=None)

    @app.route("/")
    def events() -> Response:
        def generate() -> Iterator[str]:
            for args, options in _SENT:
                yield func(*args, **options)
                time.sleep(0.05)

        return Response(generate(), mimetype="text/event-stream")

    with served(app) as server:
        trace = fetch(server, "/", who="the event stream")
    got = parse_events(trace.body.decode("utf-8"))
    if got != _EXPECTED:
        for sent, want, have in zip(_SENT, _EXPECTED, got + [{}] * len(_EXPECTED)):
            if want != have:
                args, options = sent
                call = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in options.items()])
                raise Wrong(
                    f"An EventSource would read sse({call}) as {have or 'nothing'}, expected {want}. "
                    f"{_sse_advice(want, have)}"
                )
    return (
        f"A browser would read all {plural(len(got), 'event')} as sent, id=0 included, "
        f"in {plural(pieces(trace), 'chunk')}."
    )


def _sse_advice(want: dict[str, str], have: dict[str, str]) -> str:
    for field in ("event", "id"):
        if have.get(field) == "None":
            return f"Leave the {field}: line out when {field} is None, instead of writing {field}: None."
    if want.get("id") == "0" and "id" not in have:
        return "id=0 was left out: `if id:` is false for 0, so test `if id is not None:`."
    for field in ("event", "id"):
        if want.get(field) != have.get(field):
            return f'Write the {field} on its own line, "{field}: ...", when it is given.'
    if "\n" in want["data"]:
        return 'Each line of data needs its own "data: " prefix.'
    return 'Each event is "data: ..." lines (after any event: and id: lines), then a blank line.'


q1 = Exercise(
    LESSON,
    1,
    "format an event",
    "sse",
    _check_sse,
    hint=[
        "An event is a few lines of text, field: value, and a blank line ends it.",
        'Build a list of lines: "event: ..." and "id: ..." when they are not None (id may be '
        '0), then one "data: ..." line per line of data (data.split("\\n")). Join them with '
        '"\\n" and add "\\n\\n" at the end.',
    ],
    solution_code="""
def sse(data, event=None, id=None):
    lines = []
    if event is not None:
        lines.append(f"event: {event}")
    if id is not None:
        lines.append(f"id: {id}")
    lines += [f"data: {line}" for line in str(data).split("\\n")]
    return "\\n".join(lines) + "\\n\\n"
""",
)


# -- q2 ------------------------------------------------------------------------------------


def _check_ticker(answer: Any) -> str:
    func = require_function(answer, "ticker")
    log: list[str] = []
    made = calling(
        func,
        log,
        likely="a loop without yield never gives control back; yield each event inside the loop",
    )
    require_attempt(func, made, "ticker(log)")
    if not hasattr(made, "__next__"):
        raise Wrong(
            f"ticker(log) should be a generator (use yield inside a loop), but it returned {kind_of(made)}."
        )
    made.close()
    log.clear()

    app = App(__name__, template_folder=None)

    @app.route("/")
    def ticks() -> Response:
        return Response(func(log), mimetype="text/event-stream")

    with served(app) as server:
        trace = fetch(server, "/", who="ticker()", max_seconds=0.45)
        if not trace.stopped:
            raise Wrong(
                "The stream ended by itself; a ticker keeps going until the client leaves (while True)."
            )
        events = len(parse_events(trace.body.decode("utf-8", "replace")))
        if trace.size and not events:
            raise Wrong(
                f"The stream is not server-sent events: it began {trace.body[:30]!r}, and an "
                f'EventSource would read no event in it. Yield each tick as "data: ...\\n\\n".'
            )
        if events < 3:
            raise Wrong(f"Only {plural(events, 'tick')} arrived in 0.45 s; yield one event every 0.1 s.")
        if events > 10:
            raise Wrong(
                f"{events:,} ticks arrived in 0.45 s: nothing made the loop wait. Pause 0.1 s "
                f"after each event, time.sleep(0.1)."
            )
        deadline = time.monotonic() + 2.0
        while "closed" not in log and time.monotonic() < deadline:
            time.sleep(0.02)
    if "closed" not in log:
        raise Wrong(
            'The client left, but "closed" never reached the log. Put log.append("closed") in a '
            "finally: block around the loop: the server closes the generator when the client is gone."
        )
    if log.count("closed") != 1:
        raise Wrong(f'"closed" was logged {log.count("closed")} times; clean up once.')
    return (
        f"{plural(events, 'tick')} streamed in 0.45 s, the client left, and the generator logged "
        f'"closed" once.'
    )


q2 = Exercise(
    LESSON,
    2,
    "clean up after a client",
    "ticker",
    _check_ticker,
    hint=[
        "An endless loop that yields an event and sleeps; and a place for code that runs "
        "however the loop ends.",
        'try: while True: yield an event, then time.sleep(0.1). finally: log.append("closed"). '
        "When the client goes away the server's next write fails and it calls close() on the "
        "generator, which runs the finally block.",
    ],
    solution_code="""
import time

def ticker(log):
    n = 0
    try:
        while True:
            n += 1
            yield f"data: tick {n}\\n\\n"
            time.sleep(0.1)
    finally:
        log.append("closed")
""",
)

EXERCISES = [q1, q2]
