"""Self-tests of the test servers, with plain sockets and http.client (no dugong)."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.servers import raw
from tests.servers.nginx import NginxServer
from tests.servers.raw import RawServerFactory
from tests.servers.stdlib import StdlibServer, body_for


def _recv_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read one response with a Content-Length body: (head, body)."""
    head = raw.read_head(sock)
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, raw.read_exactly(sock, length)


@pytest.fixture
def client(http_server: StdlibServer) -> Iterator[http.client.HTTPConnection]:
    conn = http.client.HTTPConnection(http_server.host, http_server.port, timeout=10)
    yield conn
    conn.close()


@pytest.fixture
def sock(http_server: StdlibServer) -> Iterator[socket.socket]:
    with socket.create_connection((http_server.host, http_server.port), timeout=10) as s:
        yield s


# ---------------------------------------------------------------- body_for


def test_body_for_is_deterministic_and_self_describing() -> None:
    assert body_for(0) == b""
    body = body_for(200)
    assert len(body) == 200 and body == body_for(200)
    assert body.startswith(b"200@0|") and b"200@64|" in body
    assert body_for(201)[:200] != body
    with pytest.raises(ValueError):
        body_for(-1)


@given(st.integers(0, 5000), st.integers(0, 5000))
def test_body_for_prefixes_differ(n: int, m: int) -> None:
    assert len(body_for(n)) == n
    if n != m and min(n, m) >= 8:
        assert body_for(n)[:8] != body_for(m)[:8]


def test_body_for_large_is_not_cached_but_equal() -> None:
    n = 4 * 1024 * 1024 + 1
    assert body_for(n) == body_for(n)
    assert body_for(n)[-1:] != b""


# ---------------------------------------------------------------- stdlib server


def test_bytes_and_head(client: http.client.HTTPConnection) -> None:
    client.request("GET", "/bytes/5000")
    resp = client.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Length") == "5000"
    assert resp.read() == body_for(5000)
    client.request("HEAD", "/bytes/5000")
    resp = client.getresponse()
    assert resp.getheader("Content-Length") == "5000"
    assert resp.read() == b""


def test_keep_alive_reuses_one_connection(
    http_server: StdlibServer, client: http.client.HTTPConnection
) -> None:
    connections, requests = http_server.connections_seen, http_server.requests_seen
    for n in (0, 1, 100):
        client.request("GET", f"/bytes/{n}")
        assert client.getresponse().read() == body_for(n)
    assert http_server.connections_seen == connections + 1
    assert http_server.requests_seen == requests + 3


def test_chunked(sock: socket.socket) -> None:
    raw.send_all(sock, b"GET /chunked/2500?chunk=1000 HTTP/1.1\r\nHost: x\r\n\r\n")
    head = raw.read_head(sock)
    assert b"Transfer-Encoding: chunked\r\n" in head
    assert b"Content-Length" not in head
    sizes = []
    body = b""
    while True:
        size = int(raw.read_line(sock), 16)
        sizes.append(size)
        chunk = raw.read_exactly(sock, size + 2)
        body += chunk[:-2]
        if size == 0:
            break
    assert sizes == [1000, 1000, 500, 0]
    assert body == body_for(2500)


def test_chunked_via_http_client(client: http.client.HTTPConnection) -> None:
    client.request("GET", "/chunked/10000?chunk=7")
    assert client.getresponse().read() == body_for(10000)
    client.request("GET", "/chunked/0")
    assert client.getresponse().read() == b""


def test_close_delimited(sock: socket.socket) -> None:
    raw.send_all(sock, b"GET /close/3000 HTTP/1.1\r\nHost: x\r\n\r\n")
    data = raw.read_until_close(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Connection: close" in head and b"Content-Length" not in head
    assert body == body_for(3000)


@pytest.mark.parametrize("code", [200, 201, 204, 304, 404, 500, 599])
def test_status(client: http.client.HTTPConnection, code: int) -> None:
    client.request("GET", f"/status/{code}")
    resp = client.getresponse()
    assert resp.status == code
    body = resp.read()
    assert body == (b"" if code in (204, 304) else f"status {code}\n".encode())


def test_errors_and_unknown_routes(client: http.client.HTTPConnection) -> None:
    for method, path, status in [
        ("GET", "/nothing", 404),
        ("GET", "/bytes", 404),
        ("DELETE", "/bytes/3", 501),
        ("POST", "/bytes/3", 405),
        ("GET", "/bytes/x", 400),
        ("GET", "/status/100", 400),
        ("GET", "/slow/x/1", 400),
        ("GET", "/slow/99/1", 400),
    ]:
        client.request(method, path, body=b"abc" if method == "POST" else None)
        resp = client.getresponse()
        resp.read()
        assert resp.status == status, (method, path)
        if resp.will_close:
            client.close()


def test_headers_echoes_the_exact_head(sock: socket.socket) -> None:
    head = b"GET /headers HTTP/1.1\r\nHost: example\r\nX-Odd-Case:  two  spaces \r\n\r\n"
    raw.send_all(sock, head)
    _, body = _recv_response(sock)
    assert body == head


def test_echo_content_length(client: http.client.HTTPConnection) -> None:
    data = body_for(100_000)
    client.request("PUT", "/echo", body=data, headers={"X-Test": "1"})
    answer = json.loads(client.getresponse().read())
    assert answer["method"] == "PUT"
    assert answer["length"] == len(data)
    assert answer["md5"] == hashlib.md5(data).hexdigest()
    assert answer["headers"]["x-test"] == "1"
    assert answer["headers"]["content-length"] == str(len(data))


def test_echo_chunked(client: http.client.HTTPConnection) -> None:
    pieces = [b"abc", b"", b"defgh" * 1000]
    client.request("POST", "/echo", body=iter(pieces), encode_chunked=True)
    answer = json.loads(client.getresponse().read())
    assert answer["length"] == 5003
    assert answer["md5"] == hashlib.md5(b"".join(pieces)).hexdigest()
    assert answer["headers"]["transfer-encoding"] == "chunked"


def test_echo_expect_100_continue(http_server: StdlibServer, sock: socket.socket) -> None:
    before = http_server.continues_sent
    raw.send_all(
        sock,
        b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    assert raw.read_head(sock) == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert http_server.continues_sent == before + 1
    raw.send_all(sock, b"hello")
    head, body = _recv_response(sock)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(body)["md5"] == hashlib.md5(b"hello").hexdigest()


def test_reject_answers_403_without_continue(sock: socket.socket) -> None:
    raw.send_all(
        sock,
        b"PUT /reject HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n",
    )
    head, body = _recv_response(sock)
    assert head.startswith(b"HTTP/1.1 403 ")
    assert b"Connection: close" in head
    assert body == b"rejected\n"
    assert raw.read_until_close(sock) == b""


def test_reject_survives_a_body_sent_anyway(sock: socket.socket) -> None:
    raw.send_all(sock, b"PUT /reject HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n")
    raw.send_all(sock, body_for(300_000))
    head, _body = _recv_response(sock)
    assert head.startswith(b"HTTP/1.1 403 ")


def test_slow(client: http.client.HTTPConnection) -> None:
    start = time.monotonic()
    client.request("GET", "/slow/0.2/10")
    assert client.getresponse().read() == body_for(10)
    assert time.monotonic() - start >= 0.2


def test_pipelined_requests_are_answered_in_order(sock: socket.socket) -> None:
    raw.send_all(sock, b"".join(b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\n\r\n" % n for n in range(20)))
    for n in range(20):
        _, body = _recv_response(sock)
        assert body == body_for(n)


def test_close_shuts_down_idle_connections() -> None:
    server = StdlibServer()
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        raw.send_all(s, b"GET /bytes/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        _recv_response(s)
        assert server.open_connections == 1
        server.close()
        assert server.open_connections == 0
        assert raw.read_until_close(s) == b""
    assert server.wait_idle(0)


def test_handler_errors_are_recorded() -> None:
    with StdlibServer() as server:
        with socket.create_connection((server.host, server.port), timeout=10) as s:
            s.sendall(b"PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        assert server.wait_idle(10, connections=1)
        assert [type(e) for e in server.errors] == [ConnectionError]
        assert server.url("/x") == f"http://127.0.0.1:{server.port}/x"


# ---------------------------------------------------------------- raw server


def test_raw_server_scripted_response(raw_server: RawServerFactory) -> None:
    seen: list[raw.RawRequest] = []

    def handler(conn: socket.socket) -> None:
        for request in raw.iter_requests(conn):
            seen.append(request)
            raw.send_all(conn, raw.make_response(200, request.body, [("X-N", str(len(seen)))]))

    srv = raw_server(handler)
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        conn.request("POST", "/a", body=b"hello")
        resp = conn.getresponse()
        assert resp.read() == b"hello" and resp.getheader("X-N") == "1"
        conn.request("POST", "/b", body=iter([b"ab", b"cd"]), encode_chunked=True)
        assert conn.getresponse().read() == b"abcd"
    finally:
        conn.close()
    srv.wait_idle()
    assert srv.connections == 1 and srv.errors == []
    assert [(r.method, r.target, r.version) for r in seen] == [
        ("POST", "/a", "HTTP/1.1"),
        ("POST", "/b", "HTTP/1.1"),
    ]
    assert seen[0].header("content-length") == "5"
    assert seen[0].raw == seen[0].head + b"hello"
    assert seen[1].raw.endswith(b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n")
    assert seen[1].header("Nope") is None


def test_raw_server_expect_continue_and_manual_body(raw_server: RawServerFactory) -> None:
    def handler(conn: socket.socket) -> None:
        first = raw.read_request(conn)
        raw.send_all(conn, raw.make_response(201, first.body))
        second = raw.read_request(conn, with_body=False)
        assert second.expects_continue and second.body == b""
        raw.send_all(conn, "HTTP/1.1 100 Continue\r\n\r\n")
        body, framed = raw.read_body(conn, second)
        raw.send_all(conn, raw.make_response(200, body, reason="Fine"))
        assert framed == body == b"xyz"

    srv = raw_server(handler)
    with socket.create_connection(srv.address, timeout=10) as s:
        for status in (b"201 Status", b"200 Fine"):
            raw.send_all(
                s,
                b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
            )
            assert raw.read_head(s) == b"HTTP/1.1 100 Continue\r\n\r\n"
            raw.send_all(s, b"xyz")
            head, body = _recv_response(s)
            assert head.startswith(b"HTTP/1.1 " + status + b"\r\n") and body == b"xyz"
    srv.wait_idle()


def test_raw_server_records_errors(raw_server: RawServerFactory) -> None:
    def handler(conn: socket.socket) -> None:
        raw.read_request(conn)

    srv = raw_server(handler)
    cases = [b"", b"GET / HTTP/1.1\r\n", b"BROKEN\r\n\r\n", b"GET / HTTP/1.1\r\nNo colon\r\n\r\n"]
    for number, data in enumerate(cases, 1):
        with socket.create_connection(srv.address, timeout=10) as s:
            s.sendall(data)
        srv.wait_idle(connections=number)
    kinds = [type(e) for e in srv.errors]
    assert kinds == [EOFError, EOFError, ValueError, ValueError]
    assert str(srv.errors[0]) == "closed"
    srv.errors.clear()


def test_raw_server_check_errors_false(raw_server: RawServerFactory) -> None:
    def handler(conn: socket.socket) -> None:
        raise RuntimeError("expected")

    srv = raw_server(handler, check_errors=False)
    with socket.create_connection(srv.address, timeout=10) as s:
        assert raw.read_until_close(s) == b""
    srv.wait_idle()
    assert len(srv.errors) == 1


def test_raw_server_close_wakes_blocked_handlers() -> None:
    entered = threading.Event()

    def handler(conn: socket.socket) -> None:
        entered.set()
        conn.recv(1)  # the client never sends

    srv = raw.RawServer(handler)
    with socket.create_connection(srv.address, timeout=10):
        assert entered.wait(10)
        start = time.monotonic()
        srv.close(timeout=0.1)
        assert time.monotonic() - start < 5
    srv.close()  # idempotent
    assert srv.errors == []


def test_raw_server_reports_stuck_handler() -> None:
    entered, release = threading.Event(), threading.Event()

    def handler(conn: socket.socket) -> None:
        entered.set()
        release.wait(10)

    with raw.RawServer(handler) as srv:
        with socket.create_connection(srv.address, timeout=10):
            with pytest.raises(TimeoutError, match="of 2 connections accepted"):
                srv.wait_idle(0.05, connections=2)
            assert entered.wait(10)
            with pytest.raises(TimeoutError, match="still running"):
                srv.wait_idle(0.05)
            release.set()


def test_raw_helpers_limits(raw_server: RawServerFactory) -> None:
    def handler(conn: socket.socket) -> None:
        with pytest.raises(ValueError):
            raw.read_line(conn, limit=10)
        with pytest.raises(ValueError):
            raw.read_head(conn)
        raw.read_until_close(conn)  # don't close with unread input (a reset)

    srv = raw_server(handler)
    with socket.create_connection(srv.address, timeout=10) as s:
        s.sendall(b"x" * 100)
        s.sendall(b"y" * (raw.MAX_HEAD + 10))
        s.shutdown(socket.SHUT_WR)
        assert raw.read_until_close(s) == b""
    srv.wait_idle()


def test_raw_body_framing_errors(raw_server: RawServerFactory) -> None:
    def handler(conn: socket.socket) -> None:
        with pytest.raises(ValueError, match="Transfer-Encoding"):
            raw.read_request(conn)
        with pytest.raises(ValueError, match="CRLF"):
            raw.read_request(conn)
        with pytest.raises(EOFError):
            raw.read_request(conn)

    srv = raw_server(handler)
    with socket.create_connection(srv.address, timeout=10) as s:
        s.sendall(
            b"PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"
            b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY"
            b"PUT / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"
        )
        s.shutdown(socket.SHUT_WR)
        assert raw.read_until_close(s) == b""
    srv.wait_idle()


def test_raw_chunked_trailers(raw_server: RawServerFactory) -> None:
    got: list[raw.RawRequest] = []

    def handler(conn: socket.socket) -> None:
        got.extend(raw.iter_requests(conn))

    srv = raw_server(handler)
    with socket.create_connection(srv.address, timeout=10) as s:
        s.sendall(b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=1\r\na\r\n0\r\nT: 1\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        raw.read_until_close(s)
    srv.wait_idle()
    assert got[0].body == b"a"
    assert got[0].raw.endswith(b"0\r\nT: 1\r\n\r\n")


# ---------------------------------------------------------------- nginx


def test_nginx_serves_documents(nginx: NginxServer) -> None:
    conn = http.client.HTTPConnection(nginx.host, nginx.port, timeout=10)
    try:
        for name, n in [("small.bin", 1024), ("1m.bin", 1 << 20), ("empty.bin", 0)]:
            conn.request("GET", f"/{name}")
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.read() == body_for(n)
        (nginx.docroot / "added.txt").write_bytes(b"added\n")
        conn.request("GET", "/added.txt")
        assert conn.getresponse().read() == b"added\n"
        conn.request("GET", "/missing")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 404
    finally:
        conn.close()
    assert nginx.url("/a") == f"http://127.0.0.1:{nginx.port}/a"


def test_nginx_dav_put_with_expect_continue(nginx: NginxServer) -> None:
    data = body_for(300_000)
    with socket.create_connection((nginx.host, nginx.port), timeout=10) as s:
        raw.send_all(
            s,
            b"PUT /dav/sub/dir/up.bin HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(data),
        )
        assert raw.read_head(s) == b"HTTP/1.1 100 Continue\r\n\r\n"
        raw.send_all(s, data)
        head, _ = _recv_response(s)
        assert head.startswith(b"HTTP/1.1 201 ")
        raw.send_all(s, b"DELETE /dav/sub/dir/up.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _ = _recv_response(s)
        assert head.startswith(b"HTTP/1.1 204 ")
    assert not (nginx.docroot / "dav/sub/dir/up.bin").exists()


def test_nginx_dav_put_chunked(nginx: NginxServer) -> None:
    conn = http.client.HTTPConnection(nginx.host, nginx.port, timeout=10)
    try:
        conn.request("PUT", "/dav/chunked.bin", body=iter([b"abc", b"def"]), encode_chunked=True)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 201
    finally:
        conn.close()
    assert (nginx.docroot / "dav/chunked.bin").read_bytes() == b"abcdef"


def test_nginx_status_counts_connections(nginx: NginxServer) -> None:
    before = nginx.status()
    assert before.active >= 1 and before.requests >= 1
    with socket.create_connection((nginx.host, nginx.port), timeout=10) as s:
        for _ in range(3):
            raw.send_all(s, b"GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _recv_response(s)[1] == body_for(1024)
    after = nginx.status()
    assert after.accepts == before.accepts + 2  # our connection and the status one
    assert after.requests == before.requests + 4


def test_nginx_keeps_one_connection_for_many_requests(nginx: NginxServer) -> None:
    with socket.create_connection((nginx.host, nginx.port), timeout=10) as s:
        raw.send_all(s, b"GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 500)
        for _ in range(500):
            head, body = _recv_response(s)
            assert b"Connection: close" not in head and body == body_for(1024)
