"""Typing tests (checked, never run): the blocking :class:`HTTPConnection` API as users write it.

Checked by ``mypy --strict`` (``mypy.ini``) and by basedpyright in strict mode
(``pyproject.toml``).  ``assert_type`` pins what users get; a line ending in
``# type: ignore[code]  # pyright: ignore[rule]`` is misuse that both checkers
must keep reporting (an unneeded ignore fails either check).
"""

from __future__ import annotations

import io
import socket
import ssl

from typing_extensions import assert_type

from dugong import (
    BUFFER_SIZE,
    BodyFollowing,
    CaseInsensitiveDict,
    HTTPConnection,
    HTTPResponse,
    ResponseHeaders,
)

#: What a resolver returns per address, spelt out (dugong does not export a name for it).
UserAddrInfo = tuple[
    socket.AddressFamily, socket.SocketKind, int, str, tuple[str, int] | tuple[str, int, int, int]
]


def loopback_resolver(host: str, port: int) -> list[UserAddrInfo]:
    """A user's resolver: every name is 127.0.0.1."""
    return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]


def constructing() -> None:
    conn = HTTPConnection("example.org")
    assert_type(conn.hostname, str)
    assert_type(conn.port, int)
    assert_type(conn.ssl_context, ssl.SSLContext | None)
    assert_type(conn.proxy, tuple[str, int] | None)
    assert_type(conn.timeout, float | None)
    conn.timeout = 10.0
    conn.timeout = None
    HTTPConnection("example.org", 443, ssl_context=ssl.create_default_context(), proxy=("proxy", 3128))
    HTTPConnection("example.org", 8080, None, ("proxy", 3128))
    HTTPConnection("test.example", resolver=loopback_resolver)
    heads: list[bytes] = []
    tls = HTTPConnection(
        "example.org", ssl_context=ssl.create_default_context(), on_request_head=heads.append
    )
    assert_type(tls.get_ssl_session(), ssl.SSLSession | None)
    assert_type(tls.ssl_session, ssl.SSLSession | None)
    HTTPConnection("example.org", ssl_context=ssl.create_default_context(), ssl_session=tls.get_ssl_session())
    HTTPConnection("example.org", None, None, None, None)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    HTTPConnection(
        "test.example",
        resolver=lambda host, port: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))],
    )


def lifecycle() -> None:
    with HTTPConnection("example.org") as conn:
        assert_type(conn, HTTPConnection)
        conn.connect()
        assert_type(conn.closed, bool)
        assert_type(conn.connected, bool)
        assert_type(conn.readable(), bool)
        assert_type(conn.writable(), bool)
        assert_type(conn.seekable(), bool)
        conn.disconnect()
        conn.reset()
    conn.close()


def simple_get(conn: HTTPConnection) -> bytes:
    conn.send_request("GET", "/", headers={"Accept": "text/html"})
    resp = conn.read_response()
    assert_type(resp, HTTPResponse)
    assert_type(resp.status, int)
    assert_type(resp.reason, str)
    assert_type(resp.method, str)
    assert_type(resp.path, str)
    assert_type(resp.length, int | None)
    assert_type(resp.headers, ResponseHeaders)
    assert_type(conn.response_pending(), bool)
    return conn.readall()


def reading_bodies(conn: HTTPConnection) -> None:
    conn.read_response()
    assert_type(conn.read(), bytes)
    assert_type(conn.read(BUFFER_SIZE), bytes)
    assert_type(conn.read(None), bytes)
    buf = bytearray(BUFFER_SIZE)
    while n := conn.readinto(buf):
        assert_type(n, int)
    assert_type(conn.readinto(memoryview(buf)[:10]), int)
    assert_type(conn.readall(), bytes)
    conn.discard()
    assert_type(conn.read_raw(100), bytes)


def pipelining(conn: HTTPConnection, paths: list[str]) -> list[bytes]:
    for path in paths:
        conn.send_request("GET", path)
    conn.flush()
    bodies: list[bytes] = []
    for _ in paths:
        conn.read_response()
        bodies.append(conn.readall())
    return bodies


def uploading(conn: HTTPConnection, data: bytes) -> None:
    conn.send_request("POST", "/", body=data, headers=CaseInsensitiveDict(a="b"))
    conn.send_request("PUT", "/x", body=bytearray(data))
    conn.send_request("PUT", "/x", body=memoryview(data))
    conn.send_request("PUT", "/x", body=BodyFollowing(len(data)), expect100=True)
    resp = conn.read_response()
    if resp.status == 100:
        conn.write(data)
        conn.write(memoryview(data))
        conn.end_body()
    conn.send_request("PUT", "/chunked", body=BodyFollowing(None))
    conn.write(b"abc")
    conn.end_body()
    assert_type(BodyFollowing(3).length, int | None)


def trailers(conn: HTTPConnection) -> None:
    announced = BodyFollowing(None, trailers=("X-Checksum",))
    assert_type(announced.trailers, tuple[str, ...])
    conn.send_request("PUT", "/chunked", body=announced)
    conn.write(b"abc")
    conn.end_body(trailers={"X-Checksum": "900150983cd24fb0"})
    resp = conn.read_response()
    conn.discard()
    assert_type(resp.trailers, ResponseHeaders | None)
    if resp.trailers is not None:
        assert_type(resp.trailers.get("X-Checksum"), str | None)
    conn.end_body(trailers=[("X-A", "1")])  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    BodyFollowing(None, ("X-A",))  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


def tls(conn: HTTPConnection) -> None:
    assert_type(conn.get_ssl_peercert(), dict[str, object] | None)
    assert_type(conn.get_ssl_peercert(binary_form=False), dict[str, object] | None)
    assert_type(conn.get_ssl_peercert(binary_form=True), bytes | None)
    assert_type(conn.get_ssl_peercert(True), bytes | None)
    assert_type(conn.get_ssl_cipher(), tuple[str, str, int] | None)


def as_io_stream(conn: HTTPConnection) -> str:
    """A connection is enough of a raw stream for the io wrappers."""
    text = io.TextIOWrapper(conn, encoding="utf-8")
    assert_type(text.readline(), str)
    reader = io.BufferedReader(conn)
    assert_type(reader.read(10), bytes)
    assert_type(conn.name, str)
    assert_type(conn.isatty(), bool)
    for unsupported in (conn.fileno, conn.tell, conn.truncate):
        try:
            unsupported()
        except io.UnsupportedOperation:
            pass
    try:
        conn.seek(0, io.SEEK_END)
    except io.UnsupportedOperation:
        pass
    return text.read()


def misuse(conn: HTTPConnection) -> None:
    conn.send_request("GET", "/", body="text")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    conn.send_request("GET", "/", body=[b"a", b"b"])  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    conn.send_request(b"GET", "/")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    conn.send_request("GET", "/", headers={"X-Count": 1})  # type: ignore[dict-item]  # pyright: ignore[reportArgumentType]
    conn.write("text")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    conn.read("10")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    conn.readinto(10)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    conn.readinto(b"immutable")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    HTTPConnection("example.org", "80")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    HTTPConnection("example.org", proxy="proxy:3128")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    HTTPConnection("example.org", 80, None, None, loopback_resolver)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    BodyFollowing()  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    conn.closed = True  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
    status: str = conn.read_response().status  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    body: str = conn.readall()  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    cert: bytes = conn.get_ssl_peercert()  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    print(status, body, cert)
