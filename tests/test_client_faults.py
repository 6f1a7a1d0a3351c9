"""Fault injection: 2,000 requests over five origins that close, reset, speak HTTP/1.0, TLS, and nginx.

Every request ends with exactly one Result; a body that arrives is the right
one; no POST is processed twice (the servers count them); memory stays bounded.
"""

from __future__ import annotations

import collections
import random
import socket
import ssl
import threading
import time
import tracemalloc
from collections.abc import Callable

import trustme

from dugong import Client, ConnectionClosed, Request, ResponseLost, Result
from tests.servers.nginx import NginxServer
from tests.servers.raw import RawServerFactory, iter_requests, make_response, send_all
from tests.test_client import reset

COUNT = 2000


def expected_body(method: str, target: str, body: bytes) -> bytes:
    """What every server answers: the target, then the request body (or 300 bytes of it for GET)."""
    if method == "GET":
        return (target.encode() * 40)[:300]
    return target.encode() + b":" + body


class Ledger:
    """The servers' count of POSTs processed, by target."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.posts: collections.Counter[str] = collections.Counter()

    def answer(
        self, conn: socket.socket, method: str, target: str, body: bytes, http10: bool = False
    ) -> None:
        if method == "POST":
            with self.lock:
                self.posts[target] += 1
        response = make_response(200, expected_body(method, target, body))
        send_all(conn, response.replace(b"HTTP/1.1", b"HTTP/1.0", 1) if http10 else response)


def faulty_handler(ledger: Ledger, rng: random.Random, kind: str) -> Callable[[socket.socket], None]:
    def handler(conn: socket.socket) -> None:
        limit = rng.randint(1, 20)
        count = 0
        try:
            for request in iter_requests(conn):
                if kind == "reset" and rng.random() < 0.05:
                    reset(
                        conn
                    )  # before answering (a POST may or may not have been processed: here it was not)
                    return
                ledger.answer(conn, request.method, request.target, request.body, http10=kind == "http10")
                count += 1
                if kind == "http10" or (kind == "close" and count == limit):
                    conn.shutdown(socket.SHUT_WR)
                    while conn.recv(65536):
                        pass
                    return
        except (ConnectionError, EOFError, OSError):
            return

    return handler


def start_tls_server(ledger: Ledger) -> tuple[socket.socket, ssl.SSLContext]:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve_one(sock: socket.socket) -> None:
        try:
            with server_context.wrap_socket(sock, server_side=True) as conn:
                for request in iter_requests(conn):
                    ledger.answer(conn, request.method, request.target, request.body)
        except (OSError, EOFError):
            pass

    def accept() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve_one, args=(sock,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener, client_context


def test_two_thousand_requests_through_faults(raw_server: RawServerFactory, nginx: NginxServer) -> None:
    rng = random.Random(17)
    ledger = Ledger()
    origins = [
        f"http://127.0.0.1:{raw_server(faulty_handler(ledger, rng, kind), check_errors=False).port}"
        for kind in ("close", "reset", "http10")
    ]
    listener, context = start_tls_server(ledger)
    origins.append(f"https://127.0.0.1:{listener.getsockname()[1]}")
    requests: list[Request] = []
    for i in range(COUNT):
        origin = rng.randrange(5)
        method = rng.choice(["GET", "GET", "PUT", "POST"])
        if origin == 4:  # nginx: static files and WebDAV PUT
            if method == "GET":
                requests.append(Request("GET", nginx.url("/small.bin")))
            else:
                requests.append(Request("PUT", nginx.url(f"/dav/f{i}"), body=f"body {i}".encode()))
            continue
        requests.append(
            Request(
                method,
                f"{origins[origin]}/{method.lower()}/{i}",
                body=None if method == "GET" else f"data {i}".encode(),
            )
        )
    tracemalloc.start()
    start = time.monotonic()
    try:
        with Client(
            ssl_context=context, connections_per_host=4, pipeline_depth=8, max_attempts=4, timeout=60
        ) as client:
            results = client.fetch_all(requests, return_exceptions=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        listener.close()
    elapsed = time.monotonic() - start
    assert len(results) == COUNT and all(isinstance(r, Result) for r in results)
    assert [r.request for r in results] == requests
    failures = collections.Counter(type(r.error).__name__ for r in results if r.error is not None)
    for result in results:
        request = result.request
        if result.error is not None:
            # Only connection trouble, and a POST is never replayed.
            assert isinstance(result.error, ConnectionClosed), result
            if request.method == "POST":
                assert isinstance(result.error, ResponseLost) and result.attempts == 1
            continue
        assert result.response is not None
        if request.origin.port == nginx.port:
            if request.method == "GET":
                assert result.body == (nginx.docroot / "small.bin").read_bytes()
            else:
                assert result.response.status in (201, 204)
                assert (nginx.docroot / "dav" / request.target.rsplit("/", 1)[1]).read_bytes() == request.body
        else:
            assert result.body == expected_body(request.method, request.target, request.body or b""), result  # type: ignore[arg-type]
    assert max(ledger.posts.values()) == 1, "a POST was processed twice"
    assert sum(failures.values()) < COUNT // 20, failures
    assert peak < 40_000_000, f"peak memory {peak:,} bytes"
    assert elapsed < 90
