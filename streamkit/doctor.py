"""``doctor(url)``: request a URL a few ways at once and say which layer holds its stream back.

Measuring layer (uses :mod:`streamkit.probe`, :mod:`streamkit.measurements` and
:mod:`streamkit.diagnosis`). From the client alone one request cannot tell a compressor from a
proxy from an app that makes everything first. Requests that differ in one header can: when the
identity-encoded response streams and the gzip one arrives at the end, the compression holds
it. The variants:

* ``as given``: the request as the caller gave it (the probe accepts gzip and deflate);
* ``identity``: ``Accept-Encoding: identity``, nothing compressed;
* ``browser encodings``: ``Accept-Encoding: gzip, deflate, br, zstd``, as Chromium asks;
* ``event-stream``: ``Accept: text/event-stream`` (some proxies, such as the one in front of
  JupyterHub, stream only those).

The encoding under test is the doctor's: ``identity`` and ``browser encodings`` keep their
``Accept-Encoding`` whatever the caller sent; the caller's other headers win over a variant's,
and a variant that then equals another one is not sent twice.

With ``upstream=[...]`` (the hops behind ``url``, from the client toward the app) the same
request (method, body and headers; only ``Host`` follows each URL unless the caller set it) goes
to every hop too, and the diagnosis names the layer between the last hop that streams and the
first that does not.

Everything runs at once, in threads, so a doctor run takes about as long as one stream; endless
streams are cut at ``max_seconds``. Because the requests overlap, a server that answers one at a
time shows itself: a later request's headers wait for an earlier stream to end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .diagnosis import Diagnosis, judge
from .measurements import Failed, Measurements, measure
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

# What the probe asks for when the caller gives no Accept-Encoding (see streamkit.probe).
DEFAULT_ACCEPT_ENCODING = "gzip, deflate"
# The headers a variant keeps whatever the caller sent: the encoding under test is the doctor's.
DOCTORS_OWN = frozenset({"accept-encoding"})


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`doctor`; ``diagnosis`` holds what had arrived by then."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__("interrupted")
        self.diagnosis = diagnosis


def merged_headers(variant: Mapping[str, str], caller: Mapping[str, str]) -> dict[str, str]:
    """The variant's headers with the caller's on top (names compared case-insensitively),
    except the doctor's own (``Accept-Encoding``), which the variant keeps when it sets it."""
    own = {name.lower() for name in variant if name.lower() in DOCTORS_OWN}
    taken = {name.lower() for name in caller if name.lower() not in own}
    out = {name: value for name, value in variant.items() if name.lower() not in taken}
    out.update({name: value for name, value in caller.items() if name.lower() not in own})
    return out


class _Run:
    """One request, in a daemon thread (an endless stream must not keep Python from exiting);
    ``trace`` is the trace so far, ``error`` why there is none, ``sent``/``gave_up`` when it
    was sent and when it failed (``time.monotonic()``)."""

    def __init__(
        self,
        label: str,
        url: str,
        headers: dict[str, str],
        options: dict[str, Any],
    ) -> None:
        self.label = label
        self.url = url
        self.headers = headers
        self.trace: Trace | None = None
        self.error: BaseException | None = None
        self.sent = 0.0
        self.gave_up = 0.0
        self.cancelled = threading.Event()
        self.options = options
        self.thread = threading.Thread(target=self._run, name=f"streamkit-doctor-{label}", daemon=True)

    def _seen(self, trace: Trace) -> None:
        self.trace = trace
        if self.cancelled.is_set():
            raise KeyboardInterrupt  # the probe keeps what it measured and returns

    def _run(self) -> None:
        self.sent = time.monotonic()
        try:
            self.trace = read_response(
                self.url, headers=self.headers, keep_body=False, on_chunk=self._seen, **self.options
            )
        except (ProbeError, ValueError, OSError) as exc:
            self.error = exc
        except (KeyboardInterrupt, RuntimeError) as exc:
            # Cancelled before anything arrived, or the shared reader worker was ended by
            # Ctrl-C: nothing to judge from this request; never a traceback from a thread.
            self.error = exc
        if self.error is not None:
            self.gave_up = time.monotonic()

    def accept_encoding(self) -> str:
        """The Accept-Encoding this request sent (the probe's own when none was given)."""
        for name, value in self.headers.items():
            if name.lower() == "accept-encoding":
                return value
        return DEFAULT_ACCEPT_ENCODING

    def pieces(self) -> int:
        trace = self.trace
        return len(content_pieces(trace.chunks)) if trace is not None else 0


def doctor(
    url: str,
    *,
    method: str | None = None,
    headers: Mapping[str, str] | None = None,
    data: bytes | str | None = None,
    json: Any = None,
    upstream: Sequence[str] = (),
    timeout: float = 10.0,
    max_seconds: float = 15.0,
    on_progress: Callable[[float, list[tuple[str, int]]], Any] | None = None,
) -> Diagnosis:
    """Request ``url`` in a few variants at once (see :data:`VARIANTS`), compare them, and say
    whether it streams, which layer holds it back if not, and what to change.

    ``method``, ``data`` and ``json`` are sent with every variant and every hop (a body without
    a method is a POST). ``upstream``: the URLs of the same resource behind ``url``, from the
    client toward the app (the proxy's upstream, then the app server's own port): each gets the
    request as given, and the layer between the last hop that streams and the first that does
    not is named. ``timeout`` bounds each wait for the server; ``max_seconds`` each request's
    reading (an endless stream is cut there and still judged). ``on_progress(elapsed,
    [(label, pieces so far), ...])`` is called about five times a second while the requests run.

    Raises :class:`~streamkit.probe.ProbeError` when the URL gives no response at all,
    ValueError for a bad URL or bad limits, and :class:`Interrupted` (a KeyboardInterrupt) on
    Ctrl-C or a notebook's interrupt, with what had arrived by then in its ``diagnosis``.
    """
    if timeout is None or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if max_seconds is None or max_seconds <= 0:
        raise ValueError(f"max_seconds must be a positive number of seconds, got {max_seconds!r}")
    if isinstance(upstream, str):
        upstream = [upstream]
    check_url(url)
    for hop in upstream:
        check_url(hop)
    if method is None:
        method = "POST" if data is not None or json is not None else "GET"
    options: dict[str, Any] = {"method": method, "timeout": timeout, "max_seconds": max_seconds}
    if data is not None:
        options["data"] = data
    if json is not None:
        options["json"] = json
    caller = dict(headers or {})
    runs: list[_Run] = []
    seen: list[dict[str, str]] = []
    for label, variant in VARIANTS:
        merged = merged_headers(variant, caller)
        key = {name.lower(): value for name, value in merged.items()}
        if key in seen:
            continue  # the caller's headers made it the same request as an earlier one
        seen.append(key)
        runs.append(_Run(_label(label, merged), url, merged, options))
    hop_runs = [
        _Run(f"hop {index}: {hop}", hop, dict(caller), options) for index, hop in enumerate(upstream, 1)
    ]
    everything = runs + hop_runs
    started = time.monotonic()
    for run in everything:
        run.thread.start()
    try:
        deadline = started + timeout + max_seconds + 5
        for run in everything:
            while run.thread.is_alive() and time.monotonic() < deadline:
                run.thread.join(min(0.2, max(deadline - time.monotonic(), 0.01)))
                if on_progress is not None:
                    on_progress(time.monotonic() - started, [(r.label, r.pieces()) for r in everything])
    except KeyboardInterrupt:
        for run in everything:
            run.cancelled.set()
        for run in everything:
            run.thread.join(0.5)
        raise Interrupted(_judge(runs, hop_runs, interrupted=True)) from None
    return _judge(runs, hop_runs, interrupted=False)


def _judge(runs: list[_Run], hop_runs: list[_Run], *, interrupted: bool) -> Diagnosis:
    done = [run for run in runs if run.trace is not None]
    if not done:
        errors = [run.error for run in runs if run.error is not None]
        if errors and not interrupted:
            raise errors[0]
        # Interrupted before any response: say which requests were waiting.
        waiting = [Trace(url=run.url, method=str(run.options["method"]), interrupted=True) for run in runs]
        return Diagnosis(False, None, [], waiting, [run.label for run in runs], interrupted=interrupted)
    for run in runs + hop_runs:
        if interrupted and run.trace is not None:
            run.trace.interrupted = True
    requests = [
        measure(run.label, run.trace, accept_encoding=run.accept_encoding()) for run in done if run.trace
    ]
    hops = [measure(run.label, run.trace, "hop", run.accept_encoding()) for run in hop_runs if run.trace]
    failed = [
        Failed(run.label, str(run.error), run.sent, run.gave_up, "timed out" in str(run.error))
        for run in runs + hop_runs
        if run.trace is None and run.error is not None
    ]
    m = Measurements(
        requests,
        hops=[requests[0], *hops] if hop_runs else [],
        failed=failed,
        interrupted=interrupted,
        doctored=True,
    )
    return judge(m)


def _label(label: str, headers: Mapping[str, str]) -> str:
    interesting = {k: v for k, v in headers.items() if k.lower() in ("accept-encoding", "accept")}
    shown = ", ".join(f"{k}: {v}" for k, v in interesting.items())
    return f"{label} ({shown})" if shown else label
