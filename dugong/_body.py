"""Taking a response apart as it arrives, without I/O: delimited heads and lines, and bodies.

This is the receiving half of RFC 9112 that needs state between one receive
and the next, beside :mod:`dugong._http11`, which parses what is complete.

Rules this module keeps
-----------------------
* Nothing here touches a socket or yields.  Each step takes what it can from
  the :class:`~dugong._buffer.ReceiveBuffer` and returns a value, or None when
  it needs more bytes; the connection then receives more and calls the same
  step again.  So the connection's receive path stays one flat generator
  (see the comment above ``HTTPConnection._recv_into``).
* A step consumes bytes only when a whole element is there (a head, a line,
  the CRLF after a chunk, the trailer section), and updates its state before
  it returns None: a read interrupted while waiting resumes where it stopped.
* What is refused is refused as soon as it is seen, without waiting for more
  (a line that is already too long, a bare LF, data that cannot begin a
  status line, a wrong byte where a CRLF must be): a hostile server cannot
  make us wait or use unbounded memory.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

from ._buffer import ReceiveBuffer
from ._errors import InvalidResponse
from ._headers import ResponseHeaders
from ._http11 import (
    CHUNKED,
    LENGTH,
    MAX_HEADER_SIZE,
    MAX_LINE_SIZE,
    NO_BODY,
    UNTIL_CLOSE,
    BodyKind,
    Framing,
    bare_lf,
    excerpt,
    line_fault,
    parse_chunk_size,
    parse_fields,
)
from ._log import LazyLogger
from ._trailers import NO_FIELDS, without_forbidden_trailers

__all__ = ["BodyReader", "HEAD_TOO_LONG", "UNLIMITED", "closed_message", "take_delimited"]

log = LazyLogger("dugong")

_CRLF: Final = b"\r\n"
#: What :meth:`BodyReader.limit` returns for a body that lasts until the server closes.
UNLIMITED: Final = 1 << 62
#: How an error names a head or trailer section past ``MAX_HEADER_SIZE``.
HEAD_TOO_LONG: Final = f"larger than MAX_HEADER_SIZE ({MAX_HEADER_SIZE} bytes)"
_LINE_TOO_LONG: Final = f"longer than MAX_LINE_SIZE ({MAX_LINE_SIZE} bytes)"


def take_delimited(
    rbuf: ReceiveBuffer, terminator: bytes, what: str, limit: int, too_long: str, prefix: bytes = b""
) -> bytes | None:
    """Take the bytes before *terminator* (and the terminator) from *rbuf*, or None if it has not arrived.

    Used for heads and trailer sections (CRLF CRLF) and chunk-size lines
    (CRLF).  Refused as soon as seen: *limit* bytes or more without the
    terminator (the error says *what* is *too_long*), data that does not
    begin with *prefix*, and a bare LF: lines end with CRLF (RFC 9112
    section 2.2), and an LF-only message would never end for us.

    Raises:
        InvalidResponse: one of those.
    """
    begin = rbuf.start + rbuf.scanned  # the bytes not yet checked
    data = rbuf.take_until(terminator)
    if data is not None:
        return data
    start, end = rbuf.start, rbuf.end
    size = end - start
    if prefix and size and not rbuf.data.startswith(prefix[:size], start):
        raise InvalidResponse(
            f"expected a status line 'HTTP/1.x ...' in {what}, got {excerpt(rbuf.view[start:end])}"
        )
    if size >= limit:
        raise InvalidResponse(f"{what} {too_long} without an end: {excerpt(rbuf.view[start:end])}")
    if bare_lf(rbuf.data, start, begin, end):
        raise InvalidResponse(f"{what} has a {line_fault(rbuf.view[start:end].tobytes())}")
    return None


def closed_message(rbuf: ReceiveBuffer, what: str) -> str:
    """Why it is an error that the server closed the connection while we waited for *what*."""
    if rbuf.available:
        return (
            f"server closed the connection in the middle of {what}"
            f" after {excerpt(rbuf.view[rbuf.start : rbuf.end])}"
        )
    return f"server closed the connection before {what}"


class _Next(IntEnum):
    """What a chunked body expects at the end of a chunk's data."""

    SIZE = 0  # a chunk-size line
    CRLF = 1  # the CRLF ending the chunk just read, then a chunk-size line
    TRAILERS = 2  # the trailer section (the last chunk was read)


# How a step that needs more bytes names them in an error.
_EXPECTING: Final = {
    _Next.SIZE: "a chunk-size line",
    _Next.CRLF: "the CRLF after a chunk",
    _Next.TRAILERS: "the end of a chunked body",
}


class BodyReader:
    """Where the connection is in the body of the current response (RFC 9112 sections 6 and 7).

    One per connection, restarted by :meth:`start` for each response.  The
    connection takes body bytes from its buffer, at most :meth:`limit` at a
    time, and reports them with :meth:`consumed`; at the end of each chunk
    of a chunked body :meth:`next_chunk` reads the framing between chunks.
    """

    __slots__ = ("kind", "left", "_next", "trailers")

    def __init__(self) -> None:
        #: How the body is delimited; :data:`NO_BODY` once it is complete.
        self.kind: BodyKind = NO_BODY
        #: LENGTH: the bytes left of the body; CHUNKED: the bytes left of this chunk.
        self.left = 0
        self._next = _Next.SIZE
        #: The trailer fields of the last chunked body (RFC 9112 section 7.1.2),
        #: without those that must not be trailers; None until one ended.
        self.trailers: ResponseHeaders | None = None

    def start(self, framing: Framing) -> None:
        """Begin the body of a response framed as *framing* (:attr:`kind` is NO_BODY if it is empty)."""
        self.kind = NO_BODY if framing.length == 0 else framing.kind
        self.left = framing.length or 0
        self._next = _Next.SIZE
        self.trailers = None

    def reset(self) -> None:
        """Forget the current body (the connection was closed)."""
        self.kind = NO_BODY
        self.left = 0
        self._next = _Next.SIZE

    def limit(self) -> int | None:
        """How many body bytes may be taken next (0: the body is complete).

        None for a chunked body at the end of a chunk: call :meth:`next_chunk`.
        """
        kind = self.kind
        if kind is LENGTH:
            return self.left
        if kind is NO_BODY:
            return 0
        if kind is UNTIL_CLOSE:
            return UNLIMITED
        return self.left or None

    def consumed(self, size: int) -> bool:
        """Account for *size* body bytes taken; True if they completed the body."""
        kind = self.kind
        if kind is LENGTH:
            self.left -= size
            if not self.left:
                self.kind = NO_BODY
                return True
        elif kind is CHUNKED:
            self.left -= size
        return False

    def next_chunk(self, rbuf: ReceiveBuffer) -> int | None:
        """Read the framing after a chunk's data, as far as it arrived.

        That is the CRLF ending the previous chunk, the next chunk-size line
        and, after the last chunk, the trailer section (kept in
        :attr:`trailers`).

        Returns:
            The size of the next chunk; 0 when the body is complete (then
            :attr:`kind` is NO_BODY); None when more bytes are needed.

        Raises:
            InvalidResponse: the framing is malformed.
        """
        if self._next is _Next.CRLF:
            available = rbuf.available
            if available < 2 and (not available or rbuf.data[rbuf.start] == 0x0D):
                return None  # (a wrong first byte is refused at once, below)
            if rbuf.data[rbuf.start : rbuf.start + 2] != _CRLF:
                got = rbuf.view[rbuf.start : min(rbuf.end, rbuf.start + 20)]
                raise InvalidResponse(f"expected CRLF after chunk data, got {excerpt(got)}")
            rbuf.skip(2)
            self._next = _Next.SIZE
        if self._next is _Next.SIZE:
            line = take_delimited(rbuf, _CRLF, "a chunk-size line", MAX_LINE_SIZE, _LINE_TOO_LONG)
            if line is None:
                return None
            size = parse_chunk_size(line)
            if size:
                self.left = size
                self._next = _Next.CRLF
                return size
            self._next = _Next.TRAILERS
        if not self._take_trailers(rbuf):
            return None
        self.kind = NO_BODY
        self._next = _Next.SIZE
        return 0

    def _take_trailers(self, rbuf: ReceiveBuffer) -> bool:
        """Take the trailer section if it is all there (RFC 9112 section 7.1.2)."""
        available = rbuf.available
        if available < 2 and (not available or rbuf.data[rbuf.start] == 0x0D):
            return False
        if rbuf.data.startswith(_CRLF, rbuf.start, rbuf.end):
            rbuf.skip(2)
            self.trailers = NO_FIELDS
            return True
        raw = take_delimited(rbuf, b"\r\n\r\n", "the trailer section", MAX_HEADER_SIZE, HEAD_TOO_LONG)
        if raw is None:
            return False
        fault = line_fault(raw)
        if fault is not None:
            raise InvalidResponse(f"invalid trailer section: {fault}")
        fields, dropped = without_forbidden_trailers(
            parse_fields(raw.decode("latin-1").split("\r\n"), "trailer")
        )
        if dropped:
            log.debug(
                "dropped fields that must not be trailers (RFC 9110 section 6.5.1): %s", ", ".join(dropped)
            )
        self.trailers = fields
        return True

    def closed(self, rbuf: ReceiveBuffer) -> str | None:
        """The server closed the connection: None if that ends the body, else why it is an error."""
        kind = self.kind
        if kind is UNTIL_CLOSE:
            self.kind = NO_BODY
            return None
        if kind is LENGTH:
            return f"server closed the connection with {self.left} bytes of the body missing"
        if self.left:
            return "server closed the connection in the middle of a chunked body"
        if self._next is _Next.TRAILERS and rbuf.available:
            return closed_message(rbuf, "the trailer section")
        return closed_message(rbuf, _EXPECTING[self._next])
