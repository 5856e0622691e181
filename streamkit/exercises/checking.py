"""Tools the exercise checkers share: serve a learner's view for real, read it, judge it.

Every check that involves a view serves it on its own background server (one name, so a
check run again replaces the last one's server) and reads it with the probe. Learner code
never runs in the kernel's own thread: calls go through :func:`streamkit.exercises.guard.call`
and served apps run under a :class:`~streamkit.exercises.guard.Guard` that ends them when the
check is over (see :mod:`streamkit.exercises.guard`). Nothing here prints: what was measured
comes back in the check's message.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from ..app import App
from ..probe import ProbeError
from ..recording_asgi import is_asgi_app
from ..server import Server, serve
from ..trace import Trace, error_text, own_frames
from . import NotAttempted, Wrong, where_raised
from .guard import Guard, GuardedApp, call

SERVER_NAME = "streamkit-exercise"
TIMEOUT = 5.0  # seconds of silence before a check gives up on a response
MAX_SECONDS = 8.0  # longest a check reads any one stream (a right answer needs under 2 s)


def calling(func: Callable[..., Any], *args: Any, likely: str = "", doing: str = "", what: str = "") -> Any:
    """``func(*args)`` under the time limit, named as the learner wrote it: ``ticker(log)``."""
    name = getattr(func, "__name__", "your function")
    try:  # the learner's own parameter names: ticker(log)
        names = list(inspect.signature(func).parameters)[: len(args)]
    except (TypeError, ValueError):
        names = []
    shown = ", ".join(names) if len(names) == len(args) else ", ".join(_short(arg) for arg in args)
    return call(
        func,
        *args,
        what=what or f"{name}({shown})",
        doing=doing or "the check called it",
        likely=likely or "a loop that never ends (a while loop whose condition stays true?)",
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 20 else type(value).__name__


def source_of(func: Any) -> str | None:
    """The source code of ``func`` when Python can find it (a notebook cell's too), else None."""
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):
        return None


def returned_nothing(name: str, value: Any) -> str | None:
    """The message for a function that ran and returned None: a forgotten return, or print."""
    if value is None:
        return (
            f"{name} ran but returned None: did you forget return (or print the result "
            f"instead of returning it)?"
        )
    return None


def is_placeholder(value: Any) -> bool:
    """True for what a learner has not filled in yet: ``...`` or ``None``."""
    return value is None or value is Ellipsis


def kind_of(value: Any) -> str:
    """``a method``, ``an int``, ``a Response``: what a value is, in words."""
    if inspect.ismethod(value) or inspect.isbuiltin(value):
        kind = "method"
    elif inspect.isfunction(value):
        kind = "function"
    elif isinstance(value, bytes):
        kind = "bytes object"
    else:
        kind = type(value).__name__
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"


def require_function(answer: Any, name: str) -> Callable[..., Any]:
    """The answer must be something to call (a function, or a class for middleware)."""
    if isinstance(answer, BaseResponse) or inspect.isgenerator(answer) or inspect.isasyncgen(answer):
        raise Wrong(
            f"You passed what {name}() returned ({kind_of(answer)}), not the function: "
            f"check({name}), without the brackets after {name}."
        )
    if not callable(answer):
        raise Wrong(
            f"{name} should be a function (def {name}(...): ...), but it is {kind_of(answer)}: {answer!r:.60}"
        )
    return answer


def app_with_view(view: Callable[..., Any], rule: str = "/", *, template_folder: str | None = None) -> App:
    """A fresh App with ``view`` as its only route."""
    app = App(__name__, template_folder=template_folder)
    app.add_url_rule(rule, endpoint="exercise", view_func=view)
    return app


def try_view(
    app: App,
    view: Callable[..., Any],
    path: str = "/",
    headers: dict[str, str] | None = None,
    *,
    method: str = "GET",
    json: Any = None,
    returns: str = "Response(...)",
) -> None:
    """Call the view once inside a test request, to tell an untouched placeholder from an attempt.

    A view whose body is still ``...`` is not attempted; one that returns None was written
    but forgot its ``return`` (the message tells it to end with ``return <returns>``). Whatever
    it returns is closed again without being read. The view runs under the time limit, in a
    worker thread (see :func:`calling`). ``method`` and ``json`` make the request a POST with
    a JSON body, as lesson 10's chat view wants.
    """
    name = getattr(view, "__name__", "the view")

    def run() -> Any:
        with app.test_request_context(path, headers=headers, method=method, json=json):
            try:
                return view()
            except HTTPException:
                return True  # abort(400) and friends: the view is doing something

    returned = call(
        run,
        what=f"{name}()",
        doing="the check called the view",
        likely="a loop in the view itself never ends (a loop without yield belongs in a generator)",
    )
    if returned is Ellipsis or is_untouched(view):
        raise NotAttempted()
    if returned is None:
        raise Wrong(
            f"{name}() returned None: end the view with return {returns} "
            f"(a view that prints or forgets return sends nothing)."
        )
    close = getattr(returned, "close", None)
    if callable(close):
        close()


def is_untouched(func: Any) -> bool:
    """True when ``func``'s body is still only the placeholder ``...`` (and perhaps a docstring).

    Told from the code itself: a function that does nothing but evaluate ``...`` has no other
    names, calls or constants in its bytecode.
    """
    code = getattr(func, "__code__", None)
    if code is None:
        return False
    doc = func.__doc__
    constants = [c for c in code.co_consts if c is not None and c is not Ellipsis and c != doc]
    return not constants and not code.co_names


def require_attempt(func: Any, value: Any, name: str) -> None:
    """Judge what a learner's function returned: the untouched placeholder is not attempted,
    None from a function with code in it is a forgotten return (or a print)."""
    if value is Ellipsis or (value is None and is_untouched(func)):
        raise NotAttempted()
    nothing = returned_nothing(name, value)
    if nothing:
        raise Wrong(nothing)


@contextmanager
def served(app: Any, guard: Guard | None = None) -> Iterator[Server]:
    """Serve ``app`` on 127.0.0.1 for the length of a ``with`` block.

    A WSGI app runs under ``guard`` (a new one if not given): when the block ends, a view or a
    response body still running is stopped, so nothing keeps running after the check. An ASGI
    app brings its own guard, around the learner's generator (see lesson 08).
    """
    guard = guard or Guard()
    server = serve(app if is_asgi_app(app) else GuardedApp(app, guard), name=SERVER_NAME)
    try:
        yield server
    finally:
        guard.end()
        server.stop()


def fetch(
    server: Server,
    path: str = "/",
    *,
    status: int | None = 200,
    who: str = "your view",
    **options: Any,
) -> Trace:
    """Probe ``path`` through ``server`` and turn the usual failures into kind messages."""
    options.setdefault("timeout", TIMEOUT)
    options.setdefault("max_seconds", MAX_SECONDS)
    try:
        trace = server.get(path, **options)
    except ProbeError as no_response:
        cause = no_response.__cause__ if isinstance(no_response.__cause__, Exception) else None
        if cause is None:
            raise Wrong(
                f"Requesting {path}: no response within {options['timeout']:g} s, and nothing was "
                f"raised: does {who} return before its first item (a loop in the view)?"
            ) from None
        raise_app_error(path, who, cause)
        raise
    error = trace.server_error
    if error is None and server.errors:
        error = server.errors[-1]
    if error is not None:
        raise_app_error(path, who, error)
    if trace.stopped and options["max_seconds"] == MAX_SECONDS:
        raise Wrong(
            f"Requesting {path}: the response had not ended after {MAX_SECONDS:g} s "
            f"({trace.size:,} bytes in {plural_pieces(trace)}): a loop that never stops (while "
            f"True?). Give the stream an end."
        )
    if trace.error:
        if "no data for" in str(trace.error):
            raise Wrong(
                f"Requesting {path}: after {trace.size:,} bytes nothing more came for "
                f"{options['timeout']:g} s, and the response never ended. {_endless_advice(trace)}"
            )
        raise Wrong(f"Requesting {path}: the response broke on the way ({trace.error}).")
    if status is not None and trace.status != status:
        raise Wrong(f"Requesting {path} gave status {trace.status}, expected {status}.")
    return trace


def raise_app_error(path: str, who: str, error: BaseException) -> None:
    """The check's message for an exception the served app raised, with the app's own frames.

    The exception becomes the message's cause, its traceback cut to the learner's frames as
    :meth:`streamkit.Trace.raise_for_error` shows it.
    """
    if isinstance(error, NotImplementedError):
        raise NotAttempted()
    raise Wrong(
        f"Requesting {path}: {who} raised {error_text(error, 400)}{where_raised(error)}. "
        f"{_advice_for(error)}".rstrip()
    ) from error.with_traceback(own_frames(error.__traceback__))


def plural_pieces(trace: Trace) -> str:
    count = pieces(trace)
    return f"{count} piece" if count == 1 else f"{count} pieces"


def _endless_advice(trace: Trace) -> str:
    empty = sum(1 for event in trace.produced or () if not event.size)
    if empty > 10:
        return (
            f"Your code kept yielding empty items ({empty:,} of them were noted): a loop that "
            f"goes on after the data ran out. Stop it when there is nothing left (for a file, "
            f'when read() returns b"").'
        )
    return "Does the stream end? A loop that waits for more that never comes keeps it open."


def _advice_for(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, RuntimeError) and text.startswith("Working outside of request context"):
        return "The generator used request after the view returned: see stream_with_context."
    if isinstance(error, TypeError) and "returned NoneType" in text:
        return "The view returned None: did you forget return?"
    if isinstance(error, ValueError) and "unpack" in text:
        return (
            "A header must be a (name, value) pair such as ('X-Stamp', 'streamkit'), not one "
            "string such as 'X-Stamp: streamkit'."
        )
    if isinstance(error, UnicodeDecodeError):
        return 'The file holds bytes, not text: open it with "rb".'
    return ""


def spread(trace: Trace) -> float:
    """Seconds between the first and the last non-empty piece the client received."""
    times = [chunk.t for chunk in trace.chunks if chunk.size]
    return times[-1] - times[0] if len(times) >= 2 else 0.0


def pieces(trace: Trace) -> int:
    """How many non-empty pieces the client received."""
    return sum(1 for chunk in trace.chunks if chunk.size)


def timed(iterable: Any, limit: float = MAX_SECONDS, what: str = "your generator") -> list[tuple[float, Any]]:
    """Iterate, noting when each item came (seconds from the start); stop after ``limit`` s.

    The iterating happens in a worker thread under the time limit, so a generator that never
    yields again cannot block the kernel.
    """
    started = time.monotonic()
    seen: list[tuple[float, Any]] = []

    def walk() -> None:
        for item in iterable:
            now = time.monotonic() - started
            seen.append((now, item))
            if now > limit:
                break

    call(
        walk,
        what=what,
        doing="the check read its items",
        likely="it waits for something that never comes, or loops without yield",
        limit=limit + 1.0,
    )
    return seen
