"""Property tests over a real socket: splits never matter, garbage never does harm.

The test holds the server end of a loopback connection and steps the client's
coroutines by hand: whenever a coroutine yields :class:`PollNeeded` (it has
consumed everything that arrived), the next piece is written and the
coroutine resumed once its socket is readable.  So each piece is one read of
the client, and hypothesis chooses where the reads split the stream.

* Any valid sequence of pipelined responses, split into any sequence of
  reads, parses to the same responses and bodies.
* Arbitrary bytes (random, or valid responses with random edits), split
  anyhow and followed by the server closing, only ever raise
  :exc:`InvalidResponse`, :exc:`UnsupportedResponse` or
  :exc:`ConnectionClosed`, within a bounded number of steps and time.
"""

from __future__ import annotations

import dataclasses
import itertools
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dugong import (
    ConnectionClosed,
    HTTPConnection,
    InvalidResponse,
    PollCoroutine,
    UnsupportedResponse,
)
from tests.hostile._support import Record, add_record, linked_pair

_T = TypeVar("_T")
_SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_MAX_STEPS = 10_000
_TIME_BOUND = 2.0
_TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class Link:
    """A connected HTTPConnection and the server end of its socket, in the test's thread."""

    def __init__(self, conn: HTTPConnection, peer: socket.socket) -> None:
        self.conn = conn
        self.peer = peer
        self.pieces: deque[bytes] = deque()
        self.eof = False
        self.steps = 0

    def drive(self, crt: PollCoroutine[_T]) -> _T:
        """Run *crt*, feeding it the next piece each time it waits for data.

        When no piece is left, the server shuts its write side down (end of
        input).  A coroutine still waiting after that has hung.
        """
        while True:
            try:
                request = next(crt)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            self.steps += 1
            assert self.steps < _MAX_STEPS, "the coroutine does not make progress"
            if self.pieces:
                self.peer.sendall(self.pieces.popleft())
            elif not self.eof:
                self.peer.shutdown(socket.SHUT_WR)
                self.eof = True
            else:
                raise AssertionError(f"waiting for {request} after the end of input: a hang")
            assert request.poll(5), "the data sent did not arrive"


@pytest.fixture
def connect() -> Iterator[Callable[[], Link]]:
    """Make a fresh linked connection (closed at teardown)."""
    opened: list[tuple[HTTPConnection, socket.socket]] = []
    with linked_pair() as (listener, accept):

        def make() -> Link:
            conn = HTTPConnection("127.0.0.1", listener.getsockname()[1])
            conn.connect()
            peer = accept()
            opened.append((conn, peer))
            return Link(conn, peer)

        try:
            yield make
        finally:
            for conn, peer in opened:
                conn.close()
                peer.close()


def _close(link: Link) -> None:
    link.conn.close()
    link.peer.close()


# ---------------------------------------------------------- valid responses


@dataclasses.dataclass
class Response:
    method: str
    status: int
    reason: str
    fields: list[tuple[str, str]]
    body: bytes
    wire: bytes
    reader: str


_reasons = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=20
).map(lambda s: s.strip(" \t"))
_names = st.text(alphabet=_TCHAR, min_size=1, max_size=15).filter(
    lambda n: n.lower() not in ("content-length", "transfer-encoding", "connection")
)
_values = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30
)
_readers = st.sampled_from(["readall", "read(1)", "read(7)", "readinto(5)", "readinto(4096)"])


@st.composite
def responses(draw: st.DrawFn, last: bool) -> Response:
    method = draw(st.sampled_from(["GET", "GET", "GET", "HEAD"]))
    status = draw(st.sampled_from([200, 201, 204, 206, 304, 404, 500, 599]))
    reason = draw(_reasons)
    fields = draw(st.lists(st.tuples(_names, _values), max_size=6))
    body = draw(st.binary(max_size=2000))
    framings = ["length", "chunked"] + (["close"] if last and method == "GET" else [])
    framing = draw(st.sampled_from(framings))
    wire = b""
    for _ in range(draw(st.integers(0, 2))):
        wire += b"HTTP/1.1 %d Info\r\nX-Hint: %d\r\n\r\n" % (draw(st.sampled_from([102, 103])), len(wire))
    head = f"HTTP/1.1 {status} {reason}".rstrip(" ").encode("latin-1")
    head += b"".join(f"\r\n{name}: {value}".encode("latin-1") for name, value in fields)
    no_body = method == "HEAD" or status in (204, 304)
    if status == 204:
        framing = "none"  # RFC 9110 section 8.6: no Content-Length in a 204
    if framing == "none":
        payload = b""
    elif framing == "length":
        head += b"\r\nContent-Length: %d" % len(body)
        payload = body
    elif framing == "chunked":
        head += b"\r\nTransfer-Encoding: chunked"
        payload = b""
        rest = body
        while rest:
            size = draw(st.integers(1, max(1, len(rest))))
            extension = draw(st.sampled_from([b"", b";x=y", b" ;name", b';q="a b"']))
            payload += b"%x%s\r\n%s\r\n" % (size, extension, rest[:size])
            rest = rest[size:]
        trailers = draw(st.lists(st.tuples(_names, _values), max_size=3))
        payload += b"0\r\n" + b"".join(f"{n}: {v}\r\n".encode("latin-1") for n, v in trailers) + b"\r\n"
    else:
        head += b"\r\nConnection: close"
        payload = body
    if no_body:
        payload = b""
        body = b""
    wire += head + b"\r\n\r\n" + payload
    expected_fields = [(name, value.strip(" \t")) for name, value in fields]
    return Response(method, status, reason, expected_fields, body, wire, draw(_readers))


def _read_body(link: Link, how: str) -> bytes:
    conn = link.conn
    if how == "readall":
        return link.drive(conn.co_readall())
    data = b""
    if how.startswith("read("):
        size = int(how[5:-1])
        while piece := link.drive(conn.co_read(size)):
            data += piece
        return data
    buf = bytearray(int(how[9:-1]))
    while count := link.drive(conn.co_readinto(buf)):
        data += buf[:count]
    return data


def _splits(data_size: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(1, max(1, data_size - 1)), max_size=30).map(lambda cuts: sorted(set(cuts)))


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *[c for c in cuts if 0 < c < len(data)], len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


_counts = {"split": 0, "garbage": 0, "garbage-accepted": 0}


def test_any_split_parses_the_same(connect: Callable[[], Link]) -> None:
    @_SETTINGS
    @given(st.data())
    def example(data: st.DataObject) -> None:
        _counts["split"] += 1
        count = data.draw(st.integers(1, 3))
        batch = [data.draw(responses(last=i == count - 1)) for i in range(count)]
        stream = b"".join(r.wire for r in batch)
        cuts = data.draw(_splits(len(stream)))
        link = connect()
        try:
            for response in batch:
                link.conn.send_request(response.method, "/")
            link.pieces.extend(_cut(stream, cuts))
            for response in batch:
                got = link.drive(link.conn.co_read_response())
                assert (got.status, got.reason) == (response.status, response.reason)
                assert [
                    (n, v)
                    for n, v in got.headers.items()
                    if n != "Content-Length" and n not in ("Transfer-Encoding", "Connection")
                ] == response.fields
                assert _read_body(link, response.reader) == response.body
            assert not link.conn.response_pending()
            assert not link.pieces
        finally:
            _close(link)

    example()
    add_record(
        Record(
            suite="property",
            name="any valid responses, split into any reads, parse the same",
            sent="1-3 pipelined responses (Content-Length, chunked with extensions and trailers,"
            " until close, 1xx before, HEAD/204/304), cut at random points",
            expected="the same status, reason, fields and body whatever the cuts",
            observed=f"as expected in all {_counts['split']} examples",
            examples=_counts["split"],
        )
    )


# ------------------------------------------------------------ garbage in


@st.composite
def garbage(draw: st.DrawFn) -> bytes:
    """Random bytes, or a valid response with a few random edits."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=400))
    wire = bytearray(draw(responses(last=True)).wire)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(wire)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(st.sampled_from([0, 9, 10, 13, 32, 48, 58, 59, 0x7F, 0xFF]) | st.integers(0, 255))
        if edit == "insert":
            wire[pos:pos] = bytes([byte])
        elif pos < len(wire):
            wire[pos : pos + 1] = b"" if edit == "delete" else bytes([byte])
    return bytes(wire)


def test_arbitrary_bytes_only_raise_documented_errors(connect: Callable[[], Link]) -> None:
    @_SETTINGS
    @given(data=garbage(), cuts=_splits(500), reader=_readers)
    def example(data: bytes, cuts: list[int], reader: str) -> None:
        _counts["garbage"] += 1
        link = connect()
        start = time.monotonic()
        try:
            link.conn.send_request("GET", "/")
            link.pieces.extend(_cut(data, cuts))
            try:
                link.drive(link.conn.co_read_response())
                _read_body(link, reader)
            except (InvalidResponse, UnsupportedResponse, ConnectionClosed):
                pass
            else:
                _counts["garbage-accepted"] += 1
        finally:
            _close(link)
        assert time.monotonic() - start < _TIME_BOUND

    example()
    add_record(
        Record(
            suite="property",
            name="arbitrary bytes only raise the documented errors",
            sent="random bytes, or a valid response with 1-4 random byte edits, cut at random points, then EOF",
            expected="InvalidResponse, UnsupportedResponse or ConnectionClosed (or a valid response); no hang",
            observed=f"as expected in all {_counts['garbage']} examples"
            f" ({_counts['garbage-accepted']} still parsed as a response)",
            examples=_counts["garbage"],
        )
    )
