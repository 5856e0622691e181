# Source of notebooks/06_live_updates.ipynb (build with: make notebooks).

# %% [markdown]
# # 06 · Live updates with server-sent events
#
# So far every stream had an end. Live updates (a progress bar, a log tail, prices, chat)
# are streams that stay open and send something whenever there is news. Browsers have a
# built-in client for exactly that: `EventSource`, which reads **server-sent events** (SSE),
# a tiny text format over a plain streamed HTTP response. On the server it is just a
# generator.
#
# **In this notebook (about 25 minutes):**
#
# 1. the event format, and a generator that sends events;
# 2. reading events as they arrive;
# 3. reconnecting where the client left off;
# 4. clients that leave: cleanup, and why a silent stream never notices;
# 5. two exercises.

# %% [markdown]
# ## 1. The format
#
# The response has the content type `text/event-stream`. Each event is a few `field: value`
# lines followed by a **blank line**:
#
# ```text
# event: tick          (optional: the event's type; the default is "message")
# id: 3                (optional: the browser remembers it, for reconnecting)
# data: 12:00:03       (the payload; several data lines are joined with newlines)
#
# ```
#
# A line that starts with `:` is a comment, which clients ignore: handy as a heartbeat. A
# generator that yields one event per item is all the server needs:

# %%
import queue
import time

from streamkit import App, Response, request, serve
from streamkit.exercises.lesson06 import parse_events


def event(data, name=None, id=None):
    """One server-sent event as text."""
    lines = []
    if name:
        lines.append(f"event: {name}")
    if id is not None:
        lines.append(f"id: {id}")
    lines += [f"data: {line}" for line in str(data).split("\n")]
    return "\n".join(lines) + "\n\n"


print(event("step 3 of 5", name="progress", id=3), end="")

# %% [markdown]
# A progress stream: five steps of a slow job, one event each, 0.15 s apart. If the client
# sends `Last-Event-ID` (browsers do when they reconnect), we resume after that step.

# %%
app = App(__name__)


@app.route("/progress")
def progress():
    start = request.headers.get("Last-Event-ID", 0, type=int) + 1  # read before streaming

    def generate():
        for step in range(start, 6):
            time.sleep(0.15)  # the slow work
            yield event(f"step {step} of 5", name="progress", id=step)
        yield event("done", name="end")

    return Response(generate(), mimetype="text/event-stream")


server = serve(app, name="live")

# %% [markdown]
# ## 2. Reading events as they arrive
#
# The probe reads the stream like any other, so we see each event arrive on its own, when it
# was sent:

# %%
live = server.get("/progress")
live

# %% [markdown]
# `parse_events` splits the text the way a browser's `EventSource` does. Pairing each chunk
# with its arrival time:

# %%
for chunk in live.chunks:
    for parsed in parse_events(chunk.data.decode()):
        print(f"{chunk.t * 1000:6.0f} ms  {parsed}")

# %% [markdown]
# To watch the picture grow, try `t = server.get("/progress", live=True)` in a cell of your
# own (assigned to a name: as a cell's last expression the trace would draw itself a second time).
# In the browser, the client side is three lines of JavaScript:
#
# ```javascript
# const source = new EventSource("/progress");
# source.addEventListener("progress", (e) => console.log(e.lastEventId, e.data));
# source.addEventListener("end", () => source.close());
# ```
#
# (Behind JupyterHub or Binder, the proxy that forwards a browser to a port in your session
# buffers responses, *except* those requested with `Accept: text/event-stream`, which is what
# `EventSource` sends. So SSE is also the one kind of stream that reaches a browser there.)

# %% [markdown]
# ## 3. Reconnecting where the client left off
#
# When the connection drops, `EventSource` reconnects by itself and sends the last `id` it saw
# in the `Last-Event-ID` header. A server that honours it lets the client pick up where it
# was. We play the browser and send the header ourselves:

# %%
resumed = server.get("/progress", headers={"Last-Event-ID": "3"})
[parsed["data"] for parsed in parse_events(resumed.body.decode())]

# %% [markdown]
# ## 4. When the client leaves
#
# A live stream usually has no end of its own: it ends when the client goes away (a closed
# tab). The server notices only when it next **writes**: the write fails, the server stops
# iterating and calls the generator's `close()`, which runs its `finally:` block. That is
# where the cleanup goes: unsubscribe, release the database connection.
#
# Here a ticker sends an event every 0.1 s, forever, and notes in a list when it cleaned up.
# The probe's `max_seconds` plays the user who closes the tab after half a second.

# %%
cleanups = []


@app.route("/ticker")
def ticker():
    def generate():
        n = 0
        try:
            while True:
                n += 1
                yield event(n, name="tick")
                time.sleep(0.1)
        finally:
            cleanups.append(("ticker", time.monotonic()))  # record, never print

    return Response(generate(), mimetype="text/event-stream")


def cleanup_delay(name, trace, wait=3.0):
    """Seconds from the client leaving to the generator's cleanup (None: no cleanup in `wait` s)."""
    left = trace.started + trace.duration
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        done = [t for what, t in cleanups if what == name]
        if done:
            return done[-1] - left
        time.sleep(0.01)
    return None


cleanups.clear()
ticks = server.get("/ticker", max_seconds=0.5)
ticker_delay = cleanup_delay("ticker", ticks)
print(f"stopped by the client: {ticks.stopped}")
print(f"cleaned up {ticker_delay * 1000:.0f} ms after the client left")

# %% [markdown]
# Now a stream that waits for news: it only writes when a headline comes in. If the client
# leaves while nothing happens, there is no write to fail, and the generator (with its
# database connection, its subscription, its thread) lingers until the next headline, which
# may be hours away. The fix is a **heartbeat**: a comment line every few seconds (here 0.2 s),
# which `EventSource` ignores but which makes the server write, and so notice.

# %%
headlines = queue.Queue()


@app.route("/news")
def news():
    heartbeat = request.args.get("heartbeat", type=float)
    name = f"news, heartbeat {heartbeat}"

    def generate():
        try:
            yield ": connected\n\n"
            while True:
                try:
                    headline = headlines.get(timeout=heartbeat or 10)
                except queue.Empty:
                    yield ": still here\n\n"  # a comment: clients ignore it
                    continue
                yield event(headline, name="headline")
        finally:
            cleanups.append((name, time.monotonic()))

    return Response(generate(), mimetype="text/event-stream")


cleanups.clear()
with_heartbeat = server.get("/news?heartbeat=0.2", max_seconds=0.5)
heartbeat_delay = cleanup_delay("news, heartbeat 0.2", with_heartbeat)

silent = server.get("/news", max_seconds=0.5)
still_waiting = cleanup_delay("news, heartbeat None", silent, wait=1.0)  # nothing after 1 s...
headlines.put("streamkit workshop a success")  # ...until news comes in
time.sleep(0.2)
headlines.put("more at eleven")
silent_delay = cleanup_delay("news, heartbeat None", silent)

print(f"with a heartbeat: cleaned up {heartbeat_delay * 1000:.0f} ms after the client left")
print(f"without: 1 s after the client left, {'cleaned up' if still_waiting is not None else 'still running'}")
print(f"         cleaned up {silent_delay * 1000:.0f} ms after the client left, once headlines came")

# %% [markdown]
# Why two headlines? The first write after a client has gone usually still "succeeds": the
# bytes leave, and the client's machine answers with a reset. Only the write after that fails.
# The same is true of the ticker and of the heartbeat: a stream notices a departed client
# within one or two of its writes. So the heartbeat interval bounds how long a dead
# connection can hold on to its resources.

# %% [markdown]
# ## 5. Exercises

# %%
from streamkit.exercises import lesson06 as ex

# %% [markdown]
# ### Exercise 1: format an event
#
# Write `sse(data, event=None, id=None)` returning the text of one event: optional `event:`
# and `id:` lines, one `data:` line per line of `data`, and the blank line that ends it. (Yes,
# `event()` above does it; write your own without peeking.) The check streams a few events
# made by your function and reads them the way a browser would.

# %%
def sse(data, event=None, id=None):
    ...  # your code here


# %%
ex.q1.check(sse)

# %%
ex.q1.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 2: clean up after a client
#
# Write a generator `ticker(log)` that sends an event every 0.1 s forever, and appends
# `"closed"` to the list `log` once, when the client has gone. The check leaves after 0.45 s
# and waits for your cleanup.

# %%
def ticker(log):
    ...  # your code here


# %%
ex.q2.check(ticker)

# %%
ex.q2.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ## Checks

# %%
# Each event arrives on its own chunk, spread over the job's time, and parses as sent.
events = parse_events(live.body.decode())
assert [e.get("id") for e in events] == ["1", "2", "3", "4", "5", None]
assert [e["event"] for e in events] == ["progress"] * 5 + ["end"]
assert len(live.chunks) == 6 and live.verdict == "streamed"
assert live.chunks[0].t < live.chunks[-1].t / 2
assert live.headers["Content-Type"].startswith("text/event-stream")
# Last-Event-ID resumes after the given step.
assert [e["data"] for e in parse_events(resumed.body.decode())] == ["step 4 of 5", "step 5 of 5", "done"]
# The client left; the ticker's finally block ran within a few ticks, and a heartbeat lets a
# quiet stream notice as soon: both far sooner than a silent stream, which waits for news.
assert ticks.stopped and len(ticks.chunks) >= 3
assert ticker_delay is not None and heartbeat_delay is not None
assert still_waiting is None
assert max(ticker_delay, heartbeat_delay) < silent_delay / 2
assert server.errors == []
print("all checks passed")

# %% [markdown]
# The servers of this lesson keep running, so after *Run All* you can go back to any exercise,
# or try requests of your own. Running the notebook again replaces them (each `serve()` has a
# `name`), `server.stop()` stops one, and restarting the kernel stops them all.
#
# Next: **07 Production**.
