"""Many hosts at once with ``dugong.loop``: one connection per host, each pipelining.

The URLs are grouped by host; each group becomes one coroutine that sends
its requests and then reads the responses (fine for a few dozen requests per
host: they fit in the socket buffers).  ``run_all`` runs the coroutines
concurrently on a reactor, with the ``Statistics`` plugin attached.

    python examples/many_hosts.py http://a.example/x http://b.example/y http://a.example/z
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from dugong import HTTPConnection, PollCoroutine
from dugong.loop import Reactor, Statistics, run_all


def fetch(host: str, port: int | None, paths: list[str]) -> PollCoroutine[list[tuple[str, int, int]]]:
    conn = HTTPConnection(host, port)
    try:
        for path in paths:
            yield from conn.co_send_request("GET", path)
        results = []
        for path in paths:
            resp = yield from conn.co_read_response()
            body = yield from conn.co_readall()
            results.append((path, resp.status, len(body)))
        return results
    finally:
        conn.disconnect()


def main(argv: list[str]) -> int:
    hosts: dict[tuple[str, int | None], list[str]] = {}
    for arg in argv[1:]:
        url = urlsplit(arg)
        if url.scheme != "http" or not url.hostname:
            print(f"many_hosts.py: not an http URL: {arg}", file=sys.stderr)
            return 2
        hosts.setdefault((url.hostname, url.port), []).append(url.path or "/")
    if not hosts:
        print("usage: many_hosts.py URL...", file=sys.stderr)
        return 2

    stats = Statistics()
    with Reactor() as reactor:
        reactor.add_plugin(stats)
        results = run_all(
            (fetch(host, port, paths) for (host, port), paths in hosts.items()),
            max_concurrency=10,
            reactor=reactor,
        )

    for (host, port), responses in zip(hosts, results):
        size = sum(n for _, _, n in responses)
        statuses = sorted({status for _, status, _ in responses})
        print(f"{host}:{port}: {len(responses)} responses, {size} bytes, status {statuses}")
    print(f"reactor: {stats.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
