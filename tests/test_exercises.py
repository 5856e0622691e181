"""The exercise checks tell "not attempted", "wrong" and "correct" apart, by measuring.

Each exercise is checked three ways: the placeholder a lesson is committed with must say
"not attempted"; a typical mistake must say "wrong" with a message that names the problem;
the solution that ``solution()`` shows must pass. Checks run learners' code on real servers
on 127.0.0.1, so these tests do too.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from streamkit import Response, render_template_string, request, stream_template_string
from streamkit.exercises import (
    Exercise,
    lesson00,
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson05,
    lesson06,
    lessons,
)
from tests.conftest import needs_marks, wrong

ALL = [exercise for exercises in lessons().values() for exercise in exercises]


def _with_needs(exercise: Exercise) -> Any:
    """The exercise as a test parameter, skipped when its lesson needs a missing program."""
    module = __import__(f"streamkit.exercises.lesson{exercise.lesson}", fromlist=["NEEDS"])
    marks = needs_marks(getattr(module, "NEEDS", ()))
    return pytest.param(exercise, marks=marks, id=f"{exercise.lesson}.{exercise.number}")


CHECKED = [_with_needs(exercise) for exercise in ALL]


def solved(exercise: Exercise) -> Any:
    """Run the exercise's solution code (after its lesson's SETUP) and return the answer."""
    namespace: dict[str, Any] = {"__name__": "solution"}
    module = __import__(f"streamkit.exercises.lesson{exercise.lesson}", fromlist=["SETUP"])
    setup = getattr(module, "SETUP", "")
    if setup:
        exec(setup, namespace)
    exec(exercise.solution_code, namespace)
    return namespace[exercise.answer_name]


def placeholder_function(*args: Any, **kwargs: Any) -> None: ...  # what the notebooks are committed with


def test_every_lesson_has_two_or_three_exercises() -> None:
    found = lessons()
    assert {"00", "01", "02", "03", "04", "05", "06"} <= set(found)
    for lesson, exercises in found.items():
        # Lesson 09 (the browser) has one: each check there loads a page in Chromium.
        assert (1 if lesson == "09" else 2) <= len(exercises) <= 3, lesson
        assert [e.number for e in exercises] == list(range(1, len(exercises) + 1))


@pytest.mark.parametrize("exercise", CHECKED)
def test_solution_passes(exercise: Exercise) -> None:
    result = exercise.check(solved(exercise))
    assert result.status == "correct", str(result)
    assert result and result.correct
    assert "Correct!" in repr(result) and "Correct!" in result._repr_html_()


@pytest.mark.parametrize("exercise", CHECKED)
def test_placeholder_is_not_attempted(exercise: Exercise) -> None:
    answers: list[Any] = [..., None]
    if callable(solved(exercise)):  # a function to fill in: committed with a ... body
        answers.append(placeholder_function)
    for answer in answers:
        result = exercise.check(answer)
        assert result.status == "not attempted", (answer, str(result))
        assert not result
    assert exercise.check().status == "not attempted"


def test_not_implemented_counts_as_not_attempted() -> None:
    def countdown() -> None:
        raise NotImplementedError

    assert lesson00.q2.check(countdown).status == "not attempted"


def test_hint_and_solution_show_text() -> None:
    for exercise in ALL:
        assert exercise.hint_text and exercise.hint()._repr_markdown_().startswith("**Hint")
        shown = exercise.solution()
        assert exercise.solution_code.strip() in shown._repr_markdown_()
        assert exercise.answer_name in exercise.solution_code


# -- typical mistakes, lesson by lesson ------------------------------------------------------


def test_00_wrong_answers() -> None:
    namespace: dict[str, Any] = {}
    exec(lesson00.SETUP, namespace)
    try:
        wrong(lesson00.q1, namespace["server"].get("/count"), "?n=3")
        wrong(lesson00.q1, 3, "Trace")
    finally:
        namespace["server"].stop()

    def joined() -> str:
        return "3\n2\n1\nliftoff!\n"

    def no_pause() -> Response:
        return Response(iter(["3\n", "2\n", "1\n", "liftoff!\n"]))

    def crashes() -> Response:
        raise KeyError("oops")

    wrong(lesson00.q2, joined, "1 piece")
    wrong(lesson00.q2, no_pause, "time.sleep")
    wrong(lesson00.q2, crashes, "KeyError", "crashes()")


def test_01_wrong_answers() -> None:
    def csv_lines(rows: Any) -> Any:
        lines = ["id,name,score\n"] + [f"{i},{n},{s}\n" for i, n, s in rows]
        yield "".join(lines)

    wrong(lesson01.q1, csv_lines, "as soon as")

    def reads_every_row_first(rows: Any) -> Any:
        rows = list(rows)  # one line per row goes out, but only once the last row is in
        yield "id,name,score\n"
        for i, n, s in rows:
            yield f"{i},{n},{s}\n"

    wrong(lesson01.q1, reads_every_row_first, "list(rows)", "inside that loop")

    def report_streamed() -> Response:
        return Response("".join(lesson01.csv_text(lesson01.slow_rows())), mimetype="text/csv")

    wrong(lesson01.q2, report_streamed, "one go")

    def lines_as_they_come(url: str) -> Any:
        with requests.get(url, stream=True) as response:
            for line in response.iter_lines():
                yield line.decode()

    wrong(lesson01.q3, lines_as_they_come, "read1")


def test_02_wrong_answers() -> None:
    def rendered() -> Response:
        return Response(render_template_string(lesson02.MENU, dishes=lesson02.DISHES))

    def chained() -> Response:
        return Response(stream_template_string(lesson02.MENU, dishes=lesson02.DISHES).enable_buffering(5))

    def ungrouped() -> Response:
        return Response(stream_template_string(lesson02.MENU, dishes=lesson02.DISHES))

    wrong(lesson02.q1, rendered, "stream_template_string")
    wrong(lesson02.q1, chained, "returns None")
    wrong(lesson02.q1, ungrouped, "32 pieces")
    wrong(lesson02.q2, 4, "too few")
    wrong(lesson02.q2, 14, "too many")
    wrong(lesson02.q2, "5", "whole number")
    wrong(lesson02.q3, lambda: ["Streamkit Café", "EUR"], "dict")
    wrong(lesson02.q3, lambda: {"shop": "Streamkit Café"}, "'currency'")


def test_03_wrong_answers() -> None:
    def greet() -> Response:
        def generate() -> Any:
            yield "Hello, "
            yield request.args["name"]
            yield "!\n"

        return Response(generate(), mimetype="text/plain")

    wrong(lesson03.q1, greet, "RuntimeError", "stream_with_context")
    wrong(lesson03.q2, ["view returned", "teardown", "generator started", "generator finished"], "differ")
    wrong(lesson03.q2, ["teardown"], "four")

    def shout() -> Response:
        def letters() -> Any:
            for letter in request.headers["X-Name"].upper():
                yield letter + "\n"

        return Response(letters(), mimetype="text/plain")

    wrong(lesson03.q3, shout, "RuntimeError")


def test_04_wrong_answers() -> None:
    def buffering_stamp(app: Any) -> Any:
        def middleware(environ: Any, start_response: Any) -> Any:
            def start(status: str, headers: list, exc_info: Any = None) -> Any:
                return start_response(status, headers + [("X-Stamp", "streamkit")], exc_info)

            return [b"".join(app(environ, start))]

        return middleware

    def no_header(app: Any) -> Any:
        return app

    wrong(lesson04.q1, buffering_stamp, "buffered")
    wrong(lesson04.q1, no_header, "X-Stamp")

    def slow_start() -> Response:
        return Response(lesson04.slow_report(), mimetype="text/plain")

    wrong(lesson04.q2, slow_start, 'yield b""')

    def export() -> Response:
        raw = request.args.get("rows", "")

        def generate() -> Any:
            for n in range(1, int(raw) + 1):
                yield f"row {n}\n"

        return Response(generate(), mimetype="text/plain")

    wrong(lesson04.q3, export, "abort(400)")


def test_05_wrong_answers() -> None:
    def one_per_line(lines: Any, size: int) -> Any:
        yield from lines

    def drops_the_rest(lines: Any, size: int) -> Any:
        batch = []
        for line in lines:
            batch.append(line)
            if len(batch) == size:
                yield "".join(batch)
                batch = []

    wrong(lesson05.q1, one_per_line, "10,500 chunks")
    wrong(lesson05.q1, drops_the_rest, "last 500 lines")

    def whole_file(path: str, block_size: int = 64 * 1024) -> Any:
        with open(path, "rb") as file:
            data = file.read()
        for start in range(0, len(data), block_size):
            yield data[start : start + block_size]

    def one_block(path: str, block_size: int = 64 * 1024) -> Any:
        with open(path, "rb") as file:
            yield file.read()

    wrong(lesson05.q2, whole_file, "memory")
    wrong(lesson05.q2, one_block, "64 KiB")


def test_06_wrong_answers() -> None:
    def no_blank_line(data: str, event: Any = None, id: Any = None) -> str:
        return f"data: {data}\n"

    def one_data_line(data: str, event: Any = None, id: Any = None) -> str:
        head = (f"event: {event}\n" if event else "") + (f"id: {id}\n" if id else "")
        return f"{head}data: {data}\n\n"

    wrong(lesson06.q1, no_blank_line, "blank line")
    wrong(lesson06.q1, one_data_line, "data: ")

    def no_cleanup(log: list) -> Any:
        while True:
            yield "data: tick\n\n"
            time.sleep(0.1)

    def ends(log: list) -> Any:
        try:
            yield "data: tick\n\n"
        finally:
            log.append("closed")

    wrong(lesson06.q2, no_cleanup, "finally")
    wrong(lesson06.q2, ends, "while True")
