# Source of notebooks/01_generators.ipynb (build with: make notebooks).

# %% [markdown]
# # 01 · Generators: each `yield` is sent
#
# The first streaming technique is the simplest: give the `Response` a generator instead of a
# string. The server pulls one item out of the generator, sends it, pulls the next one, and so
# on. Nothing waits for the whole body.
#
# **In this notebook (about 25 minutes):**
#
# 1. a CSV report from a generator, watched as it arrives;
# 2. the same report built as one string first: time to first byte, then WSGI (how the
#    server talks to the app, and middleware) and peak memory, measured;
# 3. the client's side: how `requests` can undo all of it, measured;
# 4. three exercises.

# %% [markdown]
# ## 1. A report, one row at a time
#
# Our data comes from `slow_rows()`, which stands in for a database cursor: it hands out
# 2,000 rows `(id, name, score)` and pauses 50 ms every 200 rows, as if fetching the next page.

# %%
import time

from streamkit import App, Response, compare, request, serve
from streamkit.exercises.lesson01 import slow_rows

next(slow_rows())

# %% [markdown]
# The streaming view: the generator `lines()` yields the header, then one line per row, as soon
# as each row comes out of the cursor. `rows` and `pause` in the query string let us make the
# report bigger or faster later.

# %%
app = App(__name__)


def row_options():
    """rows and pause from the query string (read in the view, before streaming)."""
    return {
        "n": request.args.get("rows", 2000, type=int),
        "pause": request.args.get("pause", 0.05, type=float),
    }


@app.route("/report.csv")
def report():
    options = row_options()

    def lines():
        yield "id,name,score\n"
        for i, name, score in slow_rows(**options):
            yield f"{i},{name},{score}\n"

    return Response(lines(), mimetype="text/csv")


server = serve(app, name="generators")

# %%
streamed = server.get("/report.csv")
streamed

# %% [markdown]
# 2,001 chunks: the header and one per row. The marks come in ten bursts, one per "page" of
# the cursor; the first line arrived right away, long before the last row was read.
#
# To watch it happen, ask for a live picture: it redraws about ten times a second while the
# rows arrive, and keeps the final picture.

# %% tags=["nbval-ignore-output"]
watched = server.get("/report.csv", live=True)

# %% [markdown]
# ## 2. Against building the whole string first
#
# Here is the way most code starts out: collect the lines in a list, join them, return the
# string. It is correct, and for a small page it is fine. It also means the client gets
# nothing until the last row has been read.

# %%
@app.route("/report-built.csv")
def report_built():
    options = row_options()
    lines = ["id,name,score\n"]
    for i, name, score in slow_rows(**options):
        lines.append(f"{i},{name},{score}\n")
    return Response("".join(lines), mimetype="text/csv")


built = server.get("/report-built.csv")
compare(streamed, built, labels=["generator", "built first"])

# %% [markdown]
# Same bytes, very different timelines. **Time to first byte** (`ttfb`) is the number users
# feel:

# %%
assert built.body == streamed.body
print(f"generator:   first byte after {streamed.ttfb * 1000:6.1f} ms, all of it after {streamed.duration * 1000:6.1f} ms")
print(f"built first: first byte after {built.ttfb * 1000:6.1f} ms, all of it after {built.duration * 1000:6.1f} ms")

# %% [markdown]
# ### How the server talks to the app: WSGI
#
# Between a Python web server and a Python web app sits one small agreement, **WSGI** (PEP
# 3333). Flask, streamkit's `App`, Django and every WSGI server speak it. The app is a
# callable that takes two arguments and returns the body:
#
# - **`environ`**: a dict describing the request: `environ["PATH_INFO"]` is the path,
#   `environ["QUERY_STRING"]` the query, `environ["HTTP_USER_AGENT"]` a header, and so on;
# - **`start_response(status, headers)`**: a function from the server; the app calls it once,
#   with a status line such as `"200 OK"` and a list of `(name, value)` header pairs;
# - **the returned iterable** of `bytes`: the body. The server takes one item at a time from
#   it and sends it, so a generator here streams, exactly like the generator in a `Response`.
#
# That is all a web app is, to the server. Here is one written by hand, with no framework:

# %%
def hello_wsgi(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"Hello from "
        time.sleep(0.1)
        yield environ["PATH_INFO"].encode()

    return body()


bare = serve(hello_wsgi, name="generators-wsgi")
by_hand = bare.get("/by-hand")
print(by_hand.status, by_hand.headers["Content-Type"], [chunk.data for chunk in by_hand.chunks])
assert by_hand.body == b"Hello from /by-hand" and len(by_hand.chunks) == 2

# %% [markdown]
# Two pieces, 0.1 s apart: the server sent each item as the generator gave it. Our `app` is
# such a callable too (`app(environ, start_response)`), and so is a Flask app; that is why
# `serve()` takes any of them.
#
# A **middleware** is a WSGI app that wraps another one: the server calls the middleware, and
# the middleware calls the app inside. It can read the `environ` on the way in, and see (or
# change) the status, the headers and the body on the way out. It sees the status and headers
# by handing the app its own `start_response`, which passes them on. Here is one in ten lines;
# it notes each response's status and returns the app's body untouched:

# %%
statuses = []


def note_status(app):
    """WSGI middleware: records (path, status) of each response; changes nothing."""

    def middleware(environ, start_response):
        def noting_start_response(status, headers, exc_info=None):
            statuses.append((environ["PATH_INFO"], status))
            return start_response(status, headers, exc_info)

        return app(environ, noting_start_response)  # the body goes back as it is

    return middleware


noted = serve(note_status(hello_wsgi), name="generators-middleware")
through = noted.get("/through-middleware")
print(statuses, through.verdict, len(through.chunks), "pieces")
assert statuses[-1] == ("/through-middleware", "200 OK")
assert through.verdict == "streamed" and len(through.chunks) == 2

# %% [markdown]
# The stream still arrives in two pieces, because the middleware hands the body back as it
# is. A middleware that wants to look at the body wraps the iterable, and must then pass each
# item on as soon as it gets it; one that collects the items first holds the whole stream back
# (lesson 04 measures that).

# %% [markdown]
# ### Peak memory
#
# The built version also holds every line in memory at once, twice over (the list, then the
# joined string). To measure it, we wrap the app in `PeakMemory`, a small WSGI middleware from
# the kit, built as above (read it with `PeakMemory??`). It notes how far this kernel's traced memory rose from
# the start of each request until its last byte went out. We ask for 10,000 rows without the
# pauses, and read each response with `requests`, throwing the pieces away, so the client keeps
# nothing either.

# %%
import tracemalloc

import requests

from streamkit.exercises.measure import PeakMemory

metered = PeakMemory(app)
metered_server = serve(metered, name="generators-metered")


def peak_of(path):
    """Request path, read and drop the body, and return the server's peak memory in bytes."""
    # The kit's servers answer only you: access_headers shows it is you where the system can't (a Mac).
    with requests.get(metered_server.url + path, stream=True, headers=metered_server.access_headers) as response:
        for piece in response.iter_content(chunk_size=None):
            pass
    return metered.last


tracemalloc.start()
try:
    peak_streamed = peak_of("/report.csv?rows=10000&pause=0")
    peak_built = peak_of("/report-built.csv?rows=10000&pause=0")
finally:
    tracemalloc.stop()

print(f"generator:   peak {peak_streamed / 1024:8.1f} KiB")
print(f"built first: peak {peak_built / 1024:8.1f} KiB  ({peak_built / peak_streamed:.1f}x)")

# %% [markdown]
# The generator's peak does not depend on the number of rows: one row is in flight at a time.
# The built version's grows with the report. At 10,000 rows that is about a megabyte; lesson 05 takes
# this to a gigabyte.

# %% [markdown]
# ## 3. The client's side
#
# A stream only helps if the client reads it as it comes. The `probe` behind `server.get` does,
# but your own client code may not. `requests` is the usual client, and it has three traps. We
# measure them on a small view: five lines, 0.1 s apart, optionally with a `Content-Length`
# header (`?length=1`). Without a `Content-Length`, an HTTP/1.1 server sends the body in
# *chunked* encoding: each piece goes out with its size written in front of it, and an empty
# piece marks the end (lesson 04 shows those bytes). With a `Content-Length`, the body is not
# sent in chunks: the client only knows how many bytes to expect.

# %%
LINES = [f"line {n}\n" for n in range(1, 6)]


@app.route("/lines")
def five_lines():
    def generate():
        for line in LINES:
            yield line
            time.sleep(0.1)

    headers = {}
    if request.args.get("length"):
        headers["Content-Length"] = str(sum(len(line) for line in LINES))
    return Response(generate(), mimetype="text/plain", headers=headers)


def arrivals(items):
    """[(seconds since start, item), ...] for an iterable that is read as it arrives."""
    started = time.monotonic()
    return [(time.monotonic() - started, item) for item in items]


def read_with(method, path, **options):
    response = requests.get(server.url + path, stream=True, headers=server.access_headers)
    with response:
        return arrivals(getattr(response, method)(**options))


# %% [markdown]
# **Trap 1: `iter_content()` without a size reads one byte at a time.** Its default
# `chunk_size` is 1, so 35 bytes make 35 Python-level iterations; on a real download that is
# millions. Always pass a size, or `None` for "whatever has arrived".

# %%
one_byte = read_with("iter_content", "/lines")
print(len(one_byte), "items of", {len(item) for _, item in one_byte}, "byte(s) each")

# %% [markdown]
# **Trap 2: with a `Content-Length`, `iter_content(None)` and `iter_lines()` wait.** On a
# chunked response, both hand over each piece as it arrives. On a response with a
# `Content-Length` they wait to fill a whole block: `iter_content(None)` returns the body as
# one piece at the very end, and `iter_lines()` waits for 512 bytes (here: the end).

# %%
for method, options in [("iter_content", {"chunk_size": None}), ("iter_lines", {})]:
    for path in ["/lines", "/lines?length=1"]:
        seen = read_with(method, path, **options)
        print(
            f"{method + '(' + ('None' if options else '') + ')':<18} {path:<16} "
            f"{len(seen)} item(s), first after {seen[0][0] * 1000:6.1f} ms"
        )

# %% [markdown]
# The fix on the client side is to ask for "whatever has arrived": `response.raw.read1(size)`
# returns as soon as at least one byte is there. Exercise 3 builds a line reader on it.
#
# **Trap 3: text without a charset is not read as UTF-8.** When the `Content-Type` is
# `text/...` without `charset`, `requests` falls back to ISO-8859-1, as old HTTP rules say, and
# `decode_unicode=True` (or `response.text`) garbles every accent. streamkit's `Response` adds
# `charset=utf-8` to text types for you; a hand-set `content_type` may lose it:

# %%
@app.route("/menu")
def menu():
    if request.args.get("charset"):
        return Response(["café\n"], mimetype="text/plain")  # adds "; charset=utf-8"
    return Response(["café\n"], content_type="text/plain")  # exactly this, no charset


for path in ["/menu", "/menu?charset=1"]:
    response = requests.get(server.url + path, stream=True, headers=server.access_headers)
    with response:
        text = "".join(response.iter_content(chunk_size=None, decode_unicode=True))
    print(f"{response.headers['Content-Type']:<26} read as {response.encoding:<11} -> {text!r}")

# %% [markdown]
# ## 4. Exercises

# %%
from streamkit.exercises import lesson01 as ex

# %% [markdown]
# ### Exercise 1: yield as you go
#
# Write a generator function `csv_lines(rows)` that takes an iterable of `(id, name, score)`
# rows and yields the header `id,name,score\n` and then one line per row, each as soon as its
# row arrives. The check feeds it rows that come 0.1 s apart and watches what arrives.

# %%
def csv_lines(rows):
    ...  # your code here


# %%
ex.q1.check(csv_lines)

# %%
ex.q1.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 2: stream the report
#
# `report_built` above builds the whole CSV first. Write a view `report_streamed()` that
# sends the same CSV of `slow_rows()` (with its default arguments), with the `text/csv`
# mimetype, as the rows come.

# %%
def report_streamed():
    ...  # your code here


# %%
ex.q2.check(report_streamed)

# %%
ex.q2.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 3: read lines as they come
#
# Write a generator `lines_as_they_come(url)` that requests `url` with `requests` and yields
# each line of the body (a `str`, without its `\n`) as soon as it has arrived, even when the
# response has a `Content-Length`. The check serves five lines 0.15 s apart, with a
# `Content-Length`, and times what your generator yields.

# %%
def lines_as_they_come(url):
    ...  # your code here


# %%
ex.q3.check(lines_as_they_come)

# %%
ex.q3.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ## Checks
#
# What this lesson claimed, asserted on the measurements above.

# %%
# A generator streams: header first, then one chunk per row, and the first byte comes early.
assert streamed.verdict == "streamed" and len(streamed.chunks) == 2001
assert built.verdict == "single" and built.body == streamed.body
assert streamed.ttfb < built.ttfb / 3
# Building first holds the whole report in memory; the generator holds a row.
assert peak_built > 10 * peak_streamed
# requests: iter_content() is byte by byte; with a Content-Length, iter_content(None) and
# iter_lines() hold everything until the end, while on a chunked body they do not.
assert len(one_byte) == sum(len(line) for line in LINES)
blob = read_with("iter_content", "/lines?length=1", chunk_size=None)
chunked_lines = read_with("iter_lines", "/lines")
assert len(blob) == 1 and len(chunked_lines) == 5
assert chunked_lines[0][0] < chunked_lines[-1][0] / 2  # the first line came long before the last
assert blob[0][0] > chunked_lines[-1][0] / 2  # the one blob came about when the last line did
# Without a charset, UTF-8 text is decoded as ISO-8859-1.
assert requests.get(server.url + "/menu", headers=server.access_headers).text == "cafÃ©\n"
assert requests.get(server.url + "/menu?charset=1", headers=server.access_headers).text == "café\n"
assert server.errors == [] and metered_server.errors == []
print("all checks passed")

# %% [markdown]
# The servers of this lesson keep running, so after *Run All* you can go back to any exercise,
# or try requests of your own. Running the notebook again replaces them (each `serve()` has a
# `name`), `server.stop()` stops one, and restarting the kernel stops them all.
#
# Next: **02 Templates**.
