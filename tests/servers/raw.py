"""A scripted raw-socket server: the test writes what the server says.

:class:`RawServer` listens on 127.0.0.1 and runs a handler
``handler(conn: socket.socket) -> None`` in a thread of its own for every
connection it accepts, closing the socket when the handler returns.  An
exception escaping a handler is recorded in :attr:`RawServer.errors`.

The helpers below read from such a socket.  They keep bytes received beyond
what they return in a per-socket buffer, so they can be mixed freely on one
connection (but don't mix them with ``conn.recv()``)::

    def handler(conn: socket.socket) -> None:
        for request in iter_requests(conn):
            send_all(conn, make_response(200, request.body))
"""

from __future__ import annotations

import dataclasses
import selectors
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Final, Protocol

__all__ = [
    "Handler",
    "RawRequest",
    "RawServer",
    "RawServerFactory",
    "iter_requests",
    "make_response",
    "read_body",
    "read_exactly",
    "read_head",
    "read_line",
    "read_request",
    "read_until_close",
    "send_all",
]

#: What :class:`RawServer` runs for every connection it accepts.
Handler = Callable[[socket.socket], None]

#: Largest request head :func:`read_head` accepts.
MAX_HEAD: Final = 1 << 20
#: Timeout (seconds) set on every accepted socket before the handler runs.
HANDLER_SOCKET_TIMEOUT: Final = 30.0

# Bytes received but not yet returned, per socket.  Only the thread that runs
# the socket's handler touches its entry; the lock guards the dictionary.
_pending: weakref.WeakKeyDictionary[socket.socket, bytearray] = weakref.WeakKeyDictionary()
_pending_lock = threading.Lock()


def _buffer(conn: socket.socket) -> bytearray:
    with _pending_lock:
        buf = _pending.get(conn)
        if buf is None:
            buf = _pending[conn] = bytearray()
        return buf


def _fill(conn: socket.socket, buf: bytearray) -> bool:
    """Receive more bytes into *buf*; False at end of input."""
    data = conn.recv(65536)
    buf += data
    return bool(data)


def read_exactly(conn: socket.socket, n: int) -> bytes:
    """Read exactly *n* bytes.

    Raises:
        EOFError: the peer closed the connection first.
    """
    buf = _buffer(conn)
    while len(buf) < n:
        if not _fill(conn, buf):
            raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
    data = bytes(buf[:n])
    del buf[:n]
    return data


def _read_until(conn: socket.socket, terminator: bytes, limit: int) -> bytes:
    buf = _buffer(conn)
    start = 0
    while True:
        pos = buf.find(terminator, start)
        if pos >= 0:
            end = pos + len(terminator)
            data = bytes(buf[:end])
            del buf[:end]
            return data
        if len(buf) > limit:
            raise ValueError(f"no {terminator!r} within {limit} bytes")
        start = max(0, len(buf) - len(terminator) + 1)
        if not _fill(conn, buf):
            raise EOFError(f"connection closed with {len(buf)} bytes before {terminator!r}")


def read_line(conn: socket.socket, limit: int = 65536) -> bytes:
    """Read one line, up to and including ``b"\\n"``.

    Raises:
        EOFError: the peer closed the connection before the line was complete.
        ValueError: the line is longer than *limit*.
    """
    return _read_until(conn, b"\n", limit)


def read_head(conn: socket.socket) -> bytes:
    """Read one request (or response) head, up to and including the empty line.

    Returns:
        The raw head, ending in ``b"\\r\\n\\r\\n"``.

    Raises:
        EOFError: the peer closed the connection before the head was complete
            (``str(exc)`` is ``"closed"`` if it had sent nothing at all).
        ValueError: the head is larger than :data:`MAX_HEAD`.
    """
    buf = _buffer(conn)
    while not buf:
        if not _fill(conn, buf):
            raise EOFError("closed")
    return _read_until(conn, b"\r\n\r\n", MAX_HEAD)


def read_until_close(conn: socket.socket) -> bytes:
    """Read everything the peer sends until it closes (or half-closes)."""
    buf = _buffer(conn)
    while _fill(conn, buf):
        pass
    data = bytes(buf)
    buf.clear()
    return data


def send_all(conn: socket.socket, data: bytes | str) -> None:
    """Send all of *data* (a ``str`` is encoded as Latin-1)."""
    conn.sendall(data.encode("latin-1") if isinstance(data, str) else data)


def make_response(
    status: int = 200,
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
    *,
    reason: str | None = None,
    content_length: bool = True,
) -> bytes:
    """Return the bytes of a complete HTTP/1.1 response.

    Args:
        status: the status code.
        body: the body, sent as is.
        headers: header fields, in order, before ``Content-Length``.
        reason: the reason phrase (default: ``"OK"`` for 200, else ``"Status"``).
        content_length: add a ``Content-Length`` field for *body*.
    """
    if reason is None:
        reason = "OK" if status == 200 else "Status"
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if content_length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclasses.dataclass(frozen=True)
class RawRequest:
    """One request as :func:`read_request` received it."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    """The header fields in order, names as sent, values stripped."""
    body: bytes
    """The body, with any chunked framing removed."""
    raw: bytes
    """Everything received for this request: head and (framed) body."""
    head: bytes
    """The head alone, ending in the empty line."""

    def header(self, name: str) -> str | None:
        """Return the value of header field *name* (any case), or None.

        Repeated fields are joined with ``", "``.
        """
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def expects_continue(self) -> bool:
        """True if the request carries ``Expect: 100-continue``."""
        return (self.header("Expect") or "").lower() == "100-continue"


def _parse_head(head: bytes) -> tuple[str, str, str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise ValueError(f"bad request line {lines[0]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ValueError(f"bad header line {line!r}")
        headers.append((name, value.strip()))
    return parts[0], parts[1], parts[2], headers


def read_body(conn: socket.socket, request: RawRequest) -> tuple[bytes, bytes]:
    """Read the body announced by the head of *request*.

    Uses ``Transfer-Encoding: chunked`` or ``Content-Length``; a request
    with neither has no body.

    Returns:
        ``(body, raw)``: the body without chunked framing, and the bytes as
        received.

    Raises:
        EOFError: the peer closed the connection before the body was complete.
        ValueError: the framing is invalid.
    """
    te = request.header("Transfer-Encoding")
    if te is not None:
        if te.lower() != "chunked":
            raise ValueError(f"unsupported Transfer-Encoding {te!r}")
        body, raw = bytearray(), bytearray()
        while True:
            line = read_line(conn)
            raw += line
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            data = read_exactly(conn, size + 2)
            if data[-2:] != b"\r\n":
                raise ValueError(f"chunk of {size} bytes not followed by CRLF")
            raw += data
            body += data[:-2]
        while True:  # trailer section
            line = read_line(conn)
            raw += line
            if line in (b"\r\n", b"\n"):
                break
        return bytes(body), bytes(raw)
    length = request.header("Content-Length")
    if length is None:
        return b"", b""
    data = read_exactly(conn, int(length))
    return data, data


def read_request(conn: socket.socket, *, with_body: bool = True, send_continue: bool = True) -> RawRequest:
    """Read one request: its head and (if *with_body*) its body.

    Args:
        conn: the connection.
        with_body: read the body too; otherwise :attr:`RawRequest.body` is
            empty and the body can be read with :func:`read_body`.
        send_continue: if the request has ``Expect: 100-continue`` and its body
            is to be read, send ``100 Continue`` first (as a real server would).

    Raises:
        EOFError: the peer closed the connection before the request was complete
            (``str(exc)`` is ``"closed"`` if it had sent nothing at all).
        ValueError: the request is malformed.
    """
    head = read_head(conn)
    method, target, version, headers = _parse_head(head)
    request = RawRequest(method, target, version, headers, b"", head, head)
    if not with_body:
        return request
    if send_continue and request.expects_continue:
        send_all(conn, b"HTTP/1.1 100 Continue\r\n\r\n")
    body, raw = read_body(conn, request)
    return dataclasses.replace(request, body=body, raw=head + raw)


def iter_requests(conn: socket.socket, *, send_continue: bool = True) -> Iterator[RawRequest]:
    """Yield the requests arriving on *conn*, with bodies, until the peer closes.

    The iteration ends quietly if the peer closes between two requests;
    closing in the middle of one raises :exc:`EOFError`.
    """
    while True:
        try:
            yield read_request(conn, send_continue=send_continue)
        except EOFError as exc:
            if str(exc) == "closed":
                return
            raise


class RawServer:
    """Listens on 127.0.0.1 and runs *handler* for every connection.

    Each connection gets its own daemon thread; the socket has a timeout of
    :data:`HANDLER_SOCKET_TIMEOUT` seconds (the handler may change it) and is
    closed when the handler returns.  Use it as a context manager or call
    :meth:`close`.

    Attributes:
        host: ``"127.0.0.1"``.
        port: the port the server listens on.
        errors: exceptions that escaped the handler, in the order they happened.
    """

    def __init__(self, handler: Handler, host: str = "127.0.0.1") -> None:
        self.handler = handler
        self.host: str = host
        self.errors: list[BaseException] = []
        self._lock = threading.Condition()
        self._accepted = 0
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self._listener = socket.create_server((host, 0), backlog=64)
        self.port: int = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name=f"raw-server-{self.port}", daemon=True)
        self._thread.start()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def connections(self) -> int:
        """Number of connections accepted so far."""
        with self._lock:
            return self._accepted

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``."""
        return self.host, self.port

    def wait_idle(self, timeout: float = 10.0, *, connections: int = 0) -> None:
        """Wait until every handler started so far has returned.

        Args:
            timeout: seconds to wait at most.
            connections: first wait until at least this many connections were
                accepted (a client's ``connect()`` returns before the server
                accepted the connection).

        Raises:
            TimeoutError: a handler is still running after *timeout* seconds,
                or fewer than *connections* connections were accepted.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            if not self._lock.wait_for(lambda: self._accepted >= connections, timeout):
                raise TimeoutError(f"{self._accepted} of {connections} connections accepted")
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                raise TimeoutError(f"handler thread {thread.name} still running")

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, let running handlers finish for *timeout* seconds,
        then shut their sockets down (which wakes a handler blocked in ``recv``)
        and wait for them.

        Raises:
            TimeoutError: a handler did not return even then.
        """
        if self._closed:
            return
        self._closed = True
        self._wake_w.send(b"x")
        self._thread.join()
        self._listener.close()
        self._wake_r.close()
        self._wake_w.close()
        try:
            self.wait_idle(timeout)
        except TimeoutError:
            with self._lock:
                conns = list(self._conns)
            for conn in conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.wait_idle(timeout)

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    try:
                        conn, _addr = self._listener.accept()
                    except OSError:  # e.g. the client reset before accept
                        continue
                    self._start_handler(conn)

    def _start_handler(self, conn: socket.socket) -> None:
        with self._lock:
            self._accepted += 1
            number = self._accepted
            self._conns.add(conn)
            thread = threading.Thread(
                target=self._run_handler,
                args=(conn,),
                name=f"raw-handler-{self.port}-{number}",
                daemon=True,
            )
            thread.start()  # under the lock: wait_idle() only sees started threads
            self._threads.append(thread)
            self._lock.notify_all()

    def _run_handler(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(HANDLER_SOCKET_TIMEOUT)
            self.handler(conn)
        except BaseException as exc:
            with self._lock:
                self.errors.append(exc)
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()


class RawServerFactory(Protocol):
    """The type of the ``raw_server`` fixture: ``raw_server(handler)``."""

    def __call__(self, handler: Handler, *, check_errors: bool = True) -> RawServer:
        """Start a :class:`RawServer` running *handler*; it is closed at teardown.

        If *check_errors* is true (the default), the test fails at teardown
        when a handler raised and the test did not clear
        :attr:`RawServer.errors`.
        """
        ...
