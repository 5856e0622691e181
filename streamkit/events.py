"""Events in a streamed body: server-sent events and JSON lines, and the text each one carries.

Measuring layer, and pure: no socket, no clock, no trace. The probe feeds an
:class:`EventParser` the decoded bytes of each chunk as it arrives, with the time of the read
that brought them, and the parser turns them into records:

* :class:`EventRecord`: one per event, in order, with the time (``t``) of the read that
  completed it, its ``type``, ``id`` and ``data``, the ``content`` it carries (below), and the
  indexes of the chunk (``chunk``) and socket read (``read``) that completed it;
* :class:`CommentRecord`: one per SSE comment line (``: ping``). Comments are not events, as the
  spec says, but a keep-alive comment is activity on the connection, so it is kept apart.

Two framings:

* ``"sse"`` (``text/event-stream``), following the WHATWG HTML rules: lines end at CR, LF or
  CRLF; one leading byte order mark is dropped; a line starting with a colon is a comment; a
  field without a colon has an empty value; ``data`` lines are joined with LF; ``id`` sets the
  last event ID (not when it holds NUL) and ``retry`` is read only from ASCII digits; an event
  is dispatched at a blank line, and only when at least one ``data`` line came; the last event
  ID is updated at every blank line all the same. An event left without its blank line when the
  body ends is not dispatched, but kept as ``unterminated``.
* ``"jsonl"`` (``application/x-ndjson``, ``application/jsonl``, ``application/json-lines``):
  one event per non-blank line ending at LF (a CR before it is dropped); a last line without its
  LF still counts, as JSON Lines allows. ``"json-seq"`` (``application/json-seq``, RFC 7464):
  each record starts with RS (0x1E) and is dispatched once its text is complete JSON.

Where httpx-sse 0.4.3, a well-kept client-side decoder, departs from the rules, this parser
follows the rules, because a timer needs what a browser's EventSource would see:

==========================================  ==================  ========================
case                                        httpx-sse 0.4.3     here (WHATWG)
==========================================  ==================  ========================
``EF BB BF`` before the first field          field ``\\ufeffdata``  BOM dropped, event kept
a block with no ``data`` (``retry: 5``)       empty ``message``    nothing dispatched
``retry: +1_0``                              10                  ignored (digits only)
CR-only line ends                            line ends a read late  line ends at its CR
the body ends inside an event                dropped             kept as ``unterminated``
==========================================  ==================  ========================

Lines are split on bytes, never on decoded text: ``bytes.splitlines()`` splits at CR, LF and
CRLF only, exactly SSE's line ends (``str.splitlines()`` also splits at U+2028 and friends).
Each finished line is decoded as UTF-8 with ``errors="replace"``, whatever the charset says, as
EventSource does; CR and LF never sit inside a multi-byte sequence, so a line never splits one.

**Reading first, parsing in bulk.** :meth:`SSEParser.feed` only queues a piece with its
time and indexes (:meth:`~SSEParser.feed_chunks` queues all the chunks one read completed, in
one call: the chunked reader hands them over so); :meth:`SSEParser.parse` (also run by reading
``events`` or ``comments``, and by :meth:`~SSEParser.eof`) turns the queue into records. The
probe parses between reads, after a read that took all the socket held, so that the next
bytes are on their way meanwhile: after every such read when something follows the trace as it
grows (a live view, the reader worker's batches), else once a few hundred chunks have queued;
and it lets the queue grow while full reads keep coming, so a parser that cannot keep up never
delays the reads whose times it records. Every record is still dated by the piece that completed it, exactly as
when each piece is parsed at once (a hypothesis test checks it). The usual queue, whole
``data: ...`` events with LF line ends, is parsed column by column with C loops
(:meth:`SSEParser._bulk`): the checks are counts over the joined bytes, the texts are one
decode and one split, each event finds its piece by bisection, and the content of the run
comes from :func:`contents_of`, which decodes OpenAI-style chunks and takes
``choices[0].delta.content`` from all of them at once (anything else falls back to
:func:`content_of`, one event at a time, and a hypothesis test checks that both agree).
Anything else in the queue (a CR, a comment, an ``id``, a multi-line event) goes line by line.
Why: per event, parsing costs more than reading, and the probe must not fall behind the
stream it times. Measured on a 2-core machine (CPython 3.11, orjson installed, 100,000
OpenAI-style token events of 60 bytes, one per chunk, ``benchmarks/bench_events.py``), the
probe reads a chunk in about 3 us; parsing an event (the record and its content made) took
6.2 us on top when each event's content was decoded on its own, and 4.3 to 4.6 us now (the
probe of a plain-socket server, which the client limits: 0.92 s before, 0.73 to 0.76 s now,
against 0.30 s without events; in memory, 114,000 events/s before and 133,000 to 137,000 now).
Of that, decoding the JSON is about 1 us and making the record and the cyclic garbage
collector's passes over the records about 1.5 us. A streamkit App writes such events at 8 to
13 us each, so on a quiet machine the probe keeps up and parsing adds nothing to its time; on
a loaded one the parsing's CPU time still shows (see ``benchmarks/bench_events.py``).

**Content.** An event's ``content`` is the text it carries in a format the kit recognises
(:func:`content_of`): OpenAI-compatible chat completions (``choices[].delta.content``, or
``choices[].text`` for completions), the Responses API's ``response.output_text.delta``,
Anthropic's ``content_block_delta``, Ollama's JSON lines (``message.content`` or
``response``), and, for a plain ``message`` event whose data is not JSON, the data itself.
Control events carry none: a role-only delta (``"content": ""``), ``response.created``, the
final ``[DONE]``. For other JSON, name where the text is: ``content="message.text"`` (keys and
list indexes, dotted).
"""

from __future__ import annotations

import json
import json.scanner
import math
import statistics
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, repeat
from operator import add, itemgetter
from typing import Any

try:
    import orjson  # an optional, faster JSON decoder (streamkit-http[fast])
except ImportError:  # pragma: no cover - the standard decoder does the same, slower
    orjson = None  # type: ignore[assignment]

__all__ = [
    "FRAMINGS",
    "CommentRecord",
    "EventFigures",
    "EventParser",
    "EventRecord",
    "JsonLinesParser",
    "SSEParser",
    "content_of",
    "content_path",
    "contents_of",
    "event_figures",
    "framing_for",
    "parser_for",
    "percentile",
]

# The framings the parser knows, and the Content-Types that mean them.
FRAMINGS = ("sse", "jsonl", "json-seq")
CONTENT_TYPES = {
    "text/event-stream": "sse",
    "application/x-ndjson": "jsonl",
    "application/ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/json-lines": "jsonl",
    "application/jsonlines": "jsonl",
    "application/json-seq": "json-seq",
}
DONE = "[DONE]"  # the last event of an OpenAI-compatible stream: a control event, no content
BOM = b"\xef\xbb\xbf"
RS = b"\x1e"


@dataclass(slots=True)
class EventRecord:
    """One event as the client could first have seen it whole.

    ``t`` is seconds since the request started, when the read that completed the event
    returned; ``type`` is the SSE event type (``"message"`` by default, and for JSON lines);
    ``id`` the last event ID at dispatch (``""`` when none was ever set, as in the spec);
    ``data`` the event's data (for JSON lines, the line); ``content`` the text it carries, or
    None (see :func:`content_of`); ``chunk`` and ``read`` the indexes of the chunk (in
    ``trace.chunks``) and of the socket read that completed it. Events that share a ``read``
    reached the client together, however far apart the server wrote them.
    """

    t: float
    type: str = "message"
    id: str = ""
    data: str = ""
    content: str | None = None
    chunk: int = 0
    read: int = 0


@dataclass(slots=True)
class CommentRecord:
    """One SSE comment line (``: ping``): not an event, but activity on the connection."""

    t: float
    text: str
    chunk: int = 0
    read: int = 0


def framing_for(content_type: str | None) -> str | None:
    """The event framing a Content-Type means (``"sse"``, ``"jsonl"``, ``"json-seq"``), or None."""
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    return CONTENT_TYPES.get(media)


# -- content -------------------------------------------------------------------------------------


def content_path(path: str) -> tuple[str | int, ...]:
    """``"choices.0.delta.content"`` as keys and indexes; ValueError for an empty step."""
    if not isinstance(path, str):
        raise TypeError(f"content= takes a dotted path such as 'message.text', got {type(path).__name__}")
    steps: list[str | int] = []
    for step in path.split("."):
        if not step:
            raise ValueError(f"content= takes a dotted path such as 'message.text', got {path!r}")
        steps.append(int(step) if step.isascii() and step.isdigit() else step)
    return tuple(steps)


def _follow(value: Any, path: Sequence[str | int]) -> str | None:
    for step in path:
        if isinstance(step, int) and isinstance(value, list):
            if step >= len(value):
                return None
            value = value[step]
        elif isinstance(value, dict):
            value = value.get(str(step))
        else:
            return None
    return value if isinstance(value, str) and value else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _known_content(event_type: str, value: Any) -> str | None:
    """The text in a JSON value of a format the kit recognises (see the module docstring)."""
    if not isinstance(value, dict):
        return None
    choices = value.get("choices")
    if type(choices) is list and len(choices) == 1:  # the usual OpenAI-compatible chunk
        choice = choices[0]
        delta = choice.get("delta") if type(choice) is dict else None
        if type(delta) is dict:
            text = delta.get("content")
            return text if type(text) is str and text else None
    kind = value.get("type") if event_type == "message" else event_type
    if isinstance(choices, list):  # OpenAI-compatible chat completions (or completions)
        texts = []
        for choice in choices:
            if isinstance(choice, dict):
                delta = choice.get("delta")
                text = _text(delta.get("content")) if isinstance(delta, dict) else _text(choice.get("text"))
                if text:
                    texts.append(text)
        return "".join(texts) or None
    if kind == "response.output_text.delta":  # the Responses API
        return _text(value.get("delta"))
    if kind == "content_block_delta":  # Anthropic's messages API
        delta = value.get("delta")
        return _text(delta.get("text")) if isinstance(delta, dict) else None
    message = value.get("message")
    if isinstance(message, dict):  # Ollama /api/chat
        return _text(message.get("content"))
    return _text(value.get("response"))  # Ollama /api/generate (the Responses API's is an object)


_NOT_JSON: Any = object()
# The scanner json.loads itself ends in (C when available), called directly.
_scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def parse_json(text: str) -> Any:
    """``json.loads(text)`` for the value of one event, a few frames shorter (this runs once per
    event); :data:`_NOT_JSON` when the text is not one JSON value. With orjson installed
    (``streamkit-http[fast]``) it decodes first, about twice as fast here; what it refuses (it is
    stricter: ``NaN``, ``Infinity``, lone surrogates) goes to the standard decoder. Strings,
    all that content is taken from, come out the same (an integer past 64 bits may not)."""
    if orjson is not None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    try:
        value, end = _scan(text, 0)
    except (StopIteration, ValueError):
        text = text.strip()
        if not text:
            return _NOT_JSON
        try:
            return json.loads(text)
        except ValueError:
            return _NOT_JSON
    if end != len(text) and not text[end:].isspace():
        return _NOT_JSON
    return value


def content_of(event_type: str, data: str, path: Sequence[str | int] | None = None) -> str | None:
    """The text an event carries, or None for a control event or an unknown format.

    With ``path`` (from :func:`content_path`) the data is read as JSON and the text taken from
    there; else the recognised formats are tried (see the module docstring). Data that is not
    JSON is its own content for a plain ``message`` event (not ``[DONE]``).
    """
    if not data or data == DONE:
        return None
    if path is None:
        if data[0] not in "{[":
            return data if event_type == "message" else None
        if not (
            '"choices"' in data
            or '"delta"' in data
            or '"message"' in data
            or '"response"' in data
            or "\\u" in data
        ):
            return None  # none of the keys a known format keeps its text under (and no escapes)
    value = parse_json(data)
    if value is _NOT_JSON:
        return None if path is not None else (data if event_type == "message" else None)
    if path is not None:
        return _follow(value, path)
    return _known_content(event_type, value)


def contents_of(texts: list[str], path: Sequence[str | int] | None = None) -> list[str | None]:
    """``content_of("message", text, path)`` for each text, in order: the content of a run of
    plain ``message`` events.

    The usual run, OpenAI-compatible chunks with one choice each (``{"choices": [{...,
    "delta": {..., "content": "..."}}]}``), is read column by column, with loops in C: every
    text decoded (as :func:`parse_json` would), then each step of the path taken for all of
    them at once, with the same type checks as :func:`content_of`. A slice of the run with
    anything else in it (a text not starting with ``{``, one the decoder refuses, a value of
    another shape) goes through :func:`content_of` one text at a time instead, so the result is
    always exactly what :func:`content_of` gives. Slices of :data:`CONTENT_SLICE` texts keep
    the decoded values few at a time: the cyclic garbage collector's passes over them grow
    with how many are alive at once."""
    if path is not None:
        return list(map(content_of, repeat("message"), texts, repeat(path)))
    found: list[str | None] = []
    for start in range(0, len(texts), CONTENT_SLICE):
        part = texts[start : start + CONTENT_SLICE]
        contents = _chat_contents(part)
        found.extend(contents if contents is not None else map(content_of, repeat("message"), part))
    return found


CONTENT_SLICE = 64  # texts decoded at a time by contents_of


def _chat_contents(texts: list[str]) -> list[str | None] | None:
    """The content of OpenAI-compatible chunks of one choice each, or None when any text is not
    one (see :func:`contents_of`)."""
    try:
        if set(map(itemgetter(0), texts)) != {"{"}:
            return None  # content_of does not decode those
    except IndexError:  # an empty text
        return None
    try:
        values = list(map(orjson.loads if orjson is not None else json.loads, texts))
    except ValueError:  # orjson.JSONDecodeError and json.JSONDecodeError are ValueErrors
        return None
    if set(map(type, values)) != {dict}:
        return None
    choices: list[Any] = list(map(dict.get, values, repeat("choices")))
    if set(map(type, choices)) != {list} or set(map(len, choices)) != {1}:
        return None
    first: list[Any] = list(map(itemgetter(0), choices))
    if set(map(type, first)) != {dict}:
        return None
    deltas: list[Any] = list(map(dict.get, first, repeat("delta")))
    if set(map(type, deltas)) != {dict}:
        return None
    return [text if type(text) is str and text else None for text in map(dict.get, deltas, repeat("content"))]


# -- parsers -------------------------------------------------------------------------------------


class SSEParser:
    """The WHATWG event-stream rules over bytes fed in pieces of any size.

    :meth:`feed` takes the decoded body bytes that one read completed, with that read's time
    and indexes, and appends to :attr:`events` and :attr:`comments`. :meth:`eof` says the body
    has ended: an event still waiting for its blank line becomes :attr:`unterminated`.
    ``retry`` is the last valid reconnection time (ms), ``last_id`` the last event ID.
    """

    framing = "sse"

    def __init__(self, content: Sequence[str | int] | None = None) -> None:
        self._events: list[EventRecord] = []
        self._comments: list[CommentRecord] = []
        # fed, not parsed yet: the pieces of one read, with its time, first chunk and read
        self._queue: list[tuple[list[bytes], float, int, int]] = []
        self.unterminated: EventRecord | None = None
        self.retry: int | None = None
        self.last_id = ""
        self.path = content
        self._rest = b""  # a line not ended yet
        self._after_cr = False  # the last piece ended with CR: an LF first in the next is its pair
        self._first = True  # no line seen yet: a BOM may start the stream
        self._data: list[str] = []
        self._type = ""
        self._id = ""
        self._last: tuple[float, int, int] = (0.0, 0, 0)
        self._clean = False  # nothing pending (no partial line, no fields buffered, not the start)

    @property
    def events(self) -> list[EventRecord]:
        """The events of the bytes fed so far (what is queued is parsed first). The list is the
        same object for the parser's whole life: parsing appends to it."""
        if self._queue:
            self.parse()
        return self._events

    @property
    def comments(self) -> list[CommentRecord]:
        """The comment lines of the bytes fed so far (one list, as :attr:`events`)."""
        if self._queue:
            self.parse()
        return self._comments

    def feed(self, data: bytes, t: float, chunk: int, read: int) -> None:
        """Take the next bytes of the body; ``t``, ``chunk`` and ``read`` say when they came.

        They are only queued here: :meth:`parse` (or reading :attr:`events`, or :meth:`eof`)
        turns them into records, dated by the piece that completed each one."""
        if data:
            self._queue.append(([data], t, chunk, read))

    def feed_chunks(self, pieces: list[bytes], t: float, first: int, read: int) -> None:
        """Take the (non-empty) bytes of several chunks that one read completed, the chunks
        ``first``, ``first + 1``, ...: the same as feeding each in turn, in one call."""
        if pieces:
            self._queue.append((pieces, t, first, read))

    def parse(self) -> None:
        """Parse what :meth:`feed` queued. Whole events of one ``data`` line with LF line ends,
        the usual case, are made in one pass over the queued bytes joined (:meth:`_bulk`);
        anything else goes piece by piece through the line rules."""
        queue, self._queue = self._queue, []
        if not queue or self._bulk(queue):
            return
        take = self._take
        for pieces, t, first, read in queue:
            for offset, data in enumerate(pieces):
                take(data, t, first + offset, read)

    def _bulk(self, queue: list[tuple[list[bytes], float, int, int]]) -> bool:
        """The queued pieces as whole ``data: ...`` events with LF line ends, each dated by
        the piece that brought its blank line; False (and nothing changed) for anything else:
        a CR, a BOM still possible, fields pending, a block of other lines, or complete lines
        after the last blank line (a comment there must be dated by its own piece).

        Column by column, so that the loops run in C: the checks are counts over the joined
        bytes, the texts are one decode and one split, each event finds its piece by bisecting
        the pieces' end offsets, and the content comes from :func:`contents_of`."""
        if self._first or self._after_cr or self._data or self._type:
            return False
        rest = self._rest
        if len(queue) == 1:
            pieces = queue[0][0]
        else:
            pieces = list(chain.from_iterable([entry[0] for entry in queue]))
        buf = b"".join([rest, *pieces]) if rest else b"".join(pieces)
        if b"\r" in buf:
            return False
        count = buf.count(b"\n\n")
        end = buf.rfind(b"\n\n") + 2 if count else 0  # where the last whole event ends
        tail = buf[end:]
        # Every LF is in a blank-line separator (no block holds a line break, the tail holds no
        # complete line), and every block starts with "data: ".
        if buf.count(b"\n") != 2 * count:
            return False
        if (b"\n\n" + buf).count(b"\n\ndata: ") - tail.startswith(b"data: ") != count:
            return False
        self._rest = tail
        last_pieces, last_t, last_first, last_read = queue[-1]
        self._last = (last_t, last_first + len(last_pieces) - 1, last_read)
        self._clean = not tail
        if not count:
            return True
        # Where each piece ends in buf, and its time, chunk and read: a column each.
        piece_ends = list(accumulate(map(len, pieces), initial=len(rest)))[1:]
        if len(queue) == 1:
            times = list(repeat(last_t, len(pieces)))
            chunks = list(range(last_first, last_first + len(pieces)))
            reads = list(repeat(last_read, len(pieces)))
        else:
            times, chunks, reads = [], [], []
            for entry_pieces, t, first, read in queue:
                n = len(entry_pieces)
                times.extend(repeat(t, n))
                chunks.extend(range(first, first + n))
                reads.extend(repeat(read, n))
        # Each block is "data: " and its text, without a line break: the texts are the events'
        # bytes decoded at once and split at each "\n\ndata: ". UTF-8 decoding never joins an
        # ASCII byte to its neighbours, even with errors="replace", so this is each block decoded.
        region = buf[6 : end - 2]
        texts = region.decode("utf-8", "replace").split("\n\ndata: ")
        if region.isascii():  # a text's length is its bytes'; each event adds "data: " and "\n\n"
            event_ends = list(map(add, accumulate(map(len, texts)), range(8, 8 * count + 1, 8)))
        else:
            blocks = buf[:end].split(b"\n\n")[:-1]
            event_ends = list(map(add, accumulate(map(len, blocks)), range(2, 2 * count + 1, 2)))
        if piece_ends != event_ends:  # else one event per piece, the most usual case of all
            where = list(map(bisect_left, repeat(piece_ends), event_ends))
            times = list(map(times.__getitem__, where))
            chunks = list(map(chunks.__getitem__, where))
            reads = list(map(reads.__getitem__, where))
        last_id = self.last_id = self._id
        self._events.extend(
            map(
                EventRecord,
                times,
                repeat("message"),
                repeat(last_id),
                texts,
                contents_of(texts, self.path),
                chunks,
                reads,
            )
        )
        return True

    def _take(self, data: bytes, t: float, chunk: int, read: int) -> None:
        """Apply the line rules to one piece (the general case of :meth:`parse`)."""
        if (
            self._clean
            and data[:6] == b"data: "
            and data.find(b"\n", 6) == len(data) - 2
            and data[-1] == 10
            and b"\r" not in data
        ):
            # The usual piece: one event of one data line, LF line ends, nothing pending.
            text = data[6:-2].decode("utf-8", "replace")
            self.last_id = self._id
            self._events.append(
                EventRecord(t, "message", self._id, text, content_of("message", text, self.path), chunk, read)
            )
            return
        self._last = (t, chunk, read)  # where an event the body ends inside would be dated
        self._clean = False
        if self._after_cr:
            self._after_cr = False
            if data[0] == 10:
                data = data[1:]
                if not data:
                    return
        if self._rest:
            data = self._rest + data
            self._rest = b""
        if (
            not self._first
            and not self._data
            and not self._type
            and data[-2:] == b"\n\n"
            and b"\r" not in data
        ):
            self._blocks(data, t, chunk, read)  # whole events with LF line ends: the usual case
            return
        lines = data.splitlines()
        last = data[-1]
        if last != 10:
            if last == 13:
                self._after_cr = True
            else:
                self._rest = lines.pop()
        if self._first and lines:
            self._first = False
            if lines[0].startswith(BOM):
                lines[0] = lines[0][3:]
        line_fn = self._line
        for line in lines:
            if line:
                line_fn(line, t, chunk, read)
            else:
                self._dispatch(t, chunk, read)
        self._clean = not (self._first or self._rest or self._after_cr or self._data or self._type)

    def _blocks(self, data: bytes, t: float, chunk: int, read: int) -> None:
        """Bytes that hold whole events and end with a blank line (LF line ends only): an event
        of one ``data`` line is made at once; any other block goes line by line."""
        append = self._events.append
        path = self.path
        for block in data[:-2].split(b"\n\n"):
            if block[:6] == b"data: " and b"\n" not in block:
                text = block[6:].decode("utf-8", "replace")
                self.last_id = self._id
                append(
                    EventRecord(t, "message", self._id, text, content_of("message", text, path), chunk, read)
                )
                continue
            for line in block.split(b"\n"):
                if line:
                    self._line(line, t, chunk, read)
                else:
                    self._dispatch(t, chunk, read)
            self._dispatch(t, chunk, read)
        self._clean = not (self._data or self._type)

    def _line(self, raw: bytes, t: float, chunk: int, read: int) -> None:
        line = raw.decode("utf-8", "replace")
        colon = line.find(":")
        if colon == 0:
            self._comments.append(CommentRecord(t, line[1:], chunk, read))
            return
        if colon < 0:
            field, value = line, ""
        else:
            field = line[:colon]
            value = line[colon + 2 :] if line[colon + 1 : colon + 2] == " " else line[colon + 1 :]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._type = value
        elif field == "id":
            if "\x00" not in value:
                self._id = value
        elif field == "retry":
            if value.isascii() and value.isdigit():
                self.retry = int(value)
        # any other field is ignored, as the spec says

    def _dispatch(self, t: float, chunk: int, read: int) -> None:
        self.last_id = self._id
        if not self._data:
            self._type = ""
            return
        data = "\n".join(self._data)
        kind = self._type or "message"
        self._data = []
        self._type = ""
        self._events.append(
            EventRecord(t, kind, self._id, data, content_of(kind, data, self.path), chunk, read)
        )

    def eof(self) -> None:
        """The body ended: keep an event that never got its blank line as ``unterminated``."""
        self.parse()
        t, chunk, read = self._last
        if self._rest:
            rest, self._rest = self._rest, b""
            if self._first and rest.startswith(BOM):
                rest = rest[3:]
            if rest:
                self._line(rest, t, chunk, read)
        if self._data:
            data = "\n".join(self._data)
            kind = self._type or "message"
            self.unterminated = EventRecord(
                t, kind, self._id, data, content_of(kind, data, self.path), chunk, read
            )
        self._data = []
        self._type = ""


class JsonLinesParser:
    """JSON lines (``"jsonl"``: one event per non-blank line) or JSON text sequences
    (``"json-seq"``: records that start with RS), fed like :class:`SSEParser`."""

    def __init__(self, framing: str = "jsonl", content: Sequence[str | int] | None = None) -> None:
        if framing not in ("jsonl", "json-seq"):
            raise ValueError(f"JsonLinesParser reads 'jsonl' or 'json-seq', not {framing!r}")
        self.framing = framing
        self.events: list[EventRecord] = []
        self.comments: list[CommentRecord] = []  # always empty: JSON lines have no comments
        self.unterminated: EventRecord | None = None
        self.path = content
        self._rest = b""
        self._record: list[bytes] = []  # json-seq: the lines of a record not complete yet
        self._last: tuple[float, int, int] = (0.0, 0, 0)

    def feed(self, data: bytes, t: float, chunk: int, read: int) -> None:
        """Take the next bytes of the body; ``t``, ``chunk`` and ``read`` say when they came."""
        if not data:
            return
        self._last = (t, chunk, read)
        if self._rest:
            data = self._rest + data
        lines = data.split(b"\n")
        self._rest = lines.pop()  # b"" when the data ended with LF
        if self.framing == "jsonl":
            for line in lines:
                self._add(line, t, chunk, read)
        else:
            for line in lines:
                self._seq_line(line, t, chunk, read)

    def feed_chunks(self, pieces: list[bytes], t: float, first: int, read: int) -> None:
        """Take the bytes of several chunks that one read completed, the chunks ``first``,
        ``first + 1``, ...: each is fed in turn."""
        for offset, data in enumerate(pieces):
            self.feed(data, t, first + offset, read)

    def parse(self) -> None:
        """Nothing to do: JSON lines are parsed as they are fed (the SSE parser queues)."""

    def _add(self, line: bytes, t: float, chunk: int, read: int) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            return
        text = line.decode("utf-8", "replace")
        if self.framing == "json-seq":
            text = text.lstrip("\x1e")
        self.events.append(EventRecord(t, "message", "", text, self._content(text), chunk, read))

    def _content(self, text: str) -> str | None:
        if text == DONE:
            return None
        value = parse_json(text)
        if value is _NOT_JSON:
            return None
        return _follow(value, self.path) if self.path is not None else _known_content("message", value)

    def _seq_line(self, line: bytes, t: float, chunk: int, read: int) -> None:
        if line.startswith(RS):
            if self._record:  # the last record never became complete JSON: it ends here
                self._add(b"\n".join(self._record), t, chunk, read)
            self._record = [line]
        elif self._record:
            self._record.append(line)
        elif not line.strip():
            return
        else:
            self._record = [line]  # text before any RS: taken as a record of its own
        text = b"\n".join(self._record).lstrip(RS)
        if parse_json(text.decode("utf-8", "replace")) is _NOT_JSON:
            return
        self._record = []
        self._add(text, t, chunk, read)

    def eof(self) -> None:
        """The body ended: a last line without its LF still counts (JSON Lines allows it); an
        incomplete json-seq record becomes ``unterminated``."""
        t, chunk, read = self._last
        rest, self._rest = self._rest, b""
        if self.framing == "jsonl":
            if rest.strip():
                self._add(rest, t, chunk, read)
            return
        if rest:
            self._seq_line(rest, t, chunk, read)
        if self._record:
            text = b"\n".join(self._record).lstrip(RS).decode("utf-8", "replace")
            self._record = []
            if text.strip():
                self.unterminated = EventRecord(t, "message", "", text, None, chunk, read)


EventParser = SSEParser | JsonLinesParser


def parser_for(framing: str, content: Sequence[str | int] | None = None) -> EventParser:
    """A fresh parser for ``framing`` (one of :data:`FRAMINGS`)."""
    if framing == "sse":
        return SSEParser(content)
    return JsonLinesParser(framing, content)


# -- figures -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventFigures:
    """The timing of an event stream, in seconds since the request started.

    ``headers_at``, ``first_byte``, ``first_event``, ``first_content``: when the headers, the
    first body byte, the first event and the first event with content arrived (None: never).
    ``events``, ``content_events``, ``comments``: counts. ``gap_median``, ``gap_p95``,
    ``gap_max``: the gaps between one content event and the next (None with fewer than two).
    ``per_chunk_max``, ``per_chunk_mean``: events completed by one chunk, over the chunks that
    completed any (``per_read_max`` the same per socket read). ``longest_silence``: the longest
    time without an event or a comment, from the headers to the end of reading, starting at
    ``silence_from``.
    """

    headers_at: float | None
    first_byte: float | None
    first_event: float | None
    first_content: float | None
    events: int
    content_events: int
    comments: int
    gap_median: float | None
    gap_p95: float | None
    gap_max: float | None
    per_chunk_max: int
    per_chunk_mean: float
    per_read_max: int
    longest_silence: float | None
    silence_from: float | None


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of values sorted in increasing order (``share`` in 0..1)."""
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def event_figures(
    events: Sequence[EventRecord],
    comments: Sequence[CommentRecord],
    *,
    headers_at: float | None,
    first_byte: float | None,
    end: float,
) -> EventFigures:
    """The figures of :class:`EventFigures` from the records; ``end`` is when reading ended."""
    content = [event.t for event in events if event.content]
    gaps = sorted(later - earlier for earlier, later in zip(content, content[1:]))
    per_chunk: dict[int, int] = {}
    per_read: dict[int, int] = {}
    for event in events:
        per_chunk[event.chunk] = per_chunk.get(event.chunk, 0) + 1
        per_read[event.read] = per_read.get(event.read, 0) + 1
    moments = sorted([event.t for event in events] + [comment.t for comment in comments])
    silence: float | None = None
    silence_from: float | None = None
    if headers_at is not None:
        edges = [headers_at, *moments, max(end, moments[-1] if moments else headers_at)]
        for before, after in zip(edges, edges[1:]):
            if silence is None or after - before > silence:
                silence, silence_from = after - before, before
    return EventFigures(
        headers_at=headers_at,
        first_byte=first_byte,
        first_event=events[0].t if events else None,
        first_content=content[0] if content else None,
        events=len(events),
        content_events=len(content),
        comments=len(comments),
        gap_median=statistics.median(gaps) if gaps else None,
        gap_p95=percentile(gaps, 0.95) if gaps else None,
        gap_max=gaps[-1] if gaps else None,
        per_chunk_max=max(per_chunk.values(), default=0),
        per_chunk_mean=len(events) / len(per_chunk) if per_chunk else 0.0,
        per_read_max=max(per_read.values(), default=0),
        longest_silence=silence,
        silence_from=silence_from,
    )
