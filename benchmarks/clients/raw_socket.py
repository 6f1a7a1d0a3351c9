"""The Python floor: fixed request bytes on a plain socket, response bytes counted.

No HTTP parsing where it can be avoided: for the small file every response has the same
length on the wire (``--response-len``, measured once by run.py), so N responses are exactly
N * len bytes, and a wrong status or length would change that total. For the big file and
uploads, only the response head is parsed, for its status and Content-Length. Any client
library does at least this much work, so this is the rate a pure-Python client cannot beat.

Over TLS (``--tls-ca``) the same loops run on an ``ssl``-wrapped socket, reading with
``SSLSocket.recv_into`` straight into the buffer: the TLS floor. Scenario e over TLS makes
the handshakes non-blocking in its epoll loop; its first connection makes its first GET
before the others start, so that with ``--tls-resume`` they resume its session.
"""

from __future__ import annotations

import argparse
import select
import socket
import ssl
import sys

import _common as C

NAME = "raw-socket"
VERSION = sys.version.split()[0]


def connect(host: str, port: int, ctx: ssl.SSLContext | None = None) -> socket.socket:
    """A blocking connection; with *ctx*, over TLS (handshake done)."""
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ctx is not None:
        return ctx.wrap_socket(sock, server_hostname=host)
    return sock


def get_request(host: str, port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("ascii")


def fixed_responses(
    sock: socket.socket, req: bytes, resp_len: int, n: int, depth: int, buf: memoryview
) -> None:
    """Send *n* copies of *req*, at most *depth* unanswered, and read n * resp_len bytes."""
    batches = [b""] + [req * k for k in range(1, depth + 1)]
    total = n * resp_len
    sent = min(n, depth)
    sock.sendall(batches[sent])
    got = 0
    while got < total:
        k = sock.recv_into(buf)
        if not k:
            C.fail(f"server closed the connection after {got} of {total} bytes")
        got += k
        more = min(n, got // resp_len + depth) - sent
        if more > 0:
            sock.sendall(batches[more])
            sent += more
    if got != total:
        C.fail(f"expected {total} bytes ({n} responses of {resp_len}), got {got}")


def read_head(sock: socket.socket, buf: memoryview) -> tuple[int, int, int]:
    """Read up to the end of a response head.

    Returns (status, content_length, body bytes already in *buf* after the head); the
    head must fit in one recv (it does: nginx's are ~250 bytes).
    """
    n = 0
    while True:
        k = sock.recv_into(buf[n:])
        if not k:
            C.fail("server closed the connection in a response head")
        n += k
        data = bytes(buf[: min(n, 4096)])
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            break
        if n >= 4096:
            C.fail(f"no end of head in {data[:200]!r}")
    head = data[:end].decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    length = 0
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, length, n - (end + 4)


def read_response(sock: socket.socket, buf: memoryview) -> tuple[int, int]:
    """Read one whole response (head and Content-Length body); returns (status, body length)."""
    status, length, got = read_head(sock, buf)
    while got < length:
        k = sock.recv_into(buf)
        if not k:
            C.fail(f"server closed the connection after {got} of {length} body bytes")
        got += k
    if got != length:
        C.fail(f"expected {length} body bytes, got {got} (unexpected extra bytes)")
    return status, got


def concurrent_tls(
    args: argparse.Namespace, ctx: ssl.SSLContext, req: bytes, buf: memoryview
) -> tuple[C.Meter, int]:
    """Scenario e over TLS; returns the meter and how many connections resumed a session.

    As e without TLS, with a handshake state per connection. One response is one TLS record
    (nginx writes each with one SSL_write), so a readable socket has one to decrypt, and
    ``pending()`` catches the rare second record that OpenSSL already read. A record that
    holds no data (a session ticket) makes recv_into raise SSLWantReadError: wait again.
    """
    host, port, n, conns, resp_len = args.host, args.port, args.count, args.conns, args.response_len
    ep = select.epoll()
    with C.Meter() as m:
        first = connect(host, port, ctx)
        assert isinstance(first, ssl.SSLSocket)
        fixed_responses(first, req, resp_len, 1, 1, buf)
        session = first.session if args.tls_resume else None
        first.setblocking(False)
        socks: dict[int, ssl.SSLSocket] = {first.fileno(): first}
        to_send = {first.fileno(): n - 1}  # requests still to send on fd
        pending = {first.fileno(): 0}  # bytes of the current response still to read
        handshaking: set[int] = set()
        if n > 1:
            ep.register(first.fileno(), select.EPOLLOUT)
        for _ in range(conns - 1):
            raw = socket.socket()
            raw.setblocking(False)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = ctx.wrap_socket(raw, server_hostname=host, do_handshake_on_connect=False, session=session)
            sock.connect_ex((host, port))  # EINPROGRESS; then the handshake, when writable
            fd = sock.fileno()
            socks[fd], to_send[fd], pending[fd] = sock, n, 0
            handshaking.add(fd)
            ep.register(fd, select.EPOLLOUT)
        active = len(socks) if n > 1 else conns - 1
        resumed = 0
        while active:
            events = ep.poll(30)
            if not events:
                C.fail(f"no progress for 30 s with {active} connections unfinished")
            for fd, _ in events:
                sock = socks[fd]
                if fd in handshaking:
                    try:
                        sock.do_handshake()
                    except ssl.SSLWantReadError:
                        ep.modify(fd, select.EPOLLIN)
                        continue
                    except ssl.SSLWantWriteError:
                        ep.modify(fd, select.EPOLLOUT)
                        continue
                    handshaking.discard(fd)
                    resumed += bool(sock.session_reused)
                if pending[fd] == 0:
                    # handshake done, or (the first connection) its first response is read
                    sock.send(req)
                    to_send[fd] -= 1
                    pending[fd] = resp_len
                    ep.modify(fd, select.EPOLLIN)
                    continue
                while True:
                    try:
                        k = sock.recv_into(buf)
                    except ssl.SSLWantReadError:
                        break
                    if not k:
                        C.fail("server closed a connection")
                    pending[fd] -= k
                    if pending[fd] < 0:
                        C.fail(f"got {-pending[fd]} bytes more than {n} responses")
                    if pending[fd] == 0:
                        if to_send[fd]:
                            sock.send(req)
                            to_send[fd] -= 1
                            pending[fd] = resp_len
                        else:
                            ep.unregister(fd)
                            active -= 1
                            break
                    if not sock.pending():
                        break
        for sock in socks.values():
            sock.close()
    return m, resumed


def main() -> None:
    args = C.parse_args(__doc__)
    host, port, n, size = args.host, args.port, args.count, args.size
    s = args.scenario
    req = get_request(host, port, args.path)
    ctx = C.tls_context(args)

    if s in ("a", "b"):
        if args.response_len is None:
            C.fail("--response-len is required for scenarios a and b")
        depth = 1 if s == "a" else args.depth
        buf = memoryview(bytearray(256 * 1024))
        sock = connect(host, port, ctx)
        with C.Meter() as m:
            fixed_responses(sock, req, args.response_len, n, depth, buf)
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=n, nbytes=n * size, meter=m)

    elif s == "c":
        buf = memoryview(bytearray(args.bufsize))
        sock = connect(host, port, ctx)
        total = 0
        with C.Meter() as m:
            for i in range(n):
                sock.sendall(req)
                status, got = read_response(sock, buf)
                C.check_body(status, got, 200, size, i)
                total += got
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=total, nbytes=total, meter=m)

    elif s in ("d", "d100"):
        path = C.upload_path(args, "raw-socket")
        expect = "Expect: 100-continue\r\n" if s == "d100" else ""
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {size}\r\n{expect}\r\n"
        ).encode("ascii")
        body = C.upload_buffer(args.bufsize)
        step = len(body)
        buf = memoryview(bytearray(64 * 1024))
        sock = connect(host, port, ctx)
        with C.Meter() as m:
            for i in range(n):
                sock.sendall(head)
                if expect:
                    status, _, extra = read_head(sock, buf)
                    if status != 100 or extra:
                        C.fail(f"upload {i}: expected a bare 100 Continue, got {status}")
                left = size
                while left:
                    k = min(left, step)
                    sock.sendall(body[:k])
                    left -= k
                status, got = read_response(sock, buf)
                C.check_body(status, got, (201, 204), got, i)
        C.emit(NAME, VERSION, args, requests=n, connections=1, units=n * size, nbytes=n * size, meter=m)

    elif s == "e" and ctx is not None:
        if args.response_len is None:
            C.fail("--response-len is required for scenario e")
        C.raise_fd_limit()
        m, resumed = concurrent_tls(args, ctx, req, memoryview(bytearray(256 * 1024)))
        total = n * args.conns
        C.emit(
            NAME,
            VERSION,
            args,
            requests=total,
            connections=args.conns,
            units=total,
            nbytes=total * size,
            meter=m,
            tls_resumed=resumed,
        )

    elif s == "e":
        if args.response_len is None:
            C.fail("--response-len is required for scenario e")
        C.raise_fd_limit()
        total_conns, resp_len = args.conns, args.response_len
        buf = memoryview(bytearray(256 * 1024))
        ep = select.epoll()
        with C.Meter() as m:
            socks: dict[int, socket.socket] = {}
            to_send: dict[int, int] = {}  # requests still to send on fd
            pending: dict[int, int] = {}  # bytes of the current response still to read
            for _ in range(total_conns):
                sock = socket.socket()
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                try:
                    sock.connect((host, port))
                except BlockingIOError:
                    pass
                fd = sock.fileno()
                socks[fd], to_send[fd], pending[fd] = sock, n, 0
                ep.register(fd, select.EPOLLOUT)
            active = total_conns
            while active:
                events = ep.poll(30)
                if not events:
                    C.fail(f"no progress for 30 s with {active} connections unfinished")
                for fd, ev in events:
                    sock = socks[fd]
                    if pending[fd] == 0:
                        # connected, or the previous response is complete: send the next GET
                        sock.send(req)
                        to_send[fd] -= 1
                        pending[fd] = resp_len
                        if ev & select.EPOLLOUT:
                            ep.modify(fd, select.EPOLLIN)
                        continue
                    k = sock.recv_into(buf)
                    if not k:
                        C.fail("server closed a connection")
                    pending[fd] -= k
                    if pending[fd] < 0:
                        C.fail(f"got {-pending[fd]} bytes more than {n} responses")
                    if pending[fd] == 0:
                        if to_send[fd]:
                            sock.send(req)
                            to_send[fd] -= 1
                            pending[fd] = resp_len
                        else:
                            ep.unregister(fd)
                            active -= 1
        C.emit(
            NAME,
            VERSION,
            args,
            requests=n * total_conns,
            connections=total_conns,
            units=n * total_conns,
            nbytes=n * total_conns * size,
            meter=m,
        )
        for sock in socks.values():
            sock.close()

    elif s == "f":
        if args.response_len is None:
            C.fail("--response-len is required for scenario f")
        rbuf = memoryview(bytearray(64 * 1024))

        def open_one() -> object:
            sock = connect(host, port, ctx)
            fixed_responses(sock, req, args.response_len, 1, 1, rbuf)
            return sock

        C.idle_connections(NAME, VERSION, args, open_one)

    else:
        C.unsupported(NAME, s)


if __name__ == "__main__":
    main()
