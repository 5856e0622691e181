"""Exercises for lesson 08, Async streaming: streams that share one event loop, and SSE.

Each check serves the learner's code with Starlette on a real uvicorn (``serve()`` in a
background thread with its own event loop) and measures it: two overlapping requests for the
event-loop exercises, the events' framing and timing for the SSE one.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..server import Server
from ..trace import Trace, error_text, plural
from . import Exercise, NotAttempted, Wrong
from .checking import (
    MAX_SECONDS,
    fetch,
    is_placeholder,
    is_untouched,
    pieces,
    require_function,
    served,
    spread,
)
from .guard import Guard, call

LESSON = "08"
GAP = 0.1  # seconds between the items the checks ask for
LATER = 0.15  # the second of two overlapping requests is sent this long after the first
WORDS = ("stream", "chunk", "loop", "await", "thread")  # 0.5 s of lookups: time to overlap


def two_requests(server: Server, path: str, later: float = LATER, **options: Any) -> tuple[Trace, Trace]:
    """Request ``path`` twice on ``server``, the second ``later`` seconds after the first."""
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(fetch, server, path, **options)
        time.sleep(later)
        second = pool.submit(fetch, server, path, **options)
        return first.result(), second.result()


def overlap(a: Trace, b: Trace) -> bool:
    """True when the two responses were on the wire at the same time: the one that began later
    got its first byte before the other had its last (each in the time of this process)."""
    firsts = sorted((t.started + t.chunks[0].t, t) for t in (a, b) if t.chunks)
    if len(firsts) < 2:
        return False
    (_, early), (later_first, _) = firsts
    return later_first < early.started + early.chunks[-1].t


def slow_lookup(word: str) -> str:
    """A library call that blocks for 0.1 s, like a database driver without async support."""
    time.sleep(GAP)
    return word.upper()


def _starlette() -> Any:
    try:
        from starlette.applications import Starlette
        from starlette.responses import StreamingResponse
        from starlette.routing import Route
    except ImportError:  # pragma: no cover - depends on the environment
        raise Wrong("This check needs Starlette: pip install 'streamkit-http[asgi]'") from None
    return Starlette, StreamingResponse, Route


def _run(coroutine: Any, name: str) -> Any:
    """Run a coroutine to its end on a loop of its own, in a worker thread (a notebook's
    thread already runs the kernel's loop), under the time limit."""
    return call(
        asyncio.run,
        coroutine,
        what=f"{name}(...)",
        doing="the check awaited it",
        likely="a loop that never awaits or yields blocks forever",
    )


async def _until_ended(items: AsyncIterator[Any], guard: Guard) -> AsyncIterator[Any]:
    """The learner's async generator, item by item, until the check has ended."""
    try:
        async for item in items:
            if guard.ended:
                return
            yield item
    finally:
        close = getattr(items, "aclose", None)
        if close is not None:
            await close()


def _require_async_generator_function(answer: Any, name: str, args: tuple[Any, ...]) -> Callable[..., Any]:
    """The answer must be an async generator function; a placeholder body is not attempted."""
    func = require_function(answer, name)
    if inspect.isasyncgenfunction(func):
        return func
    result = call(
        func,
        *args,
        what=f"{name}(...)",
        doing="the check called it",
        likely="a loop without yield never gives control back",
    )
    if inspect.iscoroutine(result):
        result = _run(result, name)
        if result is Ellipsis or (result is None and is_untouched(func)):
            raise NotAttempted()
        raise Wrong(
            f"{name} is an async def function that returns instead of yielding: make it an async "
            f"generator (async def with yield inside), so each item can go out on its own."
        )
    if is_placeholder(result):
        raise NotAttempted()
    kind = "generator function" if inspect.isgenerator(result) else "function"
    raise Wrong(
        f"{name} should be an async generator function (async def {name}(...) with yield); it is a plain {kind}."
    )


def _serve_generator(
    make: Callable[[], AsyncIterator[Any]], guard: Guard, media_type: str = "text/plain"
) -> Any:
    Starlette, StreamingResponse, Route = _starlette()

    async def endpoint(request: Any) -> Any:
        return StreamingResponse(_until_ended(make(), guard), media_type=media_type)

    return Starlette(routes=[Route("/", endpoint)])


def _check_stream_shares_the_loop(
    func: Callable[..., Any],
    args: tuple[Any, ...],
    expected: bytes,
    name: str,
    blocking_hint: str,
) -> tuple[Trace, Trace]:
    guard = Guard()
    with served(_serve_generator(lambda: func(*args), guard), guard) as server:
        a, b = two_requests(server, "/", who=f"{name}()")
    for trace in (a, b):
        if trace.body != expected:
            raise Wrong(f"{name}{args!r} sent {trace.body!r:.80}; expected {expected!r}.")
    if pieces(a) < 3:
        raise Wrong(
            f"{name} arrived in {plural(pieces(a), 'piece')}: yield each line on its own, with the "
            f"pause between yields."
        )
    if spread(a) < GAP:
        raise Wrong(
            f"All of {name}'s lines arrived within {spread(a) * 1000:.0f} ms: the pauses did not "
            f"happen. asyncio.sleep(0.1) pauses only when it is awaited (await asyncio.sleep(0.1)); "
            f"without await it makes a coroutine that never runs."
        )
    if not overlap(a, b):
        raise Wrong(
            f"Two requests sent {LATER:g} s apart did not overlap: the second got its first byte "
            f"only after the first had its last. {blocking_hint}"
        )
    return a, b


# -- q1 ------------------------------------------------------------------------------------


def _check_countdown(answer: Any) -> str:
    func = _require_async_generator_function(answer, "countdown", (5,))
    expected = b"5\n4\n3\n2\n1\n"  # 0.4 s or more: time for the second request to overlap
    a, _b = _check_stream_shares_the_loop(
        func,
        (5,),
        expected,
        "countdown",
        "Something in countdown blocks the event loop while it waits: time.sleep does; await "
        "asyncio.sleep lets the loop serve the other request meanwhile.",
    )
    return (
        f"countdown(5) streamed in {plural(pieces(a), 'piece')}, and two requests {LATER:g} s apart "
        f"were served at the same time."
    )


q1 = Exercise(
    LESSON,
    1,
    "a countdown that shares the loop",
    "countdown",
    _check_countdown,
    hint=[
        "An async generator (async def with yield) whose pauses let the event loop serve others meanwhile.",
        "async def countdown(n), a for loop from n down to 1 that yields f'{i}\\n', and between "
        "items await asyncio.sleep(0.1) (never time.sleep, which stops the whole event loop).",
    ],
    solution_code="""
import asyncio


async def countdown(n):
    for i in range(n, 0, -1):
        yield f"{i}\\n"
        await asyncio.sleep(0.1)  # waits without blocking the event loop
""",
)


# -- q2 ------------------------------------------------------------------------------------


def _check_definitions(answer: Any) -> str:
    words = list(WORDS)
    func = _require_async_generator_function(answer, "definitions", (words,))
    expected = "".join(f"{word}: {slow_lookup(word)}\n" for word in words).encode()
    a, _b = _check_stream_shares_the_loop(
        func,
        (words,),
        expected,
        "definitions",
        "slow_lookup blocks for 0.1 s each time; called straight from the async generator it "
        "blocks the event loop. Run it in a worker thread: await asyncio.to_thread(slow_lookup, "
        "word).",
    )
    return (
        f"definitions streamed in {plural(pieces(a), 'piece')} while another request was served: "
        f"the blocking lookups ran outside the event loop."
    )


q2 = Exercise(
    LESSON,
    2,
    "a blocking call, kept off the loop",
    "definitions",
    _check_definitions,
    hint=[
        "slow_lookup blocks; run it somewhere the event loop is not, and await its result.",
        "asyncio.to_thread(func, *args) runs a blocking function in a worker thread and lets "
        "you await its result: meaning = await asyncio.to_thread(slow_lookup, word), then yield "
        "f'{word}: {meaning}\\n'. (anyio.to_thread.run_sync does the same, Starlette's way.)",
    ],
    solution_code="""
import asyncio

from streamkit.exercises.lesson08 import slow_lookup


async def definitions(words):
    for word in words:
        meaning = await asyncio.to_thread(slow_lookup, word)  # blocks a worker thread, not the loop
        yield f"{word}: {meaning}\\n"
""",
)


# -- q3 ------------------------------------------------------------------------------------


def _events(body: bytes) -> list[dict[str, str]]:
    """Server-sent events in ``body``: one dict of fields per blank-line-terminated event."""
    found: list[dict[str, str]] = []
    for block in body.decode("utf-8", "replace").replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            # several data lines in one event join with newlines, as in a browser
            fields[name] = f"{fields[name]}\n{value}" if name == "data" and name in fields else value
        if fields:
            found.append(fields)
    return found


def _check_progress(answer: Any) -> str:
    func = require_function(answer, "progress")
    Starlette, _StreamingResponse, Route = _starlette()
    with served(Starlette(routes=[Route("/progress", func)])) as server:
        trace = server.get("/progress", timeout=5, max_seconds=MAX_SECONDS)
        error = trace.server_error or (server.errors[-1] if server.errors else None)
        if error is None and trace.status == 200 and not trace.stopped:
            first, second = two_requests(server, "/progress", who="progress()")
        else:
            first = second = trace
    if isinstance(error, NotImplementedError) or (
        isinstance(error, TypeError) and "'NoneType' object is not callable" in str(error)
    ):
        if is_untouched(func) or isinstance(error, NotImplementedError):
            raise NotAttempted()  # the endpoint returned None: the placeholder is still there
        raise Wrong(
            "progress(request) returned None: return StreamingResponse(your_generator(), "
            "media_type='text/event-stream')."
        )
    if isinstance(error, TypeError) and "'async_generator' object is not callable" in str(error):
        raise Wrong(
            "progress(request) returned the async generator itself; an endpoint returns a "
            "response: StreamingResponse(your_generator(), media_type='text/event-stream')."
        )
    if error is not None:
        raise Wrong(f"Requesting /progress: your endpoint raised {error_text(error)}.")
    if trace.status != 200:
        raise Wrong(f"GET /progress answered {trace.status}; expected 200.")
    if trace.stopped or trace.error:
        why = trace.error or f"still open after {MAX_SECONDS:g} s"
        raise Wrong(f"The response did not end cleanly ({why}).")
    content_type = trace.headers.get("Content-Type", "")
    if not content_type.startswith("text/event-stream"):
        raise Wrong(
            f"The response's Content-Type is {content_type or 'missing'!r}: pass media_type='text/event-stream' "
            f"to StreamingResponse, or browsers' EventSource will not read it."
        )
    events = _events(trace.body)
    data = [event.get("data") for event in events]
    if data != [str(n) for n in range(1, 6)]:
        raise Wrong(
            f"The events' data fields were {data!r}; expected '1' to '5', one event each, written "
            f"as 'data: 1\\n\\n' (each event ends with a blank line)."
        )
    if pieces(trace) < 5 or trace.verdict != "streamed":
        raise Wrong(
            f"The 5 events arrived {trace.verdict}, in {plural(pieces(trace), 'piece')}: yield each "
            f"event on its own, with await asyncio.sleep(0.1) between them."
        )
    if not overlap(first, second):
        raise Wrong(
            f"Two requests sent {LATER:g} s apart did not overlap: the second got its first byte "
            f"only after the first had its last. Something in progress blocks the event loop "
            f"while it waits: time.sleep does; await asyncio.sleep(0.1) lets the loop serve "
            f"the other request meanwhile."
        )
    return (
        f"5 progress events, as text/event-stream, each in its own piece ({trace.verdict}), and "
        f"two requests {LATER:g} s apart were served at the same time."
    )


q3 = Exercise(
    LESSON,
    3,
    "progress as server-sent events",
    "progress",
    _check_progress,
    hint=[
        "An endpoint that returns a StreamingResponse of an async generator, labelled as an event stream.",
        "Inside progress(request), define an async generator that yields f'data: {n}\\n\\n' "
        "for n from 1 to 5 with await asyncio.sleep(0.1) in between, and return "
        "StreamingResponse(that_generator(), media_type='text/event-stream').",
    ],
    solution_code="""
import asyncio

from starlette.responses import StreamingResponse


async def progress(request):
    async def events():
        for n in range(1, 6):
            yield f"data: {n}\\n\\n"  # one event: a data line, then a blank line
            await asyncio.sleep(0.1)

    return StreamingResponse(events(), media_type="text/event-stream")
""",
)

EXERCISES = [q1, q2, q3]
