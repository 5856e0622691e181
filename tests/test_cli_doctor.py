"""``streamkit doctor URL`` and the command line's small truths (issue 10, sections 5 and 8).

Exit status, the same for ``probe`` and ``doctor``: 0 it streams, 1 held back, broken or
unreachable, 2 bad arguments, 130 after Ctrl-C (with the partial timeline printed first).
Server text is escaped before it reaches the terminal, and a body error is also one line on
stderr. Real servers on 127.0.0.1 throughout; Ctrl-C is a real SIGINT to a real process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamkit import serve
from streamkit.cli import main
from streamkit.compression import NaiveGzipMiddleware
from tests.conftest import endless_text_app, raw_server

ROOT = Path(__file__).resolve().parent.parent


def parts_app(environ, start_response):
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("X-Content-Type-Options", "nosniff")],
    )

    def body():
        for i in range(4):
            if i:
                time.sleep(0.15)
            yield b"part %d\n" % i

    return body()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


# -- exit status ------------------------------------------------------------------------------


def test_doctor_exits_0_for_a_stream_and_1_for_one_held_back(capsys):
    with serve(parts_app) as good, serve(NaiveGzipMiddleware(parts_app)) as held:
        assert main(["doctor", good.url + "/", "--max-seconds", "5"]) == 0
        streams = capsys.readouterr().out
        assert main(["doctor", held.url + "/"]) == 1
        blamed = capsys.readouterr().out
        assert main(["probe", held.url + "/"]) == 1  # probe: the same status for the same stream
        assert main(["probe", good.url + "/"]) == 0
    assert "it streams" in streams
    assert "held back by: compression" in blamed and "[compression-no-flush]" in blamed
    assert "fix:" in blamed


@pytest.mark.parametrize("command", ["probe", "doctor"])
@pytest.mark.parametrize(
    "arguments, words",
    [
        (["localhost:5000/x"], "http://"),
        (["ftp://127.0.0.1/"], "http://"),
        (["http://127.0.0.1:1/", "--timeout", "0"], "--timeout"),
        (["http://127.0.0.1:1/", "--max-seconds", "-1"], "--max-seconds"),
        (["http://127.0.0.1:1/", "-H", "no colon"], "Name: value"),
    ],
)
def test_bad_arguments_exit_2_for_probe_and_doctor(command, arguments, words, capsys):
    assert main([command, *arguments]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["probe", "doctor"])
def test_an_unreachable_url_exits_1_with_one_line(command, capsys):
    url = closed_port_url()
    assert main([command, url]) == 1
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and "refused" in out.err


# -- small truths -----------------------------------------------------------------------------


def test_server_text_is_escaped_before_it_reaches_the_terminal(capsys):
    def send(connection: socket.socket) -> None:
        connection.sendall(
            b"HTTP/1.1 200 OK\x1b[2J\r\nContent-Type: text/plain\x1b]0;pwned\x07\r\n"
            b"Content-Length: 5\r\nX-Content-Type-Options: nosniff\r\n\r\nhello"
        )

    with raw_server(send) as url:
        main(["probe", url])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0" in out  # shown, escaped


def test_a_body_error_is_also_one_line_on_stderr(capsys):
    def send(connection: socket.socket) -> None:
        connection.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"6\r\nfirst\n\r\n40\r\ncut short"
        )

    with raw_server(send) as url:
        status = main(["probe", url])
    out = capsys.readouterr()
    assert status == 1
    assert "broken" in out.out  # the timeline says it
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "the body broke" in lines[0] and "IncompleteRead" in lines[0]


@pytest.mark.parametrize("command", ["probe", "doctor"])
def test_ctrl_c_prints_what_arrived_and_exits_130(command):
    with serve(endless_text_app) as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamkit", command, server.url + "/", "--max-seconds", "30"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        try:
            time.sleep(2.0)  # the interpreter starts, and some ticks arrive
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 130, (out, err)
    assert "interrupted" in err and "Traceback" not in err
    assert "tick" not in out  # sizes and times, not the body
    if command == "probe":
        assert "chunk" in out and "interrupted" in out.lower()
    else:
        assert "interrupted" in out and "requests made" in out


def test_doctor_json_prints_the_diagnosis_and_keeps_the_exit_status(capsys):
    import json

    with serve(parts_app) as good, serve(NaiveGzipMiddleware(parts_app)) as held:
        assert main(["doctor", good.url + "/", "--upstream", good.url + "/", "--json"]) == 0
        streams = json.loads(capsys.readouterr().out)
        assert main(["doctor", "--json", held.url + "/"]) == 1
        blamed = json.loads(capsys.readouterr().out)
    assert streams["streams"] is True and streams["culprit"] is None
    assert len(streams["requests"]) == 4 and len(streams["hops"]) == 1
    assert all(r["verdict"] == "streamed" and r["summary"] for r in streams["requests"] + streams["hops"])
    assert blamed["streams"] is False and blamed["culprit"] == "compression"
    first = blamed["findings"][0]
    assert first["code"] == "compression-no-flush" and first["evidence"] and first["fix"]
    assert first["warning"] is False


def test_a_bad_upstream_url_exits_2_and_no_progress_line_off_a_terminal(capsys):
    assert main(["doctor", "http://127.0.0.1:1/", "--upstream", "nope"]) == 2
    assert "--upstream" in capsys.readouterr().err
    with serve(parts_app) as good:
        assert main(["doctor", good.url + "/", "--max-seconds", "5"]) == 0
    assert "\r" not in capsys.readouterr().err  # stderr is not a terminal here


@pytest.mark.parametrize("quiet", [False, True])
def test_the_progress_line_shows_on_a_terminal_and_is_cleared(quiet):
    import pty

    with serve(parts_app) as good:
        main_fd, terminal_fd = pty.openpty()
        command = [sys.executable, "-m", "streamkit", "doctor", good.url + "/", "--max-seconds", "5"]
        process = subprocess.Popen(
            command + (["--quiet"] if quiet else []), stdout=subprocess.PIPE, stderr=terminal_fd,
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        os.close(terminal_fd)
        out, _ = process.communicate(timeout=30)
        err = b""
        while True:
            try:
                data = os.read(main_fd, 65536)
            except OSError:
                break
            if not data:
                break
            err += data
        os.close(main_fd)
    assert process.returncode == 0 and b"it streams" in out
    if quiet:
        assert err == b""
    else:
        assert b"\rdoctor: " in err and b" s  as given: " in err  # elapsed time, pieces per request
        assert err.endswith(b"\r\x1b[K")  # cleared when done
