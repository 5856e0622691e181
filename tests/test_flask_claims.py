"""What the README and the lessons say about Flask, run on real Flask, served for real.

The README says which of its snippets run on Flask unchanged and which do not; lesson 00, lesson
03, lesson 07 and tutorial 01 say their code is Flask code with another import. Each claim is
taken from the text itself (the README's python blocks, the lesson sources' code cells), made
into Flask code the way the text tells the reader to (swap the import), served by ``serve()``
on loopback and read with the probe. Lesson 02 measures its Flask claims inside the notebook
(its Checks cell), so the notebook test covers it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import streamkit
from tests.conftest import needs_nginx

flask = pytest.importorskip("flask")

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
LESSONS = ROOT / "tools" / "notebooks"
TUTORIALS = ROOT / "tutorials"

#: The names a reader takes from flask instead of streamkit; the rest (serve, compare) stay.
FLASK_NAMES = {
    "App": "Flask as App",
    "Response": "Response",
    "request": "request",
    "stream_with_context": "stream_with_context",
    "stream_template": "stream_template",
    "stream_template_string": "stream_template_string",
    "render_template_string": "render_template_string",
}
IMPORT = re.compile(r"^from streamkit import (\([^)]*\)|[^\n]*)$", re.MULTILINE)


def to_flask(code: str) -> str:
    """``code`` with its ``from streamkit import ...`` line split: Flask's names from flask."""

    def swap(match: re.Match[str]) -> str:
        names = [name.strip() for name in match.group(1).strip("()").split(",") if name.strip()]
        ours = [name for name in names if name not in FLASK_NAMES]
        theirs = [FLASK_NAMES[name] for name in names if name in FLASK_NAMES]
        lines = [f"from flask import {', '.join(theirs)}"] if theirs else []
        if ours:
            lines.append(f"from streamkit import {', '.join(ours)}")
        return "\n".join(lines)

    swapped, count = IMPORT.subn(swap, code)
    assert count, f"no 'from streamkit import' line to swap in:\n{code[:200]}"
    return swapped


def readme_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def code_cells(lesson: str) -> list[str]:
    """The code cells of a lesson source (tools/notebooks/NN_*.py), in order."""
    (path,) = LESSONS.glob(f"{lesson}_*.py")
    cells = re.split(r"^# %%.*$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]
    headers = re.findall(r"^# %%.*$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return [cell for header, cell in zip(headers, cells) if "[markdown]" not in header]


def cell_with(lesson: str, marker: str) -> str:
    found = [cell for cell in code_cells(lesson) if marker in cell]
    assert len(found) == 1, f"lesson {lesson}: {len(found)} code cells contain {marker!r}"
    return found[0]


def run(code: str, name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": name}
    exec(compile(code, name, "exec"), namespace)
    return namespace


@pytest.fixture
def served():
    """serve() for the test, every server stopped at the end."""
    started: list[Any] = []

    def start(app: Any, **options: Any) -> Any:
        server = streamkit.serve(app, name=f"flask-claims-{len(started)}", **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# -- the README ------------------------------------------------------------------------------


def test_readme_techniques_1_and_3_run_on_flask_and_2_does_not(served) -> None:
    techniques = readme_blocks()[0]
    first_line = techniques.splitlines()[0]
    flask_line = "from flask import Flask as App, Response, request, stream_template_string, stream_with_context"
    # The README tells the reader exactly this swap.
    assert f"`{flask_line}`" in README.read_text(encoding="utf-8")
    namespace = run(techniques.replace(first_line, flask_line), "readme_on_flask")
    app = namespace["app"]
    assert isinstance(app, flask.Flask)
    server = served(app)

    rows = server.get("/rows.csv")
    assert rows.status == 200 and rows.verdict == "streamed", rows
    assert len(rows.chunks) > 10 and rows.ttfb < rows.duration / 2
    assert rows.body.startswith(b"0,0\n1,1\n2,4\n")
    assert server.get("/hello?name=Ada").body == b"Hello Ada"
    # Technique 2 as written: Flask's stream is a plain generator, enable_buffering is missing.
    assert server.get("/report").status == 500
    with app.test_request_context("/"):
        stream = flask.stream_template_string("{{ x }}", x=1)
        assert not hasattr(stream, "enable_buffering")
        stream.close()

    # Without the enable_buffering line Flask sends each of the 3,002 parts on its own.
    unbuffered = run(
        to_flask(techniques.replace("    stream.enable_buffering(5)\n", "")), "readme_on_flask_unbuffered"
    )
    trace = served(unbuffered["app"]).get("/report")
    assert trace.status == 200 and len(trace.written) == 3002
    assert "3,002 writes" in README.read_text(encoding="utf-8")


def test_readme_flask_pattern_groups_parts_on_flask_and_on_streamkit(served) -> None:
    techniques, pattern = readme_blocks()[0], readme_blocks()[1]
    assert pattern.startswith("import flask\n")
    ours = run(techniques, "readme_streamkit")
    reference = served(ours["app"]).get("/report")
    assert reference.status == 200 and len(reference.written) == 601  # ceil(3002 / 5)
    assert "601 with `enable_buffering(5)`" in README.read_text(encoding="utf-8")

    on_flask = run(pattern, "readme_pattern_flask")
    assert isinstance(on_flask["flask_app"], flask.Flask)
    # As the README says: streamkit.App for flask.Flask, streamkit. for flask.
    assert "with `streamkit.App` for `flask.Flask` and `streamkit.` for `flask.`" in README.read_text(
        encoding="utf-8"
    )
    on_streamkit = run(
        pattern.replace("import flask", "import streamkit")
        .replace("flask.Flask(", "streamkit.App(")
        .replace("flask.", "streamkit."),
        "readme_pattern_streamkit",
    )
    assert isinstance(on_streamkit["flask_app"], streamkit.App)
    for namespace in (on_flask, on_streamkit):
        trace = served(namespace["flask_app"]).get("/report")
        assert trace.status == 200, trace
        assert len(trace.written) == 601  # five parts per write, as with streamkit's own
        assert trace.body == reference.body


# -- lessons and tutorials that say their code is Flask code -----------------------------------


def test_lesson_00_count_runs_on_flask(served) -> None:
    cell = cell_with("00", '@app.route("/count")')
    results = {}
    for name, code in (("streamkit", cell), ("flask", to_flask(cell))):
        app = run(code, f"lesson00_{name}")["app"]
        trace = served(app).get("/count?n=5")
        results[name] = (trace.status, trace.body, trace.verdict, len(trace.chunks))
    assert results["flask"] == results["streamkit"] == (200, b"1\n2\n3\n4\n5\n", "streamed", 5)


def views_of(cell: str) -> str:
    """The part of a cell that sets the app up: up to its first serve() or request."""
    return re.split(r"^\w+ = (?:serve\(|server\.get\()", cell, maxsplit=1, flags=re.MULTILINE)[0]


def test_lesson_03_both_forms_of_stream_with_context_run_on_flask(served) -> None:
    # The lesson adds routes to a served app, cell by cell; Flask refuses that (see the next
    # test), so here every route is added first, then the app is served.
    setup = cell_with("03", "def greet_broken")
    wrapper = cell_with("03", '@app.route("/greet")')
    decorator = cell_with("03", '@app.route("/countdown")')
    code = "\n".join(views_of(cell) for cell in (setup, wrapper, decorator))
    results = {}
    for name, source in (("streamkit", code), ("flask", to_flask(code))):
        server = served(run(source, f"lesson03_{name}")["app"])
        broken = server.get("/greet-broken?name=Ada")
        fixed = server.get("/greet?name=Ada")
        decorated = server.get("/countdown?who=Ada")
        # The failure the lesson shows: 200, then a cut-off stream; both fixes stream.
        results[name] = (
            broken.status,
            broken.body,
            broken.error is not None,
            fixed.body,
            decorated.body,
            decorated.verdict,
        )
    assert results["flask"] == results["streamkit"]
    assert results["flask"] == (
        200,
        b"Hello, ",
        True,
        b"Hello, Ada!\n",
        b"Ada: 3\nAda: 2\nAda: 1\n",
        "streamed",
    )


def test_routes_added_after_the_first_request(served) -> None:
    """The lessons add views to an app that has served already; Flask does not allow that."""
    added = {}
    for name, make_app in (("streamkit", streamkit.App), ("flask", flask.Flask)):
        app = make_app(__name__)
        app.add_url_rule("/one", "one", lambda: "one")
        server = served(app)
        assert server.get("/one").body == b"one"
        try:
            app.add_url_rule("/two", "two", lambda: "two")
            added[name] = server.get("/two").body
        except AssertionError as exc:
            added[name] = str(exc).split(".")[0]
    assert added["streamkit"] == b"two"
    assert added["flask"] == "The setup method 'add_url_rule' can no longer be called on the application"
    assert "can no longer be called" in README.read_text(encoding="utf-8")


@needs_nginx
def test_lesson_07_x_accel_buffering_is_one_line_in_a_flask_view(served) -> None:
    cell = cell_with("07", 'response.headers["X-Accel-Buffering"] = "no"')
    app = run(to_flask(views_of(cell)), "lesson07_flask")["app"]
    assert isinstance(app, flask.Flask)
    direct = served(app).get("/events")
    assert direct.headers.get("X-Accel-Buffering") == "no"
    behind = served(app, behind="nginx").get("/events")
    # nginx removed the header and passed each event on as it came (gzip still on).
    assert behind.headers.get("X-Accel-Buffering") is None
    assert behind.verdict == "streamed", behind
    assert len([chunk for chunk in behind.chunks if chunk.size]) >= 4


def test_tutorial_01_view_is_flask_code_with_another_import(served) -> None:
    text = (TUTORIALS / "01-generators.md").read_text(encoding="utf-8")
    assert "this is also Flask code if\nyou change the import" in text
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "/rows.csv" in b)
    results = {}
    for name, code in (("streamkit", block), ("flask", to_flask(block))):
        app = run(code, f"tutorial01_{name}")["app"]
        trace = served(app).get("/rows.csv")
        results[name] = (trace.status, trace.body, trace.verdict, len(trace.chunks))
    assert results["flask"] == results["streamkit"]
    assert results["flask"][2] == "streamed" and results["flask"][3] == 6
