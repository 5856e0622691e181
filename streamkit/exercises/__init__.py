"""Exercises for the workshop notebooks: check an answer, ask for a hint, see the solution.

Each lesson has a module here (``lesson00``, ``lesson01``, ...) whose exercises are ``q1``,
``q2`` and so on. In a notebook::

    from streamkit.exercises import lesson01 as ex

    def csv_lines(rows):
        ...  # your code here

    ex.q1.check(csv_lines)   # Not attempted yet / Not quite: ... / Correct: ...
    ex.q1.hint()             # a nudge; run it again for more, and the third time the solution
    ex.q1.solution()         # one way to do it, at once

A check runs the learner's code for real: a view is served on a background server on
127.0.0.1 and read with the probe, a generator is fed slow data, a client function reads a
real stream. It then judges what happened (what arrived, when, and in how many pieces), so
any code that behaves right passes, however it is written.

Three outcomes, told apart on purpose:

* **not attempted**: the placeholder ``...`` is still there (the answer is ``...`` or ``None``,
  or the function's body is still only ``...``, or it raises ``NotImplementedError``); a
  function with code in it that returns nothing is a forgotten ``return``, which is wrong;
* **wrong**: the code ran and did something else; the message says what was measured and
  what to change;
* **correct**.
"""

from __future__ import annotations

import html
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from ..trace import error_text

__all__ = ["Exercise", "NotAttempted", "Result", "Wrong", "lessons"]

_MISSING = object()


class NotAttempted(Exception):
    """Raised by a checker when the learner's answer is still the placeholder."""


class Wrong(Exception):
    """Raised by a checker with a kind, specific message when the answer does not work yet."""


_STYLES = {
    "not attempted": ("#8a8a8a", "Not attempted yet."),
    "wrong": ("#d9822b", "Not quite."),
    "correct": ("#2e9e5b", "Correct!"),
}


class Result:
    """The outcome of ``check()``: truthy only when correct; displays itself in a notebook."""

    def __init__(self, exercise: Exercise, status: str, message: str) -> None:
        if status not in _STYLES:
            raise ValueError(f"unknown status {status!r}")
        self.exercise = exercise
        self.status = status
        self.message = message

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        label = _STYLES[self.status][1]
        return f"{self.exercise.label}: {label} {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour, label = _STYLES[self.status]
        return (
            f'<div style="border-left:4px solid {colour};padding:2px 10px;margin:2px 0">'
            f"<b>{html.escape(self.exercise.label)}: {label}</b> "
            f"{html.escape(self.message)}</div>"
        )


class _Shown:
    """Markdown text that shows itself in a notebook and prints as plain text elsewhere."""

    def __init__(self, markdown: str, text: str) -> None:
        self._markdown = markdown
        self._text = text

    def _repr_markdown_(self) -> str:
        return self._markdown

    def __repr__(self) -> str:
        return self._text


class Exercise:
    """One exercise: a checker that measures the answer, a hint, and a worked solution.

    ``checker(answer)`` returns a success message, or raises :class:`NotAttempted` or
    :class:`Wrong`. ``answer_name`` is the name the notebook asks the learner to fill in;
    ``solution_code`` defines that name and is what ``solution()`` shows (the solution
    notebooks run exactly this code, so every exercise is proven solvable).
    """

    def __init__(
        self,
        lesson: str,
        number: int,
        title: str,
        answer_name: str,
        checker: Callable[[Any], str],
        hint: str | Sequence[str],
        solution_code: str,
        task: str = "",
    ) -> None:
        self.lesson = lesson
        self.number = number
        self.title = title
        self.answer_name = answer_name
        self.checker = checker
        self.hints = [hint.strip()] if isinstance(hint, str) else [text.strip() for text in hint]
        if not self.hints or not all(self.hints):
            raise ValueError(f"exercise {lesson}.{number} needs at least one hint")
        self.hints_shown = 0
        self.solution_code = solution_code.strip() + "\n"
        self.task = task.strip()

    @property
    def hint_text(self) -> str:
        """The first hint, the nudge."""
        return self.hints[0]

    @property
    def label(self) -> str:
        return f"Exercise {self.lesson}.{self.number} ({self.title})"

    def __repr__(self) -> str:
        return f"<{self.label}: check({self.answer_name}), hint(), solution()>"

    def check(self, answer: Any = _MISSING) -> Result:
        """Run the answer for real and say whether it is correct, wrong (and why), or untouched."""
        if answer is _MISSING:
            return Result(
                self,
                "not attempted",
                f"Pass your answer to check, like this: check({self.answer_name}).",
            )
        if answer is None or answer is Ellipsis:
            return Result(self, "not attempted", self._fill_in())
        try:
            message = self.checker(answer)
        except NotAttempted as exc:
            return Result(self, "not attempted", str(exc) or self._fill_in())
        except NotImplementedError:
            return Result(self, "not attempted", self._fill_in())
        except Wrong as exc:
            return Result(self, "wrong", str(exc))
        except Exception as exc:  # the learner's code raised: say where, kindly
            return Result(self, "wrong", f"Your code raised {error_text(exc, 400)}{where_raised(exc)}.")
        return Result(self, "correct", message)

    def _fill_in(self) -> str:
        return (
            f"Replace the ... in {self.answer_name} with your code, run that cell, then run "
            f"this check again. Stuck? Run the hint cell below; each run of it tells more."
        )

    def hint(self) -> _Shown:
        """A nudge first; each further call tells more, and after the last hint the solution."""
        shown = self.hints_shown
        self.hints_shown += 1
        if shown >= len(self.hints):
            return self.solution()
        total = len(self.hints) + 1  # the solution comes last
        text = self.hints[shown]
        more = f" (hint {shown + 1} of {total - 1}; run hint() again for {'more' if shown + 2 < total else 'the solution'})"
        return _Shown(f"**Hint ({self.label}):** {text}{more}", f"Hint: {text}{more}")

    def solution(self) -> _Shown:
        """One correct answer, as code you can paste."""
        code = self.solution_code.rstrip()
        return _Shown(
            f"**Solution ({self.label}):**\n\n```python\n{code}\n```",
            f"Solution:\n\n{code}",
        )


def where_raised(exc: BaseException) -> str:
    """`` in csv_lines(), line 4`` for the innermost frame that is notebook code, if any."""
    library = tuple(
        os.path.join(os.path.abspath(root), "")
        for root in {sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(__file__))}
    )
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.startswith("<frozen "):  # the standard library's frozen modules
            continue
        if not os.path.abspath(frame.filename).startswith(library):
            return f" in {frame.name}(), line {frame.lineno}"
    return ""


def why_missing(program: str) -> str | None:
    """Why a lesson that needs ``program`` ("nginx", "chromium") cannot run here, or None.

    Chromium is driven through playwright, so for it the browser lane's own check (the program
    and the ``browser`` extra) is the one that counts. Lessons say what they need in ``NEEDS``.
    """
    if program == "chromium":
        from ..browser import unavailable_reason

        return unavailable_reason()
    from ..programs import missing_program

    return missing_program(program)


def lesson_unavailable(lesson: str) -> str | None:
    """Why lesson ``"07"`` cannot run on this machine (a program its ``NEEDS`` names is
    missing), or None. Tests and the notebook collection skip with this reason."""
    import importlib

    try:
        module = importlib.import_module(f"{__name__}.lesson{lesson}")
    except ImportError as error:  # an optional extra (lesson 08's asgi) is not installed
        return f"lesson {lesson} cannot be imported here ({error}); install its extra"
    for program in getattr(module, "NEEDS", ()):
        missing = why_missing(program)
        if missing:
            return f"lesson {lesson} runs {program}: {missing}"
    return None


def lessons() -> dict[str, list[Exercise]]:
    """Every lesson's exercises, in order: ``{"01": [q1, q2, q3], ...}``."""
    import importlib

    found: dict[str, list[Exercise]] = {}
    for number in ("00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11"):
        module = importlib.import_module(f"{__name__}.lesson{number}")
        found[number] = list(module.EXERCISES)
    return found
