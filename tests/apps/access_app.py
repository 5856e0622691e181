"""Apps for tests/test_access.py, importable by name so gunicorn can load ``access_app:app``.

Both the WSGI ``app`` and the ASGI ``asgi_app`` answer:

* ``/parts?count=5&gap=0.15``: a slow text stream (``?accel=no`` asks nginx not to buffer);
* ``/seen``: what reached the app, as JSON: how many requests it has had in this process, and
  the query string, cookies and headers of this one (so a test can see the secret was removed).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

from stack_app import answer_lifespan  # tests/apps, beside this file

calls = {"count": 0}


def _parts(query: str) -> tuple[int, float, bool]:
    args = parse_qs(query)
    count = int(args.get("count", ["5"])[0])
    gap = float(args.get("gap", ["0.15"])[0])
    return count, gap, args.get("accel", [""])[0] == "no"


def _line(i: int) -> bytes:
    return f"part {i} ".encode() + b"streaming is measured, not described. " * 3 + b"\n"


def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    calls["count"] += 1
    query = environ.get("QUERY_STRING", "")
    if environ.get("PATH_INFO") == "/seen":
        seen = {
            "count": calls["count"],
            "query": query,
            "cookie": environ.get("HTTP_COOKIE", ""),
            "headers": sorted(key for key in environ if key.startswith("HTTP_")),
            "uri": environ.get("REQUEST_URI", environ.get("RAW_URI", "")),
        }
        body = json.dumps(seen).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return iter([body])
    count, gap, accel = _parts(query)
    headers = [("Content-Type", "text/plain")]
    if accel:
        headers.append(("X-Accel-Buffering", "no"))
    start_response("200 OK", headers)

    def body() -> Iterator[bytes]:
        for i in range(count):
            if i:
                time.sleep(gap)
            yield _line(i)

    return body()


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    calls["count"] += 1
    query = scope.get("query_string", b"").decode("latin-1")
    if scope["path"] == "/seen":
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        seen = {
            "count": calls["count"],
            "query": query,
            "cookie": headers.get("cookie", ""),
            "headers": sorted("HTTP_" + name.upper().replace("-", "_") for name in headers),
            "uri": "",
        }
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(seen).encode()})
        return
    count, gap, accel = _parts(query)
    headers = [(b"content-type", b"text/plain")]
    if accel:
        headers.append((b"x-accel-buffering", b"no"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for i in range(count):
        if i:
            await asyncio.sleep(gap)
        await send({"type": "http.response.body", "body": _line(i), "more_body": True})
    await send({"type": "http.response.body", "body": b""})
