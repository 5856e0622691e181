"""diagnose() on hand-made traces: the warnings and the partly held stream.

The culprit zoo (test_doctor.py) measures real servers; these pin the findings whose real cases
take long (a 10 s silence) or need a browser's view of the headers.
"""

from __future__ import annotations

from streamkit.diagnosis import WARNING_CODES, diagnose
from streamkit.trace import Chunk, Event, Trace


def trace(times, content_type="text/plain; charset=utf-8", headers_at=0.001, **headers) -> Trace:
    made = Trace(url="http://x/", status=200, headers_at=headers_at, duration=times[-1] + 0.001)
    made.headers["Content-Type"] = content_type
    made.headers["Transfer-Encoding"] = "chunked"
    for name, value in headers.items():
        made.headers[name.replace("_", "-")] = value
    made.chunks = [Chunk(t, 10, None, 10) for t in times]
    return made


def test_an_event_stream_silent_for_long_gets_the_heartbeat_warning_and_still_streams():
    quiet = diagnose(trace([0.01, 0.2, 12.5], "text/event-stream", Cache_Control="no-cache"))
    assert quiet.streams and quiet.culprit is None
    assert "sse-idle-gap" in quiet.codes and "sse-no-cache" not in quiet.codes
    busy = diagnose(trace([0.01, 0.2, 0.4], "text/event-stream"))
    assert busy.codes == ["sse-no-cache"]


def test_html_without_a_charset_and_text_without_nosniff_are_warnings_only():
    html = diagnose(trace([0.01, 0.2], "text/html"))
    assert html.streams and html.codes == ["html-no-charset"]
    sniffed = diagnose(trace([0.01, 0.2], "text/plain"))
    assert sniffed.codes == ["browser-sniffs"]
    named = diagnose(trace([0.01, 0.2], "text/plain", X_Content_Type_Options="nosniff"))
    assert named.codes == []
    assert all(code in WARNING_CODES for code in html.codes + sniffed.codes)


def test_a_stream_that_starts_late_is_told_and_the_app_named_when_it_is_known():
    late = trace([1.2, 1.4, 1.6], headers_at=1.2, X_Content_Type_Options="nosniff")
    assert diagnose(late).streams and diagnose(late).codes == ["late-first-byte"]
    assert diagnose(late).findings[0].culprit is None  # from the client alone: not known
    late.produced = [Event(1.19, 10), Event(1.39, 10), Event(1.59, 10)]
    found = diagnose(late)
    assert found.streams and found.culprit is None  # it streams: nothing is blamed overall
    assert found.findings[0].code == "late-first-byte" and found.findings[0].culprit == "app"


def test_a_partly_held_stream_streams_and_says_which_part():
    partly = trace([0.001, 0.201, 0.601, 0.601, 0.801, 1.001], X_Content_Type_Options="nosniff")
    partly.produced = [Event(i * 0.2, 10) for i in range(6)]
    found = diagnose(partly)
    assert found.streams and found.culprit is None
    assert found.codes == ["partly-held"]
    assert "1 of the first 5 was held back" in found.findings[0].evidence[0]


def test_the_sniffing_warning_follows_chromiums_1024_bytes():
    # (Chromium 156, measured: nothing shown until 1,024 bytes or the end; see SNIFF_BYTES.)
    small = trace([0.01, 0.2, 0.4])  # 30 bytes in all: shown only at the end
    assert "browser-sniffs" in diagnose(small).codes
    assert "30 bytes in all" in diagnose(small).findings[0].evidence[-1]
    big_first = trace([0.01, 0.2, 0.4])
    big_first.chunks[0].size = big_first.chunks[0].wire_size = 1024
    assert "browser-sniffs" not in diagnose(big_first).codes  # shown at once
    late = trace([0.01, 0.2, 0.4])
    late.chunks[1].size = late.chunks[1].wire_size = 1100
    found = diagnose(late).findings[0]
    assert found.code == "browser-sniffs" and "in only at 200 ms" in found.evidence[-1]
