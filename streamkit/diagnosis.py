"""Which layer held a stream back, and what to change: :class:`Diagnosis` and :func:`diagnose`.

Measuring layer (beside :mod:`streamkit.trace` and :mod:`streamkit.probe`). A diagnosis is made
only from what a trace measured:

* the server side, when :meth:`streamkit.Server.get` recorded it: when the app produced each
  item and when the server wrote it. Items produced over time but written late were held
  between the app and the socket (a middleware, or compression in one); items written on time
  but received late were held after the socket (a proxy);
* the response headers (``Content-Encoding``, ``Content-Length``, ``Server``, ...);
* the sizes on the wire and decoded: a compressor that sends its header at once and every
  content byte at the end shows as chunks that decode to nothing, then one late piece;
* the times: when the headers, the first content byte and the last one arrived.

:func:`streamkit.doctor.doctor` adds what comparing requests shows (identity against gzip, ...).
Each :class:`Finding` names a layer (``culprit``), the measured facts (``evidence``) and a fix.
A stream that streams has no culprit; its findings are warnings at most (browser sniffing, SSE
headers).
"""

from __future__ import annotations

import bisect
import html as html_escape
import itertools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .trace import (
    AT_ONCE,
    SHOWN_TOLERANCE,
    Trace,
    content_pieces,
    counts_wire_bytes,
    held_back,
    links,
    plural,
    seconds_text,
)

__all__ = [
    "CULPRITS",
    "Diagnosis",
    "Finding",
    "arrival_summary",
    "diagnose",
    "printable",
]

#: Findings that are worth changing but never make ``streams`` false.
WARNING_CODES = frozenset(
    {
        "browser-sniffs",
        "browser-held",
        "html-no-charset",
        "sse-no-cache",
        "sse-idle-gap",
        "late-first-byte",
        "close-delimited",
    }
)

#: The layers a finding can name, from the app outwards.
CULPRITS = ("app", "middleware", "compression", "server", "proxy", "client")

# A first content byte later than this (and most of the response's time) counts as late.
LATE_FIRST_BYTE = 0.2
# A stream whose headers come later than this started late (even if it then streams).
LATE_START = 0.5
# An event stream silent for longer than this risks a proxy's or a load balancer's idle timeout.
SSE_IDLE = 10.0
# Servers whose name in the Server header says which fix applies.
_PROXIES = (
    "nginx",
    "apache",
    "envoy",
    "haproxy",
    "caddy",
    "traefik",
    "cloudflare",
    "varnish",
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """Text a server sent, safe to print on a terminal: control bytes (CR, LF, ESC, ...) are
    shown as escapes such as ``\\r``, ``\\n`` and ``\\x1b``, so a header or banner cannot move
    the cursor, clear the screen or fake a line of output."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text))


@dataclass
class Finding:
    """One thing a diagnosis found, from measured evidence.

    ``code`` is a stable short id (``"compression-no-flush"``); ``culprit`` the layer it
    names (one of :data:`CULPRITS`, or None for a fact that blames nobody); ``summary`` one
    line; ``evidence`` the measured facts it rests on; ``fix`` what to change.
    """

    code: str
    culprit: str | None
    summary: str
    evidence: list[str] = field(default_factory=list)
    fix: str = ""

    def __str__(self) -> str:
        who = f" ({self.culprit})" if self.culprit else ""
        lines = [f"[{self.code}]{who} {printable(self.summary)}"]
        lines += [f"    measured: {printable(fact)}" for fact in self.evidence]
        if self.fix:
            lines.append(f"    fix: {printable(self.fix)}")
        return "\n".join(lines)


@dataclass
class Diagnosis:
    """Whether a stream streams, which layer held it back if it did not, and what to change.

    ``streams``: the body reached the client spread over time, as produced (for
    :func:`~streamkit.doctor.doctor`: in every request it made that got content).
    ``culprit``: None, or the one layer (:data:`CULPRITS`) that held it back; always None when
    it streams. ``findings``: :class:`Finding` objects, the culprit's first. ``traces``: the
    requests it is made from, named by ``labels``.
    """

    streams: bool
    culprit: str | None
    findings: list[Finding]
    traces: list[Trace]
    labels: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def codes(self) -> list[str]:
        """The findings' codes, in order."""
        return [finding.code for finding in self.findings]

    def __str__(self) -> str:
        trace = self.traces[0] if self.traces else None
        target = f"{trace.method} {printable(trace.url)}" if trace is not None else "(no request)"
        if self.streams:
            head = f"{target}: it streams"
        else:
            head = f"{target}: it does not stream"
            head += f"; held back by: {self.culprit}" if self.culprit else "; the layer is not known"
        if self.interrupted:
            head += " (interrupted: only what arrived before Ctrl-C)"
        lines = [head, ""]
        if self.findings:
            lines += [str(finding) for finding in self.findings]
        else:
            lines.append("nothing to report")
        told = {fact for finding in self.findings for fact in finding.evidence}
        if len(self.traces) == 1 and self.traces[0].verdict_text in told:
            pass  # the one request's verdict is already in the evidence
        elif len(self.traces) > 1 and all(
            arrival_summary(label, traced) in told for label, traced in zip(self._labels(), self.traces)
        ):
            pass  # so is every request's arrival
        elif self.traces:
            lines += ["", "requests made:" if len(self.traces) > 1 else "request made:"]
            for label, traced in zip(self._labels(), self.traces):
                if len(self.traces) > 1:
                    lines.append(f"  {printable(arrival_summary(label, traced))}")
                else:
                    status = traced.status if traced.status is not None else "no response"
                    lines.append(f"  {printable(label)}: {status}, {traced.verdict}")
                    lines.append(f"      {printable(traced.verdict_text)}")
        return "\n".join(lines)

    def save(self, path: str | os.PathLike[str]) -> Any:
        """Write this diagnosis, every request's whole trace included, to ``path`` as JSON
        (see :mod:`streamkit.tracefile`); returns the path."""
        from .tracefile import save

        return save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Diagnosis:
        """Read a diagnosis file written by :meth:`save` (or ``streamkit doctor URL --save``)."""
        from .tracefile import load_diagnosis

        return load_diagnosis(path)

    def __repr__(self) -> str:
        return (
            f"<Diagnosis streams={self.streams} culprit={self.culprit!r} "
            f"findings={self.codes} traces={len(self.traces)}>"
        )

    def _labels(self) -> list[str]:
        if len(self.labels) == len(self.traces):
            return self.labels
        return [f"{trace.method} {trace.url}" for trace in self.traces]

    def _repr_html_(self) -> str:
        # Pictures and display: lazy, display-only upward calls.
        from .display import html
        from .timeline import compare

        picture = html(compare(*self.traces, labels=self._labels()).to_svg()) if self.traces else ""
        esc = html_escape.escape
        if self.streams:
            head = "It streams."
        elif self.culprit:
            head = f"It does not stream: held back by the <b>{esc(self.culprit)}</b>."
        else:
            head = "It does not stream; which layer held it is not known."
        items = []
        for finding in self.findings:
            facts = "".join(f"<li>{esc(fact)}</li>" for fact in finding.evidence)
            who = f" ({esc(finding.culprit)})" if finding.culprit else ""
            fix = f"<div><b>Fix:</b> {esc(finding.fix)}</div>" if finding.fix else ""
            items.append(
                f"<li><code>{esc(finding.code)}</code>{who}: {esc(finding.summary)}<ul>{facts}</ul>{fix}</li>"
            )
        found = f"<ul>{''.join(items)}</ul>" if items else "<p>Nothing to report.</p>"
        return f'<div class="streamkit-diagnosis"><p>{head}</p>{found}{picture}</div>'


# -- what one trace shows --------------------------------------------------------------------


def arrival_summary(label: str, trace: Trace) -> str:
    """One line on how a request's content arrived: encoding, pieces, first and last, verdict."""
    pieces = content_pieces(trace.chunks)
    encoding = _encoding(trace) or "identity"
    if trace.status is None:
        return f"{label}: no response"
    if not pieces:
        return f"{label}: {trace.status}, no content ({encoding}), {trace.verdict}"
    spread = pieces[-1].t - pieces[0].t
    count = f"{len(pieces)} piece{'s' if len(pieces) != 1 else ''}"
    return (
        f"{label}: {encoding}, {count} of content from {seconds_text(pieces[0].t)} to "
        f"{seconds_text(pieces[-1].t)} (spread {seconds_text(spread)}), {trace.verdict}"
    )


def _header(trace: Trace, name: str) -> str:
    return (trace.headers.get(name) or "").strip()


def _encoding(trace: Trace) -> str:
    encoding = _header(trace, "Content-Encoding").lower()
    return "" if encoding == "identity" else encoding


def _mimetype(trace: Trace) -> str:
    return _header(trace, "Content-Type").split(";", 1)[0].strip().lower()


def proxy_name(trace: Trace) -> str | None:
    """The proxy the response headers name (``Server: nginx``, ``Via``), or None."""
    server = _header(trace, "Server").lower()
    for name in _PROXIES:
        if name in server:
            return name
    via = _header(trace, "Via")
    if via:
        return f"a proxy ({via[:60]})"
    return None


def content_held(trace: Trace) -> bool:
    """True when the content did not reach the client spread over time, as produced."""
    return trace.verdict in ("buffered", "single")


def _framing_first(trace: Trace) -> int:
    """Wire bytes that arrived, decoding to nothing, before the first content byte."""
    total = 0
    for chunk in trace.chunks:
        if chunk.size:
            return total
        total += chunk.wire_size
    return total


def _items(events: Sequence[Any] | None) -> list[Any]:
    return [event for event in events or () if event.size]


def _writes_held(trace: Trace) -> tuple[int, int, float] | None:
    """(held, judged, worst) for the app's items against the server's writes, or None."""
    produced = _items(trace.produced)
    written = list(trace.written or ())
    if len(produced) < 2 or not written or produced[-1].t - produced[0].t < AT_ONCE:
        return None
    targets = links(trace).get("produced") or []
    judged = held = 0
    worst = 0.0
    events = [event for event in trace.produced or ()]
    nonempty = [i for i, event in enumerate(events) if event.size]
    for position, index in enumerate(nonempty[:-1]):
        target = targets[index] if index < len(targets) else None
        if target is None:
            continue
        item, following = events[index], events[nonempty[position + 1]]
        when = written[target].t
        judged += 1
        if when - item.t >= AT_ONCE and when >= following.t - 1e-6:
            held += 1
            worst = max(worst, when - item.t)
    return (held, judged, worst) if judged else None


def _first_late(trace: Trace) -> bool:
    pieces = content_pieces(trace.chunks)
    return bool(pieces) and pieces[0].t >= LATE_FIRST_BYTE and pieces[0].t >= 0.5 * trace.duration


# -- the fixes, written once -----------------------------------------------------------------

FIX_COMPRESSION = (
    "flush the compressor after every item (zlib: compress(item) + flush(Z_SYNC_FLUSH); "
    "streamkit.GzipMiddleware does this), or leave streaming responses uncompressed: most "
    "compression middlewares skip a response that already has a Content-Encoding, or one "
    "whose type they are not told to compress"
)
FIX_NGINX = (
    "send the response header X-Accel-Buffering: no from the app for streaming responses, or "
    "set proxy_buffering off; for the streaming location; and proxy_http_version 1.1; (nginx "
    "talks HTTP/1.0 to the upstream unless told, and buffers a close-delimited body); if nginx "
    "compresses it (gzip on), X-Accel-Buffering: no lets the gzip output through too, or turn "
    "gzip off for that type"
)
FIX_NGINX_GZIP = (
    "if nginx compresses it (gzip on), send X-Accel-Buffering: no from the app on streaming "
    "responses (nginx then passes each piece on, gzip output included), or leave the type out "
    "of gzip_types; if a middleware behind nginx compresses, flush it after every item (zlib "
    "Z_SYNC_FLUSH, as streamkit.GzipMiddleware does)"
)
FIX_PROXY = (
    "turn response buffering off in the proxy for the streaming path (nginx: X-Accel-Buffering: "
    "no or proxy_buffering off; Apache mod_proxy: flushpackets=on; a proxy in front of Jupyter "
    "streams only requests that say Accept: text/event-stream)"
)
FIX_BROWSER = (
    "look at what the browser waits for: text/plain needs X-Content-Type-Options: nosniff (and "
    "a charset), or Chromium holds the first 1,024 bytes to sniff the type; a <script> without "
    "async/defer or a stylesheet in <head> blocks rendering (move scripts to the end, or mark "
    "them defer); rows must be real <tr><td> elements for a table to grow"
)
FIX_MIDDLEWARE = (
    "find the middleware (or after_request hook) that reads the whole body: anything that "
    "computes a Content-Length, reads response.data / get_data(), or joins the iterable (a "
    "profiler, a minifier, a naive gzip) must pass streaming responses through item by item"
)
FIX_APP_FIRST = (
    "yield each piece as soon as it is ready instead of building a list or a string first "
    "(a generator, or template.stream()/stream_template); yield a small first piece early so "
    "the headers go out at once"
)


# -- diagnose one trace ----------------------------------------------------------------------


def diagnose(trace: Trace) -> Diagnosis:
    """Diagnose one trace (also :meth:`Trace.diagnose`): does it stream, and if not, which layer
    held it back, from the server side when present, the headers, the sizes and the times."""
    findings = _held_findings(trace)
    warnings = warning_findings(trace)
    streams = trace.verdict == "streamed"
    culprit: str | None = None
    if not streams:
        for finding in findings:
            if finding.culprit is not None:
                culprit = finding.culprit
                break
    else:
        findings = [finding for finding in findings if finding.code == "partly-held"]
    return Diagnosis(
        streams=streams,
        culprit=culprit,
        findings=findings + warnings,
        traces=[trace],
        labels=[f"{trace.method} {trace.url}"],
        interrupted=bool(getattr(trace, "interrupted", False)),
    )


def _held_findings(trace: Trace) -> list[Finding]:
    verdict = trace.verdict
    if verdict == "broken":
        return _broken_findings(trace)
    if verdict == "empty":
        return [
            Finding(
                "no-content",
                None,
                "the response has no content, so there is nothing to stream",
                [f"status {trace.status}", trace.verdict_text],
                "",
            )
        ]
    holding = held_back(trace)
    if verdict == "streamed":
        if holding is not None and holding.held:
            where = _held_where(trace, partly=True)
            return [
                Finding(
                    "partly-held",
                    where[0] if where else None,
                    "most of the stream arrived as produced, but part of it was held back",
                    [trace.verdict_text, *(where[1] if where else [])],
                    where[2] if where else "",
                )
            ]
        return []
    # buffered or single: the content did not arrive spread over time
    if holding is not None:
        where = _held_where(trace)
        if where is not None:
            culprit, facts, fix, code, summary = where
            return [Finding(code, culprit, summary, [trace.verdict_text, *facts], fix)]
    return _single_findings(trace)


def _held_where(trace: Trace, *, partly: bool = False) -> tuple[Any, ...] | None:
    """(culprit, evidence, fix, code, summary) for items produced over time and held back."""
    encoding = _encoding(trace)
    proxy = proxy_name(trace)
    length = _header(trace, "Content-Length")
    written = trace.written
    writes = _writes_held(trace)
    facts: list[str] = []
    if length:
        facts.append(f"Content-Length: {length} on a body the app produced over time")
    if writes is not None and (writes[0] > 0 if partly else writes[0] * 2 >= writes[1]):
        held, judged, worst = writes
        facts.append(
            f"the server wrote {held} of {judged} items only after a later item was made (up to "
            f"{seconds_text(worst)} late): they were held between the app and the socket"
        )
        if encoding and written and counts_wire_bytes(written, trace.chunks):
            facts.append(f"the server wrote {encoding}-compressed bytes: a middleware compressed them")
            return (
                "compression",
                facts,
                FIX_COMPRESSION,
                "compression-no-flush",
                (
                    f"a {encoding} middleware between the app and the server collects the stream "
                    "before compressing it, or compresses without flushing"
                ),
            )
        return (
            "middleware",
            facts,
            FIX_MIDDLEWARE,
            "middleware-collects-body",
            "a middleware between the app and the server collected the body before sending it",
        )
    if writes is not None or (written and trace.produced is None):
        # The server wrote on time (or is the only side known and wrote over time): the
        # holding happened after the socket.
        facts.append("the server wrote each item about when it was made: it was held after the socket")
        if encoding and written and not counts_wire_bytes(written, trace.chunks):
            facts.append(
                f"the server wrote plain bytes, the client got {encoding}: a layer after the "
                "server compressed them"
            )
        if trace.browser_received is not None and not proxy:
            # The client is a real browser and nothing in between names itself: what held
            # the bytes after the socket is the browser's own network stack (type sniffing
            # holds them there, measured: CDP reports the reads only when it lets go).
            facts.append(
                "the client was a browser (browser=True) and no proxy names itself: its network "
                "stack reported the bytes only late"
            )
            return (
                "client",
                facts,
                FIX_BROWSER,
                "browser-held-body",
                "the browser held the stream back before its page could show it",
            )
        if proxy:
            facts.append(f"the response names {proxy} (Server/Via header)")
        code = "proxy-buffering"
        if encoding and written and not counts_wire_bytes(written, trace.chunks):
            code = "proxy-compression"
        summary = f"{proxy or 'a proxy between the server and the client'} held the stream back" + (
            f" while compressing it ({encoding})" if code == "proxy-compression" else ""
        )
        return (
            "proxy",
            facts,
            (FIX_NGINX_GZIP if code == "proxy-compression" else FIX_NGINX)
            if proxy == "nginx" or not proxy
            else FIX_PROXY,
            code,
            summary,
        )
    # Only the app's items are known, not the server's writes.
    if encoding and _framing_first(trace):
        return (
            "compression",
            [*facts, _framing_fact(trace)],
            FIX_COMPRESSION,
            "compression-no-flush",
            f"a {encoding} compressor sent its header at once and held the content to the end",
        )
    if proxy:
        facts.append(f"the response names {proxy} (Server/Via header)")
        return ("proxy", facts, FIX_NGINX if proxy == "nginx" else FIX_PROXY, "proxy-buffering",
                f"{proxy} probably held the stream back")  # fmt: skip
    return (
        None,
        [
            *facts,
            "the server's writes were not recorded, so app-to-socket and socket-to-client cannot be told apart",
        ],
        FIX_MIDDLEWARE,
        "held-between",
        "the app produced the stream over time, and a layer between it and the client held it back",
    )


def _framing_fact(trace: Trace) -> str:
    framing = _framing_first(trace)
    pieces = content_pieces(trace.chunks)
    return (
        f"{framing:,} bytes of {_encoding(trace)} framing arrived first and decode to nothing; "
        f"the first content byte came at {seconds_text(pieces[0].t)}"
    )


def _single_findings(trace: Trace) -> list[Finding]:
    """The content arrived at once, and the server side shows no production over time."""
    pieces = content_pieces(trace.chunks)
    produced = _items(trace.produced)
    findings: list[Finding] = []
    if produced:
        first = produced[0].t
        made = (
            f"the app produced {len(produced)} item{'s' if len(produced) != 1 else ''} within "
            f"{seconds_text(produced[-1].t - first)}, the first {seconds_text(first)} after the request"
        )
        if first >= LATE_FIRST_BYTE:
            findings.append(
                Finding(
                    "app-makes-all-first",
                    "app",
                    "the app made everything before its first yield: nothing could go out earlier",
                    [made, trace.verdict_text],
                    FIX_APP_FIRST,
                )
            )
        else:
            findings.append(
                Finding(
                    "app-one-piece",
                    "app",
                    "the app produced the whole body at once: there was nothing to stream",
                    [made],
                    FIX_APP_FIRST,
                )
            )
        return findings
    encoding = _encoding(trace)
    facts = [trace.verdict_text]
    if encoding and _framing_first(trace):
        return [
            Finding(
                "compression-no-flush",
                "compression",
                f"a {encoding} compressor sent its header at once and held every content byte to the end",
                [_framing_fact(trace)],
                FIX_COMPRESSION,
            )
        ]
    if _first_late(trace):
        facts.append(f"the first content byte came late, at {seconds_text(pieces[0].t)}")
    length = _header(trace, "Content-Length")
    if length:
        facts.append(f"Content-Length: {length}: whoever set it had the whole body before sending")
    if encoding:
        facts.append(f"Content-Encoding: {encoding}")
    proxy = proxy_name(trace)
    if proxy:
        facts.append(f"the response names {proxy} (Server/Via header)")
    if not _first_late(trace) and not proxy:
        return [
            Finding(
                "single-piece",
                None,
                "the body arrived in one piece, soon after the request: a small or quick response",
                facts,
                "",
            )
        ]
    return [
        Finding(
            "held-somewhere",
            None,
            "the content arrived at once, late; from the client alone the layer cannot be told: the "
            "app (making everything first), a middleware, compression or "
            f"{proxy or 'a proxy'} may hold it",
            facts,
            "run streamkit.doctor(url), which compares requests (identity against compressed, ...), "
            "or serve the app with streamkit.serve and use Server.get for the server side",
        )
    ]


def _broken_findings(trace: Trace) -> list[Finding]:
    if trace.server_error is not None:
        error = trace.server_error
        return [
            Finding(
                "app-raised",
                "app",
                f"the app raised {type(error).__name__} in the middle of the stream",
                [
                    trace.verdict_text,
                    f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}",
                ],
                "fix the exception; validate input before the first yield so an error can still "
                "become an error status (once the body has started, the status is already 200)",
            )
        ]
    server = _header(trace, "Server")
    proxy = proxy_name(trace)
    facts = [trace.verdict_text]
    if server:
        facts.append(f"Server: {server}")
    if "gunicorn" in server.lower():
        return [
            Finding(
                "server-worker-timeout",
                "server",
                "gunicorn cut the stream: a sync worker is killed when one response takes longer "
                "than its --timeout",
                [
                    *facts,
                    f"the body broke after {seconds_text(trace.duration)}, with no error from the app",
                ],
                "run gunicorn with --worker-class gthread (or gevent) for streaming responses, "
                "or raise --timeout above the longest stream",
            )
        ]
    if proxy:
        return [
            Finding(
                "proxy-cut",
                "proxy",
                f"the stream broke on its way through {proxy}",
                facts,
                "check the proxy's read timeout (nginx: proxy_read_timeout, 60 s by default): "
                "a stream silent that long is cut; send a heartbeat more often",
            )
        ]
    return [
        Finding(
            "stream-cut",
            "server",
            "the connection broke in the middle of the body, with no error from the app recorded",
            facts,
            "look at the server's log: a worker timeout or a crash cuts a stream like this",
        )
    ]


# -- warnings: facts that do not stop a stream -----------------------------------------------


def _late_start(trace: Trace) -> Finding | None:
    """A stream that streams, but only after a long wait for its headers or first byte."""
    if trace.verdict != "streamed":
        return None
    pieces = content_pieces(trace.chunks)
    start = trace.headers_at if trace.headers_at is not None else pieces[0].t
    if start < LATE_START:
        return None
    first = seconds_text(pieces[0].t)
    facts = [
        f"the headers arrived {seconds_text(start)} after the request, the first content byte at {first}"
    ]
    produced = _items(trace.produced)
    culprit = None
    if produced and produced[0].t >= LATE_START:
        culprit = "app"
        facts.append(f"the app yielded its first item {seconds_text(produced[0].t)} after the request")
    return Finding(
        "late-first-byte",
        culprit,
        "it streams, but nothing (not even the headers) came for a long time first",
        facts,
        'yield b"" (or a small first piece) before the slow work, so the status and headers go '
        "out at once and clients and proxies know the response has started",
    )


# Chromium 156 shows nothing of a text/plain response without nosniff until this many bytes
# have arrived, or the body has ended (measured for this kit: a first piece of 1,001 bytes
# waited for the piece that made 1,025; one of 1,024 bytes was shown at once).
SNIFF_BYTES = 1024


def _sniff_finding(trace: Trace, content_type: str) -> Finding | None:
    """text/plain without nosniff: when a browser that sniffs would first show something."""
    pieces = content_pieces(trace.chunks)
    total = 0
    shown_at = None
    for piece in pieces:
        total += piece.size
        if total >= SNIFF_BYTES:
            shown_at = piece.t
            break
    if shown_at is not None and shown_at - pieces[0].t < AT_ONCE:
        return None  # the first 1,024 bytes came at once: nothing to wait for
    if shown_at is None:
        when = (
            f"this body is {sum(p.size for p in pieces):,} bytes in all: such a browser shows it "
            f"only at the end, {seconds_text(trace.duration)} after the request"
        )
    else:
        when = (
            f"this stream's first {SNIFF_BYTES:,} bytes were in only at {seconds_text(shown_at)} "
            f"(its first content came at {seconds_text(pieces[0].t)})"
        )
    return Finding(
        "browser-sniffs",
        "client",
        "a browser holds this stream back to sniff its type: text/plain without "
        "X-Content-Type-Options: nosniff",
        [
            f"Content-Type: {content_type}, no X-Content-Type-Options: nosniff",
            (
                "Chromium 156, measured for this kit: such a response showed nothing until "
                f"{SNIFF_BYTES:,} bytes had arrived or the body had ended; with nosniff it "
                "showed each piece as it came"
            ),
            when,
        ],
        "send X-Content-Type-Options: nosniff (and a charset) with streamed text",
    )


# The page showing a piece later than this after the browser had read it counts as held there.
BROWSER_HELD = 0.1


def _browser_finding(trace: Trace) -> Finding | None:
    """With the browser lane (``browser=True``): a page that held what the browser had read.

    A page grows right after a read that brought visible text (within a few ms, measured). A
    growth that comes more than :data:`BROWSER_HELD` after the last read before it shows
    something the page had been holding: a render-blocking script or stylesheet, the HTML
    parser waiting, or type sniffing. (Reads that bring only markup change nothing visible,
    so they are not counted against the page.)
    """
    shown = [event for event in trace.browser_shown or () if event.size]
    reads = [piece.t for piece in content_pieces(trace.chunks)]
    if not shown or len(reads) < 2:
        return None
    late = []
    for step in shown:
        index = bisect.bisect_right(reads, step.t + SHOWN_TOLERANCE) - 1
        if index >= 0 and step.t - reads[index] > BROWSER_HELD:
            late.append(step.t - reads[index])
    if not late:
        return None
    return Finding(
        "browser-held",
        "client",
        "the browser had the pieces, but the page showed them late",
        [
            f"the browser read {plural(len(reads), 'piece')} from {seconds_text(reads[0])} to "
            f"{seconds_text(reads[-1])}; the page grew in {plural(len(shown), 'step')}",
            f"{len(late)} of those steps came more than {seconds_text(BROWSER_HELD)} after the "
            f"browser's last read before them (up to {seconds_text(max(late))}): the page was "
            "holding what it already had",
        ],
        FIX_BROWSER,
    )


def warning_findings(trace: Trace) -> list[Finding]:
    """Things worth changing even when the stream streams: browser sniffing and charset, SSE
    headers and heartbeats, close-delimited bodies."""
    found: list[Finding] = []
    if trace.status is None or not content_pieces(trace.chunks):
        return found
    late = _late_start(trace)
    if late is not None:
        found.append(late)
    held_in_browser = _browser_finding(trace)
    if held_in_browser is not None:
        found.append(held_in_browser)
    mimetype = _mimetype(trace)
    content_type = _header(trace, "Content-Type")
    nosniff = _header(trace, "X-Content-Type-Options").lower() == "nosniff"
    if mimetype == "text/plain" and not nosniff:
        sniff = _sniff_finding(trace, content_type)
        if sniff is not None:
            found.append(sniff)
    if mimetype == "text/html" and "charset" not in content_type.lower():
        found.append(
            Finding(
                "html-no-charset",
                "client",
                "text/html without a charset: the browser has to guess the encoding",
                [
                    f"Content-Type: {content_type}",
                    (
                        "Chromium 156, measured for this kit: a text/html stream without a "
                        "charset (5 ASCII pieces 250 ms apart) was still shown piece by piece; "
                        "what a wrong guess costs is garbled non-ASCII text, not time"
                    ),
                ],
                "name it: Content-Type: text/html; charset=utf-8",
            )
        )
    if mimetype == "text/event-stream":
        cache = _header(trace, "Cache-Control").lower()
        if "no-cache" not in cache and "no-store" not in cache:
            found.append(
                Finding(
                    "sse-no-cache",
                    "app",
                    "an event stream without Cache-Control: no-cache, so caches and proxies may keep or hold it",
                    [f"Cache-Control: {cache or '(none)'}"],
                    "send Cache-Control: no-cache with text/event-stream responses",
                )
            )
        pieces = content_pieces(trace.chunks)
        times = [0.0 if trace.headers_at is None else trace.headers_at] + [p.t for p in pieces]
        gap = max((b - a for a, b in itertools.pairwise(times)), default=0.0)
        if gap >= SSE_IDLE:
            found.append(
                Finding(
                    "sse-idle-gap",
                    "app",
                    f"the event stream was silent for {seconds_text(gap)} with no heartbeat",
                    [f"longest gap between pieces: {seconds_text(gap)}"],
                    "send a comment line (': ping') every 10-15 s, so proxies and load "
                    "balancers do not cut an idle connection",
                )
            )
    chunked = "chunked" in _header(trace, "Transfer-Encoding").lower()
    if not chunked and not _header(trace, "Content-Length") and trace.method != "HEAD":
        found.append(
            Finding(
                "close-delimited",
                "server",
                "the body ends when the server closes the connection (no Content-Length, not "
                "chunked): HTTP/1.0 style",
                ["no Content-Length and no Transfer-Encoding: chunked"],
                "serve HTTP/1.1 so the body is chunked: a client then can tell a whole body from a "
                "cut one, and a proxy (nginx) need not read to the close",
            )
        )
    return found
