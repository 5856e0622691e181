"""Run a learner's code under a time limit, so that no check can block the kernel.

A learner's function may never return: a forgotten ``yield`` turns an endless generator into a
plain function whose loop never ends, and a view can loop forever before it returns. A check
therefore never calls learner code in the kernel's own thread:

* :func:`call` runs one call in a worker thread and waits at most a few seconds for it;
* :class:`Guard` watches the threads that run a served app's code (the view, and each step
  of its response body) and, when the check is over, ends them: a body that would go on
  forever (an endless ``yield b""`` never meets a closed socket) stops at its next item.

Python cannot kill a thread, but it can raise an exception inside one (CPython's
``PyThreadState_SetAsyncExc``): the exception arrives at the thread's next bytecode, so a
busy loop stops at once and a ``time.sleep`` when it returns. That is how both stop code that
has run out of time; the learner's ``finally:`` blocks still run.

One edge of that call, measured on CPython 3.11: asking for an exception sets a flag for the
whole interpreter, and only the thread that takes its exception clears it. An exception that
is never taken (its thread ended first, or it was withdrawn with ``NULL``) leaves the flag set
for good, and from then on any code run under ``cProfile`` (werkzeug's ``ProfilerMiddleware``,
lesson 04) spins forever at its first call. So every exception asked for is taken: a thread
that leaves learner code takes its own (:meth:`Guard.inside`), and :func:`settle` gives one
to a short-lived thread of its own after a thread ended with one pending.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from . import Wrong

__all__ = ["CALL_LIMIT", "Guard", "GuardedApp", "Stopped", "call", "settle"]

CALL_LIMIT = 5.0  # seconds a learner's function may take before the check gives up on it
STOP_WAIT = 1.0  # seconds to wait for a stopped thread to finish


class Stopped(BaseException):
    """Raised inside a thread that runs learner code after its check has ended.

    A BaseException, so that a learner's ``except Exception:`` does not swallow it.
    """


def raise_in_thread(ident: int, exception: type[BaseException] | None) -> None:
    """Make ``exception`` happen at the next bytecode of thread ``ident`` (None: cancel that)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(exception) if exception is not None else None
    )


class _Settle(BaseException):
    """The exception :func:`settle` hands to its own thread."""


def settle() -> None:
    """Clear the interpreter's "an exception is waiting" flag (see the module docstring).

    A thread of its own loops in Python code until it takes one :class:`_Settle`; taking it
    clears the flag, whichever thread it was set for. The exception is asked for once only: a
    second one could land after the first was taken, and would then never be taken.
    """
    started = threading.Event()

    def wait_for_it() -> None:
        try:
            started.set()
            while True:
                time.sleep(0.001)
        except _Settle:
            pass

    helper = threading.Thread(target=wait_for_it, name="streamkit-exercise-settle", daemon=True)
    helper.start()
    started.wait()
    assert helper.ident is not None  # started
    raise_in_thread(helper.ident, _Settle)
    helper.join()  # it runs Python code every millisecond, so it takes the exception at once


def call(
    func: Callable[..., Any],
    *args: Any,
    what: str,
    doing: str,
    likely: str,
    limit: float = CALL_LIMIT,
) -> Any:
    """``func(*args)`` in a worker thread; what it returns, or what it raised, raised here.

    When it has not returned after ``limit`` seconds it is stopped, and the check says so in
    one line: ``what`` did not return within ``limit`` s while ``doing``: ``likely``.
    """
    outcome: dict[str, Any] = {}
    guard = Guard()  # raises into the worker only while it is inside ``func``, never after

    def run() -> None:
        try:
            with guard.inside():
                outcome["value"] = func(*args)
        except Stopped:
            pass
        except BaseException as error:  # raised again in the checking thread
            outcome["error"] = error

    worker = threading.Thread(target=run, name="streamkit-exercise-call", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        guard.end()
        raise Wrong(f"{what} did not return within {limit:g} s while {doing}: {likely}")
    if "error" in outcome:
        error = outcome["error"]
        raise error.with_traceback(error.__traceback__)
    return outcome.get("value")


def _take_stopped() -> None:
    """Run a little Python code so that a :class:`Stopped` on its way arrives, and drop it."""
    try:
        for _ in range(1000):
            pass
    except Stopped:
        pass


class Guard:
    """Notes which threads are running learner code right now, and ends them on :meth:`end`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside: dict[int, threading.Thread] = {}
        self._signalled: set[int] = set()
        self.ended = False

    @contextmanager
    def inside(self) -> Iterator[None]:
        """Around a call into learner code; raises :class:`Stopped` once the check has ended."""
        ident = threading.get_ident()
        with self._lock:
            if self.ended:
                raise Stopped()
            self._inside[ident] = threading.current_thread()
        try:
            yield
        finally:
            with self._lock:
                self._inside.pop(ident, None)
                signalled = ident in self._signalled
                self._signalled.discard(ident)
            if signalled:
                _take_stopped()  # one may still be on its way: take it here, never withdraw it

    def end(self, wait: float = STOP_WAIT) -> list[threading.Thread]:
        """Stop every thread inside learner code; return those still running after ``wait`` s.

        The exception is asked for again every tenth of ``wait`` while a thread is still
        inside (learner code may catch one), and only ever under the lock, while that thread
        is known to be inside: a thread that has left, or a new thread the system gave the
        same number, never gets one.
        """
        rounds = 10
        with self._lock:
            self.ended = True
            threads = list(self._inside.values())
        for _ in range(rounds):
            with self._lock:
                inside = list(self._inside.items())
                for ident, _thread in inside:
                    self._signalled.add(ident)
                    raise_in_thread(ident, Stopped)
            if not inside:
                break
            for _ident, thread in inside:
                thread.join(wait / rounds / len(inside))
        with self._lock:
            running = [thread for thread in self._inside.values() if thread.is_alive()]
        if threads and not running:
            settle()  # a thread that ended before its exception arrived left the flag set
        return running


class GuardedApp:
    """A WSGI app whose view and response body run under a :class:`Guard`.

    After ``guard.end()`` the body ends at its next item (the server then closes it, so the
    learner's ``finally:`` runs), and a view still running is stopped where it is.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], guard: Guard) -> None:
        self.app = app
        self.guard = guard

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            with self.guard.inside():
                body = self.app(environ, start_response)
        except Stopped:
            return []
        return GuardedBody(body, self.guard)


class GuardedBody:
    """A response body passed through item by item, under a :class:`Guard`."""

    def __init__(self, body: Iterable[bytes], guard: Guard) -> None:
        self._body = body
        self._guard = guard
        self._items: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            with self._guard.inside():
                if self._items is None:
                    self._items = iter(self._body)
                return next(self._items)
        except Stopped:
            raise StopIteration from None

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is None:
            return
        try:
            with self._guard.inside() if not self._guard.ended else _nothing():
                close()
        except Stopped:
            pass


@contextmanager
def _nothing() -> Iterator[None]:
    yield
