"""``www.example.org`` on loopback: the web site the code samples of the manual talk to.

The samples in ``docs/`` read like user code (``HTTPConnection('www.example.org')``);
``tests/test_doc_samples.py`` resolves the site's names to a :class:`DocSite`,
which serves plain HTTP and HTTPS (a certificate for :data:`SITE_NAMES` from a
``trustme`` CA) on two loopback ports.

Documents (anything else is ``404``):

``GET|HEAD /`` and ``/index.html``
    The home page, :data:`HOME_PAGE`.
``GET|HEAD /<name>.html``
    A short HTML page that names its path (:func:`page_for`).
``GET|HEAD /<name>.iso``
    ``body_for(ISO_SIZE)``: a large download.
``GET /<name>.txt``
    :data:`TEXT_LINES` numbered lines of text, sent with
    ``Transfer-Encoding: chunked``, ten lines per chunk, and the trailer
    field ``X-Line-Count``.
``GET /api/status``
    A small JSON document, ``Content-Type: application/json; charset=utf-8``.
``GET /slow/<name>``
    Like ``.html`` pages, after :data:`SLOW_DELAY` seconds.
``PUT|POST /<path>``
    Reads the body (``Content-Length`` or chunked; ``100 Continue`` first
    for ``Expect: 100-continue``) and answers ``201 Created`` (PUT) or
    ``200 OK`` (POST) with JSON ``{"path", "received", "md5"}``, and
    ``"trailers"`` (a list of ``[name, value]``) when a chunked body had some.
``PUT|POST /private/<path>``
    ``401 Unauthorized`` at once, without ``100 Continue`` and without
    reading the body, and closes the connection (lingering, so the client
    reads the answer rather than a reset).

Like Apache's default ``MaxKeepAliveRequests``, a connection is closed after
:data:`MAX_REQUESTS_PER_CONNECTION` requests, the last response saying
``Connection: close``.
"""

from __future__ import annotations

import hashlib
import json
import socket
import socketserver
import ssl
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

import trustme

from tests.servers.stdlib import body_for

__all__ = [
    "DocSite",
    "HOME_PAGE",
    "ISO_SIZE",
    "MAX_REQUESTS_PER_CONNECTION",
    "SITE_NAMES",
    "SLOW_DELAY",
    "TEXT_LINES",
    "page_for",
]

#: The host names the site answers to (and its certificate is for).
SITE_NAMES: Final = ("www.example.org", "example.org")
#: Size of every ``.iso`` download.
ISO_SIZE: Final = 3 * 1024 * 1024
#: Lines in every ``.txt`` document.
TEXT_LINES: Final = 100
#: Seconds ``/slow/...`` waits before it answers.
SLOW_DELAY: Final = 1.0
#: Requests served on one connection before the server closes it.
MAX_REQUESTS_PER_CONNECTION: Final = 100

HOME_PAGE: Final = b"""<!DOCTYPE html>
<html>
<head><title>Example Domain</title></head>
<body>
<h1>Example Domain</h1>
<p>This domain is for use in documentation examples.</p>
<p><a href="/about.html">About</a> <a href="/news.html">News</a></p>
</body>
</html>
"""

_STATUS_JSON: Final = json.dumps({"status": "ok", "motto": "Dugongs graze on seagrass"}).encode()


def page_for(path: str) -> bytes:
    """Return the HTML page served for *path* (other than the home page)."""
    return f"<!DOCTYPE html>\n<title>{path}</title>\n<p>This is {path}.</p>\n".encode()


def _text_line(n: int) -> bytes:
    return b"line %d of %d\n" % (n, TEXT_LINES)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ExampleServer/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 30

    server: _Server
    requests_here = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_expect_100(self) -> bool:
        if self.path.startswith("/private/"):
            return True  # answer 401 instead of 100 Continue
        return super().handle_expect_100()

    # ------------------------------------------------------------ responses

    def _answer(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
        *,
        close: bool = False,
    ) -> None:
        self.requests_here += 1
        close = close or self.requests_here >= MAX_REQUESTS_PER_CONNECTION
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _answer_chunked(self, pieces: list[bytes], content_type: str, trailers: bytes = b"") -> None:
        self.requests_here += 1
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        if self.requests_here >= MAX_REQUESTS_PER_CONNECTION:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        for piece in pieces:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n%s\r\n" % trailers)

    # ------------------------------------------------------------ methods

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path in ("/", "/index.html"):
            self._answer(HTTPStatus.OK, HOME_PAGE)
        elif path.endswith(".html") and "/" not in path[1:]:
            self._answer(HTTPStatus.OK, page_for(path))
        elif path.endswith(".iso") and "/" not in path[1:]:
            self._answer(HTTPStatus.OK, body_for(ISO_SIZE), "application/octet-stream")
        elif path.endswith(".txt") and self.command == "GET":
            lines = [_text_line(n) for n in range(1, TEXT_LINES + 1)]
            chunks = [b"".join(lines[i : i + 10]) for i in range(0, len(lines), 10)]
            self._answer_chunked(chunks, "text/plain; charset=utf-8", b"X-Line-Count: %d\r\n" % len(lines))
        elif path == "/api/status":
            self._answer(HTTPStatus.OK, _STATUS_JSON, "application/json; charset=utf-8")
        elif path.startswith("/slow/"):
            time.sleep(SLOW_DELAY)
            self._answer(HTTPStatus.OK, page_for(path))
        else:
            self._answer(HTTPStatus.NOT_FOUND, b"<!DOCTYPE html>\n<title>Not Found</title>\n")

    do_HEAD = do_GET

    def do_PUT(self) -> None:
        if self.path.startswith("/private/"):
            self._answer(HTTPStatus.UNAUTHORIZED, b"Unauthorized\n", "text/plain", close=True)
            self.wfile.flush()
            self._lingering_close()
            return
        body, trailers = self._read_body()
        answer: dict[str, object] = {
            "path": self.path,
            "received": len(body),
            "md5": hashlib.md5(body, usedforsecurity=False).hexdigest(),
        }
        if trailers:
            answer["trailers"] = trailers
        status = HTTPStatus.CREATED if self.command == "PUT" else HTTPStatus.OK
        self._answer(status, json.dumps(answer).encode(), "application/json")

    do_POST = do_PUT

    def _read_body(self) -> tuple[bytes, list[list[str]]]:
        """The request body, and its trailer fields (``[name, value]``)."""
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            parts: list[bytes] = []
            while size := int(self.rfile.readline(100).split(b";")[0], 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)
            trailers: list[list[str]] = []
            while (line := self.rfile.readline(65537)) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                trailers.append([name, value.strip()])
            return b"".join(parts), trailers
        return self.rfile.read(int(self.headers.get("Content-Length") or 0)), []

    def _lingering_close(self) -> None:
        """Half-close, then discard what the client still sends (for a moment)."""
        sock: socket.socket = self.connection
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(2.0)
            while sock.recv(65536):
                pass
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None
    owner: DocSite

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the name of the address.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "www.example.org", self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.tls is not None:
            # The handshake happens in the connection's own thread, on first use.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._opened(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            self.owner._closed(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that go away early (the timeout samples do) are no error here."""


class DocSite:
    """The site on two loopback ports: :attr:`http_port` and :attr:`https_port`.

    Use it as a context manager or call :meth:`close`, which also ends the
    connections still open.

    Attributes:
        host: ``"127.0.0.1"``.
        http_port: the port of plain HTTP.
        https_port: the port of HTTPS.
        ca: the ``trustme`` CA that issued the site's certificate.
    """

    host: str = "127.0.0.1"

    def __init__(self) -> None:
        self.ca = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*SITE_NAMES).configure_cert(server_context)
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        for tls in (None, server_context):
            server = _Server((self.host, 0), _Handler)
            server.tls = tls
            server.owner = self
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        self.http_port: int = self._servers[0].server_address[1]
        self.https_port: int = self._servers[1].server_address[1]

    def __enter__(self) -> DocSite:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def trust(self, context: ssl.SSLContext) -> None:
        """Make *context* trust the site's certificate."""
        self.ca.configure_trust(context)

    def close(self) -> None:
        """Stop both servers and shut down the connections still open."""
        for server, thread in zip(self._servers, self._threads):
            server.shutdown()
            server.server_close()
            thread.join()
        with self._lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def _closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
