"""tornado for tests/test_stacks.py: ``python stack_tornado.py PORT``.

``/stream`` writes each piece and awaits ``flush()``; ``/unflushed`` only writes, so tornado
sends everything at the end, with a Content-Length.
"""

from __future__ import annotations

import asyncio
import sys

import tornado.web
from stack_app import Shape, headers


class Stream(tornado.web.RequestHandler):
    async def get(self) -> None:
        shape = Shape(self.request.query)
        for name, value in headers(shape):
            self.set_header(name, value)
        for i in range(shape.count):
            await asyncio.sleep(shape.pause(i))
            self.write(shape.piece(i))
            if self.request.path == "/stream":
                await self.flush()


async def main(port: int) -> None:
    app = tornado.web.Application([("/stream", Stream), ("/unflushed", Stream)])
    app.listen(port, address="127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
