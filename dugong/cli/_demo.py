"""``dugong demo``: a loopback HTTP/1.1 server in this process, and a few thousand requests to it.

The server is a threaded :mod:`socketserver` server with a deliberately small
HTTP/1.1 handler: it answers every complete request in what it received with
a response built in advance, and sends the answers to pipelined requests in
one ``sendall``.  The client is what ``dugong get`` runs
(:class:`dugong.Client`, through ``dugong.cli._fetch``): first with pipelining, then with one
request at a time, both over one keep-alive connection, every body compared
with the document it should be.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
from typing import Final

from .. import HTTPResponse
from ._fetch import Fetch, Plan, Sink, Totals, fetch_all
from ._output import DiscardSink, format_bytes, make_display, summary_line

__all__ = ["DemoServer", "document", "run_demo"]

_MAX_HEAD: Final = 64 * 1024
_NOT_FOUND: Final = (
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\nnot found\n"
)


def document(i: int) -> bytes:
    """The document served at ``/doc/<i>``: 100 to 4,099 bytes that name *i*."""
    size = 100 + (i * 2654435761) % 4000
    line = b"document %d of the dugong demo\n" % i
    return (line * (size // len(line) + 1))[:size]


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        responses = self.server.responses
        pending = b""
        while True:
            data = sock.recv(256 * 1024)
            if not data:
                return
            pending += data
            answers = []
            close = False
            while (end := pending.find(b"\r\n\r\n")) >= 0:
                head, pending = pending[:end], pending[end + 4 :]
                line, _, fields = head.partition(b"\r\n")
                method, _, rest = line.partition(b" ")
                target = rest.partition(b" ")[0]
                number = target[5:]
                if (
                    method == b"GET"
                    and target.startswith(b"/doc/")
                    and number.isdigit()
                    and int(number) < len(responses)
                ):
                    answers.append(responses[int(number)])
                else:
                    answers.append(_NOT_FOUND)
                if b"connection: close" in fields.lower():
                    close = True
                    break
            if answers:
                sock.sendall(b"".join(answers))
            if close or len(pending) > _MAX_HEAD:
                return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    responses: list[bytes]


class DemoServer:
    """Serves ``/doc/0`` ... ``/doc/<count-1>`` on 127.0.0.1 (a free port), in threads.

    The responses (head and body) are built once, when the server starts.
    Use it as a context manager.
    """

    def __init__(self, count: int) -> None:
        responses = []
        for i in range(count):
            body = document(i)
            responses.append(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body)
                + body
            )
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.responses = responses
        self.host = "127.0.0.1"
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="dugong-demo-server", daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        """``http://127.0.0.1:<port>`` followed by *path*."""
        return f"http://{self.host}:{self.port}{path}"

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the server."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _CheckSink:
    """Collects a body and compares it with the document it should be."""

    def __init__(self, index: int, problems: list[str]) -> None:
        self._index = index
        self._problems = problems
        self._body = bytearray()

    def write(self, data: memoryview) -> None:
        self._body += data

    def close(self, complete: bool) -> None:
        if complete and self._body != document(self._index):
            self._problems.append(
                f"/doc/{self._index}: got {len(self._body)} bytes that are not the document"
                f" ({len(document(self._index))} bytes)"
            )


def _fetch(server: DemoServer, count: int, depth: int, show: bool) -> tuple[Totals, list[str]]:
    fetches = [
        Fetch(
            url=server.url(f"/doc/{i}"), scheme="http", host=server.host, port=server.port, target=f"/doc/{i}"
        )
        for i in range(count)
    ]
    index = {id(fetch): i for i, fetch in enumerate(fetches)}
    problems: list[str] = []

    def check(fetch: Fetch, resp: HTTPResponse) -> Sink:
        if resp.status != 200:
            return DiscardSink()  # reported below
        return _CheckSink(index[id(fetch)], problems)

    plan = Plan(pipeline_depth=depth, max_connections=1, timeout=30.0)
    display = make_display(sys.stderr) if show else None
    totals = fetch_all(fetches, plan, check, display)
    for fetch in fetches:
        if not fetch.ok:
            problems.append(f"{fetch.target}: {fetch.error or f'{fetch.status} {fetch.reason}'}")
    return totals, problems


def _median(runs: list[Totals]) -> Totals:
    """The run of median duration (the upper one of an even number)."""
    return sorted(runs, key=lambda totals: totals.seconds)[len(runs) // 2]


def _rounds(
    server: DemoServer, count: int, depth: int, rounds: int, show: bool
) -> tuple[Totals, Totals, list[str]]:
    """Run *rounds* rounds of pipelined then sequential fetches; the median runs and the problems."""
    pipelined: list[Totals] = []
    sequential: list[Totals] = []
    problems: list[str] = []
    for number in range(1, rounds + 1):
        fast, found = _fetch(server, count, depth, show)
        slow, more = _fetch(server, count, 1, show)
        pipelined.append(fast)
        sequential.append(slow)
        problems += found + more
        print(
            f"  round {number}/{rounds}: pipelined {fast.seconds:.2f} s, one at a time {slow.seconds:.2f} s",
            flush=True,
        )
    return _median(pipelined), _median(sequential), problems


_LOOPBACK_NOTE: Final = """\
note: on loopback a round trip takes microseconds, so this understates what
pipelining saves over a real network, where every request that is sent ahead
saves a whole round trip (often tens of milliseconds)."""


def run_demo(count: int, depth: int, progress: bool | None, rounds: int = 5) -> int:
    """Run the demo and print what it did; return the exit status (0, or 1 if a check failed)."""
    show = sys.stderr.isatty() if progress is None else progress
    with DemoServer(count) as server:
        size = sum(len(document(i)) for i in range(count))
        print(
            f"dugong demo: a server in this process serves {count:,} documents"
            f" ({format_bytes(size)}) at {server.url('/doc/')}",
            flush=True,
        )
        print(
            f"{rounds} round{'s' if rounds != 1 else ''} of: pipelined, up to {depth} requests in flight,"
            " then one request at a time, over one connection each",
            flush=True,
        )
        pipelined, sequential, problems = _rounds(server, count, depth, rounds, show)
    for problem in problems[:10]:
        print(f"dugong demo: wrong response: {problem}", file=sys.stderr)
    if problems:
        print(f"dugong demo: {len(problems)} wrong responses", file=sys.stderr)
        return 1
    median = "median" if rounds > 1 else "the run"
    print(f"pipelined ({median}):\n  {summary_line(pipelined)}", flush=True)
    print(f"one request at a time ({median}):\n  {summary_line(sequential)}", flush=True)
    ratio = sequential.seconds / max(pipelined.seconds, 1e-9)
    print(
        f"all {2 * count * rounds:,} documents verified; pipelining was {ratio:.1f}x as fast"
        " as one request at a time (medians)"
    )
    print(_LOOPBACK_NOTE)
    return 0
