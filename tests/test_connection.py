"""HTTPConnection end to end against real loopback servers."""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import socket
import threading
import time
import weakref
from collections.abc import Iterator

import pytest

import dugong
from dugong import (
    POLLIN,
    POLLOUT,
    BodyFollowing,
    CaseInsensitiveDict,
    ConnectionClosed,
    ConnectionTimedOut,
    ExcessBodyData,
    HTTPConnection,
    InvalidResponse,
    PollNeeded,
    StateError,
    UnsupportedResponse,
)
from tests.servers.raw import RawServerFactory, make_response, read_request, send_all
from tests.servers.stdlib import StdlibServer, body_for


@pytest.fixture
def conn(http_server: StdlibServer) -> Iterator[HTTPConnection]:
    with HTTPConnection(http_server.host, http_server.port) as connection:
        yield connection


@pytest.fixture
def linked() -> Iterator[tuple[HTTPConnection, socket.socket]]:
    """A connected HTTPConnection and the server end of its socket, both in this thread."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        connection = HTTPConnection("127.0.0.1", listener.getsockname()[1])
        connection.connect()
        peer, _ = listener.accept()
    with peer, connection:
        yield connection, peer


def _recv_head(peer: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        chunk = peer.recv(1)
        assert chunk, "client closed"
        data += chunk
    return data


def _echo(conn: HTTPConnection) -> dict[str, object]:
    resp = conn.read_response()
    assert resp.status == 200, resp
    result = json.loads(conn.readall())
    assert isinstance(result, dict)
    return result


# --------------------------------------------------------------- API shape


def test_every_coroutine_has_a_blocking_twin() -> None:
    names = [name for name in dir(HTTPConnection) if name.startswith("co_")]
    assert len(names) >= 10
    for name in names:
        blocking = getattr(HTTPConnection, name[3:])
        co_params = list(inspect.signature(getattr(HTTPConnection, name)).parameters.values())
        params = list(inspect.signature(blocking).parameters.values())
        assert [(p.name, p.default, p.kind) for p in params] == [
            (p.name, p.default, p.kind) for p in co_params
        ], name


def test_public_names_of_the_reference() -> None:
    for name in (
        "HTTPConnection HTTPResponse BodyFollowing CaseInsensitiveDict PollNeeded AioFuture"
        " is_temp_network_error ConnectionClosed InvalidResponse UnsupportedResponse"
        " ExcessBodyData StateError ConnectionTimedOut HostnameNotResolvable DNSUnavailable"
        " MAX_LINE_SIZE MAX_HEADER_SIZE DNS_TEST_HOSTNAMES BUFFER_SIZE POLLIN POLLOUT"
        " eval_coroutine"
    ).split():
        assert getattr(dugong, name) is not None
        assert name in dugong.__all__
    assert "HTTPConnection" in dir(dugong)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        getattr(dugong, "nope")  # noqa: B009 (a name the type checkers must not see)


def test_defaults() -> None:
    import ssl

    plain = HTTPConnection("example.org")
    assert (plain.port, plain.ssl_context, plain.proxy, plain.timeout) == (80, None, None, None)
    context = ssl.create_default_context()
    secure = HTTPConnection("example.org", ssl_context=context)
    assert secure.port == 443 and secure.ssl_context is context
    assert HTTPConnection("[::1]").hostname == "::1"
    assert plain.readable() and plain.writable() and not plain.seekable() and not plain.connected
    assert plain.get_ssl_cipher() is None and plain.get_ssl_peercert() is None
    assert "example.org:80" in repr(plain)
    plain.flush()


# ---------------------------------------------------------------- framing


@pytest.mark.parametrize("size", [0, 1, 1000, 65535, 65536, 300_000])
def test_content_length_bodies(conn: HTTPConnection, size: int) -> None:
    conn.send_request("GET", f"/bytes/{size}")
    resp = conn.read_response()
    assert (resp.status, resp.reason, resp.length) == (200, "OK", size)
    assert resp.headers["Content-Length"] == str(size)
    assert conn.readall() == body_for(size)
    assert conn.read() == b"" and not conn.response_pending()


@pytest.mark.parametrize(("size", "chunk"), [(0, 10), (1, 1), (5000, 7), (200_000, 70_000)])
def test_chunked_bodies(conn: HTTPConnection, size: int, chunk: int) -> None:
    conn.send_request("GET", f"/chunked/{size}?chunk={chunk}")
    resp = conn.read_response()
    assert resp.length is None and resp.headers["transfer-encoding"] == "chunked"
    assert conn.readall() == body_for(size)
    assert not conn.response_pending()


def test_read_in_small_pieces_and_readinto(conn: HTTPConnection) -> None:
    for path in ("/bytes/100000", "/chunked/100000?chunk=999"):
        conn.send_request("GET", path)
        conn.read_response()
        pieces = []
        while piece := conn.read(777):
            assert 0 < len(piece) <= 777
            pieces.append(piece)
        assert b"".join(pieces) == body_for(100000)
        conn.send_request("GET", path)
        conn.read_response()
        buf = bytearray(10000)
        out = bytearray()
        while size := conn.readinto(buf):
            out += buf[:size]
        assert out == body_for(100000)
        assert conn.readinto(bytearray(0)) == 0 and conn.read(0) == b""


def test_read_none_reads_everything(conn: HTTPConnection) -> None:
    conn.send_request("GET", "/bytes/5000")
    conn.read_response()
    assert conn.read() == body_for(5000)


def test_discard(conn: HTTPConnection) -> None:
    for path in ("/bytes/300000", "/chunked/300000?chunk=50000", "/bytes/10"):
        conn.send_request("GET", path)
        conn.read_response()
        conn.discard()
        assert not conn.response_pending()
    conn.send_request("GET", "/bytes/3")
    conn.read_response()
    assert conn.readall() == body_for(3)


def test_head_204_304_have_no_body(conn: HTTPConnection) -> None:
    conn.send_request("HEAD", "/bytes/1000")
    resp = conn.read_response()
    assert resp.length == 0 and resp.headers["content-length"] == "1000"
    assert conn.read() == b""
    for code in (204, 304):
        conn.send_request("GET", f"/status/{code}")
        assert conn.read_response().status == code
        assert conn.readall() == b""
    conn.send_request("GET", "/status/404")
    resp = conn.read_response()
    assert resp.status == 404 and conn.readall()


def test_until_close_body_then_the_next_request_reconnects(conn: HTTPConnection) -> None:
    conn.send_request("GET", "/close/70000")
    resp = conn.read_response()
    assert resp.length is None and resp.headers["Connection"] == "close"
    assert conn.readall() == body_for(70000)
    assert not conn.connected
    with pytest.raises(StateError, match="no request is waiting"):
        conn.read_response()  # nothing was lost, so nothing to report
    conn.send_request("GET", "/bytes/1")
    conn.read_response()
    assert conn.readall() == body_for(1)


def test_connection_close_with_length_closes_after_body(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, make_response(200, b"bye", [("Connection", "close")]))

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        conn.send_request("GET", "/second")
        assert conn.read_response().status == 200
        assert conn.readall() == b"bye"
        assert not conn.connected
        with pytest.raises(ConnectionClosed):
            conn.read_response()  # the pipelined second request gets no answer
        assert conn.response_pending()


# ----------------------------------------------------------------- requests


def test_request_head_as_sent(conn: HTTPConnection, http_server: StdlibServer) -> None:
    headers = CaseInsensitiveDict({"X-Custom": "yes", "user-agent": "me"})
    conn.send_request("GET", "/headers", headers=headers)
    conn.read_response()
    head = conn.readall().decode("latin-1")
    assert head.startswith("GET /headers HTTP/1.1\r\n")
    assert f"Host: {http_server.host}:{http_server.port}\r\n" in head
    assert "X-Custom: yes\r\nuser-agent: me\r\n" in head
    assert "Accept-Encoding: identity\r\n" in head and "Connection: keep-alive\r\n" in head
    assert "Content-Length" not in head and "Content-MD5" not in head
    assert dict(headers) == {"X-Custom": "yes", "user-agent": "me"}


def test_post_without_body_sends_zero_length(conn: HTTPConnection) -> None:
    conn.send_request("POST", "/echo")
    result = _echo(conn)
    assert result["length"] == 0
    assert result["headers"]["content-length"] == "0"  # type: ignore[index]


@pytest.mark.parametrize("size", [0, 1, 16 * 1024, 16 * 1024 + 1, 1_000_000])
def test_bytes_bodies(conn: HTTPConnection, size: int) -> None:
    body = body_for(size)
    conn.send_request("PUT", "/echo", body=memoryview(body) if size % 2 else body)
    result = _echo(conn)
    assert result["length"] == size and result["md5"] == hashlib.md5(body).hexdigest()
    headers = result["headers"]
    assert isinstance(headers, dict)
    assert headers["content-md5"]


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET\r\n", "/", None),
        ("G T", "/", None),
        ("GET", "/a b", None),
        ("GET", "/a\r\nHost: evil", None),
        ("GET", "", None),
        ("GET", "/", {"X": "a\r\nInjected: 1"}),
        ("GET", "/", {"X": "a\nb"}),
        ("GET", "/", {"X": "a\x00"}),
        ("GET", "/", {"Bad Name": "a"}),
        ("GET", "/", {"X:Y": "a"}),
    ],
)
def test_bad_requests_send_nothing(
    raw_server: RawServerFactory, method: str, path: str, headers: dict[str, str] | None
) -> None:
    received: list[bytes] = []

    def handler(sock: socket.socket) -> None:
        received.append(sock.recv(100))

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.connect()
        with pytest.raises(ValueError):
            conn.send_request(method, path, headers=headers)
        assert not conn.response_pending()
    server.wait_idle(connections=1)
    assert received == [b""]


def test_expect100_needs_body_following(conn: HTTPConnection) -> None:
    with pytest.raises(ValueError, match="BodyFollowing"):
        conn.send_request("PUT", "/echo", body=b"x", expect100=True)


# ------------------------------------------------------------ BodyFollowing


def test_body_following_with_expect100(conn: HTTPConnection, http_server: StdlibServer) -> None:
    body = body_for(300_000)
    conn.send_request("PUT", "/echo", body=BodyFollowing(len(body)), expect100=True)
    with pytest.raises(StateError, match="100-continue"):
        conn.write(b"x")
    with pytest.raises(StateError, match="100-continue"):
        conn.end_body()
    resp = conn.read_response()
    assert (resp.status, resp.length) == (100, 0)
    conn.write(body[:1000])
    with pytest.raises(StateError, match="not been sent completely"):
        conn.read_response()
    with pytest.raises(StateError, match="not been sent completely"):
        conn.send_request("GET", "/bytes/1")
    with pytest.raises(StateError, match="still to be written"):
        conn.end_body()
    with pytest.raises(ExcessBodyData, match="only 299000"):
        conn.write(body[1000:] + b"!")
    conn.write(b"")
    conn.write(body[1000:])
    conn.end_body()  # nothing to do: the body ended with its last byte
    result = _echo(conn)
    assert result["md5"] == hashlib.md5(body).hexdigest()
    with pytest.raises(StateError, match="no request body is pending"):
        conn.write(b"x")


def test_body_following_without_expect100(conn: HTTPConnection) -> None:
    conn.send_request("POST", "/echo", body=BodyFollowing(6))
    conn.write(b"abc")
    conn.write(bytearray(b"def"))
    assert _echo(conn)["md5"] == hashlib.md5(b"abcdef").hexdigest()
    conn.send_request("POST", "/echo", body=BodyFollowing(0))
    assert _echo(conn)["length"] == 0


def test_chunked_upload(conn: HTTPConnection) -> None:
    body = body_for(100_000)
    conn.send_request("PUT", "/echo", body=BodyFollowing(None), expect100=True)
    assert conn.read_response().status == 100
    conn.write(body[:10])
    conn.write(b"")  # does not end the body
    conn.write(body[10:])
    conn.end_body()
    result = _echo(conn)
    assert (result["length"], result["md5"]) == (len(body), hashlib.md5(body).hexdigest())
    headers = result["headers"]
    assert isinstance(headers, dict)
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers


def test_final_answer_instead_of_100_cancels_the_body(conn: HTTPConnection) -> None:
    conn.send_request("PUT", "/reject", body=BodyFollowing(10_000), expect100=True)
    resp = conn.read_response()
    assert resp.status == 403
    with pytest.raises(StateError, match="no request body is pending"):
        conn.write(b"x")
    conn.readall()
    assert not conn.connected  # the server may still wait for the body: not reused
    conn.send_request("GET", "/bytes/1")  # a new connection
    conn.read_response()
    assert conn.readall() == body_for(1)


def test_server_closes_during_upload_answer_still_readable(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock, with_body=False)
        send_all(sock, make_response(413, b"too big", [("Connection", "close")]))
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + 5
        sock.settimeout(0.2)
        received = 0
        while received < 1_000_000 and time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            received += len(data)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 10
        conn.send_request("PUT", "/", body=BodyFollowing(200_000_000))
        chunk = bytes(1 << 20)
        with pytest.raises(ConnectionClosed, match="lost while sending the body of PUT"):
            for _ in range(200):
                conn.write(chunk)
        with pytest.raises(ConnectionClosed):
            conn.write(chunk)  # the upload is over
        resp = conn.read_response()
        assert resp.status == 413 and conn.readall() == b"too big"


# -------------------------------------------------------------- pipelining


def test_pipelining(conn: HTTPConnection) -> None:
    sizes = [i * 37 % 3000 for i in range(200)]
    for size in sizes:
        conn.send_request("GET", f"/bytes/{size}")
    assert conn.response_pending()
    for size in sizes:
        resp = conn.read_response()
        assert resp.path == f"/bytes/{size}" and resp.method == "GET"
        assert conn.readall() == body_for(size)
    assert not conn.response_pending()


def test_one_thread_sends_another_reads(conn: HTTPConnection) -> None:
    count = 500
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            for i in range(count):
                conn.send_request("GET", f"/bytes/{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=sender)
    thread.start()
    for i in range(count):
        while not conn.response_pending():
            time.sleep(0.001)
        resp = conn.read_response()
        assert resp.path == f"/bytes/{i}"
        assert conn.readall() == body_for(i)
    thread.join()
    assert not errors


def test_state_errors(conn: HTTPConnection) -> None:
    with pytest.raises(StateError, match="no request is waiting"):
        conn.read_response()
    conn.send_request("GET", "/bytes/10")
    conn.send_request("GET", "/bytes/10")
    conn.read_response()
    with pytest.raises(StateError, match="not been read completely"):
        conn.read_response()
    conn.readall()
    conn.read_response()
    conn.readall()


# ------------------------------------------------------------ timeouts, io


def test_timeout(conn: HTTPConnection) -> None:
    conn.timeout = 0.2
    conn.send_request("GET", "/slow/2/10")
    started = time.monotonic()
    with pytest.raises(
        ConnectionTimedOut, match=r"^no answer to GET /slow/2/10 from 127\.0\.0\.1:\d+ for 0\.2 s$"
    ):
        conn.read_response()
    assert time.monotonic() - started < 1.5  # a small part of the server's 2 s delay
    assert dugong.is_temp_network_error(ConnectionTimedOut())


def test_text_io_wrapper(conn: HTTPConnection) -> None:
    conn.send_request("GET", "/bytes/5000")
    conn.read_response()
    text = io.TextIOWrapper(conn, encoding="ascii")
    assert text.read() == body_for(5000).decode("ascii")
    text.detach()
    assert conn.connected


def test_text_io_wrapper_outlives_the_server_closing(http_server: StdlibServer) -> None:
    conn = HTTPConnection(http_server.host, http_server.port)
    conn.send_request("GET", "/close/3000")
    conn.read_response()
    text = io.TextIOWrapper(conn, encoding="ascii")
    assert text.read() == body_for(3000).decode("ascii")
    assert not conn.connected and not conn.closed  # the server closed; the stream did not
    assert text.read() == ""
    text.detach()
    conn.reset()
    conn.send_request("GET", "/bytes/10")  # and the connection is opened again
    conn.read_response()
    assert conn.readall() == body_for(10) and conn.connected
    conn.disconnect()


def test_io_stream_methods(http_server: StdlibServer) -> None:
    conn = HTTPConnection(http_server.host, http_server.port)
    assert conn.name == f"{http_server.host}:{http_server.port}"
    assert not conn.isatty() and conn.readable() and conn.writable() and not conn.seekable()
    for unsupported in (conn.fileno, conn.tell, conn.truncate, lambda: conn.seek(0)):
        with pytest.raises(io.UnsupportedOperation):
            unsupported()
    assert not conn.connected  # none of them connects


def test_context_manager_disconnects(http_server: StdlibServer) -> None:
    with HTTPConnection(http_server.host, http_server.port) as conn:
        conn.send_request("GET", "/bytes/1")
        assert conn.connected
    assert not conn.connected and not conn.response_pending()


# --------------------------------------------------- stepping by hand


def test_read_response_stepped_byte_by_byte(linked: tuple[HTTPConnection, socket.socket]) -> None:
    conn, peer = linked
    conn.send_request("GET", "/x")
    assert _recv_head(peer).startswith(b"GET /x HTTP/1.1\r\n")
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX: y\r\n\r\nabc"
    crt = conn.co_read_response()
    assert next(crt) == PollNeeded(peer.fileno() and conn._fd, POLLIN)
    for byte in response[:-4]:
        peer.send(bytes([byte]))
        time.sleep(0.0005)
        request = next(crt)
        assert request.mask == POLLIN and request.fd == conn._fd
        assert next(crt) == request  # resuming early is harmless
    peer.send(response[-4:])
    time.sleep(0.01)
    with pytest.raises(StopIteration) as done:
        next(crt)
    resp = done.value.value
    assert resp.status == 200 and resp.headers["x"] == "y"
    assert conn.readall() == b"abc"


def test_send_yields_pollout_when_the_peer_does_not_read(
    linked: tuple[HTTPConnection, socket.socket],
) -> None:
    conn, _peer = linked
    conn.send_request("PUT", "/", body=BodyFollowing(50_000_000))
    crt = conn.co_write(bytes(50_000_000))
    assert next(crt) == PollNeeded(conn._fd, POLLOUT)
    assert next(crt).mask == POLLOUT
    crt.close()  # interrupted in the middle of the body: the connection is unusable
    with pytest.raises(ConnectionClosed, match="interrupted after"):
        conn.send_request("GET", "/")


def test_early_close_at_every_offset(raw_server: RawServerFactory) -> None:
    responses = [
        make_response(200, b"hello world"),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: v\r\n\r\n",
    ]
    for response in responses:
        for cut in range(len(response)):

            def handler(sock: socket.socket, data: bytes = response[:cut]) -> None:
                read_request(sock)
                send_all(sock, data)

            server = raw_server(handler)
            with HTTPConnection(server.host, server.port) as conn:
                conn.send_request("GET", "/")
                with pytest.raises(ConnectionClosed):
                    conn.read_response()
                    conn.readall()
            server.close()


def test_valid_responses_split_anywhere(raw_server: RawServerFactory) -> None:
    response = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: v\r\n\r\n"
    )
    for cut in range(1, len(response), 3):

        def handler(sock: socket.socket, cut: int = cut) -> None:
            read_request(sock)
            send_all(sock, response[:cut])
            time.sleep(0.002)
            send_all(sock, response[cut:])

        server = raw_server(handler)
        with HTTPConnection(server.host, server.port) as conn:
            conn.send_request("GET", "/")
            assert conn.read_response().status == 200
            assert conn.readall() == b"hello world"
        server.close()


@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        (b"SSH-2.0-OpenSSH\r\n", InvalidResponse, "expected a status line"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000, InvalidResponse, "MAX_HEADER_SIZE"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", UnsupportedResponse, "gzip"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
            InvalidResponse,
            "CRLF after chunk",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            InvalidResponse,
            "chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 20_000,
            InvalidResponse,
            "MAX_LINE_SIZE",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + b"T: v\r\n" * 20_000,
            InvalidResponse,
            "trailer section larger",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT v\r\n\r\n",
            InvalidResponse,
            "trailer",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: \x00\r\n\r\n",
            InvalidResponse,
            "invalid trailer",
        ),
        (b"HTTP/1.1 102 Processing\r\n\r\n" * 20, InvalidResponse, "informational"),
    ],
)
def test_protocol_errors_close_the_connection(
    raw_server: RawServerFactory, response: bytes, error: type[Exception], message: str
) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, response)
        time.sleep(0.5)

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        with pytest.raises(error, match=message):
            conn.read_response()
            conn.readall()
        assert not conn.connected
        with pytest.raises(ConnectionClosed, match="unusable|invalid"):
            conn.send_request("GET", "/")
        conn.reset()
        assert not conn.response_pending()


def test_trailers_are_read_and_the_connection_reused(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        for _ in range(2):
            read_request(sock)
            send_all(
                sock,
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n",
            )

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        for _ in range(2):
            conn.send_request("GET", "/")
            resp = conn.read_response()
            assert conn.readall() == b"abc"
            assert resp.trailers is not None and resp.trailers.items() == [("X-Sum", "1"), ("X-Other", "2")]


def test_informational_responses_are_skipped(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n")
        send_all(sock, make_response(200, b"ok"))

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        assert conn.read_response().status == 200
        assert conn.readall() == b"ok"


def test_body_longer_than_announced_is_not_a_response(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(
            sock, make_response(200, b"abc")[:-3] + b"abcHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
        )
        time.sleep(0.5)

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        conn.read_response()
        time.sleep(0.1)
        assert conn.readall() == b"abc"
        with pytest.raises((ConnectionClosed, InvalidResponse), match="more data than"):
            conn.send_request("GET", "/")


def test_response_before_request(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        send_all(sock, make_response(200, b"early"))
        time.sleep(1)

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.connect()
        time.sleep(0.2)
        with pytest.raises(InvalidResponse, match="no request was pending"):
            conn.send_request("GET", "/")


def test_idle_connection_closed_by_server(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, make_response(200, b"ok"))

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        conn.read_response()
        conn.readall()
        server.wait_idle(connections=1)
        time.sleep(0.1)
        with pytest.raises(ConnectionClosed, match="idle connection"):
            conn.send_request("GET", "/")
        assert not conn.response_pending()
        assert dugong.is_temp_network_error(ConnectionClosed())


def test_server_closes_without_answer(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        with pytest.raises(ConnectionClosed, match="without answering GET /"):
            conn.read_response()


def test_reset_during_read(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        time.sleep(0.1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        conn.read_response()
        assert conn.read(10) == b"abc"
        with pytest.raises(ConnectionClosed):
            conn.read(10)
        with pytest.raises(ConnectionClosed):
            conn.send_request("GET", "/")


def test_switching_protocols_and_read_raw(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nraw1")
        time.sleep(0.05)
        send_all(sock, b"raw2")

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/", headers={"Upgrade": "x", "Connection": "Upgrade"})
        assert conn.read_response().status == 101
        data = b""
        while len(data) < 8:
            data += conn.read_raw(100)
        assert data == b"raw1raw2"
        assert conn.read_raw(100) == b""
        with pytest.raises(ConnectionClosed, match="switched protocols"):
            conn.send_request("GET", "/")


def test_http10_server(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nold")

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.send_request("GET", "/")
        resp = conn.read_response()
        assert resp.headers.get_content_type() == "text/plain"
        assert resp.headers.get_content_charset() == "utf-8"
        assert conn.readall() == b"old"
        assert not conn.connected
        conn.send_request("GET", "/")  # a new connection
        assert conn.read_response().status == 200
        assert conn.readall() == b"old"


# ------------------------------------------------------- interruptions, races


def test_idle_connection_is_checked_and_reused(conn: HTTPConnection) -> None:
    conn.send_request("GET", "/bytes/1")
    conn.read_response()
    conn.readall()
    time.sleep(0.1)  # idle long enough to be checked for a server-side close
    conn.send_request("GET", "/bytes/2")
    conn.read_response()
    assert conn.readall() == body_for(2)


def _fill_send_buffer(conn: HTTPConnection) -> socket.socket:
    """Fill the kernel's send buffer of *conn* through a duplicate of its fd."""
    import os

    filler = socket.socket(fileno=os.dup(conn._fd))
    filler.setblocking(False)
    try:
        while True:
            filler.send(bytes(65536))
    except BlockingIOError:
        pass
    return filler


def test_request_interrupted_before_its_first_byte_is_withdrawn(
    linked: tuple[HTTPConnection, socket.socket],
) -> None:
    conn, _peer = linked
    with _fill_send_buffer(conn):
        crt = conn.co_send_request("GET", "/")
        assert next(crt) == PollNeeded(conn._fd, POLLOUT)
        assert conn.response_pending()
        crt.close()
    assert not conn.response_pending() and conn.connected


def test_disconnect_under_a_suspended_coroutine(linked: tuple[HTTPConnection, socket.socket]) -> None:
    conn, _peer = linked
    conn.send_request("GET", "/")
    reader = conn.co_read_response()
    assert next(reader).mask == POLLIN
    conn.disconnect()
    with pytest.raises(ConnectionClosed):
        next(reader)


def test_disconnect_under_a_suspended_sender(linked: tuple[HTTPConnection, socket.socket]) -> None:
    conn, _peer = linked
    conn.send_request("PUT", "/", body=BodyFollowing(10**9))
    writer = conn.co_write(bytes(10**7))
    assert next(writer).mask == POLLOUT
    conn.disconnect()
    with pytest.raises(ConnectionClosed):
        next(writer)


def test_connection_close_answer_while_an_upload_is_suspended(
    linked: tuple[HTTPConnection, socket.socket],
) -> None:
    conn, peer = linked
    conn.send_request("GET", "/first")
    conn.send_request("PUT", "/second", body=BodyFollowing(10**9))
    writer = conn.co_write(bytes(10**7))
    assert next(writer).mask == POLLOUT
    peer.sendall(make_response(200, b"x", [("Connection", "close")]))
    assert conn.read_response().path == "/first"
    assert conn.readall() == b"x"
    with pytest.raises(ConnectionClosed, match="'Connection: close' in its response to GET /first"):
        next(writer)


def test_io_wrapper_close_disconnects(conn: HTTPConnection) -> None:
    conn.send_request("GET", "/bytes/10")
    conn.read_response()
    reader = io.BufferedReader(conn)
    assert reader.read() == body_for(10)
    reader.close()
    assert not conn.connected


def test_until_close_with_readinto_and_discard(conn: HTTPConnection) -> None:
    conn.send_request("GET", "/close/100000")
    conn.read_response()
    buf = bytearray(30000)
    total = 0
    while size := conn.readinto(buf):
        total += size
    assert total == 100000
    conn.reset()
    conn.send_request("GET", "/close/100000")
    conn.read_response()
    conn.discard()
    assert not conn.connected
    conn.send_request("GET", "/bytes/3")
    conn.read_response()
    assert conn.readall() == body_for(3)


def test_expect100_with_empty_body(conn: HTTPConnection) -> None:
    conn.send_request("PUT", "/echo", body=BodyFollowing(0), expect100=True)
    assert conn.read_response().status == 100
    assert _echo(conn)["length"] == 0


@pytest.mark.parametrize("big", [False, True])
def test_server_gone_during_chunked_upload(raw_server: RawServerFactory, big: bool) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock, with_body=False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.send_request("PUT", "/", body=BodyFollowing(None))
        server.wait_idle(connections=1)
        time.sleep(0.05)
        with pytest.raises(ConnectionClosed):
            for _ in range(100):
                conn.write(bytes(100_000 if big else 100))
        conn.end_body()  # the upload is over: nothing to end
        with pytest.raises(ConnectionClosed):
            conn.read_response()


def test_server_gone_before_end_body(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock, with_body=False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.send_request("PUT", "/", body=BodyFollowing(None))
        server.wait_idle(connections=1)
        time.sleep(0.05)
        with pytest.raises(ConnectionClosed):
            conn.end_body()
            conn.end_body()


def test_trace_file_has_every_byte_once(
    raw_server: RawServerFactory, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    from dugong._trace import read_trace

    assert isinstance(tmp_path, Path)
    answers = [make_response(200, body_for(n)) for n in (10, 70000, 0)]
    received: list[bytes] = []

    def handler(sock: socket.socket) -> None:
        for answer in answers:
            received.append(read_request(sock).raw)
            send_all(sock, answer)

    server = raw_server(handler)
    monkeypatch.setenv("DUGONG_TRACEFILE", str(tmp_path / "trace-%d.txt"))
    with HTTPConnection(server.host, server.port) as conn:
        for n in (10, 70000, 0):
            conn.send_request("PUT", "/", body=body_for(n))
        for _ in range(3):
            conn.read_response()
            conn.readall()
    server.wait_idle()
    [path] = list(tmp_path.iterdir())
    records = read_trace(str(path))
    sent = b"".join(data for direction, data in records if direction == "sent")
    got = b"".join(data for direction, data in records if direction == "received")
    assert sent == b"".join(received)
    assert got == b"".join(answers)


def test_hostname_that_would_corrupt_the_host_header() -> None:
    with pytest.raises(ValueError, match="Host"):
        HTTPConnection("example.org\r\nX-Injected: 1")


# ------------------------------------------------ coalesced pipelined heads


def _recv_available(peer: socket.socket) -> bytes:
    time.sleep(0.05)
    try:
        return peer.recv(1 << 20, socket.MSG_DONTWAIT)
    except BlockingIOError:
        return b""


def _answer(peer: socket.socket, count: int) -> None:
    peer.sendall(make_response(200, b"ok") * count)


def _read_one_response(conn: HTTPConnection, peer: socket.socket) -> None:
    """One request and its response, read in this thread: it now coalesces pipelined heads."""
    conn.send_request("GET", "/0")
    assert _recv_head(peer).startswith(b"GET /0 ")
    _answer(peer, 1)
    conn.read_response()
    assert conn.readall() == b"ok"


def test_pipelined_heads_are_coalesced_until_flush(linked: tuple[HTTPConnection, socket.socket]) -> None:
    conn, peer = linked
    _read_one_response(conn, peer)
    conn.send_request("GET", "/1")  # nothing pending: sent at once
    assert _recv_available(peer).startswith(b"GET /1 ")
    for i in range(2, 5):
        conn.send_request("GET", f"/{i}")
    assert _recv_available(peer) == b""  # held back
    conn.flush()
    data = _recv_available(peer)
    assert [line.split(b" ")[1] for line in data.split(b"\r\n") if line.startswith(b"GET")] == [
        b"/2",
        b"/3",
        b"/4",
    ]
    _answer(peer, 4)
    for i in range(1, 5):
        assert conn.read_response().path == f"/{i}"
        assert conn.readall() == b"ok"


def test_a_read_that_would_wait_sends_the_coalesced_heads(
    linked: tuple[HTTPConnection, socket.socket],
) -> None:
    conn, peer = linked
    _read_one_response(conn, peer)
    conn.send_request("GET", "/1")
    conn.send_request("GET", "/2")
    assert _recv_head(peer).startswith(b"GET /1 ")
    reader = conn.co_read_response()
    assert next(reader).mask == POLLIN  # the head of /2 went out before waiting
    assert _recv_head(peer).startswith(b"GET /2 ")
    _answer(peer, 2)
    time.sleep(0.05)
    with pytest.raises(StopIteration):
        next(reader)
    conn.readall()
    assert conn.read_response().path == "/2"


def test_interrupted_flush_keeps_the_heads(linked: tuple[HTTPConnection, socket.socket]) -> None:
    conn, peer = linked
    _read_one_response(conn, peer)
    conn.send_request("GET", "/1")
    conn.send_request("GET", "/2")
    with _fill_send_buffer(conn):
        flush = conn.co_flush()
        assert next(flush).mask == POLLOUT
        flush.close()  # not a byte of /2 went out: it stays queued
        assert conn.connected and conn.response_pending()


def test_two_threads_never_coalesce(linked: tuple[HTTPConnection, socket.socket]) -> None:
    conn, peer = linked
    conn.send_request("GET", "/0")
    _recv_head(peer)
    _answer(peer, 1)
    thread = threading.Thread(target=lambda: (conn.read_response(), conn.readall()))
    thread.start()
    thread.join()
    conn.send_request("GET", "/1")
    conn.send_request("GET", "/2")  # pipelined, but another thread reads: sent at once
    data = _recv_available(peer)
    assert b"GET /1 " in data and b"GET /2 " in data


def test_a_sender_never_waits_for_pollout_while_the_reader_does(
    linked: tuple[HTTPConnection, socket.socket],
) -> None:
    """Reactors allow one waiter per fd and direction: the sender sends what fits and leaves the rest."""
    conn, peer = linked
    _read_one_response(conn, peer)
    conn.send_request("GET", "/1")  # sent at once
    conn.send_request("GET", "/2")  # coalesced
    with _fill_send_buffer(conn):
        reader = conn.co_read_response()
        assert next(reader) == PollNeeded(conn._fd, POLLIN | POLLOUT)  # it sends /2 when it can
        last = 2
        while len(conn._wbuf) < 2 * 16 * 1024:  # past the size at which a sender sends them itself
            last += 1
            with pytest.raises(StopIteration):  # done without waiting for POLLOUT
                next(conn.co_send_request("GET", f"/{last}"))
    # The server reads everything; the reader, woken for POLLOUT, sends the heads.
    received = b""
    deadline = time.monotonic() + 10
    while f"GET /{last} ".encode() not in received and time.monotonic() < deadline:
        received += _recv_available(peer)
        assert next(reader).mask in (POLLIN, POLLIN | POLLOUT)
    assert b"GET /2 " in received and f"GET /{last} ".encode() in received and not conn._wbuf
    _answer(peer, last)
    with pytest.raises(StopIteration) as done:
        while True:
            next(reader)
    assert done.value.value.path == "/1"


def test_the_fields_are_slots_and_programs_may_still_add_attributes(conn: HTTPConnection) -> None:
    # More than 30 attributes in an instance dictionary would give every
    # connection its own key table (design notes, "The connection's fields are slots").
    conn.send_request("GET", "/bytes/10")
    conn.read_response()
    assert len(conn.readall()) == 10
    assert vars(conn) == {}  # every field the connection set is a slot
    conn.note = "kept"  # type: ignore[attr-defined]  # as a 3.x program may do
    assert vars(conn) == {"note": "kept"}

    class Traced(HTTPConnection):
        def __init__(self, host: str, port: int) -> None:
            super().__init__(host, port)
            self.sent: list[str] = []

    traced = Traced("localhost", 1)
    assert traced.sent == [] and weakref.ref(traced)() is traced
