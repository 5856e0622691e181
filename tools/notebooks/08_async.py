# Source of notebooks/08_async.ipynb (build with: make notebooks NB=08).

# %% [markdown]
# # 08 · Async streaming: ASGI, uvicorn, Starlette, FastAPI and Quart
#
# Everything so far was WSGI (lesson 01): the server calls the app, the app returns an iterable, and the
# server pulls one item after another from it, each request in a thread of its own. Much of
# the Python code that streams today is **async** instead: FastAPI and Starlette's
# `StreamingResponse`, Quart (Flask's async twin), token-by-token answers from language
# models. Those apps speak **ASGI**: the server calls `await app(scope, receive, send)`, and
# the app *pushes* each piece of body with `await send(...)`. Many requests share one thread
# and one **event loop**, which switches between them whenever one of them `await`s.
#
# That sharing is the source of this lesson's pitfalls. We measure them all on a real uvicorn.
#
# **In this notebook (about 25 minutes):**
#
# 1. serving an ASGI app from the notebook, and what the timeline shows for it;
# 2. one blocking call in an `async` generator stalls every other request;
# 3. a plain generator runs in a thread pool, and does not;
# 4. middleware: `BaseHTTPMiddleware` and `GZipMiddleware`, at the versions installed here;
# 5. server-sent events;
# 6. Quart: `stream_with_context` and `stream_template` (lessons 02 and 03), async;
# 7. the same app shape under WSGI and under ASGI, side by side;
# 8. a checklist, and three exercises.
#
# The versions matter for section 4, so here they are:

# %%
from importlib.metadata import version

for package in ("uvicorn", "starlette", "fastapi", "quart"):
    print(package, version(package))

# %% [markdown]
# ## 1. An async stream, served from the notebook
#
# The usual way to run an ASGI app, `uvicorn.run(app)`, does not work in a notebook cell:
# it starts an event loop of its own, and the kernel is already running one, so it fails
# with a `RuntimeError` ("asyncio.run() cannot be called from a running event loop"; the
# words differ between Python versions). It would also block the cell until the server
# stops. `streamkit.serve` sees that the app is an ASGI app (an `async` callable) and runs
# uvicorn in a **background thread with an event loop of its own**; the kernel's loop is
# left alone, and nothing the server does is printed in your cells.
#
# Here is a Starlette app whose `/parts` streams five ticks, 0.1 s apart. The body is an
# **async generator**: `async def` with `yield` inside. Between ticks it `await`s
# `asyncio.sleep`, which hands the event loop back to uvicorn until the time is up.

# %%
import asyncio

from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from streamkit import compare, serve


async def ticks(count=5, gap=0.1):
    for i in range(count):
        yield f"tick {i}\n"
        await asyncio.sleep(gap)  # the loop serves other requests meanwhile


async def parts(request):
    return StreamingResponse(ticks(), media_type="text/plain")


app = Starlette(routes=[Route("/parts", parts)])
server = serve(app, name="async-starlette")
print(server)

# %%
streamed = server.get("/parts")
streamed

# %% [markdown]
# The same three lanes as for WSGI apps, filled in the ASGI way:
#
# * **produced**: each `http.response.body` message the app sent, when it called `send()`;
# * **written**: when uvicorn's `send()` returned for it. uvicorn hands the bytes to the
#   socket inside `send()`, so that is when they left, unless a slow client had filled the
#   socket's buffer (then they were queued, and the next `send()` waits);
# * **received**: each chunk as the probe read it.

# %%
print(
    f"{len(streamed.produced)} messages produced, {len(streamed.written)} written, "
    f"{len(streamed.chunks)} chunks received: {streamed.verdict}"
)

# %% [markdown]
# A FastAPI app is a Starlette app with more on top, so a FastAPI user streams the same way.
# `serve()` takes it as it is:

# %%
from fastapi import FastAPI

api = FastAPI()


@api.get("/tokens")
async def tokens():
    return StreamingResponse(ticks(), media_type="text/plain")


fast = serve(api, name="async-fastapi")
from_fastapi = fast.get("/tokens")
compare(streamed, from_fastapi, labels=["Starlette", "FastAPI"])

# %% [markdown]
# ## 2. One blocking call stalls every request
#
# The event loop runs one piece of code at a time. It switches to another request only when
# the running code `await`s something that is not ready yet. Code that waits *without*
# awaiting (`time.sleep`, `requests.get`, a database driver that is not async, a long
# computation) keeps the loop to itself for the whole wait. Inside an `async def` generator
# that is an easy mistake: the code looks the same, and for a single request it even
# streams.
#
# To see it we need two requests at once. `two_requests` sends a request, and the same
# request again 0.15 s later, from two threads of the notebook:

# %%
import time
from concurrent.futures import ThreadPoolExecutor


def two_requests(server, path, later=0.15):
    """Request `path` twice, the second request `later` seconds after the first. Both traces
    come back in the order they were served: by when their first byte arrived."""
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(server.get, path)
        time.sleep(later)
        second = pool.submit(server.get, path)
        traces = [first.result(), second.result()]
    return sorted(traces, key=lambda trace: trace.started + trace.chunks[0].t)


async def blocking_ticks(count=5, gap=0.1):
    for i in range(count):
        yield f"tick {i}\n"
        time.sleep(gap)  # the mistake: the whole event loop sleeps


async def blocking(request):
    return StreamingResponse(blocking_ticks(), media_type="text/plain")


loop_app = Starlette(routes=[Route("/parts", parts), Route("/blocking", blocking)])
shared = serve(loop_app, name="async-blocking")
first_blocked, second_blocked = two_requests(shared, "/blocking")
first_awaited, second_awaited = two_requests(shared, "/parts")
compare(
    first_blocked, second_blocked, first_awaited, second_awaited,
    labels=["time.sleep: first", "time.sleep: second", "await asyncio.sleep: first", "await asyncio.sleep: second"],
)

# %% [markdown]
# Each row starts when its own request was sent. With `time.sleep`, the second request
# was sent 0.15 s after the first and then got *nothing*, not even its headers, until the
# first stream was over: even its app only started producing then. With `await
# asyncio.sleep`, both streams ran side by side. In numbers, on one clock:

# %%
def first_byte(trace):
    return trace.started + trace.chunks[0].t


def last_byte(trace):
    return trace.started + trace.chunks[-1].t


def overlap(label, first, second):
    wait = first_byte(second) - second.started
    when = "after" if first_byte(second) >= last_byte(first) else "before"
    print(f"{label:<20} second request's first byte {wait:.2f} s after it was sent, {when} the first stream ended")


overlap("time.sleep", first_blocked, second_blocked)
overlap("await asyncio.sleep", first_awaited, second_awaited)

# %% [markdown]
# With ten users instead of two, the tenth waits for nine whole streams. The fixes:
#
# * wait with `await`: `await asyncio.sleep(...)`, an async HTTP client (`httpx.AsyncClient`),
#   an async database driver;
# * a blocking call you cannot replace goes to a worker thread:
#   `result = await asyncio.to_thread(blocking_call, arg)` (exercise 2);
# * or write the body as a plain generator, which Starlette runs in a thread pool (next).

# %% [markdown]
# ## 3. A plain generator runs in the thread pool
#
# `StreamingResponse` also takes an ordinary (sync) generator. It cannot run such a
# generator on the event loop, since every `next()` might block; so it runs each `next()` in
# a worker thread (anyio's thread pool) and awaits the result. A `time.sleep` there blocks
# one worker thread, not the loop:

# %%
import threading

seen_threads = set()


def sync_ticks(count=5, gap=0.1):
    seen_threads.add(threading.current_thread().name)
    for i in range(count):
        yield f"tick {i}\n"
        time.sleep(gap)  # fine here: a worker thread waits, the loop does not


async def threadpool(request):
    return StreamingResponse(sync_ticks(), media_type="text/plain")


pool_app = Starlette(routes=[Route("/threadpool", threadpool)])
pooled = serve(pool_app, name="async-threadpool")
first_pooled, second_pooled = two_requests(pooled, "/threadpool")
overlap("sync generator", first_pooled, second_pooled)
print("the generator ran in:", ", ".join(sorted(seen_threads)))
compare(first_pooled, second_pooled, labels=["sync generator: first", "sync generator: second"])

# %% [markdown]
# The price: every open stream holds a worker thread between items, and the pool is
# limited (anyio's default limiter), so a sync generator is the right tool for *some*
# blocking work, not for thousands of idle streams. An async generator that awaits costs
# no thread at all while it waits.

# %% [markdown]
# ## 4. Middleware: `BaseHTTPMiddleware` and `GZipMiddleware`
#
# Two pieces of Starlette middleware have a history with streams:
#
# * `BaseHTTPMiddleware` (the base of middleware written with a `dispatch(request,
#   call_next)` method) hands `dispatch` a response whose body it runs in a separate task
#   and passes on through a stream between the two; people have reported it holding back
#   or breaking streaming responses;
# * `GZipMiddleware` compresses responses. Older versions released compressed bytes about
#   32 KiB at a time, which holds a slow stream back to the end; newer ones flush after
#   every message.
#
# Rather than trust either story, we measure the versions installed here. To see what the
# app itself produced (and not the compressed bytes), the app gets
# `ASGIWatchMiddleware` *innermost*: it notes the app's own messages as `produced`, while
# `written` shows what left uvicorn. Starlette runs the middleware added last outermost, so
# it is added first.

# %%
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.gzip import GZipMiddleware

from streamkit.recording_asgi import ASGIWatchMiddleware


class Stamp(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        response = await call_next(request)
        response.headers["X-Stamp"] = "seen"
        return response


async def events(request):
    async def body():
        for i in range(5):
            yield f"event: tick\ndata: {i}\n\n"
            await asyncio.sleep(0.1)

    return StreamingResponse(body(), media_type="text/event-stream")


def layered(middleware, **options):
    """The /parts and /events app with ASGIWatchMiddleware innermost, and `middleware` around it."""
    layered_app = Starlette(routes=[Route("/parts", parts), Route("/events", events)])
    layered_app.add_middleware(ASGIWatchMiddleware)
    layered_app.add_middleware(middleware, **options)
    return layered_app


stamped = serve(layered(Stamp), name="async-base-middleware")
zipped = serve(layered(GZipMiddleware), name="async-gzip")
through_base = stamped.get("/parts")
gzipped = zipped.get("/parts")
gzipped_events = zipped.get("/events")
compare(
    streamed, through_base, gzipped, gzipped_events,
    labels=["no middleware", "BaseHTTPMiddleware", "GZipMiddleware, text/plain", "GZipMiddleware, text/event-stream"],
)

# %%
def pieces(trace):
    """The chunks that carried body bytes (gzip's header or trailer may come on their own)."""
    return [chunk for chunk in trace.chunks if chunk.size]


def describe(label, trace):
    encoding = trace.headers.get("Content-Encoding", "none")
    print(f"  {label:<34} {trace.verdict}, {len(pieces(trace))} pieces, Content-Encoding: {encoding}")


print(f"Measured with starlette {version('starlette')}:")
describe("no middleware", streamed)
describe("BaseHTTPMiddleware", through_base)
describe("GZipMiddleware, text/plain", gzipped)
describe("GZipMiddleware, text/event-stream", gzipped_events)
print(f"  the stamp reached the client: {through_base.headers.get('X-Stamp') == 'seen'}")

# %% [markdown]
# At the versions installed here (printed above) both pass the stream on: each tick
# leaves as it is made. `GZipMiddleware` compresses `text/plain` and flushes after every
# message, so each piece is decodable at once; and it leaves `text/event-stream` alone
# altogether. If your project pins an older Starlette, run the same cells there: that is
# the point of measuring rather than remembering.

# %% [markdown]
# ## 5. Server-sent events
#
# Server-sent events (lesson 06) are the usual format for pushing updates and language
# model tokens to a browser: `text/event-stream`, each event a few `field: value` lines
# ended by a blank line. In FastAPI it is a `StreamingResponse` again, with the right media
# type and `Cache-Control: no-cache` so that no cache in between keeps a copy:

# %%
@api.get("/answer")
async def answer():
    async def events():
        for token in ("Streams", " are", " sent", " token", " by", " token."):
            yield f"data: {token}\n\n"
            await asyncio.sleep(0.1)
        yield "event: done\ndata: end\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


sse = fast.get("/answer")
data = [line[len("data: "):] for line in sse.body.decode().splitlines() if line.startswith("data: ")]
print(sse.headers["Content-Type"], "|", sse.verdict, "|", len(pieces(sse)), "pieces")
print("tokens:", "".join(data[:-1]))

# %% [markdown]
# One event per piece, as each token was made. (If your notebook runs on JupyterHub or
# Binder and a browser reads the stream through jupyter-server-proxy, note that the proxy
# buffers whole responses unless the request's `Accept` header is exactly
# `text/event-stream`, which is what a browser's `EventSource` sends.)

# %% [markdown]
# ## 6. Quart: streamed templates and `stream_with_context`, async
#
# Quart is Flask rewritten for ASGI, names and all. The three techniques of lessons 01-03
# are there:
#
# * a view returns an async generator: it streams;
# * `stream_with_context` keeps `request` available while the stream runs;
# * `stream_template` and `stream_template_string` stream a template part by part.
#
# Without `stream_with_context`, the generator runs after the view has returned, when
# Quart's request context is gone, exactly as in Flask:

# %%
import quart

qapp = quart.Quart(__name__)


@qapp.route("/greet")
async def greet():
    @quart.stream_with_context
    async def body():
        name = quart.request.args.get("name", "world")  # needs the request context
        for word in ("Hello", ", ", name, "!\n"):
            yield word.encode()
            await asyncio.sleep(0.1)

    return body(), {"Content-Type": "text/plain; charset=utf-8"}


@qapp.route("/greet-without")
async def greet_without():
    async def body():
        yield b"Hello, "
        yield quart.request.args.get("name", "world").encode()  # no context any more

    return body(), {"Content-Type": "text/plain; charset=utf-8"}


flask_twin = serve(qapp, name="async-quart")
greeted = flask_twin.get("/greet?name=Ada")
broken = flask_twin.get("/greet-without?name=Ada")
print("with stream_with_context:   ", greeted.verdict, greeted.body)
print("without stream_with_context:", broken.verdict, broken.body, "-", type(broken.server_error).__name__, broken.server_error)

# %% [markdown]
# ### `stream_template` has no `enable_buffering`
#
# With Jinja2's `TemplateStream` (lesson 02), `enable_buffering(5)` joins every five
# template parts into one item: fewer, bigger writes. Quart's `stream_template` is built on
# Jinja2's async `generate_async()` and returns a plain async generator, which has no
# `enable_buffering`. Every part becomes a message, and every message a write and a chunk.
# The same template, ten rows, on both:

# %%
from streamkit import App, Response, stream_template_string

ROWS = "<ul>{% for row in rows %}<li>{{ row }}</li>{% endfor %}</ul>"


@qapp.route("/rows")
async def quart_rows():
    return await quart.stream_template_string(ROWS, rows=range(10))


wsgi_app = App(__name__)


@wsgi_app.route("/rows")
def wsgi_rows():
    stream = stream_template_string(ROWS, rows=range(10))
    stream.enable_buffering(5)
    return Response(stream)


wsgi_server = serve(wsgi_app, name="async-wsgi")
quart_parts = flask_twin.get("/rows")
grouped_parts = wsgi_server.get("/rows")
print(f"Quart stream_template_string:         {len(quart_parts.written)} writes, {len(quart_parts.chunks)} chunks")
print(f"streamkit + enable_buffering(5), WSGI: {len(grouped_parts.written)} writes, {len(grouped_parts.chunks)} chunks")
print("same page:", quart_parts.body == grouped_parts.body)

# %% [markdown]
# For a page of ten rows that hardly matters; for ten thousand rows it is ten thousand
# tiny chunks, each with its framing and a system call. The remedy is a few lines: group
# the parts yourself.

# %%
async def grouped(parts, size):
    """Join every `size` non-empty parts into one item, like enable_buffering(size)."""
    batch = []
    async for part in parts:
        if part:
            batch.append(part)
        if len(batch) == size:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


template_streams = []  # what Quart's stream_template_string returned, as the view saw it


@qapp.route("/rows-grouped")
async def quart_rows_grouped():
    parts = await quart.stream_template_string(ROWS, rows=range(10))
    template_streams.append(parts)
    return grouped(parts, 5), {"Content-Type": "text/html; charset=utf-8"}


regrouped = flask_twin.get("/rows-grouped")
returned = template_streams[-1]
print(f"stream_template_string returned: {type(returned).__name__}; has enable_buffering: {hasattr(returned, 'enable_buffering')}")
print(f"Quart, grouped by 5: {len(regrouped.written)} writes; same page: {regrouped.body == quart_parts.body}")

# %% [markdown]
# ## 7. The same app shape under WSGI and under ASGI
#
# The blocking mistake of section 2 is an ASGI mistake. A WSGI server gives every request a
# thread of its own, so the *same* generator with `time.sleep` in it streams two requests
# side by side without trouble. Here is the shape of section 2 as a streamkit (WSGI) app,
# with a plain generator, under werkzeug, next to the async one under uvicorn:

# %%
@wsgi_app.route("/blocking")
def wsgi_blocking():
    def body():
        for i in range(5):
            yield f"tick {i}\n"
            time.sleep(0.1)  # blocks this request's own thread only

    return Response(body(), mimetype="text/plain")


first_wsgi, second_wsgi = two_requests(wsgi_server, "/blocking")
overlap("WSGI, werkzeug", first_wsgi, second_wsgi)
overlap("ASGI, uvicorn", first_blocked, second_blocked)
compare(
    first_wsgi, second_wsgi, first_blocked, second_blocked,
    labels=["WSGI + time.sleep: first", "WSGI + time.sleep: second", "ASGI + time.sleep: first", "ASGI + time.sleep: second"],
)

# %% [markdown]
# The trade: WSGI pays a thread per open stream (fine for dozens, costly for thousands of
# idle connections); ASGI holds thousands of waiting streams on one thread, *if* every wait
# is an `await`.

# %% [markdown]
# ### When the client leaves
#
# Lesson 06's rule holds here too: clean up in `finally`. Under WSGI the server notices a
# client that left at its next failed write and closes the generator. Starlette's
# `StreamingResponse` listens for the client's disconnect while it streams, and cancels the
# stream at once: the generator gets `CancelledError` where it was waiting, and its `finally`
# runs. Measured with a client that reads the headers and hangs up:

# %%
import socket

ended = []
cleaned_up = threading.Event()


async def endless(request):
    async def body():
        try:
            while True:
                yield "tick\n"
                await asyncio.sleep(0.1)
        except BaseException as error:
            ended.append(type(error).__name__)
            raise
        finally:
            cleaned_up.set()  # release whatever the stream held

    return StreamingResponse(body(), media_type="text/plain")


leaving = serve(Starlette(routes=[Route("/endless", endless)]), name="async-leaving")
# The kit's servers answer only you: the token line shows it is you where the system can't (a Mac).
with socket.create_connection(("127.0.0.1", leaving.port)) as client:
    client.sendall(f"GET /endless HTTP/1.1\r\nHost: notebook\r\nX-Streamkit-Token: {leaving.token}\r\n\r\n".encode())
    client.recv(1000)  # the headers and the first tick; then the client hangs up
    left = time.monotonic()
print("finally ran:", cleaned_up.wait(5), f"{time.monotonic() - left:.3f} s after the client left;",
      "the generator got", ", ".join(ended))

# %% [markdown]
# ## 8. A checklist for async streams
#
# 1. **Every wait is an `await`.** No `time.sleep`, `requests`, or blocking drivers inside
#    `async def`; if you must, `await asyncio.to_thread(...)`.
# 2. **A plain generator is fine** in `StreamingResponse`: it runs in the thread pool, one
#    thread per open stream.
# 3. **Measure middleware at your versions**, with two requests at once when in doubt.
# 4. **Clean up in `finally`**: when a client leaves, Starlette cancels the stream, and the
#    generator gets `CancelledError` at its next `await`; `finally` runs.
# 5. **In a notebook, `serve(app)`**, not `uvicorn.run(app)`.
# 6. Everything from lesson 07 still applies: proxies, gzip in front, timeouts.

# %% [markdown]
# ## 9. Exercises

# %%
from streamkit.exercises import lesson08 as ex

# %% [markdown]
# ### Exercise 1: a countdown that shares the loop
#
# Write an async generator `countdown(n)` that yields `"3\n"`, `"2\n"`, `"1\n"` for
# `countdown(3)`, with a 0.1 s pause after each line, and lets other requests run during
# the pauses. The check streams `countdown(5)` with Starlette on uvicorn and sends two
# requests 0.15 s apart: they must overlap.

# %%
async def countdown(n):
    ...  # your code here


# %%
ex.q1.check(countdown)

# %%
ex.q1.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 2: a blocking call, kept off the loop
#
# `ex.slow_lookup(word)` stands for a library call you cannot make async: it blocks for
# 0.1 s and returns the word in capitals. Write an async generator `definitions(words)`
# that yields `f"{word}: {meaning}\n"` for each word, calling `slow_lookup`, without
# blocking the event loop.

# %%
from streamkit.exercises.lesson08 import slow_lookup

print(slow_lookup("loop"))  # after 0.1 s, during which this thread could do nothing else


async def definitions(words):
    ...  # your code here


# %%
ex.q2.check(definitions)

# %%
ex.q2.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 3: progress as server-sent events
#
# Write a Starlette endpoint `progress(request)` that streams five server-sent events whose
# data are `1` to `5`, 0.1 s apart, as `text/event-stream`. The check serves it at
# `/progress`.

# %%
async def progress(request):
    ...  # your code here


# %%
ex.q3.check(progress)

# %%
ex.q3.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ## Checks

# %%
ticks_body = b"".join(f"tick {i}\n".encode() for i in range(5))
# An async stream on uvicorn: five messages produced, written and received, one by one.
for trace in (streamed, from_fastapi, first_awaited, second_awaited, first_pooled, second_pooled):
    assert trace.body == ticks_body and trace.verdict == "streamed" and len(pieces(trace)) == 5, trace
assert len(streamed.produced) == len(streamed.written) == 5
assert all(made.t <= sent.t for made, sent in zip(streamed.produced, streamed.written))
# time.sleep in an async generator: the second request waits for the whole first stream.
assert first_blocked.body == second_blocked.body == ticks_body
assert first_byte(second_blocked) >= last_byte(first_blocked)
assert second_blocked.started + second_blocked.produced[0].t >= last_byte(first_blocked) - 0.05
# await asyncio.sleep, a sync generator in the thread pool, and WSGI threads: they overlap.
for first, second in ((first_awaited, second_awaited), (first_pooled, second_pooled), (first_wsgi, second_wsgi)):
    assert first_byte(second) < last_byte(first)
assert seen_threads == {"AnyIO worker thread"}
# Middleware at the installed versions: both pass the stream on; gzip only for text/plain.
assert through_base.verdict == "streamed" and len(pieces(through_base)) == 5
assert through_base.headers["X-Stamp"] == "seen" and len(through_base.produced) == 5
assert gzipped.verdict == "streamed" and len(pieces(gzipped)) == 5
assert gzipped.headers["Content-Encoding"] == "gzip" and gzipped.body == ticks_body
assert sum(event.size for event in gzipped.written) == gzipped.wire_size != gzipped.size
assert "Content-Encoding" not in gzipped_events.headers and gzipped_events.verdict == "streamed"
# SSE: one event per piece, text/event-stream.
assert sse.headers["Content-Type"].startswith("text/event-stream") and sse.verdict == "streamed"
assert len(pieces(sse)) == 7 and "".join(data[:-1]) == "Streams are sent token by token."
# Quart: stream_with_context works; without it the stream breaks; no enable_buffering.
assert greeted.body == b"Hello, Ada!\n" and greeted.verdict == "streamed"
assert broken.verdict == "broken" and isinstance(broken.server_error, RuntimeError)
assert len(quart_parts.written) == 32 and len(grouped_parts.written) == len(regrouped.written) == 7
assert type(returned).__name__ == "async_generator" and not hasattr(returned, "enable_buffering")
assert quart_parts.body == grouped_parts.body == regrouped.body
# A client that leaves: the stream is cancelled and the generator's finally runs.
assert cleaned_up.is_set() and ended == ["CancelledError"] and leaving.errors == []
print("all checks passed")

# %% [markdown]
# The servers of this lesson keep running, so after *Run All* you can go back to any section
# or exercise, or try requests of your own. Running the notebook again replaces them (each
# `serve()` has a `name`), `server.stop()` stops one, and restarting the kernel stops them
# all.
