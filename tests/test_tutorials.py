"""The tutorials' Python code works: every ```python block of each tutorial runs, in order.

Each Markdown file in ``tutorials/`` is one test. Its ```python blocks run one after the other
in a single namespace, as a reader pasting them into one interpreter would; the blocks start
real servers on 127.0.0.1 and make real requests. Other fenced blocks (text, bash,
javascript) are shown to readers, not run. A tutorial must stop the servers it starts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streamkit import server as server_module

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def python_blocks(path: Path) -> list[str]:
    return PYTHON_BLOCK.findall(path.read_text(encoding="utf-8"))


def tutorial_files() -> list[Path]:
    return sorted(TUTORIALS.glob("*.md"))


def test_every_technique_has_a_tutorial() -> None:
    names = [path.name for path in tutorial_files()]
    for technique in ("generators", "templates", "context"):
        assert any(technique in name for name in names), f"no tutorial about {technique} in {names}"
    assert "instructor-guide.md" in names


@pytest.mark.parametrize("path", [p for p in tutorial_files() if python_blocks(p)], ids=lambda p: p.name)
def test_tutorial_code_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    running_before = set(server_module._running)
    namespace: dict[str, object] = {"__name__": f"tutorial_{path.stem.replace('-', '_')}"}
    for number, block in enumerate(python_blocks(path), start=1):
        code = compile(block, f"{path.name} (python block {number})", "exec")
        exec(code, namespace)
    # The tutorials print what they show the reader; the output must not be empty noise.
    out = capsys.readouterr().out
    assert out.strip(), f"{path.name} printed nothing; its blocks show their results with print()"
    left_running = set(server_module._running) - running_before
    assert not left_running, f"{path.name} left servers running: {left_running}"
