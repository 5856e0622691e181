"""The streaming app every real stack of tests/test_stacks.py serves, as WSGI and as ASGI.

Importable by name (uWSGI, hypercorn and daphne load it in processes of their own). One
resource, ``/stream``, with its shape in the query string:

* ``count`` pieces (5), ``gap`` seconds apart (0.2), each ``size`` bytes long (60), text/plain
  with ``nosniff`` (so no browser sniffing enters the diagnosis);
* ``silence=S&after=K``: S seconds of silence after piece K, for the proxy cuts;
* ``type=event-stream`` sends each piece as one server-sent event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs


class Shape:
    """What one request asked for, read from its query string."""

    def __init__(self, query: str) -> None:
        args = {key: values[-1] for key, values in parse_qs(query).items()}
        self.count = int(args.get("count", 5))
        self.gap = float(args.get("gap", 0.2))
        self.size = int(args.get("size", 60))
        self.silence = float(args.get("silence", 0))
        self.after = int(args.get("after", 1))
        self.events = args.get("type") == "event-stream"

    @property
    def content_type(self) -> str:
        return "text/event-stream" if self.events else "text/plain; charset=utf-8"

    def piece(self, i: int) -> bytes:
        head = f"piece {i} "
        if self.events:
            return (f"data: {head}" + "x" * max(self.size - len(head) - 8, 1) + "\n\n").encode()
        return (head + "streaming is measured " * (self.size // 22 + 1))[: self.size - 1].encode() + b"\n"

    def pause(self, i: int) -> float:
        """Seconds to wait before piece ``i``."""
        if i == 0:
            return 0.0
        return self.gap + (self.silence if i == self.after else 0.0)


def headers(shape: Shape) -> list[tuple[str, str]]:
    return [
        ("Content-Type", shape.content_type),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
    ]


def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    """WSGI: the stream, one piece per yield. start_response is called before the body is
    returned (granian 2.8 drops the headers of a start_response called in the first iteration,
    which PEP 3333 allows)."""
    shape = Shape(environ.get("QUERY_STRING", ""))
    start_response("200 OK", headers(shape))

    def pieces() -> Iterator[bytes]:
        for i in range(shape.count):
            time.sleep(shape.pause(i))
            yield shape.piece(i)

    return pieces()


async def answer_lifespan(receive: Any, send: Any) -> None:
    """Answer an ASGI server's lifespan messages (nothing to start or stop) until shutdown.

    An ASGI app calls it for a ``lifespan`` scope, so that no server logs the app as one that
    does not support lifespan. Also used by tests/apps/access_app.py and
    benchmarks/bench_testing.py.
    """
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """ASGI: the same stream, one ``http.response.body`` message per piece."""
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    shape = Shape(scope.get("query_string", b"").decode())
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers(shape)],
        }
    )
    for i in range(shape.count):
        await asyncio.sleep(shape.pause(i))
        await send({"type": "http.response.body", "body": shape.piece(i), "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
