# Source of notebooks/04_what_breaks.ipynb (build with: make notebooks).

# %% [markdown]
# # 04 · What breaks streaming
#
# A generator is necessary for streaming, but not enough. Everything between your generator
# and the user's screen can hold the pieces back: middleware, headers, the HTTP version, the
# client. None of them raises an error; the stream just quietly turns into one late blob. In
# this lesson we break a working stream six ways, and measure each one.
#
# **In this notebook (about 30 minutes):**
#
# 1. a buffering middleware: werkzeug's `ProfilerMiddleware`;
# 2. `Content-Length` against chunked;
# 3. HTTP/1.0;
# 4. headers held until the first item, and the `yield b""` remedy;
# 5. a client that reads in big blocks;
# 6. errors after the headers have gone out;
# 7. asking the kit which layer broke it: `diagnose()`, and a header for every response
#    with `after_request`;
# 8. three exercises.

# %% [markdown]
# Our reference stream: five parts, 0.1 s apart.

# %%
import socket
import time

import requests
from werkzeug.middleware.profiler import ProfilerMiddleware

from streamkit import App, Response, abort, compare, request, serve

app = App(__name__)


def five_parts():
    for n in range(1, 6):
        yield f"part {n}\n"
        time.sleep(0.1)


@app.route("/parts")
def parts():
    return Response(five_parts(), mimetype="text/plain")


server = serve(app, name="breaks")
baseline = server.get("/parts")
baseline

# %% [markdown]
# ## 1. A middleware that buffers
#
# A WSGI middleware wraps the whole app, so every response passes through it (lesson 01
# built one, `note_status`, and showed `environ`, `start_response` and the body). werkzeug's
# `ProfilerMiddleware` times each request with `cProfile`, and to time the whole request it
# collects the whole body first. (We pass `stream=None` so it does not print its statistics:
# output from a server thread would land in some random cell.)

# %%
profiled_server = serve(ProfilerMiddleware(app, stream=None), name="breaks-profiled")
profiled = profiled_server.get("/parts")
compare(baseline, profiled, labels=["plain app", "ProfilerMiddleware"])

# %% [markdown]
# The app lane looks the same in both: five items, 0.1 s apart. But behind the middleware the
# server only received them as one piece at the end, so the verdict is **buffered**. The
# trace can tell because the app records when it produced each item, even behind middleware.
#
# Any middleware that needs the whole body does this: whole-body compression, minifiers,
# ETag generators, anything that calls `response.get_data()`. The fix is a middleware that
# passes the app's iterable on item by item (exercise 1), or no such middleware on streaming
# routes.

# %% [markdown]
# ## 2. `Content-Length` against chunked
#
# An HTTP/1.1 response must say where its body ends. Either it announces a `Content-Length`
# up front, or it uses `Transfer-Encoding: chunked`, where every piece carries its own size
# and an empty piece marks the end. A generator's total size is unknown when the headers go
# out, so the server chunks:

# %%
print(baseline.headers.get("Transfer-Encoding"), baseline.headers.get("Content-Length"))

# %% [markdown]
# What does chunked look like on the wire? A few lines of socket code show the raw bytes:
# each piece is preceded by its size in hex, and a size of `0` ends the body.

# %%
def raw_get(port, path, headers=None):
    """Send a bare GET over a socket; return (head, body bytes exactly as they came)."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n".encode())
        received = b""
        while data := connection.recv(65536):
            received += data
    head, _, body = received.partition(b"\r\n\r\n")
    return head.decode(), body


# The kit's servers answer only you: access_headers shows it is you where the system can't (a Mac).
head, wire = raw_get(server.port, "/parts", server.access_headers)
wire

# %% [markdown]
# If you do know the size, you may set `Content-Length` yourself. werkzeug still sends each
# item as it comes; only the chunk framing is gone:

# %%
@app.route("/parts-sized")
def parts_sized():
    size = sum(len(f"part {n}\n") for n in range(1, 6))
    return Response(five_parts(), mimetype="text/plain", headers={"Content-Length": str(size)})


@app.route("/parts-counted")
def parts_counted():
    body = "".join(five_parts())  # to count the bytes, make them all first
    return Response(body, mimetype="text/plain")


sized = server.get("/parts-sized")
counted = server.get("/parts-counted")
print("sized:  ", sized.headers.get("Content-Length"), sized.headers.get("Transfer-Encoding"))
compare(sized, counted, labels=["Content-Length set by hand", "length counted first"])

# %% [markdown]
# What costs the stream is *computing* the length: you have to make the whole body to count
# it. (That is what a framework does when a view returns a string, and what middleware does
# when it adds a `Content-Length`.)

# %% [markdown]
# ## 3. HTTP/1.0
#
# Chunked encoding came with HTTP/1.1. A server that speaks HTTP/1.0 can do neither chunks
# nor (for a generator) a length: it ends the body by closing the connection. werkzeug's own
# development server does exactly that when it runs without threads (`threaded=False`, the
# default of `werkzeug.run_simple`), and some proxies talk HTTP/1.0 to the app. We start one,
# quietly, next to our server:

# %%
import threading

from werkzeug.serving import WSGIRequestHandler, make_server


class QuietHTTP10Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.0"  # what werkzeug's server speaks without threads

    def log(self, *args):  # no access log from the server thread
        pass


if "http10" in globals():  # running this cell again: stop the previous one
    http10.shutdown()
    http10.server_close()
http10 = make_server("127.0.0.1", 0, app, request_handler=QuietHTTP10Handler)
http10.log = http10.handle_error = lambda *args: None  # keep errors quiet too
threading.Thread(target=http10.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

head_10, wire_10 = raw_get(http10.server_port, "/parts")
print(head_10.splitlines()[0])
print("chunked" in head_10, "Content-Length" in head_10)
wire_10

# %% [markdown]
# No sizes, no final `0`: just the bytes, then the connection closes. It still streams:

# %%
from streamkit import probe

over_10 = probe(f"http://127.0.0.1:{http10.server_port}/parts")
print(over_10.verdict, "-", over_10.headers.get("Transfer-Encoding"), over_10.headers.get("Content-Length"))

# %% [markdown]
# Now the catch: an app that fails half-way. Over HTTP/1.1 the final empty chunk is missing,
# so the client knows the body is broken. Over HTTP/1.0 the connection just closes, exactly
# as it does at a normal end. The client cannot tell a truncated export from a complete one.

# %%
@app.route("/fails")
def fails():
    def generate():
        yield "part 1\n"
        yield "part 2\n"
        raise ValueError("the database went away")

    return Response(generate(), mimetype="text/plain")


fails_11 = server.get("/fails")
fails_10 = probe(f"http://127.0.0.1:{http10.server_port}/fails")
print("HTTP/1.1:", fails_11.body, "->", fails_11.error)
print("HTTP/1.0:", fails_10.body, "->", fails_10.error)

# %% [markdown]
# ## 4. Headers wait for the first item
#
# werkzeug sends the status and headers together with the first item the app yields. If that
# first item takes a while (a slow query), the client does not even know the status meanwhile,
# and a proxy or a browser may give up. The remedy is an empty first item: `yield b""` sends
# the headers at once.

# %%
@app.route("/slow-start")
def slow_start():
    def generate(early):
        if early:
            yield b""  # sends the headers now
        time.sleep(0.5)  # the slow query
        yield "first row\n"

    return Response(generate(request.args.get("early")), mimetype="text/plain")


late = server.get("/slow-start")
early = server.get("/slow-start?early=1")
print(f"no empty item: headers after {late.headers_at * 1000:6.1f} ms, first byte after {late.ttfb * 1000:6.1f} ms")
print(f"yield b'':     headers after {early.headers_at * 1000:6.1f} ms, first byte after {early.ttfb * 1000:6.1f} ms")

# %% [markdown]
# ## 5. A client reading in big blocks
#
# The server can stream perfectly and the client can still wait for the end. Asking a
# file-like response for "64 KiB" with `read(65536)` means: give me 64 KiB, or the end. Our
# stream is 35 bytes, so that is the end. `read1(65536)` means: give me what is there, at
# least one byte.

# %%
def first_block_after(method):
    with requests.get(server.url + "/parts", stream=True, headers=server.access_headers) as response:
        started = time.monotonic()
        getattr(response.raw, method)(65536)
        return time.monotonic() - started


read_wait = first_block_after("read")
read1_wait = first_block_after("read1")
print(f"raw.read(65536):  first data after {read_wait * 1000:6.1f} ms")
print(f"raw.read1(65536): first data after {read1_wait * 1000:6.1f} ms")

# %% [markdown]
# The same trap hides in `shutil.copyfileobj`, in reading a pipe with `.read(n)`, and in the
# `iter_content(None)` and `iter_lines()` of lesson 01 when there is a `Content-Length`.

# %% [markdown]
# ## 6. Errors after the headers
#
# Once the first item has gone out, the status line (`200 OK`) has gone with it. An error in
# the generator can no longer turn into a 400 or a 500: all the server can do is stop, and the
# client gets a 200 with a broken body. So check the input **in the view**, before returning
# the response, while you can still choose the status:

# %%
@app.route("/rows-late")
def rows_late():
    raw = request.args.get("count", "")

    def generate():
        yield "rows:\n"
        for n in range(int(raw)):  # checked too late: "rows:" and the 200 are already out
            yield f"row {n}\n"

    return Response(generate(), mimetype="text/plain")


@app.route("/rows")
def rows():
    count = request.args.get("count", type=int)  # checked first
    if count is None or count < 0:
        abort(400, "count must be a whole number")

    def generate():
        yield "rows:\n"
        for n in range(count):
            yield f"row {n}\n"

    return Response(generate(), mimetype="text/plain")


too_late = server.get("/rows-late?count=many")
in_time = server.get("/rows?count=many")
print("validated in the generator:", too_late.status, too_late.verdict)
print("validated in the view:     ", in_time.status, in_time.verdict)

# %% [markdown]
# ## 7. Which layer was it? `diagnose()`
#
# Every trace we took above knows more than its verdict: when the app produced each item,
# when the server wrote it, the headers, the sizes on the wire and decoded, the times.
# `trace.diagnose()` puts that together and returns a `Diagnosis`: whether it `streams`, the
# `culprit` (one of `"app"`, `"middleware"`, `"compression"`, `"server"`, `"proxy"`,
# `"client"`, or `None` when nothing held it back) and a list of findings, each with the
# measured evidence and a fix. Here is the profiler's:

# %%
print(profiled.diagnose())

# %% [markdown]
# The evidence is what pins the layer: the app produced its items over time, and the
# *server* wrote them only at the end. So they were held between the app and the socket, by a
# middleware. The same for every breakage of this lesson:

# %%
breakages = {
    "ProfilerMiddleware": profiled,
    "length counted first": counted,
    "headers wait (no b'')": late,
    "error mid-stream": fails_11,
    "validated too late": too_late,
    "HTTP/1.0 body": over_10,
    "reference stream": baseline,
    "Content-Length by hand": sized,
}
diagnoses = {label: trace.diagnose() for label, trace in breakages.items()}
for label, found in diagnoses.items():
    print(f"{label:<24} streams={found.streams!s:<5}  culprit={found.culprit!s:<10}  {', '.join(found.codes)}")

# %% [markdown]
# Read the last column as a to-do list. The streams that stream have no culprit; what they
# still get are warnings: `browser-sniffs` (a browser may hold back `text/plain` until it has
# enough bytes to guess the type, unless the response says `X-Content-Type-Options: nosniff`)
# and, for the HTTP/1.0 body, `close-delimited` (the end of the body is the end of the
# connection, so a cut-off body looks whole). A diagnosis also shows itself in the notebook,
# with the timeline:

# %%
diagnoses["length counted first"]

# %% [markdown]
# ### A header on every response: `after_request`
#
# The `browser-sniffs` warning is fixed with one header. To put a header on every response of
# an app there are two ways: a middleware (exercise 1 below writes one), or, in the app
# itself, an `@app.after_request` function, as in Flask. It runs after the view has returned
# and before the body is sent: it receives the response, may change its status and headers,
# and returns it. (`@app.before_request` functions run before the view; one that returns
# something answers the request instead of the view, and `after_request` still runs on that
# answer.) For a streamed response the generator has not started yet when `after_request`
# runs, so the stream is untouched, unless the function reads the body: `response.get_data()`
# runs the whole generator first. All three, measured on the reference stream:

# %%
hooked = App(__name__)


@hooked.route("/parts")
def hooked_parts():
    return Response(five_parts(), mimetype="text/plain")


@hooked.route("/parts-measured")
def hooked_parts_measured():
    return Response(five_parts(), mimetype="text/plain")


@hooked.before_request
def closed_for_maintenance():
    if request.args.get("closed"):
        return "closed for maintenance\n", 503  # the view does not run
    return None


@hooked.after_request
def no_sniffing(response):
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@hooked.after_request
def body_length(response):
    if request.path == "/parts-measured":  # reads the body: the whole stream, first
        response.headers["X-Body-Length"] = str(len(response.get_data()))
    return response


hooked_server = serve(hooked, name="breaks-hooked")
nosniff = hooked_server.get("/parts")
measured_first = hooked_server.get("/parts-measured")
closed = hooked_server.get("/parts?closed=1")
print("nosniff:      ", nosniff.verdict, len(nosniff.chunks), "pieces;", nosniff.diagnose().codes or "no findings")
print("get_data():   ", measured_first.verdict, "(all at once, at the end);", measured_first.headers["X-Body-Length"], "bytes")
print("before_request:", closed.status, closed.body, closed.headers["X-Content-Type-Options"])
compare(nosniff, measured_first, labels=["after_request sets a header", "after_request reads the body"])

# %% [markdown]
# The header alone leaves the stream as it was, and the warning is gone. Reading the body
# made the whole body arrive at once, at the end: all five parts were made before the
# headers could leave. This is also what the fix texts mean by "the middleware (or after_request hook)".
# The same functions run on Flask; the kit's parity tests measure each behaviour on both.

# %% [markdown]
# ## 8. Exercises

# %%
from streamkit.exercises import lesson04 as ex

# %% [markdown]
# ### Exercise 1: a middleware that does not buffer
#
# Write `stamp(app)`, which returns a WSGI middleware around `app` that adds the response
# header `X-Stamp: streamkit`, and leaves the stream streaming. The check wraps an app that
# sends five parts 80 ms apart.

# %%
def stamp(app):
    ...  # your code here


# %%
ex.q1.check(stamp)

# %%
ex.q1.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 2: send the headers first
#
# `ex.slow_report()` is a generator whose first row takes 0.4 s. Write a view `slow_start()`
# that streams it as `text/plain`, with the headers going out at once.

# %%
def slow_start():
    ...  # your code here


# %%
ex.q2.check(slow_start)

# %%
ex.q2.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 3: validate before streaming
#
# Write a view `export()` for `?rows=N`: when `N` is a whole number from 1 to 100, stream
# `row 1\n` ... `row N\n`; otherwise (missing, not a number, out of range) answer **400**.

# %%
def export():
    ...  # your code here


# %%
ex.q3.check(export)

# %%
ex.q3.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ## Checks

# %%
# The reference streams; ProfilerMiddleware buffers it into one late piece.
assert baseline.verdict == "streamed" and len(baseline.chunks) == 5
assert profiled.verdict == "buffered" and len(profiled.chunks) == 1
assert baseline.ttfb < profiled.ttfb / 3 and profiled.body == baseline.body
# Chunked by default; a hand-set Content-Length still streams; counting first does not.
assert baseline.headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in baseline.headers
assert sized.verdict == "streamed" and "Transfer-Encoding" not in sized.headers
assert counted.verdict == "single" and sized.ttfb < counted.ttfb / 3
# On the wire, chunked means sizes in hex and a final 0.
assert wire == b"".join(b"7\r\npart %d\n\r\n" % n for n in range(1, 6)) + b"0\r\n\r\n"
# HTTP/1.0: no chunks, no length, the body ends at close; it streams, but a failure looks like an end.
assert "chunked" not in head_10 and "Content-Length" not in head_10 and wire_10 == baseline.body
assert over_10.verdict == "streamed"
assert fails_11.verdict == "broken" and fails_11.error is not None
assert fails_10.body == b"part 1\npart 2\n" and fails_10.error is None
# Headers wait for the first item unless it is empty.
assert late.headers_at > late.ttfb / 2 and early.headers_at < late.headers_at / 4
# read(65536) waits for the end of a short stream; read1 does not.
assert read_wait > baseline.duration / 2 and read1_wait < read_wait / 3
# Validation in the generator is too late for a status; in the view it is not.
assert too_late.status == 200 and too_late.verdict == "broken"
assert isinstance(too_late.server_error, ValueError)
assert in_time.status == 400 and in_time.verdict != "broken"
# diagnose() names the layer of each breakage, and blames nothing that streams.
culprits = {label: found.culprit for label, found in diagnoses.items()}
assert culprits == {
    "ProfilerMiddleware": "middleware",
    "length counted first": "app",
    "headers wait (no b'')": "app",
    "error mid-stream": "app",
    "validated too late": "app",
    "HTTP/1.0 body": None,
    "reference stream": None,
    "Content-Length by hand": None,
}, culprits
assert diagnoses["ProfilerMiddleware"].codes[0] == "middleware-collects-body"
assert diagnoses["length counted first"].codes[0] == "app-makes-all-first"
assert diagnoses["error mid-stream"].codes[0] == "app-raised"
assert "close-delimited" in diagnoses["HTTP/1.0 body"].codes
assert all(diagnoses[label].streams for label in ("HTTP/1.0 body", "reference stream", "Content-Length by hand"))
# An after_request header keeps the stream and silences browser-sniffs; get_data() there does not.
assert "browser-sniffs" in diagnoses["reference stream"].codes
assert nosniff.verdict == "streamed" and len(nosniff.chunks) == 5
assert nosniff.headers["X-Content-Type-Options"] == "nosniff" and "browser-sniffs" not in nosniff.diagnose().codes
assert measured_first.verdict == "single" and measured_first.headers["X-Body-Length"] == str(len(baseline.body))
assert measured_first.ttfb > baseline.duration / 2 and nosniff.ttfb < measured_first.ttfb / 3
assert closed.status == 503 and closed.body == b"closed for maintenance\n"
assert closed.headers["X-Content-Type-Options"] == "nosniff"  # after_request ran on it too
assert hooked_server.errors == []
print("all checks passed")

# %% [markdown]
# The servers of this lesson keep running, so after *Run All* you can go back to any exercise,
# or try requests of your own. Running the notebook again replaces them (each `serve()` has a
# `name`), `server.stop()` stops one, and restarting the kernel stops them all.
#
# Next: **05 Big data**.
