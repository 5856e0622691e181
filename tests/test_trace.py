"""Trace: verdicts, matching server-side items to received chunks, repr, errors.

These build traces by hand (a Trace is plain data); the traces a real server produces are
checked in test_server.py and test_probe.py.
"""

from __future__ import annotations

import pytest

from streamkit.trace import (
    VERDICTS,
    Chunk,
    Event,
    StreamBroken,
    Trace,
    arrivals,
    carriers,
    counts_wire_bytes,
    decoded_ends,
    links,
)


def chunk(t: float, data: bytes, wire: int | None = None) -> Chunk:
    return Chunk(t, len(data), data, len(data) if wire is None else wire)


def streamed_trace() -> Trace:
    return Trace(
        url="http://127.0.0.1:5000/rows?n=3",
        status=200,
        chunks=[chunk(0.1, b"aa"), chunk(0.2, b"bbb"), chunk(0.3, b"c")],
        produced=[Event(0.099, 2), Event(0.199, 3), Event(0.299, 1)],
    )


def test_verdict_streamed_when_items_arrive_as_produced() -> None:
    assert streamed_trace().verdict == "streamed"


def test_verdict_buffered_when_items_produced_over_time_arrive_together() -> None:
    trace = Trace(
        url="http://x/slow",
        status=200,
        chunks=[chunk(0.41, b"0123456789")],
        produced=[Event(0.0 + i * 0.1, 2) for i in range(5)],
    )
    assert trace.verdict == "buffered"


def test_verdict_buffered_uses_written_times_when_produced_are_absent() -> None:
    trace = Trace(
        url="http://x/slow",
        status=200,
        chunks=[chunk(0.41, b"0123456789")],
        written=[Event(0.0 + i * 0.1, 2) for i in range(5)],
    )
    assert trace.verdict == "buffered"


def test_items_made_at_once_do_not_count_as_buffered() -> None:
    # 100 items within 5 ms, read by the client as one piece: nothing was held back.
    trace = Trace(
        url="http://x/",
        status=200,
        chunks=[chunk(0.006, b"x" * 100)],
        produced=[Event(0.001 + i * 0.00005, 1) for i in range(100)],
    )
    assert trace.verdict == "single"


def test_verdict_broken_on_server_error_or_client_error() -> None:
    trace = streamed_trace()
    trace.server_error = RuntimeError("boom")
    assert trace.verdict == "broken"
    trace = streamed_trace()
    trace.error = "IncompleteRead: cut"
    assert trace.verdict == "broken"


def test_verdict_empty_and_single_and_client_only_streamed() -> None:
    assert Trace(url="http://x/", status=204).verdict == "empty"
    assert Trace(url="http://x/", status=200, chunks=[chunk(0.01, b"all")]).verdict == "single"
    # Without server times, pieces spread over time mean streamed; pieces in one burst do not.
    spread = Trace(url="http://x/", status=200, chunks=[chunk(0.01, b"a"), chunk(0.5, b"b")])
    burst = Trace(url="http://x/", status=200, chunks=[chunk(0.01, b"a"), chunk(0.011, b"b")])
    assert spread.verdict == "streamed"
    assert burst.verdict == "single"
    assert set(VERDICTS) >= {"streamed", "buffered", "broken", "empty", "single"}


def test_arrivals_match_items_to_chunks_by_byte_offset() -> None:
    chunks = [chunk(1.0, b"abc"), chunk(2.0, b"defgh"), chunk(3.0, b"ij")]
    events = [Event(0.5, 2), Event(0.6, 1), Event(1.5, 4), Event(1.6, 3), Event(9.0, 5)]
    # item ends at byte 2 -> chunk 1; 3 -> chunk 1; 7 -> chunk 2; 10 -> chunk 3; 15 -> never.
    assert arrivals(events, chunks) == [1.0, 1.0, 2.0, 3.0, None]


def test_arrivals_can_compare_wire_sizes_for_compressed_items() -> None:
    chunks = [Chunk(1.0, 100, None, 10), Chunk(2.0, 100, None, 10)]
    assert arrivals([Event(0.5, 10), Event(1.5, 10)], chunks, wire=True) == [1.0, 2.0]
    assert arrivals([Event(0.5, 10), Event(1.5, 10)], chunks, wire=False) == [1.0, 1.0]
    # By default the measure the sizes add up to is used: here, the wire's.
    assert arrivals([Event(0.5, 10), Event(1.5, 10)], chunks) == [1.0, 2.0]


def gzip_like_trace(received: int = 4) -> Trace:
    """Four items of 100 bytes, compressed one by one (the first write also carries a 10-byte
    gzip header), a 10-byte trailer that decodes to nothing; the client got ``received`` writes."""
    wire = [40, 20, 15, 15, 10]
    plain = [100, 100, 100, 100, 0]
    return Trace(
        url="http://x/gz",
        status=200,
        chunks=[Chunk(0.1 * (i + 1), plain[i], None, wire[i]) for i in range(received)],
        produced=[Event(0.1 * i + 0.09, 100) for i in range(4)],
        written=[Event(0.1 * i + 0.095, size) for i, size in enumerate(wire)],
    )


def test_each_side_is_matched_in_its_own_measure() -> None:
    trace = gzip_like_trace(received=5)
    assert not counts_wire_bytes(trace.produced, trace.chunks)  # decoded bytes
    assert counts_wire_bytes(trace.written, trace.chunks)  # bytes on the wire
    assert carriers(trace.produced, trace.chunks) == [0, 1, 2, 3]
    assert carriers(trace.written, trace.chunks) == [0, 1, 2, 3, 4]  # the trailer: its own chunk
    assert arrivals(trace.produced, trace.chunks) == [chunk.t for chunk in trace.chunks[:4]]
    assert decoded_ends(trace.written, trace.chunks) == [100, 200, 300, 400, 400]
    # Item i went out in write i (not in the trailer, which ends at the same decoded offset).
    assert links(trace) == {"written": [0, 1, 2, 3, 4], "produced": [0, 1, 2, 3]}


def test_a_separate_gzip_header_write_carries_no_item() -> None:
    trace = Trace(
        url="http://x/gz",
        status=200,
        chunks=[Chunk(0.1, 0, None, 10), Chunk(0.2, 100, None, 30), Chunk(0.3, 100, None, 20)],
        produced=[Event(0.15, 100), Event(0.25, 100)],
        written=[Event(0.09, 10), Event(0.19, 30), Event(0.29, 20)],
    )
    assert links(trace) == {"written": [0, 1, 2], "produced": [1, 2]}


def test_uncompressed_writes_are_matched_in_decoded_bytes() -> None:
    # A proxy compressed the body after the server wrote it (nginx gzip): the writes are the
    # app's own bytes, and the client got one compressed piece.
    trace = Trace(
        url="http://x/",
        status=200,
        chunks=[Chunk(0.5, 400, None, 60)],
        produced=[Event(0.1 * i, 100) for i in range(4)],
        written=[Event(0.1 * i + 0.01, 100) for i in range(4)],
    )
    assert not counts_wire_bytes(trace.written, trace.chunks)
    assert links(trace) == {"written": [0, 0, 0, 0], "produced": [0, 1, 2, 3]}


def test_a_stream_cut_short_keeps_its_measure_and_places_the_rest() -> None:
    trace = gzip_like_trace(received=2)
    # 100 of the 5 writes' wire bytes arrived: still far nearer the wire total than the decoded.
    assert counts_wire_bytes(trace.written, trace.chunks)
    assert carriers(trace.written, trace.chunks) == [0, 1, None, None, None]
    assert carriers(trace.produced, trace.chunks) == [0, 1, None, None]
    # The writes that never arrived still line up with the items in order.
    assert links(trace)["produced"] == [0, 1, 2, 3]


def test_links_without_writes_point_produced_items_at_chunks() -> None:
    trace = streamed_trace()
    assert links(trace) == {"produced": [0, 1, 2]}
    assert links(Trace(url="http://x/")) == {}


def test_sizes_body_and_keep_body_false() -> None:
    trace = streamed_trace()
    assert trace.body == b"aabbbc"
    assert (trace.size, trace.wire_size) == (6, 6)
    light = Trace(url="http://x/", status=200, chunks=[Chunk(0.1, 5, None, 3)])
    assert (light.size, light.wire_size) == (5, 3)
    with pytest.raises(ValueError, match="keep_body=False"):
        light.body


def test_repr_is_one_line_with_verdict_and_counts_and_no_port() -> None:
    text = repr(streamed_trace())
    assert "\n" not in text
    assert text == "<Trace GET /rows?n=3 -> 200: streamed, 3 chunks, 6 bytes>"
    broken = streamed_trace()
    broken.server_error = RuntimeError("Working outside of request context.\n\nMore text.")
    text = repr(broken)
    assert "\n" not in text and "broken" in text
    assert "RuntimeError: Working outside of request context." in text


def test_raise_for_error_reraises_the_server_exception_with_its_traceback() -> None:
    def app_code() -> None:
        raise RuntimeError("Working outside of request context.")

    try:
        app_code()
    except RuntimeError as exc:
        error = exc
    trace = streamed_trace()
    trace.server_error = error
    with pytest.raises(RuntimeError, match="Working outside") as info:
        trace.raise_for_error()
    assert info.value is error
    assert any(entry.name == "app_code" for entry in info.traceback)


def test_raise_for_error_on_a_client_side_break_and_on_a_whole_stream() -> None:
    trace = streamed_trace()
    assert trace.raise_for_error() is trace
    trace.error = "IncompleteRead: the connection closed inside chunk 2"
    with pytest.raises(StreamBroken, match="IncompleteRead"):
        trace.raise_for_error()


def test_pictures_are_delegated_to_the_timeline_module() -> None:
    from streamkit import display, timeline

    trace = streamed_trace()
    assert trace.to_text() == timeline.to_text(trace)
    assert trace.to_svg() == timeline.to_svg(trace)
    assert trace._repr_html_() == display.html(timeline.to_svg(trace))
    assert trace._repr_mimebundle_() == display.mimebundle(trace)


def test_raise_for_error_keeps_the_servers_traceback_each_time() -> None:
    import traceback

    def fail() -> None:
        raise RuntimeError("Working outside of request context.")

    try:
        fail()
    except RuntimeError as error:
        trace = Trace(url="http://127.0.0.1:1/x", status=200, server_error=error)
    depths = []
    for _ in range(3):
        with pytest.raises(RuntimeError, match="Working outside") as info:
            trace.raise_for_error()
        frames = traceback.extract_tb(info.value.__traceback__)
        assert frames[-1].name == "fail"  # the server-side frame is still where it ends
        depths.append(len(frames))
    assert depths[0] == depths[1] == depths[2]
