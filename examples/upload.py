"""Upload a file with ``BodyFollowing`` and ``Expect: 100-continue``.

The server sees the request head first and may refuse (say 401 or 413)
before a byte of the body is sent.

    python examples/upload.py http://127.0.0.1:8080/dav/file.bin file.bin
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

from dugong import BodyFollowing, HTTPConnection


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: upload.py URL FILE", file=sys.stderr)
        return 2
    url = urlsplit(argv[1])
    if url.scheme != "http" or not url.hostname:
        print(f"upload.py: not an http URL: {argv[1]}", file=sys.stderr)
        return 2
    size = os.path.getsize(argv[2])

    with HTTPConnection(url.hostname, url.port) as conn, open(argv[2], "rb") as source:
        conn.timeout = 30
        conn.send_request("PUT", url.path or "/", body=BodyFollowing(size), expect100=True)
        resp = conn.read_response()
        if resp.status != 100:
            # The final answer came instead of "100 Continue": nothing was uploaded.
            conn.discard()
            print(f"refused before the upload: {resp.status} {resp.reason}")
            return 1
        while chunk := source.read(64 * 1024):
            conn.write(chunk)
        resp = conn.read_response()
        answer = conn.readall()

    print(f"uploaded {size} bytes: {resp.status} {resp.reason}")
    sys.stdout.write(answer.decode("utf-8", "replace"))
    return 0 if resp.status < 400 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
