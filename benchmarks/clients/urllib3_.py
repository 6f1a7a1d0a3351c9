"""urllib3 2.x: one HTTPConnectionPool per connection; scenarios a, c, d and f; a and c over TLS
(``HTTPSConnectionPool`` with the context of ``_common.tls_context``)."""

from __future__ import annotations

from collections.abc import Iterator

import _common as C
import urllib3

NAME = "urllib3"
VERSION = urllib3.__version__


def main() -> None:
    args = C.parse_args(__doc__)
    host, port, n, size = args.host, args.port, args.count, args.size
    s = args.scenario

    ctx = C.tls_context(args)

    def pool() -> urllib3.HTTPConnectionPool:
        if ctx is not None:
            return urllib3.HTTPSConnectionPool(
                host, port, maxsize=1, block=True, retries=False, ssl_context=ctx
            )
        return urllib3.HTTPConnectionPool(host, port, maxsize=1, block=True, retries=False)

    if s == "a":
        p = pool()
        path = args.path
        with C.Meter() as m:
            for i in range(n):
                resp = p.request("GET", path)
                body = resp.data
                if resp.status != 200 or len(body) != size:
                    C.check_body(resp.status, len(body), 200, size, i)
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=n, nbytes=n * size, meter=m)

    elif s == "c":
        p = pool()
        buf = memoryview(bytearray(args.bufsize))
        total = 0
        with C.Meter() as m:
            for i in range(n):
                resp = p.request("GET", args.path, preload_content=False, decode_content=False)
                got = 0
                while True:
                    k = resp.readinto(buf)
                    if not k:
                        break
                    got += k
                resp.release_conn()
                C.check_body(resp.status, got, 200, size, i)
                total += got
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=total, nbytes=total, meter=m)

    elif s == "d":
        p = pool()
        path = C.upload_path(args, "urllib3")
        buf = C.upload_buffer(args.bufsize)
        step = len(buf)

        def chunks() -> Iterator[memoryview]:
            left = size
            while left:
                k = min(left, step)
                yield buf[:k]
                left -= k

        with C.Meter() as m:
            for i in range(n):
                # urllib3 sends each chunk with sock.sendall: any bytes-like object will do
                resp = p.urlopen(
                    "PUT",
                    path,
                    body=chunks(),  # type: ignore[arg-type]
                    headers={"Content-Length": str(size)},
                    chunked=False,
                )
                body = resp.data
                C.check_body(resp.status, len(body), (201, 204), len(body), i)
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=n * size, nbytes=n * size, meter=m)

    elif s == "f":

        def open_one() -> object:
            p = pool()
            resp = p.request("GET", args.path)
            C.check_body(resp.status, len(resp.data), 200, size, 0)
            return p

        C.idle_connections(NAME, VERSION, args, open_one)

    else:
        C.unsupported(NAME, s)


if __name__ == "__main__":
    main()
