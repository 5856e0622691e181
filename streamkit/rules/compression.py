"""Rules about compression that holds the content: a compressor that does not flush."""

from __future__ import annotations

from ..finding import Finding
from ..measurements import Measured, Measurements, server_side_summary
from ..products import fix_for
from ..trace import seconds_text
from .middleware import compressed_writes, writes_fact, writes_late

WARNINGS: frozenset[str] = frozenset()

KINDS = ("proxy", "server", "framework")


def _framing_fact(r: Measured) -> str:
    return (
        f"{r.framing_first:,} bytes of {r.encoding} framing arrived first and decode to nothing; "
        f"the first content byte came at {seconds_text(r.pieces[0].t)}"
    )


def compared(m: Measurements) -> list[Finding]:
    """Shape: compressed responses are held while identity-encoded ones stream.

    Evidence: two variants of the same request that differ only in Accept-Encoding. Names
    the compression layer, and a product only when a response header proves it is there
    (nginx's gzip, Caddy's encode, ...), and then as the likely place, beside a middleware.
    Never names a product that cannot compress (uvicorn's header says nothing of an app's GZip).
    """
    held = [r for r in m.alike if r.held and r.encoding]
    flowing = [r for r in m.alike if r.streams and not r.encoding]
    if not m.compared or not held or not flowing:
        return []
    encodings = sorted({r.encoding for r in held})
    facts = [r.summary for r in held + flowing]
    for r in held:
        if r.framing_first:
            facts.append(
                f"{r.label}: {r.framing_first} bytes of {r.encoding} framing came first and decode to nothing"
            )
        if r.trace.note and "not decoded" in r.trace.note:
            facts.append(f"{r.label}: {r.trace.note}; judged by the times of the bytes on the wire")
    labels = {r.label for r in held}
    compressors = [
        found
        for found in m.products
        if found.proof == "header" and found.label in labels and found.product.fix("compression")
    ]
    # A product only counts when it can compress (nginx's gzip, Caddy's encode, aiohttp...):
    # uvicorn's Server header says nothing about a GZip middleware in the app.
    match = min(compressors, key=lambda found: KINDS.index(found.product.kind), default=None)
    where = "a compression layer"
    if match is not None:
        where = f"compression in {match.name} or in a middleware behind it"
        facts.append(f"{match.evidence} names {match.name}")
    elif not m.hops[1:]:
        facts.append(
            "no response header names the layer that compresses: compare hops (upstream=[...]) "
            "or read the server side (streamkit.serve + Server.get) to tell a proxy from a middleware"
        )
    return [
        Finding(
            "compression-no-flush",
            "compression",
            f"{where} holds the content to the end ({', '.join(encodings)}), while identity encoding streams",
            facts,
            fix_for(match, "compression"),
        )
    ]


def middleware_no_flush(m: Measurements) -> list[Finding]:
    """Shape: a compressing middleware between the app and the server collects or does not flush.

    Evidence: the server side shows the app's items over time, most written late, and the
    server wrote compressed bytes. Never claims it without the server's writes.
    """
    r = m.primary
    if not r.held or r.holding is None or not writes_late(r) or not compressed_writes(r):
        return []
    facts = [
        r.trace.verdict_text,
        writes_fact(r),
        f"the server wrote {r.encoding}-compressed bytes: a middleware compressed them",
        *server_side_summary(r.trace),
    ]
    return [
        Finding(
            "compression-no-flush",
            "compression",
            f"a {r.encoding} middleware between the app and the server collects the stream "
            "before compressing it, or compresses without flushing",
            facts,
            fix_for(None, "compression"),
        )
    ]


def framing_first(m: Measurements) -> list[Finding]:
    """Shape: one compressed response whose framing (a gzip header) came at once and whose
    content came all at the end.

    Evidence: bytes that decode to nothing before the first content byte, and no server-side
    writes made over time (those rules know more). With variants, only when no identity request was made
    (an identity request that was held too means compression is not the whole story).
    Never claims it for br or zstd, which send nothing early.
    """
    r = m.primary
    if not r.held or not r.encoding or not r.framing_first or (r.trace.written and r.holding is not None):
        return []
    if r.trace.produced and r.holding is None:
        return []  # the app made it all at once: the app's rule
    if m.compared and any(not other.encoding for other in m.alike):
        return []
    return [
        Finding(
            "compression-no-flush",
            "compression",
            f"a {r.encoding} compressor sent its header at once and held the content to the end",
            [r.trace.verdict_text, _framing_fact(r)],
            fix_for(None, "compression"),
        )
    ]
