# Source of notebooks/05_big_data.ipynb (build with: make notebooks).

# %% [markdown]
# # 05 · Big data, flat memory
#
# Lesson 01 showed that a generator sends the first byte early. This lesson is about the
# other half of the promise: a generator lets a server send a file far bigger than its memory,
# because only the piece in flight exists at any moment. We export a large CSV both ways and
# measure the memory of this kernel (which runs the server, the app and the client).
#
# **In this notebook (about 20 minutes):**
#
# 1. choose the size: small by default, 1 GiB for the workshop;
# 2. stream it, and watch the kernel's memory;
# 3. measure closely: streamed against built in memory, at two sizes;
# 4. two exercises: batching, and files in blocks.

# %% [markdown]
# ## 1. The size
#
# The size comes from the environment variable `STREAMKIT_BIG_CSV`. Without it the export is
# 16 MiB, which keeps the automated test run quick. **In the workshop use 1 GiB**: start
# JupyterLab with `STREAMKIT_BIG_CSV=1GiB make lab`, or run `%env STREAMKIT_BIG_CSV=1GiB` in
# a cell and then run this notebook from the top. Streaming 1 GiB takes from about ten
# seconds to a minute, depending on the machine: Python makes every row.

# %%
import os
import re


def parse_size(text):
    """'16MiB', '1GiB', '500000' -> a number of bytes."""
    found = re.fullmatch(r"\s*(\d+)\s*(KiB|MiB|GiB)?\s*", text)
    if not found:
        raise ValueError(f"STREAMKIT_BIG_CSV should look like 16MiB or 1GiB, not {text!r}")
    return int(found.group(1)) * {None: 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[found.group(2)]


MiB = 2**20
SIZE = parse_size(os.environ.get("STREAMKIT_BIG_CSV", "16MiB"))
print(f"the export is {SIZE / MiB:,.0f} MiB")

# %% [markdown]
# ## 2. Streaming it
#
# The rows are made on the fly. The streaming view collects about 64 KiB of rows, yields them
# as one item, and starts the next batch: a few hundred items per 16 MiB instead of hundreds
# of thousands of tiny ones (each item costs a write and a chunk header).

# %%
from streamkit import App, Response, request, serve

NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John"]
HEADER = "id,name,score,comment\n"
BATCH = 64 * 1024


def csv_line(row):
    return f"{row},{NAMES[row % 8]},{row * 37 % 101},row number {row} of the export\n"


def export_batches(total):
    """The export as ~64 KiB str items, until `total` bytes have been made (ASCII only)."""
    yield HEADER
    made, row = len(HEADER), 0
    while made < total:
        lines, size = [], 0
        while size < BATCH and made + size < total:
            row += 1
            line = csv_line(row)
            lines.append(line)
            size += len(line)
        made += size
        yield "".join(lines)


app = App(__name__)


@app.route("/export.csv")
def export_streamed():
    total = request.args.get("bytes", type=int)
    return Response(export_batches(total), mimetype="text/csv")


server = serve(app, name="big-data")

# %% [markdown]
# The probe reads with `keep_body=False`: it times every chunk but throws the bytes away, so
# the client side stays flat too. While it runs we watch the kernel's **maximum resident
# memory** (the most RAM the process has ever held, from `resource.getrusage`): if the export
# were held in memory anywhere, that maximum would jump by at least its size.

# %%
import resource
import sys
import time


def max_rss():
    """The most memory this process has held so far, in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


before = max_rss()
started = time.monotonic()
big = server.get(f"/export.csv?bytes={SIZE}", keep_body=False, timeout=60)
took = time.monotonic() - started
grew = max_rss() - before
print(f"{big.size / MiB:,.0f} MiB in {took:.1f} s ({big.size / MiB / took:,.0f} MiB/s); max memory grew by {grew / MiB:.1f} MiB")
print(f"{len(big.chunks):,} chunks; the first after {big.ttfb * 1000:.1f} ms")

# %% [markdown]
# ## 3. Measured closely: streamed against built in memory
#
# For a close look we use `tracemalloc`, which counts every allocation Python makes (and slows
# Python down about tenfold while it does, hence the smaller sizes: 1 and 4 MiB).
# `PeakMemory` (from lesson 01) wraps the app and notes how high this kernel's traced memory
# went from the start of each request to its last byte.
#
# The in-memory view makes the same rows, but collects them in a list and joins them into one
# string before the response is made: the way most code starts out.

# %%
import tracemalloc

from streamkit.exercises.measure import PeakMemory


@app.route("/export-in-memory.csv")
def export_in_memory():
    total = request.args.get("bytes", type=int)
    lines, made, row = [HEADER], len(HEADER), 0
    while made < total:
        row += 1
        line = csv_line(row)
        lines.append(line)
        made += len(line)
    return Response("".join(lines), mimetype="text/csv")


metered = PeakMemory(app)
metered_server = serve(metered, name="big-data-metered")


def peak_memory(path):
    """(trace, peak bytes) for one request, with tracemalloc on for just that request."""
    tracemalloc.start()
    try:
        trace = metered_server.get(path, keep_body=False, timeout=60)
        return trace, metered.last
    finally:
        tracemalloc.stop()


peaks = {}
for path in ["/export.csv", "/export-in-memory.csv"]:
    for size in [1 * MiB, 4 * MiB]:
        peaks[path, size] = peak_memory(f"{path}?bytes={size}")
        print(f"{path:<22} {size / MiB:2.0f} MiB: peak {peaks[path, size][1] / MiB:6.2f} MiB")

# %% [markdown]
# Four times the data: the streamed peak stays where it was, a few batches and the server's
# buffers. The in-memory peak grows with the data, to several times the data itself (Python
# strings carry overhead, and for a moment the list and the joined text both exist).

# %% [markdown]
# Memory that grows with the data is what takes servers down: ten users exporting at once, or
# one export a little bigger than last month. A streamed export's memory does not care.
#
# Two things keep it flat, and both are easy to lose:
#
# - **the server side yields as it goes**: no list of all rows, no `"".join(...)` of the whole
#   export, no `response.get_data()`;
# - **the client side does not keep it either**: `keep_body=False` here; in your own client,
#   write each piece to a file as it arrives (`iter_content(chunk_size=...)` or `raw.read1()`).
#
# For files on disk there is no need to write the loop yourself: `werkzeug.wsgi.wrap_file`
# (and Flask's `send_file`) stream a file in blocks. Exercise 2 writes that loop once, to see
# what it does.

# %% [markdown]
# ## 4. Exercises

# %%
from streamkit.exercises import lesson05 as ex

# %% [markdown]
# ### Exercise 1: batches
#
# Many tiny items are slow: each one is a write and a chunk. Write a generator
# `batches(lines, size)` that joins every `size` lines into one string and yields it (and
# yields the shorter rest at the end). The check streams 10,500 lines with `size=1000`.

# %%
def batches(lines, size):
    ...  # your code here


# %%
ex.q1.check(batches)

# %%
ex.q1.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ### Exercise 2: a file in blocks
#
# Write a generator `file_blocks(path, block_size=64 * 1024)` that yields the file's bytes
# in blocks of at most `block_size`, never holding more than a block. The check serves a
# 4 MiB file through it, compares the bytes and measures the peak memory.

# %%
def file_blocks(path, block_size=64 * 1024):
    ...  # your code here


# %%
ex.q2.check(file_blocks)

# %%
ex.q2.hint()  # run this cell again for more; the last run shows a solution

# %% [markdown]
# ## Checks

# %%
# Every byte of the big export arrived, and it streamed, one chunk per batch the app made.
assert big.status == 200 and big.error is None and big.server_error is None
assert big.size == sum(event.size for event in big.produced) >= SIZE
# A batch ends with the line that crosses 64 KiB, so each runs over BATCH by less than a line
# (under 100 bytes): about SIZE / 64 KiB batches, a few fewer for a big export.
batches = big.produced[1:]  # the header went out on its own first
assert all(BATCH <= event.size < BATCH + 100 for event in batches[:-1])
assert SIZE // (BATCH + 100) <= len(batches) <= SIZE // BATCH + 1
# The client got the batches as they were made: about one chunk each, none collected on the way.
assert 0.9 * len(big.produced) <= len(big.chunks) <= 1.1 * len(big.produced) + 2
assert big.ttfb < big.duration / 4  # the first piece came long before the last
# Streaming it did not make the process hold anything like the export.
assert grew < SIZE / 4
# Measured closely: streaming is flat (4x the data, about the same peak, far below the data)...
streamed_1, streamed_4 = peaks["/export.csv", 1 * MiB][1], peaks["/export.csv", 4 * MiB][1]
built_1, built_4 = peaks["/export-in-memory.csv", 1 * MiB][1], peaks["/export-in-memory.csv", 4 * MiB][1]
assert streamed_4 < streamed_1 + MiB and streamed_4 < 2 * MiB
# ...while building in memory grows with the data and needs more than the data itself.
assert built_4 > 3 * built_1 and built_4 > 4 * MiB
assert built_4 > 5 * streamed_4
# Both ways send the same export.
assert peaks["/export.csv", 4 * MiB][0].size == peaks["/export-in-memory.csv", 4 * MiB][0].size
assert server.errors == [] and metered_server.errors == []
print("all checks passed")

# %% [markdown]
# The servers of this lesson keep running, so after *Run All* you can go back to any exercise,
# or try requests of your own. Running the notebook again replaces them (each `serve()` has a
# `name`), `server.stop()` stops one, and restarting the kernel stops them all.
#
# Next: **06 Live updates**.
