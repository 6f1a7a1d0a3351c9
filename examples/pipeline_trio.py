"""dugong under trio: pipelining with a sender task and a reader task, then many connections at once.

Every dugong coroutine is awaited with ``run_async``, which waits with trio's
own ``wait_readable``/``wait_writable``.  First all the URLs go over one
connection: a sender task sends the requests and a reader task reads the
responses, in one nursery.  The sender tells the reader what it sent through a
memory channel, so the reader never asks for a response to a request that was
not sent yet (trio runs ready tasks in no fixed order).  Then each URL is
fetched over a connection of its own, all at once.  The URLs must all be on
the same server (``pip install dugong[trio]``).

    python examples/pipeline_trio.py http://127.0.0.1:8080/a http://127.0.0.1:8080/b
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import trio

from dugong import HTTPConnection, run_async

Response = tuple[str, int, bytes]


async def send_all(conn: HTTPConnection, paths: list[str], sent: trio.MemorySendChannel[str]) -> None:
    async with sent:
        for path in paths:
            await run_async(conn.co_send_request("GET", path))
            await sent.send(path)


async def read_all(conn: HTTPConnection, sent: trio.MemoryReceiveChannel[str], into: list[Response]) -> None:
    async with sent:
        async for path in sent:
            resp = await run_async(conn.co_read_response())
            into.append((path, resp.status, await run_async(conn.co_readall())))


async def pipelined(host: str, port: int | None, paths: list[str]) -> list[Response]:
    responses: list[Response] = []
    with HTTPConnection(host, port) as conn:
        sent, to_read = trio.open_memory_channel[str](len(paths))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_all, conn, paths, sent)
            nursery.start_soon(read_all, conn, to_read, responses)
    return responses


async def one_connection_each(host: str, port: int | None, paths: list[str]) -> list[Response]:
    results: dict[int, Response] = {}

    async def fetch(index: int, path: str) -> None:
        with HTTPConnection(host, port) as conn:
            await run_async(conn.co_send_request("GET", path))
            resp = await run_async(conn.co_read_response())
            results[index] = (path, resp.status, await run_async(conn.co_readall()))

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for index, path in enumerate(paths):
                nursery.start_soon(fetch, index, path)
    return [results[i] for i in range(len(paths))]


def main(argv: list[str]) -> int:
    urls = [urlsplit(u) for u in argv[1:]]
    if not urls or len({(u.scheme, u.hostname, u.port) for u in urls}) != 1 or urls[0].scheme != "http":
        print("usage: pipeline_trio.py URL... (http, all on one server)", file=sys.stderr)
        return 2
    host = urls[0].hostname
    assert host is not None
    paths = [u.path or "/" for u in urls]
    responses = trio.run(pipelined, host, urls[0].port, paths)
    for path, status, body in responses:
        print(f"GET {path}: {status}, {len(body)} bytes")
    print(f"{len(responses)} responses, {sum(len(b) for _, _, b in responses)} bytes, one connection")
    each = trio.run(one_connection_each, host, urls[0].port, paths)
    assert [(p, len(b)) for p, _, b in each] == [(p, len(b)) for p, _, b in responses]
    print(f"{len(each)} responses, {sum(len(b) for _, _, b in each)} bytes, {len(each)} connections at once")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
