"""The ``streamkit`` command line (also ``python -m streamkit``).

    streamkit demo            run the three streaming techniques and print their timelines
    streamkit serve           serve the demo app on 127.0.0.1 for a browser
    streamkit probe URL       read any URL chunk by chunk and say whether it streams

Each subcommand is a small function below; the work itself lives in the library.

Layer: cli, the top one: it may import anything below it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demos.run import run_demo

    return run_demo(quick=args.quick)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .demos.run import serve_demo

    return serve_demo(host=args.host, port=args.port)


def _cmd_probe(args: argparse.Namespace) -> int:
    """``streamkit probe URL``: print the timeline and the verdict; 0 when the stream is whole."""
    from .probe import ProbeError, probe

    headers: dict[str, str] = {}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            print(f"streamkit probe: a header must look like 'Name: value', got {header!r}", file=sys.stderr)
            return 2
        headers[name.strip()] = value.strip()
    try:
        trace = probe(
            args.url, method=args.method, headers=headers, timeout=args.timeout,
            max_seconds=args.max_seconds, keep_body=False,
        )  # fmt: skip
    except (ProbeError, ValueError) as exc:
        print(f"streamkit probe: {exc}", file=sys.stderr)
        return 1
    print(trace.to_text())
    return 1 if trace.verdict == "broken" else 0


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
        epilog="Exit status: 0 when the body arrived whole, 1 when it broke or the URL gave no "
        "response (the reason is printed on one line), 2 for bad arguments.",
    )
    probe.add_argument("url", help="the URL to read, e.g. http://127.0.0.1:5000/rows")
    probe.add_argument("--method", default="GET", help="HTTP method (default: %(default)s)")
    probe.add_argument(
        "-H", "--header", action="append", default=[], metavar="'NAME: VALUE'",
        help="extra request header; may be given more than once",
    )
    probe.add_argument("--timeout", type=float, default=10, help="seconds to wait for the server (default: %(default)s)")
    probe.add_argument("--max-seconds", type=float, default=None, help="stop reading after this many seconds (for endless streams)")
    probe.set_defaults(handler=_cmd_probe)
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
