"""Connection set-up as a coroutine: TLS, proxies, DNS, timeouts in every phase, asyncio."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Iterator

import pytest

from dugong import (
    AioFuture,
    BodyFollowing,
    ConnectionClosed,
    ConnectionTimedOut,
    HTTPConnection,
    PollCoroutine,
    PollNeeded,
    ProxyError,
)
from dugong._net import AddrInfo, default_resolver
from tests.servers.proxy import ProxyServer
from tests.servers.raw import RawServerFactory, make_response, read_request, send_all
from tests.servers.stdlib import StdlibServer, body_for
from tests.servers.tls import TLSServer


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TLSServer]:
    with TLSServer() as server:
        yield server


def _loopback_resolver(host: str, port: int) -> list[AddrInfo]:
    return default_resolver("127.0.0.1", port)


def _get(conn: HTTPConnection, path: str) -> bytes:
    conn.send_request("GET", path)
    assert conn.read_response().status == 200
    return conn.readall()


def _step_to_completion(crt: PollCoroutine[None], max_step: float) -> int:
    """Drive *crt* by polling; assert each step returns quickly; return the number of steps."""
    steps = 0
    while True:
        started = time.monotonic()
        try:
            request = next(crt)
        except StopIteration:
            return steps
        assert time.monotonic() - started < max_step
        assert isinstance(request, PollNeeded)
        steps += 1
        request.poll(10)


# ---------------------------------------------------------------------- TLS


def test_tls_get_pipelining_and_certificates(tls_server: TLSServer) -> None:
    context = tls_server.client_context()
    with HTTPConnection(
        "localhost", tls_server.port, ssl_context=context, resolver=_loopback_resolver
    ) as conn:
        for size in (10, 100_000):
            conn.send_request("GET", f"/{size}")
        for size in (10, 100_000):
            conn.read_response()
            assert conn.readall() == body_for(size)
        cert = conn.get_ssl_peercert()
        assert cert is not None and ("DNS", "localhost") in cert["subjectAltName"]  # type: ignore[operator]
        der = conn.get_ssl_peercert(binary_form=True)
        assert isinstance(der, bytes) and der == ssl.PEM_cert_to_DER_cert(ssl.DER_cert_to_PEM_cert(der))
        cipher = conn.get_ssl_cipher()
        assert cipher is not None and cipher[1].startswith("TLS")


def test_tls_to_ip_address(tls_server: TLSServer) -> None:
    with HTTPConnection("127.0.0.1", tls_server.port, ssl_context=tls_server.client_context()) as conn:
        assert _get(conn, "/5") == body_for(5)


def test_tls_wrong_hostname(tls_server: TLSServer) -> None:
    conn = HTTPConnection(
        "wrong.example", tls_server.port, ssl_context=tls_server.client_context(), resolver=_loopback_resolver
    )
    with pytest.raises(ssl.SSLCertVerificationError, match="wrong.example"):
        conn.connect()
    assert not conn.connected


def test_tls_handshake_only_through_poll_needed(tls_server: TLSServer) -> None:
    conn = HTTPConnection(
        "localhost", tls_server.port, ssl_context=tls_server.client_context(), resolver=_loopback_resolver
    )
    with conn:
        # Every step returns at once.  (How many there are depends on timing:
        # on a loaded machine the whole TLS 1.3 handshake can be there by the
        # time the client first reads, and then nothing waits.)
        _step_to_completion(conn.co_connect(), 1.0)
        assert conn.connected and conn.get_ssl_cipher() is not None
        assert _get(conn, "/3") == body_for(3)


def test_tls_peer_vanishes_mid_handshake(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        sock.recv(10)  # part of the ClientHello, then close

    server = raw_server(handler)
    conn = HTTPConnection("127.0.0.1", server.port, ssl_context=ssl.create_default_context())
    with pytest.raises(ConnectionClosed, match="TLS"):
        conn.connect()
    assert not conn.connected


def test_tls_upload_and_close_by_server(tls_server: TLSServer) -> None:
    with HTTPConnection("127.0.0.1", tls_server.port, ssl_context=tls_server.client_context()) as conn:
        conn.send_request("PUT", "/1", body=BodyFollowing(3))
        conn.write(b"abc")
        resp = conn.read_response()
        assert resp.status == 501  # the handler has no do_PUT
        conn.readall()


# -------------------------------------------------------------------- proxy


def test_http_through_proxy_uses_absolute_form(http_server: StdlibServer) -> None:
    with (
        ProxyServer() as proxy,
        HTTPConnection(http_server.host, http_server.port, proxy=(proxy.host, proxy.port)) as conn,
    ):
        assert _get(conn, "/bytes/7") == body_for(7)
    assert proxy.request_lines == [f"GET http://{http_server.host}:{http_server.port}/bytes/7 HTTP/1.1"]


def test_https_through_connect_tunnel(tls_server: TLSServer) -> None:
    with (
        ProxyServer() as proxy,
        HTTPConnection(
            "localhost",
            tls_server.port,
            ssl_context=tls_server.client_context(),
            proxy=(proxy.host, proxy.port),
        ) as conn,
    ):
        assert _get(conn, "/1000") == body_for(1000)
        assert _get(conn, "/1") == body_for(1)
    assert proxy.request_lines == [f"CONNECT localhost:{tls_server.port} HTTP/1.1"]


def test_proxy_refuses_connect(tls_server: TLSServer) -> None:
    with ProxyServer(refuse="403 Forbidden by policy") as proxy:
        conn = HTTPConnection(
            "localhost",
            tls_server.port,
            ssl_context=tls_server.client_context(),
            proxy=(proxy.host, proxy.port),
        )
        with pytest.raises(ProxyError, match="403 Forbidden by policy") as info:
            conn.connect()
        assert info.value.status == 403 and info.value.reason == "Forbidden by policy"
        assert not conn.connected


def test_proxy_sends_junk_after_connect_answer(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock, with_body=False)
        send_all(sock, b"HTTP/1.1 200 OK\r\n\r\nsurprise")

    server = raw_server(handler)
    conn = HTTPConnection(
        "localhost", 443, ssl_context=ssl.create_default_context(), proxy=(server.host, server.port)
    )
    with pytest.raises(Exception, match="after its 2xx answer to CONNECT"):
        conn.connect()
    assert not conn.connected


def test_connect_through_slow_proxy_and_server_never_blocks() -> None:
    """The acceptance test of issue 3: every step is a small fraction of a 2 s delay."""
    with TLSServer(delay=2.0) as server, ProxyServer(delay=2.0) as proxy:
        conn = HTTPConnection(
            "localhost", server.port, ssl_context=server.client_context(), proxy=(proxy.host, proxy.port)
        )
        with conn:
            started = time.monotonic()
            steps = _step_to_completion(conn.co_connect(), max_step=0.4)
            assert time.monotonic() - started >= 3.5  # both delays really happened
            assert steps >= 2  # at least: the CONNECT answer, the TLS handshake
            assert _get(conn, "/2") == body_for(2)


# ----------------------------------------------------------------- timeouts


def test_timeout_while_resolving() -> None:
    def slow_resolver(host: str, port: int) -> list[AddrInfo]:
        time.sleep(2)
        return _loopback_resolver(host, port)

    conn = HTTPConnection("slow.example", 80, resolver=slow_resolver)
    conn.timeout = 0.2
    started = time.monotonic()
    with pytest.raises(ConnectionTimedOut):
        conn.connect()
    assert time.monotonic() - started < 1.5


def test_timeout_while_tcp_connecting() -> None:
    # A listener whose accept queue is full drops further SYNs: connect() hangs.
    with socket.create_server(("127.0.0.1", 0), backlog=0) as listener:
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            time.sleep(0.1)
            conn = HTTPConnection("127.0.0.1", port)
            conn.timeout = 0.3
            with pytest.raises(ConnectionTimedOut):
                conn.connect()
            assert not conn.connected
        finally:
            for filler in fillers:
                filler.close()


def test_timeout_in_tls_handshake(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        time.sleep(1.5)  # accepts, never answers the ClientHello

    server = raw_server(handler)
    conn = HTTPConnection("127.0.0.1", server.port, ssl_context=ssl.create_default_context())
    conn.timeout = 0.2
    with pytest.raises(ConnectionTimedOut):
        conn.connect()
    assert not conn.connected


def test_timeout_waiting_for_proxy() -> None:
    with ProxyServer(delay=1.5) as proxy:
        conn = HTTPConnection(
            "localhost", 443, ssl_context=ssl.create_default_context(), proxy=(proxy.host, proxy.port)
        )
        conn.timeout = 0.2
        with pytest.raises(ConnectionTimedOut):
            conn.connect()
        assert not conn.connected


def test_connection_refused_is_temporary() -> None:
    from dugong import is_temp_network_error

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    conn = HTTPConnection("127.0.0.1", port)
    with pytest.raises(ConnectionRefusedError) as info:
        conn.send_request("GET", "/")
    assert is_temp_network_error(info.value)
    assert not conn.response_pending()


# ------------------------------------------------------------------ asyncio


def test_many_connections_under_asyncio_do_not_wait_for_each_other(
    raw_server: RawServerFactory,
) -> None:
    delay = 1.0

    def handler(sock: socket.socket) -> None:
        time.sleep(delay)  # a slow server: nothing for a while after accepting
        read_request(sock)
        send_all(sock, make_response(200, b"hi"))

    server = raw_server(handler)

    def co_fetch(conn: HTTPConnection) -> PollCoroutine[bytes]:
        yield from conn.co_send_request("GET", "/")
        yield from conn.co_read_response()
        return (yield from conn.co_readall())

    async def main() -> list[bytes]:
        conns = [HTTPConnection(server.host, server.port) for _ in range(200)]
        try:
            return list(await asyncio.gather(*(AioFuture(co_fetch(c)) for c in conns)))
        finally:
            for conn in conns:
                conn.disconnect()

    started = time.monotonic()
    assert asyncio.run(main()) == [b"hi"] * 200
    assert time.monotonic() - started < 10 * delay  # one at a time would take 200 delays
