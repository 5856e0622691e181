"""The exercise checks tell "not attempted", "wrong" and "correct" apart, by measuring.

Each exercise is checked three ways: the placeholder a lesson is committed with must say
"not attempted"; a typical mistake must say "wrong" with a message that names the problem;
the solution that ``solution()`` shows must pass. Checks run learners' code on real servers
on 127.0.0.1, so these tests do too.
"""

from __future__ import annotations

import importlib.util
import linecache
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from streamkit.exercises import Exercise, lesson00, lesson06, lessons
from tests.conftest import needs_marks
from tests.exercise_cases import RIGHT, ROWS, Row

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
        exercise.hints_shown = 0
        assert exercise.hint_text and exercise.hint()._repr_markdown_().startswith("**Hint")
        shown = exercise.solution()
        assert exercise.solution_code.strip() in shown._repr_markdown_()
        assert exercise.answer_name in exercise.solution_code
        exercise.hints_shown = 0


@pytest.mark.parametrize("exercise", ALL, ids=lambda e: f"{e.lesson}.{e.number}")
def test_hints_are_graded_a_nudge_then_more_then_the_solution(exercise: Exercise) -> None:
    exercise.hints_shown = 0
    try:
        shown = [exercise.hint() for _ in range(len(exercise.hints) + 2)]
    finally:
        exercise.hints_shown = 0
    texts = [repr(hint) for hint in shown]
    assert len(exercise.hints) >= 2
    assert texts[0].startswith("Hint: ") and "hint 1 of" in texts[0] and "again for more" in texts[0]
    assert texts[len(exercise.hints) - 1].endswith("again for the solution)")
    assert len(set(texts[: len(exercise.hints)])) == len(exercise.hints)  # each call tells more
    # The nudge is not the answer: it does not hold the solution's code.
    assert exercise.solution_code.strip() not in texts[0]
    for after in texts[len(exercise.hints) :]:
        assert after.startswith("Solution:") and exercise.solution_code.strip() in after


def test_the_lessons_hint_cells_run_as_they_stand() -> None:
    """Every exercise's hint cell in every lesson source is code, not a comment."""
    root = Path(__file__).resolve().parent.parent / "tools" / "notebooks"
    for exercise in ALL:
        source = next(root.glob(f"{exercise.lesson}_*.py")).read_text(encoding="utf-8")
        assert f"\nex.q{exercise.number}.hint()" in source, (exercise.lesson, exercise.number)
        assert f"# ex.q{exercise.number}.hint()" not in source


# -- typical mistakes: every row of tests/exercise_cases.py ---------------------------------

LONGEST_CHECK = 15.0  # seconds: no check may take longer, even when it runs out of time


def _exercise(key: str) -> Exercise:
    lesson, number = key.split(".")
    return lessons()[lesson][int(number) - 1]


def _row_param(row: Row) -> Any:
    module = __import__(f"streamkit.exercises.lesson{row.exercise[:2]}", fromlist=["NEEDS"])
    marks = list(needs_marks(getattr(module, "NEEDS", ())))
    if row.exercise.startswith("08"):
        marks.append(
            pytest.mark.skipif(importlib.util.find_spec("starlette") is None, reason="needs starlette")
        )
    return pytest.param(row, marks=marks, id=f"{row.exercise}-{row.mistake}")


def learner_answer(row: Row, namespace: dict[str, Any]) -> Any:
    """Run the row's code as a notebook cell would (its source readable by inspect)."""
    exercise = _exercise(row.exercise)
    module = __import__(f"streamkit.exercises.lesson{row.exercise[:2]}", fromlist=["SETUP"])
    namespace.update({"__name__": "learner", "ex": module})
    setup = getattr(module, "SETUP", "")
    if setup:
        exec(setup, namespace)
    filename = f"<learner {row.exercise} {row.mistake}>"
    linecache.cache[filename] = (len(row.code), None, row.code.splitlines(keepends=True), filename)
    exec(compile(row.code, filename, "exec"), namespace)
    if row.answer is not None:
        return eval(row.answer, namespace)
    return namespace[exercise.answer_name]


def judge(row: Row) -> tuple[Any, float]:
    namespace: dict[str, Any] = {}
    try:
        answer = learner_answer(row, namespace)
        started = time.monotonic()
        result = _exercise(row.exercise).check(answer)
        return result, time.monotonic() - started
    finally:
        server = namespace.get("server")
        if server is not None:
            server.stop()


@pytest.mark.parametrize("row", [_row_param(row) for row in ROWS])
def test_wrong_answer_is_rejected_naming_the_mistake(row: Row) -> None:
    result, seconds = judge(row)
    assert result.status == "wrong", str(result)
    for word in row.words:
        assert word in result.message, (word, result.message)
    assert "\n" not in result.message.strip(), result.message  # one paragraph, no traceback
    assert seconds < LONGEST_CHECK, (seconds, result.message)


@pytest.mark.parametrize("row", [_row_param(row) for row in RIGHT])
def test_a_right_answer_written_another_way_passes(row: Row) -> None:
    result, _seconds = judge(row)
    assert result.status == "correct", str(result)


def test_every_exercise_has_a_table_of_wrong_answers() -> None:
    counts = {f"{lesson}.{e.number}": 0 for lesson, exercises in lessons().items() for e in exercises}
    for row in ROWS:
        counts[row.exercise] += 1
    assert all(count >= 5 for count in counts.values()), counts


def test_not_implemented_counts_as_not_attempted_here_too() -> None:
    def sse(data: Any, event: Any = None, id: Any = None) -> str:
        raise NotImplementedError

    assert lesson06.q1.check(sse).status == "not attempted"


# -- no hangs, no leftovers ------------------------------------------------------------------


def _idle_cpu(seconds: float = 1.0) -> float:
    """CPU seconds this process used while the test slept for ``seconds``."""
    started = time.process_time()
    time.sleep(seconds)
    return time.process_time() - started


def _threads_after(baseline: set[int], wait: float = 3.0) -> list[str]:
    """Threads started since ``baseline`` that are still running after up to ``wait`` s."""
    deadline = time.monotonic() + wait
    while True:
        left = [t.name for t in threading.enumerate() if t.ident not in baseline and t.is_alive()]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def test_fifty_wrong_answers_in_one_process_leave_no_thread_and_no_busy_cpu() -> None:
    """Like a learner in one kernel: 50 wrong answers, among them every one that runs out of
    time (a loop without yield, an endless b"" stream, an endless loop in a view)."""
    local = [
        row
        for row in ROWS
        if not row.exercise.startswith(("07", "09"))  # nginx and Chromium are processes of their own
        and (not row.exercise.startswith("08") or importlib.util.find_spec("starlette") is not None)
    ]
    hanging = [row for row in local if row.slow]
    chosen = (hanging + [row for row in local if not row.slow])[:50]
    assert len(chosen) == 50 and len(hanging) >= 4
    baseline = {t.ident for t in threading.enumerate()}
    idle_before = _idle_cpu()
    longest = 0.0
    for row in chosen:
        result, seconds = judge(row)
        assert result.status == "wrong", (row.exercise, row.mistake, str(result))
        longest = max(longest, seconds)
    assert longest < LONGEST_CHECK
    assert _threads_after(baseline) == []
    # A stopped server thread spinning on an endless b"" would burn a whole CPU second here.
    assert _idle_cpu() < idle_before + 0.25


def test_a_check_that_runs_out_of_time_says_so_in_one_line() -> None:
    def ticker(log: list) -> None:
        while True:
            log = log  # the yield was forgotten: a plain function that never returns

    baseline = {t.ident for t in threading.enumerate()}
    started = time.monotonic()
    result = lesson06.q2.check(ticker)
    took = time.monotonic() - started
    assert result.status == "wrong"
    assert result.message.startswith("ticker(log) did not return within 5 s")
    assert "a loop without yield never gives control back" in result.message
    assert "\n" not in result.message
    assert took < 8
    assert _threads_after(baseline) == []


def test_the_app_error_is_shown_instead_of_a_bare_timeout() -> None:
    """§4: a malformed header in middleware: the check names the app's ValueError, and its
    cause is that error in the learner's own frames; Server.get's error names it too."""
    from streamkit import serve
    from streamkit.exercises import lesson04
    from streamkit.probe import ProbeError

    def stamp(app: Any) -> Any:
        def middleware(environ: Any, start_response: Any) -> Any:
            def start(status: str, headers: list, exc_info: Any = None) -> Any:
                headers.append("X-Stamp: streamkit")
                return start_response(status, headers, exc_info)

            return app(environ, start)

        return middleware

    result = lesson04.q1.check(stamp)
    assert result.status == "wrong"
    assert "ValueError" in result.message and "(name, value) pair" in result.message
    assert "ProbeError" not in result.message

    with serve(stamp(lesson04.five_parts_app()), name="exercise-error-shown") as server:
        started = time.monotonic()
        with pytest.raises(ProbeError, match="the app raised ValueError") as raised:
            server.get("/", timeout=20)
        # The server closes the connection of a response whose headers failed: no 20 s wait.
        assert time.monotonic() - started < 10
        recorded = server.errors[-1]
    cause = raised.value.__cause__
    assert isinstance(cause, ValueError) and isinstance(recorded, ValueError)
    assert str(cause) == str(recorded)
    # Shown as raise_for_error() shows it (own_frames: here werkzeug's write() is all there is,
    # as the bad pair only fails when the server writes it); server.errors keeps its traceback.
    shown = traceback.extract_tb(cause.__traceback__)
    kept = traceback.extract_tb(recorded.__traceback__)
    assert shown and shown[-1].name == "write"
    assert [frame.name for frame in kept] == [frame.name for frame in shown]


def test_right_answers_leave_no_thread_either() -> None:
    baseline = {t.ident for t in threading.enumerate()}
    for exercise in ALL:
        if exercise.lesson in ("07", "09"):  # nginx and Chromium: processes of their own
            continue
        if exercise.lesson == "08" and importlib.util.find_spec("starlette") is None:
            continue
        namespace: dict[str, Any] = {"__name__": "solution"}
        module = __import__(f"streamkit.exercises.lesson{exercise.lesson}", fromlist=["SETUP"])
        try:
            exec(getattr(module, "SETUP", ""), namespace)
            exec(exercise.solution_code, namespace)
            exercise.check(namespace[exercise.answer_name])  # passing is test_solution_passes's job
        finally:
            if namespace.get("server") is not None:
                namespace["server"].stop()
    assert _threads_after(baseline) == []


def test_after_stopped_learner_code_cprofile_still_runs() -> None:
    """On CPython 3.11 an exception sent into a thread and never taken leaves a flag behind
    that makes any code under cProfile spin forever (werkzeug's ProfilerMiddleware in lesson
    04 stopped answering after a timed-out check). Both ways a check stops learner code must
    leave it working: a call that ran out of time, then a served view ended by its guard."""
    import cProfile

    from streamkit.exercises import Wrong
    from streamkit.exercises.guard import Guard, call

    def spin() -> None:
        while True:
            pass

    with pytest.raises(Wrong, match="did not return"):
        call(spin, what="spin()", doing="testing the guard", likely="a loop that never ends", limit=0.3)

    guard = Guard()
    entered = threading.Event()

    def learner_view() -> None:
        try:
            with guard.inside():
                entered.set()
                while True:
                    time.sleep(0.01)
        except BaseException:
            pass  # the guard's Stopped: this thread ends quietly

    threading.Thread(target=learner_view, daemon=True).start()
    assert entered.wait(5)
    assert guard.end() == []

    profiled = threading.Event()

    def add(a: int, b: int) -> int:
        return a + b

    def profile_something() -> None:
        cProfile.Profile().runcall(add, 1, 2)  # a Python function: its first instruction spun
        profiled.set()

    threading.Thread(target=profile_something, daemon=True).start()
    assert profiled.wait(10), "code under cProfile never returned: an exception was left waiting"


def test_the_guard_never_raises_into_a_thread_that_has_left_learner_code() -> None:
    """Guard.end() asks for Stopped only while a thread is inside learner code: a thread that
    left it (a server's worker back in its own code, or a finished call()) runs on untouched."""
    from streamkit.exercises.guard import Guard, Stopped

    guard = Guard()
    left = threading.Event()
    outcome: list[str] = []

    def worker() -> None:
        with guard.inside():
            pass
        left.set()
        try:
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:  # Python code all along: it would take one at once
                pass
            outcome.append("ran on")
        except Stopped:
            outcome.append("stopped")

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    assert left.wait(5)
    assert guard.end() == []
    thread.join(5)
    assert outcome == ["ran on"]
