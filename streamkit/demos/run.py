"""What ``streamkit demo`` and ``streamkit serve`` do.

``run_demo()`` serves the demo app on a background server, requests the three techniques
through it, and prints each timeline under a heading that names the technique. ``serve_demo()``
serves the same app for a browser until Ctrl-C.
"""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import dataclass
from typing import TextIO

from ..access import TOKEN_HEADER
from ..server import serve
from ..trace import Trace
from .views import DEMOS, create_app

RULE = "=" * 78


@dataclass(frozen=True)
class Run:
    """One request the terminal demo makes, and the verdict it should give."""

    label: str
    path: str
    expect: str


@dataclass(frozen=True)
class Section:
    heading: str
    explain: str
    runs: tuple[Run, ...]


def sections(quick: bool = False) -> list[Section]:
    """The demo's three sections; ``quick`` makes the CSV smaller."""
    rows = 20_000 if quick else 100_000
    return [
        Section(
            "1. A generator streaming a large CSV",
            "The view returns a generator; each yield (here 1,000 rows) leaves the server as\n"
            "soon as it is made, so the first rows arrive long before the last is written.",
            (Run("generator", f"/csv?rows={rows}&batch=1000&delay_ms=5", "streamed"),),
        ),
        Section(
            "2. stream_template with enable_buffering(5) against unbuffered",
            "A streamed template sends every template part on its own. enable_buffering(5)\n"
            "joins five parts into each write: far fewer, bigger chunks, still on time.",
            (
                Run("enable_buffering(5)", "/template?rows=12&delay_ms=20&buffer=5", "streamed"),
                Run("unbuffered", "/template?rows=12&delay_ms=20&buffer=0", "streamed"),
            ),
        ),
        Section(
            "3. stream_with_context against the same generator without it",
            "The generator reads `request` while it streams. Wrapped in stream_with_context it\n"
            "finishes; without it, the first row goes out, then the app raises\n"
            "RuntimeError: Working outside of request context, and the stream is cut off.",
            (
                Run("with stream_with_context", "/context/with?rows=5&delay_ms=20", "streamed"),
                Run("without stream_with_context", "/context/without?rows=5&delay_ms=20", "broken"),
            ),
        ),
    ]


def run_demo(quick: bool = False, out: TextIO | None = None) -> int:
    """Print the three techniques' timelines and verdicts, and a summary. Returns 0.

    A verdict other than the expected one is pointed out in the summary, not turned into a
    failure: on a busy machine timings blur, and the demo is for looking at.
    """
    out = out or sys.stdout
    _allow_block_characters(out)
    results: list[tuple[Run, Trace]] = []
    with serve(create_app()) as server:
        for section in sections(quick):
            print(f"{RULE}\n{section.heading}\n{RULE}", file=out)
            print(section.explain + "\n", file=out)
            for run in section.runs:
                trace = server.get(run.path, keep_body=False)
                results.append((run, trace))
                print(f"--- {run.label} ---", file=out)
                print(trace.to_text(), file=out)
                print(file=out, flush=True)
    print(f"{RULE}\nSummary\n{RULE}", file=out)
    width = max(len(run.label) for run, _ in results)
    for run, trace in results:
        chunks = len(trace.chunks)
        line = f"{run.label:<{width}}  {trace.verdict:<9} {chunks:>5,} chunk{'' if chunks == 1 else 's'}"
        if trace.server_error is not None:
            first = (str(trace.server_error).splitlines() or [""])[0]
            line += f"  {type(trace.server_error).__name__}: {first}"
        if trace.verdict != run.expect:
            line += f"  (expected {run.expect}; a busy machine can blur timings, try again)"
        print(line, file=out)
    print(
        "\nSee them in a browser: streamkit serve. In a notebook: display a trace, or "
        "streamkit.compare(a, b).",
        file=out,
        flush=True,
    )
    return 0


def serve_demo(host: str = "127.0.0.1", port: int = 5000, out: TextIO | None = None) -> int:
    """Serve the demo app until Ctrl-C (or SIGTERM), printing the URL and the demo list.

    The first URL carries the server's token (``?token=``), as Jupyter's does: a browser that
    opens it gets a cookie and then reaches every demo, on any system.
    """
    out = out or sys.stdout
    try:
        server = serve(create_app(), host=host, port=port)
    except OSError as error:
        print(
            f"streamkit serve: cannot listen on {host}:{port} ({error.strerror or error}). "
            f"Is another server using it? Try --port {port + 1}, or --port 0 for any free port.",
            file=sys.stderr,
        )
        return 1
    _stop_on_sigterm()
    try:
        print(
            f"Serving the streamkit demos at {server.url}/?token={server.token}  (press Ctrl-C to stop)",
            file=out,
        )
        for demo in DEMOS:
            if demo.method == "GET":
                print(f"  {server.url}{demo.path}\n      {demo.watch}", file=out)
            else:
                command = demo.curl.replace("$URL", server.url)
                if server.needs_token:  # curl keeps no cookie: it sends the token itself
                    command = command.replace("curl ", f"curl -H '{TOKEN_HEADER}: {server.token}' ", 1)
                print(f"  {demo.method} {server.url}{demo.path}  ({demo.title})", file=out)
                print(f"      {command}\n      {demo.watch}", file=out)
        others = (
            f"; curl and scripts send the header '{TOKEN_HEADER}: {server.token}'"
            if server.needs_token
            else " (on Linux your own browser, curl and requests get in without it)"
        )
        print(
            "Only you can use this server. Open the first link once: its token sets a cookie, so "
            f"the others work in that browser too{others}.",
            file=out,
        )
        out.flush()
        threading.Event().wait()  # until Ctrl-C
    except KeyboardInterrupt:
        print("\nstopped", file=out, flush=True)
    finally:
        server.stop()
    return 0


def _stop_on_sigterm() -> None:
    """Let SIGTERM end ``serve`` the way Ctrl-C does, so the server is stopped cleanly."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def _allow_block_characters(out: TextIO) -> None:
    """Text timelines draw bars with U+2588; on a terminal that cannot show it, print '?'."""
    encoding = getattr(out, "encoding", None) or "utf-8"
    try:
        "\u2588\u2013\u00b7".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        reconfigure = getattr(out, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
