"""Shared test set-up: helpers used by several test files, and the Flask parity table.

* :data:`needs_nginx` and :data:`needs_chromium` skip a test, with a reason naming the package
  to install, when the program is missing (or hidden with ``STREAMKIT_NGINX=/nonexistent``,
  see :mod:`streamkit.programs`); :func:`needs_marks` gives the marks for a lesson's ``NEEDS``;
* :func:`wrong` checks that an exercise check calls an answer wrong, and why;
* :class:`Closable` is a custom iterator that counts its ``close()`` calls;
* :func:`living_processes` reads /proc for processes that still run;
* :func:`raw_server` answers requests on a plain socket with bytes a test writes itself;
* the slow stream of ``tests/apps/production_app.py`` (:data:`app`, :data:`SLOW`) with
  :func:`assert_streamed` and :func:`assert_held_back`, for the server and gzip tests.
"""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from streamkit.exercises import why_missing
from streamkit.programs import missing_program

# -- system programs ------------------------------------------------------------------------

#: None when nginx is there; else why tests that need it skip (names nginx-light).
NGINX_MISSING = missing_program("nginx")


#: None when chromium and playwright are there; else why browser tests skip.
CHROMIUM_MISSING = why_missing("chromium")

needs_nginx = pytest.mark.skipif(NGINX_MISSING is not None, reason=str(NGINX_MISSING))
needs_chromium = pytest.mark.skipif(CHROMIUM_MISSING is not None, reason=str(CHROMIUM_MISSING))
_NEEDS = {"nginx": needs_nginx, "chromium": needs_chromium}


def needs_marks(needs: Iterable[str]) -> list[pytest.MarkDecorator]:
    """The skip marks for programs such as ``("nginx",)`` (a lesson module's ``NEEDS``)."""
    return [_NEEDS[name] for name in needs]


# -- exercises and iterators ----------------------------------------------------------------


def wrong(exercise: Any, answer: Any, *words: str) -> None:
    """Assert that ``exercise`` calls ``answer`` wrong, with each of ``words`` in its message."""
    result = exercise.check(answer)
    assert result.status == "wrong", str(result)
    for word in words:
        assert word in result.message, (word, result.message)


class Closable:
    """A custom iterator with close(), counting how often close() runs."""

    def __init__(self, items: Iterable[str] = ("a", "b", "c")) -> None:
        self._items = iter(items)
        self.closed = 0

    def __iter__(self) -> Closable:
        return self

    def __next__(self) -> str:
        return next(self._items)

    def close(self) -> None:
        self.closed += 1


# -- the slow stream of tests/apps/production_app.py ---------------------------------------

APPS = Path(__file__).parent / "apps"
GAP = 0.15  # seconds between the parts of the slow stream
PARTS = 5
SLOW = f"/parts?count={PARTS}&gap={GAP}"


def _load_test_app() -> Any:
    """tests/apps/production_app.py, loaded by path (gunicorn imports it by name from APPS)."""
    spec = importlib.util.spec_from_file_location("production_app", APPS / "production_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


production_app = _load_test_app()
app = production_app.app


def pieces(trace: Any) -> list[Any]:
    """The chunks that carried body bytes (a proxy may send a gzip header on its own)."""
    return [chunk for chunk in trace.chunks if chunk.size]


def assert_streamed(trace: Any, parts: int = PARTS, gap: float = GAP) -> None:
    """``parts`` pieces, spread over at least half the time the app took to make them."""
    got = pieces(trace)
    assert trace.error is None, trace.error
    assert len(got) == parts, [(round(c.t, 3), c.size) for c in trace.chunks]
    spread = got[-1].t - got[0].t
    made_over = (parts - 1) * gap
    assert spread >= 0.5 * made_over, (spread, made_over)
    assert got[0].t < 0.5 * got[-1].t  # the first piece did not wait for the rest
    assert trace.verdict == "streamed", trace


def assert_held_back(trace: Any, parts: int = PARTS, gap: float = GAP) -> None:
    """At most two pieces, the first arriving late: after most of the stream was made."""
    got = pieces(trace)
    assert trace.error is None, trace.error
    assert 1 <= len(got) <= 2, [(round(c.t, 3), c.size) for c in trace.chunks]
    made_over = (parts - 1) * gap
    assert got[0].t >= 0.7 * made_over, (got[0].t, made_over)


# -- processes ------------------------------------------------------------------------------


def endless_text_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """A WSGI app whose text/plain (nosniff) stream never ends: a tick every 0.1 s."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Content-Type-Options", "nosniff")])

    def body() -> Iterable[bytes]:
        while True:
            yield b"tick\n"
            time.sleep(0.1)

    return body()


def living_processes(*, group: int | None = None, pids: set[int] | None = None) -> set[int]:
    """Pids of processes that are still running (zombies waiting to be reaped do not count),
    restricted to one process group and/or a set of pids. Linux only (reads /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (pids is not None and int(entry.name) not in pids):
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        state, pgrp = fields[0], int(fields[2])
        if state in ("Z", "X") or (group is not None and pgrp != group):
            continue
        found.add(int(entry.name))
    return found


# -- the Flask parity table -----------------------------------------------------------------

# Filled by test_flask_parity.py: (scenario, streamkit's result, Flask's result).
PARITY_ROWS: list[tuple[str, str, str]] = []


@pytest.fixture
def parity_rows() -> list[tuple[str, str, str]]:
    return PARITY_ROWS


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if not PARITY_ROWS:
        return
    from importlib.metadata import version

    terminalreporter.section(f"streamkit vs Flask {version('flask')}")
    width = max(len(row[0]) for row in PARITY_ROWS)
    terminalreporter.write_line(f"{'scenario':<{width}}  {'streamkit':<22}  flask")
    for scenario, ours, theirs in PARITY_ROWS:
        marker = "" if ours == theirs else "   <- differs"
        terminalreporter.write_line(f"{scenario:<{width}}  {ours:<22}  {theirs}{marker}")


# -- sockets --------------------------------------------------------------------------------


@contextmanager
def raw_server(send: Callable[[socket.socket], None], connections: int = 1) -> Iterator[str]:
    """A socket server that answers ``connections`` requests with ``send(connection)``."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        for _ in range(connections):
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                try:
                    send(connection)
                except OSError:
                    pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        listener.close()
        thread.join(5)
