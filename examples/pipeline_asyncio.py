"""Pipelining with coroutines under asyncio: a sender and a reader, each an ``AioFuture``.

Both are dugong coroutines on one connection; ``AioFuture`` runs each on the
asyncio loop, waiting on the socket with ``add_reader``/``add_writer``.  The
URLs must all be on the same server.

    python examples/pipeline_asyncio.py http://127.0.0.1:8080/a http://127.0.0.1:8080/b
"""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import urlsplit

from dugong import AioFuture, HTTPConnection, PollCoroutine


def sender(conn: HTTPConnection, paths: list[str]) -> PollCoroutine[None]:
    for path in paths:
        yield from conn.co_send_request("GET", path)


def reader(conn: HTTPConnection, count: int) -> PollCoroutine[list[tuple[str, int, bytes]]]:
    responses = []
    for _ in range(count):
        resp = yield from conn.co_read_response()
        body = yield from conn.co_readall()
        responses.append((resp.path, resp.status, body))
    return responses


async def fetch_all(host: str, port: int | None, paths: list[str]) -> list[tuple[str, int, bytes]]:
    with HTTPConnection(host, port) as conn:
        # Connect first, so that the reader never finds no request pending.
        await AioFuture(conn.co_connect())
        sent = AioFuture(sender(conn, paths))
        responses, _ = await asyncio.wait_for(asyncio.gather(AioFuture(reader(conn, len(paths))), sent), 30)
        return responses


def main(argv: list[str]) -> int:
    urls = [urlsplit(u) for u in argv[1:]]
    if not urls or len({(u.scheme, u.hostname, u.port) for u in urls}) != 1 or urls[0].scheme != "http":
        print("usage: pipeline_asyncio.py URL... (http, all on one server)", file=sys.stderr)
        return 2
    host = urls[0].hostname
    assert host is not None
    responses = asyncio.run(fetch_all(host, urls[0].port, [u.path or "/" for u in urls]))
    for path, status, body in responses:
        print(f"GET {path}: {status}, {len(body)} bytes")
    print(f"{len(responses)} responses, {sum(len(b) for _, _, b in responses)} bytes, one connection")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
