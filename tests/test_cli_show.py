"""``streamkit probe --save``, ``doctor --save`` and ``show``: files written from real requests,
shown again as text, SVG and an HTML report that stands alone; a bad file is one line and
exit status 2, never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from streamkit import App, Diagnosis, NaiveGzipMiddleware, Response, Trace, serve, tracefile
from streamkit.cli import main
from streamkit.programs import find_program
from tests.conftest import needs_chromium

SCHEMA = json.loads(tracefile.schema_path().read_text(encoding="utf-8"))
EVIL = "\x1b[2Jcleared <script>alert(1)</script>"

app = App(__name__)


@app.route("/parts")
def parts() -> Response:
    def generate():
        for i in range(4):
            if i:
                time.sleep(0.08)
            yield f"part {i}\n"

    return Response(generate(), mimetype="text/plain", headers={"X-Note": EVIL, "X-Content-Type-Options": "nosniff"})


def test_probe_save_then_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "t.json"
    with serve(app) as server:
        assert main(["probe", server.url + "/parts", "--save", str(saved)]) == 0
    probed = capsys.readouterr()
    assert f"saved: {saved}" in probed.err
    jsonschema.validate(json.loads(saved.read_text()), SCHEMA)
    trace = Trace.load(saved)
    assert trace.verdict == "streamed" and trace.headers["X-Note"] == EVIL
    svg, page = tmp_path / "t.svg", tmp_path / "t.html"
    assert main(["show", str(saved), "--svg", str(svg), "--html", str(page)]) == 0
    shown = capsys.readouterr()
    assert shown.out.strip() == trace.to_text().strip()  # the timeline, its verdict included
    assert "verdict: streamed" in shown.out
    assert svg.read_text() == trace.to_svg()
    report = page.read_text()
    assert "Verdict: streamed." in report and "\x1b" not in report and "<script>alert" not in report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report  # the header, escaped


def test_doctor_save_then_show_findings_and_a_report_that_stands_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "d.json"
    with serve(NaiveGzipMiddleware(app)) as server:
        assert main(["doctor", server.url + "/parts", "--save", str(saved), "--max-seconds", "5"]) == 1
    capsys.readouterr()
    jsonschema.validate(json.loads(saved.read_text()), SCHEMA)
    diagnosis = Diagnosis.load(saved)
    assert diagnosis.culprit == "compression" and len(diagnosis.traces) >= 2
    page = tmp_path / "d.html"
    assert main(["show", str(saved), "--html", str(page)]) == 0
    shown = capsys.readouterr().out
    assert str(diagnosis) in shown and "[compression-no-flush]" in shown
    report = page.read_text()
    # The picture, the verdict, each finding with its fix, the request.
    assert '<img class="streamkit-timeline"' in report and "data:image/svg+xml;base64," in report
    assert "held back by the compression" in report
    for finding in diagnosis.findings:
        assert finding.code in report
        if finding.fix:
            assert re.sub(r"\s+", " ", finding.fix.replace("'", "&#x27;").replace('"', "&quot;"))[:40] in report
    assert "The request as given" in report and "/parts" in report
    # Nothing outside the file: no scripts, no style sheets or images fetched from anywhere.
    assert "<script" not in report
    assert not re.search(r'(src|href)="(?!data:)', report)
    assert "url(" not in report and "@import" not in report


@needs_chromium
def test_the_report_opens_in_headless_chromium(tmp_path: Path) -> None:
    trace = Trace(url="http://127.0.0.1:1/x", status=200)
    page = tmp_path / "r.html"
    from streamkit.report import html_report

    with serve(app) as server:
        trace = server.get("/parts")
    page.write_text(html_report(trace))
    shot = tmp_path / "r.png"
    done = subprocess.run(
        [
            find_program("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
            f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri(),
        ],  # fmt: skip
        capture_output=True,
        timeout=120,
    )
    assert shot.exists(), done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


BAD = {
    "truncated": ('{"format": "streamkit-trace", "version": 1, "trace": {"url": "http://x/", "chu', "cut short"),
    "foreign": ('{"name": "left-pad", "version": "1.3.0"}', "not a streamkit file"),
    "garbage": ("\x00\x01\x02 binary \xff", "not"),
    "newer": ('{"format": "streamkit-trace", "version": 9, "trace": {}}', "version 9"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_show_a_bad_file_prints_one_line_and_exits_2(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, reason = BAD[kind]
    path = tmp_path / f"{kind}.json"
    path.write_bytes(text.encode("latin-1"))
    assert main(["show", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"streamkit show: {path}: ") and reason in lines[0]


def test_show_a_missing_file_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamkit", "show", str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"streamkit show: {tmp_path / 'missing.json'}: cannot be read (No such file or directory)"


def test_save_into_a_missing_folder_fails_before_any_request(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "http://127.0.0.1:9/", "--save", "/no/such/folder/t.json"]) == 2
    assert "does not exist" in capsys.readouterr().err
