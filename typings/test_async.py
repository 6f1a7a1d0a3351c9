"""Typing tests (checked, never run): dugong coroutines awaited with :func:`run_async` under trio and asyncio.

``await run_async(crt)`` is typed as the coroutine's result; only dugong
coroutines are accepted.  Checked by ``mypy --strict`` and basedpyright strict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Generator

import trio
from typing_extensions import assert_type

from dugong import HTTPConnection, HTTPResponse, PollCoroutine, run_async


def sender(conn: HTTPConnection, paths: list[str]) -> PollCoroutine[None]:
    for path in paths:
        yield from conn.co_send_request("GET", path)


def reader(conn: HTTPConnection, count: int) -> PollCoroutine[list[bytes]]:
    bodies: list[bytes] = []
    for _ in range(count):
        yield from conn.co_read_response()
        bodies.append((yield from conn.co_readall()))
    return bodies


async def with_trio(conn: HTTPConnection, paths: list[str]) -> list[bytes]:
    assert_type(await run_async(conn.co_connect()), None)
    assert_type(await run_async(conn.co_read_response()), HTTPResponse)
    bodies: list[bytes] = []

    async def read_all() -> None:
        bodies.extend(await run_async(reader(conn, len(paths))))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_async, sender(conn, paths))
        nursery.start_soon(read_all)
    with trio.move_on_after(5):
        assert_type(await run_async(conn.co_readall()), bytes)
    return bodies


async def with_asyncio(conn: HTTPConnection, paths: list[str]) -> None:
    _, bodies = await asyncio.gather(run_async(sender(conn, paths)), run_async(reader(conn, len(paths))))
    assert_type(bodies, list[bytes])
    body = await asyncio.wait_for(run_async(conn.co_readall()), 10)
    assert_type(body, bytes)
    task = asyncio.create_task(run_async(conn.co_read_response()))
    assert_type(task, asyncio.Task[HTTPResponse])


def not_awaited(conn: HTTPConnection) -> Awaitable[bytes]:
    return run_async(conn.co_readall())


def co_not_dugong() -> Generator[str, None, int]:
    yield "ready?"
    return 1


async def misuse(conn: HTTPConnection) -> None:
    async def native() -> int:
        return 1

    await run_async(native())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await run_async(co_not_dugong())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await run_async(conn.co_readall)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await run_async(conn.readall())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    text: str = await run_async(conn.co_readall())  # type: ignore[arg-type]  # pyright: ignore[reportAssignmentType]
    print(text)
