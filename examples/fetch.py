"""Fetch one URL: print the status on standard error and the body on standard output.

python examples/fetch.py http://127.0.0.1:8080/index.html
"""

from __future__ import annotations

import ssl
import sys
from urllib.parse import urlsplit

from dugong import HTTPConnection


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: fetch.py URL", file=sys.stderr)
        return 2
    url = urlsplit(argv[1])
    if url.scheme not in ("http", "https") or not url.hostname:
        print(f"fetch.py: not an http(s) URL: {argv[1]}", file=sys.stderr)
        return 2
    tls = ssl.create_default_context() if url.scheme == "https" else None
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")

    with HTTPConnection(url.hostname, url.port, ssl_context=tls) as conn:
        conn.timeout = 30  # seconds without progress, in every phase
        conn.send_request("GET", path)
        resp = conn.read_response()
        body = conn.readall()

    print(f"{resp.status} {resp.reason}, {len(body)} bytes", file=sys.stderr)
    sys.stdout.buffer.write(body)
    return 0 if resp.status < 400 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
