"""aiohttp on asyncio (``--loop asyncio``) or uvloop (``--loop uvloop``): a, c, d, d100, e, f, m;
a, c, e and m over TLS too (the connector's ``ssl=`` the context of ``_common.tls_context``).

In m, one ``ClientSession`` whose connector has dugong.Client's limits (``limit`` in all,
``limit_per_host`` per origin) gets every request at once (``asyncio.gather``), as
``Client.fetch_all`` does, after one GET per origin."""

from __future__ import annotations

import argparse
import asyncio
import ssl
from collections.abc import AsyncIterator

import _common as C
import aiohttp

VERSION = aiohttp.__version__


def session(limit: int, ctx: ssl.SSLContext | None = None, per_host: int = 0) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=limit, limit_per_host=per_host, keepalive_timeout=300, ssl=ctx if ctx is not None else True
    )
    return aiohttp.ClientSession(connector=connector, auto_decompress=False)


async def scenario(args: argparse.Namespace, name: str, version: str) -> None:
    n, size = args.count, args.size
    s = args.scenario
    base = C.base_url(args)
    ctx = C.tls_context(args)

    if s == "a":
        url = base + args.path
        async with session(1, ctx) as client:
            with C.Meter() as m:
                for i in range(n):
                    async with client.get(url) as resp:
                        body = await resp.read()
                    if resp.status != 200 or len(body) != size:
                        C.check_body(resp.status, len(body), 200, size, i)
        C.emit(name, version, args, requests=n, connections=1, units=n, nbytes=n * size, meter=m)

    elif s == "c":
        # No readinto: iter_any() hands over each chunk as it arrives, its cheapest path.
        url = base + args.path
        total = 0
        async with session(1, ctx) as client:
            with C.Meter() as m:
                for i in range(n):
                    async with client.get(url) as resp:
                        got = 0
                        async for chunk in resp.content.iter_any():
                            got += len(chunk)
                    C.check_body(resp.status, got, 200, size, i)
                    total += got
        C.emit(name, version, args, requests=n, connections=1, units=total, nbytes=total, meter=m)

    elif s in ("d", "d100"):
        url = base + C.upload_path(args, name)
        buf = C.upload_buffer(args.bufsize)
        step = len(buf)

        async def chunks() -> AsyncIterator[bytes]:
            left = size
            while left:
                k = min(left, step)
                yield buf[:k]  # type: ignore[misc]  # aiohttp writes any bytes-like object
                left -= k

        async with session(1, ctx) as client:
            with C.Meter() as m:
                for i in range(n):
                    async with client.put(
                        url, data=chunks(), expect100=(s == "d100"), headers={"Content-Length": str(size)}
                    ) as resp:
                        body = await resp.read()
                    C.check_body(resp.status, len(body), (201, 204), len(body), i)
        C.emit(name, version, args, requests=n, connections=1, units=n * size, nbytes=n * size, meter=m)

    elif s == "e":
        C.raise_fd_limit()
        url = base + args.path
        async with session(args.conns, ctx) as client:

            async def worker(index: int) -> int:
                for i in range(n):
                    async with client.get(url) as resp:
                        body = await resp.read()
                    if resp.status != 200 or len(body) != size:
                        C.check_body(resp.status, len(body), 200, size, index * n + i)
                return n

            with C.Meter() as m:
                done = sum(await asyncio.gather(*(worker(j) for j in range(args.conns))))
        total = n * args.conns
        C.check(done == total, f"expected {total} responses, got {done}")
        C.emit(
            name,
            version,
            args,
            requests=total,
            connections=args.conns,
            units=total,
            nbytes=total * size,
            meter=m,
        )

    elif s == "m":
        C.raise_fd_limit()
        first, rest = C.spread(C.origin_urls(args), n)
        async with session(args.max_conns, ctx, args.per_host) as client:

            async def get(url: str, index: int) -> None:
                async with client.get(url) as resp:
                    body = await resp.read()
                if resp.status != 200 or len(body) != size:
                    C.check_body(resp.status, len(body), 200, size, index)

            with C.Meter() as m:
                await asyncio.gather(*(get(url, i) for i, url in enumerate(first)))
                await asyncio.gather(*(get(url, i) for i, url in enumerate(rest, len(first))))
        C.emit(
            name,
            version,
            args,
            requests=n,
            connections=None,
            units=n,
            nbytes=n * size,
            meter=m,
            origins=len(first),
        )

    elif s == "f":
        # COUNT concurrent GETs open COUNT connections, which then stay idle. A first session
        # makes one GET so that lazy imports and first-use allocations are in the baseline.
        C.raise_fd_limit()
        url = base + args.path

        async def get(client: aiohttp.ClientSession) -> None:
            async with client.get(url) as resp:
                body = await resp.read()
            C.check_body(resp.status, len(body), 200, size, 0)

        async with session(0) as warm, session(0) as client:
            await get(warm)
            before = C.settle()
            with C.Meter() as m:
                await asyncio.gather(*(get(client) for _ in range(n)))
            after = C.settle()
            C.emit(
                name,
                version,
                args,
                requests=n + 1,
                connections=n + 1,
                units=n,
                nbytes=(n + 1) * size,
                meter=m,
                idle_bytes_per_conn=(after - before) / n,
                rss_before=before,
                rss_after=after,
            )

    else:
        C.unsupported(name, s)


def main() -> None:
    args = C.parse_args(__doc__)
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(scenario(args, "aiohttp-uvloop", f"{VERSION} (uvloop {uvloop.__version__})"))
    else:
        asyncio.run(scenario(args, "aiohttp", VERSION))


if __name__ == "__main__":
    main()
