# Source of notebooks/02_templates.ipynb (build with: make notebooks).

# %% [markdown]
# # 02 · Templates, part by part
#
# Most pages are not built by hand but from a Jinja2 template. `render_template` turns the
# whole template into one string, and only then can the server send it. The second streaming
# technique sends the template **while it renders**: `stream_template` gives the server the
# pieces as Jinja2 produces them.
#
# **In this notebook (about 25 minutes):**
#
# 1. render against stream, on a page whose data comes slowly;
# 2. what a template *part* is;
# 3. `enable_buffering(n)`: fewer, bigger chunks, measured for n = off, 2, 5 and 50, and
#    what differs on Flask;
# 4. filling the context: `update_template_context` and context processors;
# 5. three exercises.

# %% [markdown]
# ## 1. Render against stream
#
# A menu template, and its dishes served by `slowly()`, which hands them out 50 ms apart, as a
# slow query would. (`MENU`, `DISHES` and `slowly` come from the exercise module, so the
# exercises use the same ones.)

# %%
from streamkit import (
    App,
    Response,
    compare,
    render_template_string,
    request,
    serve,
    stream_template_string,
    stream_with_context,
)
from streamkit.exercises.lesson02 import DISHES, MENU, slowly

print(MENU)
print(DISHES)

# %%
app = App(__name__)


@app.route("/render")
def menu_rendered():
    page = render_template_string(MENU, dishes=slowly(DISHES))  # the whole page, as one str
    return Response(page)


@app.route("/stream")
def menu_streamed():
    page = stream_template_string(MENU, dishes=slowly(DISHES))  # parts, as they are made
    return Response(page)


server = serve(app, name="templates")

rendered = server.get("/render")
streamed = server.get("/stream")
compare(rendered, streamed, labels=["render_template_string", "stream_template_string"])

# %% [markdown]
# Same page, same total time. The rendered one arrives in one piece at the end; the streamed
# one starts at once and grows dish by dish. For a browser that means the top of the page
# shows up (and its CSS and scripts start loading) while the server is still working.

# %% [markdown]
# ## 2. What is a part?
#
# Jinja2 compiles a template into a Python generator. Each run of literal text between tags
# is one yielded part, and so is each `{{ expression }}`. A `{% for %}` loop yields its body's
# parts again on every pass. `Template.generate()` shows them:

# %%
template = app.jinja_env.from_string(MENU)
list(template.generate(dishes=DISHES[:3]))

# %% [markdown]
# `<ul>`, then `<li>`, the dish and `</li>` for each dish, then `</ul>`: 3 parts per dish plus 2.
# For our ten dishes that is 32 parts, and streamed without grouping, 32 chunks:

# %%
print(len(list(template.generate(dishes=DISHES))), "parts;", len(streamed.chunks), "chunks streamed")

# %% [markdown]
# ## 3. `enable_buffering(n)`: grouping parts
#
# Sending each tiny part on its own costs a write and an HTTP chunk header each (the chunk
# header is often bigger than `<li>`!). The stream that streamkit's `stream_template_string`
# returns is a Jinja2 `TemplateStream`, and `enable_buffering(n)` makes it join `n` non-empty
# parts into each item it yields. (Flask's is not: see *On Flask* below.) It changes the stream
# in place (it returns `None`), so call it on its own line:

# %%
@app.route("/menu")
def menu_grouped():
    stream = stream_template_string(MENU, dishes=slowly(DISHES))
    group = request.args.get("group", 0, type=int)
    if group:
        stream.enable_buffering(group)
    return Response(stream)


grouped = {n: server.get(f"/menu?group={n}") for n in [0, 2, 5, 50]}
for n, trace in grouped.items():
    parts = [event.parts for event in trace.produced]
    print(f"enable_buffering({n or 'off'})".ljust(21), f"chunks: {len(trace.chunks):>2}   parts in each: {parts}")

# %%
compare(*grouped.values(), labels=["off", "enable_buffering(2)", "enable_buffering(5)", "enable_buffering(50)"])

# %% [markdown]
# The trade-off is visible: bigger groups mean fewer chunks, but each group waits for its
# last part. With 5 the page still streams in 7 steps; with 50 (more parts than the page has)
# nothing leaves until the end, just like `render_template`. A good size groups enough
# parts to make chunks of a few hundred bytes to a few KB, without holding any part back for
# long.

# %% [markdown]
# ### On Flask
#
# Here Flask differs. Flask's `stream_template_string` (and `stream_template`) return a plain
# Python generator, not a `TemplateStream`, so there is no `enable_buffering`: calling it
# raises `AttributeError` and Flask answers 500. To group parts on Flask, build the stream the
# way Flask's documentation pattern "Streaming Contents" does: fill the context with
# `app.update_template_context(context)`, then ask Jinja2 for the template's `TemplateStream`
# with `app.jinja_env.get_template(name).stream(context)` (`from_string(source)` for a
# template in a string). That stream has `enable_buffering`.
#
# Measured on real Flask, served by the same `serve()` (it serves any WSGI app). Flask wants
# every route added before its first request, so all three go in before `serve()`. Flask
# normally logs a view's exception and answers 500; `PROPAGATE_EXCEPTIONS` hands it to the
# server instead, which keeps it in `on_flask.errors` (as lesson 03 shows). A Flask
# app has no *app produced* lane (the kit records that inside its own `App`), so we count
# what the server wrote: `trace.written`, one entry per write.

# %%
import flask

flask_app = flask.Flask(__name__)
flask_app.config["PROPAGATE_EXCEPTIONS"] = True  # hand errors to the server, which keeps them


@flask_app.route("/menu")
def flask_menu():
    return flask.Response(flask.stream_template_string(MENU, dishes=slowly(DISHES)))


@flask_app.route("/menu-enable-buffering")
def flask_menu_enable_buffering():
    stream = flask.stream_template_string(MENU, dishes=slowly(DISHES))
    stream.enable_buffering(5)  # a plain generator has no such method
    return flask.Response(stream)


@flask_app.route("/menu-grouped")
def flask_menu_grouped():
    # Flask's "Streaming Contents" pattern: fill the context, then the TemplateStream.
    context = {"dishes": slowly(DISHES)}
    flask_app.update_template_context(context)
    stream = flask_app.jinja_env.from_string(MENU).stream(context)
    stream.enable_buffering(5)
    return flask.Response(flask.stream_with_context(stream))


on_flask = serve(flask_app, name="templates-flask")
flask_plain = on_flask.get("/menu")
flask_broken = on_flask.get("/menu-enable-buffering")
flask_grouped = on_flask.get("/menu-grouped")
print("Flask's stream_template_string:   ", len(flask_plain.written), "writes")
print("  ...with enable_buffering(5):    ", flask_broken.status, repr(on_flask.errors[-1]))
print("Flask, TemplateStream by hand (5):", len(flask_grouped.written), "writes")
print("streamkit, enable_buffering(5):   ", len(grouped[5].written), "writes")

# %%
compare(flask_plain, flask_grouped, labels=["Flask: stream_template_string", "Flask: TemplateStream, enable_buffering(5)"])

# %% [markdown]
# On Flask, `stream_template_string` streams, but every part is its own write: 32 for this
# page. `enable_buffering(5)` on it fails with a 500. The stream built by hand groups five
# parts per write, 7 writes, exactly as streamkit's `stream_template_string` does. So on
# Flask: `stream_template` when one write per part is fine, the pattern by hand when you want
# `enable_buffering`. (The by-hand stream needs `stream_with_context` for a template that
# reads `request`; Flask's `stream_template` adds it itself. Lesson 03 explains why.)

# %% [markdown]
# ## 4. Filling the context
#
# Templates often need values that every page shares: the site name, the logged-in user, the
# current request. A **context processor** is a function returning a dict; the app merges it
# into every template's context. `request` is added too. Values the view passes itself win.

# %%
@app.context_processor
def site_values():
    return {"site": "Streamkit Café", "currency": "EUR"}


PRICE = "{{ site }}: {{ dish }} for {{ price }} {{ currency }}, asked by {{ request.args.who }}"


@app.route("/price")
def price():
    if request.args.get("dollars"):
        return Response(stream_template_string(PRICE, dish="soup", price=4, currency="USD"))
    return Response(stream_template_string(PRICE, dish="soup", price=4))


print(server.get("/price?who=Ada").body.decode())
print(server.get("/price?who=Ada&dollars=1").body.decode())

# %% [markdown]
# `stream_template_string` fills the context *before* it returns, while the view runs: that is
# `app.update_template_context(context)`. Here is that step on its own. There is no server
# and no view here, so we make a request by hand: `app.test_request_context(path)` builds the
# request a client asking for `path` would send, and inside its `with` block `request` and the
# template functions work as they do in a view (Flask has the same method):

# %%
with app.test_request_context("/price?who=Ada"):
    context = {"dish": "soup", "price": 4, "currency": "USD"}
    app.update_template_context(context)
    print(sorted(context), context["currency"])

# %% [markdown]
# Before `stream_template` existed, the pattern was written out by hand, and you will meet it
# in older Flask code; on Flask it is still the way to get `enable_buffering` (see *On Flask*
# above). It is the same thing in four steps: get the template, fill the context, stream it,
# and keep the request for the template's `{{ request... }}` with `stream_with_context`.
# The server reads a stream after the view has returned, when the request is gone;
# `stream_with_context` keeps it available for the stream, and lesson 03 is all about that.
# `stream_template_string` does this step for you.

# %%
@app.route("/price-by-hand")
def price_by_hand():
    template = app.jinja_env.from_string(PRICE)
    context = {"dish": "soup", "price": 4}
    app.update_template_context(context)
    stream = template.stream(context)
    stream.enable_buffering(5)
    return Response(stream_with_context(stream))


by_hand = server.get("/price-by-hand?who=Ada")
print(by_hand.body.decode())
print(len(by_hand.chunks), "chunks")

# %% [markdown]
# One more thing comes for free: autoescaping. Template strings are escaped like `.html`
# files, and that holds for every streamed part, so user input cannot inject markup:

# %%
print(server.get("/price?who=<script>alert(1)</script>").body.decode())

# %% [markdown]
# ## 5. Exercises

# %%
from streamkit.exercises import lesson02 as ex

# %% [markdown]
# ### Exercise 1: groups of five
#
# Write a view `menu()` that streams `ex.MENU` with the dishes `ex.DISHES`, five parts per
# chunk.

# %%
def menu():
    ...  # your code here


# %%
ex.q1.check(menu)

# %%
ex.q1.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 2: predict the chunks
#
# Without running anything: how many chunks does the server send for `MENU` with **4** dishes
# and `enable_buffering(3)`? The check measures it on a real server and compares.

# %%
prediction = ...  # a whole number

# %%
ex.q2.check(prediction)

# %%
ex.q2.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 3: a context processor
#
# Write a context processor `shop_context()` that gives every template the values `shop`
# (`"Streamkit Café"`) and `currency` (`"EUR"`). The check registers it on an app of its own
# and streams a template that uses both.

# %%
def shop_context():
    ...  # your code here


# %%
ex.q3.check(shop_context)

# %%
ex.q3.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ## Checks

# %%
# render_template_string sends one piece at the end; stream_template_string starts at once.
assert rendered.verdict == "single" and rendered.ttfb > streamed.duration / 2
assert streamed.verdict == "streamed" and streamed.ttfb < rendered.ttfb / 3
assert streamed.body == rendered.body
# 32 parts: off, 2, 5 and 50 give 32, 16, 7 and 1 chunks; groups of five are 6 x 5 + 2.
assert {n: len(trace.chunks) for n, trace in grouped.items()} == {0: 32, 2: 16, 5: 7, 50: 1}
assert [event.parts for event in grouped[5].produced] == [5, 5, 5, 5, 5, 5, 2]
assert grouped[5].verdict == "streamed"
# Context processors fill in; values passed by the view win; request is there while streaming.
assert server.get("/price?who=Ada").body == "Streamkit Café: soup for 4 EUR, asked by Ada".encode()
assert server.get("/price?who=Ada&dollars=1").body.endswith(b"4 USD, asked by Ada")
assert by_hand.body == server.get("/price?who=Ada").body
# On real Flask: stream_template_string has no enable_buffering (500) and writes each part;
# the TemplateStream built by hand groups five parts per write, as streamkit does.
assert flask_plain.status == 200 and flask_plain.body == streamed.body
assert len(flask_plain.written) == 32 and flask_plain.verdict == "streamed"
assert flask_broken.status == 500
assert flask_grouped.body == streamed.body and len(flask_grouped.written) == len(grouped[5].written) == 7
assert flask_grouped.verdict == "streamed"
assert [type(error).__name__ for error in on_flask.errors] == ["AttributeError"]
assert "enable_buffering" in str(on_flask.errors[0])
# Streamed values are escaped.
assert b"&lt;script&gt;" in server.get("/price?who=<script>").body
assert server.errors == []
print("all checks passed")

# %% [markdown]
# The servers of this lesson keep running, so after *Run All* you can go back to any exercise,
# or try requests of your own. Running the notebook again replaces them (each `serve()` has a
# `name`), `server.stop()` stops one, and restarting the kernel stops them all.
#
# Next: **03 Context**.
