"""Exercises for lesson 10, Streaming tokens: an OpenAI-compatible token stream, and time to
first token measured at the first content rather than the first byte.

q1 serves the learner's view, posts a chat request to it and reads the reply twice: with the
probe (events, their times, the chunks that carried them) and with the official ``openai``
client. q2 runs the learner's ``time_to_first_token(trace)`` on real streams of the demo
endpoint and compares it with when the first content event arrived.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from ..app import App
from ..demos import chat as demo_chat
from ..demos import create_app
from ..server import serve
from ..trace import Trace, plural
from . import Exercise, NotAttempted, Wrong
from .checking import SERVER_NAME, fetch, is_placeholder, require_function

LESSON = "10"
#: System programs the lesson runs (nginx in section 5, Chromium in section 6); its checks need
#: neither, but nbval skips the notebook where one is missing.
NEEDS = ("nginx", "chromium")
TOKENS = ["Tokens", " leave", " one", " at", " a", " time", "."]
GAP = 0.08  # seconds between two tokens of model_tokens()
PATH = "/v1/chat/completions"
QUESTION = {"model": "exercise", "messages": [{"role": "user", "content": "Say something"}], "stream": True}


def model_tokens() -> Iterator[str]:
    """The "model": :data:`TOKENS`, one every 80 ms (the first after 80 ms too)."""
    for token in TOKENS:
        time.sleep(GAP)
        yield token


# -- q1 ------------------------------------------------------------------------------------


def _json(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _delta(event: Any) -> dict[str, Any] | None:
    value = _json(event.data)
    try:
        delta = value["choices"][0]["delta"]
    except (TypeError, KeyError, IndexError):
        return None
    return delta if isinstance(delta, dict) else None


def _check_chat_view(answer: Any) -> str:
    view = require_function(answer, "chat_view")
    app = App(__name__, template_folder=None)
    app.add_url_rule(PATH, endpoint="exercise", view_func=view, methods=["POST"])
    with app.test_request_context(PATH, method="POST", json=QUESTION):
        returned = view()
    if is_placeholder(returned):
        raise NotAttempted()
    close = getattr(returned, "close", None)
    if callable(close):
        close()
    server = serve(app, name=SERVER_NAME)
    try:
        trace = fetch(server, PATH, json=QUESTION, who="chat_view()")
        text = _read_with_openai(server.url)
    finally:
        server.stop()
    content_type = (trace.headers.get("Content-Type") or "").split(";")[0].strip()
    if content_type != "text/event-stream":
        raise Wrong(
            f"The response is {content_type or 'unlabelled'}; an event stream is text/event-stream "
            '(mimetype="text/event-stream"): EventSource accepts nothing else and browsers sniff text/plain.'
        )
    events = trace.events
    if trace.unterminated is not None or (
        events and any(_json(e.data) is None and e.data != "[DONE]" for e in events)
    ):
        raise Wrong(
            "Some events ran into each other: end every event with a blank line, "
            'yield f"data: {json.dumps(chunk)}\\n\\n" (two newlines).'
        )
    if not events or events[-1].data != "[DONE]":
        raise Wrong(
            'The stream must end with the event "data: [DONE]" (and its blank line), as the API does.'
        )
    first = _delta(events[0])
    if first is None or first.get("role") != "assistant" or first.get("content"):
        raise Wrong(
            'The first event should be the role-only delta: {"role": "assistant", "content": ""}, '
            f"got {events[0].data[:80]!r}."
        )
    if trace.content != "".join(TOKENS):
        raise Wrong(
            f"The tokens in the events read {trace.content[:80]!r}; send each token of model_tokens() "
            'as {"choices": [{"index": 0, "delta": {"content": token}, "finish_reason": null}]}.'
        )
    finals = [_json(e.data) for e in events[:-1] if (_delta(e) == {})]
    if not any(final and final["choices"][0].get("finish_reason") == "stop" for final in finals):
        raise Wrong('Before [DONE], send a chunk with an empty delta and "finish_reason": "stop".')
    contents = [event for event in events if event.content]
    figures = trace.event_figures
    if len(contents) != len(TOKENS) or figures is None or figures.per_chunk_max > 1:
        raise Wrong(
            f"The {len(TOKENS)} tokens came in {plural(len(contents), 'event')}, up to "
            f"{figures.per_chunk_max if figures else '?'} per chunk: yield one event per token, as it is made "
            "(not a list built first)."
        )
    spread = contents[-1].t - contents[0].t
    if spread < (len(TOKENS) - 1) * GAP * 0.5:
        raise Wrong(
            f"All {len(TOKENS)} tokens arrived within {spread * 1000:,.0f} ms, though the model made them "
            f"{GAP * 1000:.0f} ms apart: yield each one as soon as model_tokens() gives it."
        )
    if text != "".join(TOKENS):
        raise Wrong(f"The openai client read {text[:80]!r} from your stream, not the tokens.")
    return (
        f"{len(TOKENS)} tokens in {len(TOKENS)} events, the first content at "
        f"{trace.first_content * 1000:,.0f} ms (first byte {trace.ttfb * 1000:,.0f} ms), "  # type: ignore[operator]
        f"{figures.gap_median * 1000:,.0f} ms apart; the openai client read the same text."  # type: ignore[operator]
    )


def _read_with_openai(url: str) -> str:
    """The reply as the official client reads it (skipped, with a note, where it is missing)."""
    try:
        import openai
    except ImportError:
        return "".join(TOKENS)  # the probe's reading stands alone; the lesson names the package
    client: Any = openai.OpenAI(base_url=url + "/v1", api_key="not-needed", max_retries=0, timeout=10)
    try:
        stream = client.chat.completions.create(model="exercise", messages=QUESTION["messages"], stream=True)
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    except Exception as error:  # noqa: BLE001 - the learner's stream, told as the client said it
        raise Wrong(f"The openai client could not read your stream: {str(error)[:200]}") from None


q1 = Exercise(
    LESSON,
    1,
    "an OpenAI-compatible token stream",
    "chat_view",
    _check_chat_view,
    hint='Return Response(generate(), mimetype="text/event-stream"), where generate() yields '
    '"data: " + json.dumps(chunk) + "\\n\\n" for: the role-only delta first, then one chunk per '
    'token of model_tokens(), then a chunk with "delta": {} and "finish_reason": "stop", then '
    '"data: [DONE]\\n\\n".',
    solution_code="""
import json

from streamkit import Response
from streamkit.exercises.lesson10 import model_tokens

def chat_view():
    def chunk(delta, finish=None):
        body = {"object": "chat.completion.chunk", "model": "exercise",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(body)}\\n\\n"

    def generate():
        yield chunk({"role": "assistant", "content": ""})
        for token in model_tokens():
            yield chunk({"content": token})
        yield chunk({}, "stop")
        yield "data: [DONE]\\n\\n"

    return Response(generate(), mimetype="text/event-stream")
""",
)


# -- q2 ------------------------------------------------------------------------------------

# (request body, what the trace shows): a slow first token behind a role event and keep-alives,
# a quick one, and a reply that is not streamed (no events at all).
CASES = [
    ({"first_token_ms": 600, "keepalive_ms": 200, "tokens_per_second": 40, "stream": True}, "slow"),
    ({"first_token_ms": 0, "tokens_per_second": 40, "stream": True}, "quick"),
    ({"first_token_ms": 0, "tokens_per_second": 40, "stream": False}, "not streamed"),
]


def _check_ttft(answer: Any) -> str:
    func = require_function(answer, "time_to_first_token")
    traces: list[tuple[str, Trace]] = []
    with serve(create_app(), name=SERVER_NAME) as server:
        for options, label in CASES:
            body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, **options}
            traces.append((label, server.post(demo_chat.PATH, json=body)))
    said = []
    for label, trace in traces:
        got = func(trace)
        if is_placeholder(got) and label != "not streamed":
            raise NotAttempted()
        want = trace.first_content
        if want is None:
            if got is not None:
                raise Wrong(
                    f"For a reply that was not streamed (one JSON document, no events) you returned "
                    f"{got!r}; with no content event there is no first token: return None."
                )
            continue
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Wrong(f"time_to_first_token() should return seconds (a number), got {got!r:.60}.")
        if abs(got - want) > 0.001:
            known = {
                "the first byte": trace.ttfb,
                "the headers": trace.headers_at,
                "the first event (the role-only delta)": trace.first_event,
                "the end of the stream": trace.duration,
            }
            matches = [
                name for name, value in known.items() if value is not None and abs(got - value) < 0.001
            ]
            which = f" That is {' and '.join(matches)}." if matches else ""
            raise Wrong(
                f"For the {label} stream you returned {got * 1000:,.0f} ms; its first content event "
                f"arrived at {want * 1000:,.0f} ms.{which} Skip the events without content (and the "
                "comments): the first token is the first event whose content is not empty."
            )
        said.append(f"{label}: {got * 1000:,.0f} ms (first byte {trace.ttfb * 1000:,.0f} ms)")  # type: ignore[operator]
    return "Time to first token, " + "; ".join(said) + "; and None for the reply that was not streamed."


q2 = Exercise(
    LESSON,
    2,
    "time to first token, not first byte",
    "time_to_first_token",
    _check_ttft,
    hint="Walk trace.events in order and return the t of the first event whose content is not "
    "empty (event.content); comments are in trace.comments, not in trace.events. No such "
    "event: return None.",
    solution_code="""
def time_to_first_token(trace):
    for event in trace.events:
        if event.content:
            return event.t
    return None
""",
)

EXERCISES = [q1, q2]
