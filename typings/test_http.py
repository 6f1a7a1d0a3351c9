"""Client code checked by ``mypy --strict`` only (never run): the HTTP API as users write it.

``assert_type`` pins what users get; ``# type: ignore[code]`` marks misuse that
must stay an error (``warn_unused_ignores`` fails the check if it stops being one).
"""

from __future__ import annotations

import asyncio
import ssl
from typing_extensions import assert_type

from dugong import (
    BUFFER_SIZE,
    DNS_TEST_HOSTNAMES,
    MAX_HEADER_SIZE,
    MAX_LINE_SIZE,
    POLLIN,
    AioFuture,
    BodyFollowing,
    CaseInsensitiveDict,
    ConnectionClosed,
    HTTPConnection,
    HTTPResponse,
    PollCoroutine,
    PollNeeded,
    ResponseHeaders,
    eval_coroutine,
    is_temp_network_error,
)


def blocking(conn: HTTPConnection) -> None:
    conn.timeout = 10.0
    conn.send_request("GET", "/", headers={"Accept": "text/html"})
    resp = conn.read_response()
    assert_type(resp, HTTPResponse)
    assert_type(resp.status, int)
    assert_type(resp.reason, str)
    assert_type(resp.length, int | None)
    assert_type(resp.headers, ResponseHeaders)
    assert_type(resp.headers["Content-Type"], str | None)
    assert_type(resp.headers.get("X", "default"), str)
    assert_type(resp.headers.get_all("Set-Cookie"), list[str] | None)
    assert_type(conn.read(100), bytes)
    assert_type(conn.readinto(bytearray(10)), int)
    assert_type(conn.readall(), bytes)
    conn.discard()
    assert_type(conn.response_pending(), bool)
    conn.send_request("PUT", "/x", body=BodyFollowing(3), expect100=True)
    conn.write(b"abc")
    conn.write(memoryview(b"abc"))
    conn.send_request("PUT", "/x", body=BodyFollowing(None))
    conn.end_body()
    conn.send_request("POST", "/", body=b"data", headers=CaseInsensitiveDict(a="b"))
    conn.send_request("GET", "/", body="text")  # type: ignore[arg-type]
    conn.send_request(b"GET", "/")  # type: ignore[arg-type]
    conn.read("10")  # type: ignore[arg-type]
    assert_type(conn.get_ssl_peercert(binary_form=True), bytes | None)
    assert_type(conn.get_ssl_peercert(), dict[str, object] | None)
    assert_type(conn.get_ssl_cipher(), tuple[str, str, int] | None)


def coroutines(conn: HTTPConnection) -> PollCoroutine[bytes]:
    yield from conn.co_send_request("GET", "/")
    resp = yield from conn.co_read_response()
    assert_type(resp, HTTPResponse)
    body = yield from conn.co_readall()
    assert_type(body, bytes)
    return body


def driving(conn: HTTPConnection) -> None:
    crt = coroutines(conn)
    request = next(crt)
    assert_type(request, PollNeeded)
    assert_type(request.fd, int)
    assert_type(request.mask & POLLIN, int)
    assert_type(request.poll(1.0), bool)
    assert_type(eval_coroutine(coroutines(conn), timeout=5), bytes)
    eval_coroutine(conn.read(1))  # type: ignore[arg-type]


async def under_asyncio(conn: HTTPConnection) -> None:
    assert_type(await AioFuture(coroutines(conn)), bytes)
    future = AioFuture(conn.co_read_response(), loop=asyncio.get_running_loop())
    assert_type(future, AioFuture[HTTPResponse])


def constructing() -> None:
    HTTPConnection("example.org", 443, ssl_context=ssl.create_default_context(), proxy=("proxy", 3128))
    HTTPConnection("example.org", "80")  # type: ignore[arg-type]
    assert_type(BUFFER_SIZE + MAX_LINE_SIZE + MAX_HEADER_SIZE, int)
    assert_type(DNS_TEST_HOSTNAMES, tuple[tuple[str, int], ...])
    assert_type(is_temp_network_error(ConnectionClosed()), bool)
