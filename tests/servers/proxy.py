"""A small HTTP proxy for tests: absolute-form forwarding for http, CONNECT tunnels for https.

It records the request line of every request it receives (``.request_lines``),
can refuse ``CONNECT`` with a status of the test's choosing, and can wait
before answering, to show that clients do not block on it.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from urllib.parse import urlsplit

from tests.servers.raw import read_head

__all__ = ["ProxyServer"]


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until one side closes."""
    with selectors.DefaultSelector() as selector:
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        while True:
            for key, _ in selector.select(30):
                source = key.fileobj
                assert isinstance(source, socket.socket)
                try:
                    data = source.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                key.data.sendall(data)


class ProxyServer:
    """A threaded proxy on 127.0.0.1.

    Args:
        refuse: answer ``CONNECT`` with this status line instead of tunnelling.
        delay: seconds to wait before answering anything.
    """

    def __init__(self, refuse: str | None = None, delay: float = 0.0) -> None:
        self.refuse = refuse
        self.delay = delay
        self.request_lines: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.host, self.port = self._listener.getsockname()[:2]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def __enter__(self) -> ProxyServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting and wait for the connections to end."""
        self._stop.set()
        self._thread.join()
        self._listener.close()
        for thread in self._threads:
            thread.join(10)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._handle, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, client: socket.socket) -> None:
        with client:
            client.settimeout(30)
            try:
                head = read_head(client)
            except EOFError:
                return
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            self.request_lines.append(line)
            method, target, _ = line.split(" ")
            time.sleep(self.delay)
            if method == "CONNECT":
                if self.refuse is not None:
                    client.sendall(f"HTTP/1.1 {self.refuse}\r\nContent-Length: 0\r\n\r\n".encode())
                    return
                host, _, port = target.rpartition(":")
                try:
                    upstream = socket.create_connection((host.strip("[]"), int(port)))
                except OSError:
                    try:
                        client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                    except OSError:
                        pass
                    return
                with upstream:
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    _pipe(client, upstream)
                return
            url = urlsplit(target)
            assert url.hostname is not None
            with socket.create_connection((url.hostname, url.port or 80)) as upstream:
                upstream.sendall(head)
                _pipe(client, upstream)
