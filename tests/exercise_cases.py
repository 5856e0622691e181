"""Typical wrong answers to every exercise, as data: the learner's code and what the check must say.

Each :class:`Row` is one mistake a learner makes (the learner review's, and more). Its ``code``
is what the learner would type in the exercise cell: it runs in a namespace holding the
lesson's module as ``ex`` (and the lesson's ``SETUP``, for lesson 00's ``server``), and must
define the exercise's answer name, unless ``answer`` gives an expression to pass instead (such
as ``countdown()``, the Response rather than the function). ``words`` must all appear in the
check's message, so that the message names the actual mistake.

tests/test_exercises.py runs every row: each must be judged "wrong" (never "correct", never
"not attempted") within the time a check may take.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Row:
    exercise: str  # "05.1"
    mistake: str  # what the learner did, in a few words (the test id)
    code: str
    words: tuple[str, ...]
    answer: str | None = None  # an expression to check instead of the answer name
    slow: bool = field(default=False)  # a row that runs into a check's time limit on purpose


# Lesson 10's views share this: chunk(delta, finish) is one event, events() yields a right stream's
# events, as text.
CHAT = """import json
from streamkit import Response
def chunk(delta, finish=None):
    body = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\\n\\n"
def events():
    yield chunk({"role": "assistant", "content": ""})
    for token in ex.model_tokens():
        yield chunk({"content": token})
    yield chunk({}, "stop")
    yield "data: [DONE]\\n\\n"
"""


def timing_middleware(header: str, body: str = "app(environ, start)") -> str:
    """Lesson 11's middleware as a learner writes it: ``header`` added in its own start_response,
    ``body`` returned (both as source)."""
    return f"""def server_timing_fixed(app):
    def middleware(environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, {header}], exc_info)
        return {body}
    return middleware"""


ROWS = [
    # -- 00.1 your own trace ------------------------------------------------------------
    Row("00.1", "no query string", 'my_trace = server.get("/count")', ("?n=3",)),
    Row("00.1", "a number", "my_trace = 3", ("an int", "my_trace = server.get")),
    Row("00.1", "the method itself", "my_trace = server.get", ("a method", "not called")),
    Row("00.1", "the body", 'my_trace = server.get("/count?n=3").body', ("a bytes", "store the result")),
    Row("00.1", "another path", 'my_trace = server.get("/nothing?n=3")', ("/nothing", "not of /count")),
    Row("00.1", "n=5", 'my_trace = server.get("/count?n=5")', ("?n=3",)),
    # -- 00.2 a first stream --------------------------------------------------------------
    Row(
        "00.2",
        "one joined string",
        'def countdown():\n    return "3\\n2\\n1\\nliftoff!\\n"',
        ("1 item", "Yield each line"),
    ),
    Row(
        "00.2",
        "a list, no pause",
        'from streamkit import Response\ndef countdown():\n    return Response(["3\\n", "2\\n", "1\\n", "liftoff!\\n"])',
        ("4 items", "time.sleep(0.1)"),
    ),
    Row(
        "00.2",
        "a generator, no pause",
        "from streamkit import Response\n"
        "def countdown():\n"
        "    def lines():\n"
        '        yield from ["3\\n", "2\\n", "1\\n", "liftoff!\\n"]\n'
        '    return Response(lines(), mimetype="text/plain")',
        ("nothing made them wait", "time.sleep"),
    ),
    Row("00.2", "raises", "def countdown():\n    raise KeyError('oops')", ("KeyError", "countdown()")),
    Row(
        "00.2",
        "the Response passed, not the function",
        "import time\nfrom streamkit import Response\n"
        "def countdown():\n"
        "    def lines():\n"
        '        for line in ["3\\n", "2\\n", "1\\n", "liftoff!\\n"]:\n'
        "            yield line\n"
        "            time.sleep(0.1)\n"
        '    return Response(lines(), mimetype="text/plain")',
        ("You passed what countdown() returned", "check(countdown)"),
        answer="countdown()",
    ),
    Row(
        "00.2",
        "forgot return",
        "from streamkit import Response\n"
        "def countdown():\n"
        '    Response(iter(["3\\n"]), mimetype="text/plain")',
        ("returned None", "return Response"),
    ),
    Row(
        "00.2",
        "print instead of return",
        'def countdown():\n    print("3\\n2\\n1\\nliftoff!")',
        ("returned None", "prints"),
    ),
    Row(
        "00.2",
        "wrong words",
        "import time\nfrom streamkit import Response\n"
        "def countdown():\n"
        "    def lines():\n"
        '        for line in ["3\\n", "2\\n", "1\\n", "go!\\n"]:\n'
        "            yield line\n"
        "            time.sleep(0.1)\n"
        "    return Response(lines())",
        ("should be", "liftoff"),
    ),
    Row(
        "00.2",
        "a stream that never ends",
        "import time\nfrom streamkit import Response\n"
        "def countdown():\n"
        "    def lines():\n"
        "        while True:\n"
        '            yield "3\\n"\n'
        "            time.sleep(0.1)\n"
        '    return Response(lines(), mimetype="text/plain")',
        ("had not ended after 8 s", "Give the stream an end"),
        slow=True,
    ),
    Row(
        "00.2",
        "an endless loop in the view",
        "def countdown():\n    n = 3\n    while n > 0:\n        line = f'{n}\\n'",
        ("countdown() did not return within", "loop"),
        slow=True,
    ),
    # -- 01.1 yield as you go -------------------------------------------------------------
    Row(
        "01.1",
        "one joined yield",
        "def csv_lines(rows):\n"
        '    lines = ["id,name,score\\n"] + [f"{i},{n},{s}\\n" for i, n, s in rows]\n'
        '    yield "".join(lines)',
        ("as soon as",),
    ),
    Row(
        "01.1",
        "list(rows) first",
        "def csv_lines(rows):\n"
        "    rows = list(rows)\n"
        '    yield "id,name,score\\n"\n'
        "    for i, n, s in rows:\n"
        '        yield f"{i},{n},{s}\\n"',
        ("list(rows)", "inside that loop"),
    ),
    Row(
        "01.1",
        "returns one string",
        "def csv_lines(rows):\n"
        '    return "id,name,score\\n" + "".join(f"{i},{n},{s}\\n" for i, n, s in rows)',
        ("one string", "generator"),
    ),
    Row(
        "01.1",
        "returns a list",
        'def csv_lines(rows):\n    return ["id,name,score\\n"] + [f"{i},{n},{s}\\n" for i, n, s in rows]',
        ("a list", "generator"),
    ),
    Row(
        "01.1",
        "returns a Response",
        "from streamkit import Response\n"
        "def csv_lines(rows):\n"
        '    return Response(f"{i},{n},{s}\\n" for i, n, s in rows)',
        ("a Response", "not a view"),
    ),
    Row(
        "01.1",
        "no header",
        'def csv_lines(rows):\n    for i, n, s in rows:\n        yield f"{i},{n},{s}\\n"',
        ("line 1", "id,name,score"),
    ),
    Row(
        "01.1",
        "no newline",
        'def csv_lines(rows):\n    yield "id,name,score"\n    for i, n, s in rows:\n        yield f"{i},{n},{s}"',
        ("CSV is not right",),
    ),
    Row(
        "01.1",
        "forgot yield: returns None",
        "def csv_lines(rows):\n    for row in rows:\n        str(row)",
        ("returned None",),
    ),
    # -- 01.2 stream the report -------------------------------------------------------------
    Row(
        "01.2",
        "a finished string",
        "from streamkit import Response\nfrom streamkit.exercises import lesson01\n"
        "def report_streamed():\n"
        '    return Response(lesson01.csv_text(lesson01.slow_rows()), mimetype="text/csv")',
        ("one go",),
    ),
    Row(
        "01.2",
        "no mimetype",
        "from streamkit import Response\nfrom streamkit.exercises.lesson01 import slow_rows\n"
        "def report_streamed():\n"
        "    def lines():\n"
        '        yield "id,name,score\\n"\n'
        "        for i, n, s in slow_rows():\n"
        '            yield f"{i},{n},{s}\\n"\n'
        "    return Response(lines())",
        ("text/html", 'mimetype="text/csv"'),
    ),
    Row(
        "01.2",
        "a list of lines",
        "from streamkit import Response\nfrom streamkit.exercises.lesson01 import slow_rows\n"
        "def report_streamed():\n"
        '    lines = ["id,name,score\\n"] + [f"{i},{n},{s}\\n" for i, n, s in slow_rows()]\n'
        '    return Response(lines, mimetype="text/csv")',
        ("one go",),
    ),
    Row(
        "01.2",
        "wrong header row",
        "from streamkit import Response\nfrom streamkit.exercises.lesson01 import slow_rows\n"
        "def report_streamed():\n"
        "    def lines():\n"
        '        yield "id;name;score\\n"\n'
        "        for i, n, s in slow_rows():\n"
        '            yield f"{i},{n},{s}\\n"\n'
        '    return Response(lines(), mimetype="text/csv")',
        ("differs", "line 1"),
    ),
    Row(
        "01.2",
        "the rows all read first",
        "from streamkit import Response\nfrom streamkit.exercises.lesson01 import slow_rows\n"
        "def report_streamed():\n"
        "    rows = list(slow_rows())\n"
        "    def lines():\n"
        '        yield "id,name,score\\n"\n'
        "        for i, n, s in rows:\n"
        '            yield f"{i},{n},{s}\\n"\n'
        '    return Response(lines(), mimetype="text/csv")',
        ("one go",),
    ),
    Row(
        "01.2",
        "forgot return",
        "from streamkit import Response\ndef report_streamed():\n    Response('x', mimetype='text/csv')",
        ("returned None",),
    ),
    # -- 01.3 read lines as they come -------------------------------------------------------
    Row(
        "01.3",
        "iter_lines",
        "import requests\n"
        "def lines_as_they_come(url):\n"
        "    with requests.get(url, stream=True) as response:\n"
        "        for line in response.iter_lines():\n"
        "            yield line.decode()",
        ("whole response", "iter_lines()", "read1"),
    ),
    Row(
        "01.3",
        ".text without stream=True",
        "import requests\n"
        "def lines_as_they_come(url):\n"
        "    text = requests.get(url).text\n"
        "    yield from text.splitlines()",
        ("whole response", "stream=True"),
    ),
    Row(
        "01.3",
        "bytes lines",
        "import requests\n"
        "def lines_as_they_come(url):\n"
        "    with requests.get(url, stream=True) as response:\n"
        '        tail = b""\n'
        "        while data := response.raw.read1(65536):\n"
        '            *done, tail = (tail + data).split(b"\\n")\n'
        "            yield from done",
        ("bytes", "decode"),
    ),
    Row(
        "01.3",
        "keeps its newline",
        "import requests\n"
        "def lines_as_they_come(url):\n"
        "    with requests.get(url, stream=True) as response:\n"
        "        while data := response.raw.read1(65536):\n"
        "            yield data.decode()",
        ("line end", "without its"),
    ),
    Row(
        "01.3",
        "returns a list",
        "import requests\ndef lines_as_they_come(url):\n    return requests.get(url).text.splitlines()",
        ("a list", "generator"),
    ),
    Row(
        "01.3",
        "waits forever",
        "import time\ndef lines_as_they_come(url):\n    while True:\n        time.sleep(0.05)",
        ("did not return within", "lines_as_they_come"),
        slow=True,
    ),
    # -- 02.1 groups of five ----------------------------------------------------------------
    Row(
        "02.1",
        "rendered",
        "from streamkit import Response, render_template_string\n"
        "def menu():\n    return Response(render_template_string(ex.MENU, dishes=ex.DISHES))",
        ("stream_template_string",),
    ),
    Row(
        "02.1",
        "chained enable_buffering",
        "from streamkit import Response, stream_template_string\n"
        "def menu():\n"
        "    return Response(stream_template_string(ex.MENU, dishes=ex.DISHES).enable_buffering(5))",
        ("returns None",),
    ),
    Row(
        "02.1",
        "no grouping",
        "from streamkit import Response, stream_template_string\n"
        "def menu():\n    return Response(stream_template_string(ex.MENU, dishes=ex.DISHES))",
        ("32 pieces", "enable_buffering(5)"),
    ),
    Row(
        "02.1",
        "groups of three",
        "from streamkit import Response, stream_template_string\n"
        "def menu():\n"
        "    stream = stream_template_string(ex.MENU, dishes=ex.DISHES)\n"
        "    stream.enable_buffering(3)\n"
        "    return Response(stream)",
        ("11 pieces", "7 pieces"),
    ),
    Row(
        "02.1",
        "fewer dishes",
        "from streamkit import Response, stream_template_string\n"
        "def menu():\n"
        "    stream = stream_template_string(ex.MENU, dishes=ex.DISHES[:3])\n"
        "    stream.enable_buffering(5)\n"
        "    return Response(stream)",
        ("The page should be",),
    ),
    Row(
        "02.1",
        "forgot return",
        "from streamkit import Response, stream_template_string\n"
        "def menu():\n    stream = stream_template_string(ex.MENU, dishes=ex.DISHES)\n    stream.enable_buffering(5)",
        ("returned None",),
    ),
    # -- 02.2 predict the chunks ------------------------------------------------------------
    Row("02.2", "too few", "prediction = 4", ("too few",)),
    Row("02.2", "the parts, not the chunks", "prediction = 14", ("too many",)),
    Row("02.2", "a string", 'prediction = "5"', ("a number", "without quotes")),
    Row("02.2", "a float", "prediction = 14 / 3", ("whole number", "a float")),
    Row("02.2", "a whole float", "prediction = 5.0", ("write 5",)),
    Row("02.2", "a list", "prediction = [3, 3, 3, 3, 2]", ("whole number", "a list")),
    # -- 02.3 a context processor -----------------------------------------------------------
    Row("02.3", "a list", 'def shop_context():\n    return ["Streamkit Café", "EUR"]', ("dict", "list")),
    Row(
        "02.3", "a key missing", 'def shop_context():\n    return {"shop": "Streamkit Café"}', ("'currency'",)
    ),
    Row(
        "02.3",
        "forgot return",
        'def shop_context():\n    {"shop": "Streamkit Café", "currency": "EUR"}',
        ("returned None", "forget return"),
    ),
    Row(
        "02.3",
        "print instead of return",
        'def shop_context():\n    print({"shop": "Streamkit Café", "currency": "EUR"})',
        ("returned None", "print"),
    ),
    Row(
        "02.3",
        "wrong values",
        'def shop_context():\n    return {"shop": "Streamkit", "currency": "USD"}',
        ("sign reads", "Streamkit: prices in USD"),
    ),
    Row(
        "02.3",
        "takes an argument",
        'def shop_context(context):\n    return {"shop": "Streamkit Café", "currency": "EUR"}',
        ("TypeError", "context"),
    ),
    # -- 03.1 keep the request ----------------------------------------------------------------
    Row(
        "03.1",
        "no stream_with_context",
        "from streamkit import Response, request\n"
        "def greet():\n"
        "    def generate():\n"
        '        yield "Hello, "\n'
        '        yield request.args["name"]\n'
        '        yield "!\\n"\n'
        '    return Response(generate(), mimetype="text/plain")',
        ("RuntimeError", "stream_with_context"),
    ),
    Row(
        "03.1",
        "read in the view instead",
        "import time\nfrom streamkit import Response, request\n"
        "def greet():\n"
        '    name = request.args["name"]\n'
        "    def generate():\n"
        '        yield "Hello, "\n'
        "        time.sleep(0.1)\n"
        "        yield name\n"
        '        yield "!\\n"\n'
        '    return Response(generate(), mimetype="text/plain")',
        ("read in the view", "stream_with_context"),
    ),
    Row(
        "03.1",
        "wrapped after the view (outside)",
        "from streamkit import Response, request, stream_with_context\n"
        "def generate():\n"
        '    yield "Hello, "\n'
        '    yield request.args["name"]\n'
        '    yield "!\\n"\n'
        "def greet():\n"
        '    return Response(generate(), mimetype="text/plain")',
        ("RuntimeError", "stream_with_context"),
    ),
    Row(
        "03.1",
        "one piece",
        "from streamkit import Response, request\n"
        'def greet():\n    return Response(f"Hello, {request.args[\'name\']}!\\n", mimetype="text/plain")',
        ("one piece",),
    ),
    Row(
        "03.1",
        "no newline",
        "from streamkit import Response, request, stream_with_context\n"
        "def greet():\n"
        "    def generate():\n"
        '        yield "Hello, "\n'
        '        yield request.args["name"]\n'
        '        yield "!"\n'
        '    return Response(stream_with_context(generate()), mimetype="text/plain")',
        ("should be",),
    ),
    # -- 03.2 when teardown runs ----------------------------------------------------------------
    Row(
        "03.2",
        "teardown when the view returns (Flask 3.1.3's first teardown)",
        'order = ["view returned", "teardown", "generator started", "generator finished"]',
        ("The first 1 step match", "teardown", "generator has finished"),
    ),
    Row("03.2", "only one", 'order = ["teardown"]', ("four",)),
    Row(
        "03.2",
        "generator first",
        'order = ["generator started", "view returned", "generator finished", "teardown"]',
        ("starts with 'generator started'", "returns before"),
    ),
    Row(
        "03.2",
        "teardown first",
        'order = ["teardown", "view returned", "generator started", "generator finished"]',
        ("starts with 'teardown'",),
    ),
    Row("03.2", "a string", 'order = "view returned, generator started"', ("a list",)),
    # -- 03.3 read before streaming ---------------------------------------------------------------
    Row(
        "03.3",
        "read in the generator, no wrapper",
        "from streamkit import Response, request\n"
        "def shout():\n"
        "    def letters():\n"
        '        for letter in request.headers["X-Name"].upper():\n'
        '            yield letter + "\\n"\n'
        '    return Response(letters(), mimetype="text/plain")',
        ("RuntimeError",),
    ),
    Row(
        "03.3",
        "read in a stream_with_context generator",
        "import time\nfrom streamkit import Response, request, stream_with_context\n"
        "def shout():\n"
        "    @stream_with_context\n"
        "    def letters():\n"
        '        for letter in request.headers["X-Name"].upper():\n'
        '            yield letter + "\\n"\n'
        "            time.sleep(0.05)\n"
        '    return Response(letters(), mimetype="text/plain")',
        ("read inside the generator", "in the view"),
    ),
    Row(
        "03.3",
        "lower case",
        "import time\nfrom streamkit import Response, request\n"
        "def shout():\n"
        '    name = request.headers["X-Name"]\n'
        "    def letters():\n"
        "        for letter in name:\n"
        '            yield letter + "\\n"\n'
        "            time.sleep(0.05)\n"
        '    return Response(letters(), mimetype="text/plain")',
        ("should be",),
    ),
    Row(
        "03.3",
        "all at once",
        "from streamkit import Response, request\n"
        "def shout():\n"
        '    name = request.headers["X-Name"]\n'
        '    return Response("".join(c + "\\n" for c in name.upper()), mimetype="text/plain")',
        ("together",),
    ),
    Row(
        "03.3",
        "wrong header name",
        "from streamkit import Response, request\n"
        "def shout():\n"
        '    name = request.headers["Name"]\n'
        '    return Response(iter([c + "\\n" for c in name.upper()]), mimetype="text/plain")',
        ("KeyError",),
    ),
    # -- 04.1 a middleware that does not buffer ----------------------------------------------------
    Row(
        "04.1",
        "joins the body",
        "def stamp(app):\n"
        "    def middleware(environ, start_response):\n"
        "        def start(status, headers, exc_info=None):\n"
        '            return start_response(status, headers + [("X-Stamp", "streamkit")], exc_info)\n'
        '        return [b"".join(app(environ, start))]\n'
        "    return middleware",
        ("buffered", "collected the body"),
    ),
    Row("04.1", "no header", "def stamp(app):\n    return app", ("X-Stamp",)),
    Row(
        "04.1",
        "header as one string",
        "def stamp(app):\n"
        "    def middleware(environ, start_response):\n"
        "        def start(status, headers, exc_info=None):\n"
        '            headers.append("X-Stamp: streamkit")\n'
        "            return start_response(status, headers, exc_info)\n"
        "        return app(environ, start)\n"
        "    return middleware",
        ("ValueError", "(name, value) pair"),
    ),
    Row(
        "04.1",
        "returns the middleware's result",
        "def stamp(app):\n"
        "    def middleware(environ, start_response):\n"
        "        return app(environ, start_response)\n"
        "    return middleware(None, None)",
        ("AttributeError", "in middleware()"),
    ),
    Row(
        "04.1",
        "forgot to return the middleware",
        "def stamp(app):\n    def middleware(environ, start_response):\n        return app(environ, start_response)",
        ("returned None",),
    ),
    Row(
        "04.1",
        "a list of chunks",
        "def stamp(app):\n"
        "    def middleware(environ, start_response):\n"
        "        def start(status, headers, exc_info=None):\n"
        '            return start_response(status, headers + [("X-Stamp", "streamkit")], exc_info)\n'
        "        return list(app(environ, start))\n"
        "    return middleware",
        ("buffered",),
    ),
    # -- 04.2 send the headers first ----------------------------------------------------------
    Row(
        "04.2",
        "the slow report as it is",
        "from streamkit import Response\n"
        'def slow_start():\n    return Response(ex.slow_report(), mimetype="text/plain")',
        ('yield b""',),
    ),
    Row(
        "04.2",
        "no text/plain",
        "from streamkit import Response\n"
        "def slow_start():\n"
        "    def body():\n"
        '        yield b""\n'
        "        yield from ex.slow_report()\n"
        "    return Response(body())",
        ("text/html", "text/plain"),
    ),
    Row(
        "04.2",
        "a space as the first item",
        "from streamkit import Response\n"
        "def slow_start():\n"
        "    def body():\n"
        '        yield " "\n'
        "        yield from ex.slow_report()\n"
        '    return Response(body(), mimetype="text/plain")',
        ("three rows",),
    ),
    Row(
        "04.2",
        "collected first",
        "from streamkit import Response\n"
        "def slow_start():\n"
        '    return Response("".join(ex.slow_report()), mimetype="text/plain")',
        ('yield b""',),
    ),
    Row(
        "04.2",
        "empty item after the slow one",
        "from streamkit import Response\n"
        "def slow_start():\n"
        "    def body():\n"
        "        rows = ex.slow_report()\n"
        "        first = next(rows)\n"
        '        yield b""\n'
        "        yield first\n"
        "        yield from rows\n"
        '    return Response(body(), mimetype="text/plain")',
        ('yield b""', "before the slow work"),
    ),
    # -- 04.3 validate before streaming ------------------------------------------------------------
    Row(
        "04.3",
        "validates in the generator",
        "from streamkit import Response, request\n"
        "def export():\n"
        '    raw = request.args.get("rows", "")\n'
        "    def generate():\n"
        "        for n in range(1, int(raw) + 1):\n"
        '            yield f"row {n}\\n"\n'
        '    return Response(generate(), mimetype="text/plain")',
        ("/?rows=abc got status 500", "ValueError", "in generate()", "abort(400)"),
    ),
    Row(
        "04.3",
        "validates after the first row",
        "from streamkit import Response, request\n"
        "def export():\n"
        "    def generate():\n"
        '        yield "row 1\\n"\n'
        '        rows = int(request.args.get("rows", ""))\n'
        "        for n in range(2, rows + 1):\n"
        '            yield f"row {n}\\n"\n'
        '    return Response(stream_with_context(generate()), mimetype="text/plain")\n'
        "from streamkit import stream_with_context",
        ("status 200 and then a broken stream", "abort(400)"),
    ),
    Row(
        "04.3",
        "off by one: 0 allowed",
        "from streamkit import Response, abort, request\n"
        "def export():\n"
        '    rows = request.args.get("rows", type=int)\n'
        "    if rows is None or not 0 <= rows <= 100:\n"
        "        abort(400)\n"
        "    def generate():\n"
        "        for n in range(1, rows + 1):\n"
        '            yield f"row {n}\\n"\n'
        '    return Response(generate(), mimetype="text/plain")',
        ("/?rows=0 got status 200", "0, which is below the range"),
    ),
    Row(
        "04.3",
        "off by one: 101 allowed",
        "from streamkit import Response, abort, request\n"
        "def export():\n"
        '    rows = request.args.get("rows", type=int)\n'
        "    if rows is None or not 1 <= rows <= 101:\n"
        "        abort(400)\n"
        "    def generate():\n"
        "        for n in range(1, rows + 1):\n"
        '            yield f"row {n}\\n"\n'
        '    return Response(generate(), mimetype="text/plain")',
        ("/?rows=101 got status 200", "above the range"),
    ),
    Row(
        "04.3",
        "int() raises: 500",
        "from streamkit import Response, abort, request\n"
        "def export():\n"
        '    rows = int(request.args.get("rows", "0"))\n'
        "    if not 1 <= rows <= 100:\n"
        "        abort(400)\n"
        "    def generate():\n"
        "        for n in range(1, rows + 1):\n"
        '            yield f"row {n}\\n"\n'
        '    return Response(generate(), mimetype="text/plain")',
        ("/?rows=abc got status 500", "ValueError"),
    ),
    Row(
        "04.3",
        "no check at all, missing rows",
        "from streamkit import Response, request\n"
        "def export():\n"
        '    rows = request.args.get("rows", 3, type=int)\n'
        "    def generate():\n"
        "        for n in range(1, rows + 1):\n"
        '            yield f"row {n}\\n"\n'
        '    return Response(generate(), mimetype="text/plain")',
        ("got status 200",),
    ),
    Row(
        "04.3",
        "rows together",
        "from streamkit import Response, abort, request\n"
        "def export():\n"
        '    rows = request.args.get("rows", type=int)\n'
        "    if rows is None or not 1 <= rows <= 100:\n"
        "        abort(400)\n"
        '    return Response("".join(f"row {n}\\n" for n in range(1, rows + 1)), mimetype="text/plain")',
        ("together",),
    ),
    # -- 05.1 batches -------------------------------------------------------------------------
    Row("05.1", "one per line", "def batches(lines, size):\n    yield from lines", ("10,500 chunks",)),
    Row(
        "05.1",
        "drops the rest",
        "def batches(lines, size):\n"
        "    batch = []\n"
        "    for line in lines:\n"
        "        batch.append(line)\n"
        "        if len(batch) == size:\n"
        '            yield "".join(batch)\n'
        "            batch = []",
        ("last 500 lines",),
    ),
    Row(
        "05.1",
        "list(lines) first",
        "def batches(lines, size):\n"
        "    lines = list(lines)\n"
        "    for start in range(0, len(lines), size):\n"
        '        yield "".join(lines[start:start + size])',
        ("had read 10,500 lines", "list(lines)"),
    ),
    Row(
        "05.1",
        "size + 1 lines per batch",
        "def batches(lines, size):\n"
        "    batch = []\n"
        "    for line in lines:\n"
        "        batch.append(line)\n"
        "        if len(batch) > size:\n"
        '            yield "".join(batch)\n'
        "            batch = []\n"
        "    if batch:\n"
        '        yield "".join(batch)',
        ("1,001", "exactly size"),
    ),
    Row(
        "05.1",
        "everything joined",
        'def batches(lines, size):\n    yield "".join(lines)',
        ("had read 10,500 lines",),
    ),
    Row(
        "05.1",
        "returns a list",
        "def batches(lines, size):\n"
        "    lines = list(lines)\n"
        '    return ["".join(lines[i:i + size]) for i in range(0, len(lines), size)]',
        ("a list", "generator"),
    ),
    Row(
        "05.1",
        "yields lists",
        "def batches(lines, size):\n"
        "    batch = []\n"
        "    for line in lines:\n"
        "        batch.append(line)\n"
        "        if len(batch) == size:\n"
        "            yield batch\n"
        "            batch = []\n"
        "    if batch:\n"
        "        yield batch",
        ("one str", "a list"),
    ),
    # -- 05.2 a file in blocks ------------------------------------------------------------------
    Row(
        "05.2",
        "whole file read first",
        "def file_blocks(path, block_size=64 * 1024):\n"
        '    with open(path, "rb") as file:\n'
        "        data = file.read()\n"
        "    for start in range(0, len(data), block_size):\n"
        "        yield data[start:start + block_size]",
        ("memory",),
    ),
    Row(
        "05.2",
        "one block",
        'def file_blocks(path, block_size=64 * 1024):\n    with open(path, "rb") as file:\n        yield file.read()',
        ("64 KiB",),
    ),
    Row(
        "05.2",
        "endless: never stops at b''",
        "def file_blocks(path, block_size=64 * 1024):\n"
        '    with open(path, "rb") as file:\n'
        "        while True:\n"
        "            yield file.read(block_size)",
        ("never ended", 'b""'),
        slow=True,
    ),
    Row(
        "05.2",
        "text mode",
        "def file_blocks(path, block_size=64 * 1024):\n"
        "    with open(path) as file:\n"
        "        while block := file.read(block_size):\n"
        "            yield block",
        ("UnicodeDecodeError", '"rb"'),
    ),
    Row(
        "05.2",
        "returns the bytes",
        'def file_blocks(path, block_size=64 * 1024):\n    with open(path, "rb") as file:\n        return file.read()',
        ("whole file at once",),
    ),
    Row(
        "05.2",
        "blocks of 1 MiB",
        "def file_blocks(path, block_size=64 * 1024):\n"
        '    with open(path, "rb") as file:\n'
        "        while block := file.read(1024 * 1024):\n"
        "            yield block",
        ("bigger pieces than 64 KiB",),
    ),
    # -- 06.1 format an event -----------------------------------------------------------------
    Row(
        "06.1",
        "no blank line",
        'def sse(data, event=None, id=None):\n    return f"data: {data}\\n"',
        ("blank line",),
    ),
    Row(
        "06.1",
        "one data line",
        "def sse(data, event=None, id=None):\n"
        '    head = (f"event: {event}\\n" if event is not None else "") + (f"id: {id}\\n" if id is not None else "")\n'
        '    return f"{head}data: {data}\\n\\n"',
        ('its own "data: " prefix',),
    ),
    Row(
        "06.1",
        "`if id:` drops id=0",
        "def sse(data, event=None, id=None):\n"
        "    lines = []\n"
        "    if event:\n"
        '        lines.append(f"event: {event}")\n'
        "    if id:\n"
        '        lines.append(f"id: {id}")\n'
        '    lines += [f"data: {line}" for line in str(data).split("\\n")]\n'
        '    return "\\n".join(lines) + "\\n\\n"',
        ("id=0", "is not None"),
    ),
    Row(
        "06.1",
        "writes event: None",
        "def sse(data, event=None, id=None):\n"
        '    lines = [f"event: {event}", f"id: {id}"]\n'
        '    lines += [f"data: {line}" for line in str(data).split("\\n")]\n'
        '    return "\\n".join(lines) + "\\n\\n"',
        ("event: None", "Leave the event: line out"),
    ),
    Row(
        "06.1",
        "forgot return",
        "def sse(data, event=None, id=None):\n"
        '    text = "".join(f"data: {line}\\n" for line in str(data).split("\\n")) + "\\n"',
        ("returned None",),
    ),
    Row(
        "06.1",
        "print instead of return",
        'def sse(data, event=None, id=None):\n    print(f"data: {data}\\n\\n")',
        ("returned None", "print"),
    ),
    Row(
        "06.1",
        "bytes",
        'def sse(data, event=None, id=None):\n    return f"data: {data}\\n\\n".encode()',
        ("a str", "a bytes"),
    ),
    Row(
        "06.1",
        "event and id ignored",
        "def sse(data, event=None, id=None):\n"
        '    return "".join(f"data: {line}\\n" for line in str(data).split("\\n")) + "\\n"',
        ("event",),
    ),
    # -- 06.2 clean up after a client -----------------------------------------------------------
    Row(
        "06.2",
        "no cleanup",
        "import time\ndef ticker(log):\n    while True:\n        yield 'data: tick\\n\\n'\n        time.sleep(0.1)",
        ("finally",),
    ),
    Row(
        "06.2",
        "ends by itself",
        "def ticker(log):\n    try:\n        yield 'data: tick\\n\\n'\n    finally:\n        log.append('closed')",
        ("while True",),
    ),
    Row(
        "06.2",
        "forgot yield: an endless plain function",
        "import time\n"
        "def ticker(log):\n"
        "    n = 0\n"
        "    try:\n"
        "        while True:\n"
        "            n += 1\n"
        "            event = f'data: tick {n}\\n\\n'\n"
        "    finally:\n"
        "        log.append('closed')",
        ("ticker(log) did not return within", "a loop without yield"),
        slow=True,
    ),
    Row(
        "06.2",
        "no sleep: a hot loop",
        "def ticker(log):\n"
        "    try:\n"
        "        while True:\n"
        "            yield 'data: tick\\n\\n'\n"
        "    finally:\n"
        "        log.append('closed')",
        ("nothing made the loop wait", "time.sleep(0.1)"),
    ),
    Row(
        "06.2",
        "not server-sent events",
        "import time\n"
        "def ticker(log):\n"
        "    n = 0\n"
        "    try:\n"
        "        while True:\n"
        "            n += 1\n"
        "            yield f'tick {n}\\n'\n"
        "            time.sleep(0.1)\n"
        "    finally:\n"
        "        log.append('closed')",
        ("not server-sent events", "data: "),
    ),
    Row(
        "06.2",
        "except Exception instead of finally",
        "import time\n"
        "def ticker(log):\n"
        "    try:\n"
        "        while True:\n"
        "            yield 'data: tick\\n\\n'\n"
        "            time.sleep(0.1)\n"
        "    except Exception:\n"
        "        log.append('closed')",
        ("finally",),
    ),
    Row(
        "06.2",
        "logs twice",
        "import time\n"
        "def ticker(log):\n"
        "    try:\n"
        "        while True:\n"
        "            yield 'data: tick\\n\\n'\n"
        "            time.sleep(0.1)\n"
        "    except GeneratorExit:\n"
        "        log.append('closed')\n"
        "        raise\n"
        "    finally:\n"
        "        log.append('closed')",
        ("2 times",),
    ),
    Row(
        "06.2",
        "returns a list",
        "def ticker(log):\n    return ['data: tick\\n\\n'] * 3",
        ("should be a generator", "a list"),
    ),
    # -- 07.1 a middleware that tells the proxy (nginx) -------------------------------------------
    Row(
        "07.1",
        "no header",
        "def no_proxy_buffering(app):\n    return app",
        ("X-Accel-Buffering: None", "text/event-stream"),
    ),
    Row(
        "07.1",
        "exact Content-Type equality",
        "def no_proxy_buffering(app):\n"
        "    def middleware(environ, start_response):\n"
        "        def start(status, headers, exc_info=None):\n"
        "            if dict(headers).get('Content-Type') == 'text/event-stream':\n"
        "                headers = headers + [('X-Accel-Buffering', 'no')]\n"
        "            return start_response(status, headers, exc_info)\n"
        "        return app(environ, start)\n"
        "    return middleware",
        ("text/event-stream; charset=utf-8", "starts with"),
    ),
    Row(
        "07.1",
        "by the path",
        "def no_proxy_buffering(app):\n"
        "    def middleware(environ, start_response):\n"
        "        def start(status, headers, exc_info=None):\n"
        "            if environ['PATH_INFO'] == '/events':\n"
        "                headers = headers + [('X-Accel-Buffering', 'no')]\n"
        "            return start_response(status, headers, exc_info)\n"
        "        return app(environ, start)\n"
        "    return middleware",
        ("/feed", "not by the path"),
    ),
    Row(
        "07.1",
        "on every response",
        "def no_proxy_buffering(app):\n"
        "    def middleware(environ, start_response):\n"
        "        def start(status, headers, exc_info=None):\n"
        "            return start_response(status, headers + [('X-Accel-Buffering', 'no')], exc_info)\n"
        "        return app(environ, start)\n"
        "    return middleware",
        ("text/plain response got X-Accel-Buffering",),
    ),
    Row(
        "07.1",
        "collects the body",
        "def no_proxy_buffering(app):\n"
        "    def middleware(environ, start_response):\n"
        "        def start(status, headers, exc_info=None):\n"
        "            kind = dict(headers).get('Content-Type', '')\n"
        "            if kind.startswith('text/event-stream'):\n"
        "                headers = headers + [('X-Accel-Buffering', 'no')]\n"
        "            return start_response(status, headers, exc_info)\n"
        "        return [b''.join(app(environ, start))]\n"
        "    return middleware",
        ("collects the body",),
    ),
    Row(
        "07.1",
        "returns a number",
        "def no_proxy_buffering(app):\n    return 42",
        ("WSGI application", "an int"),
    ),
    Row(
        "07.1",
        "forgot to return the middleware",
        "def no_proxy_buffering(app):\n    def middleware(environ, start_response):\n        return app(environ, start_response)",
        ("returned None",),
    ),
    # -- 07.2 fix it in the proxy (nginx) -------------------------------------------------------
    Row(
        "07.2",
        "everything on",
        'proxy_options = {"gzip": True, "buffering": True}',
        ("holds the stream back",),
    ),
    Row("07.2", "only a timeout", 'proxy_options = {"read_timeout": 5}', ("holds the stream back",)),
    Row("07.2", "an unknown option", 'proxy_options = {"cache": False}', ("Unknown option(s) 'cache'",)),
    Row("07.2", "a string value", 'proxy_options = {"gzip": "off"}', ("True or False",)),
    Row("07.2", "a zero timeout", 'proxy_options = {"read_timeout": 0}', ("above 0",)),
    Row("07.2", "a string", 'proxy_options = "gzip off"', ("should be a dict", "a str")),
    # -- 08.1 a countdown that shares the loop ------------------------------------------------------
    Row(
        "08.1",
        "time.sleep",
        "import time\nasync def countdown(n):\n    for i in range(n, 0, -1):\n        yield f'{i}\\n'\n        time.sleep(0.1)",
        ("did not overlap", "time.sleep"),
    ),
    Row(
        "08.1",
        "a plain generator",
        "import time\ndef countdown(n):\n    for i in range(n, 0, -1):\n        yield f'{i}\\n'\n        time.sleep(0.1)",
        ("plain generator function",),
    ),
    Row(
        "08.1",
        "returns instead of yielding",
        "async def countdown(n):\n    return ''.join(f'{i}\\n' for i in range(n, 0, -1))",
        ("returns instead of yielding",),
    ),
    Row(
        "08.1",
        "await forgotten",
        "import asyncio\nasync def countdown(n):\n    for i in range(n, 0, -1):\n        yield f'{i}\\n'\n        asyncio.sleep(0.1)",
        ("pauses did not happen", "await asyncio.sleep(0.1)"),
    ),
    Row(
        "08.1",
        "counts up",
        "import asyncio\nasync def countdown(n):\n    for i in range(1, n + 1):\n        yield f'{i}\\n'\n        await asyncio.sleep(0.1)",
        ("expected",),
    ),
    Row(
        "08.1",
        "a coroutine looping forever",
        "async def countdown(n):\n    while n > 0:\n        line = f'{n}\\n'",
        ("countdown(...) did not return within",),
        slow=True,
    ),
    # -- 08.2 a blocking call, kept off the loop ----------------------------------------------------
    Row(
        "08.2",
        "blocking lookups",
        "async def definitions(words):\n    for word in words:\n        yield f'{word}: {ex.slow_lookup(word)}\\n'",
        ("did not overlap", "asyncio.to_thread"),
    ),
    Row(
        "08.2",
        "to_thread not awaited",
        "import asyncio\nasync def definitions(words):\n    for word in words:\n        meaning = asyncio.to_thread(ex.slow_lookup, word)\n        yield f'{word}: {meaning}\\n'",
        ("coroutine",),
    ),
    Row(
        "08.2",
        "a plain generator",
        "def definitions(words):\n    for word in words:\n        yield f'{word}: {ex.slow_lookup(word)}\\n'",
        ("plain generator function",),
    ),
    Row(
        "08.2",
        "all in one line",
        "import asyncio\nasync def definitions(words):\n    found = [await asyncio.to_thread(ex.slow_lookup, w) for w in words]\n    yield ''.join(f'{w}: {m}\\n' for w, m in zip(words, found))",
        ("1 piece",),
    ),
    Row(
        "08.2",
        "lower case meanings",
        "import asyncio\nasync def definitions(words):\n    for word in words:\n        await asyncio.to_thread(ex.slow_lookup, word)\n        yield f'{word}: {word}\\n'",
        ("expected",),
    ),
    # -- 08.3 progress as server-sent events --------------------------------------------------------
    Row(
        "08.3",
        "no media type",
        "import asyncio\nfrom starlette.responses import StreamingResponse\n"
        "async def progress(request):\n"
        "    async def events():\n"
        "        for n in range(1, 6):\n"
        "            yield f'data: {n}\\n\\n'\n"
        "            await asyncio.sleep(0.1)\n"
        "    return StreamingResponse(events())",
        ("text/event-stream", "missing"),
    ),
    Row(
        "08.3",
        "no blank lines",
        "import asyncio\nfrom starlette.responses import StreamingResponse\n"
        "async def progress(request):\n"
        "    async def events():\n"
        "        for n in range(1, 6):\n"
        "            yield f'data: {n}\\n'\n"
        "            await asyncio.sleep(0.1)\n"
        "    return StreamingResponse(events(), media_type='text/event-stream')",
        ("blank line",),
    ),
    Row(
        "08.3",
        "time.sleep in the async generator",
        "import time\nfrom starlette.responses import StreamingResponse\n"
        "async def progress(request):\n"
        "    async def events():\n"
        "        for n in range(1, 6):\n"
        "            yield f'data: {n}\\n\\n'\n"
        "            time.sleep(0.1)\n"
        "    return StreamingResponse(events(), media_type='text/event-stream')",
        ("did not overlap", "time.sleep"),
    ),
    Row(
        "08.3",
        "returns the bare async generator",
        "import asyncio\n"
        "async def progress(request):\n"
        "    async def events():\n"
        "        for n in range(1, 6):\n"
        "            yield f'data: {n}\\n\\n'\n"
        "            await asyncio.sleep(0.1)\n"
        "    return events()",
        ("the async generator itself", "StreamingResponse"),
    ),
    Row(
        "08.3",
        "all at once",
        "from starlette.responses import StreamingResponse\n"
        "async def progress(request):\n"
        "    async def events():\n"
        "        yield ''.join(f'data: {n}\\n\\n' for n in range(1, 6))\n"
        "    return StreamingResponse(events(), media_type='text/event-stream')",
        ("1 piece",),
    ),
    Row("08.3", "raises", "async def progress(request):\n    raise KeyError('steps')", ("KeyError",)),
    Row(
        "08.3",
        "forgot return",
        "from starlette.responses import StreamingResponse\n"
        "async def progress(request):\n"
        "    StreamingResponse(iter(['data: 1\\n\\n']), media_type='text/event-stream')",
        ("returned None",),
    ),
    # -- 09.1 a log the browser shows line by line (Chromium) ------------------------------------------
    Row(
        "09.1",
        "sniffed text/plain",
        "from streamkit import Response\ndef log_view():\n    return Response(ex.slow_log(), mimetype='text/plain')",
        ("held", "guess"),
    ),
    Row(
        "09.1",
        "html instead",
        "from streamkit import Response\ndef log_view():\n    return Response(ex.slow_log(), mimetype='text/html')",
        ("text/plain",),
    ),
    Row(
        "09.1",
        "a wrong nosniff value",
        "from streamkit import Response\n"
        "def log_view():\n"
        "    response = Response(ex.slow_log(), mimetype='text/plain')\n"
        "    response.headers['X-Content-Type-Options'] = 'no-sniff'\n"
        "    return response",
        ("'no-sniff'", "exact value 'nosniff'"),
    ),
    Row(
        "09.1",
        "2 KiB of padding",
        "from streamkit import Response\n"
        "def log_view():\n"
        "    def body():\n"
        "        yield ' ' * 2048 + '\\n'\n"
        "        yield from ex.slow_log()\n"
        "    return Response(body(), mimetype='text/plain')",
        ("padding", "changes the log"),
    ),
    Row(
        "09.1",
        "a short log",
        "from streamkit import Response\n"
        "def log_view():\n"
        "    response = Response(iter(['step 1\\n']), mimetype='text/plain')\n"
        "    response.headers['X-Content-Type-Options'] = 'nosniff'\n"
        "    return response",
        ("1 line",),
    ),
    Row(
        "09.1",
        "forgot return",
        "from streamkit import Response\ndef log_view():\n    Response(ex.slow_log(), mimetype='text/plain')",
        ("returned None",),
    ),
    # -- 10.1 an OpenAI-compatible token stream ----------------------------------------------
    Row(
        "10.1",
        "sent as text/plain",
        CHAT + "def chat_view():\n    return Response(events(), mimetype='text/plain')",
        ("text/plain", "text/event-stream"),
    ),
    Row(
        "10.1",
        "the view itself a generator (no Response)",
        CHAT + "def chat_view():\n    yield from events()",
        ("text/html", "text/event-stream"),
    ),
    Row(
        "10.1",
        "one newline per event",
        CHAT
        + "def chat_view():\n"
        + "    def one_newline():\n"
        + "        for event in events():\n"
        + "            yield event[:-1]\n"
        + "    return Response(one_newline(), mimetype='text/event-stream')",
        ("ran into each other", "two newlines"),
    ),
    Row(
        "10.1",
        "str(chunk) instead of json.dumps",
        """import json
from streamkit import Response
def chat_view():
    def generate():
        yield f"data: {str({'choices': [{'index': 0, 'delta': {'role': 'assistant', 'content': ''}}]})}\\n\\n"
        for token in ex.model_tokens():
            yield f"data: {str({'choices': [{'index': 0, 'delta': {'content': token}}]})}\\n\\n"
        yield "data: [DONE]\\n\\n"
    return Response(generate(), mimetype="text/event-stream")""",
        ("not JSON", "single quotes", "json.dumps"),
    ),
    Row(
        "10.1",
        "the bare tokens as data",
        """from streamkit import Response
def chat_view():
    def generate():
        for token in ex.model_tokens():
            yield f"data: {token}\\n\\n"
        yield "data: [DONE]\\n\\n"
    return Response(generate(), mimetype="text/event-stream")""",
        ("not JSON", "chat.completion.chunk"),
    ),
    Row(
        "10.1",
        "no [DONE] at the end",
        CHAT
        + "def chat_view():\n"
        + "    return Response((e for e in events() if '[DONE]' not in e), mimetype='text/event-stream')",
        ("must end with", "[DONE]"),
    ),
    Row(
        "10.1",
        "the stop chunk after [DONE]",
        CHAT
        + """def chat_view():
    def generate():
        yield chunk({"role": "assistant", "content": ""})
        for token in ex.model_tokens():
            yield chunk({"content": token})
        yield "data: [DONE]\\n\\n"
        yield chunk({}, "stop")
    return Response(generate(), mimetype="text/event-stream")""",
        ("must end with", "[DONE]", "the last event was"),
    ),
    Row(
        "10.1",
        "no role-only delta first",
        CHAT
        + "def chat_view():\n"
        + "    return Response((e for e in events() if '\"role\"' not in e), mimetype='text/event-stream')",
        ("role-only delta",),
    ),
    Row(
        "10.1",
        "the completions format (text, no delta)",
        """import json
from streamkit import Response
def chat_view():
    def generate():
        yield "data: " + json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}) + "\\n\\n"
        for token in ex.model_tokens():
            yield "data: " + json.dumps({"choices": [{"index": 0, "text": token}]}) + "\\n\\n"
        yield "data: [DONE]\\n\\n"
    return Response(generate(), mimetype="text/event-stream")""",
        ("no choices[0].delta", '"delta": {"content": token}'),
    ),
    Row(
        "10.1",
        "the whole text so far in each chunk",
        CHAT
        + """def chat_view():
    def generate():
        yield chunk({"role": "assistant", "content": ""})
        text = ""
        for token in ex.model_tokens():
            text += token
            yield chunk({"content": text})
        yield chunk({}, "stop")
        yield "data: [DONE]\\n\\n"
    return Response(generate(), mimetype="text/event-stream")""",
        ("TokensTokens leave", "send each token", "once"),
    ),
    Row(
        "10.1",
        "no finish chunk",
        CHAT
        + "def chat_view():\n"
        + "    return Response((e for e in events() if '\"stop\"' not in e), mimetype='text/event-stream')",
        ("finish_reason", "stop"),
    ),
    Row(
        "10.1",
        "all events joined into one string",
        CHAT + "def chat_view():\n    return Response(iter(['' .join(events())]), mimetype='text/event-stream')",
        ("up to", "events per chunk", "one event per token"),
    ),
    Row(
        "10.1",
        "the tokens collected first",
        CHAT
        + """def chat_view():
    tokens = list(ex.model_tokens())
    def generate():
        yield chunk({"role": "assistant", "content": ""})
        for token in tokens:
            yield chunk({"content": token})
        yield chunk({}, "stop")
        yield "data: [DONE]\\n\\n"
    return Response(generate(), mimetype="text/event-stream")""",
        ("no list",),
    ),
    Row(
        "10.1",
        "a JSON reply, not streamed",
        """import json
from streamkit import Response
def chat_view():
    text = "".join(ex.model_tokens())
    reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
    return Response(json.dumps(reply), mimetype="application/json")""",
        ("application/json", "text/event-stream"),
    ),
    Row(
        "10.1",
        "request read inside the generator",
        """import json
from streamkit import Response, request
def chat_view():
    def generate():
        model = request.get_json()["model"]
        for token in ex.model_tokens():
            yield "data: " + json.dumps({"model": model, "choices": [{"index": 0, "delta": {"content": token}}]}) + "\\n\\n"
        yield "data: [DONE]\\n\\n"
    return Response(generate(), mimetype="text/event-stream")""",
        ("RuntimeError", "stream_with_context"),
    ),
    Row(
        "10.1",
        "forgot return",
        CHAT + "def chat_view():\n    Response(events(), mimetype='text/event-stream')",
        ("returned None", "return Response"),
    ),
    # -- 10.2 time to first token, not first byte ----------------------------------------------
    Row(
        "10.2",
        "the first byte",
        "def time_to_first_token(trace):\n    return trace.ttfb",
        ("the first byte", "Skip the events without content"),
    ),
    Row(
        "10.2",
        "the first event (the role-only delta)",
        "def time_to_first_token(trace):\n"
        "    for event in trace.events:\n"
        "        return event.t\n"
        "    return None",
        ("the first event (the role-only delta)",),
    ),
    Row(
        "10.2",
        "the headers",
        "def time_to_first_token(trace):\n    return trace.headers_at",
        ("the headers",),
    ),
    Row(
        "10.2",
        "the last event",
        "def time_to_first_token(trace):\n    return trace.events[-1].t if trace.events else None",
        ("the last event ([DONE])",),
    ),
    Row(
        "10.2",
        "milliseconds",
        "def time_to_first_token(trace):\n"
        "    for event in trace.events:\n"
        "        if event.content:\n"
        "            return event.t * 1000\n"
        "    return None",
        ("milliseconds", "return seconds"),
    ),
    Row(
        "10.2",
        "measured from the first byte",
        "def time_to_first_token(trace):\n"
        "    for event in trace.events:\n"
        "        if event.content:\n"
        "            return event.t - trace.ttfb\n"
        "    return None",
        ("measured from the first byte", "counts from the request"),
    ),
    Row(
        "10.2",
        "0 for a reply that was not streamed",
        "def time_to_first_token(trace):\n"
        "    for event in trace.events:\n"
        "        if event.content:\n"
        "            return event.t\n"
        "    return 0",
        ("not streamed", "you returned 0", "return None"),
    ),
    Row(
        "10.2",
        "forgot return",
        "def time_to_first_token(trace):\n"
        "    for event in trace.events:\n"
        "        if event.content:\n"
        "            event.t",
        ("returned None", "forget return"),
    ),
    Row(
        "10.2",
        "a string",
        "def time_to_first_token(trace):\n"
        "    for event in trace.events:\n"
        "        if event.content:\n"
        "            return f'{event.t:.3f} s'\n"
        "    return None",
        ("seconds (a number)", "a str"),
    ),
    Row(
        "10.2",
        "no care for a reply without events",
        "def time_to_first_token(trace):\n    return [event.t for event in trace.events if event.content][0]",
        ("IndexError", "time_to_first_token(), line 2"),
    ),
    Row(
        "10.2",
        "a while loop that never moves on",
        "def time_to_first_token(trace):\n"
        "    i = 0\n"
        "    while not trace.events[i].content:\n"
        "        pass\n"
        "    return trace.events[i].t",
        ("time_to_first_token(trace) did not return within", "loop"),
        slow=True,
    ),
    # -- 11.1 a test that catches the buffering middleware ---------------------------------------
    Row(
        "11.1",
        "checks only the body",
        "def test_feed(server):\n    assert server.get('/feed').body.count(b'update') == 5",
        ("does not catch the middleware", "how it arrived"),
    ),
    Row(
        "11.1",
        "checks only the status",
        "def test_feed(server):\n    assert server.get('/feed').status == 200",
        ("does not catch the middleware",),
    ),
    Row(
        "11.1",
        "asks for too many pieces",
        "from streamkit.testing import assert_streams\n"
        "def test_feed(server):\n"
        "    assert_streams(server.get('/feed'), min_pieces=20)",
        ("fails on the plain feed too", "at least 20 wanted", "loosen"),
    ),
    Row(
        "11.1",
        "a first byte limit no server meets",
        "from streamkit.testing import assert_streams\n"
        "def test_feed(server):\n"
        "    assert_streams(server.get('/feed'), first_byte_within=0.0001)",
        ("fails on the plain feed too", "first byte"),
    ),
    Row(
        "11.1",
        "a test that always fails",
        "def test_feed(server):\n    assert False, 'todo'",
        ("fails on the plain feed too", "todo"),
    ),
    Row(
        "11.1",
        "raises something else",
        "def test_feed(server):\n    trace = server.get('/feed')\n    raise KeyError('oops')",
        ("raised KeyError", "AssertionError"),
    ),
    Row(
        "11.1",
        "the wrong path",
        "from streamkit.testing import assert_streams\n"
        "def test_feed(server):\n"
        "    assert_streams(server.get('/nothing-here'))",
        ("fails on the plain feed too", "status 404", "request /feed"),
    ),
    Row(
        "11.1",
        "returns instead of asserting",
        "def test_feed(server):\n    return server.get('/feed').verdict == 'streamed'",
        ("returned False", "pytest ignores what a test returns", "assert"),
    ),
    Row(
        "11.1",
        "no server argument",
        "from streamkit.testing import assert_streams\n"
        "def test_feed():\n"
        "    assert_streams(server.get('/feed'))",
        ("one argument", "def test_feed(server)"),
    ),
    Row(
        "11.1",
        "tests the header, not the stream",
        "def test_feed(server):\n    assert 'Server-Timing' not in server.get('/feed').headers",
        ("Server-Timing", "an assert with no message failed in test_feed(), line 2", "not which headers"),
    ),
    Row(
        "11.1",
        "a name, not a function",
        "test_feed = 'test_feed'",
        ("should be a function",),
    ),
    Row(
        "11.1",
        "requests the feed forever",
        "def test_feed(server):\n    while True:\n        trace = server.get('/feed')",
        ("test_feed(server) did not return within", "loop"),
        slow=True,
    ),
    # -- 11.2 fix the middleware -------------------------------------------------------------
    Row(
        "11.2",
        "the lesson's middleware unchanged",
        "server_timing_fixed = server_timing",
        ("still held back", "start_response"),
    ),
    Row(
        "11.2",
        "joins the body",
        timing_middleware('("Server-Timing", "app;dur=1")', body='[b"".join(app(environ, start))]'),
        ("still held back", "joins or collects"),
    ),
    Row(
        "11.2",
        "collects the body in a list",
        """import time
def server_timing_fixed(app):
    def middleware(environ, start_response):
        started = time.perf_counter()
        def start(status, headers, exc_info=None):
            took = (time.perf_counter() - started) * 1000
            return start_response(status, [*headers, ("Server-Timing", f"app;dur={took:.1f}")], exc_info)
        return list(app(environ, start))
    return middleware""",
        ("still held back",),
    ),
    Row(
        "11.2",
        "no header at all",
        "def server_timing_fixed(app):\n    return app",
        ("no Server-Timing header",),
    ),
    Row(
        "11.2",
        "a header without a duration",
        timing_middleware('("Server-Timing", "app")'),
        ("without a duration", "dur="),
    ),
    Row(
        "11.2",
        "the header as one string",
        timing_middleware('"Server-Timing: app;dur=1"'),
        ("ValueError", "(name, value) pair"),
    ),
    Row(
        "11.2",
        "forgot to return the middleware",
        """def server_timing_fixed(app):
    def middleware(environ, start_response):
        return app(environ, start_response)""",
        ("returned None",),
    ),
    Row(
        "11.2",
        "not an app",
        "def server_timing_fixed(app):\n    return 42",
        ("WSGI application", "an int"),
    ),
]

#: Right answers written differently from the solution: each must be judged correct.
RIGHT = [
    Row(
        "00.2",
        "the view itself a generator",
        "import time\ndef countdown():\n"
        '    for line in ["3\\n", "2\\n", "1\\n", "liftoff!\\n"]:\n'
        "        yield line\n"
        "        time.sleep(0.1)",
        (),
    ),
    Row(
        "01.1",
        "yields bytes",
        'def csv_lines(rows):\n    yield b"id,name,score\\n"\n    for i, n, s in rows:\n        yield f"{i},{n},{s}\\n".encode()',
        (),
    ),
    Row(
        "02.1",
        "the TemplateStream returned without Response",
        "from streamkit import stream_template_string\n"
        "def menu():\n"
        "    stream = stream_template_string(ex.MENU, dishes=ex.DISHES)\n"
        "    stream.enable_buffering(5)\n"
        "    return stream",
        (),
    ),
    Row(
        "03.1",
        "the decorator form",
        "import time\nfrom streamkit import Response, request, stream_with_context\n"
        "def greet():\n"
        "    @stream_with_context\n"
        "    def generate():\n"
        '        yield "Hello, "\n'
        "        time.sleep(0.1)\n"
        '        yield request.args["name"]\n'
        '        yield "!\\n"\n'
        '    return Response(generate(), mimetype="text/plain")',
        (),
    ),
    Row(
        "05.2",
        "a while loop with a break",
        "def file_blocks(path, block_size=64 * 1024):\n"
        '    with open(path, "rb") as file:\n'
        "        while True:\n"
        "            block = file.read(block_size)\n"
        '            if block == b"":\n'
        "                break\n"
        "            yield block",
        (),
    ),
    Row(
        "06.1",
        "CRLF line ends (valid SSE)",
        "def sse(data, event=None, id=None):\n"
        "    lines = []\n"
        "    if event is not None:\n"
        '        lines.append(f"event: {event}")\n'
        "    if id is not None:\n"
        '        lines.append(f"id: {id}")\n'
        '    lines += [f"data: {line}" for line in str(data).split("\\n")]\n'
        '    return "\\r\\n".join(lines) + "\\r\\n\\r\\n"',
        (),
    ),
    Row(
        "06.2",
        "a counter in the event",
        "import time\n"
        "def ticker(log):\n"
        "    try:\n"
        "        n = 0\n"
        "        while True:\n"
        "            n += 1\n"
        "            yield f'event: tick\\nid: {n}\\ndata: {n}\\n\\n'\n"
        "            time.sleep(0.1)\n"
        "    finally:\n"
        "        log.append('closed')",
        (),
    ),
    Row(
        "11.2",
        "times the first item (made at once, so nothing is held)",
        """import time
def server_timing_fixed(app):
    def middleware(environ, start_response):
        started = time.perf_counter()
        seen = {}
        def remember(status, headers, exc_info=None):
            seen["args"] = (status, headers)
            return lambda data: None
        body = iter(app(environ, remember))
        first = next(body)
        took = (time.perf_counter() - started) * 1000
        status, headers = seen["args"]
        start_response(status, [*headers, ("Server-Timing", f"app;dur={took:.1f}")])
        def rest():
            yield first
            yield from body
        return rest()
    return middleware""",
        (),
    ),
]
