"""The HTTP/1.1 body readers, in memory: no socket, no clock.

As h11's tests do, :func:`check` runs every case three ways: the whole input in one read, one
byte per read (the reader must keep asking for more until the last byte), and with bytes after
the body, which must stay in ``trailing``. Hypothesis then splits bodies anywhere by the
thousand: the chunks, their data and the error must not depend on where the reads fell.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streamkit.events import SSEParser
from streamkit.http1 import ERROR_KINDS, BodyError, ChunkedReader, LengthReader, decoder_for
from tests.test_probe import malformed_chunked

Reader = ChunkedReader | LengthReader


def feed_all(reader: Reader, pieces: list[bytes], close: bool = True) -> str | None:
    """Feed each piece as one read (read i at time i); the error kind, or None."""
    try:
        for index, piece in enumerate(pieces):
            if reader.feed(piece, float(index)):
                return None
        if close:
            reader.eof()
    except BodyError as exc:
        assert exc.kind in ERROR_KINDS
        return exc.kind
    return None


def outcome(reader: Reader, kind: str | None) -> tuple:
    return (kind, [(c.size, c.data) for c in reader.chunks])


def check(
    make: Callable[[], Reader],
    data: bytes,
    chunks: list[bytes],
    *,
    kind: str | None = None,
    complete: bool = True,
) -> None:
    """``data`` gives ``chunks`` (and the error ``kind``) whole, byte by byte and, when it is a
    complete body, with trailing bytes left alone."""
    expected = (kind, [(len(c), c) for c in chunks])
    whole = make()
    assert outcome(whole, feed_all(whole, [data])) == expected
    bytewise = make()
    assert outcome(bytewise, feed_all(bytewise, [data[i : i + 1] for i in range(len(data))])) == expected
    if complete:
        for extra in (b"HTTP/1.1 200 OK\r\n", b"\r\n"):
            reader = make()
            assert reader.feed(data + extra, 0.0) is True
            assert reader.trailing == extra
            assert outcome(reader, None) == expected
        reader = make()
        for index in range(len(data)):  # not done a byte early
            assert reader.feed(data[index : index + 1], 0.0) is (index == len(data) - 1)


# -- chunked ---------------------------------------------------------------------------------


def test_chunked_body_gives_one_chunk_per_http_chunk():
    check(ChunkedReader, b"3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n", [b"abc", b"d"])


def test_size_lines_with_extensions_spaces_upper_case_and_bare_lf():
    check(
        ChunkedReader,
        b"3;name=value\r\nabc\r\nA \t\r\n0123456789\r\n2\nxy\r\n0\r\n\r\n",
        [b"abc", b"0123456789", b"xy"],
    )


def test_trailer_fields_after_the_last_chunk():
    check(ChunkedReader, b"1\r\na\r\n0\r\nX-Checksum: 1\r\nX-More: 2\r\n\r\n", [b"a"])
    check(ChunkedReader, b"0\n\n", [])


def test_a_chunk_bigger_than_a_read_is_one_chunk():
    data = b"x" * 300_000
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
    reader = ChunkedReader()
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    assert feed_all(reader, pieces) is None
    assert [(c.size, c.read) for c in reader.chunks] == [(len(data), 4)]
    assert reader.chunks[0].data == data and reader.chunks[0].t == 4.0


def test_chunks_completed_by_one_read_share_its_time_and_index():
    reader = ChunkedReader(started=10.0)
    reader.feed(b"1\r\na\r\n1\r\nb\r\n1\r\n", 10.5)
    reader.feed(b"c\r\n0\r\n\r\n", 10.75)
    assert [(c.data, c.t, c.read) for c in reader.chunks] == [(b"a", 0.5, 0), (b"b", 0.5, 0), (b"c", 0.75, 1)]


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (
            b"3\r\nabc\r\n",
            "incomplete",
            "IncompleteRead: the connection closed after 1 chunk, before the last (zero-size) chunk",
        ),
        (
            b"5\r\nab",
            "incomplete",
            "IncompleteRead: the connection closed inside chunk 1, after 2 of its 5 bytes",
        ),
        (
            b"3\r\nabcXX0\r\n\r\n",
            "malformed-chunk",
            "MalformedChunk: chunk 1 (3 bytes) is not followed by CRLF (got b'XX')",
        ),
        (
            b"3\r\nabc",
            "malformed-chunk",
            "MalformedChunk: chunk 1 (3 bytes) is not followed by CRLF (got b'')",
        ),
        (
            b"zz\r\nabc\r\n",
            "bad-size-line",
            "MalformedChunk: invalid chunk size line after 0 chunks: b'zz\\r\\n'",
        ),
        (
            b"3\r\nabc\r\n1",
            "bad-size-line",
            "MalformedChunk: the chunk size line after 1 chunk is cut short or too long: b'1'",
        ),
        (
            b"0\r\nX: 1\r\n",
            "incomplete",
            "IncompleteRead: the chunked body ended without the empty line after its last chunk",
        ),
        (
            b"0\r\n" + b"X: 1\r\n" * 100,
            "malformed-chunk",
            "MalformedChunk: more than 100 trailer lines after the last chunk",
        ),
        (
            b"1" * 2000,
            "bad-size-line",
            "MalformedChunk: the chunk size line after 0 chunks is cut short or too long: b'1111111111111111111111111111111111111111'",
        ),
    ],
)
def test_malformed_bodies_raise_a_kind_and_todays_message(body: bytes, kind: str, message: str):
    for pieces in ([body], [body[i : i + 1] for i in range(len(body))]):
        reader = ChunkedReader()
        with pytest.raises(BodyError) as caught:
            for piece in pieces:
                reader.feed(piece, 0.0)
            reader.eof()
        assert (caught.value.kind, str(caught.value)) == (kind, message)


def test_the_part_of_a_chunk_that_arrived_is_kept_when_the_connection_closes():
    check(ChunkedReader, b"2\r\nab\r\n5\r\nxy", [b"ab", b"xy"], kind="incomplete", complete=False)


def test_keep_false_keeps_sizes_only():
    reader = ChunkedReader(keep=False)
    assert feed_all(reader, [b"3\r\nabc\r\n2\r\n", b"de\r\n0\r\n\r\n"]) is None
    assert [(c.size, c.wire_size, c.data) for c in reader.chunks] == [(3, 3, None), (2, 2, None)]


# -- Content-Length and close-delimited ---------------------------------------------------------


def test_content_length_body_is_one_chunk_per_read_and_stops_at_its_length():
    reader = LengthReader(5)
    assert reader.feed(b"he", 0.0) is False
    assert reader.feed(b"lloEXTRA", 1.0) is True
    assert [(c.data, c.read) for c in reader.chunks] == [(b"he", 0), (b"llo", 1)]
    assert reader.trailing == b"EXTRA"
    assert LengthReader(0).done


def test_a_short_content_length_body_is_incomplete():
    reader = LengthReader(100)
    reader.feed(b"x" * 40, 0.0)
    with pytest.raises(BodyError) as caught:
        reader.eof()
    assert caught.value.kind == "incomplete"
    assert str(caught.value) == "IncompleteRead: the connection closed after 40 of 100 bytes (Content-Length)"


def test_a_close_delimited_body_ends_at_eof():
    reader = LengthReader(None)
    for index, piece in enumerate([b"a", b"bc"]):
        assert reader.feed(piece, float(index)) is False
    reader.eof()
    assert reader.done and [c.data for c in reader.chunks] == [b"a", b"bc"]


# -- decoding and events -------------------------------------------------------------------------


def test_gzip_is_decoded_chunk_by_chunk_with_wire_sizes_kept():
    compressor = zlib.compressobj(wbits=31)
    parts = [
        compressor.compress(b"first ") + compressor.flush(zlib.Z_SYNC_FLUSH),
        compressor.compress(b"second") + compressor.flush(),
    ]
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    decoder, note = decoder_for("gzip")
    assert note is None
    reader = ChunkedReader(decoder=decoder)
    assert feed_all(reader, [body[i : i + 7] for i in range(0, len(body), 7)]) is None
    assert b"".join(c.data for c in reader.chunks) == b"first second"
    assert [c.wire_size for c in reader.chunks] == [len(p) for p in parts]


def test_a_truncated_or_broken_gzip_body_is_a_decode_error():
    whole = gzip.compress(b"x" * 1000)
    reader = LengthReader(None, decoder=decoder_for("gzip")[0])
    reader.feed(whole[:-10], 0.0)
    with pytest.raises(BodyError) as caught:
        reader.eof()
    assert caught.value.kind == "decode" and "ended early" in str(caught.value)
    reader = LengthReader(None, decoder=decoder_for("gzip")[0])
    with pytest.raises(BodyError) as caught:
        reader.feed(b"not gzip at all", 0.0)
    assert caught.value.kind == "decode" and str(caught.value).startswith("DecodeError")


def test_unknown_encodings_are_noted_not_decoded():
    assert decoder_for("compress") == (
        None,
        "Content-Encoding 'compress' is not decoded: sizes are wire sizes",
    )
    assert decoder_for("identity") == (None, None)


def test_events_get_the_decoded_bytes_even_when_the_body_is_not_kept():
    parser = SSEParser()
    compressor = zlib.compressobj(wbits=31)
    wire = compressor.compress(b"data: a\n\ndata: b\n\n") + compressor.flush()
    reader = LengthReader(None, keep=False, decoder=decoder_for("gzip")[0], events=parser)
    for index in range(0, len(wire), 5):
        reader.feed(wire[index : index + 5], float(index))
    reader.eof()
    assert [e.data for e in parser.events] == ["a", "b"]
    assert all(c.data is None for c in reader.chunks)
    for event in parser.events:
        assert reader.chunks[event.chunk].read == event.read


class FeedLog:
    """An event sink that notes what it is fed, piece by piece, in order."""

    def __init__(self) -> None:
        self.fed: list[tuple[bytes, float, int, int]] = []

    def feed(self, data: bytes, t: float, chunk: int, read: int) -> None:
        self.fed.append((data, t, chunk, read))

    def feed_chunks(self, pieces: list[bytes], t: float, first: int, read: int) -> None:
        self.fed.extend((data, t, first + offset, read) for offset, data in enumerate(pieces))


@pytest.mark.parametrize("close", [False, True])
def test_the_events_get_every_chunk_in_order_with_its_index_even_when_a_read_breaks(close: bool):
    # Whole chunks, then one completed across reads, then whole chunks in the same read, then a
    # chunk not followed by CRLF: every chunk that was recorded was fed, in order, once.
    body = b"2\r\nab\r\n2\r\ncd\r\n4\r\nefgh\r\n1\r\ni\r\n1\r\nj\r\n2\r\nkl!!"
    sink = FeedLog()
    reader = ChunkedReader(keep=False, events=sink)
    cut_at = body.index(b"efgh") + 2
    kind = feed_all(reader, [body[:cut_at], body[cut_at:]], close=close)
    assert kind == "malformed-chunk"
    assert [data for data, *_ in sink.fed] == [b"ab", b"cd", b"efgh", b"i", b"j", b"kl"]
    assert [(chunk, read) for _, _, chunk, read in sink.fed] == [(0, 0), (1, 0), (2, 1), (3, 1), (4, 1), (5, 1)]
    assert [(c.t, c.read) for c in reader.chunks] == [(t, read) for _, t, _, read in sink.fed]


# -- split anywhere ----------------------------------------------------------------------------

chunk_data = st.binary(min_size=1, max_size=40)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    marks = sorted({p % (len(data) + 1) for p in points})
    return [data[a:b] for a, b in zip([0, *marks], [*marks, len(data)]) if b > a]


@settings(max_examples=2000, deadline=None)
@given(
    chunks=st.lists(chunk_data, max_size=8),
    extension=st.sampled_from([b"", b";a=b", b" "]),
    points=st.lists(st.integers(0, 10_000), max_size=10),
    keep=st.booleans(),
)
def test_chunked_split_anywhere_gives_the_same_chunks(chunks, extension, points, keep):
    body = b"".join(b"%x%s\r\n%s\r\n" % (len(c), extension, c) for c in chunks) + b"0\r\n\r\n"
    reader = ChunkedReader(keep=keep)
    pieces = cut(body, points)
    assert feed_all(reader, pieces) is None
    assert [c.size for c in reader.chunks] == [len(c) for c in chunks]
    if keep:
        assert [c.data for c in reader.chunks] == chunks
    # Each chunk carries the index and time of the read that completed it.
    ends, total = [], 0
    for piece in pieces:
        total += len(piece)
        ends.append(total)
    offset = 0
    for chunk, data in zip(reader.chunks, chunks):
        offset += len(b"%x%s\r\n" % (len(data), extension)) + len(data)
        expected = next(i for i, end in enumerate(ends) if end >= offset)
        assert (chunk.read, chunk.t) == (expected, float(expected))
        offset += 2


@settings(max_examples=1000, deadline=None)
@given(
    chunks=st.lists(chunk_data, max_size=8),
    points=st.lists(st.integers(0, 10_000), max_size=10),
    keep=st.booleans(),
)
def test_the_events_get_each_chunk_once_in_order_however_the_reads_fell(chunks, points, keep):
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    sink = FeedLog()
    reader = ChunkedReader(keep=keep, events=sink)
    assert feed_all(reader, cut(body, points)) is None
    assert [data for data, *_ in sink.fed] == chunks
    assert [(chunk, c.t, c.read) for chunk, c in enumerate(reader.chunks)] == [
        (chunk, t, read) for _, t, chunk, read in sink.fed
    ]


@settings(max_examples=2000, deadline=None)
@given(case=malformed_chunked(), points=st.lists(st.integers(0, 10_000), max_size=6))
@example(case=(b"\r\n\x00\r\n0\r\n\r\n", b"", "bad size token"), points=[])  # an empty size line
@example(case=(b"1\r\n\x00\r\n1\r\n\x00", b"\x00", "early close"), points=[])  # closed before a CRLF
def test_malformed_bodies_give_the_same_error_however_split_and_kept(case, points):
    body, before, _ = case
    results = []
    for keep in (True, False):
        for pieces in ([body], cut(body, points)):
            reader = ChunkedReader(keep=keep)
            try:
                for index, piece in enumerate(pieces):
                    if reader.feed(piece, float(index)):
                        break
                else:
                    reader.eof()
                error = None
            except BodyError as exc:
                error = (exc.kind, str(exc))
            results.append((error, [c.size for c in reader.chunks]))
            if keep:
                assert b"".join(c.data for c in reader.chunks)[: len(before)] == before
    assert results[0][0] is not None, f"no error for {body!r}"
    assert results[0][0][0] in ("incomplete", "malformed-chunk", "bad-size-line")
    assert all(result == results[0] for result in results), results
