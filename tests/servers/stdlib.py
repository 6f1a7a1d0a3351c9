"""A threaded stdlib HTTP/1.1 server with the routes the test suite needs.

Routes (anything else is ``404``; a known path with another method ``405``):

``GET|HEAD /bytes/<n>``
    ``body_for(n)`` with a ``Content-Length``.
``GET /chunked/<n>?chunk=<k>``
    ``body_for(n)`` as ``Transfer-Encoding: chunked``, in chunks of *k* bytes
    (default 1000; the last one may be shorter).
``GET /close/<n>``
    ``body_for(n)`` with ``Connection: close`` and no ``Content-Length``: the
    body ends when the server closes the connection.
``GET /status/<code>``
    That status (200-599) with a short body, or no body for 204 and 304.
``GET /headers``
    The request head exactly as received (request line, header lines and the
    empty line), as the body.
``POST|PUT /echo``
    Reads the body (``Content-Length`` or chunked) and answers with JSON
    ``{"method": ..., "length": n, "md5": hex, "headers": {...}}``; header
    names are lower-cased, repeated fields joined with ``", "``.  The stdlib
    sends ``100 Continue`` for ``Expect: 100-continue`` before the body is read.
``PUT /reject``
    ``403`` at once, without ``100 Continue`` and without reading the body,
    with ``Connection: close``; then it discards what the client still sends
    for a moment before closing, so the client sees the 403 rather than a
    reset.
``GET /slow/<seconds>/<n>``
    Sleeps, then answers like ``/bytes/<n>``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Final
from urllib.parse import parse_qs, urlsplit

__all__ = ["StdlibServer", "body_for"]

_LINE: Final = 64
_FILL: Final = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
_CACHED_UP_TO: Final = 4 * 1024 * 1024


def body_for(n: int) -> bytes:
    """Return a deterministic body of *n* bytes.

    The body is made of 64-byte lines ``b"<n>@<offset>|abcd...\\n"``: every line
    names the body's total size and its own offset, so a body that was cut,
    shifted, or taken from a response of another size never compares equal.

    Raises:
        ValueError: *n* is negative.
    """
    if n < 0:
        raise ValueError(f"negative body size {n}")
    if n <= _CACHED_UP_TO:
        return _cached_body(n)
    return _make_body(n)


def _make_body(n: int) -> bytes:
    out = bytearray()
    for offset in range(0, n, _LINE):
        prefix = b"%d@%d|" % (n, offset)
        out += prefix + _FILL[: _LINE - 1 - len(prefix)] + b"\n"
    del out[n:]
    return bytes(out)


_cached_body: Callable[[int], bytes] = functools.lru_cache(maxsize=64)(_make_body)


class _BadRequest(Exception):
    pass


class _RecordingReader(io.BufferedIOBase):
    """The handler's ``rfile``, remembering the lines read since :meth:`start`."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        super().__init__()
        self._raw = raw
        self._lines: list[bytes] | None = None

    def start(self) -> None:
        self._lines = []

    def stop(self) -> bytes:
        data = b"".join(self._lines or ())
        self._lines = None
        return data

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> bytes:
        line = self._raw.readline(size)
        if self._lines is not None:
            self._lines.append(line)
        return line

    def read(self, size: int | None = -1) -> bytes:
        return self._raw.read(size)

    def read1(self, size: int = -1) -> bytes:
        return self._raw.read1(size)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dugong-test/1.0"
    disable_nagle_algorithm = True
    # An idle keep-alive connection is dropped after this many seconds.
    timeout = 60

    server: _HTTPServer
    request_head: bytes = b""

    _ROUTES: ClassVar[dict[str, tuple[frozenset[str], int]]] = {
        # first path segment: (methods, number of further segments)
        "bytes": (frozenset({"GET", "HEAD"}), 1),
        "chunked": (frozenset({"GET"}), 1),
        "close": (frozenset({"GET"}), 1),
        "status": (frozenset({"GET"}), 1),
        "headers": (frozenset({"GET"}), 0),
        "echo": (frozenset({"POST", "PUT"}), 0),
        "reject": (frozenset({"PUT"}), 0),
        "slow": (frozenset({"GET"}), 2),
    }

    # ------------------------------------------------------------ plumbing

    def setup(self) -> None:
        super().setup()
        self._recorder = _RecordingReader(self.rfile)
        self.rfile = self._recorder

    def handle_one_request(self) -> None:
        self._recorder.start()
        super().handle_one_request()

    def parse_request(self) -> bool:
        try:
            return super().parse_request()
        finally:
            self.request_head = self._recorder.stop()

    def handle_expect_100(self) -> bool:
        if urlsplit(self.path).path == "/reject":
            return True  # answer 403 instead of 100 Continue
        self.server.owner._count("continues_sent")
        return super().handle_expect_100()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_GET

    # ------------------------------------------------------------ routing

    def _dispatch(self) -> None:
        self.server.owner._count("requests_seen")
        url = urlsplit(self.path)
        name, *args = url.path.strip("/").split("/")
        route = self._ROUTES.get(name)
        try:
            if route is None or len(args) != route[1]:
                self._read_body()
                self._send(HTTPStatus.NOT_FOUND, b"no such route\n")
                return
            if self.command not in route[0]:
                self._read_body()
                self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n")
                return
            getattr(self, "_route_" + name)(args, parse_qs(url.query))
        except _BadRequest as exc:
            self.close_connection = True
            self._send(HTTPStatus.BAD_REQUEST, f"{exc}\n".encode(), close=True)

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    @staticmethod
    def _int(text: str, low: int, high: int) -> int:
        try:
            value = int(text)
        except ValueError:
            raise _BadRequest(f"not a number: {text!r}") from None
        if not low <= value <= high:
            raise _BadRequest(f"{value} not in [{low}, {high}]")
        return value

    def _read_body(self) -> bytes:
        te = self.headers.get("Transfer-Encoding")
        if te is not None:
            if te.strip().lower() != "chunked":
                raise _BadRequest(f"unsupported Transfer-Encoding {te!r}")
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        n = self._int(length, 0, 1 << 40)
        body = self.rfile.read(n)
        if len(body) != n:
            raise ConnectionError(f"client sent {len(body)} of {n} body bytes")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            line = self.rfile.readline(65537)
            if not line.endswith(b"\n"):
                raise _BadRequest(f"bad chunk size line {line[:80]!r}")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest(f"bad chunk size line {line[:80]!r}") from None
            if size == 0:
                break
            data = self.rfile.read(size)
            if len(data) != size or self.rfile.read(2) != b"\r\n":
                raise _BadRequest("truncated chunk")
            chunks.append(data)
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # trailer fields
        return b"".join(chunks)

    # ------------------------------------------------------------ routes

    def _route_bytes(self, args: list[str], query: dict[str, list[str]]) -> None:
        n = self._int(args[0], 0, 1 << 34)
        self._send(HTTPStatus.OK, body_for(n), {"Content-Type": "application/octet-stream"})

    def _route_chunked(self, args: list[str], query: dict[str, list[str]]) -> None:
        n = self._int(args[0], 0, 1 << 34)
        k = self._int(query.get("chunk", ["1000"])[0], 1, 1 << 30)
        body = body_for(n)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for pos in range(0, n, k):
            piece = body[pos : pos + k]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")

    def _route_close(self, args: list[str], query: dict[str, list[str]]) -> None:
        n = self._int(args[0], 0, 1 << 34)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body_for(n))
        self.close_connection = True

    def _route_status(self, args: list[str], query: dict[str, list[str]]) -> None:
        code = self._int(args[0], 200, 599)
        if code in (204, 304):
            self.send_response(code)
            self.end_headers()
        else:
            self._send(code, f"status {code}\n".encode())

    def _route_headers(self, args: list[str], query: dict[str, list[str]]) -> None:
        self._send(HTTPStatus.OK, self.request_head, {"Content-Type": "text/plain"})

    def _route_echo(self, args: list[str], query: dict[str, list[str]]) -> None:
        body = self._read_body()
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        answer = {
            "method": self.command,
            "length": len(body),
            "md5": hashlib.md5(body, usedforsecurity=False).hexdigest(),
            "headers": headers,
        }
        self._send(
            HTTPStatus.OK,
            json.dumps(answer).encode(),
            {"Content-Type": "application/json"},
        )

    def _route_reject(self, args: list[str], query: dict[str, list[str]]) -> None:
        self._send(HTTPStatus.FORBIDDEN, b"rejected\n", close=True)
        self.wfile.flush()
        self._lingering_close()

    def _route_slow(self, args: list[str], query: dict[str, list[str]]) -> None:
        try:
            seconds = float(args[0])
        except ValueError:
            raise _BadRequest(f"not a number: {args[0]!r}") from None
        if not 0 <= seconds <= 60:
            raise _BadRequest(f"{seconds} not in [0, 60]")
        n = self._int(args[1], 0, 1 << 34)
        time.sleep(seconds)
        self._send(HTTPStatus.OK, body_for(n), {"Content-Type": "application/octet-stream"})

    def _lingering_close(self, seconds: float = 2.0) -> None:
        """Half-close, then discard input until the client closes (or *seconds*).

        Closing a socket with unread input makes the kernel send a reset, which
        can destroy the response before the client has read it.
        """
        sock: socket.socket = self.connection
        try:
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                if not sock.recv(65536):
                    break
        except OSError:
            pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: StdlibServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the FQDN of the address.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._connection_opened(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        # Called last, after the handler finished and handle_error() ran.
        try:
            super().shutdown_request(request)
        finally:
            self.owner._connection_closed(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is not None:
            self.owner._record_error(exc)


class StdlibServer:
    """A started :class:`http.server.ThreadingHTTPServer` on 127.0.0.1.

    Use it as a context manager or call :meth:`close`.  Every connection is
    served by a daemon thread; :meth:`close` shuts down the connections that
    are still open and waits for their threads.

    Attributes:
        host: ``"127.0.0.1"``.
        port: the port the server listens on.
        errors: exceptions that escaped a request handler (for example a
            client that reset the connection); they don't fail any test.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._lock = threading.Condition()
        self._open: set[socket.socket] = set()
        self._counters = {"requests_seen": 0, "connections_seen": 0, "continues_sent": 0}
        self.errors: list[BaseException] = []
        self._httpd = _HTTPServer((host, 0), _Handler)
        self._httpd.owner = self
        self.host: str = host
        self.port: int = self._httpd.server_port
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"stdlib-http-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def __enter__(self) -> StdlibServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def requests_seen(self) -> int:
        """Number of requests dispatched so far (all routes, 404s included)."""
        with self._lock:
            return self._counters["requests_seen"]

    @property
    def connections_seen(self) -> int:
        """Number of connections accepted so far."""
        with self._lock:
            return self._counters["connections_seen"]

    @property
    def continues_sent(self) -> int:
        """Number of ``100 Continue`` responses sent so far."""
        with self._lock:
            return self._counters["continues_sent"]

    @property
    def open_connections(self) -> int:
        """Number of connections currently open on the server side."""
        with self._lock:
            return len(self._open)

    def url(self, path: str = "/") -> str:
        """Return ``http://host:port`` followed by *path*."""
        return f"http://{self.host}:{self.port}{path}"

    def wait_idle(self, timeout: float = 10.0, *, connections: int = 0) -> bool:
        """Wait until no connection is open on the server side.

        Args:
            timeout: seconds to wait at most.
            connections: also wait until :attr:`connections_seen` is at least
                this (a client's ``connect()`` returns before the server
                accepted the connection).

        Returns:
            True if that happened within *timeout* seconds.
        """
        with self._lock:
            return self._lock.wait_for(
                lambda: not self._open and self._counters["connections_seen"] >= connections,
                timeout,
            )

    def close(self) -> None:
        """Stop listening, shut down open connections, wait for their threads."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        with self._lock:
            for sock in list(self._open):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._lock.wait_for(lambda: not self._open, 10.0)

    # ------------------------------------------------------------ internal

    def _count(self, name: str) -> None:
        with self._lock:
            self._counters[name] += 1

    def _connection_opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._counters["connections_seen"] += 1
            self._open.add(sock)
            self._lock.notify_all()

    def _connection_closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
            self._lock.notify_all()

    def _record_error(self, exc: BaseException) -> None:
        with self._lock:
            self.errors.append(exc)
