"""The pytest plugin and streamkit.testing: the stream_server fixture serves real apps, the
assertions catch real buffering layers in real projects (run by pytest in a subprocess), a failed
check leaves its trace file behind, it works under pytest-xdist, and a suite that does not use
it imports none of streamkit.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from streamkit import App, NaiveGzipMiddleware, Response, Trace, tracefile
from streamkit.testing import ServerFactory, StreamAssertionError, as_app, assert_held, assert_streams

PROJECTS = Path(__file__).parent / "projects"
SCHEMA = json.loads(tracefile.schema_path().read_text(encoding="utf-8"))


def parts_app() -> App:
    app = App(__name__)

    @app.route("/parts")
    def parts() -> Response:
        def generate():
            for i in range(5):
                if i:
                    time.sleep(0.1)
                yield f"part {i}\n"

        return Response(generate(), mimetype="text/plain", headers={"X-Content-Type-Options": "nosniff"})

    return app


# -- the assertions, in process ------------------------------------------------------------------


def test_assert_streams_passes_a_stream_and_returns_the_trace(stream_server: Any) -> None:
    server = stream_server(parts_app())
    trace = server.get("/parts")
    assert assert_streams(trace, min_pieces=5, first_byte_within=5) is trace
    with pytest.raises(StreamAssertionError, match="it was not held back: it streamed"):
        assert_held(trace)


def test_assert_streams_catches_a_compressor_that_never_flushes(stream_server: Any) -> None:
    server = stream_server(NaiveGzipMiddleware(parts_app()))
    trace = server.get("/parts", headers={"Accept-Encoding": "gzip"})
    with pytest.raises(StreamAssertionError) as caught:
        assert_streams(trace)
    error = caught.value
    assert isinstance(error, AssertionError)
    assert error.trace is trace and error.diagnosis.culprit == "compression"
    message = str(error)
    # What failed, the verdict sentence, the diagnosis with its fix, the text timeline.
    assert message.startswith("GET /parts: it did not stream")
    assert trace.verdict_text in message
    assert "[compression-no-flush]" in message and "fix:" in message
    assert trace.to_text().splitlines()[0] in message
    assert assert_held(trace) is trace


def test_first_byte_within_fails_a_late_first_byte(stream_server: Any) -> None:
    app = App(__name__)

    @app.route("/late")
    def late() -> Response:
        def generate():
            time.sleep(0.4)
            for i in range(3):
                time.sleep(0.05)
                yield f"part {i}\n"

        return Response(generate(), mimetype="text/plain")

    trace = stream_server(app).get("/late")
    assert_streams(trace, min_pieces=3)  # it does stream, once it starts
    with pytest.raises(StreamAssertionError, match=r"the first byte arrived at \d+ ms, later than 50 ms"):
        assert_streams(trace, first_byte_within=0.05)


def test_the_assertions_refuse_what_is_not_a_trace_or_a_limit() -> None:
    with pytest.raises(TypeError, match="takes a streamkit Trace"):
        assert_streams("http://127.0.0.1/")  # type: ignore[arg-type]
    trace = Trace(url="http://127.0.0.1/")
    with pytest.raises(ValueError, match="min_pieces"):
        assert_streams(trace, min_pieces=0)
    with pytest.raises(ValueError, match="first_byte_within must be a positive number"):
        assert_streams(trace, first_byte_within=-1)


# -- the fixture, in process ---------------------------------------------------------------------


def wsgi_hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def make_hello() -> Any:
    return wsgi_hello


async def asgi_hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


def test_stream_server_serves_every_kind_of_app(stream_server: Any, request: pytest.FixtureRequest) -> None:
    from flask import Flask

    flask_app = Flask("hello")
    flask_app.route("/")(lambda: "hello")
    servers = [stream_server(app) for app in (wsgi_hello, make_hello, flask_app, asgi_hello)]
    assert [server.get("/").body for server in servers] == [b"hello"] * 4
    assert [server.description for server in servers] == ["werkzeug"] * 3 + ["uvicorn"]
    assert len({server.port for server in servers}) == 4
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert servers[0].name == f"pytest:{worker}:{request.node.nodeid}#1"
    assert servers[3].name.endswith("#4")


def test_stream_server_takes_serve_options(stream_server: Any) -> None:
    pytest.importorskip("waitress")
    server = stream_server(parts_app(), server="waitress")
    assert server.description == "waitress"
    assert_streams(server.get("/parts"))


def test_as_app_calls_factories_and_refuses_what_is_no_app() -> None:
    assert as_app(make_hello) is wsgi_hello
    assert as_app(wsgi_hello) is wsgi_hello  # a WSGI callable needs arguments: no factory
    assert as_app(asgi_hello) is asgi_hello
    assert as_app("myproject.wsgi:application") == "myproject.wsgi:application"
    with pytest.raises(TypeError, match="returned NoneType, not an app"):
        as_app(lambda: None)
    with pytest.raises(TypeError, match="got int"):
        as_app(42)


def test_the_factory_stops_every_server_and_collects_the_errors() -> None:
    factory = ServerFactory("test-factory")
    servers = [factory(wsgi_hello) for _ in range(3)]
    assert all(server.running for server in servers)
    factory.stop_all()
    assert not any(server.running for server in servers)

    failing = ServerFactory("test-factory-failing")
    servers = [failing(wsgi_hello) for _ in range(3)]
    for server in servers[:2]:
        real_stop = server.stop

        def stop(real_stop: Any = real_stop) -> None:
            real_stop()
            raise RuntimeError("port would not close")

        server.stop = stop  # type: ignore[method-assign]
    with pytest.raises(Exception) as caught:
        failing.stop_all()
    if sys.version_info >= (3, 11):
        assert len(caught.value.exceptions) == 2  # type: ignore[attr-defined]  # an ExceptionGroup
    else:
        assert "port would not close" in str(caught.value)
    assert not any(server.running for server in servers)  # the third was stopped all the same


# -- real projects, run by pytest in a subprocess ------------------------------------------------


def run_pytest(
    folder: Path, *args: str, cwd: Path | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", *args],
        cwd=cwd or folder,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def outcomes(junit: Path) -> dict[str, str]:
    """test name -> "passed" or the failure message, from a JUnit XML report."""
    found = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        failure = case.find("failure")
        found[case.get("name", "")] = "passed" if failure is None else failure.get("message", "failed")
    return found


# project, the tests that must fail (caught holding the stream back), the ones that must pass
CASES = {
    "flask_factory": (
        {"test_orders_stream_to_a_browser"},
        {"test_orders_stream_with_streamed_responses_left_uncompressed"},
    ),
    "django_site": (
        {"test_report_streams_to_a_browser_that_accepts_gzip", "test_report_streams_under_asgi"},
        {"test_report_streams_under_wsgi", "test_async_report_streams_under_asgi"},
    ),
    "fastapi_app": ({"test_answer_streams"}, {"test_answer_streams_without_the_compressor"}),
}
NEEDS = {"flask_factory": "flask_compress", "django_site": "django", "fastapi_app": "asgi_gzip"}


def check_project_run(name: str, result: subprocess.CompletedProcess[str], junit: Path, traces: Path) -> None:
    failing, passing = CASES[name]
    got = outcomes(junit)
    assert set(got) == failing | passing, result.stdout[-3000:] + result.stderr[-3000:]
    for test in passing:
        assert got[test] == "passed", (test, got[test], result.stdout[-4000:])
    for test in failing:
        assert "did not stream" in got[test], (test, got[test])
    assert result.returncode == 1
    saved = sorted(traces.glob("*.json"))
    assert len(saved) == len(failing), saved
    for path in saved:
        jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), SCHEMA)
        trace = Trace.load(path)
        assert trace.verdict != "streamed" and trace.status == 200
        assert path.with_suffix(".svg").read_text(encoding="utf-8").startswith("<svg")
        assert any(test in path.name for test in failing)
    assert "the trace of this failed stream check is saved" in result.stdout


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_assertion_catches_the_buffering_layer_of_a_real_project(name: str, tmp_path: Path) -> None:
    pytest.importorskip(NEEDS[name])
    traces, junit = tmp_path / "traces", tmp_path / "junit.xml"
    result = run_pytest(PROJECTS / name, f"--streamkit-traces={traces}", f"--junitxml={junit}")
    check_project_run(name, result, junit, traces)


def test_the_plugin_works_under_xdist(tmp_path: Path) -> None:
    pytest.importorskip("flask_compress")
    traces, junit = tmp_path / "traces", tmp_path / "junit.xml"
    result = run_pytest(
        PROJECTS / "flask_factory", "-n", "2", f"--streamkit-traces={traces}", f"--junitxml={junit}"
    )
    assert "2 workers" in result.stdout or "gw1" in result.stdout, result.stdout[-2000:]
    check_project_run("flask_factory", result, junit, traces)
    # Each worker names its files and servers after itself.
    assert all("-gw" in path.name for path in traces.glob("*.json"))


def test_without_the_option_the_trace_goes_to_the_test_temporary_folder(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (tmp_path / "test_held.py").write_text(
        textwrap.dedent(
            """
            from streamkit import App, NaiveGzipMiddleware, Response
            from streamkit.testing import assert_streams
            import time

            app = App(__name__)

            @app.route("/")
            def parts():
                def generate():
                    for i in range(4):
                        time.sleep(0.05)
                        yield "part %d\\n" % i
                return Response(generate(), mimetype="text/plain")

            def test_held(stream_server):
                assert_streams(stream_server(NaiveGzipMiddleware(app)).get("/"))
            """
        )
    )
    base = tmp_path / "base"
    result = run_pytest(tmp_path, f"--basetemp={base}")
    assert result.returncode == 1, result.stdout[-2000:]
    saved = list(base.rglob("*.json"))
    assert len(saved) == 1 and Trace.load(saved[0]).verdict in ("buffered", "single"), result.stdout[-2000:]
    assert str(saved[0]) in result.stdout


def test_a_suite_that_does_not_use_the_plugin_imports_none_of_streamkit(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (tmp_path / "test_plain.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    script = textwrap.dedent(
        """
        import sys, pytest
        status = pytest.main(["--co", "-q"])
        print("STATUS", int(status))
        print("PLUGIN", "pytest_streamkit" in sys.modules)
        print("STREAMKIT", sorted(m for m in sys.modules if m == "streamkit" or m.startswith("streamkit.")))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env
    ).stdout
    assert "STATUS 0" in out and "1 test collected" in out, out
    assert "PLUGIN True" in out, out  # the plugin was loaded through its entry point ...
    assert "STREAMKIT []" in out, out  # ... and imported nothing of streamkit


def test_first_content_within_times_the_first_token(stream_server: Any) -> None:
    app = App(__name__)

    @app.route("/tokens")
    def tokens() -> Response:
        def generate():
            yield "event: start\ndata: {}\n\n"  # a control event carries no content
            time.sleep(0.4)
            for word in ["Streams", " are", " measured"]:
                yield f"data: {word}\n\n"
                time.sleep(0.05)

        return Response(generate(), mimetype="text/event-stream")

    trace = stream_server(app).get("/tokens")
    assert trace.first_content is not None and trace.first_content >= 0.3
    assert_streams(trace, min_pieces=3, first_content_within=10)
    with pytest.raises(StreamAssertionError, match=r"the first content event arrived at \d+ ms, later than 100 ms"):
        assert_streams(trace, first_byte_within=10, first_content_within=0.1)
    plain = stream_server(parts_app()).get("/parts")
    with pytest.raises(StreamAssertionError, match="no event carrying content arrived"):
        assert_streams(plain, first_content_within=10)


# -- tutorial 07 ---------------------------------------------------------------------------------

TUTORIAL = Path(__file__).parent.parent / "tutorials" / "07-testing.md"
PROJECT_FILES = [
    "flask_factory/shop/__init__.py",
    "flask_factory/stream_orders.py",
    "django_site/mysite/views.py",
    "django_site/stream_report.py",
    "fastapi_app/chat.py",
    "fastapi_app/stream_chat.py",
]


def test_the_tutorial_shows_the_sample_projects_as_they_are_tested() -> None:
    blocks = re.findall(r"^```py\n(.*?)^```\s*$", TUTORIAL.read_text(encoding="utf-8"), re.M | re.S)
    shown = {block.splitlines()[0].removeprefix("# "): "\n".join(block.splitlines()[1:]) + "\n" for block in blocks}
    for relative in PROJECT_FILES:
        name = relative.split("/", 1)[1]
        assert name in shown, f"tutorials/07-testing.md does not show {name}"
        assert shown[name].strip() == (PROJECTS / relative).read_text(encoding="utf-8").strip(), name


def recipe_commands() -> dict[str, str]:
    """The ``run:`` commands of the tutorial's workflow, by step name."""
    import yaml

    text = TUTORIAL.read_text(encoding="utf-8")
    workflow = yaml.safe_load(re.search(r"^```yaml\n(.*?)^```", text, re.M | re.S).group(1))  # type: ignore[union-attr]
    steps = workflow["jobs"]["test"]["steps"]
    return {step["name"]: step["run"] for step in steps if "run" in step}


def test_the_ci_recipe_runs_in_a_fresh_virtual_environment(tmp_path: Path) -> None:
    """The recipe's own Install and Test commands, on the Flask shop, in a new venv. The kit
    comes from this checkout (the package index has the released one); the project's own
    requirements come from the package index, as in CI."""
    commands = recipe_commands()
    assert set(commands) == {"Install", "Test"}
    project = tmp_path / "shop"
    shutil.copytree(PROJECTS / "flask_factory", project)
    (project / "requirements.txt").write_text("flask\nflask-compress\n")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    checkout = str(Path(__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    def run(command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        assert command.startswith("python -m ")
        words = shlex.split(command)
        words = [checkout if word == "streamkit-http" else word for word in words]
        return subprocess.run(
            [str(python), *words[1:]], cwd=project, capture_output=True, text=True, timeout=timeout, env=env
        )

    installed = run(commands["Install"], 600)
    if installed.returncode != 0 and "Could not find a version" in installed.stderr + installed.stdout:
        pytest.skip("the package index cannot be reached from here")
    assert installed.returncode == 0, installed.stderr[-3000:]
    tested = run(commands["Test"], 300)
    # The shop's first test catches Flask-Compress; CI fails, and the trace is kept.
    assert tested.returncode == 1, tested.stdout[-3000:]
    assert "1 failed, 1 passed" in tested.stdout
    traces = project / "streamkit-traces"
    saved = sorted(path.suffix for path in traces.iterdir())
    assert saved == [".json", ".svg"], saved
    assert Trace.load(next(traces.glob("*.json"))).verdict != "streamed"
