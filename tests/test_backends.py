"""The backend contract: every backend and proxy the kit ships implements the Protocols of
:mod:`streamkit.backends`, and :func:`~streamkit.backends.stop_process_group` ends a whole group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamkit.backends import Backend, Proxy, stop_process_group
from streamkit.backends.gunicorn import GunicornBackend
from streamkit.backends.launcher import launch
from streamkit.backends.nginx import NginxProxy
from streamkit.backends.waitress import WaitressBackend
from streamkit.backends.werkzeug import WerkzeugBackend
from tests.conftest import living_processes

# Checked by mypy: each class's instances satisfy the protocol.
_BACKENDS: tuple[type[Backend], ...] = (WerkzeugBackend, WaitressBackend, GunicornBackend)
_PROXIES: tuple[type[Proxy], ...] = (NginxProxy,)


def _app(environ, start_response):  # type: ignore[no-untyped-def]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.mark.parametrize("backend_class", [WerkzeugBackend, WaitressBackend])
def test_in_process_backends_implement_the_protocol(backend_class: type) -> None:
    backend = backend_class(_app, "127.0.0.1", 0, on_error=lambda error: None)
    assert isinstance(backend, Backend)
    assert backend.start() is backend
    try:
        assert backend.port != 0 and backend.url.endswith(f":{backend.port}")
    finally:
        backend.stop()


def test_subprocess_backend_and_proxy_implement_the_protocols() -> None:
    assert isinstance(GunicornBackend("m:app", "127.0.0.1", 0), Backend)
    assert GunicornBackend.runs_elsewhere is True
    try:
        proxy = NginxProxy("127.0.0.1:1")
    except Exception as error:  # nginx missing: the protocol check still needs an instance
        pytest.skip(str(error))
    assert isinstance(proxy, Proxy)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_stop_process_group_ends_the_leader_and_its_children() -> None:
    # A leader that ignores the polite signal and has a child: both must be gone afterwards.
    code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    began = time.monotonic()
    stop_process_group(process, signal.SIGTERM, timeout=0.3)
    took = time.monotonic() - began
    assert process.returncode == -signal.SIGKILL
    assert not living_processes(group=process.pid)
    assert took < 5  # two timeouts and a little: it never hangs
    process.stdout.close()


def test_backends_module_has_no_private_copies() -> None:
    here = Path(__file__).resolve().parents[1] / "streamkit" / "backends"
    for name in ("gunicorn.py", "nginx.py"):
        text = (here / name).read_text()
        assert "os.killpg" not in text, f"{name} should use stop_process_group()"


def _watchdogs(marker: str) -> set[int]:
    """Running launcher watchdogs whose command line holds ``marker``."""
    found = set()
    for pid in living_processes():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"launcher.py") for arg in cmdline) and marker.encode() in cmdline:
            found.add(pid)
    return found


def test_launch_of_a_missing_program_is_file_not_found() -> None:
    with pytest.raises(FileNotFoundError, match="no-such-program"):
        launch(["/nonexistent/no-such-program"])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_launched_process_keeps_its_pid_and_stop_leaves_no_watchdog() -> None:
    marker = f"streamkit-test-{time.monotonic_ns()}"
    process = launch(
        [
            sys.executable,
            "-c",
            "import sys, time; print(sys.argv[1], flush=True); time.sleep(60)",
            marker,
        ],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdout.readline().decode().strip() == marker  # the command itself runs
    assert Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")[1] == b"-c"  # exec'd
    assert os.getpgid(process.pid) == process.pid  # its own group, as start_new_session
    assert len(_watchdogs(marker)) == 1
    stop_process_group(process, signal.SIGTERM, timeout=1.0)
    assert process.returncode == -signal.SIGTERM
    assert not _watchdogs(marker)  # release() waited for it
    process.stdout.close()


def test_a_launched_worker_can_talk_through_pipes() -> None:
    # A reader worker speaks over stdin/stdout: the watchdog holds neither pipe, so the parent
    # sees end-of-file as soon as the worker exits.
    echo = "import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)\n"
    process = launch([sys.executable, "-c", echo], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = process.communicate(b"one\ntwo\n", timeout=10)
    assert out == b"ONE\nTWO\n" and process.returncode == 0
    stop_process_group(process)  # already gone: releases the watchdog
