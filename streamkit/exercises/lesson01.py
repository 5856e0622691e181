"""Exercises for lesson 01, Generators: yield rows as they come, stream a report, read lines."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from ..app import App
from ..response import Response
from ..trace import Trace, plural
from . import Exercise, Wrong
from .checking import (
    app_with_view,
    calling,
    fetch,
    kind_of,
    pieces,
    require_attempt,
    require_function,
    served,
    source_of,
    timed,
    try_view,
)

LESSON = "01"

NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John"]


def slow_rows(n: int = 2000, batch: int = 200, pause: float = 0.05) -> Iterator[tuple[int, str, int]]:
    """Rows ``(id, name, score)`` the way a slow database cursor hands them out.

    Every ``batch`` rows it pauses ``pause`` seconds, as if fetching the next page. The rows
    are the same on every call, so a check can compare bodies.
    """
    for i in range(1, n + 1):
        if (i - 1) % batch == 0 and pause:
            time.sleep(pause)
        yield i, NAMES[i % len(NAMES)], (i * 37) % 101


def csv_text(rows: Iterable[tuple[int, str, int]]) -> str:
    """The whole CSV for ``rows`` as one string (what a check compares a stream against)."""
    return "id,name,score\n" + "".join(f"{i},{name},{score}\n" for i, name, score in rows)


def _first_difference(got: str, expected: str) -> str:
    got_lines, expected_lines = got.splitlines(), expected.splitlines()
    for number, (a, b) in enumerate(zip(got_lines, expected_lines), start=1):
        if a != b:
            return f"line {number} is {a!r}, expected {b!r}"
    if len(got_lines) != len(expected_lines):
        return f"{plural(len(got_lines), 'line')} instead of {len(expected_lines)}"
    return "the line endings differ (end every line with \\n)"


# -- q1 ------------------------------------------------------------------------------------


def _check_csv_lines(answer: Any) -> str:
    func = require_function(answer, "csv_lines")
    probe_rows = list(slow_rows(n=6, batch=1, pause=0))
    made = calling(func, iter(probe_rows))
    require_attempt(func, made, "csv_lines(rows)")
    if isinstance(made, (str, bytes)):
        raise Wrong(
            "csv_lines returned one string. Make it a generator: yield the header line, then "
            "yield each row's line as soon as you have it."
        )
    if isinstance(made, Response):
        raise Wrong(
            "csv_lines returned a Response, but it is not a view: it is the generator a view "
            "hands to Response. Yield the lines; the check wraps them in a Response itself."
        )
    if isinstance(made, (list, tuple)):
        raise Wrong(
            f"csv_lines returned {kind_of(made)}, which exists only once every row has been read. "
            f"Make it a generator: yield each line inside the loop over rows."
        )

    app = App(__name__, template_folder=None)

    @app.route("/")
    def rows_view() -> Response:
        return Response(func(slow_rows(n=6, batch=1, pause=0.1)), mimetype="text/csv")

    with served(app) as server:
        trace = fetch(server, "/", who="csv_lines()")
    expected = csv_text(probe_rows)
    got = trace.body.decode("utf-8", "replace")
    if got != expected:
        raise Wrong(f"The CSV is not right yet: {_first_difference(got, expected)}.")
    received = pieces(trace)
    if received < 7:
        raise Wrong(
            f"The header and 6 rows arrived in {plural(received, 'piece')}, the last one only "
            f"after every row had been read. Yield each line as soon as its row arrives, instead "
            f"of collecting them first."
        )
    # The source hands out one row every 0.1 s. Lines yielded as their rows come in leave
    # early and one by one; lines yielded after reading every row all leave at the end.
    header, row = expected.splitlines(keepends=True)[:2]
    first_row_at = _arrived_by(trace, len((header + row).encode()))
    if first_row_at is None or first_row_at > trace.duration / 2:
        share = 1.0 if first_row_at is None else first_row_at / max(trace.duration, 1e-9)
        raise Wrong(
            f"Each line went out on its own, but the first row only arrived after {share:.0%} "
            f"of the response's time, together with the others: every row was read before the "
            f"first line was sent (rows = list(rows), or a loop that collects first?). Loop over "
            f"rows itself and yield each line inside that loop, so a row leaves as soon as it "
            f"comes in."
        )
    return (
        f"The header and each row went out on their own ({plural(received, 'chunk')}), as the rows came in."
    )


def _arrived_by(trace: Trace, size: int) -> float | None:
    """When the client had the first ``size`` bytes of the body (None: it never did)."""
    total = 0
    for chunk in trace.chunks:
        total += chunk.size
        if total >= size:
            return chunk.t
    return None


q1 = Exercise(
    LESSON,
    1,
    "yield as you go",
    "csv_lines",
    _check_csv_lines,
    hint=[
        "Make csv_lines a generator function: yield instead of return, one line at a time.",
        'First yield "id,name,score\\n", then loop over rows and yield '
        'f"{i},{name},{score}\\n" for each one. No list, no join.',
    ],
    solution_code="""
def csv_lines(rows):
    yield "id,name,score\\n"
    for i, name, score in rows:
        yield f"{i},{name},{score}\\n"
""",
)


# -- q2 ------------------------------------------------------------------------------------


def _check_report(answer: Any) -> str:
    view = require_function(answer, "report_streamed")
    app = app_with_view(view)
    try_view(app, view)
    with served(app) as server:
        trace = fetch(server, "/", who="report_streamed()")
    mimetype = (trace.headers.get("Content-Type") or "").split(";")[0].strip()
    if mimetype != "text/csv":
        raise Wrong(f'The Content-Type is {mimetype or "missing"}; pass mimetype="text/csv" to Response.')
    expected = csv_text(slow_rows(pause=0))
    got = trace.body.decode("utf-8", "replace")
    if got != expected:
        raise Wrong(f"The report differs from the built one: {_first_difference(got, expected)}.")
    if trace.verdict != "streamed" or trace.ttfb is None or trace.ttfb > trace.duration / 2:
        raise Wrong(
            "The report arrived in one go at the end. Return Response(generator, ...) where the "
            "generator yields lines while it reads slow_rows(), instead of a finished string."
        )
    return (
        f"The first bytes arrived early and the rest followed as the rows were read "
        f"({plural(len(trace.chunks), 'chunk')}, verdict {trace.verdict!r})."
    )


q2 = Exercise(
    LESSON,
    2,
    "stream the report",
    "report_streamed",
    _check_report,
    hint=[
        "The view must return before the report is built: hand Response a generator instead "
        "of a finished string.",
        "Keep the loop over slow_rows(), but move it into a generator that yields each line; "
        'return Response(that_generator(), mimetype="text/csv"). Your csv_lines() from '
        "exercise 1 does most of the work.",
    ],
    solution_code="""
from streamkit import Response
from streamkit.exercises.lesson01 import slow_rows

def report_streamed():
    def lines():
        yield "id,name,score\\n"
        for i, name, score in slow_rows():
            yield f"{i},{name},{score}\\n"

    return Response(lines(), mimetype="text/csv")
""",
)


# -- q3 ------------------------------------------------------------------------------------

_LINES = [f"line {n}" for n in range(1, 6)]


def _sized_app() -> App:
    app = App(__name__, template_folder=None)

    @app.route("/")
    def lines_view() -> Response:
        def lines() -> Iterator[str]:
            for line in _LINES:
                yield line + "\n"
                time.sleep(0.15)

        size = sum(len(line) + 1 for line in _LINES)
        # A Content-Length: the body is not chunked, which is where readers go wrong.
        return Response(lines(), mimetype="text/plain", headers={"Content-Length": str(size)})

    return app


def _check_reader(answer: Any) -> str:
    func = require_function(answer, "lines_as_they_come")
    with served(_sized_app()) as server:
        started = time.monotonic()
        # Where the server cannot tell who connects (a Mac), the URL carries its token.
        url = server.url + (f"/?token={server.token}" if server.needs_token else "/")
        made = calling(func, url, doing="the check called it with the URL")
        called_for = time.monotonic() - started
        require_attempt(func, made, "lines_as_they_come(url)")
        if isinstance(made, (list, tuple, str, bytes)):
            raise Wrong(
                f"lines_as_they_come returned {kind_of(made)}, which only exists once every line "
                f"is in. Make it a generator: yield each line as soon as it has arrived."
            )
        seen = timed(made, limit=5.0, what="lines_as_they_come(url)")
    items = [line for _, line in seen]
    if not items:
        raise Wrong("lines_as_they_come(url) yielded nothing; yield each line of the response.")
    if any(isinstance(line, bytes) for line in items):
        raise Wrong(
            f"The lines should be str, but your generator yielded bytes ({items[0]!r:.30}): "
            f"decode each line, line.decode('utf-8')."
        )
    if any(not isinstance(line, str) for line in items):
        raise Wrong(f"The lines should be str; your generator yielded {kind_of(items[0])}.")
    if items != _LINES:
        if [line.rstrip("\r\n") for line in items] == _LINES:
            raise Wrong(
                f"Each line kept its line end ({items[0]!r}); yield it without its \\n, as {_LINES[0]!r}."
            )
        raise Wrong(
            f"Expected the lines {_LINES}, got {items!r:.120}. Split what arrives at each \\n, and "
            f"keep an unfinished line for the next read."
        )
    first, last = seen[0][0], seen[-1][0]
    # The server sends a line every 0.15 s: read as they come, the first line is in long
    # before the last one; read in blocks, all of them reach the code together at the end.
    if first > last / 2 or (called_for > 0.5 and first < 0.05):
        waited = max(first, called_for)
        raise Wrong(
            f"The first line reached your code only after {waited:.2f} s, together with the last "
            f"one: your code waited for the whole response. {_reader_advice(func)}"
        )
    return (
        f"Your code saw each line as it arrived: the first after {first:.2f} s, the last after {last:.2f} s."
    )


def _reader_advice(func: Any) -> str:
    """What to change, from what the learner's code calls (when its source can be read)."""
    code = source_of(func)
    if code and "stream=True" not in code.replace(" ", ""):
        return (
            "Without stream=True, requests.get() reads the whole body before it returns. Open "
            "it with stream=True and read what has arrived with response.raw.read1(size)."
        )
    if code and ("iter_lines" in code or "iter_content" in code):
        return (
            "This response has a Content-Length, so iter_lines() and iter_content() wait to "
            "fill a whole block. Read what has arrived with response.raw.read1(size) and split "
            "it into lines yourself."
        )
    return (
        "Open the response with stream=True and read what has arrived with "
        "response.raw.read1(size), splitting it into lines yourself."
    )


q3 = Exercise(
    LESSON,
    3,
    "read lines as they come",
    "lines_as_they_come",
    _check_reader,
    hint=[
        "Open the response with requests.get(url, stream=True), and read it yourself instead "
        "of iter_lines() (which waits for whole blocks here).",
        'r.raw.read1(65536) returns whatever bytes have arrived (at least one), and b"" at the '
        "end. Split them at b'\\n', decode each complete line, and keep the unfinished tail "
        "for the next round.",
    ],
    solution_code="""
import requests

def lines_as_they_come(url):
    with requests.get(url, stream=True, timeout=10) as response:
        tail = b""
        while True:
            data = response.raw.read1(65536)
            if not data:
                break
            *complete, tail = (tail + data).split(b"\\n")
            for line in complete:
                yield line.decode("utf-8")
        if tail:
            yield tail.decode("utf-8")
""",
)

EXERCISES = [q1, q2, q3]
