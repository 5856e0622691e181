"""Server, probe and trace, measured side by side in one run; prints ratios against targets.

    .venv/bin/python benchmarks/bench_server.py [--quick]

Each line compares two things measured in the same run, so the machine's speed cancels out.
Throughputs are the best of several interleaved rounds (the round least disturbed by whatever
else the machine was doing):

* yield-to-arrival latency of 200 items 5 ms apart (server.get, App on the kit's server);
* 20,000 small rows: an App with stream_with_context against a bare WSGI generator, on the same
  server, read by a separate client process;
* chunks/s of probe() against requests' iter_content(None), each in its own process, reading
  the same pre-built chunked response from a plain socket server (so the client is the limit);
* 64 KiB chunks through serve()+probe() against the same bytes over a bare socket;
* peak memory growth of a client probing 768 MiB with keep_body=False;
* a 100,000-row template streamed with enable_buffering(500): when its first chunk arrives,
  as a fraction of the whole response time.

Client processes are this same file run with ``--client KIND ...``; they print one JSON line.
Every line says PASS or FAIL against its target and a summary follows; a missed target still
exits 0 (so ``make bench`` goes on to the next benchmark), a crash exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import common
from common import Row, best_ratio, print_summary, print_table, read_with_requests, yield_to_arrival

KIB = 1024
MIB = 1024 * KIB


# -- client processes ----------------------------------------------------------------------------


def run_client(kind: str, target: str, extra: list[str]) -> None:
    """Run in a separate process: read ``target`` one way and print what was measured as JSON."""
    if kind == "probe":
        from streamkit.probe import probe

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        trace = probe(target, keep_body=False, timeout=60)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = {
            "chunks": len(trace.chunks),
            "bytes": trace.size,
            "seconds": trace.duration,
            "ttfb": trace.ttfb,
            "error": trace.error,
            "rss_growth": (after - before) * KIB,  # ru_maxrss is in KiB on Linux
        }
    elif kind == "requests":
        result = read_with_requests(target)
    elif kind == "socket":
        host, port = target.rsplit(":", 1)
        total = int(extra[0])
        buffer = bytearray(256 * KIB)
        view = memoryview(buffer)
        started = time.monotonic()
        received = 0
        with socket.create_connection((host, int(port))) as sock:
            while received < total:
                n = sock.recv_into(view)
                if not n:
                    break
                received += n
        result = {"bytes": received, "seconds": time.monotonic() - started}
    else:
        raise SystemExit(f"unknown client kind {kind!r}")
    print(json.dumps(result))


def client(kind: str, target: str, *extra: str) -> dict[str, Any]:
    """This file run as a client process (see :func:`run_client`): what it measured."""
    return common.client(__file__, kind, target, *extra)


# -- servers used by the measurements --------------------------------------------------------


def build_app(rows: int) -> Any:
    """The kit's App, with the views the measurements need."""
    from jinja2 import DictLoader

    from streamkit import App, Response, request, stream_template, stream_with_context

    app = App("bench")

    @app.route("/ticks")
    def ticks():
        count = int(request.args["n"])
        gap = float(request.args["gap"])

        def generate():
            for n in range(count):
                time.sleep(gap)
                yield f"tick {n}\n"

        return Response(stream_with_context(generate()), mimetype="text/plain")

    @app.route("/rows")
    def rows_view():
        count = int(request.args["n"])

        def generate():
            for n in range(count):
                yield f"{n},row {n}\n"

        return Response(stream_with_context(generate()), mimetype="text/csv")

    # A template from the app's loader, compiled once and cached, as in a real app.
    app.jinja_env.loader = DictLoader(
        {
            "table.html": "<table>{% for r in rows %}<tr><td>{{ r }}</td><td>row {{ r }}</td></tr>{% endfor %}</table>"
        }
    )

    @app.route("/table")
    def table():
        stream = stream_template("table.html", rows=range(int(request.args["n"])))
        stream.enable_buffering(500)
        return Response(stream, mimetype="text/html")

    return app


def bare_rows(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    """A plain WSGI generator: the same rows as /rows, no framework around it."""
    count = int(environ["QUERY_STRING"].split("=")[1])
    start_response("200 OK", [("Content-Type", "text/csv")])
    for n in range(count):
        yield f"{n},row {n}\n".encode()


def blocks(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    """``count`` blocks of 64 KiB (the same bytes object each time)."""
    count = int(environ["QUERY_STRING"].split("=")[1])
    block = b"x" * (64 * KIB)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    for _ in range(count):
        yield block


class RawServer:
    """A plain socket server on loopback: accepts connections one at a time and hands each to
    :meth:`handle`. The baseline the kit's own server is measured against."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    self.handle(conn)
                except OSError:
                    pass

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class BlastServer(RawServer):
    """Sends the same prepared bytes to every connection (after reading the request head)."""

    def __init__(self, payload: bytes, *, http: bool) -> None:
        self.payload = payload
        self.http = http
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        if self.http:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(65536)
                if not data:
                    break
                head += data
        conn.sendall(self.payload)
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):  # wait for the client to finish and close
            pass


class RepeatServer(RawServer):
    """Sends one block ``count`` times with sendall (no HTTP)."""

    def __init__(self, block: bytes, count: int) -> None:
        self.block = block
        self.count = count
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(self.count):
            conn.sendall(self.block)


# -- the measurements ------------------------------------------------------------------------------


def latency(server: Any, count: int) -> list[Row]:
    trace = server.get(f"/ticks?n={count}&gap=0.005")
    return yield_to_arrival(trace, count, f"yield-to-arrival, {count} items 5 ms apart:")


def app_vs_bare(app_url: str, bare_url: str, rows: int, rounds: int) -> list[Row]:
    ours, bare = [], []
    for _ in range(rounds):
        for results, url in ((ours, app_url), (bare, bare_url)):
            measured = client("probe", f"{url}?n={rows}")
            assert measured["chunks"] == rows and not measured["error"], measured
            results.append(measured["chunks"] / measured["seconds"])
    return [
        best_ratio(
            f"{rows:,} rows: App+stream_with_context / bare WSGI generator (chunks/s)", ours, bare, 0.9
        )
    ]


def probe_vs_requests(chunks: int, rounds: int) -> list[Row]:
    row = b"0123456789,abcdefghij,klmnopqrst\n"
    body = b"".join(b"%x\r\n%s\r\n" % (len(row), row) for _ in range(chunks)) + b"0\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    blast = BlastServer(head + body, http=True)
    url = f"http://{blast.address}/"
    ours, theirs = [], []
    try:
        for _ in range(rounds):
            for results, kind in ((ours, "probe"), (theirs, "requests")):
                measured = client(kind, url)
                assert measured["chunks"] == chunks, measured
                results.append(measured["chunks"] / measured["seconds"])
    finally:
        blast.close()
    return [best_ratio(f"{chunks:,} chunks: probe / requests iter_content (chunks/s)", ours, theirs, 1.0)]


def big_chunks(blocks_url: str, total: int, rounds: int) -> list[Row]:
    count = total // (64 * KIB)
    repeat = RepeatServer(b"x" * (64 * KIB), count)
    ours, bare = [], []
    try:
        for _ in range(rounds):
            measured = client("probe", f"{blocks_url}?n={count}")
            assert measured["bytes"] == count * 64 * KIB and not measured["error"], measured
            ours.append(measured["bytes"] / measured["seconds"])
            measured = client("socket", repeat.address, str(count * 64 * KIB))
            assert measured["bytes"] == count * 64 * KIB, measured
            bare.append(measured["bytes"] / measured["seconds"])
    finally:
        repeat.close()
    ratio = max(ours) / max(bare)
    return [
        (
            f"64 KiB chunks, {total // MIB} MiB: serve+probe / bare socket (bytes/s)",
            f"{ratio:.2f}x ({max(ours) / MIB:,.0f} vs {max(bare) / MIB:,.0f} MiB/s)",
            ">= 0.8x",
            ratio >= 0.8,
        )
    ]


def memory(blocks_url: str, total: int) -> list[Row]:
    count = total // (64 * KIB)
    measured = client("probe", f"{blocks_url}?n={count}")
    assert measured["bytes"] == count * 64 * KIB and not measured["error"], measured
    growth = measured["rss_growth"] / MIB
    return [
        (
            f"probe keep_body=False, {total // MIB} MiB: peak memory growth",
            f"{growth:.1f} MiB ({measured['chunks']:,} chunk records)",
            "< 64 MiB",
            growth < 64,
        )
    ]


def template_first_chunk(table_url: str, rows: int) -> list[Row]:
    client("probe", f"{table_url}?n=10")  # the first request compiles the template
    measured = client("probe", f"{table_url}?n={rows}")
    assert not measured["error"], measured
    fraction = measured["ttfb"] / measured["seconds"]
    return [
        (
            f"{rows:,}-row template, enable_buffering(500): first chunk / total time",
            f"{fraction * 100:.2f}% ({measured['ttfb'] * 1000:.1f} of {measured['seconds'] * 1000:.0f} ms)",
            "< 2%",
            fraction < 0.02,
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and one round: a fast look")
    parser.add_argument("--client", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        run_client(args.client[0], args.client[1], args.client[2:])
        return 0

    from streamkit import serve

    quick = args.quick
    rounds = 3 if quick else 7
    rows = 20_000
    app = build_app(rows)
    results: list[Row] = []
    with serve(app) as kit_server, serve(bare_rows) as bare_server, serve(blocks) as block_server:
        steps: list[tuple[str, Callable[[], list[Row]]]] = [
            ("latency", lambda: latency(kit_server, 50 if quick else 200)),
            (
                "App vs bare",
                lambda: app_vs_bare(kit_server.url + "/rows", bare_server.url + "/", rows, rounds),
            ),
            ("probe vs requests", lambda: probe_vs_requests(20_000 if quick else 100_000, rounds)),
            (
                "64 KiB chunks",
                lambda: big_chunks(block_server.url + "/", (64 if quick else 256) * MIB, 1 if quick else 3),
            ),
            ("memory", lambda: memory(block_server.url + "/", (128 if quick else 768) * MIB)),
            ("template", lambda: template_first_chunk(kit_server.url + "/table", 100_000)),
        ]
        for name, step in steps:
            print(f"  measuring {name} ...", file=sys.stderr, flush=True)
            results.extend(step())
    print_table(f"streamkit server/probe benchmark{' (--quick)' if quick else ''}", results)
    print_summary(results)
    return 0  # a missed target is reported above, not an error


if __name__ == "__main__":
    raise SystemExit(main())
