# Source of notebooks/09_browser.ipynb (build with: make notebooks).

# %% [markdown]
# # 09 · What the browser shows
#
# Every lesson so far read its streams with the probe, a client that records each piece the
# moment it arrives. Your users read them with a browser, and a browser has buffers of its
# own: before it shows a byte it may wait to guess what kind of content it got, or stop the
# page until a script or a stylesheet has loaded. In this lesson a real Chromium loads our
# streams and we measure, on one clock, when the app made each piece, when the browser's
# network stack got it, and when the page showed it.
#
# **In this notebook (about 20 minutes):**
#
# 1. the browser lane: `server.get(path, browser=True)`;
# 2. `text/plain` and content sniffing: what Chromium holds, and for how long;
# 3. rows streaming into a table, and what a `<script>` or stylesheet in `<head>` does to them;
# 4. server-sent events through `EventSource`;
# 5. an exercise.
#
# Every claim below is printed from what was measured in this run, with the version of
# Chromium that did it. Other browsers and other versions may behave differently: measure
# them the same way.

# %% [markdown]
# ## 0. Is Chromium there?
#
# The browser lane drives a Chromium installed on this machine through playwright, headless:
# Debian's `chromium` package, or on Binder the one the build fetched (`postBuild`). The kit
# never downloads a browser. `make lab` installs playwright; without make, run
# `pip install -e '.[browser]'` in the repository (`pip install 'streamkit-http[browser]'`
# elsewhere). If the next cell fails, it says in one line what is missing, or that the
# Chromium it found did not start (on Binder: the build could not fetch one that runs in the
# image); the rest of the lesson then cannot run here.

# %%
import time

from streamkit import App, Response, browser, request, serve
from streamkit.exercises.lesson09 import steps

print(f"Chromium {browser.version()}")

# %% [markdown]
# ## 1. The browser lane
#
# The demo app for this lesson streams a table, five rows 0.3 s apart. `head=` puts a slow
# script or stylesheet in the page's `<head>` (section 3); `/slow.js` and `/slow.css` take a
# second each to answer.

# %%
GAP = 0.3  # seconds between rows and lines
SLOW = 1.0  # seconds the slow script and stylesheet take

HEADS = {
    "none": "",
    "script": '<script src="/slow.js"></script>',
    "async": '<script async src="/slow.js"></script>',
    "style": '<link rel="stylesheet" href="/slow.css">',
}

app = App(__name__)


@app.route("/rows")
def rows():
    head = HEADS[request.args.get("head", "none")]  # read before streaming

    def generate():
        yield f"<!doctype html><html><head><meta charset=utf-8>{head}</head><body><table>\n"
        for n in range(1, 6):
            time.sleep(GAP)
            yield f"<tr><td>row {n}</td></tr>\n"
        yield "</table></body></html>\n"

    return Response(generate(), mimetype="text/html")


@app.route("/slow.js")
def slow_js():
    time.sleep(SLOW)
    return Response("document.documentElement.dataset.script = 'ran';", mimetype="text/javascript")


@app.route("/slow.css")
def slow_css():
    time.sleep(SLOW)
    return Response("td { padding: 2px 8px; }", mimetype="text/css")


server = serve(app, name="browser-lesson")

# %% [markdown]
# `server.get(path, browser=True)` loads the page in headless Chromium. The trace's client
# side is then the browser's: `browser_received` has one event per body read in Chromium's
# network stack (from the DevTools protocol), and `browser_shown` one per frame in which the
# page's visible text grew (a `MutationObserver` installed before the page loads). The
# server side (`produced`, `written`) is recorded as usual, through the trace id the browser
# sends.
#
# Chromium keeps clocks of its own, one in its network stack and one in the page. The kit
# moves both onto the trace's clock, so that the lanes can be compared to the millisecond;
# `trace.note` records how it did that, should times ever look odd (`print(table.note)`).
# Here we only need the first part of the note, the browser that did it, and what it made
# of the page:

# %% tags=["nbval-ignore-output"]
table = server.get("/rows", browser=True)
table

# %%
version, *details = table.note.split("; ")
print(version)
print([detail for detail in details if detail.startswith("the page showed it as")])

# %% [markdown]
# Row by row: when the app made it, when Chromium's network stack had it, when it was on the
# page.

# %%
def ms(seconds):
    return f"{seconds * 1000:,.0f} ms"


def times(n):
    return "once" if n == 1 else f"{n} times"


def row_times(trace):
    made = [e.t for e in trace.produced if e.size][1:-1]  # the rows, without head and tail
    got = [e.arrived for e in trace.produced if e.size][1:-1]
    shown = [e.t for e in steps(trace)]
    return list(zip(made, got, shown))


for n, (made, got, shown) in enumerate(row_times(table), 1):
    print(f"row {n}: made {ms(made):>8}   in the browser {ms(got):>8}   on the page {ms(shown):>8}")

# %% [markdown]
# Each row was on the page a few milliseconds after the app made it: a browser does render a
# streamed HTML page while it is still arriving.
#
# ## 2. `text/plain` and content sniffing
#
# A response says what it is in `Content-Type`. Browsers do not always believe it: for
# `text/plain` (and for a response with no type at all) Chromium looks at the first bytes to
# check that the text is not really something else (HTML, a PDF, an image). This is **content
# sniffing**, and while it looks, it holds the body back. The header `X-Content-Type-Options:
# nosniff` tells it not to guess.
#
# Four logs of five short lines, 0.3 s apart: 35 bytes, or 1,000 or 2,000 bytes of padding
# first, with and without `nosniff`.

# %%
@app.route("/log")
def log():
    padding = request.args.get("padding", 0, type=int)
    nosniff = request.args.get("nosniff") == "1"

    def generate():
        if padding:
            yield "." * (padding - 1) + "\n"
        for n in range(1, 6):
            yield f"line {n}\n"
            time.sleep(GAP)

    response = Response(generate(), mimetype="text/plain")
    if nosniff:
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def held(trace):
    """How the page's first text relates to the app's items: (first shown, first made, last made)."""
    made = [e.t for e in trace.produced if e.size]
    return steps(trace)[0].t, made[0], made[-1]


logs = {
    "35 bytes": server.get("/log", browser=True),
    "35 bytes, nosniff": server.get("/log?nosniff=1", browser=True),
    "1,000 bytes first": server.get("/log?padding=1000", browser=True),
    "2,000 bytes first": server.get("/log?padding=2000", browser=True),
}
for name, trace in logs.items():
    shown, first, last = held(trace)
    when = "after the app's last line" if shown > last else "before the app's last line"
    print(
        f"{name:<18} first text on the page at {ms(shown):>8} ({when}), "
        f"headers seen by the page at {ms(trace.headers_at):>8}, page grew {times(len(steps(trace)))}"
    )

# %% [markdown]
# What Chromium did here (the version is printed at the top):
#
# * **35 bytes, sniffed:** nothing, not even the response headers, left Chromium's network
#   stack until after the app's last line (it was waiting for the body to end). The whole
#   log appeared at once.
# * **with `nosniff`:** each line appeared as it arrived.
# * **1,000 bytes before the first pause:** still held, until more lines brought the body past
#   1,024 bytes (the fourth line); from then on, each line as it came.
# * **2,000 bytes before the first pause:** shown at once, then line by line: the sniffer had
#   seen enough.
#
# So a small `text/plain` stream needs `nosniff`, or at least 1 KiB before its first pause,
# to be seen while it streams. The same holds for a response with no `Content-Type` at all.

# %% tags=["nbval-ignore-output"]
logs["35 bytes"]

# %% [markdown]
# **HTML without a charset.** An HTML page whose `Content-Type` names no charset, and which has
# no `<meta charset>`, leaves the browser to pick an encoding. Does Chromium hold the page
# while it decides? Five paragraphs with an accented word, 0.3 s apart, sent as UTF-8:

# %%
@app.route("/accents")
def accents():
    def generate():
        yield "<!doctype html><html><head></head><body>\n"
        for n in range(1, 6):
            time.sleep(GAP)
            yield f"<p>r\u00e9ponse {n}</p>\n"

    response = Response(generate(), mimetype="text/html")
    response.headers["Content-Type"] = "text/html"  # no charset anywhere
    return response


accented = server.get("/accents", browser=True)
page = next(part for part in accented.note.split("; ") if part.startswith("the page showed it"))
print(f"{page}; the page grew {times(len(steps(accented)))}")
print(f"first paragraph: {steps(accented)[0].size} characters on the page for the 9 of 'r\u00e9ponse 1'")

# %% [markdown]
# Chromium showed each paragraph as it came, without waiting; but with no charset to go by it
# read the UTF-8 bytes as windows-1252, so `é` became two characters (`Ã©`). Name the
# charset: `text/html; charset=utf-8` (streamkit's `Response` does) or `<meta charset=utf-8>`
# first thing in `<head>`.

# %% [markdown]
# ## 3. Render-blocking `<head>` resources
#
# The same five rows, with a 1-second script, an `async` script, or a 1-second stylesheet in
# `<head>`. The bytes arrive just as before; what changes is when the page may show them.

# %%
pages = {head: server.get(f"/rows?head={head}", browser=True) for head in HEADS}
for head, trace in pages.items():
    shown = steps(trace)
    made = [e.t for e in trace.produced if e.size]
    first_row_got = trace.produced[1].arrived
    together = "together with the rows after it" if shown[0].size > len("row 1") else "on its own"
    print(
        f"{head:<7} row 1 in the browser at {ms(first_row_got):>8}, on the page at "
        f"{ms(shown[0].t):>8}, {together}"
    )

# %% tags=["nbval-ignore-output"]
from streamkit import compare

compare(pages["none"], pages["script"], labels=["no script", "a 1-second <script src> in <head>"])

# %% [markdown]
# * **no script, or an `async` script:** every row as it arrived.
# * **a `<script src>` in `<head>`:** the parser stopped at the script until it had loaded and
#   run (a second, at least, after the head was made), so the rows that arrived meanwhile
#   waited in the browser and appeared together.
# * **a stylesheet in `<head>`:** the same: no text was painted until the stylesheet had
#   loaded, a second at least after the head, and the first rows appeared together.
#
# Put scripts at the end of `<body>`, or mark them `async` or `defer`; inline the CSS a
# streamed page needs for its first rows.

# %% [markdown]
# ## 4. Server-sent events through `EventSource`
#
# A page that reads an event stream with `EventSource` and adds each event to a list.
# `follow="/events"` makes the received lane (and the server side) that of the event stream,
# not of the small page that opens it.

# %%
@app.route("/feed")
def feed():
    return Response(
        """<!doctype html><html><head><meta charset=utf-8></head><body><ul id="log"></ul>
<script>
const source = new EventSource("/events");
source.onmessage = (e) => {
  const item = document.createElement("li");
  item.textContent = e.data;
  document.getElementById("log").append(item);
};
source.addEventListener("end", () => source.close());
</script></body></html>""",
        mimetype="text/html",
    )


@app.route("/events")
def events():
    def generate():
        for n in range(1, 6):
            time.sleep(GAP)
            yield f"data: event {n}\n\n"
        yield "event: end\ndata: bye\n\n"

    return Response(generate(), mimetype="text/event-stream")


sse = server.get("/feed", browser=True, follow="/events")
made = [e.t for e in sse.produced if e.size]
shown = steps(sse)
print(
    f"{sse.headers['Content-Type'].split(';')[0]}: {len(made) - 1} messages and an end event made, "
    f"the page grew {times(len(shown))}"
)
for n, (m, s) in enumerate(zip(made, shown), 1):
    print(f"event {n}: made {ms(m):>8}, on the page {ms(s.t):>8}")

# %% [markdown]
# Each event was on the page within milliseconds of being made: `EventSource` is not sniffed
# and hands over each event as soon as its blank line arrives.

# %% tags=["nbval-ignore-output"]
sse

# %% [markdown]
# ## 5. Exercise

# %%
from streamkit.exercises import lesson09 as ex

# %% [markdown]
# ### Exercise 1: a log the browser shows line by line
#
# `slow_log()` yields five short lines, 0.3 s apart. Write a view `log_view()` that returns it
# as `text/plain`, so that Chromium shows each line as it comes (not all at the end). The
# check loads your view in the browser and compares what the page showed with when the app
# made each line.

# %%
from streamkit.exercises.lesson09 import slow_log


def log_view():
    ...  # your code here


# %%
ex.q1.check(log_view)

# %%
ex.q1.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ## Checks

# %%
# 1. The table streamed into the page: at least 3 growths, the first before the last row was made.
rows_made = [e.t for e in table.produced if e.size]
assert len(steps(table)) >= 3 and steps(table)[0].t < rows_made[-1]
for made, got, shown in row_times(table):
    assert made <= got <= shown + 0.002  # made, then in the browser, then on the page
# 2. Sniffing: the small log was held past the app's last line, headers included; nosniff and
# 2,000 bytes first were not; 1,000 bytes first was held until the body passed 1,024 bytes.
shown, first, last = held(logs["35 bytes"])
assert shown > last and logs["35 bytes"].headers_at > last and len(steps(logs["35 bytes"])) == 1
for name in ("35 bytes, nosniff", "2,000 bytes first"):
    shown, first, last = held(logs[name])
    assert shown < last and len(steps(logs[name])) >= 4, name
padded = logs["1,000 bytes first"]
made = [e for e in padded.produced if e.size]
passed = next(i for i, total in enumerate(__import__("itertools").accumulate(e.size for e in made)) if total >= 1024)
assert steps(padded)[0].t >= made[passed].t and steps(padded)[0].t < made[-1].t
assert all(trace.browser_received[0].t >= trace.headers_at - 0.002 for trace in logs.values())
# HTML without a charset: shown as it came, decoded as windows-1252 (two characters for the é).
assert "decoded as windows-1252" in accented.note and len(steps(accented)) >= 4
assert steps(accented)[0].t < [e.t for e in accented.produced if e.size][-1]
assert steps(accented)[0].size == len("r\u00c3\u00a9ponse 1")
# 3. A blocking script or stylesheet in <head> held the first rows until it had loaded (later
# than the second row was made); no script or an async script did not.
for head in ("none", "async"):
    made = [e.t for e in pages[head].produced if e.size]
    assert steps(pages[head])[0].t < made[2] and steps(pages[head])[0].size == len("row 1"), head
for head in ("script", "style"):
    made = [e.t for e in pages[head].produced if e.size]
    assert steps(pages[head])[0].t > made[2] and steps(pages[head])[0].size > 5, head
    assert steps(pages[head])[0].t >= made[0] + SLOW, head
# 4. SSE: every event on the page before the next one was made.
made = [e.t for e in sse.produced if e.size]
assert sse.error is None and sse.verdict == "streamed" and len(steps(sse)) == 5
for n, step in enumerate(steps(sse)):
    assert made[n] <= step.t and (n == 4 or step.t < made[n + 1]), n
assert server.errors == []
print("all checks passed")

# %% [markdown]
# The server and the browser of this lesson keep running, so after *Run All* you can go back
# to the exercise, or load pages of your own with `server.get(path, browser=True)`. Running
# the notebook again replaces the server and reuses the browser; `server.stop()` and
# `browser.stop()` stop them, and restarting the kernel stops both (Chromium ends with the
# kernel).
