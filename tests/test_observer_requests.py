"""The observer's request/response events and the DEBUG log lines, against real sockets."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from dugong import BodyFollowing, ConnectionClosed, ConnectionRefused, HTTPConnection, HTTPResponse
from tests.servers.raw import RawServerFactory, iter_requests, make_response, read_request, send_all
from tests.test_net import _closed_port
from tests.test_observer import Recorder


class RequestRecorder(Recorder):
    """Also records the request/response events (and what the response knew then)."""

    def request_sent(self, conn: HTTPConnection, at: float, method: str, target: str) -> None:
        self._add(conn, at, "request_sent", method, target)

    def response_started(self, conn: HTTPConnection, at: float, method: str, target: str) -> None:
        self._add(conn, at, "response_started", method, target)

    def response_head_read(
        self, conn: HTTPConnection, at: float, response: HTTPResponse, http_version: str
    ) -> None:
        self._add(conn, at, "response_head_read", response.path, response.status, http_version)
        self.last = response

    def body_finished(self, conn: HTTPConnection, at: float, method: str, target: str) -> None:
        trailers = self.last.trailers
        self._add(conn, at, "body_finished", method, target, None if trailers is None else trailers.items())

    def requests(self) -> list[tuple[object, ...]]:
        """The events after the connect phase."""
        names = (
            "request_sent",
            "response_started",
            "response_head_read",
            "body_finished",
            "connection_closed",
        )
        return [event for event in self.events if event[0] in names]


def test_one_request_in_order_with_times(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        time.sleep(0.05)  # a measurable wait for the first byte
        send_all(sock, make_response(200, b"ok"))

    server = raw_server(handler)
    recorder = RequestRecorder()
    with HTTPConnection(server.host, server.port, observer=recorder, timeout=10) as conn:
        conn.send_request("GET", "/x")
        resp = conn.read_response()
        assert recorder.names()[-1] == "response_head_read"  # the body is not read yet
        assert conn.readall() == b"ok"
        assert resp.trailers is not None
    assert recorder.requests() == [
        ("request_sent", "GET", "/x"),
        ("response_started", "GET", "/x"),
        ("response_head_read", "/x", 200, "HTTP/1.1"),
        ("body_finished", "GET", "/x", []),
        ("connection_closed", "disconnect() was called"),
    ]
    sent_at, started_at = recorder.times[recorder.names().index("request_sent") :][:2]
    assert started_at - sent_at >= 0.04


def test_pipelined_coalesced_bodyless_http10_and_trailers(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        for n, _request in enumerate(iter_requests(sock)):
            if n == 0:
                send_all(
                    sock,
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX-Sum: 9\r\n\r\n",
                )
            elif n == 1:
                send_all(sock, b"HTTP/1.1 204 No Content\r\n\r\n")
            else:
                send_all(sock, b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nz")
                return

    server = raw_server(handler)
    recorder = RequestRecorder()
    with HTTPConnection(server.host, server.port, observer=recorder, timeout=10) as conn:
        conn.send_request("GET", "/a")
        assert conn.read_response().status == 200
        conn.send_request("GET", "/b")  # coalesced: an earlier response is pending, this thread reads
        conn.send_request("GET", "/c")
        assert conn.readall() == b"ab"
        assert conn.read_response().status == 204
        assert conn.read_response().status == 200
        assert conn.readall() == b"z"
    assert recorder.requests() == [
        ("request_sent", "GET", "/a"),
        ("response_started", "GET", "/a"),
        ("response_head_read", "/a", 200, "HTTP/1.1"),
        ("request_sent", "GET", "/b"),
        ("request_sent", "GET", "/c"),
        ("body_finished", "GET", "/a", [("X-Sum", "9")]),
        ("response_started", "GET", "/b"),
        ("response_head_read", "/b", 204, "HTTP/1.1"),
        ("body_finished", "GET", "/b", []),  # right after the head
        ("response_started", "GET", "/c"),
        ("response_head_read", "/c", 200, "HTTP/1.0"),
        ("body_finished", "GET", "/c", []),
        ("connection_closed", "the server answered GET /c in HTTP/1.0 without keep-alive"),
    ]


def test_100_continue_starts_one_response(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock, send_continue=True)
        send_all(sock, make_response(201, b""))

    server = raw_server(handler)
    recorder = RequestRecorder()
    with HTTPConnection(server.host, server.port, observer=recorder, timeout=10) as conn:
        conn.send_request("PUT", "/up", body=BodyFollowing(3), expect100=True)
        assert conn.read_response().status == 100
        conn.write(b"abc")
        assert conn.read_response().status == 201
        conn.discard()
    assert [e for e in recorder.requests() if e[0] != "connection_closed"] == [
        ("request_sent", "PUT", "/up"),
        ("response_started", "PUT", "/up"),
        ("response_head_read", "/up", 201, "HTTP/1.1"),  # not the 100 Continue
        ("body_finished", "PUT", "/up", []),
    ]


def test_a_withdrawn_request_is_not_reported_sent() -> None:
    recorder = RequestRecorder()
    conn = HTTPConnection("127.0.0.1", _closed_port(), observer=recorder, timeout=10)
    with pytest.raises(ConnectionRefused):
        conn.send_request("GET", "/never")
    assert "request_sent" not in recorder.names()
    assert recorder.names()[-1] == "connect_failed"


def test_a_response_that_never_comes_is_not_started(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)  # and close without answering

    server = raw_server(handler)
    recorder = RequestRecorder()
    with HTTPConnection(server.host, server.port, observer=recorder, timeout=10) as conn:
        conn.send_request("GET", "/gone")
        with pytest.raises(ConnectionClosed, match="without answering GET /gone"):
            conn.read_response()
    assert recorder.requests()[:1] == [("request_sent", "GET", "/gone")]
    assert "response_started" not in recorder.names()


def test_debug_log_lines(raw_server: RawServerFactory, caplog: pytest.LogCaptureFixture) -> None:
    def handler(sock: socket.socket) -> None:
        for _ in iter_requests(sock):
            send_all(sock, make_response(404, b"nope"))

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port, timeout=10) as conn:
        with caplog.at_level(logging.DEBUG, logger="dugong"):
            conn.send_request("GET", "/missing?q=1")
            conn.read_response()
            conn.readall()
        conn.send_request("GET", "/quiet")  # DEBUG off: no line
        conn.read_response()
        conn.readall()
    lines = [r.getMessage() for r in caplog.records if r.name == "dugong"]
    where = f"{server.host}:{server.port}"
    assert f"sent GET /missing?q=1 to {where}" in lines
    assert f"GET /missing?q=1 to {where}: 404 Status (HTTP/1.1, 4 bytes)" in lines
    assert not any("/quiet" in line for line in lines)
