"""gunicorn server hooks used by :class:`streamkit.backends.gunicorn.GunicornBackend`.

gunicorn loads this module as its configuration (``--config python:...``), in its master
process, before it forks the workers. Two hooks:

* each worker's app is wrapped in the server's :class:`~streamkit.access.Gate`, which reaches
  this module in the ``STREAMKIT_GATE`` environment variable; the variable is removed as the
  module loads, so the workers (and the app) never see the secret in ``os.environ``;
* a worker tells the parent process, through gunicorn's stderr, that it has imported the app
  and is ready to serve: the port alone is not enough, because gunicorn listens before its
  workers load the app.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from streamkit.access import GATE_ENV, Gate, GateWSGI

READY_MARK = "streamkit: gunicorn worker ready"

_spec = os.environ.pop(GATE_ENV, None)
GATE = Gate.from_environment(_spec) if _spec else None


def post_worker_init(worker: Any) -> None:
    """Called by gunicorn in each worker once the app is loaded."""
    if GATE is not None:
        worker.wsgi = GateWSGI(worker.wsgi, GATE)
    sys.stderr.write(f"{READY_MARK} (pid {worker.pid})\n")
    sys.stderr.flush()


# Recent gunicorn releases open a control socket under ~/.gunicorn by default: several servers
# would share it, and the kit writes nothing outside its own temporary files. Older releases
# ignore the name.
control_socket_disable = True
