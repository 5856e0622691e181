"""No server process outlives the interpreter that started it, even when that is SIGKILLed.

A child interpreter (standing in for a Jupyter kernel) starts gunicorn (master and two
workers), and nginx in front of werkzeug (master and worker), starts a stream through each,
reports every pid and port, and is then killed with SIGKILL: no ``atexit``, no ``finally``.
Within 2 s, every process it started must be gone, the ports closed and nginx's temporary
directory removed. Linux only: the pids are read from /proc.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamkit.backends import port_open
from tests.conftest import NGINX_MISSING, living_processes

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux only)"
)

APPS = Path(__file__).parent / "apps"
DEADLINE = 2.0  # seconds: what issue 9 asks for

KERNEL = """
import json, os, socket, sys, time
from streamkit import serve

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    def parts():
        for i in range(600):
            yield b"part\\n"
            time.sleep(0.1)
    return parts()

servers = []
if "gunicorn" in sys.argv:
    servers.append(serve("production_app:app", server="gunicorn", cwd=sys.argv[1], workers=2))
if "nginx" in sys.argv:
    servers.append(serve(app, behind="nginx"))
streams = []
for server in servers:  # a stream running through each, as in a notebook that is killed
    client = socket.create_connection(("127.0.0.1", server.port))
    client.sendall(b"GET /parts?count=600&gap=0.1 HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n")
    assert client.recv(100).startswith(b"HTTP/1.1 200")
    streams.append(client)
report = {
    "ports": [server.port for server in servers]
    + [server.backend.port for server in servers if server.proxy is not None],
    "groups": [part.process.pid for server in servers
               for part in (server.backend, server.proxy) if getattr(part, "process", None)],
    "directories": [server.proxy.directory for server in servers if server.proxy is not None],
}
print(json.dumps(report), flush=True)
time.sleep(600)
"""


def descendants(root: int) -> set[int]:
    """Every process below ``root`` (by parent pid), zombies included."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def kill_kernel_and_wait(which: str) -> tuple[dict, set[int], float]:
    """Run KERNEL with ``which`` servers, SIGKILL it; (its report, its processes, seconds
    until all of them were gone, or DEADLINE * 3 if some never went)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH")])
        ),
    }
    kernel = subprocess.Popen(
        [sys.executable, "-c", KERNEL, str(APPS), which],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert kernel.stdout is not None
        line = kernel.stdout.readline()
        assert line, "the child interpreter died before it had started its servers"
        report = json.loads(line)
        processes = descendants(kernel.pid)
        assert len(processes) >= 2 * len(report["groups"]), processes  # masters and workers
        for port in report["ports"]:
            assert port_open("127.0.0.1", port)
        killed = time.monotonic()
        kernel.send_signal(signal.SIGKILL)
        kernel.wait()
        while living_processes(pids=processes) and time.monotonic() - killed < DEADLINE * 3:
            time.sleep(0.01)
        took = time.monotonic() - killed
    finally:
        if kernel.poll() is None:
            kernel.kill()
            kernel.wait()
        if kernel.stdout is not None:
            kernel.stdout.close()
    return report, processes, took


def assert_all_gone(report: dict, processes: set[int], took: float) -> None:
    print(f"{len(processes)} processes, gone {took * 1000:.0f} ms after the kill")
    left = living_processes(pids=processes)
    for group in report["groups"]:  # workers forked after the pids were listed, too
        left |= living_processes(group=group)
    for group in report["groups"]:  # last resort, so a failing run leaves nothing behind
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, f"still running {took:.2f} s after the kill: {sorted(left)}"
    assert took < DEADLINE, f"the servers took {took:.2f} s to go"
    for port in report["ports"]:
        assert not port_open("127.0.0.1", port), f"port {port} still open"
    for directory in report["directories"]:
        assert not os.path.exists(directory), f"{directory} left behind"


def test_gunicorn_master_and_workers_die_with_a_killed_kernel() -> None:
    pytest.importorskip("gunicorn", reason="gunicorn is not installed: pip install 'streamkit-http[servers]'")
    report, processes, took = kill_kernel_and_wait("gunicorn")
    assert len(report["groups"]) == 1
    assert len(living_processes(group=report["groups"][0]) | processes) >= 3
    assert_all_gone(report, processes, took)


@pytest.mark.skipif(NGINX_MISSING is not None, reason=str(NGINX_MISSING))
def test_nginx_in_front_of_werkzeug_dies_with_a_killed_kernel() -> None:
    report, processes, took = kill_kernel_and_wait("nginx")
    assert len(report["groups"]) == 1 and len(report["directories"]) == 1
    assert_all_gone(report, processes, took)


@pytest.mark.skipif(NGINX_MISSING is not None, reason=str(NGINX_MISSING))
def test_servers_started_in_a_jupyter_kernel_die_when_it_is_killed() -> None:
    # What nbval and a stuck "Restart kernel" do: jupyter_client kills the kernel (SIGKILL).
    pytest.importorskip("gunicorn", reason="gunicorn is not installed: pip install 'streamkit-http[servers]'")
    jupyter_client = pytest.importorskip("jupyter_client")
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH")])
            ),
        },
        cwd=str(APPS),
    )
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        code = (
            "from streamkit import serve\n"
            "import json\n"
            f"g = serve('production_app:app', server='gunicorn', cwd={str(APPS)!r})\n"
            "n = serve('production_app:app', server='gunicorn', behind='nginx', cwd="
            f"{str(APPS)!r})\n"
            "print(json.dumps({'ports': [g.port, n.port, n.backend.port], "
            "'groups': [g.backend.process.pid, n.backend.process.pid, n.proxy.process.pid], "
            "'directories': [n.proxy.directory]}))\n"
        )
        lines: list[str] = []
        reply = client.execute_interactive(
            code,
            timeout=60,
            output_hook=lambda msg: lines.append(msg["content"].get("text", "")),
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        report = json.loads("".join(lines))
        processes = set().union(*(living_processes(group=group) for group in report["groups"]))
        processes |= descendants(manager.provisioner.pid) if hasattr(manager.provisioner, "pid") else set()
        assert len(processes) >= 6  # two gunicorn masters and workers, an nginx master and worker
        killed = time.monotonic()
        manager.shutdown_kernel(now=True)  # SIGKILL: no atexit in the kernel
        while living_processes(pids=processes) and time.monotonic() - killed < DEADLINE * 3:
            time.sleep(0.01)
        took = time.monotonic() - killed
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)
    assert_all_gone(report, processes, took)


def test_a_forked_child_does_not_keep_the_servers_alive() -> None:
    # multiprocessing's "fork" copies every descriptor, the lifelines included; the launcher
    # makes forked children drop their copies, so the kernel's death is still seen.
    code = (
        "import os, subprocess, sys, time\n"
        "from streamkit.backends.launcher import launch\n"
        "p = launch([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "print(p.pid, child, flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH")])
        ),
    }
    kernel = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    assert kernel.stdout is not None
    group, forked = (int(n) for n in kernel.stdout.readline().split())
    try:
        kernel.kill()
        kernel.wait()
        killed = time.monotonic()
        while living_processes(group=group) and time.monotonic() - killed < DEADLINE * 3:
            time.sleep(0.01)
        took = time.monotonic() - killed
        assert living_processes(pids={forked}), "the forked child should still be running"
        assert not living_processes(group=group), f"still running {took:.2f} s after the kill"
        assert took < DEADLINE
    finally:
        for pid in (forked, group):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        kernel.stdout.close()
