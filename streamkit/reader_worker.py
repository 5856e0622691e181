"""The reader worker's own side: a small process that reads sockets and stamps arrival times.

Measuring layer. :mod:`streamkit.reader` starts this module as ``python -m
streamkit.reader_worker`` and talks to it over its stdin and stdout (length-prefixed pickles,
see :mod:`streamkit.reader`). Nothing else runs here, so no thread of the notebook's app can
hold this interpreter's GIL while a piece of body arrives: each piece is stamped with
``time.monotonic()`` as soon as ``recv`` returns it.

Jobs are calls of importable functions (``"module:function"``), each in a thread of its own. :func:`probe_job` is the
probe's: it reads a response with :func:`streamkit.client.read_here` and streams the trace back
in batches while it reads. A thread watches the job pipe: when it closes (the parent exited,
or was killed), this process exits at once, even in the middle of a read.
"""

from __future__ import annotations

import importlib
import os
import pickle
import queue
import select
import signal
import sys
import threading
import time
import traceback
from array import array
from collections.abc import Callable
from typing import Any

FLUSH_EVERY = 0.01  # seconds between batches of chunks sent back while a body is being read
HEADER = 4  # bytes of big-endian length before each pickled message


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def frame(message: Any) -> bytes:
    """One message as it goes over a pipe: its pickled length, then the pickle."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(body).to_bytes(HEADER, "big") + body


def _read_exactly(fd: int, size: int) -> bytes | None:
    pieces = []
    while size:
        piece = os.read(fd, min(size, 1 << 20))
        if not piece:
            return None
        pieces.append(piece)
        size -= len(piece)
    return b"".join(pieces)


class _Output:
    """The pipe to the parent; writes from several threads go out whole, one at a time."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()

    def send(self, message: Any) -> None:
        data = frame(message)
        with self.lock:
            try:
                _write_all(self.fd, data)
            except OSError:  # the parent is gone: nobody is waiting for anything
                os._exit(0)


def _exception_message(error: BaseException) -> tuple[Any, ...]:
    """How a job's exception travels back: pickled when it survives that, else as text."""
    from .client import ProbeError

    if isinstance(error, ProbeError):
        return ("probe_error", error.url, error.reason)
    try:
        data = pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
    except Exception:  # noqa: BLE001 - whatever fails, the text of it still goes back
        text = "".join(traceback.format_exception(error))
        return ("text", type(error).__name__, str(error), text)
    return ("pickled", data)


def _resolve(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


# -- the probe's job ------------------------------------------------------------------------


class _Batcher:
    """Sends the trace's head and new chunks to the parent, from the reading thread itself.

    It runs just before each read from the socket, and sends what is new when a read may wait
    (no data ready) or FLUSH_EVERY seconds have passed since the last batch: a slow stream's
    chunks go out one by one at once, a fast one's in batches, and no other thread ever holds
    this interpreter's GIL when a piece of body comes in. Data of chunks already sent is
    dropped here (the parent has it), except for the newest one, which the reader may still
    change (the end of a compressed body is added to it).
    """

    def __init__(self, emit: Callable[[Any], None]) -> None:
        self.emit = emit
        self.trace: Any = None
        self.head_sent = False
        self.sent = 0
        self.events_sent = 0
        self.comments_sent = 0
        self.last = 0.0

    def before_read(self, sock: Any) -> None:
        trace = self.trace
        if trace is None or (self.head_sent and len(trace.chunks) <= self.sent):
            return
        now = time.monotonic()
        if now - self.last >= FLUSH_EVERY or not select.select([sock], [], [], 0)[0]:
            self.last = now
            self.flush()

    def flush(self) -> None:
        trace = self.trace
        if trace is None or trace.headers_at is None:
            return
        if not self.head_sent:
            self.head_sent = True
            self.emit(
                (
                    "head",
                    trace.started,
                    trace.headers_at,
                    trace.status,
                    list(trace.headers.items()),
                    trace.event_framing,
                )
            )
        self.flush_events()
        chunks = trace.chunks
        count = len(chunks)
        if count <= self.sent:
            return
        new = chunks[self.sent : count]
        # Columns: times and sizes as arrays pickle as raw bytes, much faster than tuples.
        times = array("d", [chunk.t for chunk in new])
        reads = array("q", [chunk.read for chunk in new])
        sizes = array("q", [chunk.size for chunk in new])
        wire = array("q", [chunk.wire_size for chunk in new])
        data = [chunk.data for chunk in new] if new[-1].data is not None or new[0].data is not None else None
        self.emit(("chunks", times, sizes, None if wire == sizes else wire, data, reads))
        for chunk in chunks[self.sent : count - 1]:
            chunk.data = None
        self.sent = count

    def flush_events(self) -> None:
        """Send the events and comments completed since the last batch, as plain tuples."""
        trace = self.trace
        events, comments = trace.events, trace.comments
        if len(events) > self.events_sent or len(comments) > self.comments_sent:
            self.emit(
                (
                    "events",
                    [
                        (e.t, e.type, e.id, e.data, e.content, e.chunk, e.read)
                        for e in events[self.events_sent :]
                    ],
                    [(c.t, c.text, c.chunk, c.read) for c in comments[self.comments_sent :]],
                )
            )
            self.events_sent = len(events)
            self.comments_sent = len(comments)


def probe_job(emit: Callable[[Any], None], request: Any, keep_body: bool) -> dict[str, Any]:
    """Read ``request`` (a :class:`streamkit.client.Request`); stream its chunks; return the rest."""
    from .client import read_here

    batcher = _Batcher(emit)

    def on_head(trace: Any) -> None:
        batcher.trace = trace

    trace = read_here(request, keep_body=keep_body, on_head=on_head, before_read=batcher.before_read)
    batcher.trace = trace
    batcher.flush()
    last = trace.chunks[-1] if trace.chunks else None
    unterminated = trace.unterminated
    return {
        "started": trace.started,
        "count": len(trace.chunks),
        "last": None if last is None else (last.t, last.size, last.data, last.wire_size, last.read),
        "unterminated": None
        if unterminated is None
        else (
            unterminated.t,
            unterminated.type,
            unterminated.id,
            unterminated.data,
            unterminated.content,
            unterminated.chunk,
            unterminated.read,
        ),
        "ttfb": trace.ttfb,
        "duration": trace.duration,
        "error": trace.error,
        "error_kind": trace.error_kind,
        "stopped": trace.stopped,
        "note": trace.note,
    }


# -- the process ------------------------------------------------------------------------------


def _watch(jobs_fd: int, jobs: queue.Queue[Any]) -> None:
    """Read jobs from the parent; when the pipe closes, end this process on the spot."""
    while True:
        head = _read_exactly(jobs_fd, HEADER)
        body = None if head is None else _read_exactly(jobs_fd, int.from_bytes(head, "big"))
        if body is None:
            os._exit(0)
        jobs.put(pickle.loads(body))


def main() -> None:
    # Take stdin and stdout for the job pipes; point fds 0-2 at /dev/null so that nothing a
    # library prints can get mixed into the messages.
    jobs_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdout = sys.stdin = open(os.devnull, "r+")  # noqa: SIM115 - lives as long as the process
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupting the kernel is not for us
    if hasattr(os, "set_blocking"):
        os.set_blocking(out_fd, True)
    try:
        import fcntl

        fcntl.fcntl(out_fd, fcntl.F_SETPIPE_SZ, 1 << 20)  # room for batches: Linux only
    except (ImportError, AttributeError, OSError):
        pass
    import streamkit.client  # noqa: F401 - imported before "ready", so the first job is quick

    output = _Output(out_fd)
    output.send(("ready", os.getpid(), time.monotonic()))
    os.dup2(devnull, 2)  # start-up errors went to the parent; later ones have nowhere to go
    sys.stderr = sys.stdout
    jobs: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=_watch, args=(jobs_fd, jobs), name="streamkit-reader-watch", daemon=True).start()
    while True:
        kind, job, target, kwargs, streams = jobs.get()
        if kind == "call":  # each job in a thread of its own: probes may run side by side
            threading.Thread(
                target=_run_job,
                args=(output, job, target, kwargs, streams),
                name=f"streamkit-job-{job}",
                daemon=True,
            ).start()


def _run_job(output: _Output, job: int, target: str, kwargs: dict[str, Any], streams: bool) -> None:
    try:
        function = _resolve(target)
        if streams:
            result = function(lambda payload: output.send(("msg", job, payload)), **kwargs)
        else:
            result = function(**kwargs)
    except BaseException as error:  # noqa: BLE001 - every failure goes back to the parent
        output.send(("raise", job, _exception_message(error)))
    else:
        output.send(("done", job, result))


if __name__ == "__main__":
    main()
