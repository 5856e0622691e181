"""A FastAPI chat endpoint that streams its answer as server-sent events."""

import asyncio

from asgi_gzip import GZipMiddleware
from fastapi import FastAPI
from fastapi.responses import StreamingResponse


def create_app(compress: bool = True) -> FastAPI:
    app = FastAPI()
    if compress:
        app.add_middleware(GZipMiddleware, minimum_size=10)

    @app.get("/answer")
    async def answer():
        async def tokens():
            for word in ["Streams", " are", " measured,", " not", " described."]:
                await asyncio.sleep(0.1)
                yield f"data: {word}\n\n"

        return StreamingResponse(tokens(), media_type="text/plain")

    return app


app = create_app()
