"""The ``streamkit`` command line (also ``python -m streamkit``).

    streamkit demo            run the three streaming techniques and print their timelines
    streamkit serve           serve the demo app on 127.0.0.1 for a browser
    streamkit probe URL       read any URL chunk by chunk and say whether it streams
    streamkit doctor URL      say which layer holds a stream back, and what to change

Each subcommand is a small function below; the work itself lives in the library.

Layer: cli, the top one: it may import anything below it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .diagnosis import Diagnosis


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demos.run import run_demo

    return run_demo(quick=args.quick)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .demos.run import serve_demo

    return serve_demo(host=args.host, port=args.port)


def _headers(args: argparse.Namespace, command: str) -> dict[str, str] | None:
    """The -H options as a dict; None (after saying why on stderr) when one is malformed."""
    headers: dict[str, str] = {}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            print(
                f"streamkit {command}: a header must look like 'Name: value', got {header!r}", file=sys.stderr
            )
            return None
        headers[name.strip()] = value.strip()
    return headers


def _bad_arguments(args: argparse.Namespace, command: str) -> bool:
    """Check the URL and the limits before any request; say what is wrong on stderr."""
    from .probe import check_url

    problems = []
    try:
        check_url(args.url)
    except (TypeError, ValueError) as exc:
        problems.append(str(exc))
    if not args.timeout > 0:
        problems.append(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    if args.max_seconds is not None and not args.max_seconds > 0:
        problems.append(f"--max-seconds must be a positive number of seconds, got {args.max_seconds:g}")
    for problem in problems:
        print(f"streamkit {command}: {problem}", file=sys.stderr)
    return bool(problems)


def _terminal(text: str) -> str:
    """Text for the terminal: each line with the server's control bytes escaped."""
    from .diagnosis import printable

    return "\n".join(printable(line) for line in text.split("\n"))


def _exit_status(diagnosis: Diagnosis) -> int:
    """0 when it streams (or is a small, quick answer nothing held back); 1 when it was held
    back or broke."""
    if diagnosis.streams:
        return 0
    harmless = {"single-piece", "no-content"}
    if diagnosis.culprit is None and diagnosis.findings and diagnosis.findings[0].code in harmless:
        return 0
    return 1


def _cmd_probe(args: argparse.Namespace) -> int:
    """``streamkit probe URL``: print the timeline and the verdict.

    Exit status: 0 it streams, 1 held back, broken or unreachable, 2 bad arguments; 130 after
    Ctrl-C, with the timeline of what had arrived.
    """
    from .probe import ProbeError, probe

    headers = _headers(args, "probe")
    if headers is None or _bad_arguments(args, "probe"):
        return 2
    try:
        trace = probe(
            args.url, method=args.method, headers=headers, timeout=args.timeout,
            max_seconds=args.max_seconds, keep_body=False,
        )  # fmt: skip
    except ProbeError as exc:
        print(f"streamkit probe: {_terminal(str(exc))}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"streamkit probe: {_terminal(str(exc))}", file=sys.stderr)
        return 2
    print(_terminal(trace.to_text()))
    if trace.error:
        first = (trace.error.splitlines() or [""])[0]
        print(f"streamkit probe: {_terminal(args.url)}: the body broke: {_terminal(first)}", file=sys.stderr)
    if trace.interrupted:
        print("interrupted: the timeline shows what had arrived", file=sys.stderr)
        return 130
    return _exit_status(trace.diagnose())


class _Progress:
    """The doctor's progress line on stderr: elapsed time and the pieces each request has had
    so far, rewritten in place; :meth:`clear` wipes it. Shown only on a terminal."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, elapsed: float, pieces: list[tuple[str, int]]) -> None:
        counts = "  ".join(f"{label.split(' (')[0]}: {count}" for label, count in pieces)
        line = f"doctor: {elapsed:5.1f} s  {counts}"
        sys.stderr.write("\r" + line[:200] + "\x1b[K")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False


def _cmd_doctor(args: argparse.Namespace) -> int:
    """``streamkit doctor URL``: request URL a few ways at once and say which layer holds it back.

    ``--upstream URL`` (repeatable, client first) compares the hops behind URL; ``--json``
    prints the diagnosis as JSON. Exit status as for ``probe``: 0 it streams, 1 held back,
    broken or unreachable, 2 bad arguments; 130 after Ctrl-C, with what had arrived.
    """
    import json

    from .doctor import Interrupted, doctor
    from .probe import ProbeError, check_url

    headers = _headers(args, "doctor")
    if headers is None or _bad_arguments(args, "doctor"):
        return 2
    upstream = list(getattr(args, "upstream", None) or [])
    for hop in upstream:
        try:
            check_url(hop)
        except (TypeError, ValueError) as exc:
            print(f"streamkit doctor: --upstream: {_terminal(str(exc))}", file=sys.stderr)
            return 2
    as_json = getattr(args, "json_output", False) is True
    progress = _Progress() if sys.stderr.isatty() and not getattr(args, "quiet", False) else None
    try:
        diagnosis = doctor(
            args.url, method=args.method, headers=headers, timeout=args.timeout,
            max_seconds=args.max_seconds, upstream=upstream, on_progress=progress,
        )  # fmt: skip
    except Interrupted as stopped:
        if progress is not None:
            progress.clear()
        print(json.dumps(stopped.diagnosis.to_dict(), indent=2) if as_json else str(stopped.diagnosis))
        print("interrupted: this is what had arrived", file=sys.stderr)
        return 130
    except ProbeError as exc:
        if progress is not None:
            progress.clear()
        print(f"streamkit doctor: {_terminal(str(exc))}", file=sys.stderr)
        return 1
    except ValueError as exc:
        if progress is not None:
            progress.clear()
        print(f"streamkit doctor: {_terminal(str(exc))}", file=sys.stderr)
        return 2
    if progress is not None:
        progress.clear()
    print(json.dumps(diagnosis.to_dict(), indent=2) if as_json else str(diagnosis))
    for trace in diagnosis.traces[:1]:
        if trace.error:
            first = (trace.error.splitlines() or [""])[0]
            print(
                f"streamkit doctor: {_terminal(args.url)}: the body broke: {_terminal(first)}",
                file=sys.stderr,
            )
    return _exit_status(diagnosis)


def add_request_options(
    parser: argparse.ArgumentParser,
    *,
    url_help: str,
    header_help: str,
    max_seconds: float | None,
    max_help: str,
) -> None:
    """The options ``probe`` and ``doctor`` share: URL, method, headers and the two limits."""
    parser.add_argument("url", help=url_help)
    parser.add_argument("--method", default="GET", help="HTTP method (default: %(default)s)")
    parser.add_argument(
        "-H", "--header", action="append", default=[], metavar="'NAME: VALUE'", help=header_help
    )
    parser.add_argument(
        "--timeout", type=float, default=10, help="seconds to wait for the server (default: %(default)s)"
    )
    parser.add_argument("--max-seconds", type=float, default=max_seconds, help=max_help)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamkit",
        description="See HTTP response streaming happen: when each piece was made, sent and received.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="run the three streaming techniques and print their timelines",
        description="Start the demo app on a background server and show, as text timelines, a "
        "generator streaming a CSV, a template with and without enable_buffering(5), and "
        "stream_with_context against the same generator without it (the RuntimeError).",
    )
    demo.add_argument("--quick", action="store_true", help="smaller streams, for a fast look")
    demo.set_defaults(handler=_cmd_demo)

    serve = commands.add_parser(
        "serve",
        help="serve the demo app for a browser",
        description="Serve the demo app until Ctrl-C. Open the printed URL in a browser.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=5000, help="port to bind (default: %(default)s)")
    serve.set_defaults(handler=_cmd_serve)

    probe = commands.add_parser(
        "probe",
        help="read a URL chunk by chunk and say whether it streams",
        description="Request URL, time every piece of the body as it arrives, and print a "
        "timeline and a verdict (streamed, buffered, broken, empty, ...).",
        epilog="Exit status: 0 when it streams (or is a small answer nothing held back), 1 when "
        "it was held back, broke or the URL gave no response (the reason is printed on one "
        "line), 2 for bad arguments, 130 after Ctrl-C (the timeline of what had arrived is "
        "printed first).",
    )
    add_request_options(
        probe,
        url_help="the URL to read, e.g. http://127.0.0.1:5000/rows",
        header_help="extra request header; may be given more than once",
        max_seconds=None,
        max_help="stop reading after this many seconds (for endless streams)",
    )
    probe.set_defaults(handler=_cmd_probe)

    doctor = commands.add_parser(
        "doctor",
        help="say which layer holds a stream back, and what to change",
        description="Request URL a few ways at once (as given, Accept-Encoding: identity, the "
        "encodings a browser asks for, Accept: text/event-stream), compare how each arrived, "
        "and name the layer that holds the stream back (app, middleware, compression, server, "
        "proxy, client) with the evidence and a fix.",
        epilog="Exit status: 0 when it streams, 1 when it is held back, broke or the URL gave no "
        "response, 2 for bad arguments, 130 after Ctrl-C.",
    )
    add_request_options(
        doctor,
        url_help="the URL to diagnose, e.g. http://127.0.0.1:5000/events",
        header_help="extra request header, sent with every variant (it wins over the variant's own)",
        max_seconds=15,
        max_help="stop reading each request after this many seconds (default: %(default)s)",
    )
    doctor.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="URL",
        help="the same resource one hop further in (a proxy's upstream, the app's own port); "
        "repeatable, in order from the client toward the app: the layer between the last hop "
        "that streams and the first that does not is named",
    )
    # Until the shared request options parse --json (curl body vs output switch), a plain
    # switch: print the diagnosis as JSON.
    doctor.add_argument(
        "--json", dest="json_output", action="store_true", help="print the diagnosis as JSON on stdout"
    )
    doctor.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress line on stderr (it is shown only on a terminal)",
    )
    doctor.set_defaults(handler=_cmd_doctor)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
