# Source of notebooks/00_welcome.ipynb (build with: make notebooks).

# %% [markdown]
# # 00 · Welcome: see a stream arrive
#
# This workshop is about one idea: a web response does not have to be finished before it
# starts to leave. A Python generator can hand the server one piece at a time, and each piece
# can reach the client while the next one is still being made. When that works, users see the
# first rows of a big report at once, a progress page updates live, and a 1 GiB export costs
# the server almost no memory. When something in between holds the pieces back, none of that
# happens, and nothing tells you so.
#
# So in every lesson we **measure**. A small web server runs inside this notebook's kernel,
# in a background thread. We send it requests and record when each piece of the answer arrives,
# then draw it as a timeline.
#
# **In this notebook (about 15 minutes):**
#
# 1. check your setup: the kit, a server, a first measurement;
# 2. learn to read a timeline;
# 3. try the exercise mechanics: `check()`, `hint()`, `solution()`;
# 4. know where to get help.
#
# **How to work:** run the cells from top to bottom with <kbd>Shift</kbd>+<kbd>Enter</kbd>.
# Running a cell again, or the whole notebook again, is always safe: a server started again
# under the same name replaces the old one.

# %% [markdown]
# ## 1. Setup check
#
# First, the kit itself. If this cell fails, see *Where to get help* at the end.

# %%
import streamkit

print("streamkit", streamkit.__version__, "is ready")

# %% [markdown]
# Now a tiny web application. `App`, `Response` and `request` carry the same names as in
# Flask, and the view below runs on Flask as it is, with the import changed to
# `from flask import Flask as App, Response, request` (the kit's `serve()` serves a Flask app
# too). Where Flask differs, the lesson that meets it says so: `enable_buffering` in lesson
# 02, and Flask wants every route added before the app's first request, while these notebooks
# add routes cell by cell.
#
# The view `/count` returns a `Response` built from a **generator**: a function with `yield`.
# The generator does not run when the view returns. The server runs it afterwards, and sends
# each yielded string as soon as it has it. We pause 0.1 s between numbers so that we can see
# them arrive one by one.

# %%
import time

from streamkit import App, Response, request, serve

app = App(__name__)


@app.route("/count")
def count():
    n = int(request.args.get("n", 5))  # read the request while the view runs

    def numbers():
        for i in range(1, n + 1):
            yield f"{i}\n"
            time.sleep(0.1)

    return Response(numbers(), mimetype="text/plain")


# %% [markdown]
# `serve()` starts that app on a background thread of this kernel and returns once it is
# listening. It only listens on `127.0.0.1`, your own machine. The `name` is what makes a
# re-run safe: serving again under the same name stops the previous server first.

# %%
server = serve(app, name="welcome")
server

# %% [markdown]
# And the first measurement. `server.get(path)` requests the path, reads the answer piece by
# piece as it arrives, and returns a **trace**: what arrived, when, and what the app did on the
# server side meanwhile. Displayed in a notebook, a trace draws itself.

# %%
trace = server.get("/count")
trace

# %% [markdown]
# If you see a picture with five marks spread out in time and the word **streamed**, your setup
# works.

# %% [markdown]
# ## 2. Reading a timeline
#
# Time runs from left to right, in milliseconds since the request was sent. Each lane is one
# place where the data was seen:
#
# | lane | what it shows |
# |---|---|
# | **app produced** | the moment the generator yielded each piece (recorded inside the server) |
# | **server sent** | the moment the server wrote that piece to the network |
# | **client received** | the moment the piece arrived at the client, here in this notebook |
#
# - Each mark is one piece; a taller mark carries more bytes.
# - Grey lines follow the bytes from lane to lane. Straight vertical lines mean each piece
#   moved on at once. Lines slanting to the right mean something held pieces back: *buffering*.
# - The dashed orange line marks the moment the status and headers arrived.
# - A red mark, with the exception's name, shows where a stream broke.
# - The coloured badge under the title is the **verdict**: `streamed`, `buffered`, `broken`,
#   `empty`, or `single` (the whole body came at once, and nothing says it was made over time).
#
# The same trace as text, for a terminal or a log file:

# %%
print(trace.to_text())

# %% [markdown]
# The numbers are there to compute with, too. `trace.chunks` holds one record per piece
# received, with its time `t` (seconds), its `size` and its `data`:

# %%
for chunk in trace.chunks:
    print(f"{chunk.t * 1000:7.1f} ms  {chunk.size} bytes  {chunk.data!r}")

# %% [markdown]
# Times change a little from run to run; the shape does not. Try `live=True`: the picture
# redraws as the pieces come in (this cell takes half a second).

# %% tags=["nbval-ignore-output"]
live_trace = server.get("/count?n=5", live=True)

# %% [markdown]
# The probe works for any URL, not just our own server: `streamkit.probe("https://...")`
# measures the client side of any response. In a terminal, `streamkit probe URL` does the same
# and prints the text timeline.

# %% [markdown]
# ## 3. Exercises
#
# Each lesson has two or three exercises. You fill in the `...`, run the cell, then run the
# check. A check runs your code for real: it serves your view on its own background server
# and measures what arrives, so any code that behaves right passes. It answers one of
#
# - **Not attempted yet**: the `...` is still there;
# - **Not quite**: your code ran, and the message says what was measured and what to change;
# - **Correct!**
#
# Stuck? The cell after each check runs `hint()`: its first run gives a nudge, each run again
# tells more, and the last one shows a solution (`solution()` shows it at once). Every solution
# is also in `notebooks/solutions/`.

# %%
from streamkit.exercises import lesson00 as ex

# %% [markdown]
# ### Exercise 1: your own trace
#
# Request `/count` with the query string `?n=3` from the server above, and store the trace in
# `my_trace`.

# %%
my_trace = ...  # your code here

# %%
ex.q1.check(my_trace)

# %%
ex.q1.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 2: a first stream
#
# Write a view `countdown()` that streams the four lines `3`, `2`, `1` and `liftoff!` (each
# ending in `\n`), pausing 0.1 s after each. You don't need to add it to `app`: the check serves
# it on a server of its own.

# %%
def countdown():
    ...  # your code here


# %%
ex.q2.check(countdown)

# %%
ex.q2.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ## 4. Where to get help
#
# - **In a notebook:** `help(streamkit.serve)`, `help(streamkit.probe)`, or `server.get?` show
#   the documentation of every function. `hint()` and `solution()` help with exercises.
# - **Without Jupyter:** the tutorials in `tutorials/` cover each technique as plain text.
# - **Something behaves oddly?** Restart the kernel (*Kernel → Restart*) and run from the top.
#   A server that is still running from an old cell is stopped by running its `serve()` again.
# - **In a workshop:** ask! The instructor guide (`tutorials/instructor-guide.md`) lists the
#   most common stumbling blocks and their fixes.
#
# ## Checks
#
# Every lesson ends with cells that assert what it claimed, so the lesson cannot silently stop
# being true. Here: the view streamed five pieces spread over time, the server recorded each
# one as produced, and nothing went wrong on the server.

# %%
assert trace.verdict == "streamed"
assert [chunk.data for chunk in trace.chunks] == [b"1\n", b"2\n", b"3\n", b"4\n", b"5\n"]
assert len(trace.produced) == 5
assert trace.chunks[0].t < trace.chunks[-1].t / 2  # spread out in time, not all at once
assert trace.headers_at <= trace.ttfb
assert server.errors == []
print("all checks passed")

# %% [markdown]
# The servers of this lesson keep running, so after *Run All* you can go back to any exercise,
# or try requests of your own. Running the notebook again replaces them (each `serve()` has a
# `name`), `server.stop()` stops one, and restarting the kernel stops them all.
#
# Next: **01 Generators**.
