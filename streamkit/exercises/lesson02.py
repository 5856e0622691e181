"""Exercises for lesson 02, Templates: group parts, predict chunk counts, a context processor."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from ..app import App
from ..response import Response
from ..templating import stream_template_string
from ..trace import plural
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
    try_view,
)

LESSON = "02"

#: The menu template the lesson and exercises stream: one <li> per dish.
MENU = "<ul>{% for dish in dishes %}<li>{{ dish }}</li>{% endfor %}</ul>"

#: Ten dishes, so MENU has 3 * 10 + 2 = 32 parts.
DISHES = [
    "soup",
    "bread",
    "salad",
    "pasta",
    "risotto",
    "curry",
    "tacos",
    "pie",
    "cake",
    "fruit",
]

T = TypeVar("T")


def slowly(items: Iterable[T], pause: float = 0.05) -> Iterator[T]:
    """Hand out ``items`` one by one, ``pause`` seconds apart (a slow query, for the lesson)."""
    for item in items:
        time.sleep(pause)
        yield item


def _render_menu() -> str:
    return App(__name__, template_folder=None).jinja_env.from_string(MENU).render(dishes=DISHES)


# -- q1 ------------------------------------------------------------------------------------


def _check_menu(answer: Any) -> str:
    view = require_function(answer, "menu")
    app = app_with_view(view)
    try_view(app, view)
    with served(app) as server:
        trace = fetch(server, "/", who="menu()")
    expected = _render_menu()
    if not trace.body:
        raise Wrong(
            "The response was empty. enable_buffering(5) changes the stream in place and "
            "returns None, so Response(stream.enable_buffering(5)) sends nothing: call it on "
            "its own line, then return Response(stream)."
        )
    if trace.body.decode("utf-8", "replace") != expected:
        raise Wrong(f"The page should be {expected!r}, but it was {trace.body!r:.100}.")
    received = pieces(trace)
    parts = [event.parts for event in trace.produced or []]
    if received == 1:
        raise Wrong(
            "The whole menu arrived in one piece: it was rendered before it was sent. Use "
            "stream_template_string(...) instead of render_template_string(...)."
        )
    if received == 32:
        raise Wrong(
            "The menu arrived in 32 pieces, one per template part. Call enable_buffering(5) on "
            "the stream before you return it."
        )
    if received != 7:
        raise Wrong(
            f"The menu arrived in {plural(received, 'piece')} (parts per piece: {parts}). With "
            f"groups of five, 32 parts make 7 pieces: use enable_buffering(5)."
        )
    return f"32 template parts went out as 7 chunks of {parts[0]}, {parts[1]}, ... {parts[-1]} parts."


q1 = Exercise(
    LESSON,
    1,
    "groups of five",
    "menu",
    _check_menu,
    hint=[
        "Stream the template (stream_template_string), and ask the stream to group its parts "
        "five at a time before you return it.",
        "stream = stream_template_string(ex.MENU, dishes=ex.DISHES), then "
        "stream.enable_buffering(5) on its own line, then return Response(stream). "
        "enable_buffering changes the stream in place and returns None.",
    ],
    solution_code="""
from streamkit import Response, stream_template_string
from streamkit.exercises import lesson02 as ex

def menu():
    stream = stream_template_string(ex.MENU, dishes=ex.DISHES)
    stream.enable_buffering(5)
    return Response(stream)
""",
)


# -- q2 ------------------------------------------------------------------------------------


def _measure_groups_of_three() -> int:
    app = App(__name__, template_folder=None)

    @app.route("/")
    def menu_in_threes() -> Response:
        stream = stream_template_string(MENU, dishes=DISHES[:4])
        stream.enable_buffering(3)
        return Response(stream)

    with served(app) as server:
        return pieces(fetch(server, "/", who="the menu"))


def _check_prediction(answer: Any) -> str:
    if isinstance(answer, str) and answer.strip().isdigit():
        raise Wrong(
            f"prediction should be a number, not the text {answer!r}: write {answer.strip()} without quotes."
        )
    if isinstance(answer, float) and answer.is_integer():
        raise Wrong(f"prediction should be a whole number (an int): write {int(answer)}, not {answer!r}.")
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise Wrong(
            f"prediction should be a whole number of chunks (an int), but it is {kind_of(answer)}: {answer!r:.40}."
        )
    measured = _measure_groups_of_three()
    if answer < measured:
        raise Wrong(f"{answer} is too few. Count the parts of MENU for 4 dishes, then group them in threes.")
    if answer > measured:
        raise Wrong(f"{answer} is too many. Count the parts of MENU for 4 dishes, then group them in threes.")
    return (
        f"The server sent exactly {plural(measured, 'chunk')}: {3 * 4 + 2} parts in groups of three, "
        f"the last group smaller ({math.ceil((3 * 4 + 2) / 3)} groups)."
    )


q2 = Exercise(
    LESSON,
    2,
    "predict the chunks",
    "prediction",
    _check_prediction,
    hint=[
        "Count the template's parts for 4 dishes first, then group them in threes.",
        'MENU yields "<ul>", then "<li>", the dish and "</li>" for every dish, then '
        '"</ul>". How many parts is that for 4 dishes? enable_buffering(3) joins three '
        "non-empty parts per chunk, and sends what is left at the end.",
    ],
    solution_code="""
import math

parts = 1 + 3 * 4 + 1             # <ul>, then <li> dish </li> for each dish, then </ul>
prediction = math.ceil(parts / 3)  # groups of three; the last group may be smaller
prediction
""",
)


# -- q3 ------------------------------------------------------------------------------------

_SIGN = "{{ shop }}: prices in {{ currency }}"


def _check_processor(answer: Any) -> str:
    func = require_function(answer, "shop_context")
    values = calling(func)
    require_attempt(func, values, "shop_context()")
    if not isinstance(values, dict):
        raise Wrong(
            f"A context processor returns a dict of names to values; shop_context() returned {type(values).__name__}."
        )
    missing = [name for name in ("shop", "currency") if name not in values]
    if missing:
        raise Wrong(
            f"The dict needs the keys 'shop' and 'currency'; {' and '.join(map(repr, missing))} missing."
        )

    app = App(__name__, template_folder=None)
    app.context_processor(func)

    @app.route("/")
    def sign() -> Response:
        return Response(stream_template_string(_SIGN), mimetype="text/plain")

    @app.route("/dollars")
    def sign_in_dollars() -> Response:
        return Response(stream_template_string(_SIGN, currency="USD"), mimetype="text/plain")

    with served(app) as server:
        plain = fetch(server, "/", who="the template").body.decode()
        dollars = fetch(server, "/dollars", who="the template").body.decode()
    expected = "Streamkit Café: prices in EUR"
    if plain != expected:
        raise Wrong(f"The streamed sign reads {plain!r}, expected {expected!r}.")
    if dollars != "Streamkit Café: prices in USD":
        raise Wrong(
            f"A value passed to stream_template_string should win over the processor's, but the sign read {dollars!r}."
        )
    return "Every streamed template now sees shop and currency, and a value passed by the view still wins."


q3 = Exercise(
    LESSON,
    3,
    "a context processor",
    "shop_context",
    _check_processor,
    hint=[
        "A context processor is a function without arguments that returns a dict: its keys "
        "become names every template can use.",
        'Return a dict with two keys, "shop" and "currency", holding the values the sign '
        "should show. The check registers the function with app.context_processor itself.",
    ],
    solution_code="""
def shop_context():
    return {"shop": "Streamkit Café", "currency": "EUR"}
""",
)

EXERCISES = [q1, q2, q3]
