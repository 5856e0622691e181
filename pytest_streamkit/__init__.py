"""The pytest plugin: a ``stream_server`` fixture, and failed stream checks saved as trace files.

Installed with streamkit-http and registered through the ``pytest11`` entry point. It costs
nothing in a test suite that does not use it: this module imports only pytest, and streamkit
is imported inside the fixture and inside the hook, when a test needs it. That is why it is a
top-level module beside the ``streamkit`` package rather than inside it: importing any
``streamkit.*`` module first runs ``streamkit/__init__.py``, which imports the whole kit (more
time than importing pytest itself).

* ``stream_server(app, **serve_options)`` serves ``app`` for real on loopback and returns the
  running :class:`streamkit.Server`; every server a test started is stopped after the test.
  ``app`` is a Flask app or app factory, Django's ``get_wsgi_application()`` or
  ``get_asgi_application()``, a FastAPI, Starlette or Quart app, a streamkit App, any WSGI or
  ASGI callable, or an import string (see :func:`streamkit.testing.as_app`). The options are
  :func:`streamkit.serve`'s (``server="uvicorn"``, ``behind="nginx"``, ...).
* ``stream_server_options``: the options every ``stream_server`` call starts from (empty);
  override this fixture in a conftest.py to pick a server for a whole suite.
* When :func:`streamkit.testing.assert_streams` or ``assert_held`` fails, the trace is saved
  as a trace file and as its SVG picture, to the folder ``--streamkit-traces=DIR`` names, or
  to the test's temporary folder, and the report says where. CI keeps that folder. (Write
  the option with ``=``: pytest works out its root folder before plugins are loaded, and
  takes a plugin option's value given after a space for a path to test.)

Under pytest-xdist each worker process has its own servers, reader and file names (the
worker id is part of each server's name and file name), so nothing is shared.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

OPTION = "--streamkit-traces"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("streamkit", "streamkit: streaming checks")
    group.addoption(
        OPTION,
        dest="streamkit_traces",
        metavar="DIR",
        default=None,
        help="save the trace of each failed stream check (a .json trace file and a .svg "
        "picture) in DIR; default: the test's temporary folder",
    )


def _file_stem(nodeid: str) -> str:
    """``tests/test_a.py::test_b[x]`` -> ``tests_test_a.py__test_b_x_`` (plus the xdist worker)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-150:]
    return f"{stem}-{worker}" if worker else stem


@pytest.fixture
def stream_server_options() -> dict[str, Any]:
    """What every ``stream_server(app)`` call starts from: :func:`streamkit.serve`'s keyword
    options. Empty here (werkzeug for WSGI apps, uvicorn for ASGI apps); override it in a
    conftest.py, e.g. to return ``{"server": "waitress"}``."""
    return {}


@pytest.fixture
def stream_server(request: pytest.FixtureRequest, stream_server_options: dict[str, Any]) -> Iterator[Any]:
    """A factory: ``stream_server(app, **serve_options)`` serves ``app`` on loopback and returns
    the running :class:`streamkit.Server` (``.get(path)`` probes it). Everything it started
    stops after the test."""
    from streamkit.testing import ServerFactory

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    factory = ServerFactory(f"pytest:{worker}:{request.node.nodeid}", stream_server_options)
    try:
        yield factory
    finally:
        factory.stop_all()


def _trace_folder(item: pytest.Item) -> Path:
    chosen = item.config.getoption("streamkit_traces", None)
    if chosen:
        return Path(chosen)
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if isinstance(tmp_path, Path):
        return tmp_path
    # The test did not ask for tmp_path: a folder of its own under pytest's base temporary one.
    factory = getattr(item.config, "_tmp_path_factory", None)
    if factory is not None:
        return Path(factory.mktemp(_file_stem(item.name)[:30], numbered=True))
    return Path.cwd()


def _save_failed_trace(item: pytest.Item, error: BaseException) -> list[Path]:
    from streamkit.trace import Trace

    trace = getattr(error, "trace", None)
    if not isinstance(trace, Trace):
        return []
    folder = _trace_folder(item)
    folder.mkdir(parents=True, exist_ok=True)
    stem = _file_stem(item.nodeid)
    saved = trace.save(folder / f"{stem}.json")
    picture = folder / f"{stem}.svg"
    picture.write_text(trace.to_svg(), encoding="utf-8")
    return [saved, picture]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or not report.failed or call.excinfo is None:
        return
    error = call.excinfo.value
    # Only a failed stream check carries a trace; any other failure costs one getattr.
    if not isinstance(error, AssertionError) or getattr(error, "trace", None) is None:
        return
    try:
        saved = _save_failed_trace(item, error)
    except Exception as exc:  # a full disk must not hide the test's own failure
        report.sections.append(("streamkit", f"could not save the trace: {exc}"))
        return
    if saved:
        lines = [f"the trace of this failed stream check is saved: {path}" for path in saved]
        lines.append("open it with: streamkit show " + str(saved[0]))
        report.sections.append(("streamkit trace", "\n".join(lines)))
        item.user_properties.append(("streamkit_trace", str(saved[0])))
