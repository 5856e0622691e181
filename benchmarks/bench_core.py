"""Per-item cost of a stream_with_context response: streamkit's App against Flask.

Both apps serve the same view: a 50,000-row generator wrapped in stream_with_context. The
benchmark calls each app's WSGI entry point directly and iterates the body, the way a server
does, so only the framework's own per-item work is measured (no sockets). Rounds alternate
between the two apps, and the medians are compared against the target (streamkit at least
1.0x Flask's items/s); the line says PASS or FAIL and a summary follows. A missed target still
exits 0; a crash exits non-zero.

    python benchmarks/bench_core.py [--rows N] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from werkzeug.test import EnvironBuilder

import streamkit


def build(kit_app, response, request, stream_with_context):
    app = kit_app("bench")

    @app.route("/rows")
    def rows():
        count = int(request.args["n"])

        def generate():
            for n in range(count):
                yield f"{n},row {n}\n"

        return response(stream_with_context(generate()), mimetype="text/csv")

    return app


def items_per_second(app, rows: int) -> float:
    environ = EnvironBuilder(f"/rows?n={rows}").get_environ()
    start = time.perf_counter()
    body = app(environ, lambda status, headers, exc_info=None: None)
    count = 0
    for _ in body:
        count += 1
    body.close()
    elapsed = time.perf_counter() - start
    assert count == rows, (count, rows)
    return count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import flask

    apps = {
        "streamkit": build(streamkit.App, streamkit.Response, streamkit.request, streamkit.stream_with_context),
        "flask": build(flask.Flask, flask.Response, flask.request, flask.stream_with_context),
    }
    for app in apps.values():  # warm up
        items_per_second(app, 1000)
    results: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(args.rounds):
        for name, app in apps.items():
            results[name].append(items_per_second(app, args.rows))

    ours = statistics.median(results["streamkit"])
    theirs = statistics.median(results["flask"])
    ratio = ours / theirs
    what = f"{args.rows:,} rows, stream_with_context: streamkit / Flask (items/s)"
    value = f"{ratio:.2f}x ({ours:,.0f} vs {theirs:,.0f}/s)"
    passed = ratio >= 1.0
    print(f"\nstreamkit core benchmark, median of {args.rounds} interleaved rounds")
    print(f"{'measurement':<{len(what)}}  {'measured':<{len(value)}}  {'target':<9}  result")
    print(f"{what}  {value}  {'>= 1.0x':<9}  {'PASS' if passed else 'FAIL'}")
    print(f"\n{int(passed)} of 1 targets met")
    return 0  # a missed target is reported above, not an error


if __name__ == "__main__":
    raise SystemExit(main())
