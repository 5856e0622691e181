"""How fast the pictures are drawn, for short and very long traces.

A trace with 100,000 chunks (and as many produced and written events) is drawn in time
buckets, so its SVG should cost about as much as a short trace's, not 100 times more. The
benchmark times ``to_svg`` and ``to_text`` for 1,000 and 100,000 chunks side by side, in one
run, and prints the medians and their ratio. The target (issue: long streams "render in well
under a second") is a 100,000-chunk render under 1 s; each line says PASS or FAIL and a summary
follows. A missed target still exits 0; a crash exits non-zero.

    python benchmarks/bench_timeline.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import print_summary, print_table

from streamkit.trace import Chunk, Event, Trace


def make_trace(n: int) -> Trace:
    """A streamed-looking trace of ``n`` 30-byte chunks spread over 5 seconds."""
    step = 5.0 / n
    trace = Trace(url="http://127.0.0.1:1/csv", status=200, headers_at=0.0005, ttfb=0.001)
    trace.chunks = [Chunk(0.001 + i * step, 30, None, 30) for i in range(n)]
    trace.produced = [Event(0.0009 + i * step, 30) for i in range(n)]
    trace.written = [Event(0.00095 + i * step, 30) for i in range(n)]
    trace.duration = trace.chunks[-1].t
    return trace


def median_seconds(func, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


TARGET_SECONDS = 1.0  # a 100,000-chunk picture renders in well under a second


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    small, big = make_trace(1_000), make_trace(100_000)
    small.to_svg()  # load the template once, outside the timing
    results = []  # (what, measured, target, passed)
    for name in ("to_svg", "to_text"):
        a = median_seconds(getattr(small, name), args.rounds)
        b = median_seconds(getattr(big, name), args.rounds)
        results.append(
            (
                f"{name}(), 100,000 chunks (1,000 chunks: {a * 1000:.1f} ms, ratio {b / a:.1f}x)",
                f"{b * 1000:.1f} ms",
                f"< {TARGET_SECONDS:g} s",
                b < TARGET_SECONDS,
            )
        )
    print_table(f"streamkit timeline benchmark, median of {args.rounds} rounds", results)
    print(f"SVG size for 100,000 chunks: {len(big.to_svg()):,} characters")
    print_summary(results)
    return 0  # a missed target is reported above, not an error


if __name__ == "__main__":
    raise SystemExit(main())
