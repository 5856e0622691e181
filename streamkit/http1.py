"""Reading an HTTP/1.1 response body, sans I/O: bytes and times in, chunks and events out.

Measuring layer, below the probe and the reader worker, which both drive these readers: no
socket, no clock, no trace. The caller reads the socket, notes when each read returned, and
passes both in, in h11's shape:

* :class:`ChunkedReader` (``Transfer-Encoding: chunked``) and :class:`LengthReader`
  (``Content-Length``, or a body that ends when the server closes) take ``feed(data, now)``
  and ``eof()``. ``feed`` returns True once the body is complete (bytes past its end are kept
  in ``trailing``); ``eof`` says the connection closed, and raises :class:`BodyError` when
  that cut the body short.
* Every chunk completed by a read gets that read's time and index: chunks (and events) that
  came in one read are recorded as such, a measured fact rather than a guess from times.
* Each chunk becomes a :class:`~streamkit.trace.Chunk` appended to the reader's ``chunks``
  list, decoded on the way (gzip and deflate with ``zlib``; br and zstd with a library when one
  is installed, see :func:`decoder_for`), and its decoded bytes go to an event parser
  (:mod:`streamkit.events`) when there is one, whether or not the body is kept.
* Errors are :class:`BodyError` with a ``kind`` (:data:`ERROR_KINDS`) and the message the
  trace shows.

Why not h11, which reads chunked bodies well and marks chunk boundaries? Speed, the probe's
strength. Measured side by side in memory (``benchmarks/bench_events.py``, chunks of 55 bytes
fed in 256 KiB reads), h11 0.16's ``receive_data``/``next_event`` loop takes about 6 times as
long as :class:`ChunkedReader` (5.9x in one run on a 2-core Linux machine, 0.70 s against
0.12 s for 20,000 chunks under load): it builds an event object and makes several method
calls per chunk. The probe must keep up with streams a ``requests`` client reads, and it does
(``benchmarks/bench_server.py``: 1.36x ``requests``' chunks/s over a socket). So this module
takes h11's shape (small readers, bytes in, EOF as a call, tests that split input anywhere)
but not h11 itself. Its fast path handles the usual ``"1f\r\n"`` size line without a regex and
appends a whole chunk, found with one ``find``, straight to the list; the regex, the state
machine and the decoder only run when a line is unusual, a chunk spans reads or the body is
encoded. Unlike http.client and urllib3, it checks the CRLF after every chunk, even when it
arrives a byte at a time: a diagnostic tool must report a malformed stream rather than read
something else.
"""

from __future__ import annotations

import re
import zlib
from typing import Any, Protocol

from .trace import Chunk

__all__ = [
    "ERROR_KINDS",
    "BodyError",
    "ChunkedReader",
    "Decoder",
    "EventSink",
    "LengthReader",
    "LibraryDecoder",
    "decoder_available",
    "decoder_for",
]

# What BodyError.kind can be (the trace's ``error_kind``).
ERROR_KINDS = (
    "incomplete",  # the connection closed before the body's end
    "malformed-chunk",  # a chunk not followed by CRLF, or too many trailer lines
    "bad-size-line",  # a chunk size line that is not one
    "decode",  # the Content-Encoding does not decode, or its stream was cut short
    "timeout",  # no data for the probe's timeout in the middle of the body (set by the caller)
    "reset",  # the connection broke mid-body (set by the caller)
)
SIZE_LINE_LIMIT = 1024  # bytes in a chunk size line, extensions included
TRAILER_LINE_LIMIT = 8192
TRAILER_LINES = 100
_HEX = b"0123456789abcdefABCDEF"
_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")
_SIZE, _DATA, _CRLF, _TRAILER, _DONE = range(5)


class BodyError(Exception):
    """The body broke: ``kind`` says how (one of :data:`ERROR_KINDS`), the text says it in full
    (``"IncompleteRead: the connection closed after 40 of 100 bytes (Content-Length)"``)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class EventSink(Protocol):
    """What the readers feed decoded bytes to (:class:`streamkit.events.SSEParser` and kin)."""

    def feed(self, data: bytes, t: float, chunk: int, read: int) -> None: ...

    def feed_chunks(self, pieces: list[bytes], t: float, first: int, read: int) -> None: ...


# -- decoding -------------------------------------------------------------------------------------


class Decoder:
    """Decode a gzip or deflate body piece by piece."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._gzip = encoding in ("gzip", "x-gzip")
        self._first = True
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    def decode(self, data: bytes) -> bytes:
        try:
            return self._decode(data)
        except zlib.error as exc:
            raise BodyError(
                "decode", f"DecodeError: the {self.encoding} body does not decode ({exc})"
            ) from None

    def _decode(self, data: bytes) -> bytes:
        if self._first and data:
            self._first = False
            if not self._gzip:
                try:
                    return self._z.decompress(data)
                except zlib.error:  # some servers send raw deflate, without the zlib header
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        out = self._z.decompress(data)
        while self._gzip and self._z.eof and self._z.unused_data:  # a second gzip member
            rest = self._z.unused_data
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self._z.decompress(rest)
        return out

    def finish(self) -> bytes:
        """What is left; BodyError if the compressed stream was cut short."""
        out = self._z.flush()
        if not self._first and not self._z.eof:
            raise BodyError("decode", f"the {self.encoding} stream ended early (truncated compressed body)")
        return out


class LibraryDecoder:
    """Decode a br or zstd body piece by piece, with a library's decompressor."""

    def __init__(self, encoding: str, decompressor: Any, method: str, error: type[Exception]) -> None:
        self.encoding = encoding
        self._error = error
        self._decompressor = decompressor
        self._decode = getattr(decompressor, method)
        self._any = False

    def decode(self, data: bytes) -> bytes:
        if not data:
            return b""
        self._any = True
        try:
            return bytes(self._decode(data))
        except self._error as exc:
            raise BodyError(
                "decode", f"DecodeError: the {self.encoding} body does not decode ({exc})"
            ) from None

    def finish(self) -> bytes:
        is_finished = getattr(self._decompressor, "is_finished", None)  # brotli
        done = is_finished() if is_finished is not None else getattr(self._decompressor, "eof", True)  # zstd
        if self._any and not done:
            raise BodyError("decode", f"the {self.encoding} stream ended early (truncated compressed body)")
        return b""


def _library_decoder(encoding: str) -> LibraryDecoder | None:
    """A br/zstd decoder from whichever well-known library is importable, else None."""
    try:
        if encoding == "br":
            import brotli  # type: ignore[import-not-found, import-untyped, unused-ignore]

            return LibraryDecoder(encoding, brotli.Decompressor(), "process", brotli.error)
        if encoding == "zstd":
            try:
                from compression import zstd  # type: ignore[import-not-found, unused-ignore]  # Python 3.14
            except ImportError:
                from backports import zstd  # type: ignore[import-not-found, no-redef, unused-ignore]
            return LibraryDecoder(encoding, zstd.ZstdDecompressor(), "decompress", zstd.ZstdError)
    except ImportError:
        return None
    return None


def decoder_available(encoding: str) -> bool:
    """True when the probe decodes this Content-Encoding: gzip and deflate always (zlib), br
    with the ``brotli`` package, zstd with ``compression.zstd`` or ``backports.zstd``."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity", "gzip", "x-gzip", "deflate"):
        return True
    return _library_decoder(encoding) is not None


def decoder_for(content_encoding: str | None) -> tuple[Decoder | LibraryDecoder | None, str | None]:
    """A decoder for a Content-Encoding (None for none or identity), and a note when the
    encoding is one the probe cannot decode (then sizes are wire sizes)."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        return Decoder(encoding), None
    if encoding in ("", "identity"):
        return None, None
    decoder = _library_decoder(encoding)
    if decoder is not None:
        return decoder, None
    return None, f"Content-Encoding {encoding!r} is not decoded: sizes are wire sizes"


# -- the readers ----------------------------------------------------------------------------------


class _Body:
    """What both readers share: the chunk list, decoding, events, and the read count."""

    def __init__(
        self,
        chunks: list[Chunk] | None = None,
        *,
        started: float = 0.0,
        keep: bool = True,
        decoder: Decoder | LibraryDecoder | None = None,
        events: EventSink | None = None,
    ) -> None:
        self.chunks: list[Chunk] = [] if chunks is None else chunks
        self.started = started  # times are recorded as now - started
        self.keep = keep
        self.decoder = decoder
        self.events = events
        self.done = False
        self.trailing = b""  # bytes that came after the end of the body
        self.reads = 0  # reads fed so far (a read's index is the count before it)
        # Whether a chunk's bytes are needed at all: to keep, decode or split into events.
        self.wants_data = keep or decoder is not None or events is not None

    def record(self, wire: bytes, size: int, t: float, read: int) -> None:
        """One chunk, from its bytes on the wire (``size`` of them; ``wire`` is empty when the
        bytes are not needed): decode, append, and feed the decoded bytes to the events."""
        data = wire
        if self.decoder is not None:
            data = self.decoder.decode(wire)
            size = len(data)
        index = len(self.chunks)
        self.chunks.append(
            Chunk(t, size, data if self.keep else None, len(wire) if self.wants_data else size, read)
        )
        if self.events is not None and data:
            self.events.feed(data, t, index, read)

    def finish(self) -> None:
        """The body is complete: what the decoder still held goes to the last chunk."""
        self.done = True
        if self.decoder is None:
            return
        rest = self.decoder.finish()
        if rest and self.chunks:
            last = self.chunks[-1]
            last.size += len(rest)
            if last.data is not None:
                last.data += rest
            if self.events is not None:
                self.events.feed(rest, last.t, len(self.chunks) - 1, last.read)


class LengthReader(_Body):
    """A body of ``length`` bytes (Content-Length), or one that ends when the connection
    closes (``length=None``): one chunk per read, as soon as its bytes are there."""

    def __init__(self, length: int | None, chunks: list[Chunk] | None = None, **options: Any) -> None:
        super().__init__(chunks, **options)
        self.length = length
        self.received = 0
        if length == 0:
            self.finish()

    def feed(self, data: bytes, now: float) -> bool:
        """Take the bytes of one read that returned at ``now``; True once the body is complete."""
        if self.done:
            self.trailing += data
            return True
        read = self.reads
        self.reads += 1
        if not data:
            return False
        if self.length is not None:
            left = self.length - self.received
            if len(data) >= left:
                data, self.trailing = data[:left], data[left:]
        self.received += len(data)
        self.record(data if self.wants_data else b"", len(data), now - self.started, read)
        if self.length is not None and self.received >= self.length:
            self.finish()
        return self.done

    def eof(self) -> None:
        """The connection closed: the end of a close-delimited body, or a Content-Length
        body cut short (:class:`BodyError`)."""
        if self.done:
            return
        if self.length is not None:
            raise BodyError(
                "incomplete",
                f"IncompleteRead: the connection closed after {self.received:,} of {self.length:,} "
                "bytes (Content-Length)",
            )
        self.finish()


class ChunkedReader(_Body):
    """A ``Transfer-Encoding: chunked`` body: one :class:`~streamkit.trace.Chunk` per HTTP
    chunk, with every size line and the CRLF after every chunk checked.

    A chunk is recorded when its last byte has arrived, with that read's time; a chunk that
    spans reads is collected meanwhile (only when its bytes are needed: kept, decoded or split
    into events; otherwise only counted).
    """

    def __init__(self, chunks: list[Chunk] | None = None, **options: Any) -> None:
        super().__init__(chunks, **options)
        self.count = 0  # complete chunks
        self._state = _SIZE
        self._rest = b""  # bytes of a line (or a CRLF) not complete yet
        self._size = 0  # size of the chunk being read
        self._need = 0  # its bytes still to come
        self._parts: list[bytes] = []  # its bytes so far, when they are needed
        self._t = 0.0
        self._read = 0
        self._trailers = 0

    def feed(self, data: bytes, now: float) -> bool:
        """Take the bytes of one read that returned at ``now``; True once the body is complete
        (bytes past its end go to ``trailing``). Raises :class:`BodyError` for a malformed body."""
        if self.done:
            self.trailing += data
            return True
        read = self.reads
        self.reads += 1
        if not data:
            return False
        t = now - self.started
        self._t, self._read = t, read
        buf = self._rest + data if self._rest else data
        self._rest = b""
        # Events without decoding: the bytes of the whole chunks of this read go to the parser
        # in one call (``pending``), made before anything else is fed and before this returns
        # or raises.
        pending: list[bytes] = []
        try:
            return self._parse(buf, t, read, pending)
        finally:
            if pending:
                self._feed_pending(pending, t, read)

    def _feed_pending(self, pending: list[bytes], t: float, read: int) -> None:
        assert self.events is not None
        self.events.feed_chunks(pending.copy(), t, len(self.chunks) - len(pending), read)
        pending.clear()

    def _parse(self, buf: bytes, t: float, read: int, pending: list[bytes]) -> bool:
        """The loop of :meth:`feed`, over ``buf``: the read's bytes after any kept from before."""
        end = len(buf)
        pos = 0
        state = self._state
        # With nothing to decode or parse, a chunk is recorded right here: this loop runs once
        # per chunk, and a method call per chunk is a measurable share of it.
        plain = self.decoder is None and self.events is None
        sink = self.decoder is None and self.events is not None
        keep = self.keep
        chunks = self.chunks
        append = chunks.append
        collect = pending.append
        find = buf.find
        while True:
            if state == _SIZE:
                at = find(b"\n", pos)
                if pos + 1 < at <= pos + 17 and buf[at - 1] == 13 and not buf[pos : at - 1].strip(_HEX):
                    size = int(buf[pos : at - 1], 16)  # the usual "1f\r\n", without the regex
                elif at < 0:
                    if end - pos >= SIZE_LINE_LIMIT:
                        raise BodyError(
                            "bad-size-line", self._bad_size_line(buf[pos : pos + SIZE_LINE_LIMIT])
                        )
                    self._rest = buf[pos:]
                    break
                else:
                    size = self._size_line(buf[pos : at + 1])
                pos = at + 1
                if size == 0:
                    state = _TRAILER
                    continue
                stop = pos + size
                if stop + 2 <= end and buf[stop] == 13 and buf[stop + 1] == 10:
                    # The whole chunk and its CRLF are here.
                    if plain:
                        append(Chunk(t, size, buf[pos:stop] if keep else None, size, read))
                    elif sink:
                        piece = buf[pos:stop]
                        append(Chunk(t, size, piece if keep else None, size, read))
                        collect(piece)
                    else:
                        self.record(buf[pos:stop], size, t, read)
                    self.count += 1
                    pos = stop + 2
                    continue
                self._size = self._need = size
                state = _DATA
            if state == _DATA:
                take = min(self._need, end - pos)
                if take and self.wants_data:
                    self._parts.append(buf[pos : pos + take])
                pos += take
                self._need -= take
                if self._need:
                    break
                if pending:
                    self._feed_pending(pending, t, read)
                self._chunk_done(t, read)
                state = _CRLF
            if state == _CRLF:
                crlf = buf[pos : pos + 2]
                if crlf == b"\r\n":
                    pos += 2
                    state = _SIZE
                    continue
                if len(crlf) == 2:
                    raise BodyError("malformed-chunk", self._no_crlf(crlf))
                self._rest = crlf  # wait for both bytes: the message is the same however split
                break
            if state == _TRAILER:
                at = find(b"\n", pos, pos + TRAILER_LINE_LIMIT)
                if at < 0:
                    if end - pos >= TRAILER_LINE_LIMIT:
                        raise BodyError(
                            "malformed-chunk",
                            "MalformedChunk: a trailer line after the last chunk is too long",
                        )
                    self._rest = buf[pos:]
                    break
                line = buf[pos : at + 1]
                pos = at + 1
                if line in (b"\r\n", b"\n"):
                    if pending:
                        self._feed_pending(pending, t, read)
                    self._state = _DONE
                    self.trailing = buf[pos:]
                    self.finish()
                    return True
                self._trailers += 1
                if self._trailers >= TRAILER_LINES:
                    raise BodyError(
                        "malformed-chunk", "MalformedChunk: more than 100 trailer lines after the last chunk"
                    )
                continue
        self._state = state
        return False

    def eof(self) -> None:
        """The connection closed before the body's end (else nothing happens): BodyError,
        after recording the part of a chunk that did arrive."""
        if self.done:
            return
        state = self._state
        if state == _SIZE:
            if not self._rest:
                where = f"after {self.count} chunk{'' if self.count == 1 else 's'}"
                raise BodyError(
                    "incomplete",
                    f"IncompleteRead: the connection closed {where}, before the last (zero-size) chunk",
                )
            raise BodyError("bad-size-line", self._bad_size_line(self._rest))
        if state == _DATA:
            got = self._size - self._need
            if got:
                wire = b"".join(self._parts)
                self._parts = []
                self.record(wire, got, self._t, self._read)
            raise BodyError(
                "incomplete",
                f"IncompleteRead: the connection closed inside chunk {self.count + 1}, after "
                f"{got:,} of its {self._size:,} bytes",
            )
        if state == _CRLF:
            raise BodyError("malformed-chunk", self._no_crlf(self._rest))
        raise BodyError(
            "incomplete", "IncompleteRead: the chunked body ended without the empty line after its last chunk"
        )

    def _chunk_done(self, t: float, read: int) -> None:
        wire = b"".join(self._parts) if len(self._parts) != 1 else self._parts[0]
        self._parts = []
        self.record(wire, self._size, t, read)
        self.count += 1

    def _size_line(self, line: bytes) -> int:
        """A size line the slow way: extensions, spaces, a bare LF ... or garbage (BodyError)."""
        if len(line) > SIZE_LINE_LIMIT:
            raise BodyError("bad-size-line", self._bad_size_line(line[:SIZE_LINE_LIMIT]))
        found = _SIZE_LINE.fullmatch(line)
        if found is None:
            where = f"after {self.count} chunk{'' if self.count == 1 else 's'}"
            raise BodyError(
                "bad-size-line", f"MalformedChunk: invalid chunk size line {where}: {line[:40]!r}"
            )
        return int(found.group(1), 16)

    def _bad_size_line(self, line: bytes) -> str:
        where = f"after {self.count} chunk{'' if self.count == 1 else 's'}"
        return f"MalformedChunk: the chunk size line {where} is cut short or too long: {line[:40]!r}"

    def _no_crlf(self, got: bytes) -> str:
        return (
            f"MalformedChunk: chunk {self.count} ({self._size:,} bytes) is not followed by CRLF "
            f"(got {got[:10]!r})"
        )
