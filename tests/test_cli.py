"""`streamkit demo` and `streamkit serve`, run end to end as real subprocesses."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO

import pytest

from streamkit import probe
from streamkit.demos import DEMOS

COMMAND = [sys.executable, "-m", "streamkit"]
ENV = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1"}
LINE_TIMEOUT = 30.0  # seconds to wait for one line of output before the test fails


class Lines:
    """A pipe read line by line on a thread, so a test waits for output with a deadline, never forever."""

    def __init__(self, pipe: IO[str], name: str) -> None:
        self.name = name
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
        self._thread.start()

    def _pump(self, pipe: IO[str]) -> None:
        try:
            for line in pipe:
                self._lines.put(line)
        finally:
            self._lines.put(None)  # end of output

    def readline(self, timeout: float = LINE_TIMEOUT) -> str:
        """The next line, "" once the output has ended; fails the test if none comes in ``timeout``."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"`streamkit serve` printed no line on {self.name} within {timeout:.0f} s")
        if line is None:
            self._lines.put(None)  # stay at the end for later reads
            return ""
        return line

    def rest(self, timeout: float = LINE_TIMEOUT) -> str:
        """Everything up to the end of the output (call once the process has exited)."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            pytest.fail(f"`streamkit serve`'s {self.name} did not end within {timeout:.0f} s")
        text = []
        while (line := self._lines.get_nowait()) is not None:
            text.append(line)
        self._lines.put(None)
        return "".join(text)

    def join(self, timeout: float = 10.0) -> None:
        """Wait for the reader to reach the end of the pipe (the process has exited)."""
        self._thread.join(timeout)


class Serving:
    """A running `streamkit serve` subprocess, its URL, and its output read with deadlines."""

    def __init__(self, process: subprocess.Popen, stdout: Lines, stderr: Lines, url: str) -> None:
        self.process, self.stdout, self.stderr, self.url = process, stdout, stderr, url

    def stop_with(self, sig: int) -> tuple[str, str]:
        """Send ``sig``, wait for the exit (with a deadline) and return the remaining output."""
        self.process.send_signal(sig)
        self.process.wait(timeout=10)
        return self.stdout.rest(), self.stderr.rest()


def test_demo_prints_the_three_techniques_with_timelines_and_verdicts() -> None:
    done = subprocess.run([*COMMAND, "demo", "--quick"], capture_output=True, text=True, timeout=60, env=ENV)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert done.stderr == "", "server threads must not print"
    headings = re.findall(r"^\d\. .*$", out, flags=re.M)
    assert len(headings) == 3
    assert "generator" in headings[0] and "CSV" in headings[0]
    assert "enable_buffering(5)" in headings[1]
    assert "stream_with_context" in headings[2]
    # Five timelines, each with its verdict and totals.
    assert out.count("verdict: ") == 5
    assert out.count("received: ") == 5
    assert out.count("headers arrived") == 5
    sections = out.split("--- ")[1:]
    assert [s.split(" ---")[0] for s in sections] == [
        "generator",
        "enable_buffering(5)",
        "unbuffered",
        "with stream_with_context",
        "without stream_with_context",
    ]
    without = sections[-1]
    assert "verdict: broken" in without
    assert "error in the app: RuntimeError: Working outside of request context." in without
    assert "verdict: broken" not in "".join(sections[:-1])
    # enable_buffering(5) sends fewer chunks than the same template unbuffered.
    counts = dict(re.findall(r"^(enable_buffering\(5\)|unbuffered)\s+\w+\s+([\d,]+) chunks", out, flags=re.M))
    assert int(counts["enable_buffering(5)"]) < int(counts["unbuffered"])
    assert "\u2588" in out  # the text bars


@pytest.fixture
def serving() -> Iterator[Serving]:
    process = subprocess.Popen(
        [*COMMAND, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    stdout, stderr = Lines(process.stdout, "stdout"), Lines(process.stderr, "stderr")
    try:
        first = stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)/", first)
        assert match, f"no URL in {first!r}; stderr: {stderr.rest(5) if process.poll() is not None else ''}"
        yield Serving(process, stdout, stderr, match.group(1))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        stdout.join()  # the readers end at EOF; close the pipes only after them
        stderr.join()
        process.stdout.close()
        process.stderr.close()


def test_serve_serves_the_demo_app_until_ctrl_c(serving: Serving) -> None:
    url = serving.url
    index = probe(url + "/")
    assert index.status == 200 and b"streamkit demos" in index.body
    rows = probe(url + "/csv?rows=3")
    assert rows.body.splitlines()[-1] == b"3,item-3,3743"
    bad = probe(url + "/greet")
    assert bad.status == 400
    out, err = serving.stop_with(signal.SIGINT)
    assert serving.process.returncode == 0
    assert "stopped" in out
    assert "Traceback" not in err
    with pytest.raises(OSError):
        probe(url + "/", timeout=2)


def test_serve_lists_the_demos_with_what_to_watch(serving: Serving) -> None:
    lines = sum(2 if demo.method == "GET" else 3 for demo in DEMOS)
    listing = "".join(serving.stdout.readline() for _ in range(lines))
    assert f"{serving.url}/slow?rows=10&delay_ms=400\n" in listing
    # The POST demo is listed with a curl line to paste
    assert f"POST {serving.url}/v1/chat/completions" in listing
    assert f"curl -N {serving.url}/v1/chat/completions --json '{{" in listing
    assert "RuntimeError" in listing
    out, _ = serving.stop_with(signal.SIGTERM)  # ends it as cleanly as Ctrl-C
    assert serving.process.returncode == 0
    assert "stopped" in out


def test_serve_on_a_busy_port_says_so_and_exits() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [*COMMAND, "serve", "--port", str(port)], capture_output=True, text=True, timeout=30, env=ENV
        )
    assert done.returncode == 1
    assert str(port) in done.stderr and "--port" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
