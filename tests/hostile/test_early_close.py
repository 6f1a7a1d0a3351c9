"""Early close at every byte offset: always ConnectionClosed, never short data passed off as complete.

One scripted server sends the first *cut* bytes of a valid response and closes
the connection, for every *cut* from 0 to the length of the response.  The
client reads it with each of the read methods.  For every cut short of the
whole response it must raise :exc:`ConnectionClosed` (having delivered at most
a prefix of the body); for the whole response it must deliver the body.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from dugong import ConnectionClosed, HTTPConnection
from dugong.loop import Reactor
from tests.hostile._support import Record, add_record, short
from tests.servers.raw import RawServer, RawServerFactory, read_request, send_all

BODY = b"hello world"

RESPONSES: dict[str, bytes] = {
    "Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: b\r\n\r\n" + BODY,
    "chunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: v\r\n\r\n"
    ),
    "1xx, then Content-Length": (
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n" + BODY
    ),
    "Connection: close and Content-Length": (
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 11\r\n\r\n" + BODY
    ),
}

# A reader yields b"" once the response head is read, then pieces of the body.
Reader = Callable[[HTTPConnection, Reactor], Iterator[bytes]]


def _read_all(conn: HTTPConnection, reactor: Reactor) -> Iterator[bytes]:
    conn.read_response()
    yield b""  # the head was read
    yield conn.readall()


def _read_3(conn: HTTPConnection, reactor: Reactor) -> Iterator[bytes]:
    conn.read_response()
    yield b""
    while data := conn.read(3):
        yield data


def _readinto_4(conn: HTTPConnection, reactor: Reactor) -> Iterator[bytes]:
    conn.read_response()
    yield b""
    buf = bytearray(4)
    while size := conn.readinto(buf):
        yield bytes(buf[:size])


def _discard(conn: HTTPConnection, reactor: Reactor) -> Iterator[bytes]:
    conn.read_response()
    yield b""
    conn.discard()
    yield BODY  # discard() returned: the whole body went by


def _reactor(conn: HTTPConnection, reactor: Reactor) -> Iterator[bytes]:
    reactor.run_until_complete(reactor.spawn(conn.co_read_response(), deadline=reactor.time() + 5))
    yield b""
    while data := reactor.run_until_complete(reactor.spawn(conn.co_read(5), deadline=reactor.time() + 5)):
        yield data


READERS: dict[str, Reader] = {
    "readall()": _read_all,
    "read(3)": _read_3,
    "readinto(4-byte buffer)": _readinto_4,
    "discard()": _discard,
    "co_read(5) on a Reactor": _reactor,
}


@pytest.fixture
def cutting_server(raw_server: RawServerFactory) -> RawServer:
    """Answers ``GET /<k>/<cut>`` with the first *cut* bytes of the k-th response, then closes."""
    responses = list(RESPONSES.values())

    def handler(sock: socket.socket) -> None:
        _, index, cut = read_request(sock).target.split("/")
        send_all(sock, responses[int(index)][: int(cut)])

    return raw_server(handler)


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("kind", list(RESPONSES))
def test_early_close_at_every_offset(cutting_server: RawServer, kind: str, reader: str) -> None:
    response = RESPONSES[kind]
    read = READERS[reader]
    with Reactor() as reactor:
        for cut in range(len(response) + 1):
            data = b""
            pieces = 0
            with HTTPConnection(cutting_server.host, cutting_server.port) as conn:
                conn.timeout = 5
                conn.send_request("GET", f"/{list(RESPONSES).index(kind)}/{cut}")
                try:
                    for piece in read(conn, reactor):
                        data += piece
                except ConnectionClosed:
                    assert cut < len(response), f"the complete response raised at cut {cut}"
                    assert data == BODY[: len(data)], f"cut {cut}: {data!r} is not a prefix of the body"
                    assert not conn.connected
                    # Retrying never passes the cut body off as complete, and
                    # the connection is not reused.
                    if pieces:  # in the body: reading on does not end it
                        with pytest.raises(ConnectionClosed):
                            conn.read(10)
                    with pytest.raises(ConnectionClosed):
                        conn.read_response()
                    with pytest.raises(ConnectionClosed):
                        conn.send_request("GET", "/again")
                    continue
                assert cut == len(response), f"cut {cut}: {data!r} delivered as a complete body"
                assert data == BODY
    add_record(
        Record(
            suite="early-close",
            name=f"{kind}, read with {reader}",
            sent=f"{short(response, 40)} cut after 0 to {len(response) - 1} bytes, then closed",
            expected="ConnectionClosed, only a prefix of the body delivered",
            observed=f"ConnectionClosed at all {len(response)} cuts; the uncut response read completely",
            examples=len(response),
        )
    )
