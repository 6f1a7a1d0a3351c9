"""A dugong coroutine inside a program's own ``select`` loop.

The loop below already has work of its own (here a timer that ticks every
20 ms).  It runs one dugong coroutine alongside: whenever the coroutine
yields ``PollNeeded(fd, mask)``, the loop adds that fd to its ``select`` call
and resumes the coroutine once the fd is ready.

    python examples/select_loop.py http://127.0.0.1:8080/index.html
"""

from __future__ import annotations

import select
import sys
import time
from urllib.parse import urlsplit

from dugong import POLLIN, POLLOUT, HTTPConnection, HTTPResponse, PollCoroutine

TICK = 0.02


def fetch(conn: HTTPConnection, path: str) -> PollCoroutine[tuple[HTTPResponse, bytes]]:
    yield from conn.co_send_request("GET", path)
    resp = yield from conn.co_read_response()
    body = yield from conn.co_readall()
    return resp, body


def main(argv: list[str]) -> int:
    url = urlsplit(argv[1]) if len(argv) == 2 else None
    if url is None or url.scheme != "http" or not url.hostname:
        print("usage: select_loop.py URL (http)", file=sys.stderr)
        return 2

    ticks = turns = 0
    next_tick = time.monotonic() + TICK
    with HTTPConnection(url.hostname, url.port) as conn:
        crt = fetch(conn, url.path or "/")
        try:
            waiting = next(crt)
            while True:
                turns += 1
                readers = [waiting.fd] if waiting.mask & POLLIN else []
                writers = [waiting.fd] if waiting.mask & POLLOUT else []
                timeout = max(0.0, next_tick - time.monotonic())
                readable, writable, _ = select.select(readers, writers, [], timeout)
                if time.monotonic() >= next_tick:  # the loop's own work
                    ticks += 1
                    next_tick += TICK
                if readable or writable:
                    waiting = next(crt)
        except StopIteration as finished:
            resp, body = finished.value

    print(f"{resp.status} {resp.reason}: {len(body)} bytes in {turns} turns of the loop ({ticks} ticks)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
