"""Pictures of a stream: SVG and text timelines, compare(), the Jupyter repr and the live view.

The traces come from real requests (serve() + the demo app, a real socket on loopback) and,
where a test needs exact numbers, from Trace objects built by hand.
"""

from __future__ import annotations

import base64
import io
import math
import re
import textwrap
import xml.etree.ElementTree as ET

import nbformat
import pytest
from nbclient import NotebookClient
from werkzeug.middleware.profiler import ProfilerMiddleware

from streamkit import compare, display, lanes, text_timeline, timeline
from streamkit import trace as trace_module
from streamkit.demos import create_app
from streamkit.server import serve
from streamkit.trace import Chunk, Event, Trace

SVG = "{http://www.w3.org/2000/svg}"


# -- real traces --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_traces() -> dict[str, Trace]:
    """A streamed, a buffered (ProfilerMiddleware) and a broken trace from real servers."""
    app = create_app()
    with serve(app) as server:
        streamed = server.get("/context/with?rows=6&delay_ms=40")
        broken = server.get("/context/without?rows=6&delay_ms=40")
        template = server.get("/template?rows=6&delay_ms=30&buffer=5")
    profiled = ProfilerMiddleware(app, stream=io.StringIO())
    with serve(profiled) as server:
        buffered = server.get("/context/with?rows=6&delay_ms=40")
    return {"streamed": streamed, "broken": broken, "buffered": buffered, "template": template}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def lane_marks(root: ET.Element, lane: str) -> list[ET.Element]:
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == f"marks marks-{lane}"]
    assert len(groups) == 1, f"expected one {lane} lane"
    return [r for r in groups[0] if r.get("class") == "mark"]


def all_text(root: ET.Element) -> str:
    return " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


def test_real_traces_have_the_expected_verdicts(real_traces: dict[str, Trace]) -> None:
    assert real_traces["streamed"].verdict == "streamed"
    assert real_traces["buffered"].verdict == "buffered"
    assert real_traces["broken"].verdict == "broken"


@pytest.mark.parametrize("name", ["streamed", "buffered", "broken", "template"])
def test_svg_is_well_formed_with_viewbox_title_desc_and_one_mark_per_chunk(
    real_traces: dict[str, Trace], name: str
) -> None:
    trace = real_traces[name]
    root = parse(trace.to_svg())
    width, height = root.get("width"), root.get("height")
    assert root.get("viewBox") == f"0 0 {width} {height}"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and trace.verdict in title.text
    assert desc is not None and f"{len(trace.chunks)} chunk" in desc.text
    assert len(lane_marks(root, "received")) == len(trace.chunks)
    assert len(lane_marks(root, "produced")) == len(trace.produced)
    assert len(lane_marks(root, "written")) == len(trace.written)
    # The headers marker is drawn, at the time the headers arrived.
    assert f"headers {lanes.fmt_ms(trace.headers_at)}" in all_text(root)
    # An explicit background: the picture does not depend on the notebook theme.
    background = root.find(f"{SVG}rect")
    assert background is not None and background.get("fill") == "#ffffff"


def test_broken_svg_has_a_red_mark_and_the_exception_text(real_traces: dict[str, Trace]) -> None:
    root = parse(real_traces["broken"].to_svg())
    errors = [t for t in root.iter(f"{SVG}text") if t.get("class") == "error"]
    assert len(errors) == 1
    assert "RuntimeError: Working outside of request context." in "".join(errors[0].itertext())
    assert errors[0].get("fill") == timeline.COLORS["error"]
    markers = [g for g in root.iter(f"{SVG}g") if g.get("class") == "break-marker"]
    assert len(markers) == 1
    # Only the first line of the message: the hint that follows it is left out.
    assert "stream_with_context(...)" not in all_text(root)


def test_streamed_and_buffered_svgs_have_no_break_mark(real_traces: dict[str, Trace]) -> None:
    for name in ("streamed", "buffered"):
        root = parse(real_traces[name].to_svg())
        assert not [g for g in root.iter(f"{SVG}g") if g.get("class") == "break-marker"]
        assert "broken" not in all_text(root)


def test_buffered_svg_draws_lines_from_every_produced_item_into_the_one_write(
    real_traces: dict[str, Trace],
) -> None:
    trace = real_traces["buffered"]
    assert len(trace.written) == 1
    root = parse(trace.to_svg())
    lines = [g for g in root.iter(f"{SVG}g") if g.get("class") == "connectors"][0]
    ends = {(line.get("x2"), line.get("y2")) for line in lines}
    starts = {line.get("x1") for line in lines}
    # Every produced item has a line, and the produced->sent ones all end at the single write.
    assert len(lines) == len(trace.produced) + 1
    assert len(starts) >= len(trace.produced) - 1
    assert len(ends) == 2


def test_template_groups_are_shown_as_parts(real_traces: dict[str, Trace]) -> None:
    trace = real_traces["template"]
    grouped = [event for event in trace.produced if event.parts > 1]
    assert grouped and all(event.parts <= 5 for event in trace.produced)
    root = parse(trace.to_svg())
    text = all_text(root)
    assert "5 parts" in text
    assert f"{sum(e.parts for e in trace.produced)} parts" in text  # lane summary
    dots = [g for g in root.iter(f"{SVG}g") if g.get("class") == "parts"][0]
    assert 5 <= len(dots) <= sum(min(event.parts, 10) for event in grouped)


def test_svg_escapes_text_from_the_request() -> None:
    trace = Trace(url="http://127.0.0.1:1/greet?name=<script>&x=\"'", status=200)
    trace.chunks = [Chunk(0.001, 5, None, 5)]
    trace.error = "Broken: <b>bold</b> & more"
    svg = trace.to_svg()
    root = parse(svg)
    assert "<script>" not in svg and "<b>" not in svg
    assert "<script>" in all_text(root)
    assert "Broken: <b>bold</b> & more" in all_text(root)


def test_lanes_without_data_are_left_out() -> None:
    trace = Trace(url="http://127.0.0.1:1/x", status=200, headers_at=0.001, ttfb=0.002, duration=0.05)
    trace.chunks = [Chunk(0.002, 10, None, 10), Chunk(0.05, 10, None, 10)]
    root = parse(trace.to_svg())
    lanes = [g.get("class") for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("lane ")]
    assert lanes == ["lane lane-received"]
    empty = Trace(url="http://127.0.0.1:1/nothing", status=204, headers_at=0.001)
    root = parse(empty.to_svg())
    assert len(lane_marks(root, "received")) == 0
    assert "nothing" in all_text(root)


def test_time_axis_is_in_ms_with_round_ticks() -> None:
    trace = Trace(url="http://127.0.0.1:1/x", status=200, headers_at=0.001, ttfb=0.01, duration=0.5)
    trace.chunks = [Chunk(0.01 * i, 10, None, 10) for i in range(1, 51)]
    root = parse(trace.to_svg())
    axis = [g for g in root.iter(f"{SVG}g") if g.get("class") == "axis"][0]
    labels = ["".join(t.itertext()) for t in axis.iter(f"{SVG}text")]
    assert labels[-1] == "time since the request started (ms)"
    ticks = [int(label.replace(",", "")) for label in labels[:-1]]
    assert ticks[0] == 0 and ticks[-1] >= 400
    steps = {b - a for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1 and steps.pop() in (50, 100)


def test_bar_height_grows_with_bytes() -> None:
    trace = Trace(url="http://127.0.0.1:1/x", status=200, headers_at=0.0, ttfb=0.01, duration=0.1)
    trace.chunks = [Chunk(0.01, 10, None, 10), Chunk(0.05, 1000, None, 1000), Chunk(0.09, 100, None, 100)]
    heights = [float(m.get("height")) for m in lane_marks(parse(trace.to_svg()), "received")]
    assert heights[0] < heights[2] < heights[1]
    assert heights[1] == timeline.BAR_MAX


# -- long streams ------------------------------------------------------------------------


def long_trace(n: int) -> Trace:
    trace = Trace(url="http://127.0.0.1:1/csv?rows=big", status=200, headers_at=0.0005, ttfb=0.001)
    trace.chunks = [Chunk(0.001 + i * 0.00002, 30, None, 30) for i in range(n)]
    trace.produced = [Event(0.0009 + i * 0.00002, 30) for i in range(n)]
    trace.written = [Event(0.00095 + i * 0.00002, 30) for i in range(n)]
    trace.duration = trace.chunks[-1].t
    return trace


def test_100000_chunks_are_bucketed() -> None:
    trace = long_trace(100_000)
    root = parse(trace.to_svg())
    marks = lane_marks(root, "received")
    assert 0 < len(marks) <= timeline.PLOT_W // timeline.BUCKET_PX
    # The buckets hold every chunk: their tooltips add up to all of them.
    counts = [
        int(re.search(r": ([\d,]+) chunks?", m.find(f"{SVG}title").text).group(1).replace(",", ""))
        for m in marks
    ]
    assert sum(counts) == 100_000
    assert "slice" in all_text(root)
    assert not [g for g in root.iter(f"{SVG}g") if g.get("class") == "connectors"]


def test_long_stream_text_is_bucketed_and_adds_up() -> None:
    trace = long_trace(5_000)
    text = trace.to_text()
    rows = [line for line in text.splitlines() if re.match(r"\s+\d+-\d+\s", line)]
    assert 2 <= len(rows) <= text_timeline.TEXT_BUCKET_ROWS
    assert sum(int(line.split()[-7].replace(",", "")) for line in rows) == 5_000 * 30
    items = sum(int(re.search(r"([\d,]+) items? at", line).group(1).replace(",", "")) for line in rows)
    assert items == 5_000
    assert "received: 5,000 chunks, 150,000 bytes" in text


# -- text ---------------------------------------------------------------------------------


def chunk_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"\s+\d+\s+[\d.,]+ ms\s", line)]


def test_to_text_streamed(real_traces: dict[str, Trace]) -> None:
    trace = real_traces["streamed"]
    text = trace.to_text()
    assert text.splitlines()[0] == "GET /context/with?rows=6&delay_ms=40 -> 200 OK \u00b7 text/plain"
    rows = chunk_rows(text)
    assert len(rows) == len(trace.chunks) == 7
    assert all("1 item at" in row for row in rows)
    assert "verdict: streamed" in text
    assert f"ttfb: {lanes.fmt_ms(trace.ttfb)}" in text
    assert f"received: 7 chunks, {trace.size:,} bytes" in text
    assert "error" not in text
    assert len({row.index("1 item") for row in rows}) == 1  # fixed-width columns


def test_to_text_buffered_shows_all_items_in_one_chunk(real_traces: dict[str, Trace]) -> None:
    trace = real_traces["buffered"]
    text = trace.to_text()
    rows = chunk_rows(text)
    assert len(rows) == len(trace.chunks) == 1
    assert f"{len(trace.produced)} items at" in rows[0]
    assert "verdict: buffered" in text
    assert "server sent: 1 write" in text


def test_to_text_broken(real_traces: dict[str, Trace]) -> None:
    trace = real_traces["broken"]
    text = trace.to_text()
    assert len(chunk_rows(text)) == len(trace.chunks) == 1
    assert "verdict: broken" in text
    assert "error in the app: RuntimeError: Working outside of request context." in text
    assert "error at the client:" in text
    assert text.count("\n") < 20  # the hint after the first line is not dumped


def test_to_text_of_an_empty_body() -> None:
    trace = Trace(url="http://127.0.0.1:1/none", status=204, headers_at=0.001, duration=0.001)
    text = trace.to_text()
    assert "(no body received)" in text
    assert "verdict: empty" in text
    assert "ttfb: no body bytes" in text


# -- notebook display ---------------------------------------------------------------------


def test_mimebundle_has_svg_html_and_a_stable_short_plain_text(real_traces: dict[str, Trace]) -> None:
    bundle = real_traces["streamed"]._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/html", "text/plain"}
    # The HTML is an <img> with the SVG as a data URI: it survives the sanitizer of
    # untrusted notebooks, which strips inline <svg>.
    img = re.fullmatch(
        r'<img class="streamkit-timeline" alt="([^"]*)" width="(\d+)" style="[^"]*" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)">',
        bundle["text/html"],
    )
    assert img, bundle["text/html"][:200]
    assert base64.b64decode(img.group(3)).decode() == bundle["image/svg+xml"]
    assert img.group(1).startswith("Stream timeline of GET /context/with")
    parse(bundle["image/svg+xml"])
    plain = bundle["text/plain"]
    assert "\n" not in plain and len(plain) < 200
    assert "127.0.0.1" not in plain and " ms" not in plain
    # Another server, another port, same request: the same text.
    with serve(create_app()) as server:
        again = server.get("/context/with?rows=6&delay_ms=40")
    assert again._repr_mimebundle_()["text/plain"] == plain
    assert real_traces["streamed"]._repr_html_() == display.html(real_traces["streamed"].to_svg())


def test_compare_draws_traces_on_one_axis(real_traces: dict[str, Trace]) -> None:
    pair = compare(
        real_traces["streamed"], real_traces["buffered"], labels=["streamed", "ProfilerMiddleware"]
    )
    root = parse(pair.to_svg())
    panels = [g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"]
    assert len(panels) == 2
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "axis"]) == 1
    assert "ProfilerMiddleware" in all_text(root)
    # One shared time axis: a chunk at the same time sits at the same x in both panels.
    span = timeline._time_span(pair.traces, [lanes.read_lanes(t) for t in pair.traces])
    assert span >= max(t.duration for t in pair.traces)
    text = pair.to_text()
    assert "== streamed ==" in text and "== ProfilerMiddleware ==" in text
    assert re.search(r"ProfilerMiddleware\s+buffered\s+1\s", text)
    assert set(pair._repr_mimebundle_()) == {"image/svg+xml", "text/html", "text/plain"}
    assert "streamed: streamed" in repr(pair)


def test_compare_rejects_bad_arguments(real_traces: dict[str, Trace]) -> None:
    with pytest.raises(ValueError, match="at least one trace"):
        compare()
    with pytest.raises(ValueError, match="2 traces but 1 labels"):
        compare(real_traces["streamed"], real_traces["broken"], labels=["only one"])
    default = compare(real_traces["streamed"], real_traces["broken"])
    assert default.labels == [
        "GET /context/with?rows=6&delay_ms=40",
        "GET /context/without?rows=6&delay_ms=40",
    ]


def test_live_view_does_nothing_outside_ipython(real_traces: dict[str, Trace], capsys) -> None:
    view = display.LiveView()
    assert view.enabled is False
    assert view.update(real_traces["streamed"]) is False
    view.close(real_traces["streamed"])
    assert view.updates == 0
    assert capsys.readouterr() == ("", "")


def test_live_view_in_a_real_kernel_updates_one_output_and_keeps_the_final_picture() -> None:
    """Run cells in a real IPython kernel: the output is one display, updated in place."""
    cells = [
        """
        import time
        from streamkit.display import LiveView
        from streamkit.server import serve
        from streamkit.demos import create_app
        server = serve(create_app(), name="live-test")
        """,
        """
        trace = server.get("/slow?rows=6&delay_ms=150", live=True)
        """,
        """
        # Redraws are rate-limited: a burst of updates draws only a few times.
        view = LiveView()
        started = time.monotonic()
        for _ in range(300):
            view.update(trace)
        elapsed = time.monotonic() - started
        view.close(trace)
        print(view.enabled, view.updates <= elapsed * view.min_interval ** -1 + 2, view.updates >= 2)
        server.stop()
        """,
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(source)) for source in cells]
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()

    outputs = nb.cells[1].outputs
    assert len(outputs) == 1, "one output, updated in place"
    output = outputs[0]
    assert output.output_type == "display_data"
    svg = output.data["image/svg+xml"]
    assert "receiving" not in svg, "the final picture replaced the live one"
    assert "streamed" in svg and "app produced" in svg
    assert output.data["text/plain"].startswith("<Trace GET /slow?rows=6&delay_ms=150 -> 200: streamed")
    printed = [out.text for out in nb.cells[2].outputs if out.output_type == "stream"]
    assert "".join(printed).strip() == "True True True"
    assert len([out for out in nb.cells[2].outputs if out.output_type == "display_data"]) == 1


def test_error_text_keeps_type_and_first_line_only() -> None:
    try:
        raise RuntimeError("Working outside of request context.\n\nA long hint follows.")
    except RuntimeError as exc:
        assert trace_module.error_text(exc) == "RuntimeError: Working outside of request context."
    assert trace_module.error_text("IncompleteRead: short\nmore") == "IncompleteRead: short"
    assert trace_module.error_text(ValueError()) == "ValueError"
    assert len(trace_module.error_text("x" * 500)) == 120


def test_nice_steps_are_1_2_5() -> None:
    for span in (0.3, 1, 7, 48, 130, 999, 12_345, 3_600_000):
        step = _step = timeline._nice_step(span)
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 6) in (1, 2, 5)
        assert span / _step <= 8
