"""ASGI serving measured side by side in one run: the kit's uvicorn against a bare uvicorn.

    .venv/bin/python benchmarks/bench_asgi.py [--quick]

Each line compares two things measured in the same run, so the machine's speed cancels out;
throughputs are the best of several interleaved rounds, read by a client in a separate
process (so the client's work does not share the server's interpreter):

* wire chunks/s of one ASGI app (a raw ASGI callable sending small rows as fast as it can),
  served by ``serve()`` (uvicorn in the kit's thread, the app wrapped by the kit's observer)
  against the same app on a bare ``uvicorn.Server`` with the same settings; once for plain
  requests and once for traced ones (the observer noting ``produced`` and ``written``);
* whether the probe keeps up: the probe's chunks/s against requests' ``iter_content`` on the
  same kit-served stream, and the yield-to-arrival lag of ``server.get`` on an async stream of
  items 5 ms apart.

Every line says PASS or FAIL against its target and a summary follows; a missed target still
exits 0 (so ``make bench`` goes on to the next benchmark), a crash exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
import uuid
from typing import Any

import common
from common import Row, best_ratio, print_summary, print_table, read_with_requests, yield_to_arrival

# -- the app -------------------------------------------------------------------------------------


async def rows_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``/rows?n=N``: N small rows, one body message each, as fast as the server takes them;
    ``/ticks?n=N``: N rows 5 ms apart."""
    if scope["type"] != "http":
        return
    count = int(scope["query_string"].decode().split("=")[1])
    gap = 0.005 if scope["path"] == "/ticks" else 0.0
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/csv")],
        }
    )
    for n in range(count):
        await send(
            {
                "type": "http.response.body",
                "body": b"%d,row %d\n" % (n, n),
                "more_body": True,
            }
        )
        if gap:
            await asyncio.sleep(gap)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


class BareUvicorn:
    """The same app on uvicorn's own Server, in a thread with its own loop: the baseline."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            loop="asyncio",
            log_config=None,
            lifespan="off",
            ws="none",
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete,
            args=(self.server.serve(),),
            daemon=True,
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        self.loop.close()


# -- client processes ----------------------------------------------------------------------------


def run_client(kind: str, target: str, trace_id: str) -> None:
    """Run in a separate process: read ``target`` and print chunks, bytes and seconds as JSON."""
    headers = {"X-Streamkit-Trace": trace_id} if trace_id != "-" else {}
    if kind == "probe":
        from streamkit.probe import probe

        trace = probe(target, keep_body=False, timeout=60, headers=headers)
        result = {
            "chunks": len(trace.chunks),
            "bytes": trace.size,
            "seconds": trace.duration,
            "error": trace.error,
        }
    else:
        result = {**read_with_requests(target, headers), "error": None}
    print(json.dumps(result))


def client(kind: str, target: str, trace_id: str = "-") -> dict[str, Any]:
    """This file run as a client process (see :func:`run_client`): what it measured."""
    return common.client(__file__, kind, target, trace_id)


# -- the measurements ------------------------------------------------------------------------------


def kit_vs_bare(kit_url: str, bare_url: str, rows: int, rounds: int, *, traced: bool) -> list[Row]:
    from streamkit import recording

    ours, bare = [], []

    def kit_round() -> None:
        trace_id = uuid.uuid4().hex
        noted = recording.start(trace_id) if traced else None
        try:
            measured = client("probe", f"{kit_url}/rows?n={rows}", trace_id if traced else "-")
        finally:
            recording.finish(trace_id)
        assert measured["chunks"] == rows and not measured["error"], measured
        if noted is not None:
            noted.sent.wait(5)
            assert len(noted.produced) == len(noted.written) == rows, (
                len(noted.produced),
                len(noted.written),
            )
        ours.append(measured["chunks"] / measured["seconds"])

    def bare_round() -> None:
        measured = client("probe", f"{bare_url}/rows?n={rows}")
        assert measured["chunks"] == rows and not measured["error"], measured
        bare.append(measured["chunks"] / measured["seconds"])

    for number in range(rounds):  # alternate which goes first, so neither always gets the quieter slot
        for step in (kit_round, bare_round) if number % 2 == 0 else (bare_round, kit_round):
            step()
    how = "traced (produced+written noted)" if traced else "untraced"
    return [best_ratio(f"{rows:,} rows, {how}: serve() / bare uvicorn (wire chunks/s)", ours, bare, 0.9)]


def probe_vs_requests(kit_url: str, rows: int, rounds: int) -> list[Row]:
    ours, theirs = [], []
    for _ in range(rounds):
        for results, kind in ((ours, "probe"), (theirs, "requests")):
            measured = client(kind, f"{kit_url}/rows?n={rows}")
            assert measured["chunks"] == rows, measured
            results.append(measured["chunks"] / measured["seconds"])
    return [
        best_ratio(f"{rows:,} rows from serve(): probe / requests iter_content (chunks/s)", ours, theirs, 0.9)
    ]


def latency(server: Any, count: int) -> list[Row]:
    trace = server.get(f"/ticks?n={count}")
    return yield_to_arrival(
        trace, count, f"server.get on uvicorn, {count} items 5 ms apart: yield-to-arrival"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller sizes and fewer rounds: a fast look",
    )
    parser.add_argument("--client", nargs=3, metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        run_client(*args.client)
        return 0

    from streamkit import serve

    quick = args.quick
    rounds = 3 if quick else 5
    rows = 20_000 if quick else 50_000
    results: list[Row] = []
    bare = BareUvicorn(rows_app)
    try:
        with serve(rows_app, server="uvicorn") as kit:
            steps = [
                (
                    "serve() vs bare uvicorn",
                    lambda: kit_vs_bare(kit.url, bare.url, rows, rounds, traced=False),
                ),
                (
                    "traced",
                    lambda: kit_vs_bare(kit.url, bare.url, rows, rounds, traced=True),
                ),
                ("probe vs requests", lambda: probe_vs_requests(kit.url, rows, rounds)),
                ("latency", lambda: latency(kit, 50 if quick else 200)),
            ]
            for name, step in steps:
                print(f"  measuring {name} ...", file=sys.stderr, flush=True)
                results.extend(step())
    finally:
        bare.stop()
    print_table(f"streamkit ASGI benchmark{' (--quick)' if quick else ''}", results)
    print_summary(results)
    return 0  # a missed target is reported above, not an error


if __name__ == "__main__":
    raise SystemExit(main())
