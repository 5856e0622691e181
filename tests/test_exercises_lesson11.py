"""Lesson 11's exercise checks tell typical mistakes from right answers, on real servers.

The solutions and placeholders of every lesson, 11 included, are covered by
tests/test_exercises.py; this file adds lesson 11's wrong answers: tests that catch nothing,
tests that fail on a good stream too, and fixes that still hold the stream or drop the header.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from streamkit.exercises import lesson11
from streamkit.testing import assert_streams
from tests.conftest import wrong


def checks_only_the_body(server: Any) -> None:
    assert server.get("/feed").body.count(b"update") == 5


def checks_only_the_status(server: Any) -> None:
    assert server.get("/feed").status == 200


def asks_too_much(server: Any) -> None:
    assert_streams(server.get("/feed"), min_pieces=20)


def first_byte_too_soon(server: Any) -> None:
    assert_streams(server.get("/feed"), first_byte_within=0.0001)


def raises_something_else(server: Any) -> None:
    server.get("/feed").summary(verdict=7)  # no AssertionError: a bug in the test
    raise KeyError("oops")


def requests_the_wrong_path(server: Any) -> None:
    assert_streams(server.get("/nothing-here"))


# (answer, words the message must hold)
WRONG_TESTS = [
    (checks_only_the_body, ["does not catch the middleware", "how it arrived"]),
    (checks_only_the_status, ["does not catch the middleware"]),
    (asks_too_much, ["fails on the plain feed too", "at least 20 wanted"]),
    (first_byte_too_soon, ["fails on the plain feed too", "first byte"]),
    (raises_something_else, ["raised KeyError", "AssertionError"]),
    (requests_the_wrong_path, ["fails on the plain feed too"]),
    ("test_feed", ["should be a function"]),
]


@pytest.mark.parametrize("answer, words", WRONG_TESTS, ids=lambda a: getattr(a, "__name__", str(a))[:30])
def test_11_q1_wrong_answers(answer: Any, words: list[str]) -> None:
    wrong(lesson11.q1, answer, *words)


def joins_the_body(app: Any) -> Any:
    def middleware(environ: Any, start_response: Any) -> Any:
        def start(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("Server-Timing", "app;dur=1")], exc_info)

        return [b"".join(app(environ, start))]

    return middleware


def times_the_first_item(app: Any) -> Any:
    """Waits for the first item to time it: the first line is late, the rest stream."""

    def middleware(environ: Any, start_response: Any) -> Any:
        started = time.perf_counter()
        seen: dict[str, Any] = {}

        def remember(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            seen["args"] = (status, headers)
            return lambda data: None

        body = iter(app(environ, remember))
        first = next(body)
        took = (time.perf_counter() - started) * 1000
        status, headers = seen["args"]
        start_response(status, [*headers, ("Server-Timing", f"app;dur={took:.1f}")])

        def rest() -> Any:
            yield first
            yield from body

        return rest()

    return middleware


WRONG_FIXES = [
    (lesson11.server_timing, ["still held back", "start_response"]),
    (joins_the_body, ["still held back"]),
    (lambda app: app, ["no Server-Timing header"]),
    (lambda app: 42, ["WSGI application"]),
]


@pytest.mark.parametrize("answer, words", WRONG_FIXES, ids=["original", "joins", "no-header", "not-an-app"])
def test_11_q2_wrong_answers(answer: Any, words: list[str]) -> None:
    wrong(lesson11.q2, answer, *words)


def test_11_q2_a_fix_that_only_waits_for_the_first_item_is_right() -> None:
    # The first line is made at once, so waiting for it holds nothing back: the check agrees.
    assert lesson11.q2.check(times_the_first_item).correct
