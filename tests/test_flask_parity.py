"""The same streaming code, run on streamkit and on Flask, side by side.

Each scenario is written once against a "kit" (the flask module or the streamkit package,
which share the names used here) and run on both. Where the two should agree, the test asserts
equality. Where streamkit deliberately does better, the test asserts streamkit's behaviour and
measures Flask's. For Flask versions whose behaviour was measured by hand (see NOTES) the
Flask value is asserted too, so a change in Flask shows up here; for other versions it is only
reported. Every result lands in the "streamkit vs Flask" table at the end of the test run.
"""

from __future__ import annotations

import time
from importlib.metadata import version
from types import SimpleNamespace

import pytest
from werkzeug.test import EnvironBuilder

import streamkit
from tests.conftest import Closable, assert_streamed

flask = pytest.importorskip("flask")

FLASK_VERSION = version("flask")

# Measured on Flask 3.1.3: a custom iterator closed twice when the client leaves early and never
# when the stream never started; teardown twice; request visible between yields; no buffering.
KNOWN_FLASK = {
    "3.1.3": {
        "close() calls, full read": 1,
        "close() calls, early close": 2,
        "close() calls, never started": 0,
        "teardown calls": 2,
        "teardown calls before the stream": 1,
        "request visible between yields": True,
        "stream_template has enable_buffering": False,
        "hooks: order of calls, streamed": ["before 1", "before 2", "view", "after 2", "after 1", "generator"],
        "hooks: headers set on a streamed response": ("a2 a1", "streamed"),
        "hooks: before_request answers": (403, b"stopped", "a2 a1", ["before 1", "after 2", "after 1"]),
        "hooks: 404 goes through after_request": (404, "a2 a1"),
        "hooks: after_request returns None": 500,
        "hooks: a view that raises": (500, "a2 a1"),
    }
}

KITS = {
    "streamkit": SimpleNamespace(
        make_app=streamkit.App,
        Response=streamkit.Response,
        request=streamkit.request,
        stream_with_context=streamkit.stream_with_context,
        stream_template_string=streamkit.stream_template_string,
    ),
    "flask": SimpleNamespace(
        make_app=flask.Flask,
        Response=flask.Response,
        request=flask.request,
        stream_with_context=flask.stream_with_context,
        stream_template_string=flask.stream_template_string,
    ),
}


def compare(parity_rows, scenario: str, ours, theirs) -> None:
    """Record a row for the summary table and check Flask against what was measured for it."""
    parity_rows.append((scenario, repr(ours), repr(theirs)))
    known = KNOWN_FLASK.get(FLASK_VERSION, {})
    if scenario in known:
        assert theirs == known[scenario], f"Flask {FLASK_VERSION} changed: {scenario}"


def start_stream(app, path: str):
    environ = EnvironBuilder(path).get_environ()
    return app(environ, lambda status, headers, exc_info=None: None)


def pattern_app(kit):
    """The pattern's code, written once; only the names come from the kit."""
    app = kit.make_app(__name__)
    app.events = []
    app.closables = []

    @app.teardown_request
    def teardown(error):
        app.events.append("teardown")

    @app.route("/args")
    def args():
        def generate():
            yield "Hello "
            yield kit.request.args["name"]
            yield "!"

        return kit.Response(kit.stream_with_context(generate()))

    @app.route("/decorated")
    def decorated():
        @kit.stream_with_context
        def generate(punctuation):
            yield "Hello "
            yield kit.request.args["name"]
            yield punctuation

        return kit.Response(generate("?"))

    @app.route("/plain")
    def plain():
        def generate():
            yield "Hello "
            yield kit.request.args["name"]

        return kit.Response(generate())

    @app.route("/closable")
    def closable():
        inner = Closable()
        app.closables.append(inner)
        return kit.Response(kit.stream_with_context(inner))

    @app.route("/escaped")
    def escaped():
        return kit.Response(kit.stream_template_string("<p>{{ v }}</p>", v="<script>"))

    return app


def run_both(scenario):
    return {name: scenario(KITS[name]) for name in sorted(KITS)}


def test_same_body_for_stream_with_context(parity_rows) -> None:
    def scenario(kit):
        client = pattern_app(kit).test_client()
        return client.get("/args?name=Ada").get_data(), client.get("/decorated?name=Ada").get_data()

    results = run_both(scenario)
    compare(parity_rows, "bodies (wrapper, decorator)", results["streamkit"], results["flask"])
    assert results["streamkit"] == results["flask"] == (b"Hello Ada!", b"Hello Ada?")


def test_same_runtime_error_without_stream_with_context(parity_rows) -> None:
    def scenario(kit):
        body = start_stream(pattern_app(kit), "/plain?name=Ada")
        with pytest.raises(RuntimeError) as info:
            list(body)
        body.close()
        return str(info.value).split("\n")[0]

    results = run_both(scenario)
    compare(parity_rows, "error without stream_with_context", results["streamkit"], results["flask"])
    assert results["streamkit"] == results["flask"] == "Working outside of request context."


def test_same_autoescape_in_streamed_templates(parity_rows) -> None:
    results = run_both(lambda kit: pattern_app(kit).test_client().get("/escaped").get_data())
    compare(parity_rows, "streamed template autoescape", results["streamkit"], results["flask"])
    assert results["streamkit"] == results["flask"] == b"<p>&lt;script&gt;</p>"


@pytest.mark.parametrize("how", ["full read", "early close", "never started"])
def test_close_runs_exactly_once(how: str, parity_rows) -> None:
    def scenario(kit):
        app = pattern_app(kit)
        body = start_stream(app, "/closable")
        iterator = iter(body)
        for _ in range({"full read": 4, "early close": 1, "never started": 0}[how]):
            next(iterator, None)
        body.close()
        return app.closables[0].closed

    results = run_both(scenario)
    compare(parity_rows, f"close() calls, {how}", results["streamkit"], results["flask"])
    assert results["streamkit"] == 1


def test_teardown_runs_once_after_the_stream(parity_rows) -> None:
    def scenario(kit):
        app = pattern_app(kit)
        body = start_stream(app, "/args?name=Ada")
        torn_down_before_stream = len(app.events)
        list(body)
        body.close()
        return torn_down_before_stream, len(app.events)

    results = run_both(scenario)
    compare(parity_rows, "teardown calls", results["streamkit"][1], results["flask"][1])
    compare(parity_rows, "teardown calls before the stream", results["streamkit"][0], results["flask"][0])
    assert results["streamkit"] == (0, 1)


def test_request_hidden_between_yields(parity_rows) -> None:
    def scenario(kit):
        body = start_stream(pattern_app(kit), "/args?name=Ada")
        iterator = iter(body)
        next(iterator)
        try:
            kit.request.path  # noqa: B018
            visible = True
        except RuntimeError:
            visible = False
        list(iterator)
        body.close()
        return visible

    results = run_both(scenario)
    compare(parity_rows, "request visible between yields", results["streamkit"], results["flask"])
    assert results["streamkit"] is False


def test_stream_template_keeps_enable_buffering(parity_rows) -> None:
    source = "<ul>{% for r in rows %}<li>{{ r }}</li>{% endfor %}</ul>"

    def scenario(kit):
        app = kit.make_app(__name__)
        with app.test_request_context("/"):
            stream = kit.stream_template_string(source, rows=range(10))
            has_it = hasattr(stream, "enable_buffering")
            if has_it:
                stream.enable_buffering(5)
            return has_it, len(list(stream))

    results = run_both(scenario)
    compare(parity_rows, "stream_template has enable_buffering", results["streamkit"][0], results["flask"][0])
    compare(parity_rows, "items after enable_buffering(5)", results["streamkit"][1], results["flask"][1])
    assert results["streamkit"] == (True, 7)


# -- before_request and after_request, served for real -------------------------------------


def hooks_app(kit):
    """Two before_request and two after_request functions around a slow streamed view."""
    app = kit.make_app(__name__)
    app.calls = []

    @app.before_request
    def before_1():
        app.calls.append("before 1")
        if kit.request.args.get("stop"):
            return "stopped", 403
        return None

    @app.before_request
    def before_2():
        app.calls.append("before 2")

    @app.after_request
    def after_1(response):
        app.calls.append("after 1")
        response.headers["X-Order"] = response.headers.get("X-Order", "") + " a1"
        return response

    @app.after_request
    def after_2(response):
        app.calls.append("after 2")
        response.headers["X-Order"] = "a2"
        if kit.request.args.get("forget"):
            return None
        return response

    @app.route("/boom")
    def boom():
        raise ValueError("boom")

    @app.route("/parts")
    def parts():
        app.calls.append("view")

        def generate():
            app.calls.append("generator")
            for n in range(5):
                yield f"part {n}\n"
                time.sleep(0.15)

        return kit.Response(generate(), mimetype="text/plain")

    return app


def serve_both(scenario):
    """Run ``scenario(kit, server)`` with the hooks app of each kit served by serve()."""
    results = {}
    for name in sorted(KITS):
        kit = KITS[name]
        app = hooks_app(kit)
        server = streamkit.serve(app, name=f"parity-hooks-{name}")
        try:
            results[name] = scenario(app, server)
        finally:
            server.stop()
    return results


def test_hooks_run_around_the_view_before_the_body(parity_rows) -> None:
    def scenario(app, server):
        trace = server.get("/parts")
        assert_streamed(trace)
        return app.calls, trace.headers.get("X-Order"), trace.verdict

    results = serve_both(scenario)
    compare(parity_rows, "hooks: order of calls, streamed", results["streamkit"][0], results["flask"][0])
    compare(
        parity_rows,
        "hooks: headers set on a streamed response",
        results["streamkit"][1:],
        results["flask"][1:],
    )
    assert results["streamkit"] == (
        ["before 1", "before 2", "view", "after 2", "after 1", "generator"],
        "a2 a1",
        "streamed",
    )


def test_before_request_can_answer(parity_rows) -> None:
    def scenario(app, server):
        trace = server.get("/parts?stop=1")
        return trace.status, trace.body, trace.headers.get("X-Order"), app.calls

    results = serve_both(scenario)
    compare(parity_rows, "hooks: before_request answers", results["streamkit"], results["flask"])
    assert results["streamkit"] == (403, b"stopped", "a2 a1", ["before 1", "after 2", "after 1"])


def test_after_request_runs_on_not_found(parity_rows) -> None:
    def scenario(app, server):
        trace = server.get("/nowhere")
        return trace.status, trace.headers.get("X-Order")

    results = serve_both(scenario)
    compare(parity_rows, "hooks: 404 goes through after_request", results["streamkit"], results["flask"])
    assert results["streamkit"] == (404, "a2 a1")


def test_after_request_must_return_the_response(parity_rows) -> None:
    def scenario(app, server):
        trace = server.get("/parts?forget=1")
        return trace.status, server.errors

    results = serve_both(scenario)
    compare(parity_rows, "hooks: after_request returns None", results["streamkit"][0], results["flask"][0])
    status, errors = results["streamkit"]
    assert status == 500
    assert "after_request function 'after_2' returned None" in str(errors[-1])


def test_after_request_and_a_view_that_raises(parity_rows) -> None:
    # streamkit hands the exception to the server (it answers 500 and keeps it in
    # server.errors); Flask turns it into its own 500 page, which goes through after_request.
    def scenario(app, server):
        trace = server.get("/boom")
        return trace.status, trace.headers.get("X-Order")

    results = serve_both(scenario)
    compare(parity_rows, "hooks: a view that raises", results["streamkit"], results["flask"])
    assert results["streamkit"] == (500, None)
