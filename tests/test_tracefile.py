"""Trace files: every field round-trips, every saved file matches the shipped JSON Schema, and a
bad file raises one TraceFileError naming the file and the problem.

The traces come from real servers on loopback (a streamed app, one that raises, one behind
GzipMiddleware) and from hand-built traces that set every field.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from streamkit import App, Diagnosis, GzipMiddleware, Response, Trace, serve, tracefile
from streamkit.events import CommentRecord, EventRecord
from streamkit.trace import Chunk, Event
from streamkit.tracefile import LEFT_OUT, SavedError, TraceFileError

SCHEMA = json.loads(tracefile.schema_path().read_text(encoding="utf-8"))


def validated(path: Path) -> dict[str, Any]:
    """The file's JSON, checked against the schema that ships in the package."""
    document = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(document, SCHEMA)
    return document


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN (nothing here should be NaN, but a float is a float)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def fields_of(trace: Trace) -> dict[str, Any]:
    """Every saved field of a trace, comparable with ==."""
    out: dict[str, Any] = {}
    for spec in dataclasses.fields(Trace):
        if spec.name in LEFT_OUT:
            continue
        value = getattr(trace, spec.name)
        if spec.name == "headers":
            value = list(value.items())
        elif spec.name == "server_error":
            value = None if value is None else (type(value).__name__, str(value))
        elif isinstance(value, list):
            value = [dataclasses.astuple(item) for item in value]
        elif dataclasses.is_dataclass(value):
            value = dataclasses.astuple(value)
        out[spec.name] = value
    return out


def round_trip(trace: Trace, tmp_path: Path, name: str = "t.json") -> Trace:
    path = trace.save(tmp_path / name)
    validated(path)
    loaded = Trace.load(path)
    assert fields_of(loaded) == fields_of(trace)
    return loaded


def every_field_trace() -> Trace:
    """A hand-made trace with every field set to something other than its default."""
    values: dict[str, Any] = {
        "url": "http://127.0.0.1:5000/rows?n=3",
        "method": "POST",
        "status": 200,
        "chunks": [
            Chunk(0.1, 2, b"aa", 9),
            Chunk(0.2000000000000001, 3, b"bbb", 3, read=1),
            Chunk(0.3, 0, b"", 4, 2),
        ],
        "headers_at": 0.05,
        "ttfb": 0.1,
        "duration": 0.31,
        "error": "the body broke",
        "error_kind": "truncated",
        "events": [EventRecord(t=0.1, type="token", id="7", data='{"x": 1}', content="x", chunk=1, read=1)],
        "comments": [CommentRecord(t=0.15, text="ping", chunk=1, read=1)],
        "event_framing": "sse",
        "unterminated": EventRecord(t=0.3, data="half", chunk=2, read=2),
        "stopped": True,
        "interrupted": True,
        "produced": [Event(0.099, 2, parts=2), Event(0.199, 3, arrived=0.2)],
        "written": [Event(0.1, 9)],
        "server_error": KeyError("row"),
        "server_error_at": 0.25,
        "note": "a note",
        "browser_received": [Event(0.1, 5)],
        "browser_reads": [Event(0.11, 5)],
        "browser_shown": [Event(0.12, 0), Event(0.13, 4)],
        "started": 12345.678,
        "reader": "worker (clock checked to 0.1 ms)",
    }
    trace = Trace(**values)
    trace.headers.add("Set-Cookie", "a=1")
    trace.headers.add("Set-Cookie", "b=2")
    trace.headers.add("Content-Type", "text/csv")
    for spec in dataclasses.fields(Trace):  # a field added later must get a value here too
        assert spec.name in values or spec.name in LEFT_OUT or spec.name == "headers", (
            f"every_field_trace does not set the new Trace field {spec.name!r}"
        )
    return trace


def test_every_trace_field_is_written_or_deliberately_left_out(tmp_path: Path) -> None:
    path = every_field_trace().save(tmp_path / "t.json")
    written = set(validated(path)["trace"]) - {"body"}
    for spec in dataclasses.fields(Trace):
        assert spec.name in written or spec.name in LEFT_OUT, (
            f"Trace.{spec.name} is neither written by streamkit.tracefile nor listed in LEFT_OUT"
        )
    assert set(LEFT_OUT) <= {spec.name for spec in dataclasses.fields(Trace)}


def test_every_field_round_trips(tmp_path: Path) -> None:
    trace = every_field_trace()
    loaded = round_trip(trace, tmp_path)
    assert loaded.chunks[1].t == 0.2000000000000001  # floats come back bit for bit
    assert loaded.body == b"aabbb"
    assert loaded.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert list(loaded.headers.keys()) == list(trace.headers.keys())


def test_the_columns_leave_out_what_equals_the_default(tmp_path: Path) -> None:
    trace = Trace(url="http://x/", status=200, chunks=[Chunk(0.1, 3, None, 3)], produced=[Event(0.1, 3)])
    document = validated(trace.save(tmp_path / "t.json"))["trace"]
    assert document["chunks"] == {"t": [0.1], "size": [3]}  # no wire_size: equal to size
    assert document["produced"] == {"t": [0.1], "size": [3]}  # parts all 1, arrived all None
    assert "body" not in document  # the probe did not keep it
    assert document["written"] is None  # not recorded stays not recorded, not "recorded nothing"
    loaded = round_trip(trace, tmp_path)
    with pytest.raises(ValueError, match="keep_body=True"):
        loaded.body


def test_the_app_exception_loads_as_a_stand_in_and_the_verdict_stays_broken(tmp_path: Path) -> None:
    app = App(__name__)

    @app.route("/fails")
    def fails() -> Response:
        def generate():
            yield "first\n"
            raise KeyError("row 7")

        return Response(generate())

    with serve(app) as server:
        trace = server.get("/fails")
    assert trace.verdict == "broken"
    loaded = round_trip(trace, tmp_path)
    error = loaded.server_error
    assert isinstance(error, SavedError) and type(error).__name__ == "KeyError"
    assert str(error) == str(trace.server_error) == "'row 7'"
    assert "raise KeyError" in error.traceback_text  # the traceback as text, the line that raised
    assert loaded.verdict == "broken"
    assert loaded.verdict_text == trace.verdict_text  # "the app raised KeyError after 1 item ..."
    with pytest.raises(SavedError, match="row 7"):
        loaded.raise_for_error()
    # Saved again, the stand-in writes the original's text, not its own.
    again = json.loads(loaded.save(tmp_path / "again.json").read_text())["trace"]["server_error"]
    assert again == json.loads((tmp_path / "t.json").read_text())["trace"]["server_error"]


def test_a_real_gzip_trace_with_its_body_round_trips(tmp_path: Path) -> None:
    app = App(__name__)

    @app.route("/rows")
    def rows() -> Response:
        def generate():
            for i in range(4):
                yield f"row {i}\n" * 50
                import time

                time.sleep(0.03)

        return Response(generate(), mimetype="text/plain")

    with serve(GzipMiddleware(app)) as server:
        trace = server.get("/rows", headers={"Accept-Encoding": "gzip"}, keep_body=True)
    assert trace.headers.get("Content-Encoding") == "gzip"
    assert any(c.wire_size != c.size for c in trace.chunks)
    loaded = round_trip(trace, tmp_path)
    assert loaded.body == trace.body and len(loaded.body) == 4 * 50 * 6
    assert "wire_size" in validated(tmp_path / "t.json")["trace"]["chunks"]
    assert loaded.verdict == trace.verdict
    assert loaded.to_text() == trace.to_text()  # the same picture from the file
    assert loaded.to_svg() == trace.to_svg()


def test_a_diagnosis_round_trips_with_each_request_trace(tmp_path: Path) -> None:
    app = App(__name__)

    @app.route("/parts")
    def parts() -> Response:
        def generate():
            import time

            for i in range(4):
                yield f"part {i}\n"
                time.sleep(0.05)

        return Response(generate(), mimetype="text/plain")

    from streamkit.compression import NaiveGzipMiddleware

    with serve(NaiveGzipMiddleware(app)) as server:
        diagnosis = server.get("/parts", headers={"Accept-Encoding": "gzip"}).diagnose()
    assert not diagnosis.streams and diagnosis.findings
    path = diagnosis.save(tmp_path / "d.json")
    document = validated(path)
    assert document["format"] == "streamkit-diagnosis"
    loaded = Diagnosis.load(path)
    assert str(loaded) == str(diagnosis)
    assert [dataclasses.astuple(f) for f in loaded.findings] == [
        dataclasses.astuple(f) for f in diagnosis.findings
    ]
    assert [fields_of(t) for t in loaded.traces] == [fields_of(t) for t in diagnosis.traces]
    for spec in dataclasses.fields(Diagnosis):
        assert spec.name in document["diagnosis"], f"Diagnosis.{spec.name} is not written"
    with pytest.raises(TraceFileError, match="holds a diagnosis, not a trace"):
        Trace.load(path)


# -- bad files ---------------------------------------------------------------------------------


def good_file(tmp_path: Path) -> Path:
    return Trace(url="http://x/", status=200, chunks=[Chunk(0.1, 3, b"abc", 3)]).save(tmp_path / "good.json")


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe garbage", "not UTF-8"),
        (b"hello, not json", "not JSON"),
        (b'{"name": "package", "version": "1.0"}', "not a streamkit file"),
        (b"[1, 2, 3]", "not a streamkit file"),
        (
            b'{"format": "streamkit-trace", "version": 2, "streamkit": "9.0", "trace": {}}',
            "version 2.*reads version 1",
        ),
        (b'{"format": "streamkit-trace", "version": "one"}', "no valid format version"),
        (
            b'{"format": "streamkit-trace", "version": 1, "trace": {"url": 5}}',
            "damaged: the trace has no url",
        ),
        (
            b'{"format": "streamkit-trace", "version": 1, "trace": {"url": "http://x/", "chunks": {"t": [1], "size": ["a"]}}}',
            "damaged: chunks.size",
        ),
        (
            b'{"format": "streamkit-trace", "version": 1, "trace": {"url": "http://x/", "chunks": {"t": [1], "size": [3]}, "body": "!!"}}',
            "damaged: body is not valid base64",
        ),
    ],
)
def test_a_bad_file_raises_one_error_naming_the_file(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(TraceFileError, match=reason) as caught:
        Trace.load(path)
    assert caught.value.path == str(path) and str(caught.value).startswith(f"{path}: ")
    assert "\n" not in str(caught.value)


def test_a_truncated_file_is_called_cut_short(tmp_path: Path) -> None:
    text = good_file(tmp_path).read_text()
    for cut in (len(text) // 3, len(text) - 5):
        path = tmp_path / f"cut{cut}.json"
        path.write_text(text[:cut])
        with pytest.raises(TraceFileError, match="cut short"):
            Trace.load(path)


def test_a_missing_file_and_a_folder(tmp_path: Path) -> None:
    with pytest.raises(TraceFileError, match="cannot be read"):
        Trace.load(tmp_path / "nothing.json")
    with pytest.raises(TraceFileError, match="directory"):
        Trace.load(tmp_path)


def test_a_newer_version_names_both_versions(tmp_path: Path) -> None:
    document = json.loads(good_file(tmp_path).read_text())
    document["version"] = 7
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(document))
    with pytest.raises(TraceFileError) as caught:
        Trace.load(path)
    message = str(caught.value)
    assert str(path) in message and "version 7" in message and "version 1" in message


def test_the_schema_rejects_what_the_loader_rejects(tmp_path: Path) -> None:
    document = json.loads(good_file(tmp_path).read_text())
    document["trace"]["mystery"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, SCHEMA)


def test_the_schema_ships_as_package_data() -> None:
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert '"schemas/*.json"' in pyproject
    assert tracefile.schema_path().is_file()


def test_a_doctor_diagnosis_with_hops_round_trips(tmp_path: Path) -> None:
    from streamkit import doctor
    from streamkit.compression import NaiveGzipMiddleware
    from streamkit.report import html_report

    app = App(__name__)

    @app.route("/parts")
    def parts() -> Response:
        def generate():
            import time

            for i in range(3):
                yield f"part {i}\n"
                time.sleep(0.05)

        return Response(generate(), mimetype="text/plain")

    with serve(NaiveGzipMiddleware(app)) as server:
        diagnosis = doctor(server.url + "/parts", upstream=[server.url + "/parts"], max_seconds=5)
    assert diagnosis.hops and diagnosis.hop_labels
    path = diagnosis.save(tmp_path / "d.json")
    validated(path)
    loaded = Diagnosis.load(path)
    assert str(loaded) == str(diagnosis)
    assert loaded.to_dict() == diagnosis.to_dict()  # the doctor's JSON summary, from the file
    assert [fields_of(t) for t in loaded.hops] == [fields_of(t) for t in diagnosis.hops]
    assert loaded.hop_labels == diagnosis.hop_labels
    assert "Hops compared" in html_report(loaded)
