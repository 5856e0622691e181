"""Exercises for lesson 05, Big data, flat memory: batch small items, stream a file in blocks."""

from __future__ import annotations

import os
import tempfile
import tracemalloc
from collections.abc import Iterator
from typing import Any

from ..app import App
from ..response import Response
from ..trace import plural
from . import Exercise, Wrong
from .checking import calling, fetch, kind_of, pieces, require_attempt, require_function, served
from .measure import PeakMemory

LESSON = "05"

# -- q1 ------------------------------------------------------------------------------------


def _numbered_lines(n: int) -> Iterator[str]:
    for i in range(1, n + 1):
        yield f"{i}\n"


class _Counted:
    """Lines handed out one by one, counting how many have been taken."""

    def __init__(self, n: int) -> None:
        self.taken = 0
        self._lines = _numbered_lines(n)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken += 1
        return line


def _check_batches(answer: Any) -> str:
    func = require_function(answer, "batches")
    made = calling(func, _numbered_lines(3), 2)
    require_attempt(func, made, "batches(lines, size)")
    if isinstance(made, (str, bytes, list, tuple)):
        raise Wrong(
            f"batches() returned {kind_of(made)}; make it a generator that yields one string per batch."
        )
    calling(list, made, what="batches(lines, 2)", doing="the check read its batches")  # errors show up here

    # How much of the input a batch needs: the first batch should leave after size lines.
    source = _Counted(10_500)
    first = calling(
        next, func(source, 1000), what="batches(lines, 1000)", doing="the check read the first batch"
    )
    if source.taken > 1001:
        raise Wrong(
            f"Before the first batch came out, your code had read {source.taken:,} lines of "
            f"10,500: every line was in memory first (lines = list(lines), or a loop that collects "
            f"them all?). Loop over lines itself and yield each batch as soon as it is full."
        )
    if not isinstance(first, str):
        raise Wrong(f"Each batch should be one str (the lines joined), but the first was {kind_of(first)}.")
    batch_lines = [
        item.count("\n")
        for item in calling(
            list,
            func(_numbered_lines(10_500), 1000),
            what="batches(lines, 1000)",
            doing="the check read its batches",
        )
    ]

    app = App(__name__, template_folder=None)

    @app.route("/")
    def numbers() -> Response:
        return Response(func(_numbered_lines(10_500), 1000), mimetype="text/plain")

    with served(app) as server:
        trace = fetch(server, "/", who="batches()", keep_body=True)
    expected = "".join(_numbered_lines(10_500)).encode()
    received = pieces(trace)
    if trace.body != expected:
        if expected.startswith(trace.body):
            missing = expected[len(trace.body) :].count(b"\n")
            raise Wrong(
                f"The last {missing} lines never arrived. When the loop ends, yield the lines that "
                f"are still waiting in the last, smaller batch."
            )
        raise Wrong("The lines that arrived are not the lines that went in (order, or missing newlines?).")
    if received == 10_500:
        raise Wrong(
            "Each line still went out on its own (10,500 chunks). Collect size lines, then yield them joined."
        )
    if received == 1:
        raise Wrong(
            "Everything arrived as one piece, so the whole text was built in memory first. Yield every size lines."
        )
    if batch_lines != [1000] * 10 + [500]:
        sizes = sorted(set(batch_lines[:-1]))
        raise Wrong(
            f"Your batches held {', '.join(f'{n:,}' for n in sizes)} lines each (and "
            f"{batch_lines[-1]:,} in the last one): a full batch holds exactly size (1,000) lines. "
            f"Yield when the list holds size lines, before adding the next."
        )
    if received != 11:
        raise Wrong(f"10,500 lines in batches of 1000 should make 11 chunks, not {received}.")
    return (
        f"10,500 lines went out as {received} chunks: {batch_lines.count(1000)} batches of 1,000 "
        f"lines and one of {batch_lines[-1]:,}, the first after reading {source.taken:,} lines."
    )


q1 = Exercise(
    LESSON,
    1,
    "batches",
    "batches",
    _check_batches,
    hint=[
        "Loop over lines once, keeping only the current batch: never the whole input.",
        'Keep a list; append each line; when it holds size lines, yield "".join(it) and start '
        "a new list. After the loop, yield what is left if the list is not empty.",
    ],
    solution_code="""
def batches(lines, size):
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)
""",
)


# -- q2 ------------------------------------------------------------------------------------

FILE_SIZE = 4 * 1024 * 1024 + 123  # 65 blocks of 64 KiB, the last one short
BLOCK = 64 * 1024


def _write_test_file(folder: str) -> str:
    path = os.path.join(folder, "data.bin")
    pattern = bytes(range(256)) * 4
    with open(path, "wb") as file:
        written = 0
        while written < FILE_SIZE:
            piece = pattern[: FILE_SIZE - written]
            file.write(piece)
            written += len(piece)
    return path


def _check_file_blocks(answer: Any) -> str:
    func = require_function(answer, "file_blocks")
    with tempfile.TemporaryDirectory(prefix="streamkit-exercise-") as folder:
        path = _write_test_file(folder)
        made = calling(func, path, doing="the check called it with a file's path")
        require_attempt(func, made, "file_blocks(path)")
        if isinstance(made, (bytes, str)):
            raise Wrong(
                "file_blocks() returned the whole file at once; make it a generator that yields blocks."
            )
        close = getattr(made, "close", None)
        if callable(close):
            close()

        app = App(__name__, template_folder=None)

        @app.route("/")
        def download() -> Response:
            return Response(func(path), mimetype="application/octet-stream")

        metered = PeakMemory(app)
        with served(metered) as server:
            trace = fetch(server, "/", who="file_blocks()")
            with open(path, "rb") as file:
                expected = file.read()
            if trace.body != expected:
                raise Wrong(
                    f"The download is {trace.size:,} bytes and differs from the file ({len(expected):,} bytes)."
                )
            largest = max(chunk.size for chunk in trace.chunks)
            if largest > BLOCK:
                raise Wrong(
                    f"One chunk held {largest:,} bytes: the file was read in bigger pieces than 64 KiB. "
                    f"Read with file.read(block_size) in a loop."
                )
            peak = _peak_while(lambda: fetch(server, "/", who="file_blocks()", keep_body=False), metered)
    if peak > FILE_SIZE // 2:
        raise Wrong(
            f"Serving the 4 MiB file raised this kernel's memory by {peak / 1024:,.0f} KiB at the "
            f"peak: more than a few blocks were in memory at once. Read one block, yield it, then "
            f"read the next."
        )
    return (
        f"The file went out in {plural(pieces(trace), 'block')} of at most 64 KiB, and serving it "
        f"raised this kernel's memory by {peak / 1024:,.0f} KiB at the peak, for a "
        f"{FILE_SIZE / 1024:,.0f} KiB file."
    )


def _peak_while(run: Any, metered: PeakMemory) -> int:
    """The peak memory (bytes) of the request that ``run()`` makes, with tracemalloc on."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        metered.peaks.clear()
        run()
        if not metered.peaks:
            raise Wrong("The stream did not run to its end.")
        return metered.last
    finally:
        if started:
            tracemalloc.stop()


q2 = Exercise(
    LESSON,
    2,
    "a file in blocks",
    "file_blocks",
    _check_file_blocks,
    hint=[
        "Open the file in binary mode and read it a block at a time, yielding each block.",
        'with open(path, "rb") as file: then loop: block = file.read(block_size); stop when '
        'block is b""; otherwise yield block. The with block closes the file even when the '
        "client leaves early.",
    ],
    solution_code="""
def file_blocks(path, block_size=64 * 1024):
    with open(path, "rb") as file:
        while block := file.read(block_size):
            yield block
""",
)

EXERCISES = [q1, q2]
