"""A real Jupyter server for the tests: started on loopback, waited for, and stopped.

:func:`running_jupyter` starts ``python -m MODULE`` (``jupyterlab`` or ``jupyter_server``) on
127.0.0.1 with a fresh token and its own config, data, runtime and IPython folders under
``home``, waits until ``/api/status`` answers, and stops the whole process group (with its
kernels) afterwards. Used by tests/test_jupyterlab.py and tests/test_link.py.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from streamkit.backends import free_port, stop_process_group
from streamkit.backends.launcher import launch


@dataclass(frozen=True)
class Jupyter:
    """A running Jupyter server: its loopback url (without the base URL), token and log."""

    url: str
    token: str
    log: Path


@contextmanager
def running_jupyter(
    module: str,
    home: Path,
    *,
    name: str,
    root: Path,
    options: Sequence[str] = (),
    base_url: str = "/",
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[Jupyter]:
    """Run ``python -m module`` serving ``root`` until the block ends; fail if it does not answer.

    ``name`` names the server in failures (``"JupyterLab exited: ..."``) and its log file under
    ``home``; ``options`` are added to the command line; ``env`` is added to the environment.
    """
    token = secrets.token_hex(16)
    port = free_port()
    environment = {
        **os.environ,
        **(env or {}),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),  # only the venv's own kernel spec
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    environment.pop("JUPYTER_PATH", None)
    log_path = home / f"{name.lower().replace(' ', '-')}.log"
    log = log_path.open("wb")
    process = launch(
        [
            sys.executable, "-m", module,
            "--no-browser",
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.base_url={base_url}",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={token}",
            *options,
        ],
        stop_signal=signal.SIGTERM,
        grace=5.0,
        cwd=root,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"{name} exited:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}{base_url}api/status?token={token}", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{name} did not answer:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
        yield Jupyter(url=url, token=token, log=log_path)
    finally:
        stop_process_group(process, signal.SIGTERM, timeout=5.0)  # shuts its kernels down
        log.close()
