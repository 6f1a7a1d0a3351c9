"""Setting up a connection: constructor keywords, from_url, host names, proxy headers, errors.

Every failure of a request is a DugongError; the network's errors keep their
standard class (tests against real sockets and a real TLS server).
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator

import pytest

from dugong import (
    ConnectionRefused,
    DugongError,
    HostnameNotResolvable,
    HTTPConnection,
    NetworkError,
    ProxyError,
    TLSCertificateError,
    TLSError,
    is_temp_network_error,
)
from dugong._net import AddrInfo, default_resolver
from tests.servers.proxy import ProxyServer
from tests.servers.raw import RawServerFactory, read_head, send_all
from tests.servers.tls import TLSServer
from tests.test_net import _closed_port

SECRET = "dXNlcjpodW50ZXIy"  # base64 of user:hunter2


class Resolver:
    """Records look-ups; answers with loopback addresses."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[AddrInfo]:
        self.calls.append(host)
        return default_resolver("127.0.0.1", port)


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TLSServer]:
    with TLSServer() as server:
        yield server


# ---------------------------------------------------------------------------
# Constructor keywords and from_url
# ---------------------------------------------------------------------------


def test_timeout_is_a_constructor_keyword_and_stays_an_attribute() -> None:
    conn = HTTPConnection("example.org", timeout=2.5)
    assert conn.timeout == 2.5
    conn.timeout = None
    assert conn.timeout is None
    assert HTTPConnection("example.org").timeout is None


@pytest.mark.parametrize(
    ("url", "host", "port", "tls"),
    [
        ("http://www.example.org", "www.example.org", 80, False),
        ("HTTP://WWW.Example.ORG/", "www.example.org", 80, False),
        ("https://www.example.org", "www.example.org", 443, True),
        ("https://www.example.org:8443/x?y#z", "www.example.org", 8443, True),
        ("http://[2001:db8::1]:8080/", "2001:db8::1", 8080, False),
        ("http://192.0.2.1", "192.0.2.1", 80, False),
    ],
)
def test_from_url(url: str, host: str, port: int, tls: bool) -> None:
    conn = HTTPConnection.from_url(url, timeout=3)
    assert (conn.hostname, conn.port, conn.timeout) == (host, port, 3)
    assert (conn.ssl_context is not None) is tls
    if tls:
        assert conn.ssl_context is not None
        assert conn.ssl_context.check_hostname
        assert conn.ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_from_url_uses_the_given_context_and_keywords(tls_server: TLSServer) -> None:
    context = tls_server.client_context()
    resolver = Resolver()
    with HTTPConnection.from_url(
        f"https://localhost:{tls_server.port}/", ssl_context=context, resolver=resolver, timeout=10
    ) as conn:
        assert conn.ssl_context is context
        conn.send_request("GET", "/5")
        assert conn.read_response().status == 200
        conn.readall()
    assert resolver.calls == ["localhost"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/", "not an http:// or https:// URL"),
        ("example.org", "not an http:// or https:// URL"),
        ("http:///path", "has no host"),
        ("http://example.org:http/", "invalid port"),
        ("http://example.org:99999/", "invalid port"),
    ],
)
def test_from_url_refuses_what_is_not_an_origin(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HTTPConnection.from_url(url)


def test_from_url_refuses_credentials_without_showing_them() -> None:
    with pytest.raises(ValueError) as info:
        HTTPConnection.from_url("https://user:hunter2@example.org/")
    assert "hunter2" not in str(info.value) and "user information" in str(info.value)
    with pytest.raises(ValueError) as info:
        HTTPConnection.from_url("gopher://user:hunter2@example.org/")
    assert "hunter2" not in str(info.value)


# ---------------------------------------------------------------------------
# Host names that are not host names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hostname", "message"),
    [
        ("http://example.org", "is a URL"),
        ("https://example.org/", "is a URL"),
        ("example.org:8080", r"carries a port: use HTTPConnection\('example.org', port=8080\)"),
        ("[2001:db8::1]:8080", r"carries a port: use HTTPConnection\('\[2001:db8::1\]', port=8080\)"),
        ("example.org/index.html", "contains '/'"),
        ("example.org:http", "contains ':' but is not an IPv6 address"),
        ("", "empty"),
        ("example .org", "white space"),
        ("example.org?x", "'?' or '#'"),
    ],
)
def test_a_host_name_that_is_not_one_fails_before_any_lookup(hostname: str, message: str) -> None:
    resolver = Resolver()
    with pytest.raises(ValueError, match=message):
        HTTPConnection(hostname, resolver=resolver)
    assert resolver.calls == []


def test_a_host_name_with_credentials_is_not_quoted() -> None:
    for hostname in ("user:hunter2@example.org", "http://user:hunter2@example.org"):
        with pytest.raises(ValueError) as info:
            HTTPConnection(hostname)
        assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "hostname",
    [
        "example.org",
        "EXAMPLE.org.",
        "192.0.2.1",
        "2001:db8::1",
        "[2001:db8::1]",
        "fe80::1%lo",
        "bücher.example",
        "_srv.example",
    ],
)
def test_real_host_names_are_accepted(hostname: str) -> None:
    conn = HTTPConnection(hostname)
    assert conn.hostname == hostname.strip("[]")


# ---------------------------------------------------------------------------
# proxy_headers
# ---------------------------------------------------------------------------


def test_proxy_headers_go_with_connect_only(raw_server: RawServerFactory) -> None:
    heads: list[bytes] = []

    def proxy(conn: socket.socket) -> None:
        heads.append(read_head(conn))
        send_all(conn, b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")

    server = raw_server(proxy)
    conn = HTTPConnection(
        "www.example.org",
        ssl_context=ssl.create_default_context(),
        proxy=(server.host, server.port),
        proxy_headers={"Proxy-Authorization": f"Basic {SECRET}", "X-Trace": "1"},
        timeout=10,
    )
    with pytest.raises(ProxyError) as info:
        conn.connect()
    assert info.value.status == 407
    assert SECRET not in str(info.value)
    assert heads == [
        b"CONNECT www.example.org:443 HTTP/1.1\r\nHost: www.example.org:443\r\n"
        + f"Proxy-Authorization: Basic {SECRET}\r\nX-Trace: 1\r\n\r\n".encode()
    ]


def test_proxy_headers_open_an_authenticated_tunnel(tls_server: TLSServer) -> None:
    with ProxyServer() as proxy:
        with HTTPConnection(
            "localhost",
            tls_server.port,
            ssl_context=tls_server.client_context(),
            proxy=(proxy.host, proxy.port),
            proxy_headers={"Proxy-Authorization": f"Basic {SECRET}"},
            timeout=10,
        ) as conn:
            conn.send_request("GET", "/7")
            assert conn.read_response().status == 200
            conn.readall()
        assert proxy.request_lines == [f"CONNECT localhost:{tls_server.port} HTTP/1.1"]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Proxy-Authorization": f"Basic {SECRET}\r\nX-Injected: 1"}, "the value is not shown"),
        ({"Bad Name": "x"}, "token"),
        ({"Host": "elsewhere"}, "must not set 'Host'"),
        ({"Content-Length": "5"}, "must not set"),
    ],
)
def test_invalid_proxy_headers_fail_without_showing_values(headers: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        HTTPConnection(
            "example.org",
            ssl_context=ssl.create_default_context(),
            proxy=("proxy", 3128),
            proxy_headers=headers,
        )
    assert SECRET not in str(info.value)


def test_proxy_headers_need_a_tunnel() -> None:
    for proxy in (None, ("proxy", 3128)):
        with pytest.raises(ValueError, match="CONNECT") as info:
            HTTPConnection(
                "example.org", proxy=proxy, proxy_headers={"Proxy-Authorization": f"Basic {SECRET}"}
            )
        assert SECRET not in str(info.value)
    HTTPConnection("example.org", proxy=("proxy", 3128), proxy_headers={})  # nothing to send: fine


# ---------------------------------------------------------------------------
# One exception family
# ---------------------------------------------------------------------------


def test_refused_is_a_dugong_error_and_a_connection_refused_error() -> None:
    port = _closed_port()
    conn = HTTPConnection("127.0.0.1", port, timeout=10)
    with pytest.raises(ConnectionRefusedError) as info:
        conn.send_request("GET", "/")
    error = info.value
    assert isinstance(error, ConnectionRefused) and isinstance(error, DugongError)
    assert isinstance(error, NetworkError) and isinstance(error, OSError)
    assert error.errno == errno.ECONNREFUSED
    assert f"127.0.0.1:{port}" in str(error)
    assert is_temp_network_error(error)


def test_untrusted_certificate_is_a_dugong_error_and_an_ssl_error(tls_server: TLSServer) -> None:
    conn = HTTPConnection("localhost", tls_server.port, ssl_context=ssl.create_default_context(), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        conn.connect()
    error = info.value
    assert isinstance(error, TLSCertificateError) and isinstance(error, TLSError)
    assert isinstance(error, DugongError) and isinstance(error, ssl.SSLError)
    assert isinstance(error, ssl.CertificateError)
    assert error.verify_code != 0 and error.verify_message
    assert error.reason == "CERTIFICATE_VERIFY_FAILED"
    assert isinstance(error.__cause__, ssl.SSLCertVerificationError)
    assert not is_temp_network_error(error)
    assert not conn.connected


def test_tls_protocol_error_is_a_dugong_error_and_an_ssl_error(raw_server: RawServerFactory) -> None:
    def plain_http(conn: socket.socket) -> None:
        conn.recv(4096)
        send_all(conn, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    server = raw_server(plain_http, check_errors=False)
    conn = HTTPConnection(server.host, server.port, ssl_context=ssl.create_default_context(), timeout=10)
    with pytest.raises(ssl.SSLError) as info:
        conn.connect()
    assert isinstance(info.value, TLSError) and isinstance(info.value, DugongError)
    assert not isinstance(info.value, ssl.SSLCertVerificationError)
    assert info.value.reason == "WRONG_VERSION_NUMBER"
    assert not is_temp_network_error(info.value)


def test_every_failure_of_a_request_is_a_dugong_error(tls_server: TLSServer) -> None:
    def not_found(host: str, port: int) -> list[AddrInfo]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    failures = [
        HTTPConnection("127.0.0.1", _closed_port(), timeout=10),
        HTTPConnection("127.255.255.255", 80, timeout=10),
        HTTPConnection("localhost", tls_server.port, ssl_context=ssl.create_default_context(), timeout=10),
        HTTPConnection("nowhere.test", resolver=not_found, timeout=10),
    ]
    caught: list[type[BaseException]] = []
    for conn in failures:
        try:
            conn.send_request("GET", "/")
        except DugongError as exc:
            caught.append(type(exc))
    assert len(caught) == len(failures)
    assert caught[-1] is HostnameNotResolvable or issubclass(caught[-1], DugongError)


def test_network_error_conversions() -> None:
    from dugong._errors import network_error

    twin = network_error(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))
    assert network_error(twin) is twin  # already a twin, nothing to add
    again = network_error(twin, "connecting to x:1")
    assert type(again) is ConnectionRefused and str(again).endswith("(connecting to x:1)")
    plain = network_error(OSError("odd"), "somewhere")
    assert type(plain) is NetworkError and plain.errno is None and str(plain) == "odd (somewhere)"
    assert str(network_error(OSError())) == "OSError"
    with pytest.raises(TypeError, match="must be a str"):
        HTTPConnection(b"example.org")  # type: ignore[arg-type]
