"""What the side-by-side benchmarks share: client processes, result rows and the results table.

A benchmark in this folder runs as a script, so ``import common`` finds this file. Each result
is a :data:`Row`, ``(what, measured, target, passed)``:

* :func:`client` runs the benchmark's own file again with ``--client KIND ...`` (a client in a
  separate process, so its work does not share the server's interpreter) and returns the JSON
  line it printed; :func:`read_with_requests` is the ``requests`` client such a process runs;
* :func:`best_ratio` compares the best rounds of two throughputs; :func:`yield_to_arrival`
  gives the median and p99 lag from an item's yield to its arrival;
* :func:`print_table` and :func:`print_summary` print the rows and how many targets were met.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

Row = tuple[str, str, str, bool]  # (what, measured, target, passed)


def client(script: str, kind: str, *args: str) -> dict[str, Any]:
    """Run ``script --client kind args...`` in a fresh interpreter; the last line it printed, as JSON."""
    done = subprocess.run(
        [sys.executable, script, "--client", kind, *args],
        check=False, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"client {kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def read_with_requests(target: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Read ``target`` with requests' ``iter_content(None)``: chunks, bytes and seconds."""
    import requests

    started = time.monotonic()
    response = requests.get(target, stream=True, timeout=60, headers=headers)
    chunks = size = 0
    for piece in response.iter_content(None):
        chunks += 1
        size += len(piece)
    return {"chunks": chunks, "bytes": size, "seconds": time.monotonic() - started}


def best_ratio(what: str, ours: list[float], theirs: list[float], at_least: float) -> Row:
    """The best of ``ours`` over the best of ``theirs`` (per second), passing at ``at_least``."""
    ratio = max(ours) / max(theirs)
    return (
        what,
        f"{ratio:.2f}x ({max(ours):,.0f} vs {max(theirs):,.0f}/s)",
        f">= {at_least:.1f}x",
        ratio >= at_least,
    )


def yield_to_arrival(trace: Any, count: int, what: str) -> list[Row]:
    """Median (target < 1 ms) and p99 (< 5 ms) of the lag from each yield to its arrival."""
    lags = sorted(event.arrived - event.t for event in trace.produced if event.arrived is not None)
    assert len(lags) == count, (len(lags), count, trace)
    median = statistics.median(lags) * 1000
    p99 = lags[min(len(lags) - 1, round(0.99 * (len(lags) - 1)))] * 1000
    return [
        (f"{what} median", f"{median:.3f} ms", "< 1 ms", median < 1),
        (f"{what} p99", f"{p99:.3f} ms", "< 5 ms", p99 < 5),
    ]


def print_table(title: str, results: list[Row]) -> None:
    """A blank line, ``title``, then one aligned line per row with PASS or FAIL."""
    width = max(len(row[0]) for row in results)
    value_width = max(len(row[1]) for row in results)
    print(f"\n{title}")
    print(f"{'measurement':<{width}}  {'measured':<{value_width}}  {'target':<9}  result")
    for what, value, target, passed in results:
        print(f"{what:<{width}}  {value:<{value_width}}  {target:<9}  {'PASS' if passed else 'FAIL'}")


def print_summary(results: list[Row]) -> None:
    """``N of M targets met``, after a blank line."""
    failed = sum(not row[3] for row in results)
    print(f"\n{len(results) - failed} of {len(results)} targets met")
