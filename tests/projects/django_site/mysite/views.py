import asyncio
import time

from django.http import StreamingHttpResponse


def report(request):
    """Each line of the report as it is computed (a sync generator)."""

    def lines():
        for i in range(5):
            if i:
                time.sleep(0.1)
            yield f"line {i}\n"

    return StreamingHttpResponse(lines(), content_type="text/plain")


async def report_async(request):
    """The same report from an async generator, for the ASGI server."""

    async def lines():
        for i in range(5):
            if i:
                await asyncio.sleep(0.1)
            yield f"line {i}\n"

    return StreamingHttpResponse(lines(), content_type="text/plain")
