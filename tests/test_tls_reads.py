"""Large reads of a body over TLS take every record that has arrived (design notes, "Filling a large read over TLS").

One ``recv_into`` on a TLS socket returns at most one TLS record (16 KiB);
``readinto`` keeps receiving until the buffer is full, the body (or the
chunk) ends, or nothing more has arrived.  Each test runs over TLS and over
plain TCP, where the same must hold with one receive per read.  The servers
are scripted: they send everything before the client reads, so the data is
there when ``readinto`` runs.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import pytest
import trustme

from dugong import HTTPConnection
from tests.servers.raw import RawServerFactory, make_response, read_request, send_all
from tests.servers.tls import ScriptedPeer

#: The most one receive on a TLS socket returns: one record's plaintext.
RECORD: int = 16384
#: The reused buffer of the reads under test, as in the benchmark's c-tls.
BUFFER: int = 1 << 20


def _pattern(size: int, seed: int = 0) -> bytes:
    """*size* bytes that show any misplaced byte."""
    return bytes((i * 7 + seed) % 251 for i in range(size))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(params=["tls", "plain"])
def setup(request: pytest.FixtureRequest, raw_server: RawServerFactory, ca: trustme.CA) -> ScriptedPeer:
    return ScriptedPeer(raw_server, ca if request.param == "tls" else None)


def _script(responses: bytes, requests: int, sent: threading.Event) -> Callable[[socket.socket], None]:
    """Read *requests* requests, send *responses* at once, tell *sent*, wait for the client to close."""

    def script(conn: socket.socket) -> None:
        for _ in range(requests):
            read_request(conn)
        send_all(conn, responses)
        sent.set()
        conn.recv(1)  # (until the client closes)

    return script


def _read_body(conn: HTTPConnection) -> tuple[list[int], bytes]:
    """Read the current body with readinto into a reused 1 MiB buffer: (size of each read, the body)."""
    buf = memoryview(bytearray(BUFFER))
    sizes: list[int] = []
    body = bytearray()
    while size := conn.readinto(buf):
        sizes.append(size)
        body += buf[:size]
    return sizes, bytes(body)


@pytest.fixture
def sent() -> threading.Event:
    """Set by the server once it has sent everything."""
    return threading.Event()


def test_a_large_read_takes_every_record_there_and_stops_at_the_content_length(
    setup: ScriptedPeer, sent: threading.Event
) -> None:
    first, second = _pattern(100_000), _pattern(3_000, seed=1)
    # Both responses in one send: the records carry the end of one body and the next head.
    responses = make_response(200, first) + make_response(200, second, [("X-Second", "yes")])
    with setup.connect(setup.serve(_script(responses, 2, sent)), timeout=10) as conn:
        conn.send_request("GET", "/first")
        conn.send_request("GET", "/second")
        assert sent.wait(10)
        assert conn.read_response().length == len(first)
        sizes, body = _read_body(conn)
        assert body == first
        if setup.tls:
            assert sizes[0] > RECORD  # more than one record in one read
        response = conn.read_response()
        assert response.headers["X-Second"] == "yes"
        assert _read_body(conn)[1] == second
        assert not conn.response_pending()


def test_a_large_read_stops_at_the_end_of_each_chunk(setup: ScriptedPeer, sent: threading.Event) -> None:
    chunks = [_pattern(40_000, seed=n) for n in range(3)]
    framed = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    after = make_response(200, b"after the chunked body")
    responses = head + framed + b"0\r\nX-Trailer: t\r\n\r\n" + after
    with setup.connect(setup.serve(_script(responses, 2, sent)), timeout=10) as conn:
        conn.send_request("GET", "/chunked")
        conn.send_request("GET", "/after")
        assert sent.wait(10)
        conn.read_response()
        sizes, body = _read_body(conn)
        assert body == b"".join(chunks)
        if setup.tls:
            assert max(sizes) > RECORD
        # No read crosses the end of a chunk (the framing between chunks is not body).
        ends = {sum(sizes[: i + 1]) for i in range(len(sizes))}
        assert {40_000, 80_000, 120_000} <= ends
        response = conn.read_response()
        assert response.status == 200
        assert conn.readall() == b"after the chunked body"


def test_a_large_read_of_a_body_until_close_takes_all_then_the_end(setup: ScriptedPeer) -> None:
    body = _pattern(100_000)
    sent = threading.Event()

    def script(conn: socket.socket) -> None:
        read_request(conn)
        send_all(conn, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)
        conn.close()  # the end of input is there too before the client reads: a read ends with it
        sent.set()

    with setup.connect(setup.serve(script), timeout=10) as conn:
        conn.send_request("GET", "/until-close")
        assert sent.wait(10)
        assert conn.read_response().length is None
        sizes, got = _read_body(conn)
        assert got == body
        if setup.tls:
            assert sizes[0] > RECORD
        assert conn.readinto(bytearray(10)) == 0


def test_a_read_returns_what_has_arrived_without_waiting_for_more(setup: ScriptedPeer) -> None:
    """readinto returns at least one byte: once it has some, it never waits to fill the buffer."""
    body = _pattern(50_000)
    first_part = threading.Event()
    client_read = threading.Event()

    def script(conn: socket.socket) -> None:
        read_request(conn)
        send_all(conn, make_response(200, body)[:-30_000])
        first_part.set()
        assert client_read.wait(10)
        send_all(conn, body[-30_000:])
        conn.recv(1)

    with setup.connect(setup.serve(script), timeout=10) as conn:
        conn.send_request("GET", "/slow")
        assert first_part.wait(10)
        conn.read_response()
        buf = bytearray(BUFFER)
        size = conn.readinto(buf)  # (a wait for the rest would time out: the server waits for us)
        assert 0 < size <= 20_000
        client_read.set()
        rest = _read_body(conn)[1]
        assert buf[:size] + rest == body
