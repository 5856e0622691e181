"""The lessons, their exercise checks, the tutorials and ``streamkit serve`` work where a kit
server asks for its token: on a learner's Mac, and wherever ``STREAMKIT_ACCESS=token`` is set.

On Linux a kit server knows which user opened each connection, so a lesson's plain
``requests.get(server.url + path)`` gets in with nothing to pass. On macOS and Windows it
cannot, and a request must carry the server's token: ``server.get``, ``probe`` and the browser
lane send it themselves, every other client sends ``server.access_headers``. This file runs,
with ``STREAMKIT_ACCESS=token``, everything learners run that reaches a kit server with a
client other than the kit's own:

* each lesson notebook whose source uses such a client (``requests``, a raw socket, the
  ``openai`` client, ...), top to bottom in a fresh kernel: no cell may raise (except those
  tagged ``raises-exception``) and no output may show a 403; a last cell asserts that the
  lesson's servers really asked for the token;
* the exercise checks that hand a URL to the learner's client code, or read with one;
* the tutorials' and the README's Python blocks that use such a client;
* the curl line ``streamkit serve`` prints for its POST demo.

Which lessons, exercises and documents those are is found by reading their source, so a new
lesson that reaches its server with ``requests`` is run here without anyone listing it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests
from nbclient import NotebookClient

import streamkit
from streamkit import Server
from streamkit.access import ACCESS_ENV, TOKEN_HEADER
from streamkit.exercises import Exercise, lessons
from tests.conftest import needs_marks
from tests.test_exercises import solved
from tests.test_tutorials import python_blocks

ROOT = Path(__file__).resolve().parent.parent
CELL_TIMEOUT = 300  # seconds: only a hung cell gets anywhere near this

# A client other than the kit's probe: these need the token where the uid cannot be checked.
OTHER_CLIENT = re.compile(
    r"requests\.(get|post|request|Session)\(|socket\.create_connection\(|openai\.OpenAI\(|"
    r"urllib\.request|urlopen\(|http\.client|httpx\.|\bcurl\b"
)
# What a refused request looks like in an output: the gate's text, or a client's error.
REFUSED = re.compile(r"403 Forbidden|Error code: 403|status(_code)?[ =:]+403")


def _load_builder() -> Any:
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = _load_builder()


def _code_of_lesson(source: Path) -> str:
    """The lesson source's code, without its comments and Markdown cells."""
    return "\n".join(
        line for line in source.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")
    )


CLIENT_LESSONS = sorted(
    builder.NOTEBOOKS / f"{source.stem}.ipynb"
    for source in (ROOT / "tools" / "notebooks").glob("[0-9][0-9]_*.py")
    if OTHER_CLIENT.search(_code_of_lesson(source))
)


def _lesson_param(path: Path) -> Any:
    module = importlib.import_module(f"streamkit.exercises.lesson{path.name[:2]}")
    return pytest.param(path, marks=needs_marks(getattr(module, "NEEDS", ())), id=path.stem)


def test_the_lessons_with_plain_clients_are_found() -> None:
    # The lessons that read their servers with requests, a raw socket or the openai client.
    assert {path.name[:2] for path in CLIENT_LESSONS} >= {"01", "04", "08", "10"}


# Appended to each lesson: its servers asked for the token, so the lesson ran where it matters.
CHECK_CELL = """
from streamkit import Server as _Server
_servers = [value for value in list(globals().values()) if isinstance(value, _Server)]
assert _servers, "the lesson keeps no server in a variable"
assert all(value.needs_token for value in _servers if not value.shared), _servers
print(len(_servers), "servers, each asking for its token")
"""


@pytest.mark.parametrize("path", [_lesson_param(path) for path in CLIENT_LESSONS])
def test_lesson_runs_where_servers_ask_for_their_token(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamkit.exercises import lesson_unavailable

    reason = lesson_unavailable(path.name[:2])
    if reason:
        pytest.skip(reason)
    for name in builder.UNSET:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ACCESS_ENV, "token")  # the kernel inherits it
    notebook = nbformat.read(str(path), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code:
        cell.outputs, cell.execution_count = [], None
    code.append(nbformat.v4.new_code_cell(CHECK_CELL))
    run = builder.new_notebook(code)
    NotebookClient(
        run,
        timeout=CELL_TIMEOUT,
        kernel_name=builder.KERNELSPEC["name"],
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=True,
        record_timing=False,
    ).execute()
    problems = []
    for number, cell in enumerate(run.cells, start=1):
        expected_error = "raises-exception" in cell.metadata.get("tags", [])
        for output in cell.outputs:
            if output.output_type == "error":
                if not expected_error:
                    problems.append(f"code cell {number} raised {output.ename}: {output.evalue[:300]}")
                continue
            text = output.get("text", "") or "".join(str(value) for value in output.get("data", {}).values())
            if REFUSED.search(text):
                problems.append(f"code cell {number} shows a refused request: {text[:300]!r}")
    assert not problems, f"{path.name} with {ACCESS_ENV}=token:\n" + "\n".join(problems)
    assert "each asking for its token" in "".join(output.get("text", "") for output in run.cells[-1].outputs)


def _uses_other_client(exercise: Exercise) -> bool:
    """The check hands a URL to the learner's client code, or reads the stream with a client."""
    module = importlib.import_module(f"streamkit.exercises.lesson{exercise.lesson}")
    source = Path(str(module.__file__)).read_text(encoding="utf-8")
    return bool(OTHER_CLIENT.search(exercise.solution_code) or OTHER_CLIENT.search(source))


CLIENT_EXERCISES = [
    pytest.param(
        exercise,
        marks=needs_marks(
            getattr(importlib.import_module(f"streamkit.exercises.lesson{exercise.lesson}"), "NEEDS", ())
        ),
        id=f"{exercise.lesson}.{exercise.number}",
    )
    for exercises in lessons().values()
    for exercise in exercises
    if _uses_other_client(exercise)
]


def test_the_exercises_with_plain_clients_are_found() -> None:
    found = {param.id for param in CLIENT_EXERCISES}
    assert {"01.3", "10.1"} <= found, found


@pytest.mark.parametrize("exercise", CLIENT_EXERCISES)
def test_exercise_check_passes_its_solution_where_servers_ask_for_their_token(
    exercise: Exercise, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ACCESS_ENV, "token")
    result = exercise.check(solved(exercise))
    assert result.status == "correct", str(result)


# -- the tutorials and the README ------------------------------------------------------------

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "tutorials").glob("*.md"))]
CLIENT_DOCUMENTS = [
    path for path in DOCUMENTS if any(OTHER_CLIENT.search(block) for block in python_blocks(path))
]


def test_the_documents_with_plain_clients_are_found() -> None:
    assert {"01-generators.md", "06-tokens.md"} <= {path.name for path in CLIENT_DOCUMENTS}


@pytest.mark.parametrize("path", CLIENT_DOCUMENTS, ids=lambda path: path.name)
def test_document_code_runs_where_servers_ask_for_their_token(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ACCESS_ENV, "token")
    namespace: dict[str, object] = {"__name__": f"token_mode_{path.stem.replace('-', '_')}"}
    started: list[Server] = []
    real_serve = streamkit.serve

    def serve_and_keep(*args: Any, **kwargs: Any) -> Server:
        server = real_serve(*args, **kwargs)
        started.append(server)
        return server

    monkeypatch.setattr(streamkit, "serve", serve_and_keep)
    try:
        for number, block in enumerate(python_blocks(path), start=1):
            exec(compile(block, f"{path.name} (python block {number})", "exec"), namespace)
    finally:
        for server in started:
            server.stop()
    assert started and all(server.needs_token for server in started if not server.shared)
    assert not REFUSED.search(capsys.readouterr().out)


# -- streamkit serve -------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_streamkit_serve_prints_a_curl_line_that_gets_in() -> None:
    env = {**os.environ, ACCESS_ENV: "token", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamkit", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        while "Only you can use this server" not in lines[-1]:
            assert lines[-1], "streamkit serve ended early:\n" + "".join(lines)
            lines.append(process.stdout.readline())
        base = lines[0].split(" at ", 1)[1].split("/?token=", 1)[0]
        token = lines[0].split("/?token=", 1)[1].split()[0]
        # The last line names the header for curl and scripts.
        assert f"'{TOKEN_HEADER}: {token}'" in lines[-1]
        # A request without it is refused, in one line that names what to send.
        refused = requests.get(base + "/", timeout=10)
        assert refused.status_code == 403 and "headers=server.access_headers" in refused.text
        assert refused.text.count("\n") == 1
        # The printed curl line, run as printed, gets the first event.
        command = next(line.strip() for line in lines if line.strip().startswith("curl "))
        curl = subprocess.Popen(shlex.split(command), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            assert curl.stdout is not None
            first = curl.stdout.readline()
        finally:
            curl.kill()
            curl.wait(timeout=10)
            if curl.stdout is not None:
                curl.stdout.close()
        assert first.startswith(b"data: {") and b"chat.completion.chunk" in first, first
    finally:
        process.terminate()
        process.wait(timeout=10)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
