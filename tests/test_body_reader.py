"""The sans-I/O body reader and head scanner, fed in memory: whole, byte by byte, with trailing junk."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dugong import InvalidResponse, UnsupportedResponse
from dugong._body import UNLIMITED, BodyReader, closed_message, take_delimited
from dugong._buffer import ReceiveBuffer
from dugong._http11 import (
    CHUNKED,
    LENGTH,
    MAX_HEADER_SIZE,
    MAX_LINE_SIZE,
    NO_BODY,
    UNTIL_CLOSE,
    Framing,
)


def feed(rbuf: ReceiveBuffer, data: bytes) -> None:
    """Put *data* into *rbuf* as if it had been received."""
    while data:
        tail = rbuf.free_tail()
        size = min(len(tail), len(data))
        tail[:size] = data[:size]
        rbuf.received(size)
        data = data[size:]


def read_body(framing: Framing, pieces: list[bytes]) -> tuple[bytes, BodyReader, ReceiveBuffer]:
    """Read one body, receiving *pieces* one at a time whenever the reader needs more.

    Returns the body, the reader and the buffer (with what follows the body,
    the pieces not needed included).
    Raises EOFError if the pieces end before the body does (the server closed).
    """
    body, rbuf = BodyReader(), ReceiveBuffer()
    body.start(framing)
    pending = list(pieces)
    out = bytearray()

    def receive() -> None:
        if not pending:
            raise EOFError(body.closed(rbuf))
        feed(rbuf, pending.pop(0))

    while True:
        limit = body.limit()
        if limit is None:
            limit = body.next_chunk(rbuf)
            if limit is None:
                receive()
                continue
        if not limit:
            break
        if not rbuf.available:
            if not pending and body.kind is UNTIL_CLOSE:
                assert body.closed(rbuf) is None
                break
            receive()
            continue
        data = rbuf.take(limit)
        out += data
        body.consumed(len(data))
    assert body.kind is NO_BODY
    for piece in pending:  # what arrived after the body
        feed(rbuf, piece)
    return bytes(out), body, rbuf


def splits(data: bytes) -> list[list[bytes]]:
    """*data* whole, byte by byte, and cut in two at every point."""
    return [[data], [data[i : i + 1] for i in range(len(data))]] + [
        [data[:i], data[i:]] for i in range(1, len(data))
    ]


CHUNKED_BODY = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Sum: 1\r\nX-Other:  two \r\n\r\n"


@pytest.mark.parametrize("pieces", splits(CHUNKED_BODY))
def test_chunked_body_at_every_split(pieces: list[bytes]) -> None:
    data, body, rbuf = read_body(Framing(CHUNKED, None, True), pieces)
    assert data == b"hello world"
    assert body.trailers is not None and body.trailers.items() == [("X-Sum", "1"), ("X-Other", "two")]
    assert not rbuf.available


@pytest.mark.parametrize("pieces", splits(b"0123456789"))
def test_length_body_at_every_split(pieces: list[bytes]) -> None:
    data, body, rbuf = read_body(Framing(LENGTH, 10, True), pieces)
    assert data == b"0123456789" and body.trailers is None and not rbuf.available


@pytest.mark.parametrize(
    ("framing", "body", "rest"),
    [
        (Framing(LENGTH, 3, True), b"abc", b"HTTP/1.1 200 OK\r\n"),
        (Framing(CHUNKED, None, True), b"3\r\nabc\r\n0\r\n\r\n", b"HTTP/1.1 200 OK\r\n"),
        (Framing(CHUNKED, None, True), b"3\r\nabc\r\n0\r\nT: v\r\n\r\n", b"junk\r\n\r\n"),
    ],
)
def test_trailing_bytes_are_left_in_the_buffer(framing: Framing, body: bytes, rest: bytes) -> None:
    for pieces in splits(body + rest):
        data, _, rbuf = read_body(framing, pieces)
        assert data == b"abc"
        assert rbuf.take(UNLIMITED) == rest


def test_body_until_close_and_empty_bodies() -> None:
    data, _body, _ = read_body(Framing(UNTIL_CLOSE, None, False), [b"all ", b"of it"])
    assert data == b"all of it"
    empty = BodyReader()
    empty.start(Framing(LENGTH, 0, True))
    assert empty.kind is NO_BODY and empty.limit() == 0
    empty.start(Framing(NO_BODY, 0, True))
    assert empty.limit() == 0 and not empty.consumed(0)


def test_an_empty_trailer_section_is_kept_as_no_fields() -> None:
    _, body, _ = read_body(Framing(CHUNKED, None, True), [b"0\r\n\r\n"])
    assert body.trailers is not None and len(body.trailers) == 0


@pytest.mark.parametrize(
    ("framing", "wire", "message"),
    [
        (Framing(LENGTH, 10, True), b"abc", "with 7 bytes of the body missing"),
        (Framing(CHUNKED, None, True), b"5\r\nab", "in the middle of a chunked body"),
        (Framing(CHUNKED, None, True), b"", "before a chunk-size line"),
        (Framing(CHUNKED, None, True), b"5", r"in the middle of a chunk-size line after b'5'"),
        (Framing(CHUNKED, None, True), b"1\r\na", "before the CRLF after a chunk"),
        (Framing(CHUNKED, None, True), b"0\r\n", "before the end of a chunked body"),
        (Framing(CHUNKED, None, True), b"0\r\nX-T", r"in the middle of the trailer section after b'X-T'"),
    ],
)
def test_a_close_in_the_middle_names_what_was_missing(framing: Framing, wire: bytes, message: str) -> None:
    for pieces in splits(wire) if wire else [[]]:
        with pytest.raises(EOFError, match=message):
            read_body(framing, pieces)


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"5\r\nhelloXX", r"expected CRLF after chunk data, got b'X"),
        (b"5\r\nhello\n", r"expected CRLF after chunk data, got b'\\n'"),
        (b"zz\r\n", r"expected a chunk size \(hex digits, at most 15 significant\), got b'zz'"),
        (b"5\nhello", r"a chunk-size line has a bare LF at byte 1"),
        (b"5;a\rb\r\n", "control character in a chunk extension"),
        (b"1" * MAX_LINE_SIZE, r"a chunk-size line longer than MAX_LINE_SIZE \(16384 bytes\) without an end"),
        (b"0\r\nT: a\x00b\r\n\r\n", r"invalid trailer section: NUL byte at 4"),
        (b"0\r\nT: a\rb\r\n\r\n", r"invalid trailer section: bare CR at byte 4"),
        (b"0\r\nT: a\nU: b", r"the trailer section has a bare LF at byte 4"),
        (b"0\r\nno colon\r\n\r\n", r"expected 'name: value' trailer line, got b'no colon'"),
        (
            b"0\r\n" + b"T: v\r\n" * (MAX_HEADER_SIZE // 6 + 1),
            "the trailer section larger than MAX_HEADER_SIZE",
        ),
    ],
)
def test_malformed_chunked_framing_is_refused_as_soon_as_seen(wire: bytes, message: str) -> None:
    """Whole or byte by byte, the error comes before the reader asks for a byte past the fault."""
    piecewise = [wire[i : i + 1] for i in range(len(wire))] if len(wire) < 100 else [wire]
    for pieces in ([wire], piecewise):
        with pytest.raises(InvalidResponse, match=message):
            read_body(Framing(CHUNKED, None, True), pieces)


def test_an_interrupted_step_resumes_where_it_stopped() -> None:
    """A step that needs more bytes has consumed exactly what it finished, and resumes there."""
    body, rbuf = BodyReader(), ReceiveBuffer()
    body.start(Framing(CHUNKED, None, True))
    feed(rbuf, b"3\r\nabc\r")
    assert body.next_chunk(rbuf) == 3 and rbuf.take(3) == b"abc"
    body.consumed(3)
    assert body.limit() is None and body.next_chunk(rbuf) is None
    assert rbuf.available == 1  # the lone CR waits for its LF
    feed(rbuf, b"\n0\r\nT: 1\r\n")
    assert body.next_chunk(rbuf) is None and rbuf.available == len(b"T: 1\r\n")
    feed(rbuf, b"\r\n")
    assert body.next_chunk(rbuf) == 0 and body.kind is NO_BODY and not rbuf.available


# -------------------------------------------------------------- take_delimited


def take_head(rbuf: ReceiveBuffer) -> bytes | None:
    return take_delimited(rbuf, b"\r\n\r\n", "the head", MAX_HEADER_SIZE, "too long", b"HTTP/")


@pytest.mark.parametrize("pieces", splits(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nHTTP/1.1"))
def test_a_head_is_taken_at_every_split(pieces: list[bytes]) -> None:
    rbuf = ReceiveBuffer()
    results = []
    for piece in pieces:
        feed(rbuf, piece)
        results.append(take_head(rbuf))
    assert [r for r in results if r is not None] == [b"HTTP/1.1 200 OK\r\nA: b"]
    assert rbuf.take(100) == b"HTTP/1.1"


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"SSH-2.0", r"expected a status line 'HTTP/1.x ...' in the head, got b'S'"),
        (b"HTTP/1.1 200 OK\nA", r"the head has a bare LF at byte 15"),
        (b"HTTP/1.1 200 OK\r\nA: b\r\n" + b"x" * MAX_HEADER_SIZE, "the head too long without an end"),
    ],
)
def test_a_bad_head_is_refused_before_it_ends(wire: bytes, message: str) -> None:
    rbuf = ReceiveBuffer()
    with pytest.raises(InvalidResponse, match=message):
        for i in range(0, len(wire), 1 if len(wire) < 100 else 4096):
            feed(rbuf, wire[i : i + (1 if len(wire) < 100 else 4096)])
            assert take_head(rbuf) is None


def test_closed_message() -> None:
    rbuf = ReceiveBuffer()
    assert closed_message(rbuf, "the head") == "server closed the connection before the head"
    feed(rbuf, b"HTT")
    assert (
        closed_message(rbuf, "the head")
        == "server closed the connection in the middle of the head after b'HTT'"
    )


# ----------------------------------------------------------------- properties


@st.composite
def chunked_bodies(draw: st.DrawFn) -> tuple[bytes, bytes, list[tuple[str, str]]]:
    chunks = draw(st.lists(st.binary(min_size=1, max_size=40), max_size=6))
    trailers = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["X-A", "Checksum", "t"]), st.text("abc 12", max_size=8).map(str.strip)
            ),
            max_size=3,
        )
    )
    wire = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n"
    wire += b"".join(f"{n}: {v}\r\n".encode() for n, v in trailers) + b"\r\n"
    return b"".join(chunks), wire, trailers


def _rechunk(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


@given(chunked_bodies(), st.lists(st.integers(min_value=0), max_size=20), st.binary(max_size=10))
def test_any_rechunking_parses_the_same(
    body_wire: tuple[bytes, bytes, list[tuple[str, str]]], cuts: list[int], junk: bytes
) -> None:
    expected, wire, trailers = body_wire
    data, body, rbuf = read_body(Framing(CHUNKED, None, True), _rechunk(wire + junk, cuts))
    assert data == expected
    assert body.trailers is not None and body.trailers.items() == trailers
    assert rbuf.take(UNLIMITED) == junk


@given(st.binary(max_size=200), st.lists(st.integers(min_value=0), max_size=10))
def test_random_bytes_only_raise_invalid_or_unsupported(wire: bytes, cuts: list[int]) -> None:
    for framing in (Framing(CHUNKED, None, True), Framing(LENGTH, 50, True)):
        try:
            read_body(framing, _rechunk(wire, cuts))
        except (InvalidResponse, UnsupportedResponse, EOFError):
            pass


@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=10))
def test_random_heads_only_raise_invalid_response(wire: bytes, cuts: list[int]) -> None:
    rbuf = ReceiveBuffer()
    try:
        for piece in _rechunk(wire, cuts):
            feed(rbuf, piece)
            if take_head(rbuf) is not None:
                break
    except InvalidResponse:
        pass
