"""The event parsers, in memory: SSE by the WHATWG rules, JSON lines, content, and the figures.

Every case runs as h11's tests do: the whole input in one piece, one byte at a time, and split
at every point in two; the events must be the same each time (only the times and indexes of
the reads differ). Hypothesis then splits streams at arbitrary points by the thousand.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamkit.events import (
    EventRecord,
    JsonLinesParser,
    SSEParser,
    content_of,
    content_path,
    contents_of,
    event_figures,
    framing_for,
    parser_for,
)


def run(framing: str, pieces: list[bytes], content: str | None = None):
    parser = parser_for(framing, content_path(content) if content else None)
    for index, piece in enumerate(pieces):
        parser.feed(piece, float(index), index, index)
    parser.eof()
    return parser


def shape(parser) -> list[tuple]:
    return [(e.type, e.id, e.data, e.content) for e in parser.events]


def check(framing: str, data: bytes, expected: list[tuple], content: str | None = None) -> None:
    """The same events whole, byte by byte, and split in two at every point."""
    whole = run(framing, [data], content)
    assert shape(whole) == expected
    bytewise = run(framing, [data[i : i + 1] for i in range(len(data))], content)
    assert shape(bytewise) == expected
    for cut in range(1, len(data)):
        assert shape(run(framing, [data[:cut], data[cut:]], content)) == expected, cut
    unterminated = whole.unterminated
    assert (bytewise.unterminated is None) == (unterminated is None)


# -- SSE by the rules ------------------------------------------------------------------------


def test_one_event_with_each_line_end():
    for end in (b"\n", b"\r", b"\r\n"):
        data = b"data: hello" + end + end
        check("sse", data, [("message", "", "hello", "hello")])


def test_several_events_in_one_piece_and_one_event_over_many():
    data = b'data: a\n\ndata: b\n\nevent: tick\nid: 7\ndata: {"n": 1}\n\n'
    check(
        "sse", data, [("message", "", "a", "a"), ("message", "", "b", "b"), ("tick", "7", '{"n": 1}', None)]
    )


def test_multi_line_data_is_joined_with_lf():
    check("sse", b"data: one\ndata:two\ndata\n\n", [("message", "", "one\ntwo\n", "one\ntwo\n")])


def test_one_space_after_the_colon_is_dropped_and_no_more():
    check("sse", b"data:  two spaces\n\n", [("message", "", " two spaces", " two spaces")])


def test_a_leading_bom_is_dropped_once_at_the_start_only():
    check("sse", b"\xef\xbb\xbfdata: first\n\n", [("message", "", "first", "first")])
    # A second BOM is part of the field name: an unknown field, ignored.
    check(
        "sse",
        b"\xef\xbb\xbf\xef\xbb\xbfdata: first\n\ndata: second\n\n",
        [("message", "", "second", "second")],
    )


def test_blocks_without_data_dispatch_nothing_but_update_the_last_id():
    parser = run("sse", [b"retry: 3000\n\nevent: ping\n\nid: 5\n\n\n\ndata: x\n\n"])
    assert shape(parser) == [("message", "5", "x", "x")]
    assert parser.retry == 3000
    assert parser.last_id == "5"


def test_retry_takes_ascii_digits_only():
    for value in (b"+1_0", b"1.5", b"  10", b"\xc2\xb2", b""):
        parser = run("sse", [b"retry:" + value + b"\ndata: x\n\n"])
        assert parser.retry is None, value
    assert run("sse", [b"retry: 0042\n\n"]).retry == 42


def test_an_id_with_nul_is_ignored():
    check(
        "sse",
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        [("message", "1", "a", "a"), ("message", "1", "b", "b")],
    )


def test_comments_are_records_of_their_own_not_events():
    parser = run("sse", [b": ping\n\n:\n\ndata: x\n: inside\n\n"])
    assert shape(parser) == [("message", "", "x", "x")]
    assert [c.text for c in parser.comments] == [" ping", "", " inside"]
    check("sse", b": ping\n\n:\n\ndata: x\n: inside\n\n", [("message", "", "x", "x")])


def test_a_field_without_colon_has_an_empty_value_and_unknown_fields_are_ignored():
    check(
        "sse",
        b"data\n\nfoo: bar\ndata: y\n\nevent\ndata: z\n\n",
        [("message", "", "", None), ("message", "", "y", "y"), ("message", "", "z", "z")],
    )


def test_an_event_without_its_blank_line_is_kept_as_unterminated():
    parser = run("sse", [b"data: a\n\ndata: b\n"])
    assert shape(parser) == [("message", "", "a", "a")]
    assert parser.unterminated is not None and parser.unterminated.data == "b"
    # The last line without its line end is processed too, as if it had ended.
    parser = run("sse", [b"data: a\n\ndata: b"])
    assert parser.unterminated is not None and parser.unterminated.data == "b"
    assert run("sse", [b"data: a\n\n"]).unterminated is None
    assert run("sse", [b"data: a\n\n: ping"]).unterminated is None


def test_a_cr_ends_its_line_at_once_and_its_lf_in_the_next_read_is_dropped():
    parser = SSEParser()
    parser.feed(b"data: a\r\r", 1.0, 0, 0)
    assert shape(parser) == [("message", "", "a", "a")]  # not a read late
    parser.feed(b"\ndata: b\r\n\r\n", 2.0, 1, 1)
    assert shape(parser) == [("message", "", "a", "a"), ("message", "", "b", "b")]
    assert [e.t for e in parser.events] == [1.0, 2.0]


def test_lines_are_split_on_bytes_and_decoded_as_utf8_with_replacement():
    # U+2028 (e2 80 a8) and \x0c are not line ends in SSE; a bad byte becomes U+FFFD.
    data = "data: a\u2028b\x0cc\n\n".encode() + b"data: \xff\n\n"
    check(
        "sse", data, [("message", "", "a\u2028b\x0cc", "a\u2028b\x0cc"), ("message", "", "\ufffd", "\ufffd")]
    )


def test_each_event_gets_the_time_chunk_and_read_that_completed_it():
    parser = SSEParser()
    parser.feed(b"data: a\n\ndata: b", 0.5, 3, 2)
    parser.feed(b"\n\n", 0.9, 4, 3)
    assert [(e.t, e.chunk, e.read) for e in parser.events] == [(0.5, 3, 2), (0.9, 4, 3)]


# -- content ---------------------------------------------------------------------------------

OPENAI = [
    {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
    },
    {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hel"}}]},
    {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": None}],
    },
    {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    },
]


def test_openai_chat_completions_content_and_control_events():
    data = (
        b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in OPENAI) + b"data: [DONE]\n\n"
    )
    parser = run("sse", [data])
    assert [e.content for e in parser.events] == [None, "Hel", "lo", None, None]
    assert parser.events[-1].data == "[DONE]"


def test_responses_api_named_events():
    data = (
        b'event: response.created\ndata: {"type":"response.created","response":{"id":"r"}}\n\n'
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}\n\n'
        b'event: response.completed\ndata: {"type":"response.completed","response":{"id":"r"}}\n\n'
    )
    assert [e.content for e in run("sse", [data]).events] == [None, "Hi", None]


def test_ollama_json_lines_chat_and_generate():
    data = (
        b'{"model":"m","message":{"role":"assistant","content":"Hel"},"done":false}\n'
        b'{"model":"m","message":{"role":"assistant","content":"lo"},"done":false}\r\n'
        b"\n"
        b'{"model":"m","message":{"role":"assistant","content":""},"done":true}\n'
        b'{"model":"m","response":"!","done":false}'
    )
    check(
        "jsonl",
        data,
        [
            (
                "message",
                "",
                '{"model":"m","message":{"role":"assistant","content":"Hel"},"done":false}',
                "Hel",
            ),
            ("message", "", '{"model":"m","message":{"role":"assistant","content":"lo"},"done":false}', "lo"),
            ("message", "", '{"model":"m","message":{"role":"assistant","content":""},"done":true}', None),
            ("message", "", '{"model":"m","response":"!","done":false}', "!"),
        ],
    )


def test_a_user_path_names_the_text_of_other_json():
    data = b'data: {"message": {"text": "a"}}\n\ndata: {"message": {"text": ""}}\n\ndata: {"items": [{"t": "b"}]}\n\n'
    assert [e.content for e in run("sse", [data], "message.text").events] == ["a", None, None]
    assert [e.content for e in run("sse", [data], "items.0.t").events] == [None, None, "b"]
    with pytest.raises(ValueError):
        content_path("message..text")


def test_content_of_plain_text_and_unknown_json():
    assert content_of("message", "hello") == "hello"
    assert content_of("tick", "hello") is None  # a named event's plain text is not taken as content
    assert content_of("message", '{"n": 1}') is None
    assert content_of("message", "[DONE]") is None
    assert content_of("message", "") is None


def test_json_seq_records_start_with_rs():
    data = b'\x1e{"response": "a"}\n\x1e{"response":\n "b"}\n\x1e{"n": 3}\n'
    check(
        "json-seq",
        data,
        [
            ("message", "", '{"response": "a"}', "a"),
            ("message", "", '{"response":\n "b"}', "b"),
            ("message", "", '{"n": 3}', None),
        ],
    )
    parser = run("json-seq", [b'\x1e{"response": "a"}\n\x1e{"cut'])
    assert parser.unterminated is not None


def test_framing_for_content_types():
    assert framing_for("text/event-stream; charset=utf-8") == "sse"
    assert framing_for("application/x-ndjson") == "jsonl"
    assert framing_for("application/jsonl") == "jsonl"
    assert framing_for("application/json-seq") == "json-seq"
    assert framing_for("text/plain") is None
    assert framing_for(None) is None
    with pytest.raises(ValueError):
        JsonLinesParser("sse")


# -- figures ---------------------------------------------------------------------------------


def test_figures_from_records():
    events = [
        EventRecord(0.10, data="role", content=None, chunk=0, read=0),
        EventRecord(0.30, data="a", content="a", chunk=1, read=1),
        EventRecord(0.30, data="b", content="b", chunk=1, read=1),
        EventRecord(0.50, data="c", content="c", chunk=2, read=2),
        EventRecord(2.50, data="d", content="d", chunk=3, read=3),
    ]
    figures = event_figures(events, [], headers_at=0.05, first_byte=0.1, end=2.6)
    assert figures.first_event == 0.10 and figures.first_content == 0.30
    assert figures.events == 5 and figures.content_events == 4
    assert figures.gap_max == pytest.approx(2.0)
    assert figures.gap_median == pytest.approx(0.2)  # gaps 0, 0.2, 2.0
    assert figures.per_chunk_max == 2 and figures.per_chunk_mean == pytest.approx(5 / 4)
    assert figures.longest_silence == pytest.approx(2.0) and figures.silence_from == pytest.approx(0.5)


def test_comments_count_as_activity_for_silence():
    from streamkit.events import CommentRecord

    events = [EventRecord(0.1, content="a"), EventRecord(3.0, content="b")]
    quiet = event_figures(events, [], headers_at=0.0, first_byte=0.1, end=3.0)
    pinged = event_figures(
        events,
        [CommentRecord(1.0, " ping"), CommentRecord(2.0, " ping")],
        headers_at=0.0,
        first_byte=0.1,
        end=3.0,
    )
    assert quiet.longest_silence == pytest.approx(2.9)
    assert pinged.longest_silence == pytest.approx(1.0)


# -- split anywhere ------------------------------------------------------------------------------

line_end = st.sampled_from([b"\n", b"\r", b"\r\n"])
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12)


@st.composite
def sse_streams(draw):
    parts = [b"\xef\xbb\xbf"] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 6))):
        end = draw(line_end)
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["data", "event", "id", "retry", "comment", "bare", "other"]))
            value = draw(text).encode()
            if kind == "comment":
                parts.append(b":" + value + end)
            elif kind == "bare":
                parts.append(b"data" + end)
            elif kind == "retry":
                parts.append(b"retry: " + str(draw(st.integers(0, 9999))).encode() + end)
            else:
                parts.append(kind.encode() + b": " + value + end)
        parts.append(end)
    return b"".join(parts)


@st.composite
def cuts(draw, data: bytes):
    points = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=8))))
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


@settings(max_examples=2000, deadline=None)
@given(st.data())
def test_sse_split_anywhere_gives_the_same_events(data):
    stream = data.draw(sse_streams())
    pieces = data.draw(cuts(stream))
    whole, split = run("sse", [stream]), run("sse", pieces)
    assert shape(split) == shape(whole)
    assert [c.text for c in split.comments] == [c.text for c in whole.comments]
    assert split.retry == whole.retry and split.last_id == whole.last_id


@settings(max_examples=1000, deadline=None)
@given(st.data())
def test_json_lines_split_anywhere_gives_the_same_events(data):
    values = data.draw(
        st.lists(st.dictionaries(st.sampled_from(["response", "n"]), text, max_size=2), max_size=6)
    )
    ends = [data.draw(st.sampled_from([b"\n", b"\r\n", b"\n\n"])) for _ in values]
    stream = b"".join(json.dumps(value).encode() + end for value, end in zip(values, ends))
    pieces = data.draw(cuts(stream))
    assert shape(run("jsonl", pieces)) == shape(run("jsonl", [stream]))
    assert len(run("jsonl", pieces).events) == len(values)


@st.composite
def plain_streams(draw):
    """Mostly ``data: ...`` events with LF line ends (what the parser's bulk path takes), now
    and then a comment, an extra blank line, a second data line or an id."""
    parts = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["data"] * 6 + ["comment", "blank", "two", "id"]))
        value = draw(text).encode()
        parts.append(
            {
                "data": b"data: " + value + b"\n\n",
                "comment": b":" + value + b"\n",
                "blank": b"\n",
                "two": b"data: " + value + b"\ndata: x\n\n",
                "id": b"id: " + value + b"\n",
            }[kind]
        )
    return b"".join(parts)


def dated(parser) -> tuple[list[tuple], list[tuple]]:
    return (
        [(e.t, e.type, e.id, e.data, e.content, e.chunk, e.read) for e in parser.events],
        [(c.t, c.text, c.chunk, c.read) for c in parser.comments],
    )


@settings(max_examples=2000, deadline=None)
@given(st.data())
def test_parsing_queued_pieces_together_dates_every_record_as_parsing_each_piece(data):
    stream = data.draw(st.one_of(sse_streams(), plain_streams()))
    # The first line is parsed at once (it may start with a BOM), the rest queues for a while.
    stream = b"data: first\n\n" + stream
    pieces = [b"data: first\n\n", *data.draw(cuts(stream[13:]))]
    parse_after = data.draw(st.lists(st.booleans(), min_size=len(pieces), max_size=len(pieces)))
    at_once, as_fed = SSEParser(), SSEParser()
    for index, piece in enumerate(pieces):
        at_once.feed(piece, float(index), index, index)
        if index == 0 or parse_after[index]:
            at_once.parse()
        as_fed.feed(piece, float(index), index, index)
        as_fed.parse()
    at_once.eof()
    as_fed.eof()
    assert dated(at_once) == dated(as_fed)
    assert at_once.unterminated == as_fed.unterminated
    assert at_once.last_id == as_fed.last_id and at_once.retry == as_fed.retry


def test_json_the_fast_decoder_refuses_is_still_read_as_the_standard_decoder_reads_it():
    # orjson (when installed) refuses NaN and lone surrogates; json takes them.
    for data in ('{"response": "a", "n": NaN}', '{"response": "b", "n": 123456789012345678901234567890}'):
        assert content_of("message", data) == json.loads(data)["response"]
    assert content_of("message", '{"response": "\\ud800"}') == "\ud800"
    assert content_of("message", '{"response": "c"} x') == '{"response": "c"} x'  # not one JSON value


# -- content of a run of events in bulk ------------------------------------------------------

json_text = st.text(max_size=6)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), json_text)


@st.composite
def chat_values(draw):
    """OpenAI-style chunks, mostly of the usual shape, and now and then one that is not."""
    content = draw(st.one_of(json_text, json_scalars, st.just("")))
    delta = draw(
        st.sampled_from(
            [{"content": content}, {"role": "assistant", "content": content}, {}, {"content": [content]}]
        )
    )
    choice: object = draw(st.sampled_from([{"index": 0, "delta": delta}, {"delta": delta, "finish_reason": None}]))
    if draw(st.integers(0, 9)) == 0:
        choice = draw(st.sampled_from([{"index": 0, "delta": content}, {"text": content}, [delta], content]))
    choices: object = [choice]
    if draw(st.integers(0, 9)) == 0:
        choices = draw(st.sampled_from([[], [choice, choice], choice, None]))
    value: object = {"id": "x", "choices": choices}
    if draw(st.integers(0, 9)) == 0:
        value = draw(st.sampled_from([[value], {"message": {"content": content}}, {"response": content}, content]))
    return value


@st.composite
def chat_texts(draw):
    value = draw(chat_values())
    text = json.dumps(value, ensure_ascii=draw(st.booleans()), separators=draw(st.sampled_from([None, (",", ":")])))
    change = draw(st.integers(0, 19))
    if change == 0:
        text = " " + text  # not decoded: a plain message
    elif change == 1:
        text = text + " x"  # not one JSON value
    elif change == 2:
        text = text.replace('"choices"', '"\\u0063hoices"')  # the key written with an escape
    elif change == 3:
        text = text[:-1] + ', "n": NaN}' if text.endswith("}") else text  # the fast decoder refuses it
    elif change == 4:
        text = draw(st.sampled_from(["[DONE]", "", "plain text", "{"]))
    return text


@settings(max_examples=1000, deadline=None)
@given(texts=st.lists(chat_texts(), max_size=12), path=st.sampled_from([None, ("choices", 0, "delta", "content")]))
def test_contents_of_a_run_is_content_of_each_event(texts, path):
    assert contents_of(texts, path) == [content_of("message", text, path) for text in texts]


def test_contents_of_a_long_run_of_usual_chunks_and_one_other():
    usual = [json.dumps({"choices": [{"index": 0, "delta": {"content": f"t{i} "}}]}) for i in range(600)]
    assert contents_of(usual) == [f"t{i} " for i in range(600)]
    role = '{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}'
    mixed = [role, *usual[:300], "[DONE]", *usual[300:]]
    assert contents_of(mixed) == [content_of("message", text) for text in mixed]
    assert contents_of(mixed)[0] is None and contents_of(mixed)[301] is None
