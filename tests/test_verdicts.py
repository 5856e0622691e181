"""Verdicts that hold: every sentence is true of the trace it describes.

Hand-made traces pin the cases the issue reported (a compressor's header counted as a piece,
a stream that arrived in pairs called "as produced"); hypothesis then throws random arrival
patterns, with and without a server side, at ``verdict_text`` and checks each number it says
against the trace, computed here independently.
"""

from __future__ import annotations

import re
from itertools import accumulate

from hypothesis import given, settings
from hypothesis import strategies as st

from streamkit.trace import AT_ONCE, Chunk, Event, Trace, content_pieces, seconds_text


def chunk(t: float, size: int, wire: int | None = None) -> Chunk:
    return Chunk(t, size, None, size if wire is None else wire)


def test_a_compressor_header_sent_first_is_not_a_piece_of_content() -> None:
    # 10 bytes of gzip header at once, every content byte at the end: not "streamed".
    trace = Trace(url="http://x/", status=200, chunks=[chunk(0.002, 0, 10), chunk(0.8, 600, 90)])
    trace.headers["Content-Encoding"] = "gzip"
    assert trace.verdict == "single"
    text = trace.verdict_text
    assert "arrived at once, at 800 ms" in text
    assert "carried no content" in text
    assert "doctor" in text  # client only: the cause may be any layer, doctor tells which


def test_empty_chunks_alone_are_no_content() -> None:
    trace = Trace(url="http://x/", status=200, chunks=[chunk(0.1, 0, 20)])
    assert trace.verdict == "empty"
    assert "decode to nothing" in trace.verdict_text


def test_a_stream_that_arrived_in_pairs_is_not_called_as_produced() -> None:
    produced = [Event(i * 0.2, 10) for i in range(5)]
    chunks = [chunk(0.201, 20), chunk(0.601, 20), chunk(0.801, 10)]  # (0,1) (2,3) (4)
    trace = Trace(url="http://x/", status=200, chunks=chunks, produced=produced)
    assert trace.verdict == "buffered"  # half of the judged items were held
    text = trace.verdict_text
    assert "2 of the first 4 were held back" in text
    assert "within" not in text


def test_a_partly_held_stream_says_so() -> None:
    produced = [Event(i * 0.2, 10) for i in range(6)]
    chunks = [
        chunk(0.001, 10),
        chunk(0.201, 10),
        chunk(0.601, 20),
        chunk(0.801, 10),
        chunk(1.001, 10),
    ]
    trace = Trace(url="http://x/", status=200, chunks=chunks, produced=produced)
    assert trace.verdict == "streamed"
    assert "1 of the first 5 was held back" in trace.verdict_text
    assert "partly held back" in trace.verdict_text
    assert trace.diagnose().codes[0] == "partly-held"


# -- random arrival patterns ------------------------------------------------------------------


@st.composite
def traces(draw: st.DrawFn) -> Trace:
    """Random chunks (some decoding to nothing), and maybe a server side of items over time."""
    n = draw(st.integers(1, 8))
    gaps = draw(st.lists(st.sampled_from([0.0, 0.001, 0.01, 0.03, 0.2]), min_size=n, max_size=n))
    sizes = draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))
    times = list(accumulate(gaps, initial=0.001))[1:]
    chunks = [chunk(t, size, size or draw(st.integers(0, 12))) for t, size in zip(times, sizes)]
    trace = Trace(url="http://x/", status=200, chunks=chunks, duration=times[-1] + 0.001)
    total = sum(sizes)
    if total and draw(st.booleans()):
        # Items cut from the same bytes, made at random times no later than their arrival.
        cuts = sorted(draw(st.sets(st.integers(1, total - 1), max_size=6))) if total > 1 else []
        ends = [*cuts, total]
        starts = [0, *cuts]
        made = sorted(draw(st.lists(st.floats(0.0, max(times)), min_size=len(ends), max_size=len(ends))))
        trace.produced = [Event(t, end - start) for t, start, end in zip(made, starts, ends)]
    return trace


def independent_held(trace: Trace) -> tuple[int, int, int] | None:
    """(items, judged, held) worked out here without the trace module's helpers."""
    items = [event for event in trace.produced or trace.written or () if event.size]
    if len(items) < 2 or items[-1].t - items[0].t < AT_ONCE:
        return None
    ends = list(accumulate(c.size for c in trace.chunks))
    offsets = list(accumulate(e.size for e in items))
    arrived = []
    for offset in offsets:
        carrier = next((i for i, end in enumerate(ends) if end >= offset), None)
        arrived.append(None if carrier is None else trace.chunks[carrier].t)
    judged = held = 0
    for item, when, following in zip(items, arrived, items[1:]):
        if when is None:
            continue
        judged += 1
        if when - item.t >= AT_ONCE and when >= following.t - 1e-6:
            held += 1
    return (len(items), judged, held) if judged else None


@settings(max_examples=300, deadline=None)
@given(traces())
def test_the_verdict_sentence_never_contradicts_the_numbers(trace: Trace) -> None:
    text = trace.verdict_text
    verdict = trace.verdict
    pieces = content_pieces(trace.chunks)
    assert pieces == [c for c in trace.chunks if c.size]

    # Pieces: whatever count the sentence gives is the number of chunks with content.
    for said in re.findall(r"(?:got|in) ([\d,]+) pieces?\b", text):
        assert int(said.replace(",", "")) == len(pieces), text

    # "at once" only when the content came within AT_ONCE, and then the verdict is "single".
    if "arrived at once" in text:
        assert verdict == "single"
        assert pieces[-1].t - pieces[0].t < AT_ONCE
    if verdict == "streamed" and not (trace.produced or trace.written):
        assert "spread over" in text and pieces[-1].t - pieces[0].t >= AT_ONCE

    held = independent_held(trace)
    if held is None:
        assert "held back" not in text, text
    else:
        items, judged, count = held
        assert f"of the {items} item" in text.lower(), text
        if count == 0:
            assert "held back" not in text and "reached the client within" in text, text
            assert verdict == "streamed"
        else:
            assert "held back" in text, text
            found = re.search(r"(\d+) of (?:the first (\d+)|the (\d+) that)", text)
            if found:
                assert int(found.group(1)) == count, text
                assert int(found.group(2) or found.group(3)) == judged, text
            else:  # "every one but the last" / "all ..." / "the first was"
                assert count == judged, text
            assert verdict == ("buffered" if count * 2 >= judged else "streamed"), text
            assert ("partly held back" in text) == (count * 2 < judged), text

    if verdict == "empty":
        assert not pieces
    # Every time the sentence names is one the trace has, as printed.
    named = set(re.findall(r"\bat (\d[\d.]* (?:ms|s))\b", text))
    known = {seconds_text(c.t) for c in trace.chunks} | {seconds_text(trace.duration)}
    known |= {seconds_text(e.t) for e in (trace.produced or []) + (trace.written or [])}
    for when in named:
        assert when in known, (when, text)
