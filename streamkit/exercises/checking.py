"""Tools the exercise checkers share: serve a learner's view for real, read it, judge it.

Every check that involves a view serves it on its own background server (one name, so a
check run again replaces the last one's server) and reads it with the probe. Nothing here
prints: what was measured comes back in the check's message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.exceptions import HTTPException

from ..app import App
from ..server import Server, serve
from ..trace import Trace, error_text
from . import NotAttempted, Wrong

SERVER_NAME = "streamkit-exercise"
TIMEOUT = 5.0  # seconds of silence before a check gives up on a response
MAX_SECONDS = 10.0  # longest a check reads any one stream


def is_placeholder(value: Any) -> bool:
    """True for what a learner has not filled in yet: ``...`` or ``None``."""
    return value is None or value is Ellipsis


def require_function(answer: Any, name: str) -> Callable[..., Any]:
    """The answer must be something to call (a function, or a class for middleware)."""
    if not callable(answer):
        raise Wrong(
            f"{name} should be a function (def {name}(...): ...), but it is "
            f"{type(answer).__name__}: {answer!r:.60}"
        )
    return answer


def app_with_view(view: Callable[..., Any], rule: str = "/", *, template_folder: str | None = None) -> App:
    """A fresh App with ``view`` as its only route."""
    app = App(__name__, template_folder=template_folder)
    app.add_url_rule(rule, endpoint="exercise", view_func=view)
    return app


def try_view(
    app: App, view: Callable[..., Any], path: str = "/", headers: dict[str, str] | None = None
) -> None:
    """Call the view once inside a test request, to tell an untouched placeholder from an attempt.

    A view that returns ``...`` or ``None`` (or raises NotImplementedError) is not attempted.
    Whatever it returns is closed again without being read.
    """
    with app.test_request_context(path, headers=headers):
        try:
            returned = view()
        except HTTPException:
            return  # abort(400) and friends: the view is doing something
    if is_placeholder(returned):
        raise NotAttempted(
            f"{view.__name__}() returned {returned!r}. Replace the ... with your code (if you did, "
            f"check that the function ends with return)."
        )
    close = getattr(returned, "close", None)
    if callable(close):
        close()


@contextmanager
def served(app: Any) -> Iterator[Server]:
    """Serve ``app`` on 127.0.0.1 for the length of a ``with`` block."""
    server = serve(app, name=SERVER_NAME)
    try:
        yield server
    finally:
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
    trace = server.get(path, **options)
    error = trace.server_error
    if error is None and server.errors:
        error = server.errors[-1]
    if isinstance(error, NotImplementedError):
        raise NotAttempted()
    if error is not None:
        from . import where_raised

        raise Wrong(
            f"Requesting {path}: {who} raised {error_text(error, 400)}{where_raised(error)}. "
            f"{_advice_for(error)}".rstrip()
        )
    if trace.stopped and options["max_seconds"] == MAX_SECONDS:
        raise Wrong(
            f"Requesting {path}: the response had not ended after {MAX_SECONDS:g} s. Does the stream end?"
        )
    if trace.error:
        raise Wrong(f"Requesting {path}: the response broke on the way ({trace.error}).")
    if status is not None and trace.status != status:
        raise Wrong(f"Requesting {path} gave status {trace.status}, expected {status}.")
    return trace


def _advice_for(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, RuntimeError) and text.startswith("Working outside of request context"):
        return "The generator used request after the view returned: see stream_with_context."
    if isinstance(error, TypeError) and "returned NoneType" in text:
        return "The view returned None: did you forget return?"
    return ""


def spread(trace: Trace) -> float:
    """Seconds between the first and the last non-empty piece the client received."""
    times = [chunk.t for chunk in trace.chunks if chunk.size]
    return times[-1] - times[0] if len(times) >= 2 else 0.0


def pieces(trace: Trace) -> int:
    """How many non-empty pieces the client received."""
    return sum(1 for chunk in trace.chunks if chunk.size)


def timed(iterable: Any, limit: float = MAX_SECONDS) -> list[tuple[float, Any]]:
    """Iterate, noting when each item came (seconds from the start); stop after ``limit`` s."""
    started = time.monotonic()
    seen: list[tuple[float, Any]] = []
    for item in iterable:
        now = time.monotonic() - started
        seen.append((now, item))
        if now > limit:
            break
    return seen
