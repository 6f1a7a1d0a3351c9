"""A scripted server for the command line's curl-like options (``tests/test_cli_*.py``).

Routes (``GET`` unless said otherwise; anything else is 404):

``/file/<n>``
    ``body_for(n)``; honours ``Range: bytes=<start>-`` with ``206`` and
    ``Content-Range``, or ``416`` with ``Content-Range: bytes */<n>`` when
    *start* is not below *n*.
``/redirect/<status>/<path>``
    *status* with ``Location: /<path>``.
``/elsewhere/<port>/<path>``
    ``302`` to ``http://localhost:<port>/<path>`` (another origin).
``/auth/<n>``
    ``body_for(n)`` if ``Authorization`` is :attr:`SiteCLI.expected_auth`, else ``401``.
``/flaky/<k>/<n>``
    ``503`` (``Retry-After: 0``) the first *k* times it is asked for, then ``/file/<n>``.
``/drop/<k>/<n>``
    closes the connection without an answer the first *k* times, then ``/file/<n>``.
``/stall/<seconds>/<n>``
    the head and half the body, a pause, then the rest.
``/echo`` (any method)
    ``{"method", "headers", "body"}`` as JSON.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections import Counter
from urllib.parse import unquote

from tests.servers.raw import RawRequest, RawServer, iter_requests, make_response, send_all
from tests.servers.stdlib import body_for

__all__ = ["SiteCLI", "basic"]


def basic(user: str, password: str) -> str:
    """The ``Authorization`` value of Basic authentication."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class SiteCLI:
    """The routes above on a :class:`RawServer`; records every request it gets."""

    def __init__(self, expected_auth: str = basic("user", "pw")) -> None:
        self.expected_auth = expected_auth
        self.requests: list[RawRequest] = []
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.server = RawServer(self._handle)
        self.port = self.server.port

    def url(self, path: str) -> str:
        """``http://127.0.0.1:<port><path>``."""
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        """Stop the server (a stalled answer gives up its pause)."""
        self._closing.set()
        self.server.close()

    def targets(self) -> list[str]:
        """The targets asked for, in order."""
        return [request.target for request in self.requests]

    def _handle(self, conn: socket.socket) -> None:
        for request in iter_requests(conn):
            with self._lock:
                self.requests.append(request)
                self._seen[request.target] += 1
                seen = self._seen[request.target]
            answer = self._answer(request, seen, conn)
            if answer is None:
                return  # drop the connection
            send_all(conn, answer)

    def _answer(self, request: RawRequest, seen: int, conn: socket.socket) -> bytes | None:
        name, _, rest = request.target.lstrip("/").partition("/")
        args = rest.split("/")
        if name == "file":
            return self._file(request, int(args[0]))
        if name == "redirect":
            return make_response(int(args[0]), b"moved\n", [("Location", "/" + unquote("/".join(args[1:])))])
        if name == "elsewhere":
            location = f"http://localhost:{args[0]}/{'/'.join(args[1:])}"
            return make_response(302, b"", [("Location", location)])
        if name == "auth":
            if request.header("Authorization") != self.expected_auth:
                return make_response(401, b"who are you?\n", [("WWW-Authenticate", 'Basic realm="t"')])
            return make_response(200, body_for(int(args[0])))
        if name == "flaky":
            if seen <= int(args[0]):
                return make_response(503, b"busy\n", [("Retry-After", "0")], reason="Service Unavailable")
            return make_response(200, body_for(int(args[1])))
        if name == "drop":
            return None if seen <= int(args[0]) else make_response(200, body_for(int(args[1])))
        if name == "stall":
            body = body_for(int(args[1]))
            half = len(body) // 2
            whole = make_response(200, body)
            send_all(conn, whole[: len(whole) - len(body) + half])
            self._closing.wait(float(args[0]))
            return body[half:]
        if name == "echo":
            answer = {
                "method": request.method,
                "headers": dict(request.headers),
                "body": request.body.decode(),
            }
            return make_response(200, json.dumps(answer).encode(), [("Content-Type", "application/json")])
        return make_response(404, b"no such route\n", reason="Not Found")

    @staticmethod
    def _file(request: RawRequest, size: int) -> bytes:
        body = body_for(size)
        wanted = request.header("Range")
        if wanted is None:
            return make_response(200, body)
        start = int(wanted.removeprefix("bytes=").rstrip("-"))
        if start >= size:
            return make_response(
                416, b"", [("Content-Range", f"bytes */{size}")], reason="Range Not Satisfiable"
            )
        headers = [("Content-Range", f"bytes {start}-{size - 1}/{size}")]
        return make_response(206, body[start:], headers, reason="Partial Content")
