"""Trace: verdicts, matching server-side items to received chunks, repr, errors.

These build traces by hand (a Trace is plain data); the traces a real server produces are
checked in test_server.py and test_probe.py.
"""

from __future__ import annotations

import pytest

from streamkit.trace import VERDICTS, Chunk, Event, StreamBroken, Trace, arrivals


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
    assert arrivals([Event(0.5, 10), Event(1.5, 10)], chunks) == [1.0, 1.0]


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
    timeline = pytest.importorskip("streamkit.timeline")
    trace = streamed_trace()
    assert trace.to_text() == timeline.to_text(trace)
    assert trace.to_svg() == timeline.to_svg(trace)
    assert trace._repr_html_() == timeline.html(timeline.to_svg(trace))
    assert trace._repr_mimebundle_() == timeline.mimebundle(trace)
