"""One thing a diagnosis found: :class:`Finding`, and :func:`printable` for server text.

Measuring layer. The rules in :mod:`streamkit.rules` return findings; :mod:`streamkit.diagnosis`
orders them into a :class:`~streamkit.diagnosis.Diagnosis`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CULPRITS", "Finding", "printable"]

#: The layers a finding can name, from the app outwards.
CULPRITS = ("app", "middleware", "compression", "server", "proxy", "client")

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """Text a server sent, safe to print on a terminal: control bytes (CR, LF, ESC, ...) are
    shown as escapes such as ``\\r``, ``\\n`` and ``\\x1b``, so a header or banner cannot move
    the cursor, clear the screen or fake a line of output."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text))


@dataclass
class Finding:
    """One thing a diagnosis found, from measured evidence.

    ``code`` is a stable short id (``"compression-no-flush"``); ``culprit`` the layer it
    names (one of :data:`CULPRITS`, or None for a fact that blames nobody); ``summary`` one
    line; ``evidence`` the measured facts it rests on; ``fix`` what to change. ``warning``:
    worth changing, but it never makes a stream count as held back (browser sniffing, a long
    silence, requests served one at a time).
    """

    code: str
    culprit: str | None
    summary: str
    evidence: list[str] = field(default_factory=list)
    fix: str = ""
    warning: bool = False

    def __str__(self) -> str:
        who = f" ({self.culprit})" if self.culprit else ""
        lines = [f"[{self.code}]{who} {printable(self.summary)}"]
        lines += [f"    measured: {printable(fact)}" for fact in self.evidence]
        if self.fix:
            lines.append(f"    fix: {printable(self.fix)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The finding as plain JSON-ready values."""
        return {
            "code": self.code,
            "culprit": self.culprit,
            "warning": self.warning,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "fix": self.fix,
        }
