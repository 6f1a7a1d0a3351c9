"""The standard library's http.client: scenarios a, c, d and f (no pipelining, no 100-continue);
a and c over TLS too (``HTTPSConnection``)."""

from __future__ import annotations

import http.client
import sys

import _common as C

NAME = "http.client"
VERSION = sys.version.split()[0]


def main() -> None:
    args = C.parse_args(__doc__)
    host, port, n, size = args.host, args.port, args.count, args.size
    s = args.scenario
    ctx = C.tls_context(args)

    def connection() -> http.client.HTTPConnection:
        if ctx is None:
            return http.client.HTTPConnection(host, port)
        return http.client.HTTPSConnection(host, port, context=ctx)

    if s == "a":
        conn = connection()
        with C.Meter() as m:
            for i in range(n):
                conn.request("GET", args.path)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200 or len(body) != size:
                    C.check_body(resp.status, len(body), 200, size, i)
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=n, nbytes=n * size, meter=m)

    elif s == "c":
        conn = connection()
        buf = memoryview(bytearray(args.bufsize))
        total = 0
        with C.Meter() as m:
            for i in range(n):
                conn.request("GET", args.path)
                resp = conn.getresponse()
                got = 0
                while True:
                    k = resp.readinto(buf)
                    if not k:
                        break
                    got += k
                C.check_body(resp.status, got, 200, size, i)
                total += got
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=total, nbytes=total, meter=m)

    elif s == "d":
        conn = http.client.HTTPConnection(host, port)
        path = C.upload_path(args, "httpclient")
        buf = C.upload_buffer(args.bufsize)
        step = len(buf)
        with C.Meter() as m:
            for i in range(n):
                conn.putrequest("PUT", path, skip_accept_encoding=True)
                conn.putheader("Content-Length", str(size))
                conn.endheaders()
                left = size
                while left:
                    k = min(left, step)
                    conn.send(buf[:k])
                    left -= k
                resp = conn.getresponse()
                body = resp.read()
                C.check_body(resp.status, len(body), (201, 204), len(body), i)
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=n * size, nbytes=n * size, meter=m)

    elif s == "f":

        def open_one() -> object:
            conn = http.client.HTTPConnection(host, port)
            conn.request("GET", args.path)
            resp = conn.getresponse()
            body = resp.read()
            C.check_body(resp.status, len(body), 200, size, 0)
            return conn

        C.idle_connections(NAME, VERSION, args, open_one)

    else:
        C.unsupported(NAME, s)


if __name__ == "__main__":
    main()
