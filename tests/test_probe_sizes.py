"""probe(keep_body=False) reads chunked bodies without keeping their data (the same reader,
streamkit.http1.ChunkedReader, with keep off): over a real socket it must record the same
chunks and report the same errors as when it keeps the data. In memory, tests/test_http1.py
checks the same by the thousand."""

from __future__ import annotations

import socket

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from streamkit.probe import probe
from tests.test_probe import CHUNKED_HEAD, RawServer, malformed_chunked


def both_ways(raw: RawServer, pieces: list[bytes]) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """Probe the same response keeping the body and not; what each trace says."""

    def script(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in pieces:
            conn.sendall(piece)

    raw.script = script
    kept = probe(raw.url, timeout=5)
    raw.script = script
    sizes = probe(raw.url, timeout=5, keep_body=False)
    assert all(chunk.data is None for chunk in sizes.chunks)
    return (
        (kept.error, kept.stopped, [(c.size, c.wire_size) for c in kept.chunks]),
        (sizes.error, sizes.stopped, [(c.size, c.wire_size) for c in sizes.chunks]),
    )


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]


@pytest.fixture(scope="module")
def raw() -> object:
    server = RawServer()
    yield server
    server.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=malformed_chunked(), cuts=st.lists(st.integers(0, 10_000), max_size=4))
@example(case=(b"\r\n\x00\r\n0\r\n\r\n", b"", "bad size token"), cuts=[])  # an empty size line
@example(case=(b"1\r\n\x00\r\n1\r\n\x00", b"\x00", "early close"), cuts=[])  # closed before a CRLF
def test_malformed_bodies_give_the_same_trace_without_the_data(
    raw: RawServer, case: tuple[bytes, bytes, str], cuts: list[int]
) -> None:
    body, _, _ = case
    kept, sizes = both_ways(raw, split(CHUNKED_HEAD + body, cuts))
    assert sizes == kept


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    chunk_sizes=st.lists(
        st.sampled_from([1, 100, 4095, 4096, 65536, 300_000, 700_000]), min_size=1, max_size=6
    ),
    cuts=st.lists(st.integers(0, 3_000_000), max_size=5),
    trailer=st.sampled_from([b"\r\n", b"X-Sum: 1\r\n\r\n", b""]),
)
def test_big_chunks_across_reads_give_the_same_trace_without_the_data(
    raw: RawServer, chunk_sizes: list[int], cuts: list[int], trailer: bytes
) -> None:
    body = b"".join(b"%x\r\n%s\r\n" % (size, b"x" * size) for size in chunk_sizes) + b"0\r\n" + trailer
    kept, sizes = both_ways(raw, split(CHUNKED_HEAD + body, cuts))
    assert sizes == kept
    assert [size for size, _ in kept[2]] == chunk_sizes
    assert (kept[0] is None) == (trailer != b"")
