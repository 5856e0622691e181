"""The README's Python examples run as written, and do what their comments say."""

from __future__ import annotations

import re
from pathlib import Path

from streamkit.trace import VERDICTS

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_examples_run(capsys) -> None:
    blocks = python_blocks()
    assert len(blocks) >= 2, "the README should show the three techniques and a probe"
    namespace: dict = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    app = namespace["app"]
    # The server was stopped by the example itself.
    assert not namespace["server"].running
    printed = capsys.readouterr().out.split()
    trace = namespace["trace"]
    assert printed[-1] == trace.verdict in VERDICTS
    # Each yield left on its own: the CSV arrived in many pieces, the first long before the end.
    assert len(trace.chunks) > 10
    assert trace.ttfb < trace.duration / 2

    client = app.test_client()
    assert client.get("/hello?name=Ada").get_data() == b"Hello Ada"
    report = client.get("/report")
    items = list(report.response)
    report.close()
    # 1000 rows of <li>, </li> parts, grouped five at a time by enable_buffering(5).
    assert 500 < len(items) < 1000
    assert b"".join(items).startswith(b"<ul><li>0</li>")


def test_every_install_hint_installs_this_project() -> None:
    """The index's ``streamkit`` is an unrelated project: hints name ``streamkit-http`` or ``.``."""
    root = README.parent
    places = [README, root / "environment.yml", root / "Makefile", root / "notebooks" / "README.md"]
    places += sorted((root / "tutorials").glob("*.md")) + sorted((root / "tools" / "notebooks").glob("*.py"))
    places += sorted((root / "streamkit").rglob("*.py"))
    hints = 0
    for path in places:
        for hint in re.findall(r"pip install\s+(?:-e\s+|-r\s+\S+\s+)?(['\"]?[^\s'\"`]+)", path.read_text(encoding="utf-8")):
            hints += 1
            target = hint.strip("'\"")
            assert target.startswith((".", "streamkit-http")), f"{path.name}: pip install {hint}"
    assert hints >= 10
