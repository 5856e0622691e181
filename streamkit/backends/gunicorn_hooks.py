"""gunicorn server hooks used by :class:`streamkit.backends.gunicorn.GunicornBackend`.

gunicorn loads this module as its configuration (``--config python:...``). The one hook tells
the parent process, through gunicorn's stderr, that a worker has imported the app and is ready
to serve: the port alone is not enough, because gunicorn listens before its workers load the app.
"""

from __future__ import annotations

import sys
from typing import Any

READY_MARK = "streamkit: gunicorn worker ready"


def post_worker_init(worker: Any) -> None:
    """Called by gunicorn in each worker once the app is loaded."""
    sys.stderr.write(f"{READY_MARK} (pid {worker.pid})\n")
    sys.stderr.flush()


# Recent gunicorn releases open a control socket under ~/.gunicorn by default: several servers
# would share it, and the kit writes nothing outside its own temporary files. Older releases
# ignore the name.
control_socket_disable = True
