# Source of notebooks/11_keep_streaming.ipynb (build with: make notebooks).

# %% [markdown]
# # 11 · Keep it streaming
#
# Your feed streams today. Next month someone adds a middleware, a profiler or a proxy
# setting, and it is held back until the end. Will a test notice?
#
# Not the tests most projects have: a test client (Flask's, werkzeug's, Starlette's
# `TestClient`) hands your test the whole body, and a held-back body is the same body. In
# this lesson you write the test that does notice, the way it would sit in your own test
# suite, watch it catch a real buffering middleware, then fix the middleware and watch the
# test pass.
#
# **In this notebook (about 15 minutes):**
#
# 1. the feed, and a middleware that holds it back;
# 2. what a test client sees: the same response both ways;
# 3. what `streamkit.testing.assert_streams` sees;
# 4. exercise: write the test;
# 5. exercise: fix the middleware;
# 6. the same test in your pytest suite.

# %% [markdown]
# ## 1. The feed and the middleware
#
# `feed_app()` serves `/feed`: five lines, 0.2 s apart, as `text/plain`. `server_timing(app)`
# is a middleware of a kind many projects have: it adds a `Server-Timing` header saying how
# long the app took. To know that before the headers go out, it has to run the whole body
# first. Here is its code:

# %%
import inspect
import time

from streamkit import serve
from streamkit.exercises.lesson11 import feed_app, server_timing

print(inspect.getsource(server_timing))

# %% [markdown]
# We serve the feed twice, for real, on this machine: once as it is and once behind the
# middleware.

# %%
plain = serve(feed_app(), name="lesson11-plain")
held = serve(server_timing(feed_app()), name="lesson11-held")
print(plain)
print(held)

# %% [markdown]
# ## 2. What a test client sees
#
# werkzeug's test client calls the app in this process, without a socket, the way most
# projects' tests do. It returns the response once the app has made it, so the test sees the
# status and the body:

# %%
from werkzeug.test import Client

seen = {}
for name, app in [("plain", feed_app()), ("behind server_timing", server_timing(feed_app()))]:
    started = time.perf_counter()
    response = Client(app).get("/feed")
    body = response.get_data()
    seen[name] = (response.status_code, body, time.perf_counter() - started)
    print(f"{name:>22}: status {response.status_code}, {body.count(b'update')} lines, body read after {seen[name][2]:.2f} s")

# %% [markdown]
# Both give status 200 and the same five lines. Any test written on these two responses
# gives the same result for both feeds: it cannot tell that one of them holds every line
# back. (The check at the end of the notebook asserts that the bodies are equal.)
#
# ## 3. What `assert_streams` sees
#
# `server.get(path)` reads the response from the socket, piece by piece, with the time each
# piece arrived and, for a streamkit App, when the app made it. `assert_streams(trace)`
# passes when the pieces came spread over time, as they were made, and returns the trace:

# %%
from streamkit.testing import StreamAssertionError, assert_streams

good = assert_streams(plain.get("/feed"), min_pieces=3)
print(good.verdict_text)

# %% [markdown]
# Behind the middleware it fails with an `AssertionError`. Its message says what failed, in
# a sentence made from the measured times, which layer held the stream back and the text
# timeline: what you would read in a CI log.

# %%
try:
    assert_streams(held.get("/feed"), min_pieces=3)
    caught = None
except StreamAssertionError as failure:
    caught = failure
    print(failure)

# %% [markdown]
# The error carries the trace (`caught.trace`) and its diagnosis (`caught.diagnosis`), so a
# test run can save them; the pytest plugin does that for you (section 6).

# %%
caught.trace

# %% [markdown]
# ## 4. Exercise: write the test

# %%
from streamkit.exercises import lesson11 as ex

# %% [markdown]
# ### Exercise 1: a test that catches the buffering middleware
#
# Write `test_feed(server)`: it gets a running server (like `plain` or `held` above), requests
# `/feed`, and fails with an `AssertionError` when the feed is held back. The check runs your
# test on both feeds: it must fail on the held-back one and pass on the plain one (a test
# that always fails would block every change).

# %%
def test_feed(server):
    ...  # your code here


# %%
ex.q1.check(test_feed)

# %%
ex.q1.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ## 5. Exercise: fix the middleware
#
# ### Exercise 2: keep the header, lose the hold
#
# Write `server_timing_fixed(app)`, a middleware that still adds a `Server-Timing` header but
# lets the body through as the app makes it. The check serves the feed behind your middleware
# and runs the lesson's test on it, with `assert_streams`. (A hint: a header goes out before
# the body, so it can only hold what is known by then.)

# %%
def server_timing_fixed(app):
    ...  # your code here


# %%
ex.q2.check(server_timing_fixed)

# %%
ex.q2.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# With a fix in place, run your test on it and watch it pass. (Until you have written both,
# this cell says what is missing.)

# %%
fixed_app = server_timing_fixed(feed_app())
if fixed_app is None or test_feed.__code__.co_code == (lambda server: None).__code__.co_code:
    print("write test_feed and server_timing_fixed above first")
else:
    fixed = serve(fixed_app, name="lesson11-fixed")
    test_feed(fixed)
    print("test_feed passed on the fixed middleware")

# %% [markdown]
# ## 6. The same test in your pytest suite
#
# Installing streamkit adds a pytest plugin with a `stream_server` fixture: it serves any app
# for real on loopback (a Flask app or app factory, Django, FastAPI, Starlette, Quart, any
# WSGI or ASGI app) and stops it after the test. In a test file of your project:
#
# ```python
# from streamkit.testing import assert_streams
#
# from myproject import create_app
#
#
# def test_feed_streams(stream_server):
#     server = stream_server(create_app)
#     assert_streams(server.get("/feed"), min_pieces=3)
# ```
#
# When it fails, the plugin saves the trace as a file and a picture
# (`pytest --streamkit-traces=traces`), and `streamkit show traces/<file>.json --html report.html`
# turns it into a page to attach to the bug report. Tutorial 07 (`tutorials/07-testing.md`)
# has Flask, Django and FastAPI versions and a CI recipe.

# %% [markdown]
# ## Checks

# %%
# 2. The test client saw the same status and body behind the middleware as without it.
assert seen["plain"][:2] == seen["behind server_timing"][:2]
assert seen["plain"][1].count(b"update") == 5
# 3. Over the socket, the plain feed streamed and the held one failed, with the story in the message.
assert good.verdict == "streamed"
assert caught is not None and caught.trace.verdict == "buffered"
assert caught.trace.verdict_text in str(caught) and "update" not in str(caught).splitlines()[0]
assert caught.trace.headers.get("Server-Timing", "").startswith("app;dur=")
late = [chunk.t for chunk in caught.trace.chunks if chunk.size]
made = [event.t for event in caught.trace.produced or () if event.size]
assert len(late) <= 2 and late[0] >= made[-1]  # nothing arrived before the last line was made
assert plain.errors == [] and held.errors == []
print("all checks passed")

# %% [markdown]
# The servers of this lesson keep running, so you can go back to the exercises. Running the
# notebook again replaces them (they are named), and restarting the kernel stops them.
