"""Events and tokens, measured side by side in one run; prints figures against targets.

    .venv/bin/python benchmarks/bench_events.py [--quick]

* **Parsing events adds less than 10% to a probe of 100,000 small SSE events**, against the same
  probe without parsing (``events=None``). The stream is a streamkit App on ``streamkit.serve``
  in this process, yielding 100,000 OpenAI-style token events as fast as it can; each probe runs
  in a client process of its own (this file run with ``--client``), so the parsing runs in the
  thread that reads the socket. Best of several interleaved rounds, by the client's wall time
  from calling ``probe()`` to having read every record's ``content``, so that parsing the probe
  leaves until the reading is done (see :mod:`streamkit.events`) is counted; the reading time
  alone (``trace.duration``) is printed beside it.
  Reported beside it, without a target: the same events blasted from a plain socket (a server
  far faster than any app: the client is the limit, so this is the parser's own cost), and the
  parser alone in memory.
* **``first_content`` agrees with an independent reader in its own process within 2 ms (p99)**
  at 50 tokens/s. Each round three readers read the same endpoint one after the other, in an
  order that turns round by round: the kit's ``Server.get`` (read in its reader worker process)
  and two bare-socket readers that share nothing with streamkit (``--reference``: ``recv`` and
  ``time.monotonic()``, their own chunked and SSE parsing after the connection closed). Each
  reference is one long-lived process for all rounds, in a session of its own, as the reader
  worker is (on Linux with autogroup, each session is a scheduling group of its own), so the
  kit's reader and the reference stand the same with the scheduler. The app's production times
  are recorded for every request; each reader's first content is set against the moment the
  app produced that event, and the lags are compared round by round: the kit's against the
  first reference (the target), and the two references against each other (reported: what the
  machine's scheduling alone makes two equal readers disagree by, the floor of the comparison).
  Where the tail comes from, measured with the kernel's receive timestamps (``SO_TIMESTAMPNS``)
  on both readers' sockets (2-core Linux 6.18, CPython 3.11): from the app's production to the
  bytes' arrival at the socket takes under 0.1 ms for both; all of the tail is the time from
  the arrival to ``recv`` returning, the scheduler waking the reading process. On a quiet
  machine that is under 1 ms for both in nearly every round. With two CPU-bound processes
  running beside it, it is one scheduler tick (2.4 to 4 ms) in 12 of 100 rounds for the kit's
  worker and in 2 of 100 for a bare reader in the same standing: a bare reader that burns 1 ms
  of CPU after each read is woken late more often too (9 of 60 rounds against 5 of 60), so the
  worker's CPU time per read is the likely reason (not fixed yet).
* For :mod:`streamkit.http1`'s docstring: its chunked reader against h11's
  ``receive_data``/``next_event`` loop on 100,000 chunks of 55 bytes in memory (reported).

Every line says PASS or FAIL (or "reported"); a missed target still exits 0.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TOKEN = b'data: {"choices":[{"index":0,"delta":{"content":"tok"}}]}\n\n'
Row = tuple[str, str, str, bool | None]


# -- client processes ----------------------------------------------------------------------------


def run_client(url: str, events: str) -> None:
    """In a process of its own: probe ``url`` (events parsed or not) and print figures as JSON."""
    from streamkit.probe import probe

    started = time.perf_counter()
    trace = probe(url, keep_body=False, timeout=120, events=None if events == "none" else events)
    content = sum(1 for event in trace.events if event.content)  # every record, made and read
    total = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": total,
                "duration": trace.duration,
                "chunks": len(trace.chunks),
                "events": len(trace.events),
                "content": content,
                "error": trace.error,
            }
        )
    )


def run_reference() -> None:
    """In a process of its own, sharing nothing with streamkit, for as long as its stdin is open:
    for each line (a JSON list: URL, then header lines), read the URL and print one line of JSON
    (see :func:`reference_read`)."""
    for line in sys.stdin:
        url, *headers = json.loads(line)
        print(json.dumps(reference_read(url, headers)), flush=True)


def reference_read(url: str, headers: list[str]) -> dict[str, Any]:
    """GET ``url`` over a bare socket, stamp each ``recv``, then find the read that completed the
    first event carrying content."""
    host, _, rest = url.removeprefix("http://").partition("/")
    name, _, port = host.partition(":")
    head = f"GET /{rest} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
    head += "".join(f"{line}\r\n" for line in headers) + "\r\n"
    received = bytearray()
    stamps: list[tuple[float, int]] = []
    buffer = bytearray(65536)
    started = time.monotonic()
    with socket.create_connection((name, int(port))) as sock:
        sock.sendall(head.encode())
        while True:
            n = sock.recv_into(buffer)
            now = time.monotonic()
            if not n:
                break
            received += buffer[:n]
            stamps.append((now, len(received)))
    position = received.index(b"\r\n\r\n") + 4
    body = bytearray()
    ends = []  # (offset in body, offset in the raw bytes) at the end of each chunk's data
    while True:
        line_end = received.index(b"\r\n", position)
        size = int(received[position:line_end].split(b";")[0], 16)
        if size == 0:
            break
        data_end = line_end + 2 + size
        body += received[line_end + 2 : data_end]
        ends.append((len(body), data_end))
        position = data_end + 2
    offset = 0
    first = None
    for block in bytes(body).split(b"\n\n")[:-1]:
        offset += len(block) + 2
        fields = [line[6:] for line in block.split(b"\n") if line.startswith(b"data: ")]
        if not fields or fields[0] == b"[DONE]":
            continue
        choices = json.loads(fields[0]).get("choices") or [{}]
        if choices[0].get("delta", {}).get("content"):
            raw = next(raw_end for body_end, raw_end in ends if body_end >= offset)
            first = next(t for t, total in stamps if total >= raw) - started
            break
    return {"started": started, "first_content": first}


class Reference:
    """A reference reader (``--reference``) in a process of its own, kept for every round, and in
    a session of its own as the kit's reader worker is: the same standing with the scheduler
    (on Linux each session is a scheduling group of its own, with autogroup)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--reference"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def read(self, url: str, headers: list[str]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps([url, *headers]) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the reference reader exited ({self.process.wait()})")
        return dict(json.loads(line))

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


def client(*arguments: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *arguments], capture_output=True, text=True, timeout=600
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"client {arguments[0]} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- servers -------------------------------------------------------------------------------------


def build_app() -> Any:
    from streamkit import App, Response, request

    app = App("bench_events")

    @app.route("/tokens")
    def tokens() -> Response:
        count = int(request.args.get("n", "100000"))

        def generate() -> Iterator[bytes]:
            for _ in range(count):
                yield TOKEN

        return Response(generate(), mimetype="text/event-stream")

    @app.route("/chat")
    def chat() -> Response:
        # An LLM-style reply: a role-only delta at once, the first token after `delay` seconds,
        # then `rate` tokens a second, then [DONE].
        delay = float(request.args.get("delay", "0.1"))
        rate = float(request.args.get("rate", "50"))
        count = int(request.args.get("n", "10"))

        def generate() -> Iterator[str]:
            yield 'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
            start = time.monotonic() + delay
            for index in range(count):
                time.sleep(max(0.0, start + index / rate - time.monotonic()))
                yield (
                    "data: "
                    + json.dumps({"choices": [{"index": 0, "delta": {"content": f"t{index} "}}]})
                    + "\n\n"
                )
            yield "data: [DONE]\n\n"

        return Response(generate(), mimetype="text/event-stream")

    return app


class BlastServer:
    """A plain socket server sending one prepared response to each connection."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    head = b""
                    while b"\r\n\r\n" not in head:
                        data = conn.recv(65536)
                        if not data:
                            break
                        head += data
                    conn.sendall(self.payload)
                    conn.shutdown(socket.SHUT_WR)
                    while conn.recv(65536):
                        pass
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


# -- measurements --------------------------------------------------------------------------------


def parsing_cost(url: str, count: int, rounds: int) -> tuple[float, float, float, float]:
    """Best wall times of the probe (with every record made and read) with and without events,
    over interleaved rounds; their ratio; and the ratio of the best reading times
    (``trace.duration``, which ends when the last byte is read)."""
    times: dict[str, list[float]] = {"sse": [], "none": []}
    durations: dict[str, list[float]] = {"sse": [], "none": []}
    for _ in range(rounds):
        for events in ("sse", "none"):
            measured = client("--client", url, events)
            assert measured["chunks"] == count and not measured["error"], measured
            if events == "sse":
                assert measured["events"] == count == measured["content"], measured
            times[events].append(measured["seconds"])
            durations[events].append(measured["duration"])
    best, base = min(times["sse"]), min(times["none"])
    return best, base, best / base, min(durations["sse"]) / min(durations["none"])


def parsing_rows(kit_url: str, count: int, rounds: int) -> list[Row]:
    best, base, ratio, reading = parsing_cost(f"{kit_url}/tokens?n={count}", count, rounds)
    rows: list[Row] = [
        (
            f"{count:,} SSE token events from an App: probe with events / without (wall time)",
            f"{(ratio - 1) * 100:+.1f}% ({best:.2f} vs {base:.2f} s; reading {(reading - 1) * 100:+.1f}%)",
            "< +10%",
            ratio < 1.10,
        )
    ]
    body = b"".join(b"%x\r\n%s\r\n" % (len(TOKEN), TOKEN) for _ in range(count)) + b"0\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    blast = BlastServer(head + body)
    try:
        best, base, ratio, reading = parsing_cost(blast.url, count, rounds)
    finally:
        blast.close()
    rows.append(
        (
            f"the same {count:,} events from a plain socket (client-bound): with / without",
            f"{(ratio - 1) * 100:+.1f}% ({best:.2f} vs {base:.2f} s; reading {(reading - 1) * 100:+.1f}%)",
            "reported",
            None,
        )
    )
    return rows


def in_memory_rows(count: int) -> list[Row]:
    from streamkit.events import SSEParser
    from streamkit.http1 import ChunkedReader

    events = b"".join(b"%x\r\n%s\r\n" % (len(TOKEN), TOKEN) for _ in range(count)) + b"0\r\n\r\n"
    row = b"x" * 55
    plain = b"".join(b"%x\r\n%s\r\n" % (len(row), row) for _ in range(count)) + b"0\r\n\r\n"

    def pieces(body: bytes) -> list[bytes]:
        return [body[i : i + 262144] for i in range(0, len(body), 262144)]

    def ours(body: bytes, parse: bool) -> float:
        parser = SSEParser() if parse else None
        reader = ChunkedReader(keep=True, events=parser)
        started = time.perf_counter()
        for piece in pieces(body):
            reader.feed(piece, 0.0)
            if parser is not None:
                parser.parse()
        assert reader.done and len(reader.chunks) == count
        return time.perf_counter() - started

    def h11_loop(body: bytes) -> float:
        import h11

        connection = h11.Connection(h11.CLIENT)
        connection.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
        connection.send(h11.EndOfMessage())
        connection.receive_data(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        assert isinstance(connection.next_event(), h11.Response)
        seen = 0
        started = time.perf_counter()
        for piece in pieces(body):
            connection.receive_data(piece)
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA or isinstance(event, h11.EndOfMessage):
                    break
                seen += event.chunk_end  # a chunk split across pieces comes as two Data events
        assert seen == count
        return time.perf_counter() - started

    rows: list[Row] = []
    parse, no_parse = [], []
    for _ in range(3):
        no_parse.append(ours(events, False))
        parse.append(ours(events, True))
    rows.append(
        (
            f"{count:,} SSE events in memory: chunked reader + SSE parser / reader alone",
            f"{min(parse) / min(no_parse):.2f}x ({count / min(parse):,.0f} events/s parsed)",
            "reported",
            None,
        )
    )
    try:
        import h11  # noqa: F401
    except ImportError:
        return rows
    theirs, mine = [], []
    for _ in range(3):
        mine.append(ours(plain, False))
        theirs.append(h11_loop(plain))
    rows.append(
        (
            f"{count:,} chunks of 55 bytes in memory: h11 0.16 loop / streamkit.http1",
            f"{min(theirs) / min(mine):.1f}x ({min(theirs):.3f} vs {min(mine):.3f} s)",
            "reported",
            None,
        )
    )
    return rows


def first_content_rows(server: Any, rounds: int) -> list[Row]:
    """Each round, three requests one after the other, in an order that turns round by round:
    the kit's ``Server.get`` (read in its reader worker process) and two reference readers, each
    in a long-lived process of its own. The kit is compared with the first reference; the two
    references with each other, which is what this machine's scheduling alone makes two
    readers disagree by (the floor of the comparison)."""
    from streamkit import recording

    path = "/chat?delay=0.1&rate=50&n=10"
    references = [Reference(), Reference()]

    def kit() -> float:
        trace = server.get(path)
        assert trace.first_content is not None and trace.produced, trace
        # The app's items: the role delta, then the tokens; the first token is item 1.
        return float(trace.first_content - trace.produced[1].t)

    def reference(reader: Reference) -> float:
        trace_id = uuid.uuid4().hex
        noted = recording.start(trace_id)
        try:
            measured = reader.read(server.url + path, [f"{recording.TRACE_HEADER}: {trace_id}"])
            noted.sent.wait(5)
        finally:
            recording.finish(trace_id)
        produced = list(noted.produced)
        assert measured["first_content"] is not None and len(produced) >= 2, measured
        return float(measured["first_content"] - (produced[1][0] - measured["started"]))

    readers = [kit, lambda: reference(references[0]), lambda: reference(references[1])]
    kit_differences, floor_differences = [], []
    try:
        for index in range(rounds):
            lags = [0.0, 0.0, 0.0]
            for which in [(index + k) % 3 for k in range(3)]:
                lags[which] = readers[which]()
            kit_differences.append(abs(lags[0] - lags[1]))
            floor_differences.append(abs(lags[2] - lags[1]))
    finally:
        for reader in references:
            reader.close()

    def p99(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000

    def figures(values: list[float]) -> str:
        return (
            f"{p99(values):.3f} ms (median {statistics.median(values) * 1000:.3f} ms; "
            f"{sum(d > 0.002 for d in values)} of {rounds} over 2 ms)"
        )

    floor = figures(floor_differences)
    if p99(floor_differences) >= 2:
        floor += ": this machine alone misses 2 ms, so this run cannot show the target"
    return [
        (
            f"first_content vs an independent reader, 50 tokens/s, {rounds} rounds: |difference| p99",
            figures(kit_differences),
            "< 2 ms",
            p99(kit_differences) < 2,
        ),
        ("the same rounds, two independent readers against each other (the floor)", floor, "reported", None),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer events and rounds: a fast look")
    parser.add_argument("--client", nargs=2, metavar=("URL", "EVENTS"), help=argparse.SUPPRESS)
    parser.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        run_client(*args.client)
        return 0
    if args.reference:
        run_reference()
        return 0

    from streamkit import serve

    quick = args.quick
    count = 20_000 if quick else 100_000
    results: list[Row] = []
    with serve(build_app()) as server:
        steps = [
            ("parsing cost", lambda: parsing_rows(server.url, count, 2 if quick else 3)),
            ("in memory", lambda: in_memory_rows(count)),
            ("first content", lambda: first_content_rows(server, 20 if quick else 150)),
        ]
        for name, step in steps:
            print(f"  measuring {name} ...", file=sys.stderr, flush=True)
            results.extend(step())
    width = max(len(row[0]) for row in results)
    value_width = max(len(row[1]) for row in results)
    print(f"\nstreamkit events benchmark{' (--quick)' if quick else ''}")
    print(f"{'measurement':<{width}}  {'measured':<{value_width}}  {'target':<9}  result")
    for what, value, target, passed in results:
        result = "reported" if passed is None else ("PASS" if passed else "FAIL")
        print(f"{what:<{width}}  {value:<{value_width}}  {target:<9}  {result}")
    judged = [row for row in results if row[3] is not None]
    failed = sum(not row[3] for row in judged)
    print(f"\n{len(judged) - failed} of {len(judged)} targets met")
    return 0  # a missed target is reported above, not an error


if __name__ == "__main__":
    raise SystemExit(main())
