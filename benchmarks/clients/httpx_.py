"""httpx (sync Client for a, c, d; AsyncClient for f and m, to hold many connections at once);
a, c and m over TLS too (``verify=`` the context of ``_common.tls_context``).

In m, after one GET per origin, PER_HOST workers per origin take the other requests from that
origin's queue, each to one ``AsyncClient`` per origin with the per-origin limit. Not what the
other clients of m do (every request handed over at once, the client's limits doing the rest),
for two reasons found in trials (httpx 0.29):

- httpx limits connections per client, not per origin, and one client limited to the same total
  (48) reconnected for nearly every request when the requests alternate between origins (1,983
  connections for 2,000 requests: its pool closes an idle connection to one origin to open one
  to another);
- with every request handed over at once, the time per request grows with the number waiting
  for a connection (2,000 requests: 339 req/s; 4,000: 198 req/s): 20,000 would take minutes.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from typing import Any

import _common as C
import httpx

NAME = "httpx"
VERSION = httpx.__version__


def main() -> None:
    args = C.parse_args(__doc__)
    n, size = args.count, args.size
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
                C.check_body(resp.status_code, len(resp.content), (201, 204), len(resp.content), i)
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=n * size, nbytes=n * size, meter=m)

    elif s == "f":
        asyncio.run(idle(args, base))

    elif s == "m":
        asyncio.run(many(args, verify))

    else:
        C.unsupported(NAME, s)


async def many(args: argparse.Namespace, verify: Any) -> None:
    """Scenario m: COUNT GETs spread over the origins, handed over at once."""
    C.raise_fd_limit()
    n, size = args.count, args.size
    urls = C.origin_urls(args)
    first, rest = C.spread(urls, n)
    # one client per origin: httpx limits connections per client, not per origin
    limits = httpx.Limits(
        max_connections=args.per_host, max_keepalive_connections=args.per_host, keepalive_expiry=300
    )
    # no pool timeout: requests wait for a connection as long as it takes, as in the others
    clients = {
        url: httpx.AsyncClient(trust_env=False, verify=verify, limits=limits, timeout=None) for url in urls
    }

    async def get(url: str, index: int) -> None:
        resp = await clients[url].get(url)
        if resp.status_code != 200 or len(resp.content) != size:
            C.check_body(resp.status_code, len(resp.content), 200, size, index)

    # the per-origin queues of the other requests, taken by PER_HOST workers per origin
    queues: dict[str, list[int]] = {url: [] for url in urls}
    for i, url in enumerate(rest, len(first)):
        queues[url].append(i)
    for queue in queues.values():
        queue.reverse()  # pop() takes them in order

    async def worker(url: str) -> None:
        queue = queues[url]
        while queue:
            await get(url, queue.pop())

    with C.Meter() as m:
        await asyncio.gather(*(get(url, i) for i, url in enumerate(first)))
        await asyncio.gather(*(worker(url) for url in urls for _ in range(args.per_host)))
    for client in clients.values():
        await client.aclose()
    C.emit(
        NAME,
        VERSION,
        args,
        requests=n,
        connections=None,
        units=n,
        nbytes=n * size,
        meter=m,
        origins=len(first),
    )


async def idle(args: argparse.Namespace, base: str) -> None:
    """Scenario f: COUNT concurrent GETs open COUNT connections, which then stay idle.

    A first client makes one GET, so that lazy imports and first-use allocations are in the
    baseline; the client that holds the COUNT connections exists before the baseline too.
    """
    C.raise_fd_limit()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=None)

    async def get(client: httpx.AsyncClient) -> None:
        resp = await client.get(args.path)
        C.check_body(resp.status_code, len(resp.content), 200, args.size, 0)

    async with (
        httpx.AsyncClient(base_url=base, trust_env=False, limits=limits) as warm,
        httpx.AsyncClient(base_url=base, trust_env=False, limits=limits) as client,
    ):
        await get(warm)
        before = C.settle()
        with C.Meter() as m:
            await asyncio.gather(*(get(client) for _ in range(args.count)))
        after = C.settle()
        C.emit(
            NAME,
            VERSION,
            args,
            requests=args.count + 1,
            connections=args.count + 1,
            units=args.count,
            nbytes=(args.count + 1) * args.size,
            meter=m,
            idle_bytes_per_conn=(after - before) / args.count,
            rss_before=before,
            rss_after=after,
        )


if __name__ == "__main__":
    main()
