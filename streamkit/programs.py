"""Finding the system programs some parts of the kit run: nginx and Chromium.

Layer: serving (below the backends and the browser probe; imports nothing from the kit).

Each program is looked up in this order:

1. the environment variable ``STREAMKIT_NGINX`` / ``STREAMKIT_CHROMIUM``: the path to use. A
   path that is not an executable file means "not available", which is also how the tests
   prove that everything needing the program skips cleanly on a machine without it
   (``STREAMKIT_NGINX=/nonexistent pytest``);
2. ``PATH``;
3. the places distributions install it (``/usr/sbin/nginx`` is not on a normal user's PATH).

When it is not found, :class:`ProgramUnavailable` says where the kit looked and names the
package to install (Debian/Ubuntu and macOS).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

__all__ = ["PROGRAMS", "Program", "ProgramUnavailable", "find_program", "missing_program"]


class ProgramUnavailable(RuntimeError):
    """A system program the kit needs is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Program:
    """How to find one program, and how to install it when it is missing."""

    name: str
    env: str  # the environment variable that overrides the lookup
    names: tuple[str, ...]  # looked up on PATH
    places: tuple[str, ...]  # then tried as they are
    install: str  # the sentence that says how to install it

    def find(self) -> str:
        """The executable's path; :class:`ProgramUnavailable` when there is none."""
        configured = os.environ.get(self.env)
        if configured:
            if os.path.isfile(configured) and os.access(configured, os.X_OK):
                return configured
            raise ProgramUnavailable(
                f"{self.name} was not found: {self.env}={configured!r} is not an executable "
                f"file. {self.install}"
            )
        for name in self.names:
            found = shutil.which(name)
            if found:
                return found
        for path in self.places:
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
        looked = ", ".join(self.places)
        raise ProgramUnavailable(
            f"{self.name} was not found (looked in PATH for {' and '.join(self.names)}, then "
            f"{looked}; {self.env} can name it). {self.install}"
        )


PROGRAMS: dict[str, Program] = {
    "nginx": Program(
        name="nginx",
        env="STREAMKIT_NGINX",
        names=("nginx",),
        places=("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"),
        install=(
            "On Debian or Ubuntu install the package nginx-light (or nginx): "
            "sudo apt-get install nginx-light; on macOS: brew install nginx"
        ),
    ),
    "chromium": Program(
        name="chromium",
        env="STREAMKIT_CHROMIUM",
        names=("chromium", "chromium-browser"),
        places=("/usr/bin/chromium", "/snap/bin/chromium"),
        install=(
            "On Debian or Ubuntu install the package chromium: sudo apt-get install chromium; "
            "the kit drives it with playwright: pip install 'streamkit-http[browser]'"
        ),
    ),
}


def find_program(name: str) -> str:
    """The path of ``"nginx"`` or ``"chromium"``; :class:`ProgramUnavailable` if missing."""
    return PROGRAMS[name].find()


def missing_program(name: str) -> str | None:
    """Why ``name`` cannot be used on this machine (naming the package to install), or None."""
    try:
        PROGRAMS[name].find()
    except ProgramUnavailable as error:
        return str(error)
    return None
