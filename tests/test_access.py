"""Only the owner gets in: every kit server, read by its owner and by a real second user.

The second user is a real account (``streamkit-other``, made with ``useradd`` when the tests run
as root, removed afterwards); its requests are real ``curl`` processes running with that uid,
on loopback. Without root there is no second user to be, and those tests skip saying so.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import streamkit
from streamkit.access import ACCESS_ENV, CLIENT_HEADER, TOKEN_HEADER, Gate, proc_owner, socket_owner
from tests.conftest import APPS, needs_chromium, needs_nginx

sys.path.insert(0, str(APPS))
import access_app  # noqa: E402  (tests/apps, importable by name for gunicorn too)

OTHER = "streamkit-other"
SLOW = "/parts?count=5&gap=0.15&accel=no"

# (id, serve() arguments): every backend, alone and behind nginx.
SERVERS: list[tuple[str, dict[str, Any]]] = [
    ("werkzeug", {"app": access_app.app}),
    ("waitress", {"app": access_app.app, "server": "waitress"}),
    ("uvicorn", {"app": access_app.asgi_app}),
    ("gunicorn", {"app": "access_app:app", "server": "gunicorn", "cwd": str(APPS), "workers": 1}),
]
NGINX = {"behind": "nginx", "proxy_options": {"gzip": False}}
ALL = [pytest.param(kw, id=name) for name, kw in SERVERS] + [
    pytest.param({**kw, **NGINX}, id=f"{name}-nginx", marks=needs_nginx) for name, kw in SERVERS
]


def _other_user_missing() -> str | None:
    if not sys.platform.startswith("linux"):
        return "uid checks are Linux-only"
    if os.geteuid() != 0:
        return "a second user needs root to be created and to be switched to (run the tests as root)"
    return tools_missing()


#: The programs these tests run besides the kit, with the Debian package that has each.
TOOLS = {"useradd": "passwd", "userdel": "passwd", "curl": "curl"}


def tools_missing() -> str | None:
    """Why the second-user tests cannot run their programs here (naming the package), or None."""
    for program, package in TOOLS.items():
        if shutil.which(program) is None:
            return (
                f"these tests run {program}, which was not found on PATH: on Debian or Ubuntu "
                f"install the package {package}: sudo apt-get install {package}"
            )
    return None


needs_other_user = pytest.mark.skipif(_other_user_missing() is not None, reason=str(_other_user_missing()))


@pytest.fixture(scope="module")
def other() -> Iterator[pwd.struct_passwd]:
    """A real second account on this machine."""
    created = False
    try:
        pwd.getpwnam(OTHER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER],
            check=True,
            capture_output=True,
        )
        created = True
    yield pwd.getpwnam(OTHER)
    if created:
        subprocess.run(["userdel", OTHER], check=False, capture_output=True)


def curl(url: str, *args: str, user: pwd.struct_passwd | None = None) -> tuple[int, dict[str, str], str]:
    """A real curl process (as ``user``, or as this process's user): status, headers, body."""
    as_user: dict[str, Any] = {}
    if user is not None:
        as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [], "cwd": "/"}
    done = subprocess.run(
        ["curl", "-sS", "-i", "--max-time", "15", *args, url],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        **as_user,
    )
    assert done.returncode == 0, done.stderr
    head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def seen(server: streamkit.Server) -> dict[str, Any]:
    """What reached the app, asked by the owner."""
    response = requests.get(server.url + "/seen", timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(params=ALL)
def served(request: pytest.FixtureRequest) -> Iterator[streamkit.Server]:
    kw = dict(request.param)
    server = streamkit.serve(kw.pop("app"), **kw)
    try:
        yield server
    finally:
        server.stop()


def assert_streamed(trace: Any) -> None:
    pieces = [chunk for chunk in trace.chunks if chunk.size]
    assert trace.status == 200 and trace.error is None, (trace.status, trace.error)
    assert len(pieces) == 5, [(round(c.t, 3), c.size) for c in trace.chunks]
    assert pieces[0].t < 0.5 * pieces[-1].t, [(round(c.t, 3), c.size) for c in trace.chunks]
    assert trace.verdict == "streamed", trace


# -- the owner, with nothing to pass ----------------------------------------------------------


@needs_other_user
def test_owner_streams_and_the_other_user_gets_403(
    served: streamkit.Server, other: pwd.struct_passwd
) -> None:
    assert_streamed(served.get(SLOW))
    assert requests.get(served.url + SLOW, timeout=10).status_code == 200
    status, _, body = curl(served.url + SLOW)  # the owner's curl, nothing passed
    assert status == 200 and body.count("part ") == 5
    before = seen(served)["count"]

    status, headers, body = curl(served.url + SLOW, user=other)
    assert status == 403
    assert headers["content-type"].startswith("text/plain")
    assert body.count("\n") == 1 and body.endswith("\n"), body  # one line
    assert "answers only the user who started it" in body and OTHER in body, body
    # Also when it claims to come through the kit's nginx as the owner's connection.
    status, _, body = curl(served.url + SLOW, "-H", f"{CLIENT_HEADER}: 127.0.0.1 1 127.0.0.1 2", user=other)
    assert status == 403 and OTHER in body, body
    assert seen(served)["count"] == before + 1  # only the owner's /seen reached the app

    # The token lets anyone in, and the app never sees it.
    assert served.token is not None
    status, _, body = curl(served.url + "/seen", "-H", f"{TOKEN_HEADER}: {served.token}", user=other)
    assert status == 200, body
    assert served.token not in body and "HTTP_X_STREAMKIT_TOKEN" not in json.loads(body)["headers"]


@needs_other_user
def test_a_shared_server_lets_everyone_in(other: pwd.struct_passwd) -> None:
    with streamkit.serve(access_app.app, shared=True) as server:
        assert server.shared and server.token is None and server.access_headers == {}
        status, _, body = curl(server.url + SLOW, user=other)
        assert status == 200 and body.count("part ") == 5


@pytest.mark.parametrize("app", [access_app.app, access_app.asgi_app], ids=["waitress", "uvicorn"])
def test_one_lookup_per_connection(app: Any) -> None:
    # werkzeug's server closes each connection after one response; these two keep it open.
    kw = {"server": "waitress"} if app is access_app.app else {}
    with streamkit.serve(app, **kw) as server:
        assert server.gate is not None
        before = server.gate.lookups
        with requests.Session() as session:  # one keep-alive connection
            for _ in range(5):
                assert session.get(server.url + "/seen", timeout=10).status_code == 200
        expected = 1 if server.gate.check_uid else 0
        assert server.gate.lookups - before == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uid checks are Linux-only")
def test_socket_owner_names_the_user_of_a_loopback_client() -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listener:
        with socket.create_connection(listener.getsockname()):
            accepted, peer = listener.accept()
            with accepted:
                assert socket_owner(peer, accepted.getsockname()) == os.geteuid()
    # Nothing there: no such connection.
    assert socket_owner(("127.0.0.1", 1), ("127.0.0.1", 2)) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uid checks are Linux-only")
@pytest.mark.parametrize("family", ["ipv4", "ipv6", "ipv4-on-dual-stack"])
def test_the_proc_table_fallback_agrees_with_netlink(family: str) -> None:
    import socket

    if family == "ipv4":
        listener = socket.create_server(("127.0.0.1", 0))
    else:
        listener = socket.create_server(
            ("::1" if family == "ipv6" else "::", 0), family=socket.AF_INET6, dualstack_ipv6=family != "ipv6"
        )
    host = "127.0.0.1" if family.startswith("ipv4") else "::1"
    with listener, socket.create_connection((host, listener.getsockname()[1])):
        accepted, peer = listener.accept()
        with accepted:
            local = accepted.getsockname()
            assert socket_owner(peer, local) == os.geteuid()
            kind = socket.AF_INET6 if family == "ipv6" else socket.AF_INET
            raw = socket.inet_pton(kind, host)
            assert proc_owner(kind, raw, peer[1], raw, local[1]) == os.geteuid()


@needs_other_user
def test_ipv6_loopback_too(other: pwd.struct_passwd) -> None:
    with streamkit.serve(access_app.app, host="::1") as server:
        assert requests.get(server.url + "/seen", timeout=10).status_code == 200
        status, _, body = curl(server.url + "/seen", "-g", user=other)
        assert status == 403 and OTHER in body, body


# -- the token, where uids cannot be told (forced here with STREAMKIT_ACCESS=token) ----------


@pytest.fixture(params=ALL)
def token_served(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[streamkit.Server]:
    monkeypatch.setenv(ACCESS_ENV, "token")
    kw = dict(request.param)
    server = streamkit.serve(kw.pop("app"), **kw)
    monkeypatch.delenv(ACCESS_ENV)
    try:
        yield server
    finally:
        server.stop()


def test_token_path(token_served: streamkit.Server) -> None:
    server = token_served
    token = server.token
    assert token is not None and server.gate is not None and not server.gate.check_uid
    # Without it even the owner is refused, in one line that says what to send.
    response = requests.get(server.url + SLOW, timeout=10)
    assert response.status_code == 403
    assert "needs its access token" in response.text and response.text.count("\n") == 1
    wrong = requests.get(server.url + SLOW, headers={TOKEN_HEADER: "nope"}, timeout=10)
    assert wrong.status_code == 403 and "does not match" in wrong.text
    # server.get sends it by itself, and the stream streams; so does probe() for this
    # process's own servers.
    assert_streamed(server.get(SLOW))
    assert_streamed(streamkit.probe(server.url + SLOW))
    # ?token= (what `streamkit serve` prints) gets in and sets the cookie; the app sees neither.
    response = requests.get(
        server.url + f"/seen?a=1&token={token}&token=app-own", cookies={"x": "1"}, timeout=10
    )
    assert response.status_code == 200, response.text
    got = response.json()
    assert got["query"] == "a=1&token=app-own"  # a token parameter of the app's own stays
    assert token not in json.dumps(got)
    cookie = response.cookies.get(server.gate.cookie_name)
    assert cookie == token
    # The cookie alone then lets a browser's later requests in.
    response = requests.get(
        server.url + "/seen", cookies={server.gate.cookie_name: token, "x": "1"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.json()["cookie"] == "x=1"
    # The header, and server.access_headers, which is that header.
    response = requests.get(server.url + "/seen", headers=server.access_headers, timeout=10)
    assert response.status_code == 200
    assert "HTTP_X_STREAMKIT_TOKEN" not in response.json()["headers"]


@needs_chromium
def test_the_browser_lane_sends_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ACCESS_ENV, "token")
    with streamkit.serve(access_app.app) as server:
        trace = server.get("/parts?count=3&gap=0.1", browser=True)
    assert trace.status == 200, trace
    assert trace.size > 0


def test_a_gate_travels_to_gunicorn_workers_intact() -> None:
    gate = Gate(check_uid=False)
    again = Gate.from_environment(gate.to_environment())
    assert (again.owner, again.token, again.check_uid, again.cookie_name) == (
        gate.owner,
        gate.token,
        gate.check_uid,
        gate.cookie_name,
    )


def test_streamkit_serve_prints_a_url_with_the_token() -> None:
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
        first = process.stdout.readline()
        url = first.split(" at ", 1)[1].split()[0]
        base, _, token = url.partition("/?token=")
        assert base.startswith("http://127.0.0.1:") and token, first
        refused = requests.get(base + "/", timeout=10)
        assert refused.status_code == 403 and "token" in refused.text
        with requests.Session() as browser:  # a browser keeps the cookie
            opened = browser.get(url, timeout=10)
            assert opened.status_code == 200 and b"streamkit demos" in opened.content
            assert browser.get(base + "/csv?rows=3", timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def test_a_missing_tool_skips_naming_its_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: none of the tools is found
    why = tools_missing()
    assert why is not None and "useradd" in why and "apt-get install passwd" in why, why
    for program in ("useradd", "userdel"):
        (tmp_path / program).write_text("#!/bin/sh\n")
        (tmp_path / program).chmod(0o755)
    why = tools_missing()
    assert why is not None and "apt-get install curl" in why, why
