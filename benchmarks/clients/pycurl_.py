"""pycurl (libcurl easy handles): a, c, d, d100, f; a and c over TLS too (``CAINFO``)."""

from __future__ import annotations

import _common as C
import pycurl

NAME = "pycurl"
VERSION = pycurl.version.split()[0] + " " + pycurl.version.split()[1]


class Sink:
    """The write callback: counts body bytes (libcurl hands over its own buffer's content)."""

    __slots__ = ("got",)

    def __init__(self) -> None:
        self.got = 0

    def write(self, data: bytes) -> None:
        self.got += len(data)


class Source:
    """The read callback: hands out the reused upload buffer, SIZE bytes in all.

    The upload is the deterministic content, whose byte at offset o is the buffer's byte at
    o % len(buffer), so a request for fewer bytes than the buffer holds continues where the
    previous one stopped.
    """

    __slots__ = ("left", "offset", "block", "view")

    def __init__(self, bufsize: int) -> None:
        self.view = C.upload_buffer(bufsize)
        self.block = self.view.tobytes()  # pycurl wants bytes: one object, returned whole
        self.left = 0
        self.offset = 0

    def start(self, size: int) -> None:
        self.left, self.offset = size, 0

    def read(self, n: int) -> bytes:
        block = self.block
        start = self.offset % len(block)
        k = min(n, self.left, len(block) - start)
        self.left -= k
        self.offset += k
        if k == len(block):
            return block
        return self.view[start : start + k].tobytes()


def handle(url: str, sink: Sink, ca: str | None = None) -> pycurl.Curl:
    c = pycurl.Curl()
    c.setopt(pycurl.URL, url)
    if ca is not None:
        c.setopt(pycurl.CAINFO, ca)
    c.setopt(pycurl.PROXY, "")
    c.setopt(pycurl.NOSIGNAL, 1)
    c.setopt(pycurl.WRITEFUNCTION, sink.write)
    return c


def main() -> None:
    args = C.parse_args(__doc__)
    n, size = args.count, args.size
    s = args.scenario
    base = C.base_url(args)

    if s in ("a", "c"):
        sink = Sink()
        c = handle(base + args.path, sink, args.tls_ca)
        if s == "c":
            c.setopt(pycurl.BUFFERSIZE, min(args.bufsize, 10 << 20))
        total = 0
        with C.Meter() as m:
            for i in range(n):
                sink.got = 0
                c.perform()
                status = c.getinfo(pycurl.RESPONSE_CODE)
                if status != 200 or sink.got != size:
                    C.check_body(status, sink.got, 200, size, i)
                total += sink.got
        C.check(c.getinfo(pycurl.NUM_CONNECTS) == 0 or n == 1, "libcurl reconnected")
        units = n if s == "a" else total
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=units, nbytes=total, meter=m)

    elif s in ("d", "d100"):
        sink = Sink()
        source = Source(args.bufsize)
        c = handle(base + C.upload_path(args, "pycurl"), sink)
        c.setopt(pycurl.UPLOAD, 1)
        c.setopt(pycurl.INFILESIZE_LARGE, size)
        c.setopt(pycurl.READFUNCTION, source.read)
        c.setopt(pycurl.UPLOAD_BUFFERSIZE, min(args.bufsize, 2 << 20))
        c.setopt(pycurl.HTTPHEADER, ["Expect: 100-continue" if s == "d100" else "Expect:"])
        with C.Meter() as m:
            for i in range(n):
                sink.got = 0
                source.start(size)
                c.perform()
                C.check(source.left == 0, f"upload {i}: {source.left} bytes not sent")
                C.check_body(c.getinfo(pycurl.RESPONSE_CODE), sink.got, (201, 204), sink.got, i)
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=n * size, nbytes=n * size, meter=m)

    elif s == "f":

        def open_one() -> object:
            sink = Sink()
            c = handle(base + args.path, sink)
            c.perform()
            C.check_body(c.getinfo(pycurl.RESPONSE_CODE), sink.got, 200, size, 0)
            return c, sink

        C.idle_connections(NAME, VERSION, args, open_one)

    else:
        C.unsupported(NAME, s)


if __name__ == "__main__":
    main()
