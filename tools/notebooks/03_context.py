# Source of notebooks/03_context.ipynb (build with: make notebooks).

# %% [markdown]
# # 03 · Context: the request after the view has returned
#
# A streamed response has an odd life cycle. The view function runs, builds a generator and
# returns it *without running it*. Only then does the server start pulling items out of the
# generator. By that time the view is over, and so is the request context that made `request`
# work. A generator that reads `request` fails.
#
# **In this notebook (about 25 minutes):**
#
# 1. the failure: a `RuntimeError` on the server, seen from the notebook;
# 2. the fix, `stream_with_context`, as a wrapper and as a decorator;
# 3. when teardown callbacks run;
# 4. the other fix: read what you need before streaming starts;
# 5. three exercises.

# %% [markdown]
# ## 1. The failure
#
# A greeting that reads the name from the query string, inside the generator:

# %%
import time

from streamkit import App, Response, request, serve, stream_with_context

app = App(__name__)


@app.route("/greet-broken")
def greet_broken():
    def generate():
        yield "Hello, "
        time.sleep(0.1)
        yield request.args["name"]  # runs after the view has returned
        yield "!\n"

    return Response(generate(), mimetype="text/plain")


server = serve(app, name="context")

broken = server.get("/greet-broken?name=Ada")
broken

# %% [markdown]
# The status was already `200 OK` and `Hello, ` was on its way when the generator reached
# `request`. What the client got is a cut-off body, and an HTTP stream that ends without its
# final empty chunk (that is how a chunked response says "broken"):

# %%
print(broken.status, broken.body, broken.error, sep="\n")

# %% [markdown]
# The exception itself happened on the server, in a background thread. The server kept it
# (nothing is printed from server threads, which would land in a random cell), and the trace
# carries it. `raise_for_error()` raises it again here, so you can read it as if it had
# happened in this cell:

# %% tags=["raises-exception"]
broken.raise_for_error()

# %% [markdown]
# ## 2. The fix: `stream_with_context`
#
# `stream_with_context` remembers the request that is active when it is called (inside the
# view), and makes it active again each time the server asks the generator for its next item.
# Two forms, as in Flask. The **wrapper** wraps a generator object:

# %%
@app.route("/greet")
def greet():
    def generate():
        yield "Hello, "
        time.sleep(0.1)
        yield request.args["name"]
        yield "!\n"

    return Response(stream_with_context(generate()), mimetype="text/plain")


fixed = server.get("/greet?name=Ada")
fixed

# %% [markdown]
# The **decorator** marks a generator function; calling it (in the view) captures the request.
# Arguments pass through as usual:

# %%
@app.route("/countdown")
def countdown():
    @stream_with_context
    def generate(start):
        for n in range(start, 0, -1):
            yield f"{request.args.get('who', 'you')}: {n}\n"
            time.sleep(0.05)

    return Response(generate(3), mimetype="text/plain")


decorated = server.get("/countdown?who=Ada")
print(decorated.body.decode(), end="")
decorated

# %% [markdown]
# Wrap *inside* the view. Outside a request there is nothing to capture, and
# `stream_with_context` says so at once instead of failing later:

# %% tags=["raises-exception"]
def lines():
    yield "too early"


stream_with_context(lines())

# %% [markdown]
# ## 3. When does teardown run?
#
# `@app.teardown_request` callbacks run when a request is over: the place to close a database
# session or release a lock. For a streamed response "over" means *after the stream*, because
# the generator may still need the database. We note each step in a list (never print from
# the server!) and look at it afterwards:

# %%
steps = []
steps_app = App(__name__)  # an app of its own, so running this cell again starts clean


@steps_app.teardown_request
def note_teardown(error):
    steps.append("teardown")


@steps_app.route("/steps")
def stepped():
    @stream_with_context
    def generate():
        steps.append("generator started")
        for n in range(3):
            yield f"item {n}\n"
            steps.append(f"item {n} sent")
        steps.append("generator finished")

    response = Response(generate(), mimetype="text/plain")
    steps.append("view returned")
    return response


steps_server = serve(steps_app, name="context-steps")
steps_server.get("/steps")
steps

# %% [markdown]
# The view returned before anything was generated; teardown ran once, at the very end. (Flask
# 3.1.3 runs teardown callbacks twice for a streamed response: first when the view returns, in
# the middle of the stream, and again when the stream has ended. streamkit runs them once, at
# the end; the kit's parity tests keep an eye on the difference.)

# %% [markdown]
# ## 4. The other fix: read before you stream
#
# Often you do not need the request inside the generator at all: read what you need in the
# view, which runs with the request active, and hand the values to the generator as
# arguments. No context needs to be kept, and the generator is easier to test on its own.
# This is also the only way for anything that must happen **before the headers go out**: a
# status code, a cookie, a session change (in Flask, `session` is saved into a `Set-Cookie`
# header, and headers leave with the first item).

# %%
@app.route("/hello")
def hello():
    name = request.args.get("name", "stranger")  # read while the view runs
    agent = request.headers.get("User-Agent", "?")
    theme = request.cookies.get("theme", "light")

    def generate(name, agent, theme):  # plain arguments: no request needed
        yield f"Hello, {name}!\n"
        yield f"Your client: {agent}\n"
        yield f"Theme: {theme}\n"

    return Response(generate(name, agent, theme), mimetype="text/plain")


early = server.get("/hello?name=Ada", headers={"Cookie": "theme=dark"})
print(early.body.decode(), end="")

# %% [markdown]
# ## 5. Exercises

# %%
from streamkit.exercises import lesson03 as ex

# %% [markdown]
# ### Exercise 1: keep the request
#
# Write `greet()`: the view `greet_broken` from section 1, fixed with the **wrapper** form of
# `stream_with_context`, so that `?name=Ada` streams `Hello, Ada!\n`.

# %%
def greet():
    ...  # your code here


# %%
ex.q1.check(greet)

# %%
ex.q1.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 2: when teardown runs
#
# Put these four steps in the order they happen for a streamed response with
# `stream_with_context`: `"view returned"`, `"generator started"`, `"generator finished"`,
# `"teardown"`. The check runs a real request and compares.

# %%
order = ...  # a list of the four steps

# %%
ex.q2.check(order)

# %%
ex.q2.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 3: read before streaming
#
# Write a view `shout()` that reads the request header `X-Name` in the view (before
# streaming) and streams the name in capitals, one letter per line: `X-Name: ada` gives
# `A\nD\nA\n`. No `stream_with_context` needed.

# %%
def shout():
    ...  # your code here


# %%
ex.q3.check(shout)

# %%
ex.q3.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ## Checks

# %%
# Without stream_with_context: status 200, "Hello, " sent, then the RuntimeError broke it.
assert broken.verdict == "broken" and broken.status == 200
assert broken.body == b"Hello, "
assert isinstance(broken.server_error, RuntimeError)
assert str(broken.server_error).startswith("Working outside of request context.")
assert broken.error is not None  # the client saw a cut-off chunked body
# With it, in both forms, the same generator works.
assert fixed.verdict == "streamed" and fixed.body == b"Hello, Ada!\n"
assert decorated.body == b"Ada: 3\nAda: 2\nAda: 1\n"
# Teardown ran once, after the stream had finished; the view returned first.
assert steps[0] == "view returned" and steps[-2:] == ["generator finished", "teardown"]
assert steps.count("teardown") == 1
# Reading in the view needs no context at all.
assert early.body.startswith(b"Hello, Ada!\n") and early.body.endswith(b"Theme: dark\n")
# The server kept exactly one error: the RuntimeError of section 1.
assert [type(error).__name__ for error in server.errors] == ["RuntimeError"]
assert steps_server.errors == []
print("all checks passed")

# %% [markdown]
# The servers of this lesson keep running, so after *Run All* you can go back to any exercise,
# or try requests of your own. Running the notebook again replaces them (each `serve()` has a
# `name`), `server.stop()` stops one, and restarting the kernel stops them all.
#
# Next: **04 What breaks**.
