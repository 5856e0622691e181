"""An OpenAI-compatible chat completions endpoint that streams a fixed reply, token by token.

``POST /v1/chat/completions`` answers the way the chat completions API of OpenAI (and of the
many servers that copy it: vLLM, llama.cpp, Ollama's ``/v1``) does, so that their own clients
can read it. No model runs: the reply is the same passage every time, cut into word-sized
tokens, and the timing is set by the request:

* ``first_token_ms``: how long the "model" thinks before its first token (default 300);
* ``tokens_per_second``: how fast the tokens come after that (default 20);
* ``keepalive_ms``: while thinking, send an SSE comment (``: keep-alive``) this often
  (default 0: none);
* ``max_tokens``: stop after this many tokens (``finish_reason`` is then ``"length"``).

These go in the JSON body beside ``model`` and ``messages`` (the ``openai`` client passes them
with ``extra_body=``). With ``"stream": true`` the answer is ``text/event-stream``: a role-only
delta at once, then one ``chat.completion.chunk`` per token, a chunk with the
``finish_reason``, an optional usage chunk (``"stream_options": {"include_usage": true}``), and
``data: [DONE]``. Without it, the same wait ends in one ``chat.completion`` JSON document.

Everything is read and checked before the stream starts: a body that is not JSON, a missing
``messages`` list or a value out of range gets a 400 with an error document in OpenAI's shape,
``{"error": {"message": ..., "type": "invalid_request_error", "param": ...}}``. Whatever the
request sends back (the model name) goes through ``json.dumps``, so no input can end an event
early or add a line of its own.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..response import Response

PATH = "/v1/chat/completions"
MODEL = "streamkit-demo"
MAX_BODY = 1_000_000  # bytes of request body read at most
MAX_WAIT_MS = 120_000  # no request may ask for a longer reply than this
CREATED = 1_767_225_600  # 2026-01-01 UTC: a fixed time, so every run sends the same bytes
KEEPALIVE = ": keep-alive\n\n"
DONE = "data: [DONE]\n\n"
ROLES = ("system", "developer", "user", "assistant", "tool")

REPLY = (
    "Streaming sends a reply while it is still being written. Each token leaves the server "
    "as soon as it is made, so the reader sees the first words long before the last one "
    "exists. Anything between the two that waits for more bytes, a proxy buffer or a "
    "compressor, turns this stream back into one late answer."
)

_TOKEN = re.compile(r" ?[A-Za-z']+| ?[0-9]+| ?[^\sA-Za-z0-9]|\s+")


def tokens(text: str = REPLY) -> list[str]:
    """``text`` cut into word-sized tokens, each with its leading space, as tokenizers do.

    Joined back together they give ``text`` exactly.
    """
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class ChatRequest:
    """A checked request: everything the reply needs, all within bounds."""

    model: str = MODEL
    stream: bool = False
    include_usage: bool = False
    first_token_ms: float = 300
    tokens_per_second: float = 20
    keepalive_ms: float = 0
    max_tokens: int | None = None
    prompt_tokens: int = 0

    @property
    def reply(self) -> list[str]:
        """The tokens this request gets: the passage, cut at ``max_tokens``."""
        every = tokens()
        return every if self.max_tokens is None else every[: self.max_tokens]

    @property
    def finish_reason(self) -> str:
        return "length" if self.max_tokens is not None and self.max_tokens < len(tokens()) else "stop"

    @property
    def seconds(self) -> float:
        """How long the whole reply takes: thinking, then the tokens at their rate."""
        return self.first_token_ms / 1000 + (len(self.reply) - 1) / self.tokens_per_second


class BadRequest(ValueError):
    """The request cannot be answered; ``param`` names the field at fault (or None)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def parse(body: bytes) -> ChatRequest:
    """Read and check a request body; raise :class:`BadRequest` naming the first problem."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(
            f"the request body is not valid JSON ({error}); send a JSON object such as "
            '{"model": "streamkit-demo", "messages": [{"role": "user", "content": "Hi"}]}'
        ) from None
    if not isinstance(data, dict):
        raise BadRequest(f"the request body must be a JSON object, got {_kind(data)}")
    model = data.get("model", MODEL)
    if not isinstance(model, str) or not 0 < len(model) <= 100:
        raise BadRequest("model must be a string of 1 to 100 characters", "model")
    prompt_tokens = _messages(data.get("messages"))
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest(f"stream must be true or false, got {_kind(stream)}", "stream")
    options = data.get("stream_options")
    include_usage = False
    if options is not None:
        if not isinstance(options, dict):
            raise BadRequest("stream_options must be an object", "stream_options")
        include_usage = options.get("include_usage", False)
        if not isinstance(include_usage, bool):
            raise BadRequest("stream_options.include_usage must be true or false", "stream_options")
    first = _number(data, "first_token_ms", 300, 0, 60_000)
    rate = _number(data, "tokens_per_second", 20, 0.1, 1_000)
    keepalive = _number(data, "keepalive_ms", 0, 0, 60_000)
    if 0 < keepalive < 10:
        raise BadRequest(
            f"keepalive_ms must be 0 (none) or from 10 to 60,000, got {keepalive:g}", "keepalive_ms"
        )
    max_tokens = data.get("max_tokens", data.get("max_completion_tokens"))
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 100_000
    ):
        raise BadRequest(
            f"max_tokens must be a whole number from 1 to 100,000, got {max_tokens!r:.40}", "max_tokens"
        )
    request = ChatRequest(
        model=model,
        stream=stream,
        include_usage=include_usage,
        first_token_ms=first,
        tokens_per_second=rate,
        keepalive_ms=keepalive,
        max_tokens=max_tokens,
        prompt_tokens=prompt_tokens,
    )
    if request.seconds * 1000 > MAX_WAIT_MS:
        raise BadRequest(
            f"this reply would take {request.seconds:,.0f} s; the limit is {MAX_WAIT_MS // 1000} s "
            "(raise tokens_per_second or lower first_token_ms)",
            "tokens_per_second",
        )
    return request


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _number(data: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise BadRequest(f"{name} must be a number from {low:,g} to {high:,g}, got {value!r:.40}", name)
    return float(value)


def _messages(messages: Any) -> int:
    """Check ``messages``; return a rough prompt size in tokens (for the usage figures)."""
    if not isinstance(messages, list) or not messages:
        raise BadRequest(
            'messages must be a non-empty list such as [{"role": "user", "content": "Hi"}]', "messages"
        )
    size = 0
    for n, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise BadRequest(f"messages[{n}] must be an object with a role of {', '.join(ROLES)}", "messages")
        content = message.get("content")
        if isinstance(content, list):
            texts = [part.get("text") for part in content if isinstance(part, dict)]
            if len(texts) != len(content) or not all(isinstance(text, str) for text in texts):
                raise BadRequest(f"messages[{n}].content parts must be text parts", "messages")
            content = "".join(texts)  # type: ignore[arg-type]
        if not isinstance(content, str):
            raise BadRequest(f"messages[{n}].content must be a string", "messages")
        size += len(tokens(content))
    return size


# -- the answers ---------------------------------------------------------------------------


def error_response(error: BadRequest, status: int = 400) -> Response:
    """OpenAI's error document, so its clients raise an error that carries the message."""
    document = {
        "error": {
            "message": error.message,
            "type": "invalid_request_error",
            "param": error.param,
            "code": None,
        }
    }
    return Response(json.dumps(document), status=status, mimetype="application/json")


def event(data: dict[str, Any]) -> str:
    """One server-sent event carrying ``data`` as JSON (one line: no input can split it)."""
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


def chunk(request: ChatRequest, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    """A ``chat.completion.chunk`` with one choice."""
    return {
        "id": "chatcmpl-streamkit",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": request.model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def usage(request: ChatRequest) -> dict[str, int]:
    completion = len(request.reply)
    return {
        "prompt_tokens": request.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": request.prompt_tokens + completion,
    }


def stream(request: ChatRequest) -> Iterator[str]:
    """The events of a streamed reply, each one yielded when its moment comes.

    The times are kept against the start (not slept one after the other), so a slow write does
    not slow the whole rate. A client that leaves makes the server close this generator at its
    next write: no more tokens are made after that.
    """
    start = time.monotonic()
    yield event(chunk(request, {"role": "assistant", "content": ""}))
    first = start + request.first_token_ms / 1000
    if request.keepalive_ms:
        # Comments at keepalive_ms, 2 * keepalive_ms, ... while the first token is not due.
        beats = int((request.first_token_ms - 1e-6) // request.keepalive_ms)
        for n in range(1, beats + 1):
            _sleep_until(start + n * request.keepalive_ms / 1000)
            yield KEEPALIVE
    for n, token in enumerate(request.reply):
        _sleep_until(first + n / request.tokens_per_second)
        yield event(chunk(request, {"content": token}))
    yield event(chunk(request, {}, request.finish_reason))
    if request.include_usage:
        last = chunk(request, {})
        last["choices"] = []
        last["usage"] = usage(request)
        yield event(last)
    yield DONE


def _sleep_until(moment: float) -> None:
    wait = moment - time.monotonic()
    if wait > 0:
        time.sleep(wait)


def completion(request: ChatRequest) -> dict[str, Any]:
    """The whole reply as one ``chat.completion``, after the same wait as the stream."""
    time.sleep(request.seconds)
    return {
        "id": "chatcmpl-streamkit",
        "object": "chat.completion",
        "created": CREATED,
        "model": request.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(request.reply)},
                "logprobs": None,
                "finish_reason": request.finish_reason,
            }
        ],
        "usage": usage(request),
    }


def respond(body: bytes) -> Response:
    """The endpoint's answer to a request body: a stream, one document, or a 400."""
    try:
        request = parse(body)
    except BadRequest as error:
        return error_response(error)
    if not request.stream:
        return Response(json.dumps(completion(request)), mimetype="application/json")
    response = Response(stream(request), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    return response
