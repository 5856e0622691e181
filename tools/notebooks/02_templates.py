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
# 3. `enable_buffering(n)`: fewer, bigger chunks, measured for n = off, 2, 5 and 50;
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
# header is often bigger than `<li>`!). The stream that `stream_template_string` returns is a
# Jinja2 `TemplateStream`, and `enable_buffering(n)` makes it join `n` non-empty parts into
# each item it yields. It changes the stream in place (it returns `None`), so call it on its
# own line:

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
# `app.update_template_context(context)`. Here is that step on its own, in a test request:

# %%
with app.test_request_context("/price?who=Ada"):
    context = {"dish": "soup", "price": 4, "currency": "USD"}
    app.update_template_context(context)
    print(sorted(context), context["currency"])

# %% [markdown]
# Before `stream_template` existed, the pattern was written out by hand, and you will meet it
# in older Flask code. It is the same thing in four steps: get the template, fill the context,
# stream it, and keep the request for the template's `{{ request... }}` with
# `stream_with_context`:

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
