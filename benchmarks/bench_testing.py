"""The pytest plugin's fixture and trace files, measured; prints figures against targets.

    .venv/bin/python benchmarks/bench_testing.py [--quick]

* the ``stream_server`` fixture's start and stop per test (what ``ServerFactory`` does for one
  test: serve an app on port 0, stop it at teardown): werkzeug for a WSGI app (target: under
  50 ms) and uvicorn for an ASGI app (target: under 300 ms). The median of many rounds, with
  one request in each so the server is known to be up; the request's own time is measured
  apart and left out;
* ``Trace.save`` followed by ``Trace.load`` of a 100,000-chunk trace without its body (target:
  under 1 s), beside ``json.dumps``/``json.loads`` of the same columns as a reference.

Each line says PASS or FAIL against its target; a missed target still exits 0 (so ``make
bench`` goes on), a crash exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from streamkit.testing import ServerFactory
from streamkit.trace import Chunk, Event, Trace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "apps"))
from stack_app import answer_lifespan  # noqa: E402  (the test apps' answer to lifespan messages)


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def fixture_round(app: Any) -> tuple[float, float]:
    """(start + stop seconds, the request's seconds) for one test's server."""
    factory = ServerFactory("bench")
    started = time.perf_counter()
    server = factory(app)
    up = time.perf_counter()
    server.get("/")
    asked = time.perf_counter()
    factory.stop_all()
    done = time.perf_counter()
    return (up - started) + (done - asked), asked - up


def bench_fixture(name: str, app: Any, rounds: int, target: float) -> bool:
    fixture_round(app)  # warm: imports, the reader worker
    costs = [fixture_round(app) for _ in range(rounds)]
    median = statistics.median(cost for cost, _ in costs)
    request = statistics.median(asked for _, asked in costs)
    ok = median < target
    print(
        f"{'PASS' if ok else 'FAIL'} stream_server start+stop, {name}: {median * 1000:.1f} ms per test "
        f"(median of {rounds}; target < {target * 1000:.0f} ms = {median / target:.2f} of it); "
        f"the request in between, not counted: {request * 1000:.1f} ms"
    )
    return ok


def big_trace(n: int) -> Trace:
    chunks = [Chunk(t=i * 1e-5, size=100 + i % 7, data=None, wire_size=100 + i % 7) for i in range(n)]
    return Trace(
        url="http://127.0.0.1:5000/big",
        status=200,
        chunks=chunks,
        ttfb=1e-5,
        duration=n * 1e-5,
        written=[Event(t=i * 1e-5, size=100 + i % 7) for i in range(0, n, 10)],
    )


def bench_trace_file(n: int, target: float) -> bool:
    trace = big_trace(n)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.json"
        best = float("inf")
        reference = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            trace.save(path)
            loaded = Trace.load(path)
            best = min(best, time.perf_counter() - started)
            columns = {"t": [c.t for c in trace.chunks], "size": [c.size for c in trace.chunks]}
            started = time.perf_counter()
            json.loads(json.dumps(columns))
            reference = min(reference, time.perf_counter() - started)
        size = path.stat().st_size
    assert len(loaded.chunks) == n and loaded.chunks[-1].t == trace.chunks[-1].t
    ok = best < target
    print(
        f"{'PASS' if ok else 'FAIL'} Trace.save + Trace.load, {n:,} chunks without body: {best * 1000:.0f} ms "
        f"(target < {target * 1000:.0f} ms = {best / target:.2f} of it; file {size / 1e6:.1f} MB; "
        f"json round trip of the bare columns alone: {reference * 1000:.0f} ms, {best / reference:.1f}x)"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 10 if args.quick else 40
    results = [
        bench_fixture("werkzeug (WSGI app)", wsgi_app, rounds, 0.050),
        bench_fixture("uvicorn (ASGI app)", asgi_app, max(5, rounds // 4), 0.300),
        bench_trace_file(100_000, 1.0),
    ]
    print(f"{sum(results)} of {len(results)} targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
