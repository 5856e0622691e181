"""Arrival times that the app's CPU work cannot distort: the probe's reader worker process.

Measuring layer. In a notebook the app is served from a thread of the same interpreter that
probes it. A thread that computes without pause holds the GIL, and a probe thread then sees a
piece of body only when it gets the GIL back, milliseconds after the piece arrived: the app's
CPU work would look like buffering. So :func:`streamkit.probe` and :meth:`streamkit.Server.get`
read the socket in a worker process, with the probe's own parser
(:func:`streamkit.client.read_here`), and get the chunks back in batches while the body comes
in (``on_chunk`` and live views still follow along, only a few ms behind).

The worker stamps ``time.monotonic()``: CLOCK_MONOTONIC on Linux, which is one clock for the
whole system, so its times and this process's ``trace.started`` and server-side times are on
one clock. That is checked when the worker starts (a reading taken there must fall between two
taken here) and said in ``trace.reader``.

* It starts lazily, at the first probe, and is reused by every later one (:func:`worker_pid`).
* It exits when its job pipe closes: when this interpreter exits or is killed, even with
  SIGKILL, on every OS (a thread there blocks on the pipe and ends the process at EOF).
* Probes running at the same time share it: each runs in a thread of its own there.
* Where it cannot start, the probe reads in this process and says so in ``trace.note``.
  ``STREAMKIT_READER=inprocess`` forces that (``worker`` forces the worker; the default,
  ``auto``, uses it unless this interpreter runs a single thread: then nothing here can hold
  the GIL against the reader, and starting a process would only cost time).

Other parts of the kit can run their own jobs in the worker: :func:`run` calls an importable
``"module:function"`` there, with ``emit`` to stream messages back while it runs.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from itertools import repeat
from pathlib import Path
from typing import Any

from werkzeug.datastructures import Headers

from .client import ProbeError, Request, read_here
from .events import CommentRecord, EventRecord
from .reader_worker import HEADER, frame
from .trace import Chunk, Trace

__all__ = [
    "ReaderWorker",
    "JobInterrupted",
    "WorkerError",
    "read",
    "reader_mode",
    "run",
    "shutdown",
    "worker_pid",
]

ENV_VAR = "STREAMKIT_READER"
MODES = ("auto", "worker", "inprocess")
START_TIMEOUT = 30.0  # seconds for the worker to start (a loaded machine can be slow)
ANSWER_SLACK = 10.0  # a probe's worker must say something within its timeout plus this


class WorkerError(RuntimeError):
    """The reader worker could not start, died, or stopped answering."""


class JobInterrupted(WorkerError):
    """Another job in the same worker was interrupted (Ctrl-C), which ended the worker, and
    this job's read with it."""


class ReaderWorker:
    """One worker process and its two pipes. Jobs from several threads run side by side: the
    thread that is waiting reads the answers from the pipe and hands the others theirs."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.broken: str | None = None  # why it can no longer be used
        self.interrupted = False  # it was ended because a job was interrupted (Ctrl-C)
        self.clock_check = ""
        self._jobs = 0
        self._buffer = bytearray()
        self._send_lock = threading.Lock()
        self._state = threading.Condition()
        self._inbox: dict[int, deque[Any]] = {}
        self._reading = False
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "streamkit.reader_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                close_fds=True,
                start_new_session=os.name == "posix",  # a Ctrl-C to the kernel's group is not ours
            )
        except OSError as exc:
            raise WorkerError(f"cannot start {sys.executable}: {exc.strerror or exc}") from None
        try:
            self._handshake()
        except BaseException:
            self.close()
            raise

    def _handshake(self) -> None:
        process = self._process
        try:
            message = self._receive(START_TIMEOUT)
        except WorkerError:
            message = None
        if message is None or message[0] != "ready":
            process.kill()
            process.wait()
            assert process.stderr is not None
            error = process.stderr.read().decode(errors="replace").strip().splitlines()
            raise WorkerError(
                f"the reader worker did not start (exit code {process.returncode}"
                + (f": {error[-1]}" if error else "")
                + ")"
            )
        assert process.stderr is not None
        process.stderr.close()  # the worker points its stderr at /dev/null once it is ready
        self.pid: int = message[1]
        # The same clock? A reading there must fall between two readings here.
        before = time.monotonic()
        theirs = self.call("time:monotonic", {}, answer_within=START_TIMEOUT)
        after = time.monotonic()
        if not before <= theirs <= after:
            raise WorkerError(
                "the reader worker's time.monotonic() is not this process's clock "
                f"(it read {theirs:.6f}, between {before:.6f} and {after:.6f} here)"
            )
        self.clock_check = (
            f"read by reader worker process {self.pid}, whose time.monotonic() is this "
            f"process's clock (system-wide; a reading there fell between two here "
            f"{(after - before) * 1000:.2f} ms apart)"
        )

    @property
    def alive(self) -> bool:
        return self.broken is None and self._process.poll() is None

    # -- messages -------------------------------------------------------------------------

    def _send(self, message: Any) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            with self._send_lock:
                stdin.write(frame(message))
                stdin.flush()
        except (OSError, ValueError) as exc:  # ValueError: closed meanwhile
            self._break(f"the reader worker is gone ({exc})")
            raise WorkerError(self.broken) from None

    def _fill(self, fd: int, size: int, deadline: float | None) -> None:
        buffer = self._buffer
        while len(buffer) < size:
            if deadline is not None and os.name == "posix":
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise TimeoutError
            data = os.read(fd, 1 << 20)
            if not data:
                code = self._process.poll()
                raise WorkerError(
                    "the reader worker exited" + (f" (exit code {code})" if code is not None else "")
                )
            buffer += data

    def _receive(self, timeout: float | None) -> Any:
        """Read one message (a single reader at a time); WorkerError past ``timeout``."""
        stdout = self._process.stdout
        assert stdout is not None
        fd = stdout.fileno()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._fill(fd, HEADER, deadline)
            size = int.from_bytes(self._buffer[:HEADER], "big")
            self._fill(fd, HEADER + size, deadline)
        except TimeoutError:
            raise WorkerError(f"the reader worker did not answer within {timeout:g} s") from None
        body = bytes(self._buffer[HEADER : HEADER + size])
        del self._buffer[: HEADER + size]
        return pickle.loads(body)

    def _break(self, why: str) -> None:
        with self._state:
            if self.broken is None:
                self.broken = why
            self._state.notify_all()

    def _next(self, job: int, timeout: float | None) -> Any:
        """The next message for ``job``, reading the pipe (for everyone) when nobody else is."""
        deadline = None if timeout is None else time.monotonic() + timeout
        inbox = self._inbox[job]
        while True:
            with self._state:
                while True:
                    if inbox:
                        return inbox.popleft()
                    if self.broken is not None:
                        raise (JobInterrupted if self.interrupted else WorkerError)(self.broken)
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise WorkerError(f"the reader worker did not answer within {timeout:g} s")
                    if not self._reading:
                        self._reading = True
                        break
                    self._state.wait(left)
            try:
                message = self._receive(left)
            except BaseException as exc:
                self._reading = False
                self._break(
                    str(exc) if isinstance(exc, WorkerError) else f"interrupted ({type(exc).__name__})"
                )
                raise
            with self._state:
                self._reading = False
                box = self._inbox.get(message[1])
                if box is not None:
                    box.append(message)
                self._state.notify_all()

    def call(
        self,
        target: str,
        kwargs: dict[str, Any],
        on_message: Callable[[Any], Any] | None = None,
        *,
        answer_within: float | None = None,
    ) -> Any:
        """Run ``target(**kwargs)`` in the worker (``target(emit, **kwargs)`` with
        ``on_message``, which then gets every ``emit(payload)`` as it comes) and return its
        result, or raise its exception here. ``answer_within`` bounds the wait for each
        message; past it (or if the worker dies, or this call is interrupted) the worker is
        marked broken: :class:`WorkerError` here and in the jobs running beside it.
        """
        with self._state:
            self._jobs += 1
            job = self._jobs
            self._inbox[job] = deque()
        raised_there = False
        try:
            self._send(("call", job, target, kwargs, on_message is not None))
            while True:
                message = self._next(job, answer_within)
                kind = message[0]
                if kind == "msg":
                    if on_message is not None:
                        on_message(message[2])
                    continue
                if kind == "done":
                    return message[2]
                raised_there = True  # the job failed, the worker is fine
                raise _rebuild(message[2])
        except BaseException as exc:
            if not raised_there:
                # The job may still be running there (reading an endless stream, say): nothing
                # else can tell it to stop. Jobs beside it get WorkerError; the next call starts
                # a new worker, and closes this one's pipes.
                if isinstance(exc, KeyboardInterrupt):
                    self.interrupted = True
                self._break(f"a job was interrupted ({type(exc).__name__})")
                self._kill()
            raise
        finally:
            with self._state:
                del self._inbox[job]

    def _kill(self) -> None:
        if self.owner == os.getpid() and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def forget(self) -> None:
        """Close this process's copies of the pipes, leaving the process alone (after fork)."""
        self.broken = "inherited through fork"
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
                try:
                    if stream is not None:  # the fd now points at /dev/null: safe to close later
                        os.dup2(devnull, stream.fileno())
                except (OSError, ValueError):
                    pass
        finally:
            os.close(devnull)

    def close(self) -> None:
        """Close the job pipe (the worker exits on its own), reap it, close our pipe ends."""
        self._break("closed")
        process = self._process
        if self.owner != os.getpid():  # inherited through fork: the parent's, not ours
            return
        for stream in (process.stdin, process.stdout, process.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            process.wait(2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _rebuild(message: tuple[Any, ...]) -> BaseException:
    """The job's exception, from how the worker sent it (see reader_worker)."""
    kind = message[0]
    if kind == "probe_error":
        error: BaseException = ProbeError(message[1], message[2])
    elif kind == "pickled":
        try:
            error = pickle.loads(message[1])
            if not isinstance(error, BaseException):
                raise TypeError
        except Exception:  # noqa: BLE001 - fall back to a plain description
            error = WorkerError("the reader worker's job failed")
    else:
        error = WorkerError(f"the reader worker's job failed: {message[1]}: {message[2]}\n{message[3]}")
    return error


# -- the shared worker -----------------------------------------------------------------------

_lock = threading.Lock()
_worker: ReaderWorker | None = None
_failed: str | None = None  # why the worker could not start, once it could not


def _acquire() -> ReaderWorker:
    """The shared worker, started at the first call (and again if it broke)."""
    global _worker, _failed
    with _lock:
        worker = _worker
        if worker is not None and worker.owner == os.getpid() and worker.alive:
            return worker
        _worker = None
        if worker is not None and worker.owner == os.getpid():
            worker.close()
        if _failed is not None:
            raise WorkerError(_failed)
        try:
            _worker = ReaderWorker()
        except WorkerError as exc:
            _failed = str(exc)
            raise
        return _worker


def run(
    target: str,
    kwargs: dict[str, Any] | None = None,
    on_message: Callable[[Any], Any] | None = None,
    *,
    answer_within: float | None = None,
) -> Any:
    """Run ``target`` (``"module:function"``) in the reader worker; see :meth:`ReaderWorker.call`.

    The worker is started if it is not running. Raises :class:`WorkerError` when no worker can
    run it, else whatever the job raised.
    """
    return _acquire().call(target, kwargs or {}, on_message, answer_within=answer_within)


def worker_pid() -> int | None:
    """The process id of the reader worker, None when there is none (not started yet)."""
    with _lock:
        worker = _worker
    return worker.pid if worker is not None and worker.alive else None


def shutdown() -> None:
    """Stop the reader worker and forget a failed start (runs at interpreter exit); the next
    probe starts a new one."""
    global _worker, _failed
    with _lock:
        worker, _worker = _worker, None
        _failed = None
    if worker is not None:
        worker.close()


atexit.register(shutdown)


def _forget_after_fork() -> None:
    """In a forked child: drop the parent's worker, and close our copies of its pipes (else the
    worker would not see EOF when the parent dies while the child lives on)."""
    global _worker
    worker, _worker = _worker, None
    if worker is not None:
        worker.forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def reader_mode() -> str:
    """``STREAMKIT_READER``: ``auto`` (the default), ``worker`` or ``inprocess``."""
    mode = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"{ENV_VAR} must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


# -- reading a response ------------------------------------------------------------------------

IN_PROCESS_NOTE = (
    "arrival times were read in this process ({why}): a busy thread here, such as an app "
    "served from this notebook, can make pieces look late"
)


def read(
    request: Request,
    *,
    keep_body: bool = True,
    on_chunk: Callable[[Trace], Any] | None = None,
    on_head: Callable[[Trace], Any] | None = None,
) -> Trace:
    """Read ``request`` in the reader worker (or here, see the module docstring); a Trace.

    ``on_chunk(trace)`` follows the chunks as they come, ``on_head(trace)`` is called once the
    status and headers are in."""
    mode = reader_mode()
    if mode == "inprocess":
        return _read_here(request, keep_body, on_chunk, on_head, f"{ENV_VAR}=inprocess")
    if mode == "auto" and threading.active_count() == 1:
        trace = read_here(request, keep_body=keep_body, on_chunk=on_chunk, on_head=on_head)
        trace.reader = "read in this process, which ran no other thread"
        return trace
    try:
        pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - e.g. a header value that cannot be pickled
        why = f"the request cannot be sent to the worker: {exc}"
        return _read_here(request, keep_body, on_chunk, on_head, why)
    try:
        worker = _acquire()
    except WorkerError as exc:
        return _read_here(request, keep_body, on_chunk, on_head, str(exc))
    return _read_in(worker, request, keep_body, on_chunk, on_head)


def _read_here(
    request: Request,
    keep_body: bool,
    on_chunk: Callable[[Trace], Any] | None,
    on_head: Callable[[Trace], Any] | None,
    why: str,
) -> Trace:
    trace = read_here(request, keep_body=keep_body, on_chunk=on_chunk, on_head=on_head)
    note = IN_PROCESS_NOTE.format(why=why)
    trace.reader = note
    trace.note = f"{trace.note}; {note}" if trace.note else note
    return trace


def _read_in(
    worker: ReaderWorker,
    request: Request,
    keep_body: bool,
    on_chunk: Callable[[Trace], Any] | None,
    on_head: Callable[[Trace], Any] | None = None,
) -> Trace:
    trace = Trace(url=request.url, method=request.method)
    chunks = trace.chunks

    def on_message(message: tuple[Any, ...]) -> None:
        if message[0] == "head":
            _, trace.started, trace.headers_at, trace.status, headers, trace.event_framing = message
            trace.headers = Headers(headers)
            if on_head is not None:
                on_head(trace)
            return
        if message[0] == "events":
            trace.events.extend(EventRecord(*fields) for fields in message[1])
            trace.comments.extend(CommentRecord(*fields) for fields in message[2])
            return
        _, times, sizes, wire, data, reads = message
        new = list(map(Chunk, times, sizes, data or repeat(None), wire or sizes, reads))
        if trace.ttfb is None and new:
            trace.ttfb = new[0].t
        if on_chunk is None:
            chunks.extend(new)
            return
        for chunk in new:
            chunks.append(chunk)
            on_chunk(trace)

    # Each message comes within the probe's timeout (it bounds every silence) plus a batch.
    try:
        result = worker.call(
            "streamkit.reader_worker:probe_job",
            {"request": request, "keep_body": keep_body},
            on_message,
            answer_within=request.timeout + ANSWER_SLACK,
        )
    except (KeyboardInterrupt, JobInterrupted):
        # Ctrl-C lands here, in this process (the call has already ended the worker, and with
        # it the reads of other threads, which get JobInterrupted). Once the headers are in,
        # keep what was measured, as a read in this process does; before that there is
        # nothing to keep.
        if trace.status is None:
            raise
        trace.interrupted = True
        trace.duration = time.monotonic() - trace.started
        trace.reader = worker.clock_check
        return trace
    trace.started = result["started"]
    if result["last"] is not None and len(chunks) == result["count"]:
        chunks[-1] = Chunk(*result["last"])  # the end of a compressed body may have grown it
    if result["unterminated"] is not None:
        trace.unterminated = EventRecord(*result["unterminated"])
    trace.ttfb = result["ttfb"]
    trace.duration = result["duration"]
    trace.error = result["error"]
    trace.error_kind = result["error_kind"]
    trace.stopped = result["stopped"]
    trace.note = result["note"]
    trace.reader = worker.clock_check
    return trace
