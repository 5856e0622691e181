"""Showing pictures in Jupyter: the HTML form of a timeline, mime bundles, and live views.

* :func:`html` wraps an SVG in an ``<img>`` that survives JupyterLab's sanitizer;
* :func:`mimebundle` is what a :class:`~streamkit.trace.Trace` shows in a notebook;
* :class:`LiveView` (made by :func:`live_view`) keeps one picture in a cell's output up to
  date while a response arrives; outside a Jupyter kernel it does nothing;
* :class:`Link` (made by :func:`link`, what :meth:`streamkit.Server.link` shows) is a URL of a
  kit server the learner can click: through jupyter-server-proxy behind JupyterHub or Binder,
  with a line saying what streams there, else the plain loopback URL.

Layer: display, above the pictures (:mod:`streamkit.timeline`), which it draws with.
"""

from __future__ import annotations

import base64
import html as html_text
import importlib.util
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .timeline import render_svg

if TYPE_CHECKING:
    from .trace import Trace

__all__ = ["PROXY_NOTE", "Link", "LiveView", "html", "in_notebook", "link", "live_view", "mimebundle"]


def html(svg: str) -> str:
    """The SVG as an ``<img>`` with a data URI, for a notebook's text/html output.

    Why not the ``<svg>`` element itself: a notebook opened from disk is "untrusted", and
    JupyterLab then sanitizes HTML, which strips inline SVG down to a wall of loose text, and
    refuses ``image/svg+xml`` outright. An ``<img>`` with a data URI passes the sanitizer, so
    committed notebooks show their pictures before anyone re-runs them.
    """
    match = re.search(r"<title>(.*?)</title>", svg, flags=re.S)
    alt = match.group(1) if match else "stream timeline"  # already escaped by the template
    width = re.search(r'width="(\d+)"', svg)
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (
        f'<img class="streamkit-timeline" alt="{alt}" width="{width.group(1) if width else 900}" '
        f'style="max-width:100%;height:auto" src="data:image/svg+xml;base64,{data}">'
    )


def mimebundle(trace: Trace, *, live: bool = False, reserve: Sequence[str] = ()) -> dict[str, str]:
    """What Jupyter displays: ``image/svg+xml``, ``text/html`` and a short ``text/plain``.

    ``reserve`` names lanes a live picture keeps even while empty (see :func:`live_view`).
    """
    svg, verdicts = render_svg([trace], live=live, reserve=reserve)
    return {"image/svg+xml": svg, "text/html": html(svg), "text/plain": trace.summary(verdicts[0])}


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where display handles can update an output)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveView:
    """One picture in a notebook output, redrawn as a response arrives.

    The probe calls :meth:`update` with the trace so far after each chunk and :meth:`close`
    with the final trace. Redraws are limited to about ``per_second`` a second (fewer when
    drawing itself gets slow), the final picture stays as the cell's output, and outside a
    Jupyter kernel every call does nothing.
    """

    def __init__(
        self, *, per_second: float = 10.0, enabled: bool | None = None, reserve: Sequence[str] = ()
    ) -> None:
        self.enabled = in_notebook() if enabled is None else enabled
        self.reserve = tuple(reserve)  # lanes drawn from the start, so the picture does not grow
        self.min_interval = 1.0 / per_second
        self.updates = 0  # how many times the picture was drawn
        self._interval = self.min_interval
        self._last = -math.inf
        self._handle: Any = None
        self._events = 0  # events in the last picture drawn

    def update(self, trace: Trace) -> bool:
        """Redraw with the trace so far, unless the last redraw was too recent. True if drawn.

        A new event (an event stream's token) is worth a redraw sooner: up to three times
        ``per_second``, still slowed down when drawing gets slow.
        """
        if not self.enabled:
            return False
        wait = self._interval
        if len(trace.events) > self._events:
            wait = max(self.min_interval / 3, self._interval - self.min_interval * 2 / 3)
        if time.monotonic() - self._last < wait:
            return False
        self._draw(trace, live=True)
        return True

    def close(self, trace: Trace) -> None:
        """Draw the final picture (always) and keep it."""
        if self.enabled:
            self._draw(trace, live=False)

    def _draw(self, trace: Trace, live: bool) -> None:
        started = time.monotonic()
        self._events = len(trace.events)  # the events this picture shows
        bundle = mimebundle(trace, live=live, reserve=self.reserve)
        if self._handle is None:
            from IPython.display import display

            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)
        self.updates += 1
        finished = time.monotonic()
        self._last = finished
        # If drawing takes long (huge traces), redraw less often so the probe keeps reading.
        self._interval = max(self.min_interval, 4 * (finished - started))


def live_view(reserve: Sequence[str] = ()) -> LiveView | None:
    """A :class:`LiveView` inside a notebook, else None (a probe outside Jupyter draws nothing).

    ``reserve`` names the lanes the final picture will have besides the client's ("produced",
    "written"): they are drawn, empty, from the first picture on, so nothing below the picture
    jumps when the stream ends.
    """
    view = LiveView(reserve=reserve)
    return view if view.enabled else None


#: What the learner is told under a link that goes through jupyter-server-proxy.
PROXY_NOTE = (
    "Through JupyterHub's jupyter-server-proxy only requests whose Accept header is exactly "
    "text/event-stream (an EventSource's) stream; every other response arrives in one piece "
    "when it ends."
)


class Link:
    """A link to a kit server: ``href`` to click, and ``note``, one line about the way there
    (None when there is nothing to say). Shows as a link in a notebook, as text elsewhere."""

    def __init__(self, href: str, note: str | None = None) -> None:
        self.href = href
        self.note = note

    def _repr_html_(self) -> str:
        href = html_text.escape(self.href)
        note = f"<br><small>{html_text.escape(self.note)}</small>" if self.note else ""
        return f'<a href="{href}" target="_blank" rel="noopener">{href}</a>{note}'

    def __str__(self) -> str:
        return self.href

    def __repr__(self) -> str:
        return f"{self.href}\n{self.note}" if self.note else self.href


def behind_jupyter_proxy() -> str | None:
    """The JupyterHub (or Binder) prefix the learner's browser reaches this kernel's host
    under, when jupyter-server-proxy is there to forward a port: else None."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if not prefix or importlib.util.find_spec("jupyter_server_proxy") is None:
        return None
    return prefix if prefix.endswith("/") else prefix + "/"


def link(url: str, port: int, path: str = "/", *, token: str | None = None) -> Link:
    """The :class:`Link` to ``path`` on the server at ``url`` (listening on ``port``).

    Behind JupyterHub or Binder (``JUPYTERHUB_SERVICE_PREFIX`` set and jupyter-server-proxy
    installed) it is ``{prefix}proxy/{port}{path}``, with :data:`PROXY_NOTE`; else
    ``url + path``. ``token``, when given, is added as ``?token=`` (it sets the server's cookie).
    """
    if not path.startswith("/"):
        path = "/" + path
    prefix = behind_jupyter_proxy()
    if prefix is not None:
        href, note = f"{prefix}proxy/{port}{path}", PROXY_NOTE
    else:
        href, note = url + path, None
    if token:
        href += ("&" if "?" in href else "?") + f"token={token}"
    return Link(href, note)
