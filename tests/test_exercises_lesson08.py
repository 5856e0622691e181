"""Lesson 08's exercise checks tell typical async mistakes from right answers, on a real uvicorn.

The solutions and placeholders of every lesson, 08 included, are covered by
tests/test_exercises.py; this file adds lesson 08's wrong answers.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

pytest.importorskip("starlette")

from starlette.responses import StreamingResponse

from streamkit.exercises import lesson08


def wrong(exercise: Any, answer: Any, *words: str) -> None:
    result = exercise.check(answer)
    assert result.status == "wrong", str(result)
    for word in words:
        assert word in result.message, (word, result.message)


async def blocking_countdown(n):
    for i in range(n, 0, -1):
        yield f"{i}\n"
        time.sleep(0.1)  # noqa: ASYNC251 - blocks the event loop


def sync_countdown(n):
    for i in range(n, 0, -1):
        yield f"{i}\n"


async def returning_countdown(n):
    return "".join(f"{i}\n" for i in range(n, 0, -1))


async def blocking_definitions(words):
    for word in words:
        yield f"{word}: {lesson08.slow_lookup(word)}\n"


def test_q1_wrong_answers() -> None:
    wrong(lesson08.q1, blocking_countdown, "did not overlap", "time.sleep")
    wrong(lesson08.q1, sync_countdown, "plain generator function")
    wrong(lesson08.q1, returning_countdown, "returns instead of yielding")


def test_q2_wrong_answers() -> None:
    wrong(lesson08.q2, blocking_definitions, "did not overlap", "asyncio.to_thread")


def test_q3_wrong_answers() -> None:
    async def no_media_type(request):
        async def events():
            for n in range(1, 6):
                yield f"data: {n}\n\n"
                await asyncio.sleep(0.1)

        return StreamingResponse(events())

    async def no_blank_lines(request):
        async def events():
            for n in range(1, 6):
                yield f"data: {n}\n"
                await asyncio.sleep(0.1)

        return StreamingResponse(events(), media_type="text/event-stream")

    async def all_at_once(request):
        async def events():
            yield "".join(f"data: {n}\n\n" for n in range(1, 6))

        return StreamingResponse(events(), media_type="text/event-stream")

    async def raises(request):
        raise KeyError("steps")

    wrong(lesson08.q3, no_media_type, "text/event-stream", "missing")
    wrong(lesson08.q3, no_blank_lines, "blank line")
    wrong(lesson08.q3, all_at_once, "1 piece")
    wrong(lesson08.q3, raises, "KeyError")
