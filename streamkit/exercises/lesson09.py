"""Exercises for lesson 09, What the browser shows: a text/plain log that a browser shows line by line.

The check loads the learner's view in headless Chromium (``server.get(path, browser=True)``)
and judges what the page showed, and when, against when the app produced each line.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from ..browser import unavailable_reason
from ..trace import plural
from . import Exercise, Wrong
from .checking import app_with_view, fetch, require_function, served, try_view

LESSON = "09"
LINES = 5
GAP = 0.3  # seconds between two lines of the log
NEEDS = ("chromium",)  # the check loads the page in a real Chromium (streamkit.browser)


def slow_log() -> Iterator[str]:
    """A log of five short lines, 0.3 s apart (35 bytes in all)."""
    for n in range(1, LINES + 1):
        yield f"step {n}\n"
        if n < LINES:
            time.sleep(GAP)


def slow_log_lines() -> list[str]:
    """The lines :func:`slow_log` yields, without its pauses."""
    return [f"step {n}\n" for n in range(1, LINES + 1)]


def steps(trace: Any) -> list[Any]:
    """The moments the page's visible text grew (the first paint of an empty page left out)."""
    return [event for event in trace.browser_shown or () if event.size > 0]


# -- q1 ------------------------------------------------------------------------------------


def _check_log_view(answer: Any) -> str:
    view = require_function(answer, "log_view")
    reason = unavailable_reason()
    if reason is not None:
        raise Wrong(f"This check needs a browser: {reason}.")
    app = app_with_view(view)
    try_view(app, view)
    with served(app) as server:
        trace = fetch(server, "/", who="log_view()", browser=True)
    content_type = (trace.headers.get("Content-Type") or "").split(";")[0].strip()
    if content_type != "text/plain":
        raise Wrong(
            f"The response is {content_type or 'unlabelled'}; keep it text/plain "
            '(mimetype="text/plain") and make the browser show it as it comes.'
        )
    body = trace.body.decode("utf-8", "replace")
    if body.count("step") != LINES:
        raise Wrong(
            f"The page got {plural(body.count('step'), 'line')} of the log; send all {LINES} lines of slow_log()."
        )
    log = "".join(slow_log_lines())
    if body != log:
        extra = len(trace.body) - len(log.encode())
        raise Wrong(
            f"The page got {extra:,} bytes more than the log's {len(log.encode())}: padding "
            f"changes the log itself. Send the log as it is, and tell the browser not to guess "
            f"instead."
        )
    produced = [event.t for event in trace.produced or () if event.size]
    shown = steps(trace)
    if not shown:
        raise Wrong("The page never showed any text.")
    if len(produced) < 3 or shown[0].t >= produced[-1]:
        sniff = trace.headers.get("X-Content-Type-Options")
        told = (
            f" The response says X-Content-Type-Options: {sniff!r}; Chromium obeys only the "
            f"exact value 'nosniff'."
            if sniff is not None and sniff.strip().lower() != "nosniff"
            else ""
        )
        raise Wrong(
            f"Chromium showed the first text {shown[0].t * 1000:,.0f} ms after the request, when "
            f"the app had already made its last line ({produced[-1] * 1000:,.0f} ms): it held the "
            "small text/plain body while it guessed what kind of content it was. Tell it not "
            f"to guess.{told}"
        )
    if len(shown) < 3:
        raise Wrong(
            f"The page grew in only {plural(len(shown), 'step')}; each line should appear as it comes."
        )
    return (
        f"Chromium showed the log in {plural(len(shown), 'step')}, the first line "
        f"{(shown[0].t - produced[0]) * 1000:,.0f} ms after the app made it, long before the last one."
    )


q1 = Exercise(
    LESSON,
    1,
    "a log the browser shows line by line",
    "log_view",
    _check_log_view,
    hint=[
        "The browser holds a small text/plain body while it guesses what kind of content it "
        "is. One response header forbids the guessing.",
        'Return Response(slow_log(), mimetype="text/plain") and set '
        'response.headers["X-Content-Type-Options"] = "nosniff". (Sending 1 KiB of padding '
        "first would also do, but it changes the log, so the check refuses it.)",
    ],
    solution_code="""
from streamkit import Response
from streamkit.exercises.lesson09 import slow_log

def log_view():
    response = Response(slow_log(), mimetype="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"  # no guessing: show it as it comes
    return response
""",
)

EXERCISES = [q1]
