# Source of notebooks/07_production.ipynb (build with: make notebooks).

# %% [markdown]
# # 07 · Production: servers, proxies, compression, timeouts
#
# So far every stream ran on werkzeug's development server, alone on your machine. In
# production the same app runs under a production WSGI server, usually with a reverse proxy
# in front, often with compression somewhere along the way. Each of these layers can hold a
# stream back, and none of them tells you it did: the page still loads, just all at once at
# the end. So in this lesson we run one demo stream under the servers people really deploy
# on, and measure what each of them does to it.
#
# **In this notebook (about 25 minutes):**
#
# 1. one stream under werkzeug, waitress, gunicorn and nginx, side by side;
# 2. `X-Accel-Buffering: no`: telling nginx to let a response through;
# 3. gzip done right and done naively, compared in time and in bytes;
# 4. gunicorn's worker timeout against a long stream, and how to configure it;
# 5. `doctor`: let the kit find the layer, from the client alone;
# 6. a checklist for streaming in production;
# 7. two exercises.
#
# Everything here is real: waitress runs in a thread of this kernel, gunicorn and nginx run as
# separate processes on `127.0.0.1`. They keep running after *Run All*, so you can go back to
# the exercises; running the notebook again replaces them, `stop()` ends one with everything
# it started (the last cell shows it), and restarting the kernel ends them all.

# %% [markdown]
# ## 0. Is nginx installed?
#
# Section 1 starts a real nginx. If the next cell fails, install it first: `sudo apt-get
# install nginx-light` on Debian or Ubuntu, `brew install nginx` on macOS. On Binder it is
# already there (the repository's `apt.txt` asks for it), and the project's CI script installs
# it too. waitress and gunicorn come with the kit's `servers` extra.

# %%
from streamkit.backends.nginx import find_nginx

find_nginx()  # raises ServerUnavailable, naming the package to install, when nginx is missing
print("nginx is installed")

# %% [markdown]
# ## 1. One stream, four servers
#
# Our test subject is the demo app of the kit (`streamkit.demos.app`), and its `/events` view:
# five server-sent events, 150 ms apart, as `text/event-stream`. That is the shape of most
# streams people care about: small pieces, with pauses in between (progress messages, chat
# tokens, log lines).
#
# We serve it four ways:
#
# * **werkzeug**: the development server, what `flask run` uses;
# * **waitress**: a production server written in pure Python (it also runs on Windows), with
#   a pool of threads; here it runs in a background thread of this kernel;
# * **gunicorn**: the most common production server on Linux. A master process forks worker
#   processes, and each worker imports the app by name. So `serve()` gets the import string
#   `"streamkit.demos:app"`, not the app object;
# * **nginx** in front of werkzeug: a reverse proxy, with the settings most sites run with
#   (proxy buffering on, gzip on for text). In production nginx sits in front of waitress or
#   gunicorn; what it does to the stream is the same (try it: `server="gunicorn"` works with
#   `behind="nginx"` too).

# %%
import re

from streamkit import compare, serve
from streamkit.demos import app as demo

EVENTS = "/events?count=5&delay_ms=150"  # five events, 150 ms apart

dev = serve(demo, name="prod-werkzeug")
pool = serve(demo, server="waitress", name="prod-waitress")
forked = serve("streamkit.demos:app", server="gunicorn", name="prod-gunicorn")
proxied = serve(demo, behind="nginx", name="prod-nginx")
for running in (dev, pool, forked, proxied):
    print(running)

# %% [markdown]
# The same request to each, drawn on one time axis:

# %%
on_werkzeug = dev.get(EVENTS)
on_waitress = pool.get(EVENTS)
on_gunicorn = forked.get(EVENTS)
behind_nginx = proxied.get(EVENTS)
compare(
    on_werkzeug, on_waitress, on_gunicorn, behind_nginx,
    labels=["werkzeug", "waitress", "gunicorn", "nginx → werkzeug"],
)

# %% [markdown]
# The three WSGI servers behave alike: each event leaves as soon as the app yields it. The
# servers differ in many ways (threads or processes, how many requests at once, how they
# restart), but none of them buffers an item the app has handed over.
#
# nginx is another story. The app made its five events over 0.6 s, as before, and nginx sent
# the client nothing until the last one was there. A few numbers make it plain:

# %%
def pieces(trace):
    """The chunks that carried body bytes (a proxy may send a gzip trailer on its own)."""
    return [chunk for chunk in trace.chunks if chunk.size]


def how_many(got):
    return "1 piece" if len(got) == 1 else f"{len(got)} pieces"


def summary(label, trace):
    got = pieces(trace)
    encoding = trace.headers.get("Content-Encoding", "none")
    print(f"{label:<18} {trace.verdict:<9} {how_many(got)}, first after {got[0].t:.2f} s, encoding: {encoding}")


summary("werkzeug", on_werkzeug)
summary("waitress", on_waitress)
summary("gunicorn", on_gunicorn)
summary("nginx → werkzeug", behind_nginx)

# %% [markdown]
# Two details:
#
# * gunicorn's trace has no "produced" lane: the app ran in a gunicorn worker, another
#   process, where this kernel cannot watch it. The trace says so in its `note`. Its verdict
#   rests on the client's side alone, and the pieces were spread over time, so: streamed.
# * nginx's answer is gzip-compressed, although the app sent plain text.

# %%
print(on_gunicorn.note)

# %% [markdown]
# ### What exactly holds it back?
#
# Two nginx settings are involved. Here is the part of the configuration the kit wrote for
# this nginx:

# %%
for line in proxied.proxy.config.splitlines():  # the running proxy's configuration text
    if line.strip().startswith(("gzip", "proxy_buffering", "proxy_read_timeout")):
        print(line.strip())

# %% [markdown]
# `proxy_buffering on` (nginx's default) lets nginx read the app's answer into its own buffers
# as fast as the app can send it, so a slow client does not keep an app worker busy. It is
# the usual suspect, but with small pieces and pauses in between, nginx passes on what it has
# read. The real culprit is **gzip**: nginx's gzip filter collects output until its
# compression buffer is full or the response ends. Five small events never fill it. Turn gzip
# off and the same proxy streams:

# %%
unzipped = serve(demo, behind="nginx", proxy_options={"gzip": False}, name="prod-nginx-nogzip")
no_gzip = unzipped.get(EVENTS)
summary("nginx, gzip off", no_gzip)

# %% [markdown]
# A big, fast stream would fill nginx's gzip buffers and trickle out in large lumps. Slow,
# small streams (the ones that most need to be live) wait for the end. And `gzip_types`
# decides which content types are compressed: Debian's stock `nginx.conf` has `gzip on` for
# `text/html`, and many sites add `text/plain`, JSON and `text/event-stream` to the list.

# %% [markdown]
# ## 2. `X-Accel-Buffering: no`
#
# You rarely own the nginx configuration, and switching gzip off for a whole site costs
# bandwidth. nginx reads one special response header from the app: **`X-Accel-Buffering:
# no`** switches buffering off for that one response. nginx then sends each piece it reads
# from the app at once, and its gzip filter flushes along with it. nginx removes the header,
# so the browser never sees it.
#
# In a Flask app it is one line in the view, and the same line here. Here is our own
# `/events`, with the demo's generator and that line added (for every response of an app,
# an `@app.after_request` function can set it instead, as lesson 04 showed):

# %%
from streamkit import App, Response
from streamkit.demos.views import server_events

app = App(__name__)


@app.route("/events")
def events():
    response = Response(server_events(5, 0.15), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass this response on as it comes
    return response


accel = serve(app, behind="nginx", name="prod-accel")
unbuffered = accel.get("/events")
compare(
    behind_nginx, no_gzip, unbuffered,
    labels=["nginx (gzip on)", "nginx, gzip off", "nginx + X-Accel-Buffering: no"],
)

# %%
summary("X-Accel-Buffering", unbuffered)
print("header seen by the client:", unbuffered.headers.get("X-Accel-Buffering"))

# %% [markdown]
# Still compressed, and streamed. Other proxies have their own switches: Apache's
# `mod_proxy` has `flushpackets=on`, many CDNs and load balancers need streaming enabled in
# their settings, and some buffer no matter what. Measure through the real path.

# %% [markdown]
# ## 3. Compression in the app: two gzip middlewares
#
# Compression can also happen inside the app, in a WSGI middleware. The kit has two:
#
# * `GzipMiddleware` compresses each item the app yields on its own and ends it with a zlib
#   **sync flush**: the compressor empties its buffer after every item, so the bytes of that
#   item can leave at once and the browser can decode them at once. All items together are
#   still one ordinary gzip body.
# * `NaiveGzipMiddleware` does what many compression layers do: collect the whole body,
#   compress it in one go, and set a `Content-Length`. Simple, smallest possible output, and
#   every byte waits for the last item.
#
# We wrap the demo app in each, and add a third case: the streaming one behind our default
# nginx.

# %%
from streamkit import GzipMiddleware, NaiveGzipMiddleware

flushing = serve(GzipMiddleware(demo), name="prod-gzip")
collecting = serve(NaiveGzipMiddleware(demo), name="prod-naive")
flushing_proxied = serve(GzipMiddleware(demo), behind="nginx", name="prod-gzip-nginx")

flushed = flushing.get(EVENTS)
collected = collecting.get(EVENTS)
flushed_proxied = flushing_proxied.get(EVENTS)
compare(
    on_werkzeug, flushed, collected, flushed_proxied,
    labels=["no compression", "GzipMiddleware", "NaiveGzipMiddleware", "GzipMiddleware, nginx"],
)

# %% [markdown]
# The naive one has the smallest body and the worst timing: one piece, at the very end, just
# like nginx's gzip. The streaming one keeps the timing. And behind nginx it still streams:
# nginx does not compress a response that is already compressed, and without its gzip filter
# in the way, nginx passes the small pieces on.
#
# What does the sync flush cost? The probe knows both sizes of each piece: what came over the
# wire and what it decoded to.

# %%
for label, trace in [("GzipMiddleware", flushed), ("NaiveGzipMiddleware", collected)]:
    length = "set" if "Content-Length" in trace.headers else "none (chunked)"
    print(
        f"{label:<20} {how_many(pieces(trace))}, {trace.size} bytes decoded, "
        f"{trace.size / trace.wire_size:.1f}x smaller on the wire, Content-Length: {length}"
    )
print(f"the sync flushes cost {flushed.wire_size / collected.wire_size:.2f}x the bytes of one-go gzip")

# %% [markdown]
# Each flush ends a compressed block and adds a few marker bytes, and the first item carries
# the gzip header. Later items still compress well, because the compressor keeps its memory
# of earlier items between flushes: a repeated event costs a dozen bytes, not forty. For
# streams of small pieces, a somewhat larger body is the price of being live; for big pieces
# the difference all but disappears.

# %% [markdown]
# ## 4. gunicorn's worker timeout
#
# gunicorn's master watches its workers. A worker that has not reported in for `--timeout`
# seconds (30 by default) counts as stuck: the master kills it and starts a fresh one. How a
# worker reports in depends on its **worker class**:
#
# * `sync` (gunicorn's default) handles one request at a time, and only reports in between
#   requests. A single response that takes longer than the timeout gets its worker killed in
#   the middle of the body.
# * `gthread` runs requests in threads, and its main loop keeps reporting in while they
#   run. A stream may take as long as it likes.
#
# To keep this quick we set the timeout to 2 seconds and send a stream of 4 seconds: nine
# events, 0.5 s apart. (Not 1 second: a `gthread` worker reports in about once a second, so
# a 1 s timeout would be a gamble even for it.)

# %%
LONG = "/events?count=9&delay_ms=500"  # about 4 s

sync = serve("streamkit.demos:app", server="gunicorn", worker_class="sync", timeout=2, name="prod-sync")
threaded = serve("streamkit.demos:app", server="gunicorn", worker_class="gthread", timeout=2, name="prod-gthread")
cut = sync.get(LONG)
whole = threaded.get(LONG)
compare(cut, whole, labels=["sync worker, timeout 2 s", "gthread worker, timeout 2 s"])

# %% [markdown]
# The sync worker got a few events out, then the connection just ended. The client had
# already received `200 OK`, so all it can tell is that the chunked body stopped before its
# final empty chunk. gunicorn's log says what happened:

# %%
print("client:", cut.status, cut.verdict, "-", cut.error.split(":")[0])
timeout_lines = [line for line in sync.backend.log.splitlines() if "WORKER TIMEOUT" in line]
# Drop the date and the process ids, which change from run to run.
print("gunicorn:", re.sub(r"pid:\d+", "pid:…", timeout_lines[0].split("] ", 2)[-1]))

# %% [markdown]
# ### Configuring it
#
# For streaming, pick a worker class that keeps reporting in while requests run, and give it
# enough threads for the streams you expect to hold open at once:
#
# ```bash
# gunicorn --worker-class gthread --workers 2 --threads 16 --timeout 30 myapp:app
# ```
#
# or the same in `gunicorn.conf.py`:
#
# ```python
# worker_class = "gthread"
# workers = 2
# threads = 16   # every open stream holds one thread
# timeout = 30   # now only catches workers that are really stuck
# ```
#
# Careful: with `--threads` above 1, gunicorn quietly switches a `sync` worker to `gthread`.
# If you must stay on `sync`, raise `--timeout` above your longest stream, and remember that
# each open stream then occupies a whole worker process: ten slow downloads, ten processes.
# The async workers (`gevent`, `eventlet`) also report in while streaming.
#
# Proxies have timeouts of their own, measured *between* two reads rather than over the
# whole response: nginx's `proxy_read_timeout` (60 s), and the idle timeouts of load
# balancers. A stream that stays quiet longer than that is cut off; a heartbeat (an SSE
# comment line, lesson 06) keeps it alive.

# %% [markdown]
# ## 5. `doctor`: which layer holds it back?
#
# In this lesson we knew every layer, because we built them. Pointed at a stranger's URL, you
# see only what comes out of the last one. `doctor(url)` asks the same URL a few ways at
# once, and compares the answers: as given, with `Accept-Encoding: identity` (nothing
# compressed), with the encodings a browser asks for, and with `Accept: text/event-stream`.
# A layer that holds back one of them and not another gives itself away. The same check runs
# from a terminal: `streamkit doctor URL`.
#
# First the nginx of section 1, gzip on:

# %%
from streamkit.doctor import doctor

at_nginx = doctor(proxied.url + EVENTS)
print(at_nginx.streams, at_nginx.culprit, at_nginx.codes)
print(at_nginx.findings[0])

# %% [markdown]
# Through the same nginx, the identity request streamed and every gzip one arrived at the
# end: the compression holds it, and since the answer names nginx, the fix names nginx's
# switches too. In the notebook a diagnosis draws its requests side by side:

# %%
at_nginx

# %% [markdown]
# The naive gzip middleware, without any proxy, is found the same way; and the response with
# `X-Accel-Buffering: no` is not blamed for anything:

# %%
at_naive = doctor(collecting.url + EVENTS)
at_accel = doctor(accel.url + "/events")
for label, found in [("NaiveGzipMiddleware", at_naive), ("X-Accel-Buffering: no", at_accel)]:
    print(f"{label:<22} streams={found.streams!s:<5}  culprit={found.culprit!s:<11}  {', '.join(found.codes)}")

# %% [markdown]
# From the client alone some layers look alike: an app that makes everything before its first
# yield and a middleware that collects the body both send one late piece, whatever the
# request. Then doctor says it cannot tell, and `trace.diagnose()` on a trace from
# `server.get` (lesson 04) can: it knows when the app produced each item.

# %% [markdown]
# ## 6. A checklist for streaming in production
#
# 1. **Measure through the real path.** Probe the public URL, through the proxy, CDN and load
#    balancer, not just the app server. One piece at the end means something holds it back.
# 2. **Behind nginx, send `X-Accel-Buffering: no`** on streaming responses (or set
#    `proxy_buffering off;` in their `location`).
# 3. **Compression:** leave streams uncompressed (keep their type out of `gzip_types`), or
#    compress item by item with a sync flush. Never put a layer that gathers the whole body in
#    front of a stream: whole-body gzip, minifiers, profilers, anything that computes a
#    `Content-Length`.
# 4. **gunicorn: use `gthread`** (or an async worker) with enough threads. With `sync`,
#    `--timeout` caps every response, and each stream takes a whole process.
# 5. **Timeouts between pieces:** `proxy_read_timeout`, load balancer idle timeouts. Send a
#    heartbeat more often than the shortest of them.
# 6. **Send the headers early** (`yield b""` first, lesson 04), so clients and proxies know
#    the response has started.
# 7. **Server-sent events:** `text/event-stream` with `Cache-Control: no-cache`.
# 8. **Clients leave:** clean up in `finally` (lesson 06); the server closes your generator
#    at its next failed write.

# %% [markdown]
# ## 7. Exercises

# %%
from streamkit.exercises import lesson07 as ex

# %% [markdown]
# ### Exercise 1: a middleware that tells the proxy
#
# You cannot change every view, but you can wrap the whole app. Write `no_proxy_buffering(app)`,
# which returns a WSGI middleware that adds `X-Accel-Buffering: no` to every
# `text/event-stream` response (and leaves other responses alone). The check serves the demo
# app through your middleware behind nginx, with gzip on.

# %%
def no_proxy_buffering(app):
    ...  # your code here


# %%
ex.q1.check(no_proxy_buffering)

# %%
ex.q1.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 2: fix it in the proxy
#
# Now the other way round: the app stays as it is, and you own the nginx configuration. Set
# `proxy_options` to the options of `serve(..., behind="nginx", proxy_options=...)` that make
# the demo's `/events` stream. The choices are `gzip`, `buffering` and `read_timeout`
# (`help(serve)` lists what each one does). Any setting that works is right; the hint says
# which two do.

# %%
proxy_options = ...  # your code here

# %%
ex.q2.check(proxy_options)

# %%
ex.q2.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ## Checks

# %%
# Every setup delivered the same five events.
for trace in (on_waitress, on_gunicorn, behind_nginx, no_gzip, unbuffered, flushed, collected, flushed_proxied):
    assert trace.status == 200 and trace.body == on_werkzeug.body, trace
assert on_werkzeug.body.count(b"event: tick") == 5
# werkzeug, waitress and gunicorn each send every event as it is made.
for trace in (on_werkzeug, on_waitress, on_gunicorn):
    got = pieces(trace)
    assert trace.verdict == "streamed" and len(got) == 5, trace
    assert got[0].t < got[-1].t / 2  # the first did not wait for the rest
assert on_gunicorn.produced is None and "worker processes" in on_gunicorn.note
# nginx with gzip holds the whole stream until the app has made its last event.
assert behind_nginx.verdict == "buffered" and len(pieces(behind_nginx)) == 1
assert pieces(behind_nginx)[0].t >= behind_nginx.produced[-1].t
assert behind_nginx.headers["Content-Encoding"] == "gzip" and behind_nginx.wire_size < behind_nginx.size
# Without gzip, or with X-Accel-Buffering: no, the same nginx streams (the latter still gzipped).
assert no_gzip.verdict == "streamed" and len(pieces(no_gzip)) == 5
assert "Content-Encoding" not in no_gzip.headers
assert unbuffered.verdict == "streamed" and len(pieces(unbuffered)) == 5
assert unbuffered.headers["Content-Encoding"] == "gzip" and "X-Accel-Buffering" not in unbuffered.headers
# Sync-flushed gzip streams, even behind nginx; whole-body gzip arrives as one late piece.
assert flushed.verdict == "streamed" and len(pieces(flushed)) == 5
assert flushed.headers["Content-Encoding"] == "gzip" and "Content-Length" not in flushed.headers
assert flushed_proxied.verdict == "streamed" and len(pieces(flushed_proxied)) == 5
assert collected.verdict == "buffered" and len(pieces(collected)) == 1
assert pieces(collected)[0].t >= collected.produced[-1].t
assert int(collected.headers["Content-Length"]) == collected.wire_size
# Both compress; the sync flushes cost extra bytes, but far fewer than no compression.
assert collected.wire_size < flushed.wire_size < flushed.size
assert flushed.size / flushed.wire_size > 1.2
# The sync worker is killed mid-stream at its timeout; the gthread worker streams to the end.
assert cut.status == 200 and cut.verdict == "broken" and cut.error is not None
assert 1 <= len(pieces(cut)) < 9
assert len(timeout_lines) >= 1
assert whole.verdict == "streamed" and whole.error is None and len(pieces(whole)) == 9
assert pieces(whole)[-1].t - pieces(whole)[0].t > 2  # longer than the 2 s timeout
# doctor, from the client alone: nginx's gzip and the naive middleware are compression; the
# X-Accel-Buffering response streams and nothing is blamed.
assert not at_nginx.streams and at_nginx.culprit == "compression"
assert at_nginx.codes[0] == "compression-no-flush" and "nginx" in at_nginx.findings[0].summary
assert not at_naive.streams and at_naive.culprit == "compression"
assert at_accel.streams and at_accel.culprit is None
print("all checks passed")

# %% [markdown]
# ## Clean up
#
# `stop()` ends a server and everything it started: its threads in this kernel, and the
# gunicorn and nginx processes. The lesson's own servers keep running, so after *Run All* you
# can go back to the exercises; restarting the kernel stops them too. Here a spare gunicorn
# behind nginx shows what `stop()` leaves behind: nothing.

# %%
from streamkit.backends import port_open

spare = serve("streamkit.demos:app", server="gunicorn", behind="nginx", name="prod-spare")
addresses = [spare.port, spare.backend.port]  # nginx's port and gunicorn's
assert all(port_open("127.0.0.1", port) for port in addresses)
spare.stop()
still_open = [port for port in addresses if port_open("127.0.0.1", port)]
assert still_open == [] and not spare.running, still_open
print("stopped gunicorn and nginx; no port left open")
