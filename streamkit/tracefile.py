"""Trace files: a :class:`~streamkit.trace.Trace` or a :class:`~streamkit.diagnosis.Diagnosis`
written to JSON, to attach to a bug report, compare with last week's, or open on another machine.

The top level says what the file is and which version of the format it follows::

    {"format": "streamkit-trace", "version": 1, "streamkit": "0.1.0", "trace": {...}}
    {"format": "streamkit-diagnosis", "version": 1, "streamkit": "0.1.0", "diagnosis": {...}}

Those keys are read first; a file of a newer version is refused in one line naming the file
and both versions. Inside a trace:

* lists of records are **columns**, not one object per record: ``chunks`` is ``{"t": [...],
  "size": [...]}`` plus ``wire_size`` only when some piece's wire size differs from its
  decoded size, and ``read`` (the socket read that completed each) only when not all 0. Server-side events and SSE events are columns too; a column whose every value
  is the field's default is left out. 100,000 chunks stay a few lists of numbers;
* a body kept by the probe is **one base64 string**, cut back into chunks by their sizes;
  a body not kept (``keep_body=False``) is simply absent, and stays absent;
* ``headers`` are ``[name, value]`` pairs, so order and repeated headers are kept;
* the app's exception is kept as its type name, message and formatted traceback. It loads
  back as a stand-in exception of the same name (a :class:`SavedError`), so the verdict is
  still "broken" and the sentences still name the exception; the frames themselves are gone.

Times are floats written with ``repr`` by :mod:`json`, which reads back to the same float.
The JSON Schema of the format ships in the package: ``streamkit/schemas/trace-v1.json``.

A file that cannot be read (missing, truncated, not JSON, another program's JSON, a newer
version, a field of the wrong kind) raises :class:`TraceFileError` with the path and one
line saying what is wrong.

A diagnosis file holds the diagnosis (streams, culprit, findings with evidence and fixes,
labels) and **every request's whole trace**, not a summary of it: reopened, it draws the same
pictures and gives the same verdicts as the diagnosis it was saved from.

Layer: measuring.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import gc
import json
import os
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from werkzeug.datastructures import Headers

from .diagnosis import Diagnosis, Finding
from .events import CommentRecord, EventRecord
from .trace import Chunk, Event, Trace

__all__ = [
    "DIAGNOSIS_FORMAT",
    "LEFT_OUT",
    "TRACE_FORMAT",
    "VERSION",
    "SavedError",
    "TraceFileError",
    "diagnosis_from_dict",
    "diagnosis_to_dict",
    "kit_version",
    "load",
    "load_diagnosis",
    "load_trace",
    "save",
    "schema_path",
    "trace_from_dict",
    "trace_to_dict",
]

TRACE_FORMAT = "streamkit-trace"
DIAGNOSIS_FORMAT = "streamkit-diagnosis"
#: The format version this streamkit writes, and the newest it reads.
VERSION = 1

#: Trace fields a file does not carry, and why (every other field is written and read back).
LEFT_OUT = {
    "_server_traceback": "live frames cannot be saved; the formatted traceback is kept with server_error",
}

# Trace fields that hold a list of Event (or None when that side was not recorded).
_EVENT_LISTS = ("produced", "written", "browser_received", "browser_reads", "browser_shown")
# Trace fields that hold records of SSE events and comments (streamkit.events).
_RECORD_LISTS: dict[str, type] = {"events": EventRecord, "comments": CommentRecord}
# Trace fields written as they are (str, int, float, bool or None).
_PLAIN = (
    "url",
    "method",
    "status",
    "headers_at",
    "ttfb",
    "duration",
    "error",
    "error_kind",
    "stopped",
    "interrupted",
    "server_error_at",
    "note",
    "started",
    "reader",
    "event_framing",
)


class TraceFileError(ValueError):
    """A trace file that cannot be read: ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason


class SavedError(Exception):
    """Stands in for the exception an app raised, in a trace loaded from a file.

    Its class has the original's name (``type(error).__name__`` is ``"KeyError"`` again), its
    message is the original's ``str()``, and ``traceback_text`` is the traceback as it was
    formatted when the trace was saved. ``type_module`` is the module the original class came
    from.
    """

    type_module: str = ""
    traceback_text: str = ""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


_STAND_INS: dict[tuple[str, str], type[SavedError]] = {}


def _stand_in(name: str, module: str, message: str, traceback_text: str) -> SavedError:
    """A :class:`SavedError` whose class is named ``name``, one class per (module, name)."""
    cls = _STAND_INS.get((module, name))
    if cls is None:
        cls = type(name, (SavedError,), {"type_module": module, "__doc__": SavedError.__doc__})
        _STAND_INS[(module, name)] = cls
    error = cls(message)
    error.traceback_text = traceback_text
    return error


# -- records as columns ------------------------------------------------------------------------


def _default_of(spec: dataclasses.Field[Any]) -> Any:
    if spec.default is not dataclasses.MISSING:
        return spec.default
    return dataclasses.MISSING


def _columns(records: Sequence[Any], record_type: type) -> dict[str, list[Any]]:
    """``[Event(t=0.1, size=5), ...]`` -> ``{"t": [0.1, ...], "size": [5, ...]}``; a column
    whose every value is the field's default is left out."""
    out: dict[str, list[Any]] = {}
    for spec in dataclasses.fields(record_type):
        column = [getattr(record, spec.name) for record in records]
        default = _default_of(spec)
        if default is not dataclasses.MISSING and all(value == default for value in column):
            continue
        out[spec.name] = column
    return out


def _records(columns: dict[str, Any], record_type: type, where: str) -> list[Any]:
    """The inverse of :func:`_columns`: missing columns take the field's default."""
    if not isinstance(columns, dict):
        raise ValueError(f"{where} must be an object of columns")
    names = {spec.name for spec in dataclasses.fields(record_type)}
    unknown = sorted(set(columns) - names)
    if unknown:
        raise ValueError(f"{where} has unknown columns {unknown}")
    lengths = {name: len(column) for name, column in columns.items() if isinstance(column, list)}
    if len(lengths) != len(columns):
        raise ValueError(f"{where}: every column must be a list")
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{where}: the columns differ in length {lengths}")
    count = next(iter(lengths.values()), 0)
    for spec in dataclasses.fields(record_type):
        if spec.name not in columns and _default_of(spec) is dataclasses.MISSING:
            raise ValueError(f"{where} lacks the column {spec.name!r}")
    present = list(columns)
    return [record_type(**{name: columns[name][i] for name in present}) for i in range(count)]


# -- Trace <-> dict ----------------------------------------------------------------------------


def _error_dict(trace: Trace) -> dict[str, str] | None:
    error = trace.server_error
    if error is None:
        return None
    if isinstance(error, SavedError):
        module, text = error.type_module, error.traceback_text
    else:
        module = type(error).__module__
        tb = trace.server_traceback
        text = "".join(traceback.format_exception(type(error), error, tb))
    return {"type": type(error).__name__, "module": module, "message": str(error), "traceback": text}


def _chunks_dict(chunks: Sequence[Chunk]) -> tuple[dict[str, Any], str | None]:
    out: dict[str, Any] = {"t": [c.t for c in chunks], "size": [c.size for c in chunks]}
    if any(c.wire_size != c.size for c in chunks):
        out["wire_size"] = [c.wire_size for c in chunks]
    if any(c.read for c in chunks):
        out["read"] = [c.read for c in chunks]
    body: str | None = None
    if chunks and all(c.data is not None for c in chunks):
        body = base64.b64encode(b"".join(c.data for c in chunks)).decode("ascii")  # type: ignore[misc]
        if any(len(c.data) != c.size for c in chunks):  # type: ignore[arg-type]
            out["data_size"] = [len(c.data) for c in chunks]  # type: ignore[arg-type]
    return out, body


def _chunks_from(columns: Any, body: Any) -> list[Chunk]:
    if not isinstance(columns, dict):
        raise ValueError("chunks must be an object of columns")
    times, sizes = columns.get("t"), columns.get("size")
    if not isinstance(times, list) or not isinstance(sizes, list) or len(times) != len(sizes):
        raise ValueError("chunks needs the columns t and size, lists of one length")
    wires = columns.get("wire_size", sizes)
    cuts = columns.get("data_size", sizes)
    reads = columns.get("read", [0] * len(sizes))
    if not isinstance(wires, list) or len(wires) != len(sizes) or not isinstance(cuts, list):
        raise ValueError("chunks.wire_size must be a list as long as chunks.size")
    pieces: list[bytes | None] = [None] * len(sizes)
    if body is not None:
        if not isinstance(body, str):
            raise ValueError("body must be a base64 string")
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"body is not valid base64 ({exc})") from None
        if len(cuts) != len(sizes) or sum(cuts) != len(data):
            raise ValueError(f"body holds {len(data):,} bytes, and the chunks' sizes add up to {sum(cuts):,}")
        at = 0
        for i, n in enumerate(cuts):
            pieces[i] = data[at : at + n]
            at += n
    if not isinstance(reads, list) or len(reads) != len(sizes):
        raise ValueError("chunks.read must be a list as long as chunks.size")
    for name, column in (("t", times), ("size", sizes), ("wire_size", wires), ("read", reads)):
        kinds = {type(v) for v in column}  # one pass; a set of two types at most
        if not kinds <= ({int, float} if name == "t" else {int}):
            raise ValueError(f"chunks.{name} must hold only numbers")
    # 100,000 small objects at once: the cyclic garbage collector would scan them again and
    # again while they are made, and none of them can form a cycle.
    collecting = gc.isenabled()
    gc.disable()
    try:
        # Positional, in the order of Chunk's fields: t, size, data, wire_size, read.
        return list(map(Chunk, times, sizes, pieces, wires, reads))
    finally:
        if collecting:
            gc.enable()


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    """The trace as JSON-ready values (the ``"trace"`` object of a trace file)."""
    out: dict[str, Any] = {name: getattr(trace, name) for name in _PLAIN}
    out["headers"] = [[name, value] for name, value in trace.headers.items()]
    out["chunks"], body = _chunks_dict(trace.chunks)
    if body is not None:
        out["body"] = body
    for name in _EVENT_LISTS:
        events = getattr(trace, name)
        out[name] = None if events is None else _columns(events, Event)
    out["server_error"] = _error_dict(trace)
    out["unterminated"] = None if trace.unterminated is None else dataclasses.asdict(trace.unterminated)
    for name, record_type in _RECORD_LISTS.items():
        out[name] = _columns(getattr(trace, name), record_type)
    return out


def trace_from_dict(data: Any) -> Trace:
    """A :class:`Trace` from the ``"trace"`` object of a trace file; ValueError saying what is
    wrong when a field is missing or of the wrong kind."""
    if not isinstance(data, dict):
        raise ValueError("the trace must be a JSON object")
    if not isinstance(data.get("url"), str):
        raise ValueError("the trace has no url")
    values: dict[str, Any] = {name: data[name] for name in _PLAIN if name in data}
    headers = data.get("headers", [])
    if not isinstance(headers, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        for pair in headers
    ):
        raise ValueError("headers must be a list of [name, value] pairs of strings")
    values["headers"] = Headers([(name, value) for name, value in headers])
    values["chunks"] = _chunks_from(data.get("chunks", {"t": [], "size": []}), data.get("body"))
    for name in _EVENT_LISTS:
        columns = data.get(name)
        values[name] = None if columns is None else _records(columns, Event, name)
    for name, record_type in _RECORD_LISTS.items():
        if name in data:
            values[name] = _records(data[name], record_type, name)
    unterminated = data.get("unterminated")
    if unterminated is not None:
        if not isinstance(unterminated, dict):
            raise ValueError("unterminated must be an object (an event record) or null")
        values["unterminated"] = EventRecord(**unterminated)
    error = data.get("server_error")
    if error is not None:
        if not isinstance(error, dict) or not isinstance(error.get("type"), str):
            raise ValueError("server_error must be an object with a type")
        values["server_error"] = _stand_in(
            error["type"], str(error.get("module", "")), str(error.get("message", "")),
            str(error.get("traceback", "")),
        )  # fmt: skip
    for name, kind in (("method", str), ("duration", (int, float)), ("stopped", bool), ("interrupted", bool)):
        if name in values and not isinstance(values[name], kind):
            raise ValueError(f"{name} has the wrong type ({type(values[name]).__name__})")
    return Trace(**values)


# -- Diagnosis <-> dict ------------------------------------------------------------------------


def _finding_dict(finding: Finding) -> dict[str, Any]:
    return {spec.name: getattr(finding, spec.name) for spec in dataclasses.fields(Finding)}


def diagnosis_to_dict(diagnosis: Diagnosis) -> dict[str, Any]:
    """The diagnosis as JSON-ready values: its own fields, each request as a whole trace
    (``traces``, and ``hops`` when it has them), the findings with evidence and fixes."""
    out: dict[str, Any] = {}
    for spec in dataclasses.fields(Diagnosis):
        value = getattr(diagnosis, spec.name)
        if spec.name == "findings":
            out[spec.name] = [_finding_dict(finding) for finding in value]
        elif isinstance(value, list) and value and all(isinstance(item, Trace) for item in value):
            out[spec.name] = [trace_to_dict(item) for item in value]
        elif spec.name in ("traces", "hops"):
            out[spec.name] = [trace_to_dict(item) for item in value or ()]
        else:
            out[spec.name] = value
    return out


def diagnosis_from_dict(data: Any) -> Diagnosis:
    """A :class:`Diagnosis` from the ``"diagnosis"`` object of a diagnosis file."""
    if not isinstance(data, dict):
        raise ValueError("the diagnosis must be a JSON object")
    values: dict[str, Any] = {}
    finding_names = {spec.name for spec in dataclasses.fields(Finding)}
    for spec in dataclasses.fields(Diagnosis):
        if spec.name not in data:
            continue
        value = data[spec.name]
        if spec.name == "findings":
            if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
                raise ValueError("findings must be a list of objects")
            values["findings"] = [
                Finding(**{k: v for k, v in item.items() if k in finding_names}) for item in value
            ]
        elif spec.name in ("traces", "hops"):
            if not isinstance(value, list):
                raise ValueError(f"{spec.name} must be a list of traces")
            values[spec.name] = [trace_from_dict(item) for item in value]
        else:
            values[spec.name] = value
    for name in ("streams", "culprit", "findings", "traces"):
        if name not in values:
            raise ValueError(f"the diagnosis has no {name}")
    return Diagnosis(**values)


# -- files -------------------------------------------------------------------------------------


def kit_version() -> str:
    """The installed streamkit-http's version (written into each file)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("streamkit-http")
    except PackageNotFoundError:
        return "unknown"


def save(thing: Trace | Diagnosis, path: str | os.PathLike[str]) -> Path:
    """Write a trace or a diagnosis to ``path`` as JSON; returns the path."""
    if isinstance(thing, Trace):
        document = {
            "format": TRACE_FORMAT,
            "version": VERSION,
            "streamkit": kit_version(),
            "trace": trace_to_dict(thing),
        }
    elif isinstance(thing, Diagnosis):
        document = {
            "format": DIAGNOSIS_FORMAT,
            "version": VERSION,
            "streamkit": kit_version(),
            "diagnosis": diagnosis_to_dict(thing),
        }
    else:
        raise TypeError(f"save() writes a Trace or a Diagnosis, not a {type(thing).__name__}")
    target = Path(path)
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    target.write_text(text + "\n", encoding="utf-8")
    return target


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed top level of a streamkit file, its format and version checked."""
    try:
        raw = Path(path).read_bytes()
    except IsADirectoryError:
        raise TraceFileError(path, "is a directory, not a trace file") from None
    except OSError as exc:
        raise TraceFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not raw.strip():
        raise TraceFileError(path, "is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TraceFileError(path, "is not a trace file (not UTF-8 text; trace files are JSON)") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        # A streamkit file's head with broken JSON after it: cut short (a copy or a download
        # that stopped), rather than another program's text.
        if (
            exc.pos >= len(text.rstrip())
            or f'"{TRACE_FORMAT}' in text[:200]
            or f'"{DIAGNOSIS_FORMAT}' in text[:200]
        ):
            reason = f"is cut short: the JSON ends in the middle ({where}); the file may be truncated"
        else:
            reason = f"is not a trace file (not JSON: {exc.msg} at {where})"
        raise TraceFileError(path, reason) from None
    except RecursionError:
        raise TraceFileError(path, "is not a trace file (JSON nested too deeply)") from None
    if not isinstance(document, dict) or document.get("format") not in (TRACE_FORMAT, DIAGNOSIS_FORMAT):
        found = document.get("format") if isinstance(document, dict) else None
        what = f' (its "format" is {json.dumps(found)[:60]})' if found is not None else ""
        raise TraceFileError(
            path,
            f'is JSON but not a streamkit file{what}: a trace file starts with {{"format": "{TRACE_FORMAT}"',
        )
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TraceFileError(path, f"has no valid format version (found {json.dumps(version)[:40]})")
    if version > VERSION:
        raise TraceFileError(
            path,
            f"is format version {version}, written by a newer streamkit ({document.get('streamkit', '?')}); "
            f"this streamkit reads version {VERSION}: upgrade streamkit-http to open it",
        )
    return document


def load(path: str | os.PathLike[str]) -> Trace | Diagnosis:
    """Read a trace file or a diagnosis file, whichever ``path`` holds."""
    document = _read(path)
    try:
        if document["format"] == TRACE_FORMAT:
            return trace_from_dict(document.get("trace"))
        return diagnosis_from_dict(document.get("diagnosis"))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TraceFileError(path, f"is damaged: {exc}") from None


def load_trace(path: str | os.PathLike[str]) -> Trace:
    """Read a trace file (:meth:`Trace.load`)."""
    thing = load(path)
    if not isinstance(thing, Trace):
        raise TraceFileError(path, "holds a diagnosis, not a trace: open it with Diagnosis.load")
    return thing


def load_diagnosis(path: str | os.PathLike[str]) -> Diagnosis:
    """Read a diagnosis file (:meth:`Diagnosis.load`)."""
    thing = load(path)
    if not isinstance(thing, Diagnosis):
        raise TraceFileError(path, "holds a trace, not a diagnosis: open it with Trace.load")
    return thing


def schema_path(kind: str = "trace") -> Path:
    """Where the JSON Schema of the format ships: ``streamkit/schemas/trace-v1.json``."""
    return Path(__file__).resolve().parent / "schemas" / f"{kind}-v{VERSION}.json"
