"""Apps for tests/test_doctor.py: each one streams, or is held back by one known layer.

Every stream is ``COUNT`` parts ``GAP`` seconds apart, so a held-back one is easy to tell from
a streamed one with generous margins. The WSGI ones are a streamkit App (which records when it
produced each item) and a Flask app (for Flask-Compress); the ASGI one is a Starlette app (for
its GZipMiddleware under uvicorn).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from streamkit import App, Response

COUNT = 5
GAP = 0.15
LINE = "part {i}: streaming is measured, not described.\n"

app = App(__name__)


def parts(count: int = COUNT, gap: float = GAP) -> Iterator[str]:
    for i in range(count):
        if i:
            time.sleep(gap)
        yield LINE.format(i=i)


@app.route("/parts")
def plain_parts() -> Response:
    return Response(parts(), mimetype="text/plain")


@app.route("/nosniff")
def nosniff_parts() -> Response:
    response = Response(parts(), mimetype="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@app.route("/accel-off")
def accel_off() -> Response:
    """Asks a proxy in front not to buffer (nginx reads and removes this header)."""
    response = Response(parts(), mimetype="text/plain")
    response.headers["X-Accel-Buffering"] = "no"
    return response


@app.route("/sized")
def sized() -> Response:
    """Content-Length known in advance (the lines have a fixed length), sent over time."""
    length = sum(len(LINE.format(i=i).encode()) for i in range(COUNT))
    response = Response(parts(), mimetype="text/plain")
    response.headers["Content-Length"] = str(length)
    return response


@app.route("/all-first")
def all_first() -> Response:
    """Makes every part before yielding the first: the classic 'list, then return'."""
    made = list(parts())
    return Response(iter(made), mimetype="text/plain")


@app.route("/events")
def events() -> Response:
    """An event stream without Cache-Control: no-cache."""

    def generate() -> Iterator[str]:
        for i, _ in enumerate(parts()):
            yield f"data: event {i}\n\n"

    return Response(generate(), mimetype="text/event-stream")


def flask_compress_app(algorithm: str):
    """A Flask app streaming the parts through Flask-Compress, which compresses a streamed
    response chunk by chunk without flushing (set to offer only ``algorithm``)."""
    from flask import Flask
    from flask import Response as FlaskResponse
    from flask_compress import Compress

    flask_app = Flask("zoo_flask")
    flask_app.config["COMPRESS_ALGORITHM_STREAMING"] = [algorithm]
    flask_app.config["COMPRESS_ALGORITHM"] = [algorithm]
    Compress(flask_app)

    @flask_app.route("/parts")
    def flask_parts() -> FlaskResponse:
        return FlaskResponse(parts(), mimetype="text/plain")

    return flask_app


def starlette_gzip_app():
    """A Starlette app streaming the parts through Starlette's own GZipMiddleware."""
    import asyncio

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def generate():
        for i in range(COUNT):
            if i:
                await asyncio.sleep(GAP)
            yield LINE.format(i=i)

    async def endpoint(request):
        return StreamingResponse(generate(), media_type="text/plain")

    return Starlette(
        routes=[Route("/parts", endpoint)],
        middleware=[Middleware(GZipMiddleware, minimum_size=10)],
    )
