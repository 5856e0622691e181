"""Lesson 10's exercise checks on real servers: the solutions pass, the placeholders are not
attempted, and the typical wrong answers are told what was measured."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streamkit import Response
from streamkit.exercises import lesson10
from streamkit.exercises.lesson10 import TOKENS, model_tokens
from tests.conftest import wrong


def solution(exercise: Any) -> Any:
    namespace: dict[str, Any] = {}
    exec(exercise.solution_code, namespace)  # noqa: S102 - the solution notebook runs it too
    return namespace[exercise.answer_name]


@pytest.mark.parametrize("exercise", lesson10.EXERCISES, ids=lambda e: e.answer_name)
def test_the_solutions_pass(exercise) -> None:
    result = exercise.check(solution(exercise))
    assert result.correct, str(result)


def test_the_placeholders_are_not_attempted() -> None:
    def chat_view():
        ...

    def time_to_first_token(trace):
        ...

    assert lesson10.q1.check(chat_view).status == "not attempted"
    assert lesson10.q2.check(time_to_first_token).status == "not attempted"


def chunk(delta: dict, finish: str | None = None) -> str:
    body = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n"


def view(events, mimetype: str = "text/event-stream"):
    def chat_view():
        return Response(events(), mimetype=mimetype)

    return chat_view


def good():
    yield chunk({"role": "assistant", "content": ""})
    for token in model_tokens():
        yield chunk({"content": token})
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"


def test_typical_wrong_chat_views() -> None:
    wrong(lesson10.q1, view(good, "text/plain"), "text/event-stream")

    def one_newline():
        for event in good():
            yield event[:-1]

    wrong(lesson10.q1, view(one_newline), "blank line")

    def no_done():
        for event in good():
            if "[DONE]" not in event:
                yield event

    wrong(lesson10.q1, view(no_done), "[DONE]")

    def no_role():
        for event in good():
            if '"role"' not in event:
                yield event

    wrong(lesson10.q1, view(no_role), "role-only delta")

    def all_at_once():
        events = list(good())
        yield "".join(events)

    wrong(lesson10.q1, view(all_at_once), "per chunk", "as it is made")

    def no_finish():
        for event in good():
            if '"stop"' not in event:
                yield event

    wrong(lesson10.q1, view(no_finish), "finish_reason")


def test_typical_wrong_first_token_times() -> None:
    wrong(lesson10.q2, lambda trace: trace.ttfb, "the first byte", "Skip the events without content")
    wrong(lesson10.q2, lambda trace: trace.first_event, "the role-only delta")
    wrong(lesson10.q2, lambda trace: trace.headers_at, "the headers")
    wrong(lesson10.q2, lambda trace: 0.0 if trace.events else None, "arrived at")


def test_the_tokens_join_into_a_sentence() -> None:
    assert "".join(TOKENS) == "Tokens leave one at a time."
