"""Typing tests (checked, never run): ``co_*`` coroutines composed with ``yield from``.

A user's own generators call dugong's coroutines with ``yield from`` and
return values of their own; the return type must survive every level of
composition, and every driver (:func:`eval_coroutine` here, the reactor and
asyncio in the other files) must hand it back unchanged.

Checked by ``mypy --strict`` and by basedpyright in strict mode; ``assert_type``
pins what users get, and ``# type: ignore[code]  # pyright: ignore[rule]`` marks
misuse that must stay an error in both.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Generator, Iterable

from typing_extensions import assert_type

from dugong import (
    POLLIN,
    POLLOUT,
    BodyFollowing,
    HTTPConnection,
    HTTPResponse,
    PollCoroutine,
    PollNeeded,
    eval_coroutine,
)


def co_fetch(conn: HTTPConnection, path: str) -> PollCoroutine[tuple[HTTPResponse, bytes]]:
    """One request, composed from dugong's coroutines."""
    yield from conn.co_send_request("GET", path, headers={"Accept": "*/*"})
    resp = yield from conn.co_read_response()
    assert_type(resp, HTTPResponse)
    body = yield from conn.co_readall()
    assert_type(body, bytes)
    return resp, body


def co_fetch_all(conn: HTTPConnection, paths: Iterable[str]) -> PollCoroutine[list[bytes]]:
    """A second level: the user's coroutine composed from the user's coroutine."""
    bodies: list[bytes] = []
    for path in paths:
        resp, body = yield from co_fetch(conn, path)
        assert_type(resp, HTTPResponse)
        assert_type(body, bytes)
        bodies.append(body)
    return bodies


def co_every_method(conn: HTTPConnection, data: bytes) -> PollCoroutine[int]:
    """Each public ``co_*`` method, with the type its return value has after ``yield from``."""
    assert_type((yield from conn.co_connect()), None)
    assert_type((yield from conn.co_send_request("PUT", "/", body=BodyFollowing(None))), None)
    assert_type((yield from conn.co_write(data)), None)
    assert_type((yield from conn.co_end_body()), None)
    assert_type((yield from conn.co_end_body(trailers={"X-Sum": "1"})), None)
    assert_type((yield from conn.co_flush()), None)
    assert_type((yield from conn.co_read_response()), HTTPResponse)
    assert_type((yield from conn.co_read(10)), bytes)
    assert_type((yield from conn.co_read()), bytes)
    n = yield from conn.co_readinto(bytearray(10))
    assert_type(n, int)
    assert_type((yield from conn.co_readall()), bytes)
    assert_type((yield from conn.co_discard()), None)
    assert_type((yield from conn.co_read_raw(10)), bytes)
    return n


def co_wait_readable(sock: socket.socket) -> PollCoroutine[bytes]:
    """A user's low-level coroutine that yields its own :class:`PollNeeded`."""
    while True:
        try:
            return sock.recv(100)
        except BlockingIOError:
            yield PollNeeded(sock.fileno(), POLLIN)


def spelt_out(conn: HTTPConnection) -> Generator[PollNeeded, None, str]:
    """``PollCoroutine[T]`` is ``Generator[PollNeeded, None, T]``: either spelling works."""
    body = yield from conn.co_readall()
    return body.decode("latin-1")


def poll_needed(request: PollNeeded) -> None:
    assert_type(request.fd, int)
    assert_type(request.mask, int)
    fd, mask = request
    assert_type(fd, int)
    assert_type(mask, int)
    assert_type(request.mask & POLLIN, int)
    assert_type(POLLIN | POLLOUT, int)
    assert_type(request.poll(), bool)
    assert_type(request.poll(1.0), bool)
    assert_type(request.poll(None), bool)
    assert_type(PollNeeded(3, POLLOUT), PollNeeded)
    assert_type(PollNeeded(fd=3, mask=POLLIN | POLLOUT), PollNeeded)


def driving(conn: HTTPConnection) -> None:
    assert_type(eval_coroutine(co_fetch(conn, "/")), tuple[HTTPResponse, bytes])
    assert_type(eval_coroutine(co_fetch_all(conn, ["/a", "/b"]), timeout=5), list[bytes])
    assert_type(eval_coroutine(conn.co_read_response(), 2.5), HTTPResponse)
    assert_type(eval_coroutine(spelt_out(conn), None), str)
    assert_type(eval_coroutine(conn.co_discard()), None)


def driving_by_hand(conn: HTTPConnection) -> None:
    """A user's own ``select`` loop: step the coroutine with ``next()`` until it returns."""
    crt = co_fetch_all(conn, ["/"])
    assert_type(crt, PollCoroutine[list[bytes]])
    while True:
        try:
            request = next(crt)
        except StopIteration:
            break
        assert_type(request, PollNeeded)
        readers = [request.fd] if request.mask & POLLIN else []
        writers = [request.fd] if request.mask & POLLOUT else []
        select.select(readers, writers, [])
    crt.close()


def co_text_items() -> Generator[str, None, int]:
    """Not a dugong coroutine: it yields ``str``."""
    yield "item"
    return 1


async def native() -> bytes:
    return b""


def co_misuse(conn: HTTPConnection) -> PollCoroutine[None]:
    yield from co_text_items()  # type: ignore[misc]  # pyright: ignore[reportReturnType]
    # mypy only: pyright lets a generator ``yield from`` a native coroutine
    # (it models generator-based coroutines); it fails at run time.
    yield from native()  # type: ignore[misc]
    yield "PollNeeded(3, POLLIN)"  # type: ignore[misc]  # pyright: ignore[reportReturnType]
    yield (3, POLLIN)  # type: ignore[misc]  # pyright: ignore[reportReturnType]
    yield from conn.read_response()  # type: ignore[misc]  # pyright: ignore[reportGeneralTypeIssues]
    yield from conn.co_send_request("PUT", "/", body="text")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    yield from conn.co_write("text")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    text: str = yield from conn.co_readall()  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    count: str = yield from conn.co_readinto(bytearray(1))  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    print(text, count)


def co_returns_wrong_type(conn: HTTPConnection) -> PollCoroutine[bytes]:
    resp = yield from conn.co_read_response()
    return resp  # type: ignore[return-value]  # pyright: ignore[reportReturnType]


def misuse(conn: HTTPConnection) -> None:
    eval_coroutine(conn.read(1))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    eval_coroutine(conn.co_readall)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    eval_coroutine(co_text_items())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    eval_coroutine(conn.co_readall(), timeout="5")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    PollNeeded("3", POLLIN)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    PollNeeded(3, POLLIN).fd = 4  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
    body: str = eval_coroutine(conn.co_readall())  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    print(body)
