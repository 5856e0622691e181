"""Lesson 07's exercise checks tell typical mistakes from right answers, behind a real nginx.

The solutions and placeholders of every lesson, 07 included, are covered by
tests/test_exercises.py; this file adds lesson 07's wrong answers.
"""

from __future__ import annotations

from streamkit.exercises import lesson07
from tests.conftest import needs_nginx, wrong

pytestmark = needs_nginx


def with_header_on_everything(app):
    def middleware(environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, headers + [("X-Accel-Buffering", "no")], exc_info)

        return app(environ, start)

    return middleware


def collecting(app):
    """Adds the header where it belongs, but gathers the body into one item."""

    def middleware(environ, start_response):
        def start(status, headers, exc_info=None):
            if dict(headers).get("Content-Type", "").startswith("text/event-stream"):
                headers = headers + [("X-Accel-Buffering", "no")]
            return start_response(status, headers, exc_info)

        return [b"".join(app(environ, start))]

    return middleware


def test_07_q1_wrong_answers() -> None:
    wrong(lesson07.q1, lambda app: app, "X-Accel-Buffering: None", "text/event-stream")
    wrong(lesson07.q1, with_header_on_everything, "text/plain response got X-Accel-Buffering")
    wrong(lesson07.q1, collecting, "buffered", "collects the body")
    wrong(lesson07.q1, lambda app: 42, "WSGI application")


def test_07_q2_wrong_answers() -> None:
    wrong(lesson07.q2, {"gzip": True, "buffering": True}, "buffered", "holds the stream back")
    wrong(lesson07.q2, {"read_timeout": 5}, "holds the stream back")
    wrong(lesson07.q2, {"cache": False}, "Unknown option(s) 'cache'")
    wrong(lesson07.q2, {"gzip": "off"}, "True or False")
    wrong(lesson07.q2, {"read_timeout": 0}, "above 0")
    wrong(lesson07.q2, "gzip off", "should be a dict")
    assert lesson07.q2.check({"gzip": False}).correct
