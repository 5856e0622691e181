"""Shared test set-up: the Flask parity table printed at the end of the run."""

from __future__ import annotations

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
