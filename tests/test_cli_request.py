"""`streamkit probe` and `doctor` with curl's request options, against a real server on loopback.

The app records every request it gets, so each test can check what was sent (or that nothing
was, when the arguments are bad). Live rows are checked in a real pseudo-terminal.
"""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamkit import App, Response, cli, request
from streamkit.cli import build_parser, json_switch, main
from streamkit.server import Server, serve

app = App(__name__)
SEEN: list[tuple[str, bytes, dict[str, str]]] = []


@app.route("/chat", methods=["GET", "POST", "PUT", "HEAD"])
def chat() -> Response:
    SEEN.append((request.method, request.get_data(), dict(request.headers)))
    gap = float(request.args.get("gap", "0"))

    def generate() -> Iterator[str]:
        yield ": ping\n\n"
        for word in ["Hel", "lo"]:
            time.sleep(gap)
            yield "data: " + json.dumps({"choices": [{"delta": {"content": word}}]}) + "\n\n"
        yield "data: [DONE]\n\n"

    return Response(generate(), mimetype="text/event-stream")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = serve(app)
    yield running
    running.stop()


@pytest.fixture
def url(server: Server) -> str:
    SEEN.clear()
    return server.url + "/chat"


def last() -> tuple[str, bytes, dict[str, str]]:
    assert SEEN, "the server got no request"
    return SEEN[-1]


# -- bodies --------------------------------------------------------------------------------------


def test_data_is_posted_as_a_form_and_joined_with_ampersands(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["probe", url, "-d", "a=1", "--data", "b=2", "--data-raw", "@c"]) == 0
    method, body, headers = last()
    assert (method, body) == ("POST", b"a=1&b=2&@c")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    out = capsys.readouterr().out
    assert "events: 3 server-sent events (2 with content), 1 comment" in out
    assert "first content:" in out


def test_json_sets_both_content_type_and_accept_unless_given(url: str) -> None:
    assert main(["probe", url, "--json", '{"stream": true}']) == 0
    method, body, headers = last()
    assert (method, json.loads(body)) == ("POST", {"stream": True})
    assert headers["Content-Type"] == headers["Accept"] == "application/json"
    assert main(["probe", url, "--json", "[1]", "-H", "Accept: text/event-stream"]) == 0
    assert last()[2]["Accept"] == "text/event-stream"


def test_files_and_standard_input(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = tmp_path / "body.txt"
    body.write_bytes(b"a=1\r\n&b=2\n")
    assert main(["probe", url, "-d", f"@{body}"]) == 0
    assert last()[1] == b"a=1&b=2"  # curl's -d drops CR and LF from a file
    assert main(["probe", url, "--data-binary", f"@{body}"]) == 0
    assert last()[1] == b"a=1\r\n&b=2\n"
    (tmp_path / "q.json").write_text('{"q": "é"}\n', encoding="utf-8")
    assert main(["probe", url, "--json", f"@{tmp_path / 'q.json'}"]) == 0
    assert json.loads(last()[1]) == {"q": "é"}
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"from": "stdin"}')))
    assert main(["probe", url, "--json", "@-"]) == 0
    assert json.loads(last()[1]) == {"from": "stdin"}


def test_methods_and_headers_in_curl_words(url: str) -> None:
    assert main(["probe", url, "-XPUT", "-d", "x"]) == 0
    assert last()[0] == "PUT"
    assert main(["probe", url, "--request", "put"]) == 0
    assert last()[:2] == ("PUT", b"")
    main(["probe", url, "-I"])
    assert last()[0] == "HEAD"
    assert main(["probe", url, "-b", "a=1", "-b", "b=2", "-A", "agent/1"]) == 0
    assert last()[2]["Cookie"] == "a=1; b=2" and last()[2]["User-Agent"] == "agent/1"


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--json", "{bad"], "--json: the body is not valid JSON"),
        (["-d", "@/no/such/file"], "cannot read '/no/such/file'"),
        (["--json", "[1]", "-d", "a"], "not both"),
        (["-H", "no colon"], "a header must look like"),
        (["-b", "cookies.txt"], "not from a file"),
        (["-L"], "cannot honour curl's -L: the kit does not follow redirects"),
        (["-sSk"], "cannot honour curl's -k (in -sSk)"),
        (["--http2"], "HTTP/1.1 only"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_request(
    url: str, arguments: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["probe", url, *arguments]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert SEEN == []


def test_a_body_too_large_to_keep_is_refused(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "MAX_BODY", 10)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 11)
    assert main(["probe", url, "--data-binary", f"@{big}"]) == 2
    assert main(["probe", url, "-d", "x" * 11]) == 2
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"y" * 11)))
    assert main(["probe", url, "-d", "@-"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all("may be at most 10 bytes" in line for line in lines), lines
    assert SEEN == []


def test_harmless_curl_flags_are_ignored_with_one_notice(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["probe", url, "-sS", "-N", "--no-buffer", "--compressed", "-i", "--http1.1"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "streamkit probe: ignoring curl's -sS -N --no-buffer -i --http1.1"
    )


def test_unknown_options_are_still_errors(url: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["probe", url, "--frobnicate"])
    assert exited.value.code == 2
    assert SEEN == []


def test_events_and_content_options(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", url, "--events", "none"]) == 0
    assert "events:" not in capsys.readouterr().out
    assert main(["probe", url, "--content", "choices.0.delta.content"]) == 0
    assert "(2 with content)" in capsys.readouterr().out


# -- doctor's --json -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "json_output", "body"),
    [
        (["doctor", "--json", "http://h/x"], True, []),
        (["doctor", "http://h/x", "--json"], True, []),
        (["doctor", "--json", '{"a": 1}', "http://h/x"], False, ['{"a": 1}']),
        (["doctor", "http://h/x", "--json", '{"a": 1}'], False, ['{"a": 1}']),
        (["doctor", "--json", '{"a": 1}', "http://h/x", "--json"], True, ['{"a": 1}']),
        (["doctor", "http://h/x", "--json", "--max-seconds", "3"], True, []),
        (["doctor", "http://h/x", "--json", "-1"], False, ["-1"]),
    ],
)
def test_doctor_json_alone_is_the_output_switch(argv: list[str], json_output: bool, body: list[str]) -> None:
    args, extras = build_parser().parse_known_args(json_switch(argv))
    assert extras == []
    assert (args.url, args.json_output, args.json_body) == ("http://h/x", json_output, body)


def test_probe_has_no_output_switch() -> None:
    args = build_parser().parse_args(["probe", "http://h/x"])
    assert args.json_output is False


def test_doctor_sends_the_body(url: str) -> None:
    main(["doctor", url, "--json", '{"a": 1}', "--max-seconds", "3"])
    posted = [entry for entry in SEEN if entry[0] == "POST"]
    assert posted and all(json.loads(entry[1]) == {"a": 1} for entry in posted)


# -- live rows -------------------------------------------------------------------------------------


def run_in_terminal(arguments: list[str], timeout: float = 60) -> list[tuple[float, str]]:
    """Run ``python -m streamkit ARGS`` with a pseudo-terminal as stdout; (seconds, line) read."""
    import pty

    master, slave = pty.openpty()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamkit", *arguments], stdout=slave, stderr=subprocess.DEVNULL
    )
    os.close(slave)
    lines: list[tuple[float, str]] = []
    pending = b""
    try:
        while time.monotonic() - started < timeout:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 4096)
            except OSError:  # the terminal closed
                break
            if not data:
                break
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                lines.append((time.monotonic() - started, line.decode("utf-8", "replace").rstrip("\r")))
    finally:
        process.kill()
        process.wait()
        os.close(master)
    return lines


@pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")
def test_probe_in_a_terminal_prints_each_event_as_it_arrives(url: str) -> None:
    lines = run_in_terminal(["probe", url + "?gap=0.6"])
    texts = [text for _, text in lines]
    first = next(t for t, text in lines if '"Hel"' in text)
    second = next(t for t, text in lines if '"lo"' in text)
    verdict = next(t for t, text in lines if text.startswith("verdict:"))
    assert second - first > 0.3  # printed as it came, not at the end
    headers = next(t for t, text in lines if "headers arrived" in text)
    assert first - headers > 0.3  # the head as soon as the headers are in, before any token
    assert verdict >= second
    assert any(text.startswith("first event:") for text in texts)
    ping = next(i for i, text in enumerate(texts) if "(comment)" in text and '": ping"' in text)
    assert ping < next(i for i, text in enumerate(texts) if '"Hel"' in text)  # the keep-alive came first


def test_probe_not_in_a_terminal_prints_the_timeline_at_the_end(url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streamkit", "probe", url, "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "chunk" in done.stdout and "events: 3 server-sent events" in done.stdout
