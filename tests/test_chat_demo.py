"""The demo app's OpenAI-compatible chat completions endpoint, read by real third-party clients.

The official ``openai`` client, ``httpx`` with ``httpx-sse``, and a raw socket read the same
server on loopback; each must get the same reply text, in the format and order the API has
(a role-only delta, content deltas, a finish_reason chunk, ``data: [DONE]``). Bad requests get a
400 with OpenAI's error document before any stream starts.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import openai
import pytest
from httpx_sse import connect_sse

from streamkit.demos import chat, create_app
from streamkit.server import Server, serve

HI = [{"role": "user", "content": "Hi"}]
FAST = {"first_token_ms": 0, "tokens_per_second": 1000}


@pytest.fixture(scope="module")
def server() -> Server:
    with serve(create_app()) as running:
        yield running


def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="not-needed", max_retries=0, timeout=30)


def test_the_reply_joins_back_into_the_passage() -> None:
    pieces = chat.tokens()
    assert "".join(pieces) == chat.REPLY
    assert len(pieces) > 40 and all(piece for piece in pieces)
    assert pieces[1].startswith(" ")  # a token carries its leading space, as tokenizers do


def test_openai_client_streams_the_reply(server: Server) -> None:
    stream = client(server).chat.completions.create(
        model="streamkit-demo", messages=HI, stream=True, extra_body=FAST
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert not chunks[0].choices[0].delta.content  # role-only: no text yet
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == chat.REPLY
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" and c.model == "streamkit-demo" for c in chunks)


def test_openai_client_gets_usage_and_length_when_asked(server: Server) -> None:
    stream = client(server).chat.completions.create(
        model="m",
        messages=HI,
        stream=True,
        max_tokens=5,
        stream_options={"include_usage": True},
        extra_body=FAST,
    )
    chunks = list(stream)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5
    assert chunks[-2].choices[0].finish_reason == "length"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(chat.tokens()[:5])


def test_openai_client_without_stream_gets_one_document(server: Server) -> None:
    reply = client(server).chat.completions.create(model="streamkit-demo", messages=HI, extra_body=FAST)
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.content == chat.REPLY
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens == len(chat.tokens())


def test_openai_client_raises_the_400_message(server: Server) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client(server).chat.completions.create(
            model="streamkit-demo", messages=HI, stream=True, extra_body={"tokens_per_second": 0}
        )
    assert "tokens_per_second must be a number from 0.1 to 1,000, got 0" in str(raised.value)


def test_httpx_sse_reads_the_same_text(server: Server) -> None:
    body = {"model": "streamkit-demo", "messages": HI, "stream": True, **FAST}
    with httpx.Client(timeout=30) as http, connect_sse(http, "POST", server.url + chat.PATH, json=body) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        datas = [sse.data for sse in source.iter_sse()]
    assert datas[-1] == "[DONE]"
    chunks = [json.loads(data) for data in datas[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == chat.REPLY
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}


def post_raw(server: Server, body: dict[str, Any]) -> tuple[bytes, list[tuple[float, bytes]]]:
    """Send the request on a socket; return the head and each read with its time (s since sent)."""
    payload = json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(payload)
            + payload
        )
        started = time.monotonic()
        reads = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            reads.append((time.monotonic() - started, data))
    raw = b"".join(data for _, data in reads)
    head = raw.split(b"\r\n\r\n", 1)[0]
    return head, reads


def test_keep_alives_while_thinking_then_tokens_at_their_rate(server: Server) -> None:
    body = {"messages": HI, "stream": True, "first_token_ms": 600, "tokens_per_second": 20, "keepalive_ms": 150}
    head, reads = post_raw(server, body)
    assert b"200 OK" in head and b"text/event-stream" in head
    text = b"".join(data for _, data in reads)
    assert text.count(b": keep-alive\n\n") == 3  # at 150, 300, 450 ms: before the first token at 600
    first_content = next(t for t, data in reads if b'"delta":{"content":"Streaming"' in data)
    first_byte = reads[0][0]
    # The role-only delta came at once; the first token 0.6 s later (generous margins: busy machine).
    assert first_byte < first_content - 0.4
    last = next(t for t, data in reads if b"[DONE]" in data)
    expected = 0.6 + (len(chat.tokens()) - 1) / 20
    assert expected * 0.9 < last < expected * 2
    assert text.index(b": keep-alive") < text.index(b'"content":"Streaming"')


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, got list"),
        (b'{"stream": true}', "messages must be a non-empty list"),
        (b'{"messages": []}', "messages must be a non-empty list"),
        (b'{"messages": [{"role": "king", "content": "x"}]}', "messages[0] must be an object with a role"),
        (b'{"messages": [{"role": "user", "content": 3}]}', "messages[0].content must be a string"),
        (b'{"messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "stream must be true or false"),
        (b'{"messages": [{"role": "user", "content": "x"}], "first_token_ms": -1}', "first_token_ms must be"),
        (b'{"messages": [{"role": "user", "content": "x"}], "tokens_per_second": "fast"}', "tokens_per_second"),
        (b'{"messages": [{"role": "user", "content": "x"}], "keepalive_ms": 5}', "keepalive_ms must be 0"),
        (b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}', "max_tokens must be"),
        (b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": true}', "max_tokens must be"),
        (b'{"messages": [{"role": "user", "content": "x"}], "model": ""}', "model must be a string"),
        (
            b'{"messages": [{"role": "user", "content": "x"}], "first_token_ms": 60000, "tokens_per_second": 0.5}',
            "the limit is 120 s",
        ),
    ],
)
def test_bad_requests_get_a_400_before_any_stream(server: Server, body: bytes, words: str) -> None:
    response = httpx.post(server.url + chat.PATH, content=body, timeout=30)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert words in error["message"], error
    assert error["type"] == "invalid_request_error"


def test_a_huge_body_is_refused_unread(server: Server) -> None:
    response = httpx.post(server.url + chat.PATH, content=b" " * (chat.MAX_BODY + 1), timeout=30)
    assert response.status_code == 413
    assert "at most 1,000,000 bytes" in response.json()["error"]["message"]


def test_get_is_not_allowed(server: Server) -> None:
    assert httpx.get(server.url + chat.PATH, timeout=30).status_code == 405


def test_input_cannot_break_the_event_framing(server: Server) -> None:
    evil = "x\n\ndata: [DONE]\n\n\u2028<script>"
    body = {"model": evil, "messages": HI, "stream": True, "max_tokens": 2, **FAST}
    _, reads = post_raw(server, body)
    text = b"".join(data for _, data in reads).split(b"\r\n\r\n", 1)[1]
    events = [
        line for line in text.split(b"\r\n") if line.startswith((b"data:", b": "))
    ]  # chunked framing: one event per chunk
    assert [line.startswith(b"data: {") for line in events] == [True] * (len(events) - 1) + [False]
    assert sum(line.startswith(b"data: [DONE]") for line in events) == 1
    assert "\u2028".encode() not in text  # JSON escapes it: no line end for any reader
    models = {json.loads(line[6:].strip())["model"] for line in events[:-1]}
    assert models == {evil}
