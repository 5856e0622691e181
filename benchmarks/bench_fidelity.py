"""Arrival times under a CPU-bound app in the same process; prints figures against targets.

    .venv/bin/python benchmarks/bench_fidelity.py [--quick]

The stream: a streamkit App, served by ``streamkit.serve`` in this process, whose generator does
2 ms of pure-Python work per item, 200 items. The server thread then holds the GIL almost all
the time. Each figure is set against a plain reader in a process of its own
(``benchmarks/reference_reader.py``, bare socket, ``time.monotonic()`` after each ``recv``),
reading the same stream in the same run:

* ``server.get`` arrival lag (chunk arrival minus the time the app produced the item), p99;
* a plain ``probe()``'s largest gap between two chunks, against the reference reader's;
* the same two read in this process (``STREAMKIT_READER=inprocess``), to show what the worker
  saves (reported, no target);
* ``server.get`` of 20,000 small rows served by this process, through the worker against read
  in this process: the worker must not make it slower (wall time of the call);
* ``probe()`` of 100,000 small chunks from a plain socket thread, the same two ways (reported:
  there the reader in this process has the GIL nearly to itself, and the worker's batches cost
  their copy).

Figures are medians over the rounds. Every line says PASS or FAIL; a missed target still exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from itertools import pairwise
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ITEMS = 200
WORK = 0.002  # seconds of pure-Python work per item

Row = tuple[str, str, str, bool]


def busy(seconds: float) -> int:
    """Compute for ``seconds`` without releasing the GIL."""
    end = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < end:
        count += 1
    return count


def build_app() -> Any:
    from streamkit import App, Response, request

    app = App("fidelity")

    @app.route("/rows")
    def rows() -> Response:
        count = int(request.args["n"])
        return Response((f"{n},row {n}\n" for n in range(count)), mimetype="text/csv")

    @app.route("/cpu")
    def cpu() -> Response:
        count = int(request.args.get("n", ITEMS))

        def generate() -> Any:
            for n in range(count):
                busy(WORK)
                yield f"item {n}\n"

        return Response(generate(), mimetype="text/plain")

    return app


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def largest_gap(times: list[float]) -> float:
    return max((b - a for a, b in pairwise(times)), default=0.0)


def lags(trace: Any) -> list[float]:
    return [event.arrived - event.t for event in trace.produced if event.arrived is not None]


def reference(server: Any, path: str) -> dict[str, float]:
    """The stream read by the separate-process reader, with the server side recorded."""
    from streamkit import recording
    from streamkit.trace import Chunk, Event, arrivals

    trace_id = uuid.uuid4().hex
    noted = recording.start(trace_id)
    try:
        done = subprocess.run(
            [sys.executable, str(HERE / "reference_reader.py"), server.url + path,
             f"{recording.TRACE_HEADER}: {trace_id}"],
            check=False, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        noted.sent.wait(5)
    finally:
        recording.finish(trace_id)
    if done.returncode != 0:
        raise RuntimeError(f"reference reader failed:\n{done.stderr}")
    measured = json.loads(done.stdout)
    chunks = [Chunk(t, size, None, size) for t, size in measured["chunks"]]
    produced = [Event(t - measured["started"], size) for t, size, _ in noted.produced]
    arrived = arrivals(produced, chunks)
    return {
        "lag_p99": p99([a - e.t for e, a in zip(produced, arrived) if a is not None]),
        "gap": largest_gap([chunk.t for chunk in chunks]),
        "chunks": len(chunks),
    }


def ours(server: Any, path: str) -> dict[str, float]:
    from streamkit import probe

    got = server.get(path)
    assert len(got.produced) == ITEMS and got.error is None, got
    plain = probe(server.url + path)
    assert plain.error is None and len(plain.chunks) >= ITEMS, plain
    return {
        "lag_p99": p99(lags(got)),
        "gap": largest_gap([chunk.t for chunk in plain.chunks]),
        "reader": got.reader or "",
    }


def in_process(server: Any, path: str) -> dict[str, float]:
    os.environ["STREAMKIT_READER"] = "inprocess"
    try:
        return ours(server, path)
    finally:
        del os.environ["STREAMKIT_READER"]


def get_throughput(server: Any, rows: int, rounds: int) -> list[Row]:
    """server.get of a fast stream served by this process: through the worker and read here."""
    results: dict[str, list[float]] = {"worker": [], "inprocess": []}
    try:
        for _ in range(rounds):
            for mode, found in results.items():
                os.environ["STREAMKIT_READER"] = mode
                started = time.monotonic()
                trace = server.get(f"/rows?n={rows}")
                took = time.monotonic() - started
                assert len(trace.chunks) == rows and trace.error is None, trace
                found.append(rows / took)
    finally:
        os.environ.pop("STREAMKIT_READER", None)
    best = {mode: max(found) for mode, found in results.items()}
    ratio = best["worker"] / best["inprocess"]
    return [
        (
            f"server.get, {rows:,} rows from this process: worker / read here (chunks/s, wall)",
            f"{ratio:.2f}x ({best['worker']:,.0f} vs {best['inprocess']:,.0f}/s)",
            ">= 1.0x",
            ratio >= 1.0,
        )
    ]


def probe_throughput(chunks: int, rounds: int) -> list[Row]:
    """probe() of a socket blaster in another thread: through the worker and read here."""
    sys.path.insert(0, str(HERE))
    from bench_server import BlastServer

    from streamkit import probe

    row = b"0123456789,abcdefghij,klmnopqrst\n"
    body = b"".join(b"%x\r\n%s\r\n" % (len(row), row) for _ in range(chunks)) + b"0\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    blast = BlastServer(head + body, http=True)
    url = f"http://{blast.address}/"
    results: dict[str, list[float]] = {"worker": [], "inprocess": []}
    try:
        for _ in range(rounds):
            for mode, found in results.items():
                os.environ["STREAMKIT_READER"] = mode
                started = time.monotonic()
                trace = probe(url, keep_body=False)
                took = time.monotonic() - started
                assert len(trace.chunks) == chunks, trace
                found.append(chunks / took)
    finally:
        os.environ.pop("STREAMKIT_READER", None)
        blast.close()
    best = {mode: max(found) for mode, found in results.items()}
    ratio = best["worker"] / best["inprocess"]
    return [
        (
            f"probe(), {chunks:,} chunks from an idle socket thread: worker / read here (chunks/s, wall)",
            f"{ratio:.2f}x ({best['worker']:,.0f} vs {best['inprocess']:,.0f}/s)",
            "-",
            True,
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round: a fast look")
    args = parser.parse_args()
    from streamkit import serve

    rounds = 1 if args.quick else 3
    path = f"/cpu?n={ITEMS}"
    rows: list[Row] = []
    samples: dict[str, list[dict[str, Any]]] = {"ref": [], "ours": [], "here": []}
    # A thread, as in a notebook kernel: the default reader uses the worker only then.
    idle = threading.Event()
    keeper = threading.Thread(target=idle.wait, daemon=True)
    keeper.start()
    with serve(build_app()) as server:
        server.get(path)  # warm up: imports, the worker's start
        for _ in range(rounds):
            print("  measuring a round ...", file=sys.stderr, flush=True)
            samples["ref"].append(reference(server, path))
            samples["ours"].append(ours(server, path))
            samples["here"].append(in_process(server, path))
        print("  measuring throughput ...", file=sys.stderr, flush=True)
        speed = get_throughput(server, 20_000, 3 if args.quick else 5)
    speed.extend(probe_throughput(20_000 if args.quick else 100_000, 3 if args.quick else 5))
    idle.set()

    def median(kind: str, key: str) -> float:
        return statistics.median(sample[key] for sample in samples[kind])

    ref_lag, ref_gap = median("ref", "lag_p99") * 1000, median("ref", "gap") * 1000
    lag, gap = median("ours", "lag_p99") * 1000, median("ours", "gap") * 1000
    here_lag, here_gap = median("here", "lag_p99") * 1000, median("here", "gap") * 1000
    what = f"{ITEMS} items of {WORK * 1000:g} ms CPU work, same process"
    rows.append(
        (
            f"{what}: server.get arrival lag p99",
            f"{lag:.2f} ms (reference reader {ref_lag:.2f} ms)",
            "< 2 ms",
            lag < 2,
        )
    )
    ratio = gap / ref_gap
    rows.append(
        (
            f"{what}: probe() largest gap / reference reader's",
            f"{ratio:.2f}x ({gap:.2f} vs {ref_gap:.2f} ms)",
            "<= 2x",
            ratio <= 2,
        )
    )
    rows.append(
        (
            f"{what}: read in this process, for contrast: lag p99",
            f"{here_lag:.2f} ms",
            "-",
            True,
        )
    )
    rows.append(
        (
            f"{what}: read in this process, for contrast: largest gap",
            f"{here_gap:.2f} ms ({here_gap / ref_gap:.1f}x)",
            "-",
            True,
        )
    )
    rows.extend(speed)
    width = max(len(row[0]) for row in rows)
    value_width = max(len(row[1]) for row in rows)
    print(f"\nstreamkit fidelity benchmark{' (--quick)' if args.quick else ''}")
    print(f"reader: {samples['ours'][0]['reader']}")
    print(f"{'measurement':<{width}}  {'measured':<{value_width}}  {'target':<7}  result")
    for what_, value, target, passed in rows:
        result = "-" if target == "-" else ("PASS" if passed else "FAIL")
        print(f"{what_:<{width}}  {value:<{value_width}}  {target:<7}  {result}")
    scored = [row for row in rows if row[2] != "-"]
    failed = sum(not row[3] for row in scored)
    print(f"\n{len(scored) - failed} of {len(scored)} targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
