"""What the owner check costs, measured side by side in one run; prints figures and ratios.

    .venv/bin/python benchmarks/bench_access.py [--quick]

* one uid lookup (:func:`streamkit.access.socket_owner`, a ``sock_diag`` netlink query) against
  opening and closing a loopback TCP connection, the cost every connection already has;
* the same lookup read from ``/proc/net/tcp`` (the fallback), which lists every socket;
* short requests, one new connection each, to a gated server against the same app on a shared
  (ungated) server, rounds interleaved: the check's share of a whole request (the worst case:
  a tiny response, and one lookup for each);
* many requests on one keep-alive connection (waitress), gated against shared: the check is
  made once per connection, so the per-request cost is only the header/cookie/query look;
* the streams of ``bench_server.py`` (20,000 small rows from the kit's App; 64 KiB blocks), read
  with a bare socket from two gated and two shared servers, each round in a rotated order.

Throughputs are the best of several interleaved rounds. A missed target still exits 0.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import bench_server  # noqa: E402  (this directory: its apps and client processes)

from streamkit import serve  # noqa: E402
from streamkit.access import proc_owner, socket_owner  # noqa: E402


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]


def per_call(fn: Callable[[], Any], n: int) -> float:
    """Seconds per call, best of three runs of ``n`` calls."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - started) / n)
    return best


def requests_per_second(url: str, n: int, keep_alive: bool) -> float:
    host, port = url.removeprefix("http://").split(":")
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    for _ in range(n):
        if not keep_alive:
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200, response.status
        response.read()
        if not keep_alive:
            connection.close()
    connection.close()
    return n / (time.perf_counter() - started)


def read_all(url: str, path: str) -> float:
    """Bytes/s of one response read with a bare socket (the least client work there is)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        buffer = bytearray(256 * 1024)
        total = 0
        started = time.perf_counter()
        while received := sock.recv_into(buffer):
            total += received
    return total / (time.perf_counter() - started)


def compare(make: Callable[[bool], Any], measure: Callable[[str], float], rounds: int) -> tuple[float, float]:
    """Best ``measure(url)`` of two gated and two shared servers made by ``make(shared)``,
    each round in a rotated order (no server always first): (gated, shared)."""
    servers = [("shared", make(True)), ("gated", make(False)), ("shared", make(True)), ("gated", make(False))]
    best = {"gated": 0.0, "shared": 0.0}
    try:
        for round_ in range(rounds):
            turn = round_ % len(servers)
            for kind, server in servers[turn:] + servers[:turn]:
                best[kind] = max(best[kind], measure(server.url))
    finally:
        for _, server in servers:
            server.stop()
    return best["gated"], best["shared"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a fast look")
    quick = parser.parse_args().quick
    n, rounds = (200, 3) if quick else (500, 7)

    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = listener.getsockname()

        def connect() -> None:
            with socket.create_connection(address):
                accepted, _ = listener.accept()
                accepted.close()

        connection_cost = per_call(connect, n)
        with socket.create_connection(address):
            accepted, peer = listener.accept()
            with accepted:
                uid = socket_owner(peer, accepted.getsockname())
                assert uid == os.geteuid(), uid
                lookup = per_call(lambda: socket_owner(peer, accepted.getsockname()), n)
                family = socket.AF_INET
                src, dst = socket.inet_aton(peer[0]), socket.inet_aton(address[0])
                proc = per_call(lambda: proc_owner(family, src, peer[1], dst, address[1]), 5)
    lines = [
        ("loopback connect+accept+close", f"{connection_cost * 1e6:.0f} us", ""),
        ("uid lookup (sock_diag netlink)", f"{lookup * 1e6:.0f} us", ""),
        ("uid lookup (/proc/net/tcp)", f"{proc * 1e6:.0f} us", ""),
        ("netlink lookup / connection cost", f"{lookup / connection_cost:.2f}", ""),
    ]
    g, s = compare(
        lambda shared: serve(app, shared=shared), lambda url: requests_per_second(url, n, False), rounds
    )
    # werkzeug's server closes every connection after one response: one lookup per request,
    # the worst case, so its target is looser.
    lines.append(("werkzeug, new connection per request: gated/shared", f"{g / s:.3f}", "\u2265 0.90"))
    g2, s2 = compare(
        lambda shared: serve(app, server="waitress", shared=shared),
        lambda url: requests_per_second(url, n * 4, True),
        rounds,
    )
    lines.append(("waitress, keep-alive: gated/shared", f"{g2 / s2:.3f}", "\u2265 0.95"))
    rows = 20_000
    kit_app = bench_server.build_app(rows)
    path = f"/rows?n={rows}"
    r_g, r_s = compare(
        lambda shared: serve(kit_app, shared=shared), lambda url: read_all(url, path), rounds + 5
    )
    lines.append((f"{rows:,} rows (App), bytes/s: gated/shared", f"{r_g / r_s:.3f}", "\u2265 0.95"))
    count = (64 if quick else 256) * 16  # 64 KiB blocks: 64 or 256 MiB
    blocks = f"/?n={count}"
    b_g, b_s = compare(
        lambda shared: serve(bench_server.blocks, shared=shared),
        lambda url: read_all(url, blocks),
        rounds + 5,
    )
    lines.append(
        (f"64 KiB blocks, {count // 16} MiB, bytes/s: gated/shared", f"{b_g / b_s:.3f}", "\u2265 0.95")
    )
    print(f"\nstreamkit access-check benchmark{' (--quick)' if quick else ''}")
    width = max(len(what) for what, _, _ in lines)
    for what, value, target in lines:
        verdict = ""
        if target:
            verdict = "PASS" if float(value) >= float(target.split()[-1]) else "FAIL"
        print(f"{what:<{width}}  {value:>9}  {target:<7} {verdict}")
    print(f"(requests/s: werkzeug gated {g:.0f}, shared {s:.0f}; waitress gated {g2:.0f}, shared {s2:.0f})")
    print(
        f"(rows: gated {r_g / 1e3:,.0f}, shared {r_s / 1e3:,.0f} kB/s; "
        f"blocks: gated {b_g / 2**20:,.0f}, shared {b_s / 2**20:,.0f} MiB/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
