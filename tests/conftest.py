"""Shared test set-up: the Flask parity table printed at the end of the run."""

from __future__ import annotations

from pathlib import Path

import pytest

# Filled by test_flask_parity.py: (scenario, streamkit's result, Flask's result).
PARITY_ROWS: list[tuple[str, str, str]] = []


@pytest.fixture
def parity_rows() -> list[tuple[str, str, str]]:
    return PARITY_ROWS


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not PARITY_ROWS:
        return
    from importlib.metadata import version

    terminalreporter.section(f"streamkit vs Flask {version('flask')}")
    width = max(len(row[0]) for row in PARITY_ROWS)
    terminalreporter.write_line(f"{'scenario':<{width}}  {'streamkit':<22}  flask")
    for scenario, ours, theirs in PARITY_ROWS:
        marker = "" if ours == theirs else "   <- differs"
        terminalreporter.write_line(f"{scenario:<{width}}  {ours:<22}  {theirs}{marker}")


# -- processes ------------------------------------------------------------------------------


def living_processes(*, group: int | None = None, pids: set[int] | None = None) -> set[int]:
    """Pids of processes that are still running (zombies waiting to be reaped do not count),
    restricted to one process group and/or a set of pids. Linux only (reads /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (pids is not None and int(entry.name) not in pids):
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        state, pgrp = fields[0], int(fields[2])
        if state in ("Z", "X") or (group is not None and pgrp != group):
            continue
        found.add(int(entry.name))
    return found


# -- system programs ------------------------------------------------------------------------


def _nginx_missing() -> str | None:
    """Why nginx cannot be used here (the message names the Debian package), or None."""
    from streamkit.backends import ServerUnavailable
    from streamkit.backends.nginx import find_nginx

    try:
        find_nginx()
    except ServerUnavailable as exc:
        return str(exc)
    return None


#: None when nginx is there; else the reason tests that need it skip.
NGINX_MISSING = _nginx_missing()
needs_nginx = pytest.mark.skipif(NGINX_MISSING is not None, reason=str(NGINX_MISSING))
