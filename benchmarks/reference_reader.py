"""A plain HTTP reader in a process of its own: the yardstick for the probe's arrival times.

    python benchmarks/reference_reader.py URL [Header: value ...]

It shares nothing with streamkit: it sends a GET over a bare socket, stamps ``time.monotonic()``
after every ``recv``, and only when the connection has closed works out, from the raw bytes,
which chunk of a chunked body was complete after which ``recv``. It prints one JSON object:
``{"started": ..., "chunks": [[t, size], ...]}`` with ``t`` in seconds since ``started``, the
same form as a streamkit trace's chunks.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from urllib.parse import urlsplit


def read(url: str, headers: list[str]) -> dict[str, object]:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
    head += "".join(f"{line}\r\n" for line in headers) + "\r\n"
    received = bytearray()
    stamps: list[tuple[float, int]] = []  # (monotonic time, bytes received so far)
    buffer = bytearray(256 * 1024)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port or 80)) as sock:
        sock.sendall(head.encode())
        while True:
            n = sock.recv_into(buffer)
            now = time.monotonic()
            if not n:
                break
            received += buffer[:n]
            stamps.append((now, len(received)))
    body_at = received.index(b"\r\n\r\n") + 4
    chunks = []
    position = body_at
    stamp = 0
    while True:  # the chunked body: size line, data, CRLF
        line_end = received.index(b"\r\n", position)
        size = int(received[position:line_end].split(b";")[0], 16)
        if size == 0:
            break
        data_end = line_end + 2 + size
        while stamps[stamp][1] < data_end:
            stamp += 1
        chunks.append([stamps[stamp][0] - started, size])
        position = data_end + 2
    return {"started": started, "chunks": chunks}


if __name__ == "__main__":
    print(json.dumps(read(sys.argv[1], sys.argv[2:])))
