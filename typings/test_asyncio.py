"""Typing tests (checked, never run): dugong coroutines awaited from asyncio with :class:`AioFuture`.

An :class:`AioFuture` is an :class:`asyncio.Future` of the coroutine's return
type, so ``await``, :func:`asyncio.gather`, :func:`asyncio.wait_for` and done
callbacks all see that type.

Checked by ``mypy --strict`` and by basedpyright in strict mode; ``assert_type``
pins what users get, and ``# type: ignore[code]  # pyright: ignore[rule]`` marks
misuse that must stay an error in both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator

from typing_extensions import assert_type

from dugong import AioFuture, HTTPConnection, HTTPResponse, PollCoroutine


def co_status_and_body(conn: HTTPConnection, path: str) -> PollCoroutine[tuple[int, bytes]]:
    yield from conn.co_send_request("GET", path)
    resp = yield from conn.co_read_response()
    body = yield from conn.co_readall()
    return resp.status, body


async def awaiting(conn: HTTPConnection) -> bytes:
    await AioFuture(conn.co_send_request("GET", "/"))
    resp = await AioFuture(conn.co_read_response())
    assert_type(resp, HTTPResponse)
    body = await AioFuture(conn.co_readall())
    assert_type(body, bytes)
    status, body = await AioFuture(co_status_and_body(conn, "/"))
    assert_type(status, int)
    return body


async def futures(conn: HTTPConnection) -> None:
    loop = asyncio.get_running_loop()
    future = AioFuture(conn.co_read_response(), loop=loop)
    assert_type(future, AioFuture[HTTPResponse])
    assert_type(AioFuture(conn.co_readall(), loop), AioFuture[bytes])
    plain: asyncio.Future[HTTPResponse] = future
    assert_type(plain.result(), HTTPResponse)
    assert_type(future.result(), HTTPResponse)
    assert_type(future.done(), bool)
    assert_type(future.cancel(), bool)
    assert_type(future.cancel("shutting down"), bool)
    assert_type(future.exception(), BaseException | None)

    def on_done(done: asyncio.Future[HTTPResponse]) -> None:
        print(done.result().status)

    future.add_done_callback(on_done)
    future.add_done_callback(lambda done: print(done.result().reason))


async def combining(one: HTTPConnection, two: HTTPConnection) -> None:
    resp, body = await asyncio.gather(AioFuture(one.co_read_response()), AioFuture(two.co_readall()))
    assert_type(resp, HTTPResponse)
    assert_type(body, bytes)
    assert_type(await asyncio.wait_for(AioFuture(one.co_readall()), timeout=5), bytes)
    task = asyncio.ensure_future(AioFuture(two.co_read(10)))
    assert_type(await task, bytes)
    assert_type(await asyncio.shield(AioFuture(one.co_discard())), None)


def from_sync_code(conn: HTTPConnection) -> bytes:
    async def main() -> bytes:
        return await AioFuture(conn.co_readall())

    return asyncio.run(main())


async def native() -> bytes:
    return b""


def co_not_dugong() -> Generator[str, None, bytes]:
    """Not a dugong coroutine: it yields ``str``, not :class:`PollNeeded`."""
    yield "ready?"
    return b""


async def misuse(conn: HTTPConnection) -> None:
    AioFuture(native())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    AioFuture(co_not_dugong())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    AioFuture(conn.readall())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    AioFuture(conn.co_readall)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    AioFuture(conn.co_readall(), loop=asyncio.new_event_loop)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await conn.co_readall()  # type: ignore[misc]  # pyright: ignore[reportGeneralTypeIssues]
    text: str = await AioFuture(conn.co_readall())  # type: ignore[arg-type]  # pyright: ignore[reportAssignmentType]
    wrong: AioFuture[str] = AioFuture(conn.co_readall())  # type: ignore[arg-type]  # pyright: ignore[reportAssignmentType]
    print(text, wrong)
