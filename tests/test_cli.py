"""`streamkit demo` and `streamkit serve`, run end to end as real subprocesses."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from streamkit import probe
from streamkit.demos import DEMOS

COMMAND = [sys.executable, "-m", "streamkit"]
ENV = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1"}


def test_demo_prints_the_three_techniques_with_timelines_and_verdicts() -> None:
    done = subprocess.run(
        [*COMMAND, "demo", "--quick"], capture_output=True, text=True, timeout=60, env=ENV
    )
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
def serving() -> Iterator[tuple[subprocess.Popen, str]]:
    process = subprocess.Popen(
        [*COMMAND, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        first = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)/", first)
        assert match, f"no URL in {first!r}; stderr: {process.stderr.read() if process.poll() is not None else ''}"
        yield process, match.group(1)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def test_serve_serves_the_demo_app_until_ctrl_c(serving: tuple[subprocess.Popen, str]) -> None:
    process, url = serving
    index = probe(url + "/")
    assert index.status == 200 and b"streamkit demos" in index.body
    rows = probe(url + "/csv?rows=3")
    assert rows.body.splitlines()[-1] == b"3,item-3,3743"
    bad = probe(url + "/greet")
    assert bad.status == 400
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "stopped" in out
    assert "Traceback" not in err
    with pytest.raises(OSError):
        probe(url + "/", timeout=2)


def test_serve_lists_the_demos_with_what_to_watch(serving: tuple[subprocess.Popen, str]) -> None:
    process, url = serving
    listing = "".join(process.stdout.readline() for _ in DEMOS for _line in range(2))
    assert f"{url}/slow?rows=10&delay_ms=400\n" in listing
    assert "RuntimeError" in listing
    process.send_signal(signal.SIGTERM)  # ends it as cleanly as Ctrl-C
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
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
