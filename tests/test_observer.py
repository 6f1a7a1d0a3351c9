"""The connection observer: connect-phase events against real sockets."""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Iterator, Sequence

import pytest

from dugong import ConnectionObserver, ConnectionRefused, HTTPConnection, HTTPResponse, ProxyError
from dugong._net import AddrInfo, SockAddr, default_resolver
from dugong._observer import EVENT_NAMES, Notifier, describe_subject, make_notifier
from tests.servers.proxy import ProxyServer
from tests.servers.raw import RawServerFactory, make_response, read_request, send_all
from tests.servers.tls import TLSServer
from tests.test_happy_eyeballs import blackhole
from tests.test_net import _addr, _closed_port


class Recorder(ConnectionObserver):
    """Records (event, details...) with the time of each event."""

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []
        self.times: list[float] = []
        self.conns: set[int] = set()

    def _add(self, conn: HTTPConnection, at: float, *event: object) -> None:
        self.conns.add(id(conn))
        self.times.append(at)
        self.events.append(event)

    def names(self) -> list[object]:
        return [event[0] for event in self.events]

    def resolution_started(self, conn: HTTPConnection, at: float, host: str, port: int) -> None:
        self._add(conn, at, "resolution_started", host, port)

    def resolution_finished(
        self, conn: HTTPConnection, at: float, host: str, addresses: Sequence[SockAddr]
    ) -> None:
        self._add(conn, at, "resolution_finished", host, list(addresses))

    def resolution_failed(self, conn: HTTPConnection, at: float, host: str, error: BaseException) -> None:
        self._add(conn, at, "resolution_failed", host, type(error).__name__)

    def connect_started(self, conn: HTTPConnection, at: float, address: SockAddr) -> None:
        self._add(conn, at, "connect_started", address)

    def connect_finished(
        self, conn: HTTPConnection, at: float, address: SockAddr, local_address: SockAddr
    ) -> None:
        self._add(conn, at, "connect_finished", address)

    def connect_failed(self, conn: HTTPConnection, at: float, address: SockAddr, error: OSError) -> None:
        self._add(conn, at, "connect_failed", address, type(error).__name__)

    def connect_abandoned(self, conn: HTTPConnection, at: float, address: SockAddr) -> None:
        self._add(conn, at, "connect_abandoned", address)

    def tunnel_opened(self, conn: HTTPConnection, at: float, proxy: tuple[str, int], authority: str) -> None:
        self._add(conn, at, "tunnel_opened", authority)

    def tls_finished(
        self, conn: HTTPConnection, at: float, version: str, cipher: str, peer_subject: str | None
    ) -> None:
        self._add(conn, at, "tls_finished", version, cipher, peer_subject)

    def connection_closed(self, conn: HTTPConnection, at: float, reason: str) -> None:
        self._add(conn, at, "connection_closed", reason)


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TLSServer]:
    with TLSServer() as server:
        yield server


def _answer_one(conn: socket.socket) -> None:
    read_request(conn)
    send_all(conn, make_response(200, body=b"ok"))


def test_plain_connection_events(raw_server: RawServerFactory) -> None:
    server = raw_server(_answer_one)
    recorder = Recorder()
    conn = HTTPConnection(
        "web.test",
        server.port,
        observer=recorder,
        timeout=10,
        resolver=lambda host, port: default_resolver("127.0.0.1", port),
    )
    before = time.monotonic()
    conn.send_request("GET", "/")
    conn.read_response()
    conn.readall()
    conn.disconnect()
    after = time.monotonic()
    address = ("127.0.0.1", server.port)
    assert recorder.events == [
        ("resolution_started", "web.test", server.port),
        ("resolution_finished", "web.test", [address]),
        ("connect_started", address),
        ("connect_finished", address),
        ("connection_closed", "disconnect() was called"),
    ]
    assert (
        before <= recorder.times[0]
        and recorder.times == sorted(recorder.times)
        and recorder.times[-1] <= after
    )
    assert conn.observer is recorder


def test_happy_eyeballs_events(raw_server: RawServerFactory) -> None:
    server = raw_server(lambda conn: None)
    recorder = Recorder()
    refused = ("127.0.0.1", _closed_port())
    with blackhole() as silent:
        addresses = [
            _addr(socket.AF_INET, *refused),
            _addr(socket.AF_INET, *silent),
            _addr(socket.AF_INET, server.host, server.port),
        ]
        conn = HTTPConnection(
            "dual.test",
            server.port,
            resolver=lambda h, p: addresses,
            observer=recorder,
            happy_eyeballs_delay=0.1,
            timeout=10,
        )
        conn.connect()
        conn.disconnect()
    good = (server.host, server.port)
    assert recorder.events[2:] == [
        ("connect_started", refused),
        ("connect_failed", refused, "ConnectionRefused"),
        ("connect_started", silent),
        ("connect_started", good),
        ("connect_finished", good),
        ("connect_abandoned", silent),
        ("connection_closed", "disconnect() was called"),
    ]
    times = dict(zip([(e[0], e[1]) for e in recorder.events], recorder.times))
    stagger = times[("connect_started", good)] - times[("connect_started", silent)]
    assert 0.1 <= stagger < 0.5


def test_failure_events() -> None:
    recorder = Recorder()
    port = _closed_port()
    conn = HTTPConnection("127.0.0.1", port, observer=recorder, timeout=10)
    with pytest.raises(ConnectionRefused):
        conn.connect()
    assert recorder.names() == [
        "resolution_started",
        "resolution_finished",
        "connect_started",
        "connect_failed",
    ]

    def nowhere(host: str, port: int) -> list[AddrInfo]:
        raise socket.gaierror(socket.EAI_SERVICE, "Servname not supported")

    recorder = Recorder()
    with pytest.raises(socket.gaierror):
        HTTPConnection("nowhere.test", observer=recorder, resolver=nowhere, timeout=10).connect()
    assert recorder.events[1:] == [("resolution_failed", "nowhere.test", "_ResolverError")]


def test_tls_events(tls_server: TLSServer) -> None:
    recorder = Recorder()
    with HTTPConnection(
        "localhost", tls_server.port, ssl_context=tls_server.client_context(), observer=recorder, timeout=10
    ) as conn:
        conn.connect()
        cipher = conn.get_ssl_cipher()
        assert cipher is not None
        subject = describe_subject(conn.get_ssl_peercert())
    (tls,) = [e for e in recorder.events if e[0] == "tls_finished"]
    assert tls == ("tls_finished", cipher[1], cipher[0], subject)
    assert subject is not None and subject.startswith("O=trustme")
    assert recorder.names()[-1] == "connection_closed"


def test_tls_failure_closes_with_a_reason(tls_server: TLSServer) -> None:
    recorder = Recorder()
    conn = HTTPConnection(
        "localhost", tls_server.port, ssl_context=ssl.create_default_context(), observer=recorder, timeout=10
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.connect()
    assert recorder.names()[-2:] == ["connect_finished", "connection_closed"]
    assert "CERTIFICATE_VERIFY_FAILED" in str(recorder.events[-1][1])
    assert str(recorder.events[-1][1]).startswith("opening the connection failed: ")


def test_tunnel_events(tls_server: TLSServer) -> None:
    recorder = Recorder()
    with ProxyServer() as proxy:
        with HTTPConnection(
            "localhost",
            tls_server.port,
            ssl_context=tls_server.client_context(),
            proxy=(proxy.host, proxy.port),
            observer=recorder,
            timeout=10,
        ) as conn:
            conn.connect()
    assert recorder.events[0] == ("resolution_started", proxy.host, proxy.port)
    assert ("tunnel_opened", f"localhost:{tls_server.port}") in recorder.events
    assert recorder.names().index("tunnel_opened") < recorder.names().index("tls_finished")


def test_refused_tunnel_closes_with_the_proxy_status() -> None:
    recorder = Recorder()
    with ProxyServer(refuse="403 Forbidden") as proxy:
        conn = HTTPConnection(
            "example.org",
            ssl_context=ssl.create_default_context(),
            proxy=(proxy.host, proxy.port),
            observer=recorder,
            timeout=10,
        )
        with pytest.raises(ProxyError):
            conn.connect()
    assert "tunnel_opened" not in recorder.names()
    assert recorder.events[-1][0] == "connection_closed" and "403" in str(recorder.events[-1][1])


def test_server_close_is_reported_with_its_reason(raw_server: RawServerFactory) -> None:
    def close_after(conn: socket.socket) -> None:
        read_request(conn)
        send_all(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    server = raw_server(close_after)
    recorder = Recorder()
    conn = HTTPConnection(server.host, server.port, observer=recorder, timeout=10)
    conn.send_request("GET", "/x")
    conn.read_response()
    assert conn.readall() == b"ok"
    assert recorder.events[-1] == (
        "connection_closed",
        "the server said 'Connection: close' in its response to GET /x",
    )


def test_an_observer_that_raises_is_logged_and_dropped(
    raw_server: RawServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = raw_server(lambda conn: None)
    calls: list[str] = []

    class Broken(ConnectionObserver):
        def connect_started(self, conn: HTTPConnection, at: float, address: SockAddr) -> None:
            calls.append("connect_started")
            raise RuntimeError("bug in the observer")

        def connection_closed(self, conn: HTTPConnection, at: float, reason: str) -> None:
            calls.append("connection_closed")

    conn = HTTPConnection(server.host, server.port, observer=Broken(), timeout=10)
    with caplog.at_level(logging.ERROR, logger="dugong"):
        conn.connect()
    conn.disconnect()
    assert calls == ["connect_started"]
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "connect_started" in record.getMessage() and record.exc_info is not None


class Silent(ConnectionObserver):
    """Overrides nothing."""


def test_no_observer_means_no_notifier() -> None:
    assert make_notifier(HTTPConnection("example.org"), None) is None
    assert make_notifier(HTTPConnection("example.org"), Silent()) is None  # overrides nothing
    conn = HTTPConnection("example.org", observer=Silent())
    assert conn._notify is None
    assert HTTPConnection("example.org")._notify is None


def test_a_structural_observer_needs_no_base_class(raw_server: RawServerFactory) -> None:
    raw_server(lambda conn: None)
    seen: list[str] = []

    class Duck:
        def connection_closed(self, conn: HTTPConnection, at: float, reason: str) -> None:
            seen.append(reason)

    notifier = Notifier(HTTPConnection("example.org"), Duck())  # type: ignore[arg-type]
    notifier.connection_closed("why")
    notifier.connect_started(("127.0.0.1", 1))  # not implemented: not called
    assert seen == ["why"]


def test_every_event_is_a_hook_with_a_notifier_method() -> None:
    for name in EVENT_NAMES:
        assert callable(getattr(ConnectionObserver, name))
        assert callable(getattr(Notifier, name))
    # A no-op base accepts every hook (tests/test_observer_requests.py watches real requests).
    base = Silent()
    conn = HTTPConnection("example.org")
    # The default hooks do nothing, whatever they are told.
    address = ("127.0.0.1", 80)
    base.resolution_started(conn, 0.0, "example.org", 80)
    base.resolution_finished(conn, 0.0, "example.org", [address])
    base.resolution_failed(conn, 0.0, "example.org", OSError())
    base.connect_started(conn, 0.0, address)
    base.connect_finished(conn, 0.0, address, address)
    base.connect_failed(conn, 0.0, address, OSError())
    base.connect_abandoned(conn, 0.0, address)
    base.tunnel_opened(conn, 0.0, ("proxy", 3128), "example.org:443")
    base.tls_finished(conn, 0.0, "TLSv1.3", "TLS_AES_128_GCM_SHA256", None)
    base.connection_closed(conn, 0.0, "why")
    response = HTTPResponse("GET", "/", 200, "OK", None, None)  # type: ignore[arg-type]
    base.request_sent(conn, 0.0, "GET", "/")
    base.response_started(conn, 0.0, "GET", "/")
    base.response_head_read(conn, 0.0, response, "HTTP/1.1")
    base.body_finished(conn, 0.0, "GET", "/")
    # A notifier calls overridden request/response hooks with the connection and a time.
    seen: list[tuple[object, ...]] = []

    class Requests(ConnectionObserver):
        def request_sent(self, conn: HTTPConnection, at: float, method: str, target: str) -> None:
            seen.append(("request_sent", method, target))

        def response_started(self, conn: HTTPConnection, at: float, method: str, target: str) -> None:
            seen.append(("response_started", method, target))

        def response_head_read(
            self, conn: HTTPConnection, at: float, response: HTTPResponse, http_version: str
        ) -> None:
            seen.append(("response_head_read", response.status, http_version))

        def body_finished(self, conn: HTTPConnection, at: float, method: str, target: str) -> None:
            seen.append(("body_finished", method, target))

    notifier = make_notifier(conn, Requests())
    assert notifier is not None
    notifier.request_sent("GET", "/")
    notifier.response_started("GET", "/")
    notifier.response_head_read(response, "HTTP/1.1")
    notifier.body_finished("GET", "/")
    notifier.tunnel_opened(("proxy", 1), "x:443")  # not overridden: nothing
    assert seen == [
        ("request_sent", "GET", "/"),
        ("response_started", "GET", "/"),
        ("response_head_read", 200, "HTTP/1.1"),
        ("body_finished", "GET", "/"),
    ]


def test_describe_subject() -> None:
    cert = {
        "subject": (
            (("commonName", "www.example.org"),),
            (("organizationName", "Example"),),
            (("serialNumber", "7"),),
        )
    }
    assert describe_subject(cert) == "CN=www.example.org, O=Example, serialNumber=7"
    assert describe_subject({}) is None
    assert describe_subject(None) is None
    assert describe_subject({"subject": ()}) is None
    assert describe_subject({"subject": "odd"}) is None
