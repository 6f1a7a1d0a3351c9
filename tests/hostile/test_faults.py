"""Faults: resets, half-closed connections, slow and silent servers.

Each test records one row for the reliability document.  What a caller can
rely on:

* A server that answers and then resets the connection during an upload:
  :meth:`~HTTPConnection.write` raises :exc:`ConnectionClosed`, and the answer
  the server sent first is still returned by :meth:`~HTTPConnection.read_response`.
* A pipelined batch cut short: every response that was read completely is
  good (each :class:`HTTPResponse` names the method and path of its request);
  the next read raises :exc:`ConnectionClosed`, whose message names the first
  request left without an answer, and :meth:`~HTTPConnection.response_pending`
  stays true until :meth:`~HTTPConnection.reset`.  The requests without a
  response are exactly those sent (or attempted) after the last response read
  completely, in order.
* A slow server: ``HTTPConnection.timeout`` bounds the time *without
  progress*; a reactor task's deadline bounds the total time.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from collections.abc import Callable

import pytest

from dugong import (
    BodyFollowing,
    ConnectionClosed,
    ConnectionTimedOut,
    HTTPConnection,
    HTTPResponse,
)
from dugong.loop import Reactor, Task
from tests.hostile._support import Record, add_record, describe_error
from tests.servers.raw import (
    RawServer,
    RawServerFactory,
    make_response,
    read_request,
    read_until_close,
    send_all,
)

# A timeout against a server that deliberately stalls, and the bound the
# operation must finish within: a wide margin.
_TIMEOUT = 0.3
_TIME_BOUND = 2.0


def _record(name: str, sent: str, expected: str, observed: str, seconds: float | None = None) -> None:
    add_record(
        Record(
            suite="fault",
            name=name,
            sent=sent,
            expected=expected,
            observed=observed,
            seconds=None if seconds is None else round(seconds, 3),
        )
    )


def _reset_on_close(sock: socket.socket) -> None:
    """Make closing *sock* send a TCP reset instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _expect(error: type[Exception], match: str, action: Callable[[], object]) -> tuple[Exception, float]:
    """Run *action*; it must raise *error* with a message matching *match*."""
    start = time.monotonic()
    with pytest.raises(error) as info:
        action()
    elapsed = time.monotonic() - start
    assert re.search(match, str(info.value)), describe_error(info.value)
    assert isinstance(info.value, Exception)
    return info.value, elapsed


# ------------------------------------------------------------------ uploads


@pytest.mark.parametrize("chunked", [False, True], ids=["Content-Length", "chunked"])
def test_reset_during_upload_answer_still_readable(raw_server: RawServerFactory, chunked: bool) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock, with_body=False)
        send_all(
            sock, make_response(413, b"too large", [("Connection", "close")], reason="Content Too Large")
        )
        time.sleep(0.1)  # the client keeps writing; we read none of it
        _reset_on_close(sock)

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 5
        conn.send_request("PUT", "/upload", body=BodyFollowing(None if chunked else 1 << 40))
        chunk = bytes(64 * 1024)

        def upload() -> None:
            for _ in range(100_000):
                conn.write(chunk)

        error, _ = _expect(ConnectionClosed, "lost while sending the body of PUT /upload", upload)
        response = conn.read_response()
        assert (response.status, response.path) == (413, "/upload")
        assert conn.readall() == b"too large"
        with pytest.raises(ConnectionClosed):
            conn.send_request("GET", "/")
    framing = "chunked" if chunked else "Content-Length"
    _record(
        f"reset during a {framing} upload, after an error response",
        "413 + Connection: close, then a reset while the client writes",
        "write() raises ConnectionClosed; the 413 is still readable",
        f"{describe_error(error, 90)}; then read_response() = 413, body b'too large'",
    )


def test_reset_during_upload_without_answer(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock, with_body=False)
        time.sleep(0.1)
        _reset_on_close(sock)

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 5
        conn.send_request("PUT", "/upload", body=BodyFollowing(1 << 40))
        chunk = bytes(64 * 1024)

        def upload() -> None:
            for _ in range(100_000):
                conn.write(chunk)

        _expect(ConnectionClosed, "lost while sending the body of PUT /upload", upload)
        error, _ = _expect(ConnectionClosed, "PUT /upload", conn.read_response)
    _record(
        "reset during an upload, no answer",
        "a reset while the client writes",
        "write() and read_response() raise ConnectionClosed",
        describe_error(error, 120),
    )


def test_server_stops_reading_during_upload(raw_server: RawServerFactory) -> None:
    stop = threading.Event()

    def handler(sock: socket.socket) -> None:
        read_request(sock, with_body=False)
        stop.wait(10)  # read nothing more

    server = raw_server(handler)
    try:
        with HTTPConnection(server.host, server.port) as conn:
            conn.timeout = _TIMEOUT
            conn.send_request("PUT", "/upload", body=BodyFollowing(1 << 40))
            error, elapsed = _expect(
                ConnectionTimedOut,
                f"no progress sending the body of PUT /upload to {server.host}:{server.port} for {_TIMEOUT:g} s",
                lambda: conn.write(bytes(64 * 1024 * 1024)),
            )
            assert elapsed < _TIME_BOUND
            # Half a body was sent: the connection cannot carry another request.
            _expect(ConnectionClosed, "interrupted after", lambda: conn.send_request("GET", "/"))
    finally:
        stop.set()
    _record(
        "server stops reading during an upload",
        "reads the request head, then nothing",
        f"write() raises ConnectionTimedOut after timeout={_TIMEOUT:g} s; the connection is closed",
        describe_error(error, 90),
        elapsed,
    )


# --------------------------------------------------------------- pipelining


def test_pipelined_batch_cut_short_by_a_reset(raw_server: RawServerFactory) -> None:
    paths = [f"/{i}" for i in range(6)]

    def handler(sock: socket.socket) -> None:
        for _ in paths:
            read_request(sock)
        send_all(sock, make_response(200, b"zero") + make_response(200, b"one"))
        send_all(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        time.sleep(0.1)
        _reset_on_close(sock)

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 5
        for path in paths:
            conn.send_request("GET", path)
        answered: list[HTTPResponse] = []
        with pytest.raises(ConnectionClosed) as info:
            while conn.response_pending():
                response = conn.read_response()
                conn.readall()
                answered.append(response)
        # How a caller tells which requests got no response:
        assert [r.path for r in answered] == ["/0", "/1"]
        unanswered = paths[len(answered) :]
        assert unanswered == ["/2", "/3", "/4", "/5"]
        assert re.search("95 bytes of the body missing|lost while reading a response body", str(info.value))
        assert conn.response_pending()
        with pytest.raises(ConnectionClosed):
            conn.read_response()
        assert conn.response_pending()  # until reset()
        conn.reset()
        assert not conn.response_pending()
    _record(
        "reset in the middle of a pipelined batch",
        "6 requests; answers 2, half of the 3rd, then a reset",
        "2 complete responses, then ConnectionClosed; response_pending() true until reset()",
        f"{describe_error(info.value, 90)}; answered {[r.path for r in answered]}, unanswered {unanswered}",
    )


def test_pipelined_batch_server_closes_between_responses(raw_server: RawServerFactory) -> None:
    paths = [f"/{i}" for i in range(5)]

    def handler(sock: socket.socket) -> None:
        for _ in paths:
            read_request(sock)
        send_all(sock, make_response(200, b"zero") + make_response(200, b"one"))

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 5
        for path in paths:
            conn.send_request("GET", path)
        answered = []
        for _ in range(2):
            answered.append(conn.read_response().path)
            conn.readall()
        error, _ = _expect(ConnectionClosed, "without answering GET /2", conn.read_response)
        assert conn.response_pending()
        # Every later read names the same first unanswered request.
        _expect(ConnectionClosed, "without answering GET /2", conn.read_response)
    assert answered == ["/0", "/1"]
    _record(
        "server closes in the middle of a pipelined batch",
        "5 requests; answers 2, then closes",
        "ConnectionClosed naming the first unanswered request",
        describe_error(error, 120),
    )


def test_reset_while_a_pipelined_batch_is_being_sent(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, make_response(200, b"first"))
        time.sleep(0.1)
        _reset_on_close(sock)  # with the next requests unread

    server = raw_server(handler)
    attempted: list[str] = []
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 5

        def send_batch() -> None:
            for i in range(1000):
                attempted.append(f"/{i}")
                conn.send_request("PUT", f"/{i}", body=bytes(256 * 1024))

        send_error, _ = _expect(ConnectionClosed, "lost while sending", send_batch)
        assert 1 < len(attempted) < 1000
        first = conn.read_response()
        assert (first.path, conn.readall()) == ("/0", b"first")
        read_error, _ = _expect(ConnectionClosed, "", conn.read_response)
        unanswered = attempted[1:]
        assert conn.response_pending()
    _record(
        "reset while a pipelined batch is being sent",
        "reads 1 of many 256 KiB PUTs, answers it, then a reset",
        "send_request() raises ConnectionClosed; the answer to the 1st is readable; the next read raises",
        f"send: {describe_error(send_error, 60)}; read: {describe_error(read_error, 60)};"
        f" {len(unanswered)} requests unanswered",
    )


# ------------------------------------------------------------ slow servers


def _trickle(
    data: bytes, interval: float, stop: threading.Event, prefix: bytes = b""
) -> Callable[[socket.socket], None]:
    """A handler sending *prefix*, then *data* one byte every *interval* seconds."""

    def handler(sock: socket.socket) -> None:
        read_request(sock)
        try:
            send_all(sock, prefix)
            for byte in data:
                if stop.wait(interval):
                    return
                sock.sendall(bytes([byte]))
        except OSError:
            return

    return handler


_RESPONSE = make_response(200, b"0123456789")


def _slow_server(
    raw_server: RawServerFactory, interval: float, prefix: bytes = b"", data: bytes = _RESPONSE
) -> tuple[RawServer, threading.Event]:
    event = threading.Event()
    return raw_server(_trickle(data, interval, event, prefix)), event


@pytest.mark.parametrize("where", ["head", "body"])
def test_one_byte_per_second_blocking_timeout(raw_server: RawServerFactory, where: str) -> None:
    head, body = _RESPONSE[:-10], _RESPONSE[-10:]
    if where == "head":
        server, stopped = _slow_server(raw_server, 1.0)
    else:
        server, stopped = _slow_server(raw_server, 1.0, prefix=head + body[:1], data=body[1:])
    try:
        with HTTPConnection(server.host, server.port) as conn:
            conn.timeout = _TIMEOUT
            conn.send_request("GET", "/")
            if where == "head":
                error, elapsed = _expect(
                    ConnectionTimedOut,
                    f"no answer to GET / from {server.host}:{server.port} for {_TIMEOUT:g} s",
                    conn.read_response,
                )
            else:
                assert conn.read_response().status == 200
                error, elapsed = _expect(
                    ConnectionTimedOut,
                    f"no progress receiving the body of the response to GET / from {server.host}:{server.port}"
                    f" for {_TIMEOUT:g} s",
                    conn.readall,
                )
    finally:
        stopped.set()
    assert elapsed < _TIME_BOUND
    _record(
        f"one byte per second, in the {where}, blocking call",
        "a valid response, one byte per second" + (" after the head" if where == "body" else ""),
        f"ConnectionTimedOut (timeout={_TIMEOUT:g} s) in well under {_TIME_BOUND:g} s",
        describe_error(error, 60) + f" after {elapsed:.2f} s",
        elapsed,
    )


@pytest.mark.parametrize("where", ["head", "body"])
def test_one_byte_per_second_reactor_deadline(raw_server: RawServerFactory, where: str) -> None:
    head, body = _RESPONSE[:-10], _RESPONSE[-10:]
    if where == "head":
        server, stopped = _slow_server(raw_server, 1.0)
    else:
        server, stopped = _slow_server(raw_server, 1.0, prefix=head + body[:1], data=body[1:])
    try:
        with HTTPConnection(server.host, server.port) as conn, Reactor() as reactor:
            conn.timeout = 5
            conn.send_request("GET", "/")
            task: Task[object]
            if where == "head":
                task = reactor.spawn(conn.co_read_response(), deadline=reactor.time() + _TIMEOUT)
            else:
                assert conn.read_response().status == 200
                task = reactor.spawn(conn.co_readall(), deadline=reactor.time() + _TIMEOUT)
            error, elapsed = _expect(ConnectionTimedOut, "deadline", lambda: reactor.run_until_complete(task))
    finally:
        stopped.set()
    assert elapsed < _TIME_BOUND
    _record(
        f"one byte per second, in the {where}, reactor task",
        "a valid response, one byte per second" + (" after the head" if where == "body" else ""),
        f"ConnectionTimedOut at the task's deadline (now + {_TIMEOUT:g} s)",
        describe_error(error, 60) + f" after {elapsed:.2f} s",
        elapsed,
    )


def test_trickle_beats_the_timeout_but_not_a_deadline(raw_server: RawServerFactory) -> None:
    """``timeout`` bounds the time without progress; only a deadline bounds the total."""
    head = _RESPONSE[:-10]
    body = _RESPONSE[-10:]
    server, stopped = _slow_server(raw_server, 0.1, prefix=head, data=body)  # 0.1 s between bytes
    try:
        with HTTPConnection(server.host, server.port) as conn:
            conn.timeout = _TIMEOUT
            conn.send_request("GET", "/")
            conn.read_response()
            start = time.monotonic()
            assert conn.readall() == b"0123456789"  # a byte every 0.1 s: never 0.3 s without one
            slow_read = time.monotonic() - start
    finally:
        stopped.set()
    server2, stopped2 = _slow_server(raw_server, 0.1, prefix=head, data=body)
    try:
        with HTTPConnection(server2.host, server2.port) as conn, Reactor() as reactor:
            conn.send_request("GET", "/")
            conn.read_response()
            task = reactor.spawn(conn.co_readall(), deadline=reactor.time() + 0.5)
            error, elapsed = _expect(ConnectionTimedOut, "deadline", lambda: reactor.run_until_complete(task))
    finally:
        stopped2.set()
    assert 0.8 < slow_read and elapsed < _TIME_BOUND
    _record(
        "ten bytes per second: timeout versus deadline",
        "a 10-byte body, one byte every 0.1 s",
        f"timeout={_TIMEOUT:g} s (no progress) does not fire; a 0.5 s deadline does",
        f"readall() completed in {slow_read:.2f} s; with the deadline: {describe_error(error, 50)}",
        elapsed,
    )


def test_silent_server(raw_server: RawServerFactory) -> None:
    stopped = threading.Event()

    def handler(sock: socket.socket) -> None:
        read_request(sock)
        stopped.wait(10)

    server = raw_server(handler)
    try:
        with HTTPConnection(server.host, server.port) as conn:
            conn.timeout = _TIMEOUT
            conn.send_request("GET", "/")
            error, elapsed = _expect(
                ConnectionTimedOut,
                f"no answer to GET / from {server.host}:{server.port} for {_TIMEOUT:g} s",
                conn.read_response,
            )
    finally:
        stopped.set()
    assert elapsed < _TIME_BOUND
    _record(
        "server never answers",
        "nothing",
        f"ConnectionTimedOut after timeout={_TIMEOUT:g} s",
        describe_error(error, 60) + f" after {elapsed:.2f} s",
        elapsed,
    )


# ------------------------------------------------------- resets and closes


def test_reset_instead_of_an_answer(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        _reset_on_close(sock)

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 5
        conn.send_request("GET", "/")
        error, _ = _expect(ConnectionClosed, "GET /", conn.read_response)
        assert not conn.connected
    _record(
        "reset instead of an answer",
        "a reset after reading the request",
        "ConnectionClosed naming the request",
        describe_error(error, 120),
    )


def test_reset_in_the_middle_of_a_body(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 5000)
        time.sleep(0.1)
        _reset_on_close(sock)

    server = raw_server(handler)
    data = b""
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 5
        conn.send_request("GET", "/")
        conn.read_response()

        def read() -> None:
            nonlocal data
            while piece := conn.read(1000):
                data += piece

        error, _ = _expect(ConnectionClosed, "", read)
        assert not conn.connected
    assert data == b"x" * len(data) and len(data) <= 5000
    _record(
        "reset in the middle of a body",
        "head with Content-Length: 1000000, 5000 bytes, a reset",
        "the bytes sent, then ConnectionClosed",
        f"{len(data)} bytes, then {describe_error(error, 80)}",
    )


# ------------------------------------------------------------ half-closed


def _half_closing(response: bytes, log: list[bytes]) -> Callable[[socket.socket], None]:
    """Send *response*, shut down the write side, and keep reading until the client closes."""

    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, response)
        sock.shutdown(socket.SHUT_WR)
        try:
            log.append(read_until_close(sock))
        except OSError:
            log.append(b"")

    return handler


def test_half_closed_after_a_complete_response_idle(raw_server: RawServerFactory) -> None:
    log: list[bytes] = []
    server = raw_server(_half_closing(make_response(200, b"done"), log))
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 5
        conn.send_request("GET", "/")
        conn.read_response()
        assert conn.readall() == b"done"
        time.sleep(0.2)
        error, _ = _expect(
            ConnectionClosed,
            "idle connection; the request was not sent",
            lambda: conn.send_request("GET", "/second"),
        )
        assert not conn.response_pending()
    server.wait_idle()
    assert log == [b""]  # the second request never left
    _record(
        "half-closed after a complete response, reused later",
        "a response, then shutdown(SHUT_WR)",
        "the response is read; the next request is not sent: ConnectionClosed",
        describe_error(error, 120),
    )


def test_half_closed_after_a_complete_response_reused_at_once(raw_server: RawServerFactory) -> None:
    log: list[bytes] = []
    server = raw_server(_half_closing(make_response(200, b"done"), log))
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 5
        conn.send_request("GET", "/")
        conn.read_response()
        assert conn.readall() == b"done"

        def second() -> None:
            conn.send_request("GET", "/second")
            conn.read_response()

        error, _ = _expect(ConnectionClosed, "GET /second|the request was not sent", second)
    server.wait_idle()
    # Whether the request left depends on timing (the idle check): either way it was refused.
    assert len(log) == 1 and (log[0] == b"" or log[0].startswith(b"GET /second HTTP/1.1\r\n"))
    _record(
        "half-closed after a complete response, reused at once",
        "a response, then shutdown(SHUT_WR)",
        "the next request fails with ConnectionClosed (sent or not)",
        describe_error(error, 120),
    )


_CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
_HALF_CASES = {
    "in the head": (b"HTTP/1.1 200 OK\r\nContent-Le", r"in the middle of the response head to GET /"),
    "in a Content-Length body": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234",
        "5 bytes of the body missing",
    ),
    "in chunk data": (_CHUNKED_HEAD + b"5\r\n012", "in the middle of a chunked body"),
    "in a chunk-size line": (_CHUNKED_HEAD + b"5\r\n01234\r\n1", "chunk-size line"),
    "in the trailer section": (_CHUNKED_HEAD + b"0\r\nT: v\r\n", "trailer section"),
}


@pytest.mark.parametrize("where", list(_HALF_CASES))
def test_half_closed_in_the_middle_of_a_response(raw_server: RawServerFactory, where: str) -> None:
    response, match = _HALF_CASES[where]
    log: list[bytes] = []
    server = raw_server(_half_closing(response, log))
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 5
        conn.send_request("GET", "/")

        def read() -> None:
            conn.read_response()
            conn.readall()

        error, elapsed = _expect(ConnectionClosed, match, read)
        assert elapsed < _TIME_BOUND and not conn.connected
    server.wait_idle()
    assert log == [b""]
    _record(
        f"half-closed {where}",
        f"{response!r}"[2:-1] + " then shutdown(SHUT_WR)",
        f"ConnectionClosed: /{match}/",
        describe_error(error, 120),
    )


def test_half_closed_after_an_until_close_head(raw_server: RawServerFactory) -> None:
    log: list[bytes] = []
    server = raw_server(_half_closing(b"HTTP/1.1 200 OK\r\n\r\nthe body ends at the close", log))
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 5
        conn.send_request("GET", "/")
        response = conn.read_response()
        assert response.length is None
        assert conn.readall() == b"the body ends at the close"
        assert not conn.connected  # the connection is not reused ...
        conn.send_request("GET", "/again")  # ... the next request opens a new one
        assert conn.read_response().status == 200
        assert conn.readall() == b"the body ends at the close"
    server.wait_idle()
    assert log == [b"", b""]  # one request on each connection
    _record(
        "half-closed ending a body delimited by the close",
        "a head without length, a body, shutdown(SHUT_WR)",
        "the body is complete; the connection is not reused",
        "body read; the next request opens a new connection",
    )
