"""The core: the three streaming techniques through werkzeug's test client."""

from __future__ import annotations

import pytest
from jinja2 import TemplateNotFound
from werkzeug.test import EnvironBuilder, TestResponse

import streamkit
from streamkit import (
    App,
    Response,
    request,
    stream_template_string,
    stream_with_context,
)
from streamkit.context import current_context
from tests.conftest import Closable

LIST_TEMPLATE = "<ul>{% for r in rows %}<li>{{ r }}</li>{% endfor %}</ul>"


def body_items(response: TestResponse) -> list[bytes]:
    """Every item of a streamed test response, one list entry per item the app yielded."""
    try:
        return list(response.response)
    finally:
        response.close()


def start_stream(app: App, path: str):
    """Call the WSGI app directly and return its body iterable, not yet iterated.

    werkzeug's test client always pulls the first item before it returns, so a stream that
    is never started can only be seen this way.
    """
    environ = EnvironBuilder(path).get_environ()
    return app(environ, lambda status, headers, exc_info=None: None)


# -- technique 1: a generator handed to a Response -------------------------------------


def test_each_yield_is_one_item() -> None:
    app = App(__name__)

    @app.route("/count")
    def count():
        def generate():
            for n in range(1000):
                yield f"{n}\n"

        return Response(generate(), mimetype="text/plain")

    response = app.test_client().get("/count")
    items = body_items(response)
    assert len(items) == 1000
    assert items[0] == b"0\n" and items[-1] == b"999\n"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_str_items_are_utf8() -> None:
    app = App(__name__)

    @app.route("/")
    def index():
        return Response(iter(["grüße ", "→ ", b"raw"]), mimetype="text/plain")

    assert body_items(app.test_client().get("/")) == ["grüße ".encode(), "→ ".encode(), b"raw"]


@pytest.mark.parametrize(
    "value, expected",
    [("text", b"text"), (b"bytes", b"bytes"), (iter(["a", "b"]), b"ab")],
    ids=["str", "bytes", "iterator"],
)
def test_views_may_return_str_bytes_or_iterators(value, expected) -> None:
    app = App(__name__)
    app.add_url_rule("/", view_func=lambda: value, endpoint="index")
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert response.get_data() == expected


def test_tuple_return_sets_status_and_headers() -> None:
    app = App(__name__)

    @app.route("/")
    def index():
        return "nope", 400, {"X-Why": "missing name"}

    response = app.test_client().get("/")
    assert response.status_code == 400 and response.headers["X-Why"] == "missing name"


def test_body_and_headers_tuple_as_in_flask() -> None:
    app = App(__name__)

    @app.route("/")
    def index():
        return iter(["a,b\n", "1,2\n"]), {"Content-Type": "text/csv"}

    response = app.test_client().get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv"
    assert response.get_data() == b"a,b\n1,2\n"


def test_unknown_url_is_404_and_wrong_method_405() -> None:
    app = App(__name__)

    @app.route("/only-post", methods=["POST"])
    def only_post():
        return "ok"

    client = app.test_client()
    assert client.get("/missing").status_code == 404
    assert client.get("/only-post").status_code == 405
    assert client.post("/only-post").get_data() == b"ok"


def test_url_variables_reach_the_view() -> None:
    app = App(__name__)

    @app.route("/rows/<int:n>")
    def rows(n):
        return Response(f"{i}," for i in range(n))

    assert app.test_client().get("/rows/3").get_data() == b"0,1,2,"


def test_view_returning_unsupported_type_names_the_view() -> None:
    app = App(__name__)

    @app.route("/")
    def answer():
        return 42

    with pytest.raises(TypeError, match=r"'answer' returned int"):
        app.test_client().get("/")


def test_before_request_answer_of_a_wrong_type_names_the_function() -> None:
    app = App(__name__)
    app.add_url_rule("/", "index", lambda: "index")

    @app.before_request
    def gatekeeper():
        return 42

    with pytest.raises(TypeError, match=r"The before_request function 'gatekeeper' returned int"):
        app.test_client().get("/")


def test_hooks_see_the_request_and_a_stream_not_yet_started() -> None:
    app = App(__name__)
    seen = []

    @app.route("/")
    def index():
        def generate():
            seen.append("generator")
            yield "body"

        return Response(generate())

    @app.before_request
    def before():
        seen.append(("before", streamkit.request.path))

    @app.after_request
    def after(response):
        seen.append(("after", streamkit.request.path, response.is_streamed))
        return response

    body = start_stream(app, "/")
    assert seen == [("before", "/"), ("after", "/", True)]
    assert list(body) == [b"body"] and seen[-1] == "generator"
    body.close()


def test_non_text_item_in_stream_names_the_type() -> None:
    app = App(__name__)

    @app.route("/")
    def index():
        return Response(iter(["fine", {"not": "text"}]))

    response = app.test_client().get("/")
    with pytest.raises(TypeError, match=r"must be str or bytes.*dict"):
        body_items(response)


def test_duplicate_endpoint_is_refused() -> None:
    app = App(__name__)
    app.add_url_rule("/a", "same", lambda: "a")
    with pytest.raises(ValueError, match="endpoint 'same'"):
        app.add_url_rule("/b", "same", lambda: "b")


# -- technique 3: stream_with_context ---------------------------------------------------


def make_args_app() -> App:
    app = App(__name__)

    @app.route("/wrapped")
    def wrapped():
        def generate():
            yield "hello "
            yield request.args["name"]

        return Response(stream_with_context(generate()))

    @app.route("/decorated")
    def decorated():
        @stream_with_context
        def generate(greeting, punctuation="!"):
            yield greeting
            yield request.args["name"]
            yield punctuation

        return Response(generate("hi ", punctuation="?"))

    @app.route("/plain")
    def plain():
        def generate():
            yield "hello "
            yield request.args["name"]

        return Response(generate())

    return app


def test_wrapped_generator_reads_request_args() -> None:
    items = body_items(make_args_app().test_client().get("/wrapped?name=Ada"))
    assert items == [b"hello ", b"Ada"]


def test_decorator_form_passes_arguments() -> None:
    items = body_items(make_args_app().test_client().get("/decorated?name=Ada"))
    assert items == [b"hi ", b"Ada", b"?"]


def test_without_stream_with_context_request_raises() -> None:
    response = make_args_app().test_client().get("/plain?name=Ada")
    iterator = iter(response.response)
    assert next(iterator) == b"hello "  # the first item needs no request
    with pytest.raises(RuntimeError) as info:
        next(iterator)
    message = str(info.value)
    assert message.startswith("Working outside of request context.")
    assert "stream_with_context" in message and "after the view" in message
    response.close()


def test_request_outside_any_request_raises() -> None:
    with pytest.raises(RuntimeError, match=r"^Working outside of request context\."):
        request.args  # noqa: B018 - the access itself is the test


def test_wrapping_without_a_request_raises_at_once() -> None:
    with pytest.raises(RuntimeError, match="stream_with_context"):
        stream_with_context(iter(["x"]))

    @stream_with_context
    def generate():
        yield "x"

    with pytest.raises(RuntimeError, match="no request active"):
        generate()


def test_request_is_not_visible_between_yields() -> None:
    app = App(__name__)
    seen_inside = []

    @app.route("/")
    def index():
        def generate():
            for n in range(3):
                seen_inside.append(request.path)
                yield str(n)

        return Response(stream_with_context(generate()))

    response = app.test_client().get("/")
    iterator = iter(response.response)
    for _ in range(3):
        next(iterator)
        assert current_context() is None
        with pytest.raises(RuntimeError):
            request.path  # noqa: B018
    response.close()
    assert seen_inside == ["/", "/", "/"]


def close_count_app(make_inner) -> tuple[App, list]:
    """An app whose /stream wraps whatever make_inner() builds; returns (app, built)."""
    app = App(__name__)
    built = []

    @app.route("/stream")
    def stream():
        inner = make_inner()
        built.append(inner)
        return Response(stream_with_context(inner))

    return app, built


def counting_generator(counter: list[int]):
    try:
        for n in range(3):
            yield str(n)
    finally:
        counter[0] += 1


@pytest.mark.parametrize("how", ["full read", "early close", "never started"])
def test_generator_cleanup_runs_once(how: str) -> None:
    finally_runs = [0]
    app, _ = close_count_app(lambda: counting_generator(finally_runs))
    body = start_stream(app, "/stream")
    read = {"full read": 3, "early close": 1, "never started": 0}[how]
    iterator = iter(body)
    for _ in range(read):
        next(iterator)
    if how == "full read":
        with pytest.raises(StopIteration):
            next(iterator)
    body.close()
    body.close()  # a second close must change nothing
    # A generator closed before it started never enters its try block: nothing to run.
    assert finally_runs[0] == (0 if how == "never started" else 1)


@pytest.mark.parametrize("how", ["full read", "early close", "never started"])
def test_custom_iterator_close_runs_once(how: str) -> None:
    app, built = close_count_app(lambda: Closable(["a", "b", "c"]))
    body = start_stream(app, "/stream")
    iterator = iter(body)
    for _ in range({"full read": 4, "early close": 1, "never started": 0}[how]):
        next(iterator, None)
    body.close()
    body.close()
    assert built[0].closed == 1


def test_teardown_runs_once_after_the_stream() -> None:
    app = App(__name__)
    events: list[str] = []

    @app.teardown_request
    def teardown(error):
        events.append(f"teardown error={error!r} path={request.path}")

    @app.route("/")
    def index():
        def generate():
            events.append("generator start")
            yield "a"
            yield "b"
            events.append("generator end")

        events.append("view returns")
        return Response(stream_with_context(generate()))

    body = start_stream(app, "/")
    assert events == ["view returns"]  # not torn down when the view returns
    assert list(body) == [b"a", b"b"]
    assert events[-1] == "generator end"  # the stream is over, the response not yet closed
    body.close()
    assert events == [
        "view returns",
        "generator start",
        "generator end",
        "teardown error=None path=/",
    ]


def test_teardown_gets_the_error_that_broke_the_stream() -> None:
    app = App(__name__)
    errors: list[BaseException | None] = []
    app.teardown_request(errors.append)

    @app.route("/")
    def index():
        def generate():
            yield "a"
            raise ValueError("row 2 is bad")

        return Response(stream_with_context(generate()))

    response = app.test_client().get("/")
    with pytest.raises(ValueError):
        body_items(response)
    assert len(errors) == 1 and isinstance(errors[0], ValueError)


def test_teardown_runs_when_the_view_raises() -> None:
    app = App(__name__)
    errors: list[BaseException | None] = []
    app.teardown_request(errors.append)

    @app.route("/")
    def index():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        app.test_client().get("/")
    assert len(errors) == 1 and isinstance(errors[0], KeyError)


def test_test_request_context_makes_request_available() -> None:
    app = App(__name__)
    torn_down = []
    app.teardown_request(torn_down.append)
    with app.test_request_context("/search?q=tea"):
        assert request.args["q"] == "tea"
        stream = stream_with_context(iter(["x"]))
    assert list(stream) == ["x"]
    assert torn_down == [None]


# -- technique 2: streamed templates -----------------------------------------------------


def template_app() -> App:
    app = App(__name__)

    @app.context_processor
    def site():
        return {"site": "streamkit", "title": "from the processor"}

    @app.route("/list")
    def listing():
        size = int(request.args.get("buffer", "0"))
        stream = stream_template_string(LIST_TEMPLATE, rows=range(10))
        if size:
            stream.enable_buffering(size)
        return Response(stream)

    @app.route("/title")
    def title():
        return Response(stream_template_string("{{ title }}|{{ site }}|{{ request.path }}", title="passed"))

    @app.route("/echo")
    def echo():
        return Response(stream_template_string("<p>{{ request.args['name'] }}</p>"))

    return app


def test_template_streams_part_by_part() -> None:
    items = body_items(template_app().test_client().get("/list"))
    assert len(items) == 32
    assert b"".join(items) == b"<ul>" + b"".join(f"<li>{n}</li>".encode() for n in range(10)) + b"</ul>"


def test_enable_buffering_5_groups_32_parts_into_7_items() -> None:
    items = body_items(template_app().test_client().get("/list?buffer=5"))
    assert len(items) == 7
    assert items[0] == b"<ul><li>0</li><li>"  # five parts: <ul> <li> 0 </li> <li>
    assert b"".join(items).endswith(b"<li>9</li></ul>")


def test_enable_buffering_matches_jinja2() -> None:
    """Our grouping gives the same items as Jinja2's own TemplateStream."""
    from jinja2 import Environment

    for size in (2, 3, 5, 7, 50):
        theirs = Environment().from_string(LIST_TEMPLATE).stream(rows=range(10))
        theirs.enable_buffering(size)
        ours = body_items(template_app().test_client().get(f"/list?buffer={size}"))
        assert ours == [item.encode() for item in theirs], size


def test_enable_buffering_refuses_sizes_below_two() -> None:
    app = template_app()
    with app.test_request_context("/"):
        stream = stream_template_string(LIST_TEMPLATE, rows=[])
        for size in (1, 0, -3):
            with pytest.raises(ValueError, match="size of 2 or more"):
                stream.enable_buffering(size)
        stream.close()


def test_passed_values_beat_context_processors() -> None:
    body = template_app().test_client().get("/title").get_data()
    assert body == b"passed|streamkit|/title"


def test_update_template_context_adds_request_and_keeps_passed_values() -> None:
    app = template_app()
    with app.test_request_context("/x"):
        context = {"site": "mine"}
        app.update_template_context(context)
        assert context["site"] == "mine"
        assert context["title"] == "from the processor"
        assert context["request"].path == "/x"


def test_streamed_values_are_autoescaped() -> None:
    body = template_app().test_client().get("/echo?name=<script>alert(1)</script>").get_data()
    assert body == b"<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"


def test_stream_template_from_the_template_folder(tmp_path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "hello.html").write_text("<b>{{ name }}</b>")
    (folder / "hello.txt").write_text("<b>{{ name }}</b>")
    app = App(__name__, template_folder=str(folder))

    @app.route("/<ext>")
    def hello(ext):
        return Response(streamkit.stream_template(f"hello.{ext}", name="<i>"))

    client = app.test_client()
    assert client.get("/html").get_data() == b"<b>&lt;i&gt;</b>"  # .html: escaped
    assert client.get("/txt").get_data() == b"<b><i></b>"  # .txt: not escaped


def test_missing_template_raises_before_streaming() -> None:
    app = App(__name__)

    @app.route("/")
    def index():
        return Response(streamkit.stream_template("nowhere.html"))

    with pytest.raises(TemplateNotFound):
        app.test_client().get("/")


def test_stream_template_keeps_request_while_streaming() -> None:
    app = App(__name__)
    closed = []

    @app.teardown_request
    def teardown(error):
        closed.append("teardown")

    @app.route("/")
    def index():
        stream = stream_template_string("{% for n in range(3) %}{{ request.args['who'] }}{% endfor %}")
        stream.enable_buffering(2)
        return Response(stream)

    response = app.test_client().get("/?who=me")
    assert body_items(response) == [b"meme", b"me"]
    assert closed == ["teardown"]


def test_stream_template_needs_a_request() -> None:
    with pytest.raises(RuntimeError, match="need an active request"):
        stream_template_string("x")


def test_render_template_string_renders_whole_page() -> None:
    app = App(__name__)

    @app.route("/")
    def index():
        return streamkit.render_template_string("{{ a }}-{{ request.path }}", a="<x>")

    assert app.test_client().get("/").get_data() == b"&lt;x&gt;-/"
