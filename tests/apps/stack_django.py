"""Django over ASGI for tests/test_stacks.py: ``stack_django:application``.

``/async`` streams an async generator (Django sends each piece as it comes); ``/sync`` returns
a sync iterator, which Django under ASGI collects whole before sending. The environment
variable ``STACK_DJANGO_GZIP=1`` adds ``django.middleware.gzip.GZipMiddleware`` in front of the
middleware ``startproject`` lists that needs no database.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="streamkit-tests-only",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    # startproject's middleware that needs no database, GZipMiddleware first when asked for
    MIDDLEWARE=(["django.middleware.gzip.GZipMiddleware"] if os.environ.get("STACK_DJANGO_GZIP") else [])
    + [
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
)

from django.core.asgi import get_asgi_application  # noqa: E402 - after settings
from django.http import HttpRequest, StreamingHttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from stack_app import Shape, headers  # noqa: E402


def _response(content: object, shape: Shape) -> StreamingHttpResponse:
    response = StreamingHttpResponse(content, content_type=shape.content_type)
    for name, value in headers(shape)[1:]:
        response[name] = value
    return response


async def async_stream(request: HttpRequest) -> StreamingHttpResponse:
    shape = Shape(request.META.get("QUERY_STRING", ""))

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(shape.count):
            await asyncio.sleep(shape.pause(i))
            yield shape.piece(i)

    return _response(pieces(), shape)


def sync_stream(request: HttpRequest) -> StreamingHttpResponse:
    shape = Shape(request.META.get("QUERY_STRING", ""))

    def pieces() -> Iterator[bytes]:
        for i in range(shape.count):
            time.sleep(shape.pause(i))
            yield shape.piece(i)

    return _response(pieces(), shape)


urlpatterns = [path("async", async_stream), path("sync", sync_stream)]

application = get_asgi_application()
