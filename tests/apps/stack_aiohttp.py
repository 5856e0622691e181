"""aiohttp for tests/test_stacks.py: ``python -m aiohttp.web stack_aiohttp:make_app``.

``/stream`` writes each piece to a ``StreamResponse``; ``/compressed`` is the same after
``enable_compression()``.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from stack_app import Shape, headers


async def stream(request: web.Request) -> web.StreamResponse:
    shape = Shape(request.query_string)
    response = web.StreamResponse(headers=dict(headers(shape)))
    if request.path == "/compressed":
        response.enable_compression()
    await response.prepare(request)
    for i in range(shape.count):
        await asyncio.sleep(shape.pause(i))
        await response.write(shape.piece(i))
    await response.write_eof()
    return response


def make_app(argv: list[str]) -> web.Application:
    app = web.Application()
    app.router.add_get("/stream", stream)
    app.router.add_get("/compressed", stream)
    return app
