"""Programs written for dugong 3.x run unchanged (issue 13).

Each test is a 3.x program, or a 3.x user's retry loop, written as 3.x users
wrote it: futures made before the asyncio loop runs, ``dugong.DNS_TEST_HOSTNAMES``
set on the package, a reader coroutine started before the sender has
connected, reads after ``disconnect()``, a second request on a connection the
server closed after its answer, and timed-out reads and writes tried again.
The request-target table and empty list elements follow RFC 9112/9110 where
3.x did not.  The last test runs the core of the suite where ``select.poll``
does not exist (as on Windows).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import dugong
from dugong import (
    AioFuture,
    BodyFollowing,
    ConnectionClosed,
    ConnectionTimedOut,
    DNSUnavailable,
    HostnameNotResolvable,
    HTTPConnection,
    HTTPResponse,
    PollCoroutine,
)
from dugong._net import AddrInfo, default_resolver
from dugong.loop import Reactor, run_all
from tests.servers.raw import (
    RawServer,
    RawServerFactory,
    iter_requests,
    make_response,
    read_exactly,
    read_request,
    read_until_close,
    send_all,
)
from tests.servers.stdlib import StdlibServer, body_for

COUNT = 20  # requests per pipelining test


def _slow_resolver(delay: float) -> Callable[[str, int], list[AddrInfo]]:
    """Resolves every name to 127.0.0.1 after *delay* seconds: the sender yields while connecting."""

    def resolve(host: str, port: int) -> list[AddrInfo]:
        time.sleep(delay)
        return default_resolver("127.0.0.1", port)

    return resolve


# ------------------------------------------------ 1. AioFuture before the loop runs


def _sender(conn: HTTPConnection, count: int) -> PollCoroutine[None]:
    for i in range(count):
        yield from conn.co_send_request("GET", f"/bytes/{i + 1}")


def _reader(conn: HTTPConnection, count: int) -> PollCoroutine[list[bytes]]:
    bodies = []
    for _ in range(count):
        response = yield from conn.co_read_response()
        assert response.status == 200
        bodies.append((yield from conn.co_readall()))
    return bodies


@pytest.fixture
def fresh_event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """What a 3.x program did first: ``asyncio.set_event_loop(asyncio.new_event_loop())``."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_aio_futures_made_before_run_until_complete(
    http_server: StdlibServer, fresh_event_loop: asyncio.AbstractEventLoop
) -> None:
    # The 3.x tutorial's pipelining pattern, on a connection that is not open yet.
    loop = asyncio.get_event_loop()
    assert loop is fresh_event_loop
    with HTTPConnection("localhost", http_server.port, resolver=_slow_resolver(0.05)) as conn:
        sender = AioFuture(_sender(conn, COUNT))
        reader = AioFuture(_reader(conn, COUNT))
        assert sender.get_loop() is loop and reader.get_loop() is loop
        bodies = loop.run_until_complete(reader)
        assert sender.done() and sender.result() is None
    assert bodies == [body_for(i + 1) for i in range(COUNT)]


def test_aio_future_with_loop_argument_and_run_forever(
    http_server: StdlibServer, fresh_event_loop: asyncio.AbstractEventLoop
) -> None:
    loop = fresh_event_loop
    with HTTPConnection(http_server.host, http_server.port) as conn:
        sender = AioFuture(_sender(conn, 3), loop=loop)
        reader = AioFuture(_reader(conn, 3), loop=loop)
        reader.add_done_callback(lambda _: loop.stop())
        loop.run_forever()
        assert sender.result() is None
        assert reader.result() == [body_for(1), body_for(2), body_for(3)]


# ------------------------------------------------------------ 2. DNS_TEST_HOSTNAMES


def _dns(known: set[str]) -> Callable[[str, int], list[AddrInfo]]:
    def resolve(host: str, port: int) -> list[AddrInfo]:
        if host in known:
            return default_resolver("127.0.0.1", port)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    return resolve


def test_assigning_dns_test_hostnames_on_the_package_takes_effect() -> None:
    saved = dugong.DNS_TEST_HOSTNAMES
    resolver = _dns({"always.test"})
    try:
        dugong.DNS_TEST_HOSTNAMES = (("always.test", 80),)
        with pytest.raises(HostnameNotResolvable):
            HTTPConnection("nosuch.test", resolver=resolver).connect()
        dugong.DNS_TEST_HOSTNAMES = (("never.test", 80), ("nor.test", 53))
        with pytest.raises(DNSUnavailable):
            HTTPConnection("nosuch.test", resolver=resolver).connect()
    finally:
        dugong.DNS_TEST_HOSTNAMES = saved


def test_monkeypatching_dns_test_hostnames_takes_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[AddrInfo]:
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(dugong, "DNS_TEST_HOSTNAMES", (("probe.test", 80),))
    with pytest.raises(DNSUnavailable):
        HTTPConnection("nosuch.test", resolver=resolver).connect()
    assert asked == ["nosuch.test", "probe.test"]


# ------------------------------------- 3. a reader that starts before the connection is open


def test_a_reader_started_first_waits_for_the_opening_not_on_the_socket(http_server: StdlibServer) -> None:
    with HTTPConnection("localhost", http_server.port, resolver=_slow_resolver(0.2)) as conn:
        sender, reader = _sender(conn, 1), _reader(conn, 1)
        resolving = next(sender)  # waits for the resolver
        opening = next(reader)  # no StateError: the request is pending
        assert opening.fd != resolving.fd and opening.mask == dugong.POLLIN
        assert not opening.poll(0.05)  # no busy loop: nothing to do yet
        dugong.eval_coroutine(sender, 10)  # the sender connects and sends
        assert conn.connected
        assert opening.poll(1)  # ... which wakes the reader
        assert run_all((reader,)) == ([body_for(1)],)


def test_a_waiting_reader_that_times_out_leaves_no_socket_pair_open(http_server: StdlibServer) -> None:
    from tests.test_net import _open_fds

    with HTTPConnection("localhost", http_server.port, resolver=_slow_resolver(0.3)) as conn:
        sender, reader = _sender(conn, 1), _reader(conn, 1)
        next(sender)  # resolving
        before = _open_fds()
        with pytest.raises(ConnectionTimedOut):
            dugong.eval_coroutine(reader, 0.05)  # waits for the opening, then gives up
        assert _open_fds() == before  # the reader's socket pair is closed again
        dugong.eval_coroutine(sender, 10)  # the sender goes on, and nobody is left to wake
        assert conn.read_response().status == 200
        assert conn.readall() == body_for(1)


def test_two_reactor_tasks_reader_before_the_connect(http_server: StdlibServer) -> None:
    with HTTPConnection("localhost", http_server.port, resolver=_slow_resolver(0.05)) as conn:
        with Reactor() as reactor:
            sent, bodies = run_all([_sender(conn, COUNT), _reader(conn, COUNT)], reactor=reactor)
    assert sent is None
    assert bodies == [body_for(i + 1) for i in range(COUNT)]


def test_two_threads_reader_before_the_connect(http_server: StdlibServer) -> None:
    # The resolver holds the sender in the connect until the reader waits.
    release = threading.Event()

    def resolve(host: str, port: int) -> list[AddrInfo]:
        assert release.wait(10)
        return default_resolver("127.0.0.1", port)

    bodies: list[bytes] = []
    errors: list[BaseException] = []

    def run(target: Callable[[], object]) -> threading.Thread:
        def guarded() -> None:
            try:
                target()
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        thread = threading.Thread(target=guarded)
        thread.start()
        return thread

    # After the first request, the reader must not overtake the sender (the
    # 3.x threading pattern counts the requests sent, as examples/pipeline_threads.py does).
    sent = threading.Condition()
    sent_count = 0

    def send() -> None:
        nonlocal sent_count
        for i in range(COUNT):
            conn.send_request("GET", f"/bytes/{i + 1}")
            with sent:
                sent_count += 1
                sent.notify()

    def read() -> None:
        for i in range(COUNT):
            if i:
                with sent:
                    assert sent.wait_for(lambda: sent_count > i, 10)  # noqa: B023 (called in this iteration)
            assert conn.read_response().status == 200  # the first waits for the connection
            bodies.append(conn.readall())

    with HTTPConnection("localhost", http_server.port, resolver=resolve) as conn:
        conn.timeout = 10
        sender = run(send)
        deadline = time.monotonic() + 10
        while not conn.response_pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        reader = run(read)
        time.sleep(0.2)  # the reader is waiting for the connection now
        assert sent_count == 0
        release.set()
        sender.join(20)
        reader.join(20)
    assert errors == []
    assert bodies == [body_for(i + 1) for i in range(COUNT)]


def test_a_waiting_reader_learns_that_the_connect_failed() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # nothing listens here once it is closed
    conn = HTTPConnection("refusing.test", port, resolver=_slow_resolver(0.05))
    with Reactor() as reactor:
        sender = reactor.spawn(_sender(conn, 1))
        reader = reactor.spawn(_reader(conn, 1))
        with pytest.raises(ConnectionRefusedError):
            reactor.run_until_complete(sender)
        with pytest.raises(ConnectionClosed, match=f"refusing.test:{port} could not be opened"):
            reactor.run_until_complete(reader)
    assert not conn.response_pending()


# ------------------------------------------------------------- 4. after disconnect()


def test_after_disconnect_reads_and_writes_raise_connection_closed(http_server: StdlibServer) -> None:
    with HTTPConnection(http_server.host, http_server.port) as conn:
        conn.send_request("GET", "/bytes/10")
        conn.disconnect()
        for call in (
            conn.read_response,
            lambda: conn.read(10),
            lambda: conn.readinto(bytearray(10)),
            conn.readall,
            lambda: conn.write(b"x"),
        ):
            with pytest.raises(ConnectionClosed, match="disconnect"):
                call()
        conn.send_request("GET", "/bytes/10")  # opens the connection again
        assert conn.read_response().status == 200
        assert conn.readall() == body_for(10)
        assert conn.read(10) == b""  # the end of a body, not an error


# ------------------------------------------ 5. a connection the server closed cleanly


def _answer_each(answers: list[bytes]) -> Callable[[socket.socket], None]:
    """A server that answers one request per connection with the next of *answers*, then closes."""

    def handler(sock: socket.socket) -> None:
        read_request(sock, with_body=False)
        send_all(sock, answers.pop(0))
        sock.shutdown(socket.SHUT_WR)
        read_until_close(sock)

    return handler


@pytest.mark.parametrize(
    "first",
    [
        make_response(200, b"first", [("Connection", "close")]),
        b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nfirst",
        b"HTTP/1.0 200 OK\r\n\r\nfirst",
        b"HTTP/1.1 200 OK\r\n\r\nfirst",
    ],
    ids=["Connection: close", "HTTP/1.0", "HTTP/1.0 until close", "HTTP/1.1 until close"],
)
def test_a_second_request_after_the_server_closed_cleanly(raw_server: RawServerFactory, first: bytes) -> None:
    server = raw_server(_answer_each([first, make_response(200, b"second")]))
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 10
        conn.send_request("GET", "/1")
        conn.read_response()
        assert conn.readall() == b"first"
        conn.send_request("GET", "/2")
        conn.read_response()
        assert conn.readall() == b"second"
    server.wait_idle()
    assert server.connections == 2


def test_a_second_request_after_a_refused_100_continue(raw_server: RawServerFactory) -> None:
    refusal = make_response(413, b"too big")
    server = raw_server(_answer_each([refusal, make_response(200, b"second")]))
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 10
        conn.send_request("PUT", "/big", body=BodyFollowing(10**9), expect100=True)
        response = conn.read_response()
        assert response.status == 413
        assert conn.readall() == b"too big"
        conn.send_request("GET", "/2")
        conn.read_response()
        assert conn.readall() == b"second"


def test_requests_pending_behind_a_close_fail_with_the_right_reason(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, make_response(200, b"a", [("Connection", "close")]))
        sock.shutdown(socket.SHUT_WR)
        read_until_close(sock)

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 10
        conn.send_request("GET", "/a")
        conn.send_request("GET", "/b")
        conn.read_response()
        assert conn.readall() == b"a"
        # /b was sent and not answered: that is reported, with the real reason.
        with pytest.raises(
            ConnectionClosed, match=r"'Connection: close' in its response to GET /a; 1 more request"
        ):
            conn.read_response()
        with pytest.raises(ConnectionClosed, match="said 'Connection: close'"):
            conn.send_request("GET", "/c")


# ------------------------------------------------- 6. timed-out reads and writes, retried

HEAD_LENGTH = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n"
HEAD_CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
HEAD_CLOSE = b"HTTP/1.1 200 OK\r\n\r\n"
CHUNKED_BODY = b"2\r\nab\r\n3\r\ncde\r\n3\r\nfgh\r\n0\r\nX-Sum: 1\r\n\r\n"

# (response head, the whole response after the head, the body it carries)
RESPONSES = {
    "Content-Length": (HEAD_LENGTH, b"abcdefgh", b"abcdefgh"),
    "chunked": (HEAD_CHUNKED, CHUNKED_BODY, b"abcdefgh"),
    "until close": (HEAD_CLOSE, b"abcdefgh", b"abcdefgh"),
}


class Pausing:
    """A server that sends a response in two parts and waits for :meth:`go` between them."""

    def __init__(self, raw_server: RawServerFactory, first: bytes, rest: bytes) -> None:
        self._go = threading.Event()

        def handler(sock: socket.socket) -> None:
            read_request(sock)
            send_all(sock, first)
            if not self._go.wait(20):
                return
            send_all(sock, rest)
            sock.shutdown(socket.SHUT_WR)
            read_until_close(sock)

        self.server: RawServer = raw_server(handler)

    def go(self) -> None:
        self._go.set()


# Each reader appends what it got to *got* as it goes, as a caller's loop keeps
# what each call returned before one of them timed out.


def _read_all(conn: HTTPConnection, got: bytearray) -> None:
    got += conn.readall()


def _read_2(conn: HTTPConnection, got: bytearray) -> None:
    while piece := conn.read(2):
        got += piece


def _readinto_3(conn: HTTPConnection, got: bytearray) -> None:
    buf = bytearray(3)
    while size := conn.readinto(buf):
        got += buf[:size]


def _co_readall_on_a_reactor(conn: HTTPConnection) -> bytes:
    with Reactor() as reactor:
        return reactor.run_until_complete(reactor.spawn(conn.co_readall(), deadline=reactor.time() + 0.2))


READERS: dict[str, Callable[[HTTPConnection, bytearray], None]] = {
    "readall()": _read_all,
    "read(2)": _read_2,
    "readinto(3-byte buffer)": _readinto_3,
}


def _split_points(kind: str) -> list[int]:
    _, rest, _ = RESPONSES[kind]
    return list(range(len(rest))) if kind == "chunked" else [0, 2, 5, 7]


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("kind", list(RESPONSES))
def test_a_timed_out_read_retried_loses_nothing(raw_server: RawServerFactory, kind: str, reader: str) -> None:
    head, rest, body = RESPONSES[kind]
    read = READERS[reader]
    for split in _split_points(kind):
        pausing = Pausing(raw_server, head + rest[:split], rest[split:])
        with HTTPConnection(pausing.server.host, pausing.server.port) as conn:
            conn.timeout = 0.2
            conn.send_request("GET", "/")
            conn.read_response()
            data = bytearray()
            # The caller's retry loop, as 3.x users wrote it.
            with pytest.raises(ConnectionTimedOut):
                read(conn, data)
            pausing.go()
            conn.timeout = 10
            read(conn, data)
            assert data == body, f"split at {split}: {data!r}"
            assert not conn.response_pending()


def test_a_retried_read_response_loses_nothing(raw_server: RawServerFactory) -> None:
    response = make_response(200, b"body", [("X-Long", "y" * 100)])
    head_size = len(response) - len(b"body")
    for split in (0, 5, 20, head_size - 2, head_size - 1):
        pausing = Pausing(raw_server, response[:split], response[split:])
        with HTTPConnection(pausing.server.host, pausing.server.port) as conn:
            conn.timeout = 0.2
            conn.send_request("GET", "/")
            with pytest.raises(ConnectionTimedOut):
                conn.read_response()
            pausing.go()
            conn.timeout = 10
            assert conn.read_response().headers["X-Long"] == "y" * 100
            assert conn.readall() == b"body"


def test_a_retried_discard_completes_the_body(raw_server: RawServerFactory) -> None:
    pausing = Pausing(raw_server, HEAD_CHUNKED + CHUNKED_BODY[:9], CHUNKED_BODY[9:])
    with HTTPConnection(pausing.server.host, pausing.server.port) as conn:
        conn.timeout = 0.2
        conn.send_request("GET", "/")
        conn.read_response()
        with pytest.raises(ConnectionTimedOut):
            conn.discard()
        pausing.go()
        conn.timeout = 10
        conn.discard()
        assert not conn.response_pending()


def test_a_co_readall_cancelled_on_a_reactor_keeps_its_data(raw_server: RawServerFactory) -> None:
    pausing = Pausing(raw_server, HEAD_LENGTH + b"abc", b"defgh")
    with HTTPConnection(pausing.server.host, pausing.server.port) as conn:
        conn.timeout = 10
        conn.send_request("GET", "/")
        conn.read_response()
        with pytest.raises(ConnectionTimedOut):
            _co_readall_on_a_reactor(conn)
        pausing.go()
        assert conn.readall() == b"abcdefgh"


def _fill_send_buffer(conn: HTTPConnection) -> int:
    """Fill the kernel's buffers towards a server that does not read; return how many bytes it took.

    (Through a duplicate of the connection's fd, so that the test need not
    write megabytes one byte at a time.)
    """
    filler = socket.socket(fileno=os.dup(conn._fd))
    filler.setblocking(False)
    filled = 0
    try:
        while True:
            filled += filler.send(bytes(65536))
    except BlockingIOError:
        return filled
    finally:
        filler.close()


def _not_reading_server(
    raw_server: RawServerFactory, started: threading.Event, go: threading.Event, extra: list[int]
) -> RawServer:
    """Reads a request head, then nothing until *go*; then the body and ``extra[0]`` more bytes."""

    def handler(sock: socket.socket) -> None:
        request = read_request(sock, with_body=False)
        started.set()
        if not go.wait(20):
            return
        body = read_exactly(sock, int(request.header("Content-Length") or 0) + extra[0])
        send_all(sock, make_response(200, str(len(body)).encode()))
        read_until_close(sock)

    return raw_server(handler, check_errors=False)


def test_a_write_that_timed_out_before_sending_can_be_tried_again(raw_server: RawServerFactory) -> None:
    started, go = threading.Event(), threading.Event()
    filled = [0]
    server = _not_reading_server(raw_server, started, go, filled)
    total = 1024 * 1024
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 0.2
        conn.send_request("PUT", "/", body=BodyFollowing(total))
        assert started.wait(10)
        filled[0] = _fill_send_buffer(conn)  # (extra bytes, sent behind dugong's back)
        written = 0
        # One byte per write: a timed-out write sent nothing, so it is retried.
        while True:
            try:
                conn.write(b"x")
            except ConnectionTimedOut:
                break
            written += 1
            assert written < total, "the server never stopped reading"
        assert conn.connected
        go.set()
        conn.timeout = 10
        conn.write(b"x")  # the same write again
        written += 1
        conn.write(b"y" * (total - written))
        assert conn.read_response().status == 200
        assert conn.readall() == str(filled[0] + total).encode()  # not a byte lost or repeated


def test_a_write_that_timed_out_after_sending_part_closes_the_connection(
    raw_server: RawServerFactory,
) -> None:
    started, go = threading.Event(), threading.Event()
    server = _not_reading_server(raw_server, started, go, [0])
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 0.2
        conn.send_request("PUT", "/", body=BodyFollowing(None))
        assert started.wait(10)
        with pytest.raises(ConnectionTimedOut):
            conn.write(bytes(64 * 1024 * 1024))  # one chunk, far more than the socket buffers
        assert not conn.connected
        with pytest.raises(ConnectionClosed, match="interrupted"):
            conn.write(b"more")
        with pytest.raises(ConnectionClosed, match="interrupted"):
            conn.send_request("GET", "/")
        go.set()


# ------------------------------------------------------------- 7. request targets

TARGETS = [
    ("GET", "/", True),
    ("GET", "/a/b?c=d", True),
    ("GET", "http://example.org/x", True),
    ("GET", "https://example.org:8443/x?y", True),
    ("GET", "HTTP://example.org", True),
    ("OPTIONS", "*", True),
    ("CONNECT", "example.org:443", True),
    ("GET", "@evil.example/x", False),
    ("GET", "evil.example/x", False),
    ("GET", "x", False),
    ("GET", "*", False),
    ("GET", "/x#fragment", False),
    ("GET", "http://example.org/#top", False),
    ("GET", "http://", False),
    ("GET", "http:///x", False),
    ("GET", "http://user:secret@example.org/", False),
    ("GET", "ftp://example.org/", False),
    ("GET", "example.org:443", False),
    ("CONNECT", "example.org", False),
    ("CONNECT", "user@example.org:443", False),
]


@pytest.mark.parametrize(("method", "target", "allowed"), TARGETS, ids=[f"{m} {t}" for m, t, _ in TARGETS])
def test_request_targets_follow_rfc_9112_section_3_2(
    raw_server: RawServerFactory, method: str, target: str, allowed: bool
) -> None:
    received: list[bytes] = []

    def handler(sock: socket.socket) -> None:
        for request in iter_requests(sock):
            received.append(f"{request.method} {request.target}".encode())
            send_all(sock, make_response(200))

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 10
        if not allowed:
            with pytest.raises(ValueError, match="target"):
                conn.send_request(method, target)
            assert not conn.connected and not conn.response_pending()  # not a byte was sent
            conn.send_request("GET", "/sentinel")
        else:
            conn.send_request(method, target)
        conn.read_response()
        conn.readall()
    server.wait_idle()
    assert received == [f"{method} {target}".encode() if allowed else b"GET /sentinel"]


# --------------------------------------------------------- 8. empty list elements


@pytest.mark.parametrize(
    "fields",
    [
        b"Transfer-Encoding: chunked,\r\n",
        b"Transfer-Encoding: ,chunked\r\n",
        b"Transfer-Encoding: , chunked , \r\nConnection: keep-alive,\r\n",
        b"Transfer-Encoding: chunked\r\nConnection: , close\r\n",
    ],
)
def test_empty_list_elements_are_ignored(raw_server: RawServerFactory, fields: bytes) -> None:
    def handler(sock: socket.socket) -> None:
        for _ in iter_requests(sock):
            send_all(sock, b"HTTP/1.1 200 OK\r\n" + fields + b"\r\n" + CHUNKED_BODY)

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 10
        conn.send_request("GET", "/")
        response: HTTPResponse = conn.read_response()
        assert response.length is None
        assert conn.readall() == b"abcdefgh"
        assert conn.connected == (b"close" not in fields)


def test_content_length_with_empty_list_elements(raw_server: RawServerFactory) -> None:
    def handler(sock: socket.socket) -> None:
        read_request(sock)
        send_all(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 5,\r\nContent-Length: , 5\r\n\r\nhello")

    server = raw_server(handler)
    with HTTPConnection(server.host, server.port) as conn:
        conn.timeout = 10
        conn.send_request("GET", "/")
        assert conn.read_response().length == 5
        assert conn.readall() == b"hello"


# ------------------------------------------------------ 9. platforms without select.poll

_WITHOUT_POLL = """
import select, sys
for name in [n for n in dir(select) if n.startswith(("poll", "POLL", "epoll", "EPOLL", "devpoll", "kqueue"))]:
    delattr(select, name)
import selectors
assert selectors.DefaultSelector is selectors.SelectSelector, selectors.DefaultSelector
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""

_CORE_TESTS = [
    "tests/test_poll.py",
    "tests/test_connection.py",
    "tests/test_net.py",
    "tests/test_aio.py",
    "tests/test_loop_http.py",
    "tests/test_dugong3_compat.py",
]


@pytest.mark.skipif(os.environ.get("DUGONG_WITHOUT_POLL") == "1", reason="already running without poll")
def test_the_core_runs_without_select_poll() -> None:
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, DUGONG_WITHOUT_POLL="1", PYTHONPATH=str(root))
    env.pop("COVERAGE_PROCESS_START", None)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _WITHOUT_POLL,
            "-q",
            "-p",
            "no:cacheprovider",
            "-x",
            *_CORE_TESTS,
            "-k",
            "not select_poll and not epoll and not poll_needed_is_a_tuple",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


def test_poll_masks_keep_their_values() -> None:
    import select

    assert (dugong.POLLIN, dugong.POLLOUT) == (getattr(select, "POLLIN", 1), getattr(select, "POLLOUT", 4))
