"""A loopback HTTPS server with certificates made at test time (``trustme``)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trustme

from dugong import HTTPConnection
from tests.servers.raw import RawServerFactory
from tests.servers.stdlib import body_for

__all__ = ["ScriptedPeer", "TLSServer"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        """``GET /<n>`` answers ``body_for(n)``."""
        body = body_for(int(self.path.rsplit("/", 1)[1]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    context: ssl.SSLContext
    delay = 0.0

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Failed handshakes are what some tests provoke: stay quiet."""

    def process_request(self, request: Any, client_address: Any) -> None:
        time.sleep(self.delay)
        super().process_request(request, client_address)


class TLSServer:
    """HTTPS on 127.0.0.1 with a certificate for ``localhost`` and ``127.0.0.1``.

    ``client_context()`` returns a context that trusts it.
    """

    def __init__(self, delay: float = 0.0) -> None:
        self.ca = trustme.CA()
        cert = self.ca.issue_cert("localhost", "127.0.0.1")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.context = context
        self._httpd.delay = delay
        self.host, self.port = "127.0.0.1", self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's CA."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def close(self) -> None:
        """Stop the server."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> TLSServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ScriptedPeer:
    """Scripted raw-socket servers over plain TCP, or over TLS with *ca*'s certificate, and connections to them.

    The same script then runs behind either, so a test can check the same
    behaviour over plain TCP and over TLS (a ``pytest`` fixture
    parametrized with ``ca`` or None).
    """

    def __init__(self, raw_server: RawServerFactory, ca: trustme.CA | None) -> None:
        self._raw_server = raw_server
        self._server_context: ssl.SSLContext | None = None
        self._client_context: ssl.SSLContext | None = None
        if ca is not None:
            self._server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1").configure_cert(self._server_context)
            self._client_context = ssl.create_default_context()
            ca.configure_trust(self._client_context)

    @property
    def tls(self) -> bool:
        """Whether the servers speak TLS."""
        return self._server_context is not None

    def serve(self, script: Callable[[socket.socket], None]) -> int:
        """Start a server running *script* on each connection (over TLS if so set up); return its port."""
        context = self._server_context

        def handler(conn: socket.socket) -> None:
            if context is None:
                script(conn)
                return
            with context.wrap_socket(conn, server_side=True) as tls:
                script(tls)

        return self._raw_server(handler).address[1]

    def connect(self, port: int, timeout: float | None = None) -> HTTPConnection:
        """A connection (not opened yet) to the server on *port*."""
        return HTTPConnection("127.0.0.1", port, ssl_context=self._client_context, timeout=timeout)
