"""``doctor(url)``: request a URL a few ways at once and say which layer holds its stream back.

Measuring layer (uses :mod:`streamkit.probe` and :mod:`streamkit.diagnosis`). From the client
alone one request cannot tell a compressor from a proxy from an app that makes everything
first. Requests that differ in one header can: when the identity-encoded response streams and
the gzip one arrives at the end, the compression holds it. The variants:

* ``as given``: the request as the caller gave it (the probe accepts gzip and deflate);
* ``identity``: ``Accept-Encoding: identity``, nothing compressed;
* ``browser encodings``: ``Accept-Encoding: gzip, deflate, br, zstd``, as Chromium asks;
* ``event-stream``: ``Accept: text/event-stream`` (some proxies, such as the one in front of
  JupyterHub, stream only those).

They run at once, in threads, so a doctor run takes about as long as one stream; endless
streams are cut at ``max_seconds``. The caller's headers win over a variant's: a variant that
then equals another one is not sent twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from .diagnosis import (
    FIX_COMPRESSION,
    FIX_NGINX,
    FIX_NGINX_GZIP,
    FIX_PROXY,
    WARNING_CODES,
    Diagnosis,
    Finding,
    arrival_summary,
    content_held,
    diagnose,
    proxy_name,
)
from .probe import ProbeError, check_url, read_response
from .trace import Trace, content_pieces

__all__ = ["VARIANTS", "Interrupted", "doctor"]

#: The requests doctor makes: a label and the headers that make the variant.
VARIANTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("as given", {}),
    ("identity", {"Accept-Encoding": "identity"}),
    ("browser encodings", {"Accept-Encoding": "gzip, deflate, br, zstd"}),
    ("event-stream", {"Accept": "text/event-stream"}),
)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`doctor`; ``diagnosis`` holds what had arrived by then."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__("interrupted")
        self.diagnosis = diagnosis


def _merged(variant: Mapping[str, str], caller: Mapping[str, str]) -> dict[str, str]:
    """The variant's headers, then the caller's on top (names compared case-insensitively)."""
    out = {name: value for name, value in variant.items() if name.lower() not in {k.lower() for k in caller}}
    out.update(caller)
    return out


class _Run:
    """One variant's request, in a daemon thread (an endless stream must not keep Python
    from exiting); ``trace`` is the trace so far, ``error`` why there is none."""

    def __init__(
        self,
        label: str,
        url: str,
        method: str,
        headers: dict[str, str],
        timeout: float,
        max_seconds: float,
    ) -> None:
        self.label = label
        self.headers = headers
        self.trace: Trace | None = None
        self.error: BaseException | None = None
        self.cancelled = threading.Event()
        self._args = (url, method, timeout, max_seconds)
        self.thread = threading.Thread(target=self._run, name=f"streamkit-doctor-{label}", daemon=True)

    def _seen(self, trace: Trace) -> None:
        self.trace = trace
        if self.cancelled.is_set():
            raise KeyboardInterrupt  # the probe keeps what it measured and returns

    def _run(self) -> None:
        url, method, timeout, max_seconds = self._args
        try:
            self.trace = read_response(
                url,
                method=method,
                headers=self.headers,
                timeout=timeout,
                max_seconds=max_seconds,
                keep_body=False,
                on_chunk=self._seen,
            )
        except (ProbeError, ValueError, OSError) as exc:
            self.error = exc
        except (KeyboardInterrupt, RuntimeError) as exc:
            # Cancelled before anything arrived, or the shared reader worker was ended by
            # Ctrl-C: nothing to judge from this request; never a traceback from a thread.
            self.error = exc


def doctor(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    max_seconds: float = 15.0,
) -> Diagnosis:
    """Request ``url`` in a few variants at once (see :data:`VARIANTS`), compare them, and say
    whether it streams, which layer holds it back if not, and what to change.

    ``timeout`` bounds each wait for the server; ``max_seconds`` each request's reading (an
    endless stream is cut there and still judged). Raises :class:`~streamkit.probe.ProbeError`
    when the URL gives no response at all, ValueError for a bad URL or bad limits, and
    :class:`Interrupted` (a KeyboardInterrupt) on Ctrl-C or a notebook's interrupt, with what
    had arrived by then in its ``diagnosis``.
    """
    if timeout is None or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if max_seconds is None or max_seconds <= 0:
        raise ValueError(f"max_seconds must be a positive number of seconds, got {max_seconds!r}")
    check_url(url)
    caller = dict(headers or {})
    runs: list[_Run] = []
    seen: list[dict[str, str]] = []
    for label, variant in VARIANTS:
        merged = _merged(variant, caller)
        key = {name.lower(): value for name, value in merged.items()}
        if key in seen:
            continue  # the caller's headers made it the same request as an earlier one
        seen.append(key)
        runs.append(_Run(label, url, method, merged, timeout, max_seconds))
    for run in runs:
        run.thread.start()
    try:
        deadline = time.monotonic() + timeout + max_seconds + 5
        for run in runs:
            run.thread.join(max(deadline - time.monotonic(), 0.01))
    except KeyboardInterrupt:
        for run in runs:
            run.cancelled.set()
        for run in runs:
            run.thread.join(0.5)
        raise Interrupted(_judge(runs, interrupted=True)) from None
    return _judge(runs, interrupted=False)


def _judge(runs: list[_Run], *, interrupted: bool) -> Diagnosis:
    done = [run for run in runs if run.trace is not None]
    if not done:
        errors = [run.error for run in runs if run.error is not None]
        if errors and not interrupted:
            raise errors[0]
        return Diagnosis(False, None, [], [], [], interrupted=interrupted)
    traces = [run.trace for run in done if run.trace is not None]
    labels = [_label(run) for run in done]
    for trace in traces:
        if interrupted:
            trace.interrupted = True
    each = [diagnose(trace) for trace in traces]
    first = each[0]
    # Compare only the variants that got what the request as given got (same status class,
    # some content): a server may answer Accept: text/event-stream with a 406.
    base = traces[0]
    alike = [
        (label, trace, diagnosis)
        for label, trace, diagnosis in zip(labels, traces, each)
        if trace.status is not None
        and base.status is not None
        and trace.status // 100 == base.status // 100
        and content_pieces(trace.chunks)
    ]
    findings: list[Finding] = []
    held = [(label, trace) for label, trace, _ in alike if content_held(trace)]
    flowing = [(label, trace) for label, trace, _ in alike if trace.verdict == "streamed"]
    broken = [(label, trace, d) for label, trace, d in alike if trace.verdict == "broken"]
    culprit: str | None = None
    compressed_held = [(label, trace) for label, trace in held if _encoding(trace)]
    plain_flowing = [(label, trace) for label, trace in flowing if not _encoding(trace)]
    if compressed_held and plain_flowing:
        culprit = "compression"
        findings.append(_compression_finding(compressed_held, plain_flowing))
    elif held and flowing and any(label.startswith("event-stream") for label, _ in flowing):
        culprit = "proxy"
        findings.append(
            Finding(
                "proxy-needs-event-stream",
                "proxy",
                "only the request with Accept: text/event-stream streamed: a proxy buffers the others",
                [arrival_summary(label, trace) for label, trace in held + flowing],
                FIX_PROXY,
            )
        )
    elif held and not flowing:
        proxy = next((proxy_name(trace) for _, trace in held if proxy_name(trace)), None)
        encodings = sorted({_encoding(trace) or "identity" for _, trace in held})
        facts = [arrival_summary(label, trace) for label, trace in held]
        facts.append(f"held with every encoding tried ({', '.join(encodings)}): not the compression alone")
        if proxy:
            culprit = "proxy"
            facts.append(f"the response names {proxy} (Server/Via header)")
            findings.append(
                Finding(
                    "proxy-buffering",
                    "proxy",
                    f"{proxy} answered and every variant was held back: {proxy} buffers the "
                    "response (if the app's own port streams, this is certain)",
                    facts,
                    FIX_NGINX if proxy == "nginx" else FIX_PROXY,
                )
            )
        else:
            # The single-trace diagnosis of the request as given says what the client can tell.
            own = [f for f in first.findings if f.culprit != "client" and f.code not in ("close-delimited",)]
            if own and own[0].culprit is not None:
                culprit = own[0].culprit
                findings.append(own[0])
            else:
                findings.append(
                    Finding(
                        "held-before-client",
                        None,
                        "every variant arrived at once: the app makes everything before its first "
                        "yield, or a middleware collects the body (a proxy would usually name itself)",
                        facts + [fact for f in own for fact in f.evidence[1:]],
                        "serve the app with streamkit.serve(app) and diagnose server.get(path): its "
                        "server side tells the app from a middleware",
                    )
                )
    elif broken:
        label, trace, diagnosis = broken[0]
        findings += [f for f in diagnosis.findings if f.culprit != "client" and f.code != "close-delimited"][
            :1
        ]
        culprit = findings[0].culprit if findings else None
    streams = bool(alike) and all(trace.verdict == "streamed" for _, trace, _ in alike)
    if streams:
        culprit = None
        for _, _, diagnosis in alike:  # a part held back is still worth saying
            findings += [f for f in diagnosis.findings if f.code == "partly-held"][:1]
    elif not alike and first.findings:
        findings += first.findings
        culprit = first.culprit
    # Warnings from every variant, once each.
    codes = {f.code for f in findings}
    for diagnosis in each:
        for finding in diagnosis.findings:
            if finding.code in WARNING_CODES and finding.code not in codes:
                findings.append(finding)
                codes.add(finding.code)
    return Diagnosis(
        streams=streams,
        culprit=culprit if not streams else None,
        findings=findings,
        traces=traces,
        labels=labels,
        interrupted=interrupted,
    )


def _encoding(trace: Trace) -> str:
    encoding = (trace.headers.get("Content-Encoding") or "").strip().lower()
    return "" if encoding == "identity" else encoding


def _label(run: _Run) -> str:
    interesting = {k: v for k, v in run.headers.items() if k.lower() in ("accept-encoding", "accept")}
    shown = ", ".join(f"{k}: {v}" for k, v in interesting.items())
    return f"{run.label} ({shown})" if shown else run.label


def _compression_finding(held: list[tuple[str, Trace]], flowing: list[tuple[str, Trace]]) -> Finding:
    encodings = sorted({_encoding(trace) for _, trace in held})
    facts = [arrival_summary(label, trace) for label, trace in held + flowing]
    for label, trace in held:
        framing = 0
        for chunk in trace.chunks:
            if chunk.size:
                break
            framing += chunk.wire_size
        if framing:
            facts.append(
                f"{label}: {framing} bytes of {_encoding(trace)} framing came first and decode to nothing"
            )
        if trace.note and "not decoded" in trace.note:
            facts.append(f"{label}: {trace.note}; judged by the times of the bytes on the wire")
    proxy = next((proxy_name(trace) for _, trace in held if proxy_name(trace)), None)
    where = "a compression layer"
    if proxy:
        where = f"compression in {proxy} (its gzip) or in a middleware behind it"
        facts.append(f"the response names {proxy} (Server/Via header)")
    fix = FIX_NGINX_GZIP if proxy == "nginx" else FIX_COMPRESSION
    return Finding(
        "compression-no-flush",
        "compression",
        f"{where} holds the content to the end ({', '.join(encodings)}), while identity encoding streams",
        facts,
        fix,
    )
