"""Start a subprocess whose whole process group dies with the process that started it.

Layer: serving (used by the subprocess backends, and by anything else in the kit that starts a
program of its own, such as a reader worker).

A kernel killed with SIGKILL (Jupyter's "Restart kernel", a crash, nbval after a failed cell)
runs no ``atexit`` handler and no ``finally``, so a server it started in a process group of its
own would keep running and keep its port. :func:`launch` starts the command through this file,
run as a script (standard library only, so it starts in a few milliseconds):

* the launcher process is the new session and process-group leader, exactly like
  ``Popen(command, start_new_session=True)``; it forks a *watchdog* and then ``exec``\\ s the
  command, so the command keeps the launcher's pid: ``process.pid`` is the server's pid and its
  group id, and ``stop()`` signals the group as before;
* the watchdog leaves that group (``setsid``), closes everything but its end of a socket pair
  whose other end only the starting process holds, and waits. When that end closes (the
  starting process died, however it died, or :meth:`Launched.release` was called), the watchdog
  sends the group the command's quick-stop signal, SIGKILLs it after ``grace`` seconds if
  anything is left, removes the ``cleanup`` paths (unless released: then the caller does),
  and exits. It also exits, quietly, once the
  group is gone.

Why not ``PR_SET_PDEATHSIG``: it is cleared in every child the server forks, so gunicorn's and
nginx's workers would not get it, and on Linux the "parent" it watches is the *thread* that
started the process, so a server started from a worker thread would be killed when that thread
ends. A socket's end closing is what the kernel does for any process, on Linux and macOS alike.
A child this process forks without exec drops its copies of the lifelines, so it cannot keep
the servers alive after this process has died.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["Launched", "launch"]

_SCRIPT = os.path.abspath(__file__)

# Every lifeline this process holds. A child forked without exec (multiprocessing's "fork")
# would otherwise keep copies of them open, and the watchdogs would wait for it too.
_lifelines: weakref.WeakSet[Launched] = weakref.WeakSet()


def _drop_lifelines_in_child() -> None:
    for process in list(_lifelines):
        if process.lifeline is not None:
            process.lifeline.close()  # only this child's copy: the parent's stays open
            process.lifeline = None


class Launched(subprocess.Popen[bytes]):
    """A :class:`subprocess.Popen` started by :func:`launch`: it holds the lifeline.

    :meth:`release` closes the lifeline and waits for the watchdog to finish; call it after the
    process group has been stopped (:func:`streamkit.backends.stop_process_group` does).
    """

    lifeline: socket.socket | None = None

    def release(self, timeout: float = 1.0) -> None:
        """Close the lifeline and wait (up to ``timeout``) until the watchdog has exited."""
        lifeline, self.lifeline = self.lifeline, None
        if lifeline is None:
            return
        try:
            lifeline.sendall(b"released")  # so it leaves the cleanup paths to the caller
            lifeline.shutdown(socket.SHUT_WR)  # the watchdog reads end-of-file
            lifeline.settimeout(timeout)
            while lifeline.recv(64):  # its end closes when it exits
                pass
        except OSError:  # already gone, or slower than timeout: it exits on its own
            pass
        finally:
            lifeline.close()


def launch(
    command: Sequence[str],
    *,
    stop_signal: int = signal.SIGTERM,
    grace: float = 0.5,
    cleanup: Iterable[str | os.PathLike[str]] = (),
    **popen_options: Any,
) -> Launched:
    """``Popen(command, start_new_session=True, **popen_options)``, tied to this process's life.

    When this process dies, the command's whole process group gets ``stop_signal`` and, after
    ``grace`` seconds, SIGKILL; then the ``cleanup`` paths (files or directories) are removed.
    Raises FileNotFoundError at once when the program does not exist, as Popen does.
    """
    program = command[0]
    if shutil.which(program, path=(popen_options.get("env") or os.environ).get("PATH")) is None:
        raise FileNotFoundError(2, f"No such file or directory: {program!r}")
    if os.name != "posix":  # pragma: no cover - no process groups: a plain subprocess
        return Launched(list(command), **popen_options)
    ours, theirs = socket.socketpair()
    watchdog = [
        sys.executable, "-I", "-S", _SCRIPT,
        str(theirs.fileno()), str(int(stop_signal)), repr(float(grace)),
        *(arg for path in cleanup for arg in ("--cleanup", os.fspath(path))),
        "--", *command,
    ]  # fmt: skip
    try:
        process = Launched(
            watchdog,
            start_new_session=True,
            pass_fds=(theirs.fileno(), *popen_options.pop("pass_fds", ())),
            **popen_options,
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    process.lifeline = ours
    _lifelines.add(process)
    return process


# -- the launcher itself: runs as a script, in the new process group ----------------------


def _group_alive(group: int) -> bool:
    """True while some process of the group runs (zombies waiting to be reaped do not count)."""
    try:
        os.killpg(group, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if not os.path.isdir("/proc/self"):
        return True  # no /proc (macOS): zombies count as alive, SIGKILL settles it
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == group and fields[0] not in ("Z", "X"):
            return True
    return False


def _watch(lifeline: int, group: int, stop_signal: int, grace: float, cleanup: list[str]) -> None:
    """The watchdog's life: wait for the lifeline to close, then end the group."""
    released = False
    while True:
        readable, _, _ = select.select([lifeline], [], [], 0.5)
        if readable:
            try:
                data = os.read(lifeline, 64)
            except OSError:
                data = b""
            if not data:
                break  # the starting process has gone, or released us
            released = True  # release() says so first: the kit cleans up after itself
        else:
            try:
                os.killpg(group, 0)
            except (ProcessLookupError, PermissionError):
                return  # the group ended (and was reaped): nothing left to watch
    if _group_alive(group):
        try:
            os.killpg(group, stop_signal)
        except (ProcessLookupError, PermissionError):
            pass
        deadline = time.monotonic() + grace
        while _group_alive(group) and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        deadline = time.monotonic() + 1.0
        while _group_alive(group) and time.monotonic() < deadline:
            time.sleep(0.01)  # let SIGKILL land before removing what they were writing
    for path in [] if released else cleanup:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def _close_all_but(keep: int) -> None:
    """Close every file descriptor above 2 except ``keep`` (pipes the command shares, above all)."""
    for listing in ("/proc/self/fd", "/dev/fd"):
        try:
            open_fds = [int(name) for name in os.listdir(listing)]
        except OSError:
            continue
        for fd in open_fds:
            if fd > 2 and fd != keep:
                try:
                    os.close(fd)
                except OSError:
                    pass  # the listing's own descriptor, already closed
        return
    os.closerange(3, keep)
    os.closerange(keep + 1, 65536)


def main(argv: list[str]) -> None:
    """``launcher.py LIFELINE_FD SIGNAL GRACE [--cleanup PATH]... -- COMMAND...``"""
    lifeline, stop_signal, grace = int(argv[0]), int(argv[1]), float(argv[2])
    rest = argv[3:]
    cleanup = []
    while rest and rest[0] == "--cleanup":
        cleanup.append(rest[1])
        rest = rest[2:]
    command = rest[1:]  # after "--"
    group = os.getpid()  # started with start_new_session: the group (and session) leader
    if os.fork() == 0:
        # The watchdog: out of the group (so the group's signals miss it), no shared files.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        _close_all_but(lifeline)
        try:
            _watch(lifeline, group, stop_signal, grace, cleanup)
        finally:
            os._exit(0)
    os.close(lifeline)
    try:
        os.execvp(command[0], command)
    except OSError as error:
        sys.stderr.write(f"streamkit launcher: cannot run {command[0]!r}: {error}\n")
        os._exit(127)


if __name__ == "__main__":
    main(sys.argv[1:])
elif hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_lifelines_in_child)
