"""httpx (sync Client for a, c, d; AsyncClient for f, to hold many connections at once); a and c
over TLS too (``verify=`` the context of ``_common.tls_context``)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Iterator

import httpx

import _common as C

NAME = "httpx"
VERSION = httpx.__version__


def main() -> None:
    args = C.parse_args(__doc__)
    host, port, n, size = args.host, args.port, args.count, args.size
    s = args.scenario
    base = C.base_url(args)
    verify = C.tls_context(args) or True

    if s == "a":
        client = httpx.Client(base_url=base, trust_env=False, verify=verify)
        path = args.path
        with C.Meter() as m:
            for i in range(n):
                resp = client.get(path)
                body = resp.content
                if resp.status_code != 200 or len(body) != size:
                    C.check_body(resp.status_code, len(body), 200, size, i)
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=n, nbytes=n * size, meter=m)

    elif s == "c":
        # httpx has no readinto: iter_raw() without a chunk size hands over what the
        # transport read, its cheapest path.
        client = httpx.Client(base_url=base, trust_env=False, verify=verify)
        total = 0
        with C.Meter() as m:
            for i in range(n):
                with client.stream("GET", args.path) as resp:
                    got = 0
                    for chunk in resp.iter_raw():
                        got += len(chunk)
                C.check_body(resp.status_code, got, 200, size, i)
                total += got
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=total, nbytes=total, meter=m)

    elif s == "d":
        client = httpx.Client(base_url=base, trust_env=False)
        path = C.upload_path(args, "httpx")
        buf = C.upload_buffer(args.bufsize)
        step = len(buf)

        def chunks() -> Iterator[bytes]:
            left = size
            while left:
                k = min(left, step)
                yield buf[:k]  # type: ignore[misc]  # httpx sends any bytes-like object
                left -= k

        with C.Meter() as m:
            for i in range(n):
                # An explicit Content-Length keeps httpx from chunking the iterator.
                resp = client.put(path, content=chunks(), headers={"Content-Length": str(size)})
                C.check_body(resp.status_code, len(resp.content), (201, 204),
                             len(resp.content), i)
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=n * size,
               nbytes=n * size, meter=m)

    elif s == "f":
        asyncio.run(idle(args, base))

    else:
        C.unsupported(NAME, s)


async def idle(args: argparse.Namespace, base: str) -> None:
    """Scenario f: COUNT concurrent GETs open COUNT connections, which then stay idle.

    A first client makes one GET, so that lazy imports and first-use allocations are in the
    baseline; the client that holds the COUNT connections exists before the baseline too.
    """
    C.raise_fd_limit()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None,
                          keepalive_expiry=None)

    async def get(client: httpx.AsyncClient) -> None:
        resp = await client.get(args.path)
        C.check_body(resp.status_code, len(resp.content), 200, args.size, 0)

    async with httpx.AsyncClient(base_url=base, trust_env=False, limits=limits) as warm, \
            httpx.AsyncClient(base_url=base, trust_env=False, limits=limits) as client:
        await get(warm)
        before = C.settle()
        with C.Meter() as m:
            await asyncio.gather(*(get(client) for _ in range(args.count)))
        after = C.settle()
        C.emit(NAME, VERSION, args, requests=args.count + 1, connections=args.count + 1,
               units=args.count, nbytes=(args.count + 1) * args.size, meter=m,
               idle_bytes_per_conn=(after - before) / args.count,
               rss_before=before, rss_after=after)

if __name__ == "__main__":
    main()
