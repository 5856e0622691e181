"""Which layer held a stream back, and what to change: :class:`Diagnosis` and :func:`diagnose`.

Measuring layer (beside :mod:`streamkit.trace` and :mod:`streamkit.probe`). A diagnosis is made
only from what was measured, in three steps:

1. :class:`streamkit.measurements.Measurements` works the numbers out once: for each request
   its encoding, media type, framing, verdict, how the server's writes followed the app's
   items (when :meth:`streamkit.Server.get` recorded the server side), its arrival and its
   silences; across requests, the hops of a proxy chain and requests queued behind another;
   and the products the headers prove (:mod:`streamkit.products`).
2. Each rule in :data:`streamkit.rules.RULES` (one module per layer: app, middleware,
   compression, server, proxy, client, concurrency, silence) returns the :class:`Finding` s
   of its one failure shape, with the evidence it rests on and a fix.
3. :func:`judge` orders them: the first finding that names a layer is the culprit; warnings
   (browser sniffing, SSE headers, silences, requests served one at a time) are kept once per
   code; a stream that streams is never blamed.

:func:`streamkit.doctor.doctor` adds what comparing requests shows (identity against gzip, hop
against hop, ...).
"""

from __future__ import annotations

import html as html_escape
import os
from dataclasses import dataclass, field
from typing import Any

from .finding import CULPRITS, Finding, printable
from .measurements import Measurements, arrival_summary, server_side_summary
from .rules import RULES, WARNING_CODES
from .trace import Trace

__all__ = [
    "CULPRITS",
    "WARNING_CODES",
    "Diagnosis",
    "Finding",
    "arrival_summary",
    "diagnose",
    "judge",
    "printable",
]


@dataclass
class Diagnosis:
    """Whether a stream streams, which layer held it back if it did not, and what to change.

    ``streams``: the body reached the client spread over time, as produced (for
    :func:`~streamkit.doctor.doctor`: in every request it made that got content).
    ``culprit``: None, or the one layer (:data:`CULPRITS`) that held it back; always None when
    it streams. ``findings``: :class:`Finding` objects, the culprit's first. ``traces``: the
    requests it is made from, named by ``labels``; ``hops``: the same request at each hop behind
    the first (``doctor(url, upstream=[...])``), client first, named by ``hop_labels``.
    """

    streams: bool
    culprit: str | None
    findings: list[Finding]
    traces: list[Trace]
    labels: list[str] = field(default_factory=list)
    interrupted: bool = False
    hops: list[Trace] = field(default_factory=list)
    hop_labels: list[str] = field(default_factory=list)

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
        labels = self._labels()
        several = len(self.traces) > 1 or self.interrupted
        if not self.interrupted and len(self.traces) == 1 and self.traces[0].verdict_text in told:
            pass  # the one request's verdict is already in the evidence
        elif (
            not self.interrupted
            and several
            and all(arrival_summary(label, traced) in told for label, traced in zip(labels, self.traces))
        ):
            pass  # so is every request's arrival
        elif self.traces:
            lines += ["", "requests made:" if several else "request made:"]
            for label, traced in zip(labels, self.traces):
                if several:
                    lines.append(f"  {printable(arrival_summary(label, traced))}")
                else:
                    status = traced.status if traced.status is not None else "no response"
                    lines.append(f"  {printable(label)}: {status}, {traced.verdict}")
                    lines.append(f"      {printable(traced.verdict_text)}")
        hops = [arrival_summary(label, traced) for label, traced in zip(self.hop_labels, self.hops)]
        if hops and not all(hop in told for hop in hops):
            lines += ["", "hops behind it (client first):"]
            lines += [f"  {printable(hop)}" for hop in hops]
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

    def to_dict(self) -> dict[str, Any]:
        """The diagnosis as plain JSON-ready values: the verdict, the findings (evidence and
        fixes included) and each request's summary (``requests``, then ``hops`` when the hops
        were compared)."""
        return {
            "url": self.traces[0].url if self.traces else None,
            "method": self.traces[0].method if self.traces else None,
            "streams": self.streams,
            "culprit": self.culprit,
            "interrupted": self.interrupted,
            "findings": [finding.to_dict() for finding in self.findings],
            "requests": [_request_dict(label, trace) for label, trace in zip(self._labels(), self.traces)],
            "hops": [_request_dict(label, trace) for label, trace in zip(self.hop_labels, self.hops)],
        }

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


def _request_dict(label: str, trace: Trace) -> dict[str, Any]:
    pieces = [chunk for chunk in trace.chunks if chunk.size]
    return {
        "label": label,
        "url": trace.url,
        "method": trace.method,
        "status": trace.status,
        "verdict": trace.verdict,
        "verdict_text": trace.verdict_text,
        "summary": arrival_summary(label, trace),
        "content_encoding": trace.headers.get("Content-Encoding"),
        "headers_at": trace.headers_at,
        "first_content_at": pieces[0].t if pieces else None,
        "last_content_at": pieces[-1].t if pieces else None,
        "pieces": len(pieces),
        "size": trace.size,
        "wire_size": trace.wire_size,
        "duration": trace.duration,
        "error": trace.error,
        "stopped": trace.stopped,
        "server_side": server_side_summary(trace),
    }


def judge(m: Measurements) -> Diagnosis:
    """Run every rule of :data:`~streamkit.rules.RULES` on the measurements and order what they
    found: the culprit's finding first (the first that names a layer), else the first finding
    that names none, then each warning once. ``streams``: every comparable request streamed
    and no rule found a stream cut short."""
    found = [finding for rule in RULES for finding in rule(m)]
    problems = [finding for finding in found if not finding.warning]
    warnings: list[Finding] = []
    for finding in found:
        if finding.warning and finding.code not in {w.code for w in warnings}:
            warnings.append(finding)
    blamed = [finding for finding in problems if finding.culprit is not None]
    streams = m.streams and not blamed
    if streams:
        head: list[Finding] = []
    elif blamed:
        head = blamed[:1]
    else:
        head = problems[:1]
    culprit = head[0].culprit if head and not streams else None
    hops = m.hops[1:] if len(m.hops) > 1 else []
    return Diagnosis(
        streams=streams,
        culprit=culprit,
        findings=head + warnings,
        traces=[r.trace for r in m.requests],
        labels=[r.label for r in m.requests],
        interrupted=m.interrupted,
        hops=[r.trace for r in hops],
        hop_labels=[r.label for r in hops],
    )


def diagnose(trace: Trace) -> Diagnosis:
    """Diagnose one trace (also :meth:`Trace.diagnose`): does it stream, and if not, which layer
    held it back, from the server side when present, the headers, the sizes and the times."""
    return judge(Measurements.of_trace(trace))
