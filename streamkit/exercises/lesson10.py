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
from .checking import SERVER_NAME, calling, fetch, is_untouched, kind_of, require_function, served, try_view
from .guard import call

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
    try_view(
        app,
        view,
        PATH,
        method="POST",
        json=QUESTION,
        returns='Response(generate(), mimetype="text/event-stream")',
    )
    with served(app) as server:
        trace = fetch(server, PATH, json=QUESTION, who="chat_view()")
        contents = _judge_chat_stream(trace)
        text = _read_with_openai(server.url, server.access_headers)
    if text is not None and text != "".join(TOKENS):
        raise Wrong(f"The openai client read {text[:80]!r} from your stream, not the tokens.")
    figures = trace.event_figures
    apart = (
        f", {figures.gap_median * 1000:,.0f} ms apart (median)"
        if figures is not None and figures.gap_median is not None
        else ""
    )
    read = (
        "the openai client read the same text"
        if text is not None
        else "(the openai package is not installed here, so only the probe read it)"
    )
    first_byte = f" (first byte {trace.ttfb * 1000:,.0f} ms)" if trace.ttfb is not None else ""
    return (
        f"{len(TOKENS)} tokens in {plural(len(contents), 'event')}, the first content at "
        f"{contents[0].t * 1000:,.0f} ms{first_byte}{apart}; {read}."
    )


def _judge_chat_stream(trace: Trace) -> list[Any]:
    """What the probe read, judged against the chat completions format; the content events."""
    content_type = (trace.headers.get("Content-Type") or "").split(";")[0].strip()
    if content_type != "text/event-stream":
        raise Wrong(
            f"The response is {content_type or 'unlabelled'}; an event stream is text/event-stream "
            '(mimetype="text/event-stream"): clients read chat chunks only from an event stream.'
        )
    events = trace.events
    if trace.unterminated is not None or any("\n" in event.data for event in events):
        raise Wrong(
            "Some events ran into each other: end every event with a blank line, "
            'yield f"data: {json.dumps(chunk)}\\n\\n" (two newlines).'
        )
    if not events:
        raise Wrong(
            f"The body held no server-sent event (it began {trace.body[:40]!r}): each event is a line "
            '"data: ..." followed by a blank line.'
        )
    for number, event in enumerate(events, 1):
        if event.data != "[DONE]" and _json(event.data) is None:
            repr_like = "'" in event.data and '"' not in event.data
            raise Wrong(
                f"Event {number}'s data is {event.data[:60]!r}, which is not JSON"
                + (
                    ": str(chunk) writes a dict as Python does, with single quotes; write json.dumps(chunk)."
                    if repr_like
                    else ": each event carries one chat.completion.chunk object, written with json.dumps(chunk)."
                )
            )
    if events[-1].data != "[DONE]":
        raise Wrong(
            'The stream must end with the event "data: [DONE]" (and its blank line), as the API does; '
            f"the last event was {events[-1].data[:60]!r}."
        )
    first = _delta(events[0])
    if first is None or first.get("role") != "assistant" or first.get("content"):
        raise Wrong(
            'The first event should be the role-only delta: {"role": "assistant", "content": ""}, '
            f"got {events[0].data[:80]!r}."
        )
    for number, event in enumerate(events[1:-1], 2):
        if _delta(event) is None:
            raise Wrong(
                f"Event {number} has no choices[0].delta: {event.data[:80]!r}. Chat chunks carry a "
                'token as {"choices": [{"index": 0, "delta": {"content": token}, "finish_reason": null}]}.'
            )
    said = "".join(str((_delta(event) or {}).get("content") or "") for event in events)
    if said != "".join(TOKENS):
        raise Wrong(
            f"The tokens in the events read {said[:80]!r}, not {''.join(TOKENS)!r}: send each token of "
            'model_tokens() once, as {"choices": [{"index": 0, "delta": {"content": token}, '
            '"finish_reason": null}]}.'
        )
    finals = [_json(event.data) for event in events[:-1] if _delta(event) == {}]
    if not any(final["choices"][0].get("finish_reason") == "stop" for final in finals):
        raise Wrong('Before [DONE], send a chunk with an empty delta and "finish_reason": "stop".')
    contents = [event for event in events if (_delta(event) or {}).get("content")]
    figures = trace.event_figures
    together = figures.per_chunk_max if figures is not None else len(contents)
    if len(contents) != len(TOKENS) or together > 1:
        raise Wrong(
            f"The {len(TOKENS)} tokens came in {plural(len(contents), 'event')}, up to {together} events "
            "per chunk: yield one event per token, as model_tokens() gives it (no list or string built first)."
        )
    spread = contents[-1].t - contents[0].t
    if spread < (len(TOKENS) - 1) * GAP * 0.5:
        raise Wrong(
            f"All {len(TOKENS)} tokens arrived within {spread * 1000:,.0f} ms, though the model made them "
            f"{GAP * 1000:.0f} ms apart: yield each one as soon as model_tokens() gives it "
            "(no list built first)."
        )
    return contents


def _read_with_openai(url: str, headers: dict[str, str]) -> str | None:
    """The reply as the official client reads it, sending ``headers`` (the server's
    ``access_headers``); None where the package is missing."""
    try:
        import openai
    except ImportError:
        return None
    client: Any = openai.OpenAI(
        base_url=url + "/v1", api_key="not-needed", default_headers=headers, max_retries=0, timeout=5
    )

    def read() -> str:
        stream = client.chat.completions.create(model="exercise", messages=QUESTION["messages"], stream=True)
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

    try:
        text: str = call(
            read,
            what="the openai client",
            doing="it read your stream",
            likely="the stream does not end (send data: [DONE] and return)",
        )
        return text
    except Wrong:
        raise
    except Exception as error:  # noqa: BLE001 - the learner's stream, told as the client said it
        raise Wrong(f"The openai client could not read your stream: {str(error)[:200]}") from None
    finally:
        client.close()


q1 = Exercise(
    LESSON,
    1,
    "an OpenAI-compatible token stream",
    "chat_view",
    _check_chat_view,
    hint=[
        "An event stream is text: each event is a line data: <JSON> and a blank line. A "
        "generator inside the view can yield one event per token as model_tokens() makes it.",
        'Four kinds of chunk, in order: the role-only delta {"role": "assistant", '
        '"content": ""}, one {"content": token} per token, an empty delta {} with '
        '"finish_reason": "stop", and last the line data: [DONE]. Each chunk is '
        '{"choices": [{"index": 0, "delta": ..., "finish_reason": ...}]} written with '
        "json.dumps.",
        'Return Response(generate(), mimetype="text/event-stream"), where generate() yields '
        '"data: " + json.dumps(chunk) + "\\n\\n" for each of those chunks, then '
        '"data: [DONE]\\n\\n".',
    ],
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
        got = calling(func, trace)
        if got is Ellipsis or (got is None and is_untouched(func)):
            raise NotAttempted()
        want = trace.first_content
        if want is None:
            if got is not None:
                raise Wrong(
                    f"For a reply that was not streamed (one JSON document, no events) you returned "
                    f"{got!r:.60}; with no content event there is no first token: return None."
                )
            continue
        if got is None:
            raise Wrong(
                f"time_to_first_token(trace) returned None for the {label} stream, whose first content "
                f"event arrived at {want * 1000:,.0f} ms: did you forget return, or did no event pass "
                "your test? event.content holds the text an event carried."
            )
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise Wrong(
                f"time_to_first_token() should return seconds (a number), got {kind_of(got)}: {got!r:.60}."
            )
        if abs(got - want) > 0.001:
            raise Wrong(
                f"For the {label} stream you returned {got:,.3f}; its first content event arrived at "
                f"{want:,.3f} s.{_which_time(trace, got)}"
            )
        said.append(f"{label}: {got * 1000:,.0f} ms (first byte {trace.ttfb * 1000:,.0f} ms)")  # type: ignore[operator]
    return "Time to first token, " + "; ".join(said) + "; and None for the reply that was not streamed."


def _which_time(trace: Trace, got: float) -> str:
    """What a wrong time is, when it is one the trace knows: the mistake named."""
    want = trace.first_content or 0.0
    if abs(got - want * 1000) < 1.0:
        return " That is the right moment in milliseconds: return seconds, as event.t is."
    if trace.ttfb is not None and abs(got - (want - trace.ttfb)) < 0.001:
        return " That is measured from the first byte: return event.t itself, which counts from the request."
    known = {
        "the first byte": trace.ttfb,
        "the headers": trace.headers_at,
        "the first event (the role-only delta)": trace.first_event,
        "the last event ([DONE])": trace.events[-1].t if trace.events else None,
        "the end of the stream": trace.duration,
    }
    matches = [name for name, value in known.items() if value is not None and abs(got - value) < 0.001]
    which = f" That is {' and '.join(matches)}." if matches else ""
    return (
        f"{which} Skip the events without content (and the comments): the first token is the "
        "first event whose content is not empty."
    )


q2 = Exercise(
    LESSON,
    2,
    "time to first token, not first byte",
    "time_to_first_token",
    _check_ttft,
    hint=[
        "trace.events lists the events in order, each with its time t (seconds from the request) "
        "and the content it carried. Not every event carries content.",
        "Walk trace.events in order and return the t of the first event whose content is not "
        "empty (if event.content:). Comments are in trace.comments, not in trace.events. No "
        "such event: return None.",
    ],
    solution_code="""
def time_to_first_token(trace):
    for event in trace.events:
        if event.content:
            return event.t
    return None
""",
)

EXERCISES = [q1, q2]
