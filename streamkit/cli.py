"""The ``streamkit`` command line (also ``python -m streamkit``).

    streamkit demo            run the three streaming techniques and print their timelines
    streamkit serve           serve the demo app on 127.0.0.1 for a browser
    streamkit probe URL       read any URL chunk by chunk and say whether it streams
    streamkit doctor URL      say which layer holds a stream back, and what to change
    streamkit show FILE       show a trace or diagnosis saved with --save (text, --svg, --html)

Each subcommand is a small function below; the work itself lives in the library.

Layer: cli, the top one: it may import anything below it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .diagnosis import Diagnosis
    from .trace import Trace


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demos.run import run_demo

    return run_demo(quick=args.quick)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .demos.run import serve_demo

    return serve_demo(host=args.host, port=args.port)


# -- curl's request options -----------------------------------------------------------------------

MAX_BODY = 64 * 1024 * 1024  # the most a request body may be: the kit keeps it in memory to send it
# curl options that change nothing about the stream the kit reads: accepted, with one line of notice.
CURL_HARMLESS = {
    "-s": "--silent",
    "-S": "--show-error",
    "-N": "--no-buffer",
    "-v": "--verbose",
    "-i": "--include",
    "-f": "--fail",
    "-g": "--globoff",
    "-#": "--progress-bar",
}
CURL_HARMLESS_LONG = {*CURL_HARMLESS.values(), "--http1.1", "--fail-with-body", "--no-progress-meter"}
# curl options the kit cannot honour, and why.
CURL_REFUSED = {
    "-L": "the kit does not follow redirects: probe the URL the redirect points to",
    "--location": "the kit does not follow redirects: probe the URL the redirect points to",
    "-k": "the kit always checks TLS certificates",
    "--insecure": "the kit always checks TLS certificates",
    "--http2": "the kit speaks HTTP/1.1 only",
    "--http2-prior-knowledge": "the kit speaks HTTP/1.1 only",
    "--http3": "the kit speaks HTTP/1.1 only",
    "--http3-only": "the kit speaks HTTP/1.1 only",
    "--http1.0": "the kit speaks HTTP/1.1 only",
    "-0": "the kit speaks HTTP/1.1 only",
    "-u": "pass the credentials as a header instead: -H 'Authorization: ...'",
    "--user": "pass the credentials as a header instead: -H 'Authorization: ...'",
    "-F": "multipart form bodies are not supported: send the body with -d or --data-binary",
    "--form": "multipart form bodies are not supported: send the body with -d or --data-binary",
    "-T": "uploading a file is not supported: send it with --data-binary @FILE",
    "--upload-file": "uploading a file is not supported: send it with --data-binary @FILE",
    "-G": "put the data in the URL's query string yourself",
    "--get": "put the data in the URL's query string yourself",
    "-x": "the kit connects directly, not through a proxy",
    "--proxy": "the kit connects directly, not through a proxy",
    "-o": "the kit does not save the body (probe() in Python keeps it: trace.body)",
    "--output": "the kit does not save the body (probe() in Python keeps it: trace.body)",
    "-O": "the kit does not save the body (probe() in Python keeps it: trace.body)",
    "--remote-name": "the kit does not save the body (probe() in Python keeps it: trace.body)",
    "--resolve": "the kit resolves names itself: put the address in the URL and a Host header in -H",
    "--connect-to": "the kit resolves names itself: put the address in the URL and a Host header in -H",
    "--unix-socket": "the kit connects over TCP only",
    "-E": "client certificates are not supported",
    "--cert": "client certificates are not supported",
}


class BadRequestOptions(ValueError):
    """A request option from the command line the kit cannot use; the text names it."""


def curl_extras(extras: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """Sort options argparse did not know into curl's harmless ones (ignored), the ones the kit
    cannot honour (with why), and the rest (unknown)."""
    ignored: list[str] = []
    refused: list[str] = []
    unknown: list[str] = []
    for token in extras:
        name = token.split("=", 1)[0]
        if name in CURL_REFUSED:
            refused.append(f"{name}: {CURL_REFUSED[name]}")
        elif name in CURL_HARMLESS or name in CURL_HARMLESS_LONG:
            ignored.append(token)
        elif len(token) > 2 and token[0] == "-" and token[1] != "-":  # curl's joined flags: -sSN
            flags = [f"-{letter}" for letter in token[1:]]
            bad = [flag for flag in flags if flag in CURL_REFUSED]
            if bad:
                refused.extend(f"{flag} (in {token}): {CURL_REFUSED[flag]}" for flag in bad)
            elif all(flag in CURL_HARMLESS for flag in flags):
                ignored.append(token)
            else:
                unknown.append(token)
        else:
            unknown.append(token)
    return ignored, refused, unknown


def _too_big(what: str) -> str:
    return f"{what}; a request body is kept in memory to send it, so it may be at most {MAX_BODY:,} bytes"


def _read_at(value: str, option: str, *, strip_newlines: bool) -> bytes:
    """The bytes of ``@file`` (``@-``: standard input), at most MAX_BODY of them; curl's -d
    drops CR and LF from a file, --data-binary and --json keep them."""
    name = value[1:]
    try:
        if name == "-":
            data = sys.stdin.buffer.read(MAX_BODY + 1)
        else:
            with open(name, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > MAX_BODY:
                    raise BadRequestOptions(_too_big(f"{option} {value}: the file is {size:,} bytes"))
                data = handle.read(MAX_BODY + 1)
    except OSError as exc:
        where = "standard input" if name == "-" else repr(name)
        raise BadRequestOptions(f"{option} {value}: cannot read {where}: {exc.strerror or exc}") from None
    if len(data) > MAX_BODY:
        raise BadRequestOptions(_too_big(f"{option} {value}: more than {MAX_BODY:,} bytes came"))
    if strip_newlines:
        data = data.replace(b"\r", b"").replace(b"\n", b"")
    return data


def request_options(args: argparse.Namespace) -> dict[str, Any]:
    """The probe's keyword arguments from curl's options: ``method``, ``headers`` and, when a
    body was given, ``data`` (bytes). BadRequestOptions says what is wrong, before any request."""
    headers: dict[str, str] = {}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise BadRequestOptions(f"a header must look like 'Name: value', got {header!r}")
        headers[name.strip()] = value.strip()
    for cookie in args.cookie:
        if "=" not in cookie:
            raise BadRequestOptions(
                f"-b {cookie!r}: the kit sends cookies given as 'name=value', not from a file"
            )
        headers["Cookie"] = f"{headers['Cookie']}; {cookie}" if "Cookie" in headers else cookie
    for name, value in (("User-Agent", args.user_agent), ("Referer", args.referer)):
        if value is not None:
            headers[name] = value
    has = {name.lower() for name in headers}
    parts: list[bytes] = []
    for option, value in args.body:
        if option == "--data-raw" or not value.startswith("@"):
            parts.append(value.encode("utf-8", "surrogateescape"))
        else:
            parts.append(_read_at(value, option, strip_newlines=option in ("-d", "--data")))
    json_parts = []
    for value in args.json_body:
        json_parts.append(
            _read_at(value, "--json", strip_newlines=False) if value.startswith("@") else value.encode()
        )
    if parts and json_parts:
        raise BadRequestOptions("give the body with --json or with -d/--data, not both")
    data: bytes | None = None
    if json_parts:
        data = b"".join(json_parts)
        try:
            json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequestOptions(f"--json: the body is not valid JSON ({exc})") from None
        if "content-type" not in has:
            headers["Content-Type"] = "application/json"
        if "accept" not in has:
            headers["Accept"] = "application/json"
    elif parts:
        data = b"&".join(parts)
        if "content-type" not in has:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    if data is not None and len(data) > MAX_BODY:
        raise BadRequestOptions(_too_big(f"the body is {len(data):,} bytes"))
    method = args.method.upper() if args.method else ("HEAD" if args.head else None)
    options: dict[str, Any] = {"method": method, "headers": headers}
    if data is not None:
        options["data"] = data
    return options


def _checked_request(args: argparse.Namespace, command: str) -> dict[str, Any] | None:
    """The request options, after every check on the arguments; None (after saying why on
    stderr, one line each) when something is wrong."""
    problems = []
    for flag in getattr(args, "curl_refused", []):
        problems.append(f"cannot honour curl's {flag}")
    options = None
    try:
        options = request_options(args)
    except BadRequestOptions as exc:
        problems.append(str(exc))
    if problems:
        for problem in problems:
            print(f"streamkit {command}: {_terminal(problem)}", file=sys.stderr)
        return None
    if _bad_arguments(args, command):
        return None
    ignored = getattr(args, "curl_ignored", [])
    if ignored:
        print(
            f"streamkit {command}: ignoring curl's {' '.join(ignored)} (nothing there changes the stream read)",
            file=sys.stderr,
        )
    return options


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

    In a terminal (and without ``--quiet``) each piece's row, or each event's, is printed as it
    arrives, then the verdict and the figures; otherwise the whole timeline at the end.

    Exit status: 0 it streams, 1 held back, broken or unreachable, 2 bad arguments; 130 after
    Ctrl-C, with the timeline of what had arrived.
    """
    from .probe import ProbeError, read_response

    options = _checked_request(args, "probe")
    if options is None or not _can_save(args.save, "probe"):
        return 2
    rows = LiveRows(sys.stdout) if sys.stdout.isatty() and not args.quiet else None
    try:
        trace = read_response(
            args.url, timeout=args.timeout, max_seconds=args.max_seconds, keep_body=False,
            events=None if args.events == "none" else args.events, content=args.content,
            on_chunk=rows.update if rows is not None else None,
            on_head=rows.update if rows is not None else None, **options,
        )  # fmt: skip
    except ProbeError as exc:
        print(f"streamkit probe: {_terminal(str(exc))}", file=sys.stderr)
        return 1
    except (TypeError, ValueError) as exc:
        print(f"streamkit probe: {_terminal(str(exc))}", file=sys.stderr)
        return 2
    if rows is not None:
        rows.finish(trace)
    else:
        print(_terminal(trace.to_text()))
    if args.save and not _saved(trace, args.save, "probe"):
        return 2
    if trace.error:
        first = (trace.error.splitlines() or [""])[0]
        print(f"streamkit probe: {_terminal(args.url)}: the body broke: {_terminal(first)}", file=sys.stderr)
    if trace.interrupted:
        print("interrupted: the timeline shows what had arrived", file=sys.stderr)
        return 130
    return _exit_status(trace.diagnose())


class LiveRows:
    """``streamkit probe`` in a terminal: a row per piece (or per event) as it arrives.

    ``update(trace)`` is the probe's ``on_chunk``: it prints the head once the headers are in,
    then the rows of what is new; ``finish(trace)`` prints the rest and the timeline's summary.
    """

    def __init__(self, out: Any) -> None:
        self.out = out
        self.head = False
        self.chunks = 0
        self.events = 0
        self.comments = 0

    def _print(self, line: str) -> None:
        print(_terminal(line), file=self.out, flush=True)

    def update(self, trace: Trace) -> None:
        from .text_timeline import live_comment_row, live_event_row, live_head, live_row

        if not self.head:
            self.head = True
            for line in live_head(trace):
                self._print(line)
        if trace.event_framing is not None:
            # New events and comments (keep-alives), in the order they arrived.
            rows = [
                (event.t, event.chunk, live_event_row(trace, i))
                for i in range(self.events, len(trace.events))
                for event in [trace.events[i]]
            ]
            rows += [
                (comment.t, comment.chunk, live_comment_row(trace, i))
                for i in range(self.comments, len(trace.comments))
                for comment in [trace.comments[i]]
            ]
            for _, _, row in sorted(rows, key=lambda row: row[:2]):
                self._print(row)
            self.events = len(trace.events)
            self.comments = len(trace.comments)
        else:
            for index in range(self.chunks, len(trace.chunks)):
                self._print(live_row(trace, index))
        self.chunks = len(trace.chunks)

    def finish(self, trace: Trace) -> None:
        from .text_timeline import to_text

        self.update(trace)
        self._print("")
        self._print(to_text(trace, rows=False))


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

    options = _checked_request(args, "doctor")
    if options is None or not _can_save(args.save, "doctor"):
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
    if options["method"] is None:
        options["method"] = "POST" if "data" in options else "GET"
    try:
        diagnosis = doctor(
            args.url, timeout=args.timeout, max_seconds=args.max_seconds, upstream=upstream,
            on_progress=progress, **options,
        )  # fmt: skip
    except Interrupted as stopped:
        if progress is not None:
            progress.clear()
        print(json.dumps(stopped.diagnosis.to_dict(), indent=2) if as_json else str(stopped.diagnosis))
        if args.save:
            _saved(stopped.diagnosis, args.save, "doctor")
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
    if args.save and not _saved(diagnosis, args.save, "doctor"):
        return 2
    for trace in diagnosis.traces[:1]:
        if trace.error:
            first = (trace.error.splitlines() or [""])[0]
            print(
                f"streamkit doctor: {_terminal(args.url)}: the body broke: {_terminal(first)}",
                file=sys.stderr,
            )
    return _exit_status(diagnosis)


def _can_save(path: str | None, command: str) -> bool:
    """Before any request: the folder ``--save`` writes into exists (else say so on stderr)."""
    import os

    if not path:
        return True
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        print(
            f"streamkit {command}: --save {_terminal(path)}: the folder {_terminal(folder)} does not exist",
            file=sys.stderr,
        )
        return False
    if os.path.isdir(path):
        print(f"streamkit {command}: --save {_terminal(path)}: is a folder; name a file", file=sys.stderr)
        return False
    return True


def _saved(thing: Any, path: str, command: str) -> bool:
    """Write the trace or diagnosis file; say where on stderr (or why not, and return False)."""
    try:
        thing.save(path)
    except OSError as exc:
        print(f"streamkit {command}: cannot save {_terminal(path)}: {exc.strerror or exc}", file=sys.stderr)
        return False
    print(f"saved: {_terminal(path)} (open it with: streamkit show {_terminal(path)})", file=sys.stderr)
    return True


def _cmd_show(args: argparse.Namespace) -> int:
    """``streamkit show FILE``: the text timeline and the verdict (a trace file) or the
    findings (a diagnosis file); ``--svg OUT`` and ``--html OUT`` write the picture and a
    report that stands alone.

    Exit status: 0 shown, 2 a file that cannot be read (one line saying why) or written.
    """
    from .diagnosis import Diagnosis
    from .report import html_report
    from .timeline import compare
    from .tracefile import TraceFileError, load

    try:
        thing = load(args.file)
    except TraceFileError as exc:
        print(f"streamkit show: {_terminal(str(exc))}", file=sys.stderr)
        return 2
    if isinstance(thing, Diagnosis):
        if thing.traces:
            print(_terminal(thing.traces[0].to_text()))
            print()
        print(str(thing))  # Diagnosis.__str__ escapes what the server sent
        traces, labels = thing.traces, thing.labels if len(thing.labels) == len(thing.traces) else None
        svg = compare(*traces, labels=labels).to_svg() if traces else None
    else:
        print(_terminal(thing.to_text()))
        svg = thing.to_svg()
    outputs = [(args.svg, svg), (args.html, html_report(thing, source=args.file) if args.html else None)]
    for path, text in outputs:
        if not path:
            continue
        if text is None:
            print(f"streamkit show: {_terminal(args.file)}: holds no request to draw", file=sys.stderr)
            return 2
        try:
            with open(path, "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as exc:
            print(f"streamkit show: cannot write {_terminal(path)}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"wrote {_terminal(path)}", file=sys.stderr)
    return 0


def _tagged(option: str) -> Any:
    """An argparse ``type`` that keeps which option gave a body part: (option, value)."""

    def tag(value: str) -> tuple[str, str]:
        return option, value

    return tag


def add_request_options(
    parser: argparse.ArgumentParser,
    *,
    url_help: str,
    header_help: str,
    max_seconds: float | None,
    max_help: str,
) -> None:
    """The options ``probe`` and ``doctor`` share: the URL, the request in curl's own words
    (so a browser's "Copy as cURL" line works with ``curl`` swapped for ``streamkit probe``),
    how to read events, and the two limits.

    curl's options that change nothing about the stream (``-s``, ``-N``, ...) are accepted and
    ignored with a notice, the ones the kit cannot honour (``-L``, ``-k``, ...) are refused with
    why: see :func:`curl_extras`, which :func:`main` applies.
    """
    parser.add_argument("url", help=url_help)
    parser.add_argument(
        "-X", "--request", "--method", dest="method", default=None, metavar="METHOD",
        help="HTTP method (default: GET, or POST with a body)",
    )  # fmt: skip
    parser.add_argument(
        "-H", "--header", action="append", default=[], metavar="'NAME: VALUE'", help=header_help
    )
    body = parser.add_argument_group("request body (as curl: a body without -X is a POST)")
    for flags, kind, text in (
        (("-d", "--data"), "-d", "the body; @FILE reads a file (CR and LF dropped, as curl does), @- standard input; "
         "several are joined with &; Content-Type defaults to application/x-www-form-urlencoded"),
        (("--data-binary",), "--data-binary", "like --data, but @FILE is sent byte for byte"),
        (("--data-raw",), "--data-raw", "like --data, but a leading @ is just a character"),
    ):  # fmt: skip
        body.add_argument(
            *flags, dest="body", action="append", default=[], metavar="DATA", type=_tagged(kind), help=text
        )  # fmt: skip
    body.add_argument(
        "--json", dest="json_body", action="append", default=[], metavar="DATA",
        help="a JSON body (checked before sending; @FILE and @- as for --data), sent with "
        "Content-Type and Accept: application/json",
    )  # fmt: skip
    body.add_argument(
        "--compressed", action="store_true", help="accepted for curl's sake: the kit always decodes"
    )
    parser.add_argument(
        "-b", "--cookie", action="append", default=[], metavar="'NAME=VALUE'", help="a cookie to send"
    )
    parser.add_argument("-A", "--user-agent", default=None, help="the User-Agent header")
    parser.add_argument("-e", "--referer", default=None, help="the Referer header")
    parser.add_argument("-I", "--head", action="store_true", help="send a HEAD request")
    parser.add_argument(
        "--events", choices=["auto", "sse", "jsonl", "json-seq", "none"], default="auto",
        help="split the body into events: by its Content-Type (auto, the default), as server-sent "
        "events, JSON lines or JSON text sequences whatever it says, or not at all",
    )  # fmt: skip
    parser.add_argument(
        "--content", default=None, metavar="PATH",
        help="where a JSON event keeps its text, e.g. message.text (for formats the kit does not know)",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=float, default=10, help="seconds to wait for the server (default: %(default)s)"
    )
    parser.add_argument("--max-seconds", type=float, default=max_seconds, help=max_help)
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only the result: no rows or progress while reading"
    )
    parser.set_defaults(json_output=False)


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
    probe.add_argument(
        "--save",
        metavar="FILE",
        help="also write the trace to FILE (JSON; reopen it with: streamkit show FILE)",
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
    # "--json" without a value (last, or right before the URL) asks for JSON output; main()
    # turns it into this option (see json_switch). "--json DATA" is curl's JSON body.
    doctor.add_argument(
        "--json-output",
        dest="json_output",
        action="store_true",
        help="print the diagnosis as JSON (a bare --json, with nothing, the URL or another long "
        "option after it, means this too)",
    )
    doctor.add_argument(
        "--save",
        metavar="FILE",
        help="also write the diagnosis, with every request's trace, to FILE (JSON; reopen it with: streamkit show FILE)",
    )
    doctor.set_defaults(handler=_cmd_doctor)

    show = commands.add_parser(
        "show",
        help="show a saved trace or diagnosis file (--save), as text, SVG or an HTML report",
        description="Print the text timeline and the verdict of a trace file, or the findings of a "
        "diagnosis file, written by 'probe --save' / 'doctor --save' or Trace.save / Diagnosis.save.",
        epilog="Exit status: 0 when shown, 2 when the file cannot be read (one line says why) or an "
        "output cannot be written.",
    )
    show.add_argument("file", help="the trace or diagnosis file (JSON)")
    show.add_argument("--svg", metavar="OUT", help="write the timeline picture to OUT as SVG")
    show.add_argument(
        "--html",
        metavar="OUT",
        help="write a report that stands alone to OUT: the picture, the verdict, the findings with "
        "their fixes and the request, in one HTML file with no external assets",
    )
    show.set_defaults(handler=_cmd_show)
    return parser


def json_switch(argv: list[str]) -> list[str]:
    """``doctor``'s ``--json`` with no value after it (nothing, the URL or another long option
    next) is the switch for JSON output (``--json-output``); ``--json DATA`` stays curl's JSON
    body."""
    out = list(argv)
    for index, token in enumerate(out):
        if token == "--":
            break
        following = out[index + 1] if index + 1 < len(out) else None
        if token == "--json" and (following is None or following.startswith(("http://", "https://", "--"))):
            out[index] = "--json-output"
    return out


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["doctor"]:
        argv = json_switch(argv)
    args, extras = parser.parse_known_args(argv)
    if extras:
        if getattr(args, "command", None) not in ("probe", "doctor"):
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        args.curl_ignored, args.curl_refused, unknown = curl_extras(extras)
        if unknown:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
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
