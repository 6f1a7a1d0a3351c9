"""Stream a download into a file with ``readinto``: no copy of the body in memory.

python examples/download.py http://127.0.0.1:8080/big.iso big.iso
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from dugong import HTTPConnection


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: download.py URL FILE", file=sys.stderr)
        return 2
    url = urlsplit(argv[1])
    if url.scheme != "http" or not url.hostname:
        print(f"download.py: not an http URL: {argv[1]}", file=sys.stderr)
        return 2

    with HTTPConnection(url.hostname, url.port) as conn:
        conn.timeout = 30
        conn.send_request("GET", url.path or "/")
        resp = conn.read_response()
        if resp.status != 200:
            conn.discard()
            print(f"download.py: {resp.status} {resp.reason}", file=sys.stderr)
            return 1
        buf = bytearray(256 * 1024)
        view = memoryview(buf)
        saved = 0
        with open(argv[2], "wb") as out:
            # Once dugong's own buffer is empty, the socket fills `buf` directly.
            while n := conn.readinto(buf):
                out.write(view[:n])
                saved += n

    print(f"saved {saved} bytes to {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
