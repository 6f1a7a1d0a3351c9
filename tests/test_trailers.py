"""Trailer fields both ways: ``HTTPResponse.trailers`` and ``end_body(trailers=...)``.

Against a scripted raw server (which shows the exact bytes), nginx (a real
peer that reads chunked uploads with trailers), and hypothesis for the parser.
"""

from __future__ import annotations

import hashlib
import logging
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dugong import BodyFollowing, ConnectionClosed, HTTPConnection, HTTPResponse, StateError
from dugong._http11 import CHUNKED, Framing
from dugong._trailers import NOT_TRAILERS
from tests.servers.nginx import NginxServer
from tests.servers.raw import RawRequest, RawServerFactory, make_response, read_request, send_all
from tests.test_body_reader import read_body

_CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


# ------------------------------------------------------------------ receiving


def _get(raw_server: RawServerFactory, answer: bytes) -> tuple[HTTPConnection, HTTPResponse]:
    """A connection that sent GET / to a server answering *answer*, and the response head."""

    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, answer)

    server = raw_server(handler)
    conn = HTTPConnection(server.host, server.port, timeout=10)
    conn.send_request("GET", "/")
    return conn, conn.read_response()


def test_trailers_of_a_chunked_response(
    raw_server: RawServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(
            sock,
            _CHUNKED_HEAD + b"3\r\nabc\r\n0\r\nX-Checksum: 900150983cd24fb0\r\n"
            b"Content-Length: 99\r\nSet-Cookie: a=b\r\nX-Other: 2\r\n\r\n",
        )
        read_request(sock)
        send_all(sock, make_response(200, b"next"))

    server = raw_server(handler)
    caplog.set_level(logging.DEBUG, logger="dugong")
    with HTTPConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        resp = conn.read_response()
        assert resp.trailers is None  # the body is still to be read
        assert conn.read(2) == b"ab"
        assert resp.trailers is None
        assert conn.readall() == b"c"
        assert resp.trailers is not None
        assert resp.trailers.items() == [("X-Checksum", "900150983cd24fb0"), ("X-Other", "2")]
        # never merged into the head
        assert resp.headers["X-Checksum"] is None and resp.headers["Content-Length"] is None
        assert "dropped fields that must not be trailers" in caplog.text
        assert "Content-Length, Set-Cookie" in caplog.text
        # the connection goes on
        conn.send_request("GET", "/next")
        assert conn.read_response().status == 200
        assert conn.readall() == b"next"


@pytest.mark.parametrize("how", ["readall", "readinto", "discard", "read"])
def test_trailers_are_set_by_every_way_of_reading(raw_server: RawServerFactory, how: str) -> None:
    conn, resp = _get(raw_server, _CHUNKED_HEAD + b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n")
    with conn:
        if how == "readall":
            conn.readall()
        elif how == "readinto":
            buf = bytearray(2)
            while conn.readinto(buf):
                pass
        elif how == "discard":
            conn.discard()
        else:
            while conn.read(1):
                pass
        assert resp.trailers is not None and resp.trailers["x-t"] == "1"


def test_no_trailers_is_an_empty_section(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, _CHUNKED_HEAD + b"2\r\nok\r\n0\r\n\r\n")
        read_request(sock)
        send_all(sock, make_response(200, b"sized"))
        read_request(sock)
        send_all(sock, b"HTTP/1.1 204 No Content\r\n\r\n")

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        for path, body in (("/chunked", b"ok"), ("/sized", b"sized")):
            conn.send_request("GET", path)
            resp = conn.read_response()
            assert resp.trailers is None
            assert conn.readall() == body
            assert resp.trailers is not None and len(resp.trailers) == 0
        conn.send_request("GET", "/empty")
        resp = conn.read_response()
        assert resp.trailers is not None and len(resp.trailers) == 0  # no body: complete at once


def test_a_lost_body_leaves_trailers_none(raw_server: RawServerFactory) -> None:
    conn, resp = _get(raw_server, _CHUNKED_HEAD + b"5\r\nhel")
    with conn:
        with pytest.raises(ConnectionClosed, match="in the middle of a chunked body"):
            conn.readall()
        assert resp.trailers is None


@st.composite
def trailer_fields(draw: st.DrawFn) -> list[tuple[str, str]]:
    names = st.sampled_from(
        ["X-Checksum", "Digest", "server-timing", "t", *sorted(NOT_TRAILERS)[:12], "HOST"]
    )
    values = st.text("abcXYZ019 -=;", max_size=10).map(str.strip)
    return draw(st.lists(st.tuples(names, values), max_size=6))


@given(trailer_fields(), st.lists(st.integers(min_value=1, max_value=60), max_size=8))
def test_trailer_parsing_keeps_the_allowed_fields_in_order(
    fields: list[tuple[str, str]], cuts: list[int]
) -> None:
    wire = b"4\r\nbody\r\n0\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in fields) + b"\r\n"
    pieces = []
    start = 0
    for cut in cuts:
        pieces.append(wire[start : start + cut])
        start += cut
    pieces.append(wire[start:])
    data, body, _ = read_body(Framing(CHUNKED, None, True), [p for p in pieces if p])
    assert data == b"body"
    assert body.trailers is not None
    assert body.trailers.items() == [(n, v) for n, v in fields if n.lower() not in NOT_TRAILERS]


# -------------------------------------------------------------------- sending


def _serve_uploads(raw_server: RawServerFactory, received: list[RawRequest]) -> tuple[str, int]:
    def handler(sock: socket.socket) -> None:
        while True:
            try:
                request = read_request(sock)
            except EOFError:
                return
            received.append(request)
            send_all(sock, make_response(201, b""))

    server = raw_server(handler)
    return server.host, server.port


def test_end_body_sends_trailers_announced_in_advance(raw_server: RawServerFactory) -> None:
    received: list[RawRequest] = []
    host, port = _serve_uploads(raw_server, received)
    with HTTPConnection(host, port) as conn:
        conn.send_request("PUT", "/f", body=BodyFollowing(None, trailers=("X-Checksum", "X-Count")))
        digest = hashlib.sha256()
        for piece in (b"abc", b"defg"):
            digest.update(piece)
            conn.write(piece)
        conn.end_body(trailers={"X-Checksum": digest.hexdigest(), "X-Count": "2"})
        assert conn.read_response().status == 201
        conn.discard()
    (request,) = received
    assert request.header("Trailer") == "X-Checksum, X-Count"
    assert request.body == b"abcdefg"
    assert request.raw.endswith(
        b"0\r\nX-Checksum: " + digest.hexdigest().encode() + b"\r\nX-Count: 2\r\n\r\n"
    )


def test_trailers_without_announcement_and_none(raw_server: RawServerFactory) -> None:
    received: list[RawRequest] = []
    host, port = _serve_uploads(raw_server, received)
    with HTTPConnection(host, port) as conn:
        conn.send_request("POST", "/a", body=BodyFollowing(None))
        conn.write(b"x")
        conn.end_body(trailers={"X-Late": "yes"})
        conn.read_response()
        conn.discard()
        conn.send_request("POST", "/b", body=BodyFollowing(None))
        conn.end_body(trailers={})
        conn.read_response()
        conn.discard()
    assert received[0].header("Trailer") is None
    assert received[0].raw.endswith(b"1\r\nx\r\n0\r\nX-Late: yes\r\n\r\n")
    assert received[1].raw.endswith(
        b"chunked\r\nAccept-Encoding: identity\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("trailers", "message"),
    [
        ({"Content-Length": "3"}, "must not be sent as a trailer"),
        ({"host": "evil"}, "must not be sent as a trailer"),
        ({"Authorization": "Basic eA=="}, "must not be sent as a trailer"),
        ({"X-A": "1\r\nX-Injected: 2"}, "control character"),
        ({"X-A\r\n": "1"}, "must be a token"),
        ({"X-A": "caf\u20ac"}, "ISO-8859-1"),
        ({"X-A": 5}, "must be a str"),
    ],
)
def test_invalid_trailers_are_refused_before_a_byte_is_sent(
    raw_server: RawServerFactory, trailers: dict[str, str], message: str
) -> None:
    received: list[RawRequest] = []
    host, port = _serve_uploads(raw_server, received)
    with HTTPConnection(host, port) as conn:
        conn.send_request("PUT", "/f", body=BodyFollowing(None))
        conn.write(b"data")
        with pytest.raises(ValueError, match=message):
            conn.end_body(trailers=trailers)
        conn.end_body(trailers={"X-Fine": "1"})  # the body can still be ended
        assert conn.read_response().status == 201
        conn.discard()
    assert received[0].raw.endswith(b"4\r\ndata\r\n0\r\nX-Fine: 1\r\n\r\n")


def test_trailers_need_a_chunked_body(raw_server: RawServerFactory) -> None:
    received: list[RawRequest] = []
    host, port = _serve_uploads(raw_server, received)
    with pytest.raises(ValueError, match="chunked"):
        BodyFollowing(3, trailers=("X-A",))
    with pytest.raises(ValueError, match="must not be sent as a trailer"):
        BodyFollowing(None, trailers=("Transfer-Encoding",))
    with pytest.raises(ValueError, match="sequence of field names"):
        BodyFollowing(None, trailers="X-A")
    assert repr(BodyFollowing(None, trailers=["X-A"])) == "BodyFollowing(None, trailers=('X-A',))"
    with HTTPConnection(host, port) as conn:
        with pytest.raises(StateError, match="no chunked request body is pending"):
            conn.end_body(trailers={"X-A": "1"})
        conn.send_request("PUT", "/f", body=BodyFollowing(3))
        conn.write(b"abc")  # the body is complete: nothing is pending
        conn.read_response()
        conn.discard()
        conn.send_request("PUT", "/g", body=BodyFollowing(3))
        conn.write(b"ab")
        with pytest.raises(ValueError, match="trailers need a chunked body"):
            conn.end_body(trailers={"X-A": "1"})
        conn.write(b"c")
        assert conn.read_response().status == 201
        conn.discard()
    assert [r.body for r in received] == [b"abc", b"abc"]


def test_nginx_reads_a_chunked_upload_with_trailers(nginx: NginxServer) -> None:
    """nginx skips request trailers: the file is the body alone and the connection stays usable."""
    body = b"0123456789" * 5000
    with HTTPConnection(nginx.host, nginx.port) as conn:
        conn.send_request("PUT", "/dav/trailers.bin", body=BodyFollowing(None, trailers=("X-Checksum",)))
        for start in range(0, len(body), 7000):
            conn.write(body[start : start + 7000])
        conn.end_body(trailers={"X-Checksum": hashlib.sha256(body).hexdigest()})
        resp = conn.read_response()
        assert resp.status == 201, resp
        conn.discard()
        conn.send_request("GET", "/dav/trailers.bin")
        resp = conn.read_response()
        assert conn.readall() == body
        assert resp.trailers is not None and len(resp.trailers) == 0
