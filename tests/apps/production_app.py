"""The app for tests/test_production.py, importable by name so gunicorn can load it in workers.

``production_app:app`` is a streamkit App with a slow text stream (``/parts``) and ``/pid``;
``production_app:broken()`` is a factory that raises while gunicorn loads it, on purpose.
"""

from __future__ import annotations

import os
import time

from streamkit import App, Response, request

#: Seconds between the parts of the slow stream (the tests pass the same value in the URL).
DEFAULT_GAP = 0.15

app = App(__name__)


@app.route("/parts")
def parts() -> Response:
    """``count`` lines, ``gap`` seconds apart; ``?accel=no`` asks a proxy not to buffer."""
    count = int(request.args.get("count", 5))
    gap = float(request.args.get("gap", DEFAULT_GAP))
    text = request.args.get("text", "part")

    def generate():
        for i in range(count):
            if i:
                time.sleep(gap)
            yield f"{text} {i} " + "streaming is measured, not described. " * 3 + "\n"

    response = Response(generate(), mimetype="text/plain")
    if request.args.get("accel") == "no":
        response.headers["X-Accel-Buffering"] = "no"
    return response


@app.route("/pid")
def pid() -> str:
    return str(os.getpid())


def broken():
    """A factory gunicorn calls as ``production_app:broken()``: it fails while loading the app."""
    raise RuntimeError("the test app refuses to load (on purpose)")
