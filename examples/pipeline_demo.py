"""Pipelining demo: many GETs over ONE dugong connection, then one at a time.

The demo starts a loopback HTTP/1.1 server of its own (the stdlib's
``ThreadingHTTPServer``) that serves generated documents at ``/doc/<i>``.  It
then fetches N of them over a single :class:`dugong.HTTPConnection` with two
coroutines driven by a plain :func:`select.select` loop:

- the *sender* sends every request with ``conn.co_send_request('GET', path)``;
- the *reader* reads every response with ``conn.co_read_response()`` and
  ``conn.co_readall()`` and checks the body.

Each coroutine yields a :class:`dugong.PollNeeded` when it would block; the
loop waits until that fd is ready for that ``select.poll``-style mask
(:data:`dugong.POLLIN` / :data:`dugong.POLLOUT`) and resumes it.  Because the
sender never waits for a response, requests and responses overlap on the wire.

For comparison, the same documents are then fetched one request at a time
(send, read the response, send the next) by a single coroutine on the same
loop.  Run it as::

    python examples/pipeline_demo.py [--requests N]
"""

from __future__ import annotations

import argparse
import select
import socketserver
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

from dugong import POLLIN, POLLOUT, HTTPConnection, PollCoroutine, PollNeeded

#: Give up if no fd becomes ready for this many seconds.
STALL_TIMEOUT = 30.0


def document(i: int) -> bytes:
    """Return the document served at ``/doc/<i>``: 43 bytes to 4 KiB, unique to *i*."""
    return b"document %d of the dugong pipelining demo\n" % i * (1 + i % 97)


class _DemoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        number = self.path.removeprefix("/doc/")
        if self.path.startswith("/doc/") and number.isdigit():
            status, body = 200, document(int(number))
        else:
            status, body = 404, b"not found\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # Skip HTTPServer.server_bind's FQDN lookup of the address.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])


class DemoServer:
    """The demo's document server on 127.0.0.1 (a free port), in a thread."""

    def __init__(self) -> None:
        self._httpd = _DemoHTTPServer(("127.0.0.1", 0), _DemoHandler)
        self.host = "127.0.0.1"
        self.port = self._httpd.server_port
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


class Result(NamedTuple):
    """What one run transferred and how long it took."""

    requests: int
    bytes: int
    seconds: float

    def summary(self, label: str) -> str:
        """One line: requests, bytes, seconds and requests per second."""
        rate = self.requests / self.seconds if self.seconds > 0 else float("inf")
        return (
            f"{label:<11} {self.requests} requests, {self.bytes:,} bytes, "
            f"{self.seconds:.2f} s, {rate:,.0f} requests/s"
        )


class VerificationError(Exception):
    """A response was not the document that was asked for."""


def run_select_loop(coroutines: Sequence[PollCoroutine[None]]) -> None:
    """Run dugong coroutines to completion with :func:`select.select`.

    Each coroutine is resumed only when the fd of the :class:`PollNeeded` it
    yielded is ready for its mask (POLLIN: readable, POLLOUT: writable).  Two
    coroutines may wait on the same fd, e.g. a sender for POLLOUT and a reader
    for POLLIN.

    Raises:
        TimeoutError: no fd became ready for :data:`STALL_TIMEOUT` seconds.
    """
    waiting: dict[PollCoroutine[None], PollNeeded] = {}

    def step(crt: PollCoroutine[None]) -> None:
        try:
            waiting[crt] = next(crt)
        except StopIteration:
            waiting.pop(crt, None)

    for crt in coroutines:
        step(crt)
    while waiting:
        want_read = {w.fd for w in waiting.values() if w.mask & POLLIN}
        want_write = {w.fd for w in waiting.values() if w.mask & POLLOUT}
        readable, writable, _ = select.select(want_read, want_write, [], STALL_TIMEOUT)
        if not readable and not writable:
            raise TimeoutError(f"no progress for {STALL_TIMEOUT} s, waiting for {waiting}")
        for crt, want in list(waiting.items()):
            if (want.mask & POLLIN and want.fd in readable) or (want.mask & POLLOUT and want.fd in writable):
                step(crt)


def _check(i: int, status: int, body: bytes) -> None:
    if status != 200 or body != document(i):
        raise VerificationError(
            f"/doc/{i}: status {status}, {len(body)} bytes {body[:50]!r}..."
            f" (expected 200, {len(document(i))} bytes)"
        )


def fetch_pipelined(host: str, port: int, count: int) -> Result:
    """Fetch ``/doc/0`` ... ``/doc/<count-1>`` pipelined over one connection."""
    paths = [f"/doc/{i}" for i in range(count)]
    received = 0
    with HTTPConnection(host, port) as conn:
        # Connect first: from then on, whenever the sender is suspended, the
        # request it is sending is already queued, so the reader always has a
        # response to wait for and never overtakes the sender.
        conn.connect()

        def sender() -> PollCoroutine[None]:
            for path in paths:
                yield from conn.co_send_request("GET", path)

        def reader() -> PollCoroutine[None]:
            nonlocal received
            for i in range(count):
                resp = yield from conn.co_read_response()
                body = yield from conn.co_readall()
                _check(i, resp.status, body)
                received += len(body)

        start = time.perf_counter()
        run_select_loop([sender(), reader()])
        seconds = time.perf_counter() - start
    return Result(count, received, seconds)


def fetch_one_at_a_time(host: str, port: int, count: int) -> Result:
    """Fetch the same documents, sending each request after the last response."""
    received = 0
    with HTTPConnection(host, port) as conn:
        conn.connect()

        def client() -> PollCoroutine[None]:
            nonlocal received
            for i in range(count):
                yield from conn.co_send_request("GET", f"/doc/{i}")
                resp = yield from conn.co_read_response()
                body = yield from conn.co_readall()
                _check(i, resp.status, body)
                received += len(body)

        start = time.perf_counter()
        run_select_loop([client()])
        seconds = time.perf_counter() - start
    return Result(count, received, seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo and print one summary line per mode; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--requests", type=int, default=2000, help="number of GETs (default 2000)")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    with DemoServer() as server:
        try:
            pipelined = fetch_pipelined(server.host, server.port, args.requests)
            print(pipelined.summary("pipelined:"), flush=True)
            sequential = fetch_one_at_a_time(server.host, server.port, args.requests)
            print(sequential.summary("one by one:"), flush=True)
        except VerificationError as exc:
            print(f"pipeline_demo: wrong response: {exc}", file=sys.stderr)
            return 1
    if pipelined.seconds > 0:
        print(f"pipelining was {sequential.seconds / pipelined.seconds:.1f}x as fast")
    return 0


if __name__ == "__main__":
    sys.exit(main())
