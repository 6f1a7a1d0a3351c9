"""The scenarios written once against the dugong API, which 3.x and 4.x share.

``dugong_.py`` runs them with this checkout's dugong, ``dugong3.py`` with dugong 3.8.2 (from
its own virtual environment). The code uses only what both versions have:
``HTTPConnection(host, port)``, ``send_request``, ``read_response``, ``readall``, ``readinto``,
``write``, ``BodyFollowing`` and the ``co_*`` coroutines that yield ``PollNeeded``.

Over TLS (``--tls-ca``) the connections take ``ssl_context=``, the one TLS argument both
versions have. Scenario e over TLS opens its first connection and makes its first GET before
the other connections start, so that with ``--tls-resume`` they can resume its session.
"""

from __future__ import annotations

import argparse
import select
import socket
import ssl
from collections import deque
from collections.abc import Callable, Generator, Iterable
from typing import Any

import _common as C

RunAll = Callable[[list[Generator[Any, None, Any]]], list[Any]]


class ResumingContext(ssl.SSLContext):
    """A client TLS context that resumes ``session`` (when set) and keeps the sockets it wraps.

    HOOK (issue 19, TLS session resumption): ``HTTPConnection`` takes no TLS session, so this
    context hands one to ``wrap_socket`` on its behalf (public ``ssl`` API only; the dugong
    code is unchanged). ``dugong.Client`` resumes sessions itself (run.py's m-tls), and dugong 4's
    ``HTTPConnection`` now takes ``ssl_session=``, but the scenarios here run on dugong 3.8.2 too,
    which has neither.
    """

    session: ssl.SSLSession | None = None

    def __init__(self, protocol: int) -> None:
        super().__init__()  # SSLContext.__new__ took the protocol
        self.wrapped: list[ssl.SSLSocket] = []

    def wrap_socket(self, sock: socket.socket, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        # dugong 4 passes its own ``ssl_session`` (None here), dugong 3 passes none
        if self.session is not None and kwargs.get("session") is None:
            kwargs["session"] = self.session
        wrapped = super().wrap_socket(sock, *args, **kwargs)
        self.wrapped.append(wrapped)
        return wrapped


def poll_run_all(coroutines: Iterable[Generator[Any, None, Any]]) -> list[Any]:
    """Run PollNeeded coroutines to completion with one select.poll(); returns their results.

    The scheduler a dugong 3 user writes by hand (3.x has no event loop). Each coroutine owns
    its own connection, so at most one coroutine waits on any fd.
    """
    crts = list(coroutines)
    results: list[Any] = [None] * len(crts)
    ready = deque(enumerate(crts))
    waiting: dict[int, tuple[int, Generator[Any, None, Any]]] = {}
    poller = select.poll()
    while True:
        while ready:
            i, crt = ready.popleft()
            try:
                need = next(crt)
            except StopIteration as stop:
                results[i] = stop.value
                continue
            waiting[need.fd] = (i, crt)
            poller.register(need.fd, need.mask)
        if not waiting:
            return results
        for fd, _ in poller.poll():
            ready.append(waiting.pop(fd))
            poller.unregister(fd)
    return results


def run(dugong: Any, name: str, version: str, args: argparse.Namespace, run_all: RunAll) -> None:
    host, port, n, size = args.host, args.port, args.count, args.size
    s = args.scenario
    ctx = C.tls_context(args, ResumingContext)

    def HTTPConnection(host: str, port: int) -> Any:
        return dugong.HTTPConnection(host, port, ssl_context=ctx)

    if s == "a":
        conn = HTTPConnection(host, port)
        path = args.path
        with C.Meter() as m:
            for i in range(n):
                conn.send_request("GET", path)
                resp = conn.read_response()
                body = conn.readall()
                if resp.status != 200 or len(body) != size:
                    C.check_body(resp.status, len(body), 200, size, i)
        C.emit(name, version, args, requests=n, connections=1, units=n, nbytes=n * size, meter=m)

    elif s == "b":
        # Blocking sends are safe with at most DEPTH small requests unanswered: they fit in the
        # socket buffers, so a send never waits for the server to drain responses we owe it.
        conn = HTTPConnection(host, port)
        path = args.path
        depth = min(args.depth, n)
        with C.Meter() as m:
            for _ in range(depth):
                conn.send_request("GET", path)
            sent = depth
            for i in range(n):
                resp = conn.read_response()
                body = conn.readall()
                if resp.status != 200 or len(body) != size:
                    C.check_body(resp.status, len(body), 200, size, i)
                if sent < n:
                    conn.send_request("GET", path)
                    sent += 1
        C.emit(name, version, args, requests=n, connections=1, units=n, nbytes=n * size, meter=m)

    elif s == "c":
        conn = HTTPConnection(host, port)
        buf = memoryview(bytearray(args.bufsize))
        total = 0
        with C.Meter() as m:
            for i in range(n):
                conn.send_request("GET", args.path)
                resp = conn.read_response()
                got = 0
                while True:
                    k = conn.readinto(buf)
                    if not k:
                        break
                    got += k
                C.check_body(resp.status, got, 200, size, i)
                total += got
        C.emit(name, version, args, requests=n, connections=1, units=total, nbytes=total, meter=m)

    elif s in ("d", "d100"):
        expect100 = s == "d100"
        conn = HTTPConnection(host, port)
        path = C.upload_path(args, name)
        buf = C.upload_buffer(args.bufsize)
        step = len(buf)
        BodyFollowing = dugong.BodyFollowing
        with C.Meter() as m:
            for i in range(n):
                conn.send_request("PUT", path, body=BodyFollowing(size), expect100=expect100)
                if expect100:
                    resp = conn.read_response()
                    if resp.status != 100:
                        C.fail(f"upload {i}: expected 100 Continue, got {resp.status}")
                left = size
                while left:
                    k = min(left, step)
                    conn.write(buf[:k])
                    left -= k
                resp = conn.read_response()
                body = conn.readall()
                C.check_body(resp.status, len(body), (201, 204), len(body), i)
        C.emit(name, version, args, requests=n, connections=1, units=n * size, nbytes=n * size, meter=m)

    elif s == "e" and ctx is not None:
        C.raise_fd_limit()
        path = args.path
        assert isinstance(ctx, ResumingContext)

        def tls_worker(conn: Any, index: int, start: int) -> Generator[Any, None, int]:
            for i in range(start, n):
                yield from conn.co_send_request("GET", path)
                resp = yield from conn.co_read_response()
                body = yield from conn.co_readall()
                if resp.status != 200 or len(body) != size:
                    C.check_body(resp.status, len(body), 200, size, index * n + i)
            return n - start

        with C.Meter() as m:
            # the first connection's first GET, alone: the others may resume its session
            first = HTTPConnection(host, port)
            first.send_request("GET", path)
            resp = first.read_response()
            body = first.readall()
            C.check_body(resp.status, len(body), 200, size, 0)
            if args.tls_resume:
                ctx.session = ctx.wrapped[0].session
            conns = [first] + [HTTPConnection(host, port) for _ in range(args.conns - 1)]
            done = 1 + sum(run_all([tls_worker(c, j, int(j == 0)) for j, c in enumerate(conns)]))
            resumed = sum(bool(sock.session_reused) for sock in ctx.wrapped)
            for conn in conns:
                conn.disconnect()
        total = n * args.conns
        C.check(done == total, f"expected {total} responses, got {done}")
        C.emit(
            name,
            version,
            args,
            requests=total,
            connections=args.conns,
            units=total,
            nbytes=total * size,
            meter=m,
            tls_resumed=resumed,
        )

    elif s == "e":
        C.raise_fd_limit()
        path = args.path

        def worker(index: int) -> Generator[Any, None, int]:
            conn = HTTPConnection(host, port)
            for i in range(n):
                yield from conn.co_send_request("GET", path)
                resp = yield from conn.co_read_response()
                body = yield from conn.co_readall()
                if resp.status != 200 or len(body) != size:
                    C.check_body(resp.status, len(body), 200, size, index * n + i)
            conn.disconnect()
            return n

        with C.Meter() as m:
            done = sum(run_all([worker(j) for j in range(args.conns)]))
        C.check(done == n * args.conns, f"expected {n * args.conns} responses, got {done}")
        total = n * args.conns
        C.emit(
            name,
            version,
            args,
            requests=total,
            connections=args.conns,
            units=total,
            nbytes=total * size,
            meter=m,
        )

    elif s == "f":

        def open_one() -> object:
            conn = HTTPConnection(host, port)
            conn.send_request("GET", args.path)
            resp = conn.read_response()
            body = conn.readall()
            C.check_body(resp.status, len(body), 200, size, 0)
            return conn

        C.idle_connections(name, version, args, open_one)

    else:
        C.unsupported(name, s)
