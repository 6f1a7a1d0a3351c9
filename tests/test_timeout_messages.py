"""ConnectionTimedOut says what was awaited from whom, and a timed-out read still consumes nothing."""

from __future__ import annotations

import re
import socket
import threading

import pytest

from dugong import BodyFollowing, ConnectionTimedOut, HTTPConnection, eval_coroutine
from dugong.loop import Reactor, TaskDeadlineExceeded
from tests.servers.raw import RawServerFactory, make_response, read_request, send_all
from tests.test_happy_eyeballs import blackhole


def _released(raw_server: RawServerFactory, first: bytes, rest: bytes) -> tuple[str, int, threading.Event]:
    """A server that answers *first* at once and *rest* once the returned event is set."""
    go = threading.Event()

    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, first)
        go.wait(10)
        send_all(sock, rest)

    server = raw_server(handler)
    return server.host, server.port, go


def test_no_answer_names_the_request_and_the_server(raw_server: RawServerFactory) -> None:
    host, port, go = _released(raw_server, b"", make_response(200, b"late"))
    with HTTPConnection(host, port, timeout=0.2) as conn:
        conn.send_request("GET", "/x?y=1")
        with pytest.raises(ConnectionTimedOut) as info:
            conn.read_response()
        assert str(info.value) == f"no answer to GET /x?y=1 from {host}:{port} for 0.2 s"
        assert info.value.timeout == 0.2
        assert "fd" not in str(info.value) and "PollNeeded" not in str(info.value)
        go.set()
        conn.timeout = 10
        assert conn.read_response().status == 200  # nothing was consumed: the read is retried
        assert conn.readall() == b"late"


@pytest.mark.parametrize("chunked", [False, True])
def test_a_stalled_body_names_the_response(raw_server: RawServerFactory, chunked: bool) -> None:
    if chunked:
        first = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
        rest = b"2\r\nde\r\n0\r\n\r\n"
    else:
        first = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc"
        rest = b"de"
    host, port, go = _released(raw_server, first, rest)
    with HTTPConnection(host, port, timeout=0.2) as conn:
        conn.send_request("GET", "/file")
        conn.read_response()
        with pytest.raises(ConnectionTimedOut) as info:
            conn.readall()
        assert str(info.value) == (
            f"no progress receiving the body of the response to GET /file from {host}:{port} for 0.2 s"
        )
        go.set()
        conn.timeout = 10
        assert conn.readall() == b"abcde"  # what the interrupted readall() took is kept


def test_a_stalled_upload_names_the_request(raw_server: RawServerFactory) -> None:
    stop = threading.Event()

    def handler(sock: socket.socket) -> None:
        read_request(sock, with_body=False)
        stop.wait(10)

    server = raw_server(handler)
    try:
        with HTTPConnection(server.host, server.port, timeout=0.2) as conn:
            conn.send_request("PUT", "/y", body=BodyFollowing(None))
            with pytest.raises(ConnectionTimedOut) as info:
                for _ in range(1000):
                    conn.write(bytes(1 << 20))
            assert (
                str(info.value)
                == f"no progress sending the body of PUT /y to {server.host}:{server.port} for 0.2 s"
            )
    finally:
        stop.set()


def test_a_connect_that_hangs_says_so() -> None:
    with blackhole() as (host, port):
        conn = HTTPConnection(host, port, timeout=0.2)
        with pytest.raises(ConnectionTimedOut) as info:
            conn.send_request("GET", "/")
        assert str(info.value) == f"could not connect to {host}:{port} within 0.2 s"
        assert not conn.connected and not conn.response_pending()
        conn = HTTPConnection("example.invalid", 80, proxy=(host, port), timeout=0.2)
        with pytest.raises(
            ConnectionTimedOut, match=re.escape(f"example.invalid:80 through proxy {host}:{port} within")
        ):
            conn.connect()


def test_a_reader_waiting_for_the_connect_says_so() -> None:
    with blackhole() as (host, port):
        with HTTPConnection(host, port) as conn:
            sender = conn.co_send_request("GET", "/")
            next(sender)  # connecting, and it never will
            try:
                with pytest.raises(ConnectionTimedOut) as info:
                    eval_coroutine(conn.co_read_response(), 0.2)
                assert str(info.value) == f"could not connect to {host}:{port} within 0.2 s"
            finally:
                sender.close()
            assert not conn.response_pending()


def test_read_raw_says_from_whom(raw_server: RawServerFactory) -> None:
    host, port, go = _released(raw_server, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", b"hi")
    with HTTPConnection(host, port, timeout=0.2) as conn:
        conn.send_request("GET", "/", headers={"Upgrade": "x", "Connection": "upgrade"})
        assert conn.read_response().status == 101
        with pytest.raises(ConnectionTimedOut, match=f"^no data from {re.escape(host)}:{port} for 0.2 s$"):
            conn.read_raw(10)
        go.set()
        conn.timeout = 10
        assert conn.read_raw(10) == b"hi"


def test_a_task_deadline_keeps_its_class_and_message(raw_server: RawServerFactory) -> None:
    host, port, go = _released(raw_server, b"", make_response(200, b"late"))
    with HTTPConnection(host, port, timeout=10) as conn, Reactor() as reactor:
        conn.send_request("GET", "/")
        task = reactor.spawn(conn.co_read_response(), timeout=0.2, name="slow")
        with pytest.raises(
            TaskDeadlineExceeded, match=r"task 'slow' passed its deadline of 0\.\d+ s while waiting to read"
        ):
            reactor.run_until_complete(task)
        go.set()
        assert conn.read_response().status == 200  # nothing was consumed
        assert conn.readall() == b"late"
