"""A trace or a diagnosis as one HTML page that stands alone, to attach to a bug report.

:func:`html_report` writes the request (method, URL, status, response headers), the timeline
picture, the verdict in a sentence, and the findings with the measured evidence and the fix.
Everything is in the one file: the picture is an SVG inside it, the style sheet is inline, there
is no script and nothing is fetched, so it opens the same in any browser, offline. Every piece
of text that came from the server (headers, URL, error messages) is escaped.

Layer: display (it draws with the pictures of :mod:`streamkit.timeline`).
"""

from __future__ import annotations

import html
from typing import Any

from .diagnosis import Diagnosis, Finding, printable
from .display import html as img_tag
from .timeline import compare
from .trace import Trace, plural, seconds_text
from .tracefile import kit_version

__all__ = ["html_report"]

_STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       max-width: 1100px; margin: 2em auto; padding: 0 1.2em; }
h1 { font-size: 1.35em; margin-bottom: .2em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; }
.verdict { padding: .7em 1em; border-radius: 6px; background: #f6f8fa; border-left: 5px solid #888; }
.verdict.ok { border-color: #2da44e; } .verdict.held { border-color: #cf222e; }
.finding { border: 1px solid #d0d7de; border-radius: 6px; padding: .6em 1em; margin: .8em 0; }
.finding.warning { border-style: dashed; }
.finding .code { color: #57606a; } .finding ul { margin: .3em 0; padding-left: 1.4em; }
.fix { background: #dafbe1; padding: .3em .6em; border-radius: 4px; }
table { border-collapse: collapse; } td, th { text-align: left; padding: .15em .8em .15em 0;
        vertical-align: top; } th { color: #57606a; font-weight: normal; }
.picture img { border: 1px solid #d0d7de; border-radius: 6px; }
footer { margin-top: 2em; color: #57606a; font-size: .85em; }
"""


def _e(text: object) -> str:
    """Text for the page: control bytes shown as escapes (``\\x1b``), then HTML-escaped."""
    return html.escape(printable(text), quote=True)


def _request_table(trace: Trace) -> str:
    status = trace.status if trace.status is not None else "no response"
    rows = [
        ("request", f"<code>{_e(trace.method)} {_e(trace.url)}</code>"),
        ("status", _e(status)),
        ("first byte", _e(seconds_text(trace.ttfb)) if trace.ttfb is not None else "none arrived"),
        ("duration", _e(seconds_text(trace.duration))),
        (
            "body",
            f"{trace.size:,} bytes in {plural(len(trace.chunks), 'chunk')} ({trace.wire_size:,} bytes on the wire)",
        ),
    ]
    if trace.error:
        rows.append(("error", f"<code>{_e(trace.error)}</code>"))
    if trace.server_error is not None:
        rows.append(
            ("app raised", f"<code>{_e(type(trace.server_error).__name__)}: {_e(trace.server_error)}</code>")
        )
    head = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    headers = "".join(
        f"<tr><th><code>{_e(name)}</code></th><td><code>{_e(value)}</code></td></tr>"
        for name, value in trace.headers.items()
    )
    out = f"<table>{head}</table>"
    if headers:
        out += f"<h2>Response headers</h2><table>{headers}</table>"
    return out


def _findings(findings: list[Finding]) -> str:
    if not findings:
        return "<p>Nothing to report.</p>"
    out = []
    for finding in findings:
        warning = bool(getattr(finding, "warning", False))
        who = f" ({_e(finding.culprit)})" if finding.culprit else ""
        evidence = "".join(f"<li>{_e(fact)}</li>" for fact in finding.evidence)
        fix = f'<p class="fix"><b>Fix:</b> {_e(finding.fix)}</p>' if finding.fix else ""
        out.append(
            f'<div class="finding{" warning" if warning else ""}"><p><span class="code mono">[{_e(finding.code)}]</span>'
            f"{who}{' <i>warning</i>' if warning else ''} <b>{_e(finding.summary)}</b></p>"
            f"<p>Measured:</p><ul>{evidence}</ul>{fix}</div>"
        )
    return "".join(out)


def _page(title: str, body: str, source: str | None) -> str:
    made = f"Made by streamkit {_e(kit_version())}" + (f" from <code>{_e(source)}</code>" if source else "")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_STYLE}</style></head><body>{body}<footer>{made}. This page stands alone: "
        "no scripts, nothing fetched.</footer></body></html>\n"
    )


def html_report(thing: Trace | Diagnosis, *, source: str | None = None) -> str:
    """The whole report as one HTML document (see the module docstring). ``source`` names the
    file it was made from, for the footer."""
    if isinstance(thing, Trace):
        return _trace_report(thing, source)
    if isinstance(thing, Diagnosis):
        return _diagnosis_report(thing, source)
    raise TypeError(f"html_report() takes a Trace or a Diagnosis, not a {type(thing).__name__}")


def _trace_report(trace: Trace, source: str | None) -> str:
    verdict = trace.verdict
    diagnosis = trace.diagnose()
    kind = "ok" if verdict == "streamed" else ("held" if not diagnosis.streams else "")
    body = (
        f"<h1>{_e(trace.method)} {_e(trace.url)}: {_e(verdict)}</h1>"
        f'<p class="verdict {kind}"><b>Verdict: {_e(verdict)}.</b> {_e(trace.verdict_text)}</p>'
        f'<h2>Timeline</h2><div class="picture">{img_tag(trace.to_svg())}</div>'
        f"<h2>Findings</h2>{_findings(diagnosis.findings)}"
        f"<h2>The request</h2>{_request_table(trace)}"
    )
    return _page(f"streamkit: {trace.method} {trace.url}: {verdict}", body, source)


def _diagnosis_report(diagnosis: Diagnosis, source: str | None) -> str:
    traces = list(diagnosis.traces)
    first = traces[0] if traces else None
    target = f"{first.method} {first.url}" if first is not None else "(no request)"
    if diagnosis.streams:
        head, kind = "It streams.", "ok"
    elif diagnosis.culprit:
        head, kind = f"It does not stream: held back by the {diagnosis.culprit}.", "held"
    else:
        head, kind = "It does not stream; which layer held it is not known.", "held"
    labels = (
        diagnosis.labels if len(diagnosis.labels) == len(traces) else [f"{t.method} {t.url}" for t in traces]
    )
    picture = img_tag(compare(*traces, labels=labels).to_svg()) if traces else ""
    requests = "".join(
        f"<tr><td><code>{_e(label)}</code></td><td>{_e(trace.status)}</td><td>{_e(trace.verdict)}</td>"
        f"<td>{_e(trace.verdict_text)}</td></tr>"
        for label, trace in zip(labels, traces)
    )
    hops: list[Any] = list(getattr(diagnosis, "hops", None) or ())
    hop_part = ""
    if hops:
        hop_labels = list(getattr(diagnosis, "hop_labels", None) or [f"{t.method} {t.url}" for t in hops])
        hop_rows = "".join(
            f"<tr><td><code>{_e(label)}</code></td><td>{_e(trace.verdict)}</td><td>{_e(trace.verdict_text)}</td></tr>"
            for label, trace in zip(hop_labels, hops)
        )
        hop_part = f"<h2>Hops compared</h2><table>{hop_rows}</table>"
    body = (
        f"<h1>{_e(target)}</h1>"
        f'<p class="verdict {kind}"><b>{_e(head)}</b>'
        f"{' (interrupted: only what arrived before Ctrl-C)' if diagnosis.interrupted else ''}</p>"
        f"<h2>Findings</h2>{_findings(diagnosis.findings)}"
        f'<h2>Timelines</h2><div class="picture">{picture}</div>'
        f"<h2>Requests made</h2><table><tr><th>request</th><th>status</th><th>verdict</th><th></th></tr>"
        f"{requests}</table>{hop_part}"
    )
    if first is not None:
        body += f"<h2>The request as given</h2>{_request_table(first)}"
    return _page(f"streamkit doctor: {target}", body, source)
