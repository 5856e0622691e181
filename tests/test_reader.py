"""The reader worker: arrival times a busy app in the same process cannot distort.

Timing checks compare with a plain reader in a process of its own (benchmarks/reference_reader.py)
reading the same stream in the same test, never with absolute milliseconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from streamkit import (
    App,
    ProbeError,
    Response,
    probe,
    reader,
    recording,
    request,
    serve,
)
from streamkit.probe import read_response
from streamkit.trace import Chunk, Event, arrivals

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "benchmarks" / "reference_reader.py"
ITEMS = 200
WORK = 0.002


def busy(seconds: float) -> None:
    """Compute for ``seconds`` without letting go of the GIL."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def cpu_app() -> App:
    app = App("cpu")

    @app.route("/cpu")
    def cpu() -> Response:
        count = int(request.args.get("n", ITEMS))

        def generate() -> Iterator[str]:
            for n in range(count):
                busy(WORK)
                yield f"item {n}\n"

        return Response(generate(), mimetype="text/plain")

    return app


def slow_parts(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    for i in range(5):
        time.sleep(0.05)
        yield b"part %d\n" % i


def endless(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    while True:
        time.sleep(0.01)
        yield b"tick\n"


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def largest_gap(times: list[float]) -> float:
    return max(b - a for a, b in pairwise(times))


def reference_read(url: str, trace_id: str) -> tuple[list[Chunk], float]:
    done = subprocess.run(
        [sys.executable, str(REFERENCE), url, f"{recording.TRACE_HEADER}: {trace_id}"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    return [Chunk(t, size, None, size) for t, size in measured["chunks"]], measured["started"]


@pytest.fixture
def reader_mode(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    def use(mode: str) -> None:
        monkeypatch.setenv(reader.ENV_VAR, mode)

    return use


# -- fidelity --------------------------------------------------------------------------------


def fidelity_round(server: Any) -> tuple[str, bool]:
    """Read the CPU-bound stream with the reference reader, server.get and probe(): a summary
    of the figures, and whether ours are as good as the reference's (generous margins)."""
    trace_id = uuid.uuid4().hex
    noted = recording.start(trace_id)  # the server side, recorded for the reference's request
    try:
        ref_chunks, ref_started = reference_read(server.url + "/cpu", trace_id)
        assert noted.sent.wait(5)
    finally:
        recording.finish(trace_id)
    ref_produced = [Event(t - ref_started, size) for t, size, _ in noted.produced]
    ref_lags = [a - e.t for e, a in zip(ref_produced, arrivals(ref_produced, ref_chunks)) if a is not None]
    got = server.get("/cpu")
    plain = probe(server.url + "/cpu")
    assert len(ref_lags) == ITEMS and len(got.produced) == ITEMS and len(plain.chunks) == ITEMS
    assert "reader worker process" in got.reader and plain.reader == got.reader
    lags = [e.arrived - e.t for e in got.produced if e.arrived is not None]
    assert len(lags) == ITEMS and min(lags) > 0  # one clock: nothing arrives before it was made
    # The stream's own pace: the time between two items the app made.
    period = sorted(b.t - a.t for a, b in pairwise(got.produced))[ITEMS // 2]
    ref_gap = largest_gap([chunk.t for chunk in ref_chunks])
    gap = largest_gap([chunk.t for chunk in plain.chunks])
    figures = (
        f"lag p99 {p99(lags) * 1000:.2f} ms (reference {p99(ref_lags) * 1000:.2f}, items "
        f"{period * 1000:.2f} ms apart); largest gap {gap * 1000:.2f} ms (reference {ref_gap * 1000:.2f})"
    )
    # Read in this process, lag p99 was 8-23 ms against items 2 ms apart, and the largest gap
    # 5-70 times the reference's.
    good = p99(lags) <= 4 * p99(ref_lags) + period / 2 and gap <= 4 * ref_gap
    return figures, good


def test_cpu_bound_app_in_this_process_does_not_delay_arrival_times() -> None:
    rounds = []
    with serve(cpu_app()) as server:
        server.get("/cpu?n=5")  # warm up: imports, the worker's start
        for _ in range(4):  # a loaded machine can disturb either reader: one clean round will do
            figures, good = fidelity_round(server)
            rounds.append(figures)
            if good:
                break
    assert good, rounds


# -- the worker's life -------------------------------------------------------------------------


def test_the_worker_starts_once_and_is_reused() -> None:
    with serve(slow_parts) as server:
        first = server.get("/")
        pid = reader.worker_pid()
        assert pid is not None and str(pid) in first.reader
        second = probe(server.url)
        third = read_response(server.url, keep_body=False)
    assert reader.worker_pid() == pid
    assert all(str(pid) in trace.reader for trace in (second, third))
    assert first.body == second.body == b"".join(b"part %d\n" % i for i in range(5))
    assert [chunk.data for chunk in third.chunks] == [None] * 5


def test_chunks_reach_on_chunk_while_the_body_is_still_coming() -> None:
    seen: list[tuple[float, int]] = []
    with serve(slow_parts) as server:
        trace = read_response(
            server.url,
            on_chunk=lambda t: seen.append((time.monotonic(), len(t.chunks))),
        )
    assert [count for _, count in seen] == [1, 2, 3, 4, 5]
    # The first chunk was handed over before the last had even arrived (200 ms later).
    assert seen[0][0] < trace.started + trace.chunks[-1].t


def test_errors_are_raised_here_as_before_and_the_worker_lives_on() -> None:
    with serve(slow_parts) as server:
        server.get("/")
        pid = reader.worker_pid()
        port = server.port
    with pytest.raises(
        ProbeError,
        match=f"connection refused: nothing is listening on 127.0.0.1 port {port}",
    ):
        probe(f"http://127.0.0.1:{port}/")
    with pytest.raises(ValueError, match="expected an http:// or https:// URL"):
        probe("ftp://example.com/")
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        probe(f"http://127.0.0.1:{port}/", timeout=0)
    assert reader.worker_pid() == pid


def test_an_interrupted_read_replaces_the_worker_and_leaves_no_process() -> None:
    def stop(trace: Any) -> None:
        raise KeyboardInterrupt

    with serve(endless) as server:
        server.get("/", max_seconds=0.05)
        old = reader.worker_pid()
        # The read ends where it was interrupted and keeps what had arrived, as in-process.
        cut = read_response(server.url, on_chunk=stop)
        assert cut.interrupted and len(cut.chunks) == 1
        assert old is not None and not process_alive(old)
        again = server.get("/", max_seconds=0.05)
    assert again.stopped and len(again.chunks) >= 1
    assert reader.worker_pid() not in (None, old)


def process_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def children() -> set[int]:
    """This process's child processes (from /proc)."""
    found = set()
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me:
                found.add(int(entry))
    return found


def open_fd_targets() -> Counter[str]:
    targets: Counter[str] = Counter()
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets[os.readlink(f"/proc/self/fd/{fd}")] += 1
        except FileNotFoundError:
            pass
    return targets


def settle(leftover: Callable[[], Any], seconds: float = 5.0) -> Any:
    deadline = time.monotonic() + seconds
    while (left := leftover()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="counts processes and fds in /proc")
def test_thirty_reruns_and_shutdown_leave_no_process_thread_or_fd() -> None:
    reader.shutdown()
    before = (set(threading.enumerate()), open_fd_targets(), children())
    serve(slow_parts, name="reader-rerun").get("/")  # the worker starts here
    worker = reader.worker_pid()
    threads, fds, kids = set(threading.enumerate()), open_fd_targets(), children()
    assert worker in kids
    for run in range(30):
        server = serve(slow_parts, name="reader-rerun")
        if run % 2:
            assert server.get("/").verdict == "streamed"
        else:
            assert server.get("/", max_seconds=0.06).stopped
    server.stop()
    assert reader.worker_pid() == worker
    assert settle(lambda: set(threading.enumerate()) - threads) == set()
    assert settle(lambda: open_fd_targets() - fds) == Counter()
    assert settle(lambda: children() - kids) == set()
    reader.shutdown()  # and the worker itself goes, with its pipes
    assert not process_alive(worker)
    assert settle(lambda: set(threading.enumerate()) - before[0]) == set()
    assert settle(lambda: open_fd_targets() - before[1]) == Counter()
    assert settle(lambda: children() - before[2]) == set()


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_the_worker_dies_when_its_parent_is_killed_mid_read() -> None:
    code = """
import threading, time
from streamkit import probe, reader, serve
def endless(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    while True:
        time.sleep(0.01)
        yield b"tick\\n"
server = serve(endless)
threading.Thread(target=probe, args=(server.url,), kwargs={"timeout": 60}, daemon=True).start()
while reader.worker_pid() is None:
    time.sleep(0.01)
time.sleep(0.2)  # the worker is reading the endless stream now
print(reader.worker_pid(), flush=True)
time.sleep(60)
"""
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = parent.stdout.readline() if parent.stdout else ""
        assert line.strip().isdigit(), line
        worker = int(line)
        assert process_alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert settle(lambda: process_alive(worker), seconds=10) is False
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout:
            parent.stdout.close()


# -- falling back ------------------------------------------------------------------------------


def test_inprocess_mode_reads_here_and_says_so(
    reader_mode: Callable[[str], None],
) -> None:
    reader_mode("inprocess")
    with serve(slow_parts) as server:
        trace = server.get("/")
    assert trace.verdict == "streamed" and len(trace.chunks) == 5
    assert "read in this process" in trace.note and "STREAMKIT_READER=inprocess" in trace.note
    assert trace.reader is not None and "read in this process" in trace.reader


def test_a_worker_that_cannot_start_falls_back_with_a_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader.shutdown()
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    try:
        with serve(slow_parts) as server:
            trace = server.get("/")
            again = probe(server.url)
        assert reader.worker_pid() is None
    finally:
        monkeypatch.undo()
        reader.shutdown()  # forget the failure: the next probe starts a worker again
    assert trace.body == again.body == b"".join(b"part %d\n" % i for i in range(5))
    for got in (trace, again):
        assert "read in this process" in got.note and "/nonexistent/python3" in got.note


def test_a_bad_reader_mode_is_a_clear_error(reader_mode: Callable[[str], None]) -> None:
    reader_mode("sideways")
    with pytest.raises(ValueError, match="STREAMKIT_READER must be one of auto, worker, inprocess"):
        probe("http://127.0.0.1:1/")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_lets_go_of_the_worker_so_it_still_dies_with_its_parent() -> None:
    code = """
import os, sys, time
from streamkit import probe, reader, serve
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
server = serve(app)
probe(server.url)
worker = reader.worker_pid()
child = os.fork()
if child == 0:  # a child that outlives its parent, holding nothing of the worker's
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # nor the test's pipes
        os.dup2(devnull, fd)
    time.sleep(30)
    os._exit(0)
print(worker, child, flush=True)
os._exit(0)  # the parent goes without closing anything (as a killed kernel would)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    worker, child = (int(word) for word in done.stdout.split())
    try:
        assert settle(lambda: process_alive(worker), seconds=10) is False
    finally:
        os.kill(child, signal.SIGKILL)
