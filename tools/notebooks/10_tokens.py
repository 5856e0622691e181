# Source of notebooks/10_tokens.ipynb (build with: make notebooks NB=10).

# %% [markdown]
# # 10 · Streaming tokens: an LLM-style reply
#
# The streams most people meet today are the replies of language-model APIs: you POST a chat
# request, and the answer comes back a few characters at a time, as the model makes them.
# Underneath it is the same streaming this workshop is about, with three twists: the request
# is a **POST with a JSON body**, the body is a stream of **server-sent events**, and what the
# user waits for is not the first byte but the **first token**.
#
# No model runs in this lesson and nothing is downloaded: the "model" is a generator that
# sleeps between words. Everything else is real: real servers on 127.0.0.1, a real nginx,
# the official `openai` client, and a real Chromium.
#
# **In this notebook (about 25 minutes):**
#
# 1. the format, written with streamkit's `App`, and read by the official `openai` client;
# 2. the same endpoint in Starlette;
# 3. time to first token (TTFT) against time to first byte;
# 4. keep-alive comments while the model thinks;
# 5. what nginx's defaults and a gzip middleware do to the reply, and the fixes;
# 6. reading the reply in the browser with `fetch()`;
# 7. a client that leaves in the middle of the reply;
# 8. two exercises.

# %% [markdown]
# ## 1. The format
#
# An OpenAI-compatible `POST /v1/chat/completions` with `"stream": true` answers with
# `Content-Type: text/event-stream`. Each event is a line `data: {...}` followed by a blank
# line, and its JSON is a `chat.completion.chunk`:
#
# * first a chunk whose `delta` only names the role (`{"role": "assistant", "content": ""}`):
#   no text yet;
# * then one chunk per token, `{"delta": {"content": " word"}}`;
# * then a chunk with an empty delta and a `finish_reason` (`"stop"`);
# * and last the line `data: [DONE]`.
#
# The view below reads and checks the request **before** it returns the stream: once the
# first byte is out, the status (200) is gone, and a bad request can no longer become a 400.

# %%
import json
import time

from streamkit import App, Response, request, serve

WORDS = ["Streams", " arrive", " one", " token", " at", " a", " time", "."]
GAP = 0.1  # seconds between two tokens


def chunk(delta, finish=None):
    """One chat.completion.chunk as one server-sent event."""
    body = {
        "id": "chatcmpl-lesson",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "lesson",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


def make_app(made=None):
    """The chat endpoint; ``made`` (a list) collects each token as the generator makes it."""
    app = App(__name__)

    @app.route("/v1/chat/completions", methods=["POST"])
    def chat():
        question = request.get_json(silent=True)  # read and checked before the stream starts
        if not isinstance(question, dict) or not isinstance(question.get("messages"), list):
            error = {"error": {"message": "send a JSON object with a messages list"}}
            return Response(json.dumps(error), status=400, mimetype="application/json")
        think = float(question.get("think", 0.3))  # how long the "model" takes to start

        def generate():
            try:
                yield chunk({"role": "assistant", "content": ""})
                time.sleep(think)
                for n, word in enumerate(WORDS):
                    if n:
                        time.sleep(GAP)
                    if made is not None:
                        made.append(word)
                    yield chunk({"content": word})
                yield chunk({}, "stop")
                yield "data: [DONE]\n\n"
            finally:
                if made is not None:
                    made.append("(closed)")

        response = Response(generate(), mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-cache"
        if request.args.get("nobuffer") == "1":
            response.headers["X-Accel-Buffering"] = "no"  # section 5
        return response

    return app


server = serve(make_app(), name="tokens-lesson")
QUESTION = {"model": "lesson", "messages": [{"role": "user", "content": "Hi"}], "stream": True}

# %% [markdown]
# `server.post(path, json=...)` sends the body (with `Content-Type: application/json`) and
# reads the reply like every probe in this workshop. Because the reply is
# `text/event-stream`, the trace also splits it into **events** (`trace.events`): each with
# the time the read that completed it arrived, its `data`, and its `content`, the text it
# carries (None for the role-only chunk, the finish chunk and `[DONE]`).

# %% tags=["nbval-ignore-output"]
reply = server.post("/v1/chat/completions", json=QUESTION)
reply

# %%
for event in reply.events:
    print(f"{event.t * 1000:8.1f} ms  content={event.content!r}")
print("the text:", reply.content)

# %% [markdown]
# The same reply, read by the **official `openai` client**: point its `base_url` at our server
# (the key is not checked by anyone here). The kit's servers answer only you:
# `default_headers=server.access_headers` shows it is you where the system can't (a Mac).

# %%
import openai

client = openai.OpenAI(base_url=server.url + "/v1", api_key="not-needed", default_headers=server.access_headers)
stream = client.chat.completions.create(model="lesson", messages=QUESTION["messages"], stream=True)
read_by_openai = "".join(part.choices[0].delta.content or "" for part in stream)
print(read_by_openai)

# %% [markdown]
# ## 2. The same endpoint in Starlette
#
# In an ASGI framework the shape is the same: read the body first, then return a
# `StreamingResponse` of an async generator. `await asyncio.sleep` hands the event loop back
# between tokens (lesson 08 shows what a blocking `time.sleep` would do). FastAPI's
# `StreamingResponse` is this class.

# %%
import asyncio

from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route


async def starlette_chat(incoming):
    try:
        question = await incoming.json()
    except ValueError:
        return JSONResponse({"error": {"message": "the body is not JSON"}}, status_code=400)

    async def generate():
        yield chunk({"role": "assistant", "content": ""})
        await asyncio.sleep(float(question.get("think", 0.3)))
        for n, word in enumerate(WORDS):
            if n:
                await asyncio.sleep(GAP)
            yield chunk({"content": word})
        yield chunk({}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(generate(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


starlette_server = serve(Starlette(routes=[Route("/v1/chat/completions", starlette_chat, methods=["POST"])]), name="tokens-starlette")
starlette_reply = starlette_server.post("/v1/chat/completions", json=QUESTION)
print(starlette_reply.content)
print(f"{len(starlette_reply.events)} events, {sum(1 for e in starlette_reply.events if e.content)} with content: {starlette_reply.verdict}")

# %% [markdown]
# ## 3. Time to first token, not time to first byte
#
# The kit's demo app has an OpenAI-compatible endpoint too, whose timing is set by the request:
# `first_token_ms` (how long the "model" thinks), `tokens_per_second`, `keepalive_ms` and
# `max_tokens`. It sends the role-only chunk **at once** and the first token after
# `first_token_ms`, as many real servers do.

# %%
from streamkit.demos import create_app

demo = serve(create_app(), name="tokens-demo")
slow_start = demo.post(
    "/v1/chat/completions",
    json={**QUESTION, "max_tokens": 8, "first_token_ms": 800, "tokens_per_second": 20},
)
print(f"first byte:    {slow_start.ttfb * 1000:8.1f} ms  (the role-only chunk)")
print(f"first content: {slow_start.first_content * 1000:8.1f} ms  (the first token)")

# %% [markdown]
# A tool that times "the first chunk" reports the first number, and it is wrong by the
# whole thinking time. **TTFT is the time to the first event with content.** The diagnosis
# says so too, and blames no layer: nothing held the token; the model was slow to make it.

# %%
found = slow_start.diagnose()
print(found.codes)
print(found.findings[0].summary)

# %% [markdown]
# ## 4. Keep-alive comments while the model thinks
#
# A long think is a long silence on the connection, and silences get connections closed (nginx's
# `proxy_read_timeout` is 60 s, many load balancers 60 s). Server-sent events have a
# built-in answer: a line starting with a colon is a **comment**, which every client ignores
# but every proxy sees as traffic. The demo sends `: keep-alive` every `keepalive_ms` while
# it thinks. Comments are not events (`trace.comments` keeps them apart), but they end the
# silence:

# %%
quiet = demo.post("/v1/chat/completions", json={**QUESTION, "max_tokens": 4, "first_token_ms": 1200})
kept = demo.post("/v1/chat/completions", json={**QUESTION, "max_tokens": 4, "first_token_ms": 1200, "keepalive_ms": 250})
for name, trace in (("no keep-alive", quiet), ("keep-alive every 250 ms", kept)):
    figures = trace.event_figures
    print(
        f"{name:<24} {len(trace.comments)} comments, longest silence {figures.longest_silence * 1000:7.1f} ms, "
        f"first content {trace.first_content * 1000:7.1f} ms"
    )

# %% [markdown]
# The first token came no sooner (the model is as slow as before), but the connection was never
# quiet for more than a quarter of a second.

# %% [markdown]
# ## 5. nginx's defaults, and a gzip middleware
#
# `serve(app, behind="nginx")` puts a real nginx in front of our app, configured the way many
# sites are: `proxy_buffering on` and `gzip on` for text types, `text/event-stream` included.

# %%
proxied = serve(make_app(), behind="nginx", name="tokens-nginx")
through_nginx = proxied.post("/v1/chat/completions", json=QUESTION)
print(f"{through_nginx.headers.get('Content-Encoding')}: {through_nginx.verdict}")
print(f"most events in one chunk: {through_nginx.event_figures.per_chunk_max} of {len(through_nginx.events)}")
print(through_nginx.diagnose().codes)

# %% tags=["nbval-ignore-output"]
through_nginx

# %% [markdown]
# Every token was made 0.1 s apart, and they all reached the client in one piece, at the end:
# nginx compressed the reply and its gzip waited for more input before sending any. The
# diagnosis names nginx, and its `events-glued` finding says what that did to the tokens.
#
# How much would a compressor wait for? zlib (what gzip uses) keeps input until it has enough to
# compress well, and token events are very repetitive: the same JSON around a few new letters
# each. Feed one, without ever asking it to flush, chunks in the demo's format carrying made-up
# words (no two alike, so only the JSON repeats), until it gives out more than its 10-byte header:

# %%
import random
import string
import zlib

from streamkit.demos import chat as demo_chat

request_body = demo_chat.parse(json.dumps(QUESTION).encode())
words = random.Random(10)
compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip format, default level
fed = out = 0
while out <= 10 and fed < 5_000_000:
    word = " " + "".join(words.choice(string.ascii_lowercase) for _ in range(words.randint(2, 8)))
    event = demo_chat.event(demo_chat.chunk(request_body, {"content": word})).encode()
    out += len(compressor.compress(event))
    fed += len(event)
print(f"nothing beyond the gzip header until {fed / 1024:,.0f} KiB of events had gone in")

# %% [markdown]
# That is far more than any chat reply: **without a flush, a gzip layer holds the whole
# reply.** Two fixes, one for each place the compression can be:
#
# * **in nginx**: the app sends the response header `X-Accel-Buffering: no` (nginx then passes
#   each piece on, gzip output included), or the streaming location gets `proxy_buffering off`;
# * **in the app**: a gzip middleware that flushes after every item (zlib's `Z_SYNC_FLUSH`), such
#   as `streamkit.GzipMiddleware`, instead of one that collects the body
#   (`streamkit.NaiveGzipMiddleware` stands for those).

# %%
from streamkit import GzipMiddleware, NaiveGzipMiddleware

fixed_nginx = proxied.post("/v1/chat/completions?nobuffer=1", json=QUESTION)

naive_app = make_app()
naive_app.wsgi_app = NaiveGzipMiddleware(naive_app.wsgi_app)
flushing_app = make_app()
flushing_app.wsgi_app = GzipMiddleware(flushing_app.wsgi_app)
naive = serve(naive_app, name="tokens-naive-gzip").post("/v1/chat/completions", json=QUESTION)
flushing = serve(flushing_app, name="tokens-gzip").post("/v1/chat/completions", json=QUESTION)

for name, trace in (
    ("nginx, X-Accel-Buffering: no", fixed_nginx),
    ("a gzip middleware that collects", naive),
    ("a gzip middleware that flushes", flushing),
):
    print(
        f"{name:<32} {trace.headers.get('Content-Encoding') or 'identity':<8} {trace.verdict:<9} "
        f"most events in one chunk: {trace.event_figures.per_chunk_max}"
    )

# %% tags=["nbval-ignore-output"]
from streamkit import compare

compare(through_nginx, fixed_nginx, labels=["nginx defaults", "X-Accel-Buffering: no"])

# %% [markdown]
# ## 6. Reading the reply in the browser with `fetch()`
#
# A browser's `EventSource` can only GET: it cannot send a chat request. Web apps use
# `fetch()` and read the body with a stream reader instead. `server.post(..., browser=True)`
# does exactly that in a real headless Chromium: it loads a small page of the kit's own that
# calls `fetch()`, reads `response.body` with a `ReadableStream` reader, and adds each read to
# the page. The trace gets `browser_reads` (each read of the page's reader) and `browser_shown`
# (when the page showed it), beside the server's side.

# %%
from streamkit import browser

print(f"Chromium {browser.version()}")
in_browser = server.post("/v1/chat/completions", json=QUESTION, browser=True)
print(in_browser.content)
made = [e.t for e in in_browser.produced if e.size]
shown = [e.t for e in in_browser.browser_shown if e.size]
token_made = made[1:-2]  # the role chunk, a token per item, then the finish and [DONE]
on_time = sum(any(when <= s < later for s in shown) for when, later in zip(token_made, token_made[1:]))
print(f"{on_time} of the first {len(token_made) - 1} tokens were on the page before the next one was made")

# %% tags=["nbval-ignore-output"]
in_browser

# %% [markdown]
# Each token was on the page a few milliseconds after the app made it: a `fetch()` reader gets
# the body as it arrives (no sniffing, unlike a page that shows `text/plain`, lesson 09).

# %% [markdown]
# ## 7. A client that leaves in the middle of the reply
#
# Users press *Stop*, close tabs, lose their network. When the client goes away, the next
# write to its socket fails, the server closes the generator (a `GeneratorExit` at its
# `yield`, so its `finally` runs), and the model stops: **no more tokens are made** for
# nobody. Here the client reads for 0.35 s of a reply that takes about 0.8 s, then leaves;
# the app notes each token it makes.

# %% tags=["nbval-ignore-output"]
made_tokens = []
leaving = serve(make_app(made_tokens), name="tokens-leaving")
cut_short = leaving.post("/v1/chat/completions", json={**QUESTION, "think": 0.1}, max_seconds=0.35)
time.sleep(0.6)  # longer than the rest of the reply would have taken
after_leaving = len(made_tokens)
time.sleep(0.4)
print(f"the client read {sum(1 for e in cut_short.events if e.content)} tokens, then left")
print(f"the app made {len([w for w in made_tokens if w != '(closed)'])} of {len(WORDS)} tokens; generator closed: {'(closed)' in made_tokens}")

# %% [markdown]
# The app made the tokens the client had read and a couple more (a write into a socket whose
# reader has gone can still succeed once; the next one fails), then stopped. In an async server the same happens through
# cancellation: Starlette cancels the response task when the client disconnects.
#
# With a real model behind it, that matters: stop generating when nobody is reading. Keep the
# generation *inside* the generator (or cancel it in its `finally`), never in a background
# thread that runs on regardless.

# %% [markdown]
# ## 8. Exercises

# %%
from streamkit.exercises import lesson10 as ex

# %% [markdown]
# ### Exercise 1: an OpenAI-compatible token stream
#
# `model_tokens()` yields the tokens of a short reply, one every 80 ms. Write the view
# `chat_view()` for `POST /v1/chat/completions` that streams them in the chat completions
# format: the role-only chunk, one chunk per token as it comes, a chunk with
# `"finish_reason": "stop"`, and `data: [DONE]`. The check reads your stream with the probe
# and with the official `openai` client.

# %%
from streamkit.exercises.lesson10 import model_tokens


def chat_view():
    ...  # your code here


# %%
ex.q1.check(chat_view)

# %%
ex.q1.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 2: time to first token
#
# Write `time_to_first_token(trace)`: the seconds from the request to the first event that
# carried content, or `None` when no event did. (The trace has `first_content` for this; write
# it yourself from `trace.events`.) The check runs it on real streams of the demo endpoint: one
# that thinks behind a role chunk and keep-alives, one that does not, and a reply that was not
# streamed at all.

# %%
def time_to_first_token(trace):
    ...  # your code here


# %%
ex.q2.check(time_to_first_token)

# %%
ex.q2.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ## Checks

# %%
# 1. The format: role-only first, a token per event, finish, [DONE]; every client read the same text.
text = "".join(WORDS)
assert reply.content == text and read_by_openai == text and starlette_reply.content == text
assert reply.events[0].content is None and '"role": "assistant"' in reply.events[0].data
assert reply.events[-1].data == "[DONE]" and '"finish_reason": "stop"' in reply.events[-2].data
contents = [e for e in reply.events if e.content]
assert len(contents) == len(WORDS) and reply.event_figures.per_chunk_max == 1
assert all(b.t - a.t > GAP / 2 for a, b in zip(contents, contents[1:]))  # each token as it was made
assert starlette_reply.verdict == "streamed" and starlette_reply.event_figures.per_chunk_max == 1
# 3. TTFT: the first byte came at once, the first content after the 0.8 s think.
assert slow_start.ttfb * 3 < slow_start.first_content and slow_start.first_content - slow_start.ttfb > 0.5
assert found.streams and found.codes == ["first-content-late"]
# 4. Keep-alives: comments every 250 ms while thinking, so no silence near the 1.2 s think.
assert len(quiet.comments) == 0 and quiet.event_figures.longest_silence > 1.0
assert len(kept.comments) == 4 and kept.event_figures.longest_silence < 0.6
assert kept.first_content > 1.0  # the think was as long as before
# 5. nginx's defaults glued the whole reply into one chunk; each fix streams it token by token.
assert through_nginx.headers.get("Content-Encoding") == "gzip" and through_nginx.verdict != "streamed"
assert through_nginx.event_figures.per_chunk_max == len(through_nginx.events)
assert through_nginx.diagnose().culprit == "proxy" and "events-glued" in through_nginx.diagnose().codes
assert 100_000 < fed < 5_000_000  # zlib held far more than a whole reply (2 KB here) without a flush
assert naive.verdict != "streamed" and naive.event_figures.per_chunk_max == len(naive.events)
for trace in (fixed_nginx, flushing):
    assert trace.verdict == "streamed" and trace.event_figures.per_chunk_max == 1 and trace.content == text
assert flushing.headers.get("Content-Encoding") == "gzip"
# 6. In the browser: the page read and showed each token before the next was made.
assert in_browser.content == text and len(in_browser.browser_reads) >= len(WORDS)
assert len(token_made) == len(WORDS) and on_time == len(WORDS) - 1
# 7. The client left after 0.35 s: the app stopped making tokens and closed the generator.
read_tokens = sum(1 for e in cut_short.events if e.content)
made_words = [w for w in made_tokens if w != "(closed)"]
assert cut_short.stopped and read_tokens < len(WORDS)
assert "(closed)" in made_tokens and len(made_words) <= read_tokens + 3 and len(made_words) < len(WORDS)
assert len(made_tokens) == after_leaving  # nothing more after it had stopped
assert server.errors == [] and demo.errors == []
print("all checks passed")

# %% [markdown]
# The servers of this lesson keep running, so you can go back to the exercises or post your own
# requests. Running the notebook again replaces them; restarting the kernel stops them all
# (nginx and Chromium included).
