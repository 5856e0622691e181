"""server.link(): the plain URL, or the way through jupyter-server-proxy, measured for real.

The proxy test starts a real Jupyter Server with jupyter-server-proxy (base URL
``/user/learner/``, as JupyterHub gives a learner) in front of a kit server, follows the link
``server.link()`` gives with ``JUPYTERHUB_SERVICE_PREFIX`` set, and probes it twice: with the
probe's default ``Accept: */*`` the proxy buffers the whole response, with
``Accept: text/event-stream`` it streams.
"""

from __future__ import annotations

import importlib.util
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import streamkit
from streamkit.access import ACCESS_ENV
from streamkit.display import PROXY_NOTE, Link
from tests.conftest import APPS
from tests.jupyter_server import running_jupyter

sys.path.insert(0, str(APPS))
import access_app  # noqa: E402

PREFIX = "/user/learner/"
PARTS, GAP = 5, 0.3
SLOW = f"/parts?count={PARTS}&gap={GAP}"
START_TIMEOUT = 60
needs_proxy = pytest.mark.skipif(
    importlib.util.find_spec("jupyter_server_proxy") is None
    or importlib.util.find_spec("jupyter_server") is None,
    reason="needs jupyter-server-proxy and jupyter_server: pip install -e '.[test]'",
)


def test_elsewhere_the_link_is_the_plain_loopback_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    with streamkit.serve(access_app.app) as server:
        link = server.link("/parts?count=2")
    assert isinstance(link, Link)
    assert link.href == server.url + "/parts?count=2" and link.note is None
    assert repr(link) == link.href
    assert (
        link._repr_html_()
        == f'<a href="{server.url}/parts?count=2" target="_blank" rel="noopener">{server.url}/parts?count=2</a>'
    )


@needs_proxy
def test_behind_jupyterhub_the_link_goes_through_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", PREFIX)
    with streamkit.serve(access_app.app) as server:
        link = server.link("parts?a=1&b=<2>")
    assert link.href == f"{PREFIX}proxy/{server.port}/parts?a=1&b=<2>"
    assert link.note == PROXY_NOTE and "text/event-stream" in link.note
    assert repr(link).splitlines() == [link.href, PROXY_NOTE]
    html = link._repr_html_()
    assert "&lt;2&gt;" in html and "<2>" not in html and "text/event-stream" in html


def test_where_uids_cannot_be_checked_the_link_carries_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    monkeypatch.setenv(ACCESS_ENV, "token")
    with streamkit.serve(access_app.app) as server:
        link = server.link("/seen")
        assert link.href == f"{server.url}/seen?token={server.token}"
        with urllib.request.urlopen(link.href, timeout=10) as response:
            assert response.status == 200


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real Jupyter Server with jupyter-server-proxy, under JupyterHub's kind of base URL."""
    home: Path = tmp_path_factory.mktemp("jupyter")
    options = ["--ServerApp.jpserver_extensions={'jupyter_server_proxy': True}"]
    with running_jupyter(
        "jupyter_server",
        home,
        name="Jupyter Server",
        root=home,
        options=options,
        base_url=PREFIX,
        timeout=START_TIMEOUT,
    ) as jupyter:
        yield {"url": jupyter.url, "token": jupyter.token, "log": jupyter.log}


def pieces(trace: Any) -> list[Any]:
    return [chunk for chunk in trace.chunks if chunk.size]


@needs_proxy
def test_through_the_proxy_only_accept_event_stream_streams(
    jupyter: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", PREFIX)
    auth = {"Authorization": f"token {jupyter['token']}"}
    with streamkit.serve(access_app.app) as server:
        link = server.link(SLOW)
        assert link.href.startswith(f"{PREFIX}proxy/{server.port}/")
        url = jupyter["url"] + link.href
        buffered = streamkit.probe(url, headers=auth)  # the probe's default Accept: */*
        streamed = streamkit.probe(url, headers={**auth, "Accept": "text/event-stream"})
        almost = streamkit.probe(url, headers={**auth, "Accept": "text/event-stream, */*"})
    made_over = (PARTS - 1) * GAP
    for trace in (buffered, streamed, almost):
        assert trace.status == 200, (trace.status, trace.body[:200], jupyter["log"].read_text()[-2000:])
        assert trace.body.count(b"part ") == PARTS
    # Buffered: nothing arrives until the app is done (the headers come with the body).
    for trace in (buffered, almost):
        got = pieces(trace)
        assert got[0].t >= 0.7 * made_over, [(round(c.t, 3), c.size) for c in trace.chunks]
        assert trace.verdict != "streamed", trace
    # Streamed: the parts arrive spread over the time the app took to make them.
    got = pieces(streamed)
    assert len(got) >= PARTS - 1, [(round(c.t, 3), c.size) for c in streamed.chunks]
    assert got[0].t < 0.5 * got[-1].t and got[-1].t - got[0].t >= 0.5 * made_over
    assert streamed.verdict == "streamed", streamed
