"""The diagnosis rules on hand-made traces: one table of cases, one parametrized test.

Each case builds the measurements of a failure shape (or of a clean stream) from ``Trace``
objects made by hand, as a trace file would give them, and says what the diagnosis must be:
``streams``, the culprit, the first finding's code, and words its fix must hold. The real
servers, proxies and middlewares are measured end to end in test_doctor.py; these pin each rule
to its shape, fast. Clean cases share one invariant: nothing is blamed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from streamkit.diagnosis import WARNING_CODES, Diagnosis, judge
from streamkit.measurements import Failed, Measurements, measure
from streamkit.rules import RULES
from streamkit.trace import Chunk, Event, Trace

T0 = 1000.0  # the monotonic clock when the requests were sent


def trace(
    times: list[float],
    *,
    sizes: list[int] | None = None,
    wire: list[int] | None = None,
    headers_at: float | None = 0.001,
    started: float = T0,
    end: float | None = None,
    error: str | None = None,
    produced: list[float] | None = None,
    written: list[float] | None = None,
    url: str = "http://127.0.0.1:8000/stream",
    **headers: str,
) -> Trace:
    sizes = sizes or [10] * len(times)
    wire = wire or list(sizes)
    made = Trace(
        url=url,
        status=200,
        headers_at=headers_at,
        duration=end if end is not None else (times[-1] + 0.001 if times else 0.01),
        started=started,
        error=error,
    )
    made.headers["Content-Type"] = "text/plain; charset=utf-8"
    made.headers["X-Content-Type-Options"] = "nosniff"
    made.headers["Transfer-Encoding"] = "chunked"
    for name, value in headers.items():
        name = name.replace("_", "-")
        if value is None:
            del made.headers[name]
        else:
            made.headers[name] = value
    made.chunks = [Chunk(t, s, None, w) for t, s, w in zip(times, sizes, wire)]
    if produced is not None:
        made.produced = [Event(t, 10) for t in produced]
    if written is not None:
        made.written = [Event(t, 10) for t in written]
    return made


STREAM = [0.01, 0.21, 0.41, 0.61, 0.81]  # 5 pieces 200 ms apart
AT_END = [0.81]  # held: everything at once, at the end


@dataclass
class Case:
    name: str
    requests: list[tuple[str, Trace]]
    streams: bool
    culprit: str | None = None
    code: str | None = None  # the first finding's code
    fix_has: str = ""
    hops: list[tuple[str, Trace]] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    codes_has: tuple[str, ...] = ()
    codes_lack: tuple[str, ...] = ()

    def measurements(self) -> Measurements:
        requests = [measure(label, t) for label, t in self.requests]
        hops = [measure(label, t, role="hop") for label, t in self.hops]
        return Measurements(
            requests,
            hops=[requests[0], *hops] if hops else [],
            failed=self.failed,
            doctored=len(self.requests) > 1 or bool(hops),
        )


def one(t: Trace) -> list[tuple[str, Trace]]:
    return [("GET " + t.url, t)]


def variants(as_given: Trace, identity: Trace, browser: Trace | None = None) -> list[tuple[str, Trace]]:
    out = [("as given", as_given), ("identity (Accept-Encoding: identity)", identity)]
    if browser is not None:
        out.append(("browser encodings (Accept-Encoding: gzip, deflate, br, zstd)", browser))
    return out


GZ = {"Content_Encoding": "gzip"}
FORBIDDEN = trace([0.006], sizes=[135])
FORBIDDEN.status = 403

CLEAN = [
    Case("a plain stream", one(trace(STREAM)), True),
    Case("a compressed stream that flushes", one(trace(STREAM, wire=[20] * 5, **GZ)), True),
    Case(
        "a stream with a Content-Length that arrives over time",
        one(trace(STREAM, Transfer_Encoding=None, Content_Length="50")),
        True,
    ),
    Case(
        "the app's items arrive as made",
        one(trace(STREAM, produced=[t - 0.005 for t in STREAM], written=[t - 0.004 for t in STREAM])),
        True,
    ),
    Case(
        "variants side by side, all streaming",
        variants(trace(STREAM, wire=[20] * 5, **GZ), trace(STREAM), trace(STREAM, wire=[20] * 5, **GZ)),
        True,
        codes_lack=("served-one-at-a-time",),
    ),
    Case(
        "every hop streams",
        variants(trace(STREAM), trace(STREAM)),
        True,
        hops=[("hop 1: http://127.0.0.1:9000/stream", trace(STREAM, url="http://127.0.0.1:9000/stream"))],
    ),
    Case(
        # An app server that serves one request at a time streams the hop behind later: it
        # ends later, but the front hop ended right after its last piece: no cut.
        "a hop served after the front one is not a cut",
        variants(trace(STREAM), trace(STREAM)),
        True,
        hops=[
            (
                "hop 1: http://127.0.0.1:9000/s",
                trace([t + 0.8 for t in STREAM], headers_at=0.8, url="http://127.0.0.1:9000/s"),
            )
        ],
        codes_lack=("cut-after-silence",),
    ),
    Case(
        # Starlette's GZipMiddleware from 1.10.0 flushes each message (Z_SYNC_FLUSH): the same
        # name as the case below that holds; the measurements decide.
        "Starlette GZip that flushes each message",
        variants(
            trace(STREAM, sizes=[49] * 5, wire=[62, 12, 11, 11, 11], Server="uvicorn", **GZ),
            trace(STREAM, sizes=[49] * 5, Server="uvicorn"),
        ),
        True,
    ),
    Case(
        "an event stream with heartbeats",
        one(trace([0.01, 5.0, 10.0, 15.0], Content_Type="text/event-stream", Cache_Control="no-cache")),
        True,
        codes_lack=("sse-idle-gap", "long-silence"),
    ),
    Case(
        "a late start still streams (a warning only)",
        one(trace([1.2, 1.4, 1.6], headers_at=1.2)),
        True,
        codes_has=("late-first-byte",),
    ),
    Case(
        "a stream silent for 35 s gets a warning, not a blame",
        one(trace([0.01, 0.2, 35.2])),
        True,
        codes_has=("long-silence",),
    ),
    Case(
        "requests served one at a time: a warning, the stream still streams",
        [
            ("as given", trace(STREAM, Server="Werkzeug/3.1.8 Python/3.11.2")),
            (
                "identity (Accept-Encoding: identity)",
                trace([0.83 + t for t in STREAM], headers_at=0.825, Server="Werkzeug/3.1.8 Python/3.11.2"),
            ),
        ],
        True,
        codes_has=("served-one-at-a-time",),
    ),
]

HELD = [
    Case(
        # A front layer that refused the request (Apache's workers refused by an owner-only
        # app server) sent a short 403 page: that is another response, not a held stream.
        "a front hop that answered 403 where the hop behind streamed is not 'held'",
        one(FORBIDDEN),
        False,
        None,
        "hop-status-differs",
        hops=[("hop 1: http://127.0.0.1:9000/stream", trace(STREAM, url="http://127.0.0.1:9000/stream"))],
        codes_lack=("proxy-buffering", "proxy-compression"),
    ),
    Case(
        # A buffering proxy sends its headers at the end, as a queued request's come: but
        # nothing streams after them, so it is not a queue.
        "a buffering front hop is not mistaken for a queue",
        variants(trace(AT_END, headers_at=0.8), trace(AT_END, headers_at=0.8)),
        False,
        "proxy",
        "proxy-buffering",
        hops=[("hop 1: http://127.0.0.1:9000/stream", trace(STREAM, url="http://127.0.0.1:9000/stream"))],
        codes_lack=("served-one-at-a-time",),
    ),
    Case(
        "gzip framing first, content at the end",
        one(trace([0.001, 0.81], sizes=[0, 50], wire=[10, 30], **GZ)),
        False,
        "compression",
        "compression-no-flush",
        "Z_SYNC_FLUSH",
    ),
    Case(
        "a middleware collects the body (server side)",
        one(trace(AT_END, sizes=[50], produced=[t - 0.01 for t in STREAM], written=[0.8] * 5)),
        False,
        "middleware",
        "middleware-collects-body",
        "middleware",
    ),
    Case(
        "nginx holds what the server wrote on time (server side)",
        one(
            trace(
                AT_END,
                sizes=[50],
                produced=[t - 0.01 for t in STREAM],
                written=[t - 0.009 for t in STREAM],
                Server="nginx/1.22.1",
            )
        ),
        False,
        "proxy",
        "proxy-buffering",
        "X-Accel-Buffering: no",
    ),
    Case(
        "the app makes everything first",
        one(trace(AT_END, sizes=[50], produced=[0.8] * 5)),
        False,
        "app",
        "app-makes-all-first",
        "yield",
    ),
    Case(
        "gunicorn kills its sync worker",
        one(trace(STREAM, error="IncompleteRead: 50 bytes read", Server="gunicorn")),
        False,
        "server",
        "server-worker-timeout",
        "--worker-class gthread",
    ),
    Case(
        "a cut after silence, nothing named: no blame, and what would tell",
        one(trace([0.01, 0.21, 0.41], end=5.0, error="IncompleteRead: 30 bytes read")),
        False,
        None,
        "cut-after-silence",
        "upstream",
    ),
    Case(
        "a cut after silence through Varnish",
        one(
            trace(
                [0.01, 0.21, 0.41],
                end=5.0,
                error="IncompleteRead",
                Via="1.1 varnish (Varnish/7.1)",
                X_Varnish="32770",
            )
        ),
        False,
        "proxy",
        "cut-after-silence",
        "between_bytes_timeout",
    ),
    Case(
        "a hop that cut the stream while the hop behind kept going",
        variants(
            trace([0.01, 0.21], end=3.0, error="IncompleteRead"),
            trace([0.01, 0.21], end=3.0, error="IncompleteRead"),
        ),
        False,
        "proxy",
        "cut-after-silence",
        "heartbeat",
        hops=[
            ("hop 1: http://127.0.0.1:9000/s", trace([0.01, 0.21, 3.5, 3.7], url="http://127.0.0.1:9000/s"))
        ],
    ),
    Case(
        # Caddy's read_timeout ends the body with a proper last chunk: only the hop behind,
        # still sending, shows that it was cut.
        "a hop that ended cleanly after a silence while the hop behind kept going",
        variants(trace([0.01, 0.21], end=3.0, Server="Caddy"), trace([0.01, 0.21], end=3.0, Server="Caddy")),
        False,
        "proxy",
        "cut-after-silence",
        "read_timeout",
        hops=[
            ("hop 1: http://127.0.0.1:9000/s", trace([0.01, 0.21, 3.5, 3.7], url="http://127.0.0.1:9000/s"))
        ],
    ),
    Case(
        # The hop behind was still silent when the doctor's own timeout ended its read: it
        # did not break, it was still going when the front hop broke.
        "a hop cut while the hop behind was still silent (the doctor's own timeout ended it later)",
        variants(
            trace([0.01, 0.21], end=3.2, error="IncompleteRead"),
            trace([0.01, 0.21], end=3.2, error="IncompleteRead"),
        ),
        False,
        "proxy",
        "cut-after-silence",
        "read-timeout",
        hops=[
            (
                "hop 1: http://127.0.0.1:9000/s",
                trace(
                    [0.01, 0.21],
                    end=5.2,
                    error="ReadTimeout: no data for 5 s in the middle of the body",
                    url="http://127.0.0.1:9000/s",
                ),
            )
        ],
    ),
    Case(
        "waitress holding 18,000 bytes",
        one(trace(AT_END, sizes=[50], headers_at=0.8, Server="waitress")),
        False,
        "server",
        "server-holds-writes",
        "send_bytes",
    ),
    Case(
        "tornado write() without flush()",
        one(
            trace(
                AT_END,
                sizes=[50],
                headers_at=0.8,
                Transfer_Encoding=None,
                Content_Length="50",
                Server="TornadoServer/6.4",
            )
        ),
        False,
        "app",
        "app-holds-writes",
        "self.flush()",
    ),
    Case(
        "Django collects a sync iterator under ASGI (daphne)",
        variants(
            trace([0.8, 0.8005], headers_at=0.8, Server="daphne"),
            trace([0.8, 0.8005], headers_at=0.8, Server="daphne"),
        ),
        False,
        "app",
        "app-collects-body",
        "async",
    ),
    Case(
        "waitress's send_bytes: a small body in several reads within a millisecond",
        variants(
            trace([0.8, 0.8002, 0.8004], headers_at=0.8, Server="waitress"),
            trace([0.8, 0.8002, 0.8004], headers_at=0.8, Server="waitress"),
        ),
        False,
        "server",
        "server-holds-writes",
        "send_bytes",
    ),
    Case(
        "held late, nothing named, one request",
        one(trace(AT_END, sizes=[50], headers_at=0.8)),
        False,
        None,
        "held-somewhere",
        "upstream",
    ),
    Case(
        "compressed held, identity streams",
        variants(
            trace([0.001, 0.81], sizes=[0, 50], wire=[10, 30], **GZ),
            trace(STREAM),
            trace([0.001, 0.81], sizes=[0, 50], wire=[10, 30], **GZ),
        ),
        False,
        "compression",
        "compression-no-flush",
        "Z_SYNC_FLUSH",
    ),
    Case(
        # Starlette's GZipMiddleware through 1.3.1: the 10-byte gzip header, then nothing until
        # the end (measured with CPython 3.11's GzipFile).
        "Starlette GZip that does not flush",
        variants(
            trace([0.001, 0.81], sizes=[0, 245], wire=[10, 60], Server="uvicorn", **GZ),
            trace(STREAM, sizes=[49] * 5, Server="uvicorn"),
        ),
        False,
        "compression",
        "compression-no-flush",
        "Z_SYNC_FLUSH",
    ),
    Case(
        "Caddy's encode holds, identity streams",
        variants(trace([0.81], sizes=[50], wire=[30], Server="Caddy", **GZ), trace(STREAM, Server="Caddy")),
        False,
        "compression",
        "compression-no-flush",
        "encode",
    ),
    Case(
        "only Accept: text/event-stream streams",
        [
            ("as given", trace(AT_END, sizes=[50])),
            ("identity (Accept-Encoding: identity)", trace(AT_END, sizes=[50])),
            ("event-stream (Accept: text/event-stream)", trace(STREAM)),
        ],
        False,
        "proxy",
        "proxy-needs-event-stream",
        "text/event-stream",
    ),
    Case(
        "every variant held, nginx named",
        variants(trace(AT_END, sizes=[50], Server="nginx"), trace(AT_END, sizes=[50], Server="nginx")),
        False,
        "proxy",
        "proxy-buffering",
        "proxy_buffering off",
    ),
    Case(
        "every variant held, nothing named: no guess",
        variants(trace(AT_END, sizes=[50], **GZ), trace(AT_END, sizes=[50])),
        False,
        None,
        "held-before-client",
        "upstream",
    ),
    Case(
        "the front hop holds, the app's own port streams: the proxy, unnamed",
        variants(trace(AT_END, sizes=[50]), trace(AT_END, sizes=[50])),
        False,
        "proxy",
        "proxy-buffering",
        "flushpackets=on",
        hops=[("hop 1: http://127.0.0.1:9000/s", trace(STREAM, url="http://127.0.0.1:9000/s"))],
    ),
    Case(
        "the middle hop (Varnish) holds, the app behind streams",
        variants(
            trace(AT_END, sizes=[50], Via="1.1 varnish (Varnish/7.1)"),
            trace(AT_END, sizes=[50], Via="1.1 varnish"),
        ),
        False,
        "proxy",
        "proxy-buffering",
        "beresp.do_stream",
        hops=[
            ("hop 1: http://127.0.0.1:9001/s", trace(AT_END, sizes=[50], Via="1.1 varnish (Varnish/7.1)")),
            ("hop 2: http://127.0.0.1:9000/s", trace(STREAM, url="http://127.0.0.1:9000/s")),
        ],
    ),
]


@pytest.mark.parametrize("case", CLEAN + HELD, ids=lambda case: case.name)
def test_rule_cases(case: Case) -> None:
    diagnosis = judge(case.measurements())
    assert diagnosis.streams is case.streams, diagnosis
    assert diagnosis.culprit == case.culprit, diagnosis
    if case.code is not None:
        first = diagnosis.findings[0]
        assert first.code == case.code, diagnosis
        assert first.evidence and first.summary
        assert case.fix_has in first.fix, first
    for code in case.codes_has:
        assert code in diagnosis.codes, diagnosis
    for code in case.codes_lack:
        assert code not in diagnosis.codes, diagnosis
    _check_shape(diagnosis)


def _check_shape(diagnosis: Diagnosis) -> None:
    for finding in diagnosis.findings:
        assert finding.warning == (finding.code in WARNING_CODES), finding
        assert "would usually name itself" not in str(finding)
    json.dumps(diagnosis.to_dict())  # JSON-ready


def test_a_server_that_cannot_compress_is_not_named_as_the_compressor() -> None:
    case = next(c for c in HELD if c.name == "Starlette GZip that does not flush")
    first = judge(case.measurements()).findings[0]
    assert "uvicorn" not in first.summary and first.summary.startswith("a compression layer")


@pytest.mark.parametrize("case", CLEAN, ids=lambda case: case.name)
def test_a_clean_stream_is_never_blamed(case: Case) -> None:
    diagnosis = judge(case.measurements())
    assert diagnosis.streams and diagnosis.culprit is None
    assert all(finding.warning for finding in diagnosis.findings), diagnosis


def test_served_one_at_a_time_names_the_server_fix_and_says_what_it_means_for_events() -> None:
    case = next(c for c in CLEAN if c.name.startswith("requests served one at a time"))
    finding = next(f for f in judge(case.measurements()).findings if f.code == "served-one-at-a-time")
    assert finding.culprit == "server" and "threaded=True" in finding.fix
    text = " ".join(finding.evidence)
    assert "waited 825 ms" in text and "server-sent events" in text
    # An async server that serves one at a time: its loop is blocked by the app.
    uv = [
        (
            label,
            trace(
                STREAM if i == 0 else [0.83 + t for t in STREAM],
                headers_at=0.001 if i == 0 else 0.825,
                Server="uvicorn",
            ),
        )
        for i, (label, _) in enumerate(case.requests)
    ]
    blocked = next(
        f
        for f in judge(Case("uvicorn", uv, True).measurements()).findings
        if f.code == "served-one-at-a-time"
    )
    assert blocked.culprit == "app" and "asyncio.to_thread" in blocked.fix


def test_a_request_that_timed_out_behind_an_open_stream_counts_as_queued() -> None:
    case = Case(
        "timed out",
        [("as given", trace([0.01 + 0.2 * i for i in range(60)], Server="gunicorn"))],
        True,
        failed=[Failed("identity", "no response within 10 s (timed out)", T0, T0 + 10.0, True)],
    )
    finding = next(f for f in judge(case.measurements()).findings if f.code == "served-one-at-a-time")
    assert "--worker-class gthread" in finding.fix and "no headers within 10.00 s" in finding.evidence[0]


def test_the_cut_after_silence_says_when_and_how_long() -> None:
    case = next(c for c in HELD if c.name.startswith("a cut after silence, nothing named"))
    finding = judge(case.measurements()).findings[0]
    assert "nothing arrived for 4.59 s, from 410 ms, then the body broke at 5.00 s" in " ".join(
        finding.evidence
    )


def test_hop_evidence_holds_every_hops_arrival() -> None:
    case = next(c for c in HELD if c.name.startswith("the middle hop"))
    diagnosis = judge(case.measurements())
    facts = diagnosis.findings[0].evidence
    assert sum(1 for fact in facts if "pieces of content" in fact or "piece of content" in fact) == 3
    assert "Varnish" in diagnosis.findings[0].summary
    assert [hop["label"] for hop in diagnosis.to_dict()["hops"]] == [label for label, _ in case.hops]


@pytest.mark.parametrize(
    "rule", RULES, ids=lambda rule: f"{rule.__module__.rsplit('.', 1)[-1]}.{rule.__name__}"
)
def test_each_rule_says_its_shape_its_evidence_and_what_it_never_claims(rule) -> None:
    doc = rule.__doc__ or ""
    assert "Shape" in doc and "Evidence" in doc, rule
    assert "never" in doc.lower(), rule


def test_the_server_side_is_the_innermost_hops_in_the_evidence_and_the_json() -> None:
    case = next(c for c in HELD if c.name.startswith("a middleware collects the body"))
    diagnosis = judge(case.measurements())
    evidence = diagnosis.findings[0].evidence
    assert any(fact.startswith("app: produced 5 items") for fact in evidence)
    assert any(fact.startswith("server: wrote 5 items") for fact in evidence)
    side = diagnosis.to_dict()["requests"][0]["server_side"]
    assert [line.split(":")[0] for line in side] == ["app", "server"]
