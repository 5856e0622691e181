"""Checking a demo's query parameters before its stream starts.

Once the first byte of a streamed body is out, the status line is gone too: a stream can no
longer turn into a "400 Bad Request". So every demo reads and checks all of its parameters in
the view, and only then returns the generator. :class:`Params` collects every problem at once
and turns them into one plain-text 400 response that names each parameter.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..response import Response


class Params:
    """Typed, bounded access to query parameters, collecting errors instead of raising.

    ::

        params = Params(request.args)
        rows = params.integer("rows", default=100, low=1, high=10_000)
        if params.errors:
            return params.bad_request()
    """

    def __init__(self, args: Mapping[str, str]) -> None:
        self.args = args
        self.errors: list[str] = []

    def integer(self, name: str, *, default: int, low: int, high: int) -> int:
        """The whole number ``name`` in ``low..high``, or ``default`` when it is absent."""
        raw = self.args.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            self.errors.append(f"{name} must be a whole number from {low:,} to {high:,}, got {raw[:40]!r}")
            return default
        if not low <= value <= high:
            self.errors.append(f"{name} must be from {low:,} to {high:,}, got {value:,}")
            return default
        return value

    def flag(self, name: str) -> bool:
        """True for ``1``/``true``/``yes``/``on``, False when absent or ``0``/``false``/``no``/``off``."""
        raw = self.args.get(name)
        if raw is None:
            return False
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("", "0", "false", "no", "off"):
            return False
        self.errors.append(f"{name} must be 1 or 0, got {raw[:40]!r}")
        return False

    def text(self, name: str, *, max_length: int, required: bool = False, default: str = "") -> str:
        """The text ``name`` (stripped), at most ``max_length`` characters."""
        raw = self.args.get(name)
        value = (raw or "").strip()
        if not value:
            if required:
                self.errors.append(f"{name} is required, e.g. ?{name}=Ada")
            return default
        if len(value) > max_length:
            self.errors.append(f"{name} may have at most {max_length} characters, got {len(value)}")
            return default
        return value

    def check(self, condition: bool, message: str) -> None:
        """Record ``message`` as an error unless ``condition`` holds."""
        if not condition:
            self.errors.append(message)

    def bad_request(self) -> Response:
        """A 400 response listing every problem, as plain text (nothing from the user is HTML)."""
        lines = ["400 Bad Request: the stream did not start because of its parameters.", ""]
        lines += [f"- {error}" for error in self.errors]
        return Response("\n".join(lines) + "\n", status=400, mimetype="text/plain")
