"""Pipelining with two threads: one sends every request, the other reads the responses.

A connection may be shared by exactly one sending thread and one reading
thread.  The URLs must all be on the same server.

    python examples/pipeline_threads.py http://127.0.0.1:8080/a http://127.0.0.1:8080/b
"""

from __future__ import annotations

import sys
import threading
from urllib.parse import urlsplit

from dugong import HTTPConnection


def main(argv: list[str]) -> int:
    urls = [urlsplit(u) for u in argv[1:]]
    if not urls or len({(u.scheme, u.hostname, u.port) for u in urls}) != 1 or urls[0].scheme != "http":
        print("usage: pipeline_threads.py URL... (http, all on one server)", file=sys.stderr)
        return 2
    host = urls[0].hostname
    assert host is not None
    paths = [u.path or "/" for u in urls]

    with HTTPConnection(host, urls[0].port) as conn:
        conn.timeout = 30
        conn.connect()
        # read_response() must not be called before its request was sent:
        # the semaphore counts the requests sent and not yet read.
        sent = threading.Semaphore(0)

        def send_all() -> None:
            for path in paths:
                conn.send_request("GET", path)
                sent.release()

        sender = threading.Thread(target=send_all)
        sender.start()
        total = 0
        for _ in paths:  # the responses come back in the order of the requests
            if not sent.acquire(timeout=30):
                raise TimeoutError("no request was sent for 30 s")
            resp = conn.read_response()
            body = conn.readall()
            total += len(body)
            print(f"GET {resp.path}: {resp.status}, {len(body)} bytes")
        sender.join()

    print(f"{len(paths)} responses, {total} bytes, one connection")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
