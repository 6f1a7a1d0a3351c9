"""Typing tests (checked, never run): the connection observer and connection set-up.

An observer overrides the hooks it needs; the connection takes it as the
keyword-only ``observer=``, with ``timeout=``, ``happy_eyeballs_delay=`` and
``proxy_headers=``; :meth:`HTTPConnection.from_url` builds a connection
from a URL.

Checked by ``mypy --strict`` and by basedpyright in strict mode; ``assert_type``
pins what users get, and ``# type: ignore[code]  # pyright: ignore[rule]`` marks
misuse that must stay an error in both.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence

from typing_extensions import assert_type

from dugong import ConnectionObserver, HTTPConnection, HTTPResponse


class Timings(ConnectionObserver):
    """Overrides every hook: a trace of one or many connections."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.start = 0.0

    def resolution_started(self, conn: HTTPConnection, at: float, host: str, port: int) -> None:
        self.start = at
        self.lines.append(f"resolving {host}:{port} for {conn.hostname}")

    def resolution_finished(
        self,
        conn: HTTPConnection,
        at: float,
        host: str,
        addresses: Sequence[tuple[str, int] | tuple[str, int, int, int]],
    ) -> None:
        self.lines.append(f"{at - self.start:.3f} {host}: {[a[0] for a in addresses]}")

    def resolution_failed(self, conn: HTTPConnection, at: float, host: str, error: BaseException) -> None:
        self.lines.append(f"{host}: {error}")

    def connect_started(
        self, conn: HTTPConnection, at: float, address: tuple[str, int] | tuple[str, int, int, int]
    ) -> None:
        assert_type(address[1], int)

    def connect_finished(
        self,
        conn: HTTPConnection,
        at: float,
        address: tuple[str, int] | tuple[str, int, int, int],
        local_address: tuple[str, int] | tuple[str, int, int, int],
    ) -> None:
        self.lines.append(f"connected to {address[0]} from port {local_address[1]}")

    def connect_failed(
        self,
        conn: HTTPConnection,
        at: float,
        address: tuple[str, int] | tuple[str, int, int, int],
        error: OSError,
    ) -> None:
        assert_type(error.errno, int | None)

    def connect_abandoned(
        self, conn: HTTPConnection, at: float, address: tuple[str, int] | tuple[str, int, int, int]
    ) -> None:
        self.lines.append(f"gave up on {address[0]}")

    def tunnel_opened(self, conn: HTTPConnection, at: float, proxy: tuple[str, int], authority: str) -> None:
        self.lines.append(f"tunnel to {authority} through {proxy[0]}")

    def tls_finished(
        self, conn: HTTPConnection, at: float, version: str, cipher: str, peer_subject: str | None
    ) -> None:
        self.lines.append(f"{version} {cipher} {peer_subject or '(not verified)'}")

    def request_sent(self, conn: HTTPConnection, at: float, method: str, target: str) -> None:
        self.lines.append(f"> {method} {target}")

    def response_started(self, conn: HTTPConnection, at: float, method: str, target: str) -> None:
        self.lines.append(f"first byte after {at - self.start:.3f} s")

    def response_head_read(
        self, conn: HTTPConnection, at: float, response: HTTPResponse, http_version: str
    ) -> None:
        self.lines.append(f"< {http_version} {response.status} {response.reason}")

    def body_finished(self, conn: HTTPConnection, at: float, method: str, target: str) -> None:
        self.lines.append(f"body of {method} {target} read")

    def connection_closed(self, conn: HTTPConnection, at: float, reason: str) -> None:
        self.lines.append(f"closed: {reason}")


class OnlyClosures(ConnectionObserver):
    """Overrides one hook; the others are inherited no-ops."""

    def connection_closed(self, conn: HTTPConnection, at: float, reason: str) -> None:
        print(reason)


def construction() -> None:
    timings = Timings()
    conn = HTTPConnection(
        "www.example.org",
        timeout=10,
        happy_eyeballs_delay=0.1,
        observer=timings,
    )
    assert_type(conn.observer, ConnectionObserver | None)
    assert_type(conn.timeout, float | None)
    assert_type(conn.happy_eyeballs_delay, float)
    HTTPConnection("www.example.org", observer=OnlyClosures())
    tunnel = HTTPConnection(
        "www.example.org",
        ssl_context=ssl.create_default_context(),
        proxy=("proxy.example.net", 3128),
        proxy_headers={"Proxy-Authorization": "Basic dXNlcjpwYXNz"},
    )
    assert_type(tunnel, HTTPConnection)
    assert_type(HTTPConnection.from_url("https://www.example.org:8443/"), HTTPConnection)
    assert_type(
        HTTPConnection.from_url("http://www.example.org", timeout=5.0, observer=timings), HTTPConnection
    )


class Subclassed(HTTPConnection):
    pass


def subclass() -> None:
    assert_type(Subclassed.from_url("http://www.example.org"), Subclassed)


def misuse() -> None:
    HTTPConnection("www.example.org", None, None, None, None)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    HTTPConnection("www.example.org", observer=print)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    HTTPConnection("www.example.org", timeout="5")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    HTTPConnection("www.example.org", proxy_headers=[("Proxy-Authorization", "x")])  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    HTTPConnection.from_url(b"http://www.example.org")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    HTTPConnection.from_url("http://www.example.org", None)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    conn = HTTPConnection("www.example.org")
    conn.observer = Timings()  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
