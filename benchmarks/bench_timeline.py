"""How fast the pictures are drawn, for short and very long traces.

A trace with 100,000 chunks (and as many produced and written events) is drawn in time
buckets, so its SVG should cost about as much as a short trace's, not 100 times more. The
benchmark times ``to_svg`` and ``to_text`` for 1,000 and 100,000 chunks side by side, in one
run, and prints the medians and their ratio.

    python benchmarks/bench_timeline.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    small, big = make_trace(1_000), make_trace(100_000)
    small.to_svg()  # load the template once, outside the timing
    print(f"{'':<22}{'1,000 chunks':>14}{'100,000 chunks':>16}{'ratio':>8}")
    for name in ("to_svg", "to_text"):
        a = median_seconds(getattr(small, name), args.rounds)
        b = median_seconds(getattr(big, name), args.rounds)
        print(f"{name + '()':<22}{a * 1000:>11.1f} ms{b * 1000:>13.1f} ms{b / a:>7.1f}x")
    print(f"SVG size for 100,000 chunks: {len(big.to_svg()):,} characters")


if __name__ == "__main__":
    main()
