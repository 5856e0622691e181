"""Lesson 09's exercise check, in a real headless Chromium: right, wrong and untouched answers.

Skipped, with the reason, where Chromium or playwright is missing.
"""

from __future__ import annotations

from typing import Any

import pytest

from streamkit import Response, browser
from streamkit.exercises import lesson09
from streamkit.exercises.lesson09 import slow_log

pytestmark = pytest.mark.skipif(
    browser.unavailable_reason() is not None, reason=browser.unavailable_reason() or ""
)


@pytest.fixture(scope="module", autouse=True)
def _stop_browser():
    yield
    browser.stop()


def wrong(answer: Any, *words: str) -> None:
    result = lesson09.q1.check(answer)
    assert result.status == "wrong", str(result)
    for word in words:
        assert word in result.message, (word, result.message)


def test_the_solution_passes() -> None:
    namespace: dict[str, Any] = {}
    exec(lesson09.q1.solution_code, namespace)  # noqa: S102 - the solution notebook runs it too
    result = lesson09.q1.check(namespace["log_view"])
    assert result.correct, str(result)
    assert "steps" in result.message


def test_the_placeholder_is_not_attempted() -> None:
    def log_view():  # type: ignore[no-untyped-def]
        ...

    assert lesson09.q1.check(log_view).status == "not attempted"


def test_sniffed_text_plain_is_wrong_and_says_why() -> None:
    def log_view():  # type: ignore[no-untyped-def]
        return Response(slow_log(), mimetype="text/plain")

    wrong(log_view, "held", "guess")


def test_switching_to_html_is_not_the_point() -> None:
    def log_view():  # type: ignore[no-untyped-def]
        return Response(slow_log(), mimetype="text/html")

    wrong(log_view, "text/plain")


def test_a_short_log_is_wrong() -> None:
    def log_view():  # type: ignore[no-untyped-def]
        response = Response(["step 1\n"], mimetype="text/plain")
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    wrong(log_view, "1 line")
