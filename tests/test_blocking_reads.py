"""A blocking read without a timeout waits in its receive (design notes, "A blocking read waits in its receive").

On a plain connection the socket is left in blocking mode; every send and
receive that must not wait passes ``MSG_DONTWAIT``.  A TLS socket stays
non-blocking and is made blocking for the one receive that may wait.  A
blocking read with :attr:`~dugong.HTTPConnection.timeout` None lets its
receive wait instead of failing with ``EAGAIN`` and waiting in ``poll``.
The tests count the waits in :meth:`PollNeeded.poll`, which
:func:`~dugong.eval_coroutine` calls for every wait, and check that
coroutines, whoever ran before them, never wait in a receive; each runs over
plain TCP and over TLS.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import trustme

from dugong import POLLIN, PollNeeded
from tests.servers.raw import RawServerFactory, make_response, read_request, send_all
from tests.servers.tls import ScriptedPeer

#: How long the scripted servers wait before they answer: long enough that a
#: read which did not wait would be seen to return early.
DELAY = 0.3


@pytest.fixture
def polls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[PollNeeded]]:
    """Every wait of eval_coroutine for data to receive (not the connect's), as it happens."""
    seen: list[PollNeeded] = []
    original = PollNeeded.poll

    def counting_poll(self: PollNeeded, timeout: float | None = None) -> bool:
        if self.mask == POLLIN:
            seen.append(self)
        return original(self, timeout)

    monkeypatch.setattr(PollNeeded, "poll", counting_poll)
    yield seen


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(params=["plain", "tls"])
def peer(request: pytest.FixtureRequest, raw_server: RawServerFactory, ca: trustme.CA) -> ScriptedPeer:
    if request.param == "plain" and not hasattr(socket, "MSG_DONTWAIT"):
        pytest.skip("plain sockets stay non-blocking without MSG_DONTWAIT")
    return ScriptedPeer(raw_server, ca if request.param == "tls" else None)


def _slow_server(peer: ScriptedPeer, body: bytes = b"x" * 1000) -> int:
    """A server that answers each request after DELAY, the head and the body DELAY apart."""

    def handler(conn: socket.socket) -> None:
        while True:
            try:
                read_request(conn)
            except EOFError:  # the client is done
                return
            time.sleep(DELAY)
            response = make_response(200, body)
            head_end = response.index(b"\r\n\r\n") + 4
            send_all(conn, response[:head_end])
            time.sleep(DELAY)
            send_all(conn, response[head_end:])

    return peer.serve(handler)


def test_blocking_reads_without_a_timeout_wait_in_the_receive(
    peer: ScriptedPeer, polls: list[PollNeeded]
) -> None:
    port = _slow_server(peer)
    with peer.connect(port) as conn:
        conn.connect()
        polls.clear()  # (the TLS handshake waits in poll)
        for _ in range(2):
            conn.send_request("GET", "/")
            started = time.monotonic()
            response = conn.read_response()
            assert response.status == 200
            assert conn.readall() == b"x" * 1000
            assert time.monotonic() - started >= 2 * DELAY * 0.9  # it did wait for both parts
    assert polls == []


def test_blocking_reads_with_a_timeout_wait_in_poll(peer: ScriptedPeer, polls: list[PollNeeded]) -> None:
    port = _slow_server(peer)
    with peer.connect(port, timeout=30) as conn:
        conn.send_request("GET", "/")
        assert conn.read_response().status == 200
        buf = bytearray(4096)
        got = 0
        while size := conn.readinto(buf):
            got += size
        assert got == 1000
    assert len(polls) >= 2  # the head and the body each waited, with the timeout


def test_coroutine_reads_never_wait_in_the_receive(peer: ScriptedPeer) -> None:
    port = _slow_server(peer)
    with peer.connect(port) as conn:
        conn.send_request("GET", "/")  # a blocking exchange first
        assert conn.read_response().status == 200
        assert conn.readall() == b"x" * 1000
        conn.send_request("GET", "/")
        reader = conn.co_read_response()
        started = time.monotonic()
        wait = next(reader)
        assert isinstance(wait, PollNeeded)
        assert time.monotonic() - started < DELAY / 2  # yielded, did not wait for the answer
        assert wait.poll(30)
        while True:
            try:
                wait = reader.send(None)
            except StopIteration as done:
                assert done.value.status == 200
                break
            assert wait.poll(30)
        body = conn.co_readall()
        started = time.monotonic()
        assert isinstance(next(body), PollNeeded)  # the body is DELAY behind its head
        assert time.monotonic() - started < DELAY / 2


class _Interrupted(Exception):
    pass


def _raise_interrupted(signum: int, frame: object) -> None:
    raise _Interrupted


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
def test_a_signal_interrupts_a_waiting_receive_and_coroutines_stay_non_blocking(peer: ScriptedPeer) -> None:
    port = _slow_server(peer)
    previous = signal.signal(signal.SIGALRM, _raise_interrupted)
    try:
        with peer.connect(port) as conn:
            conn.send_request("GET", "/")
            signal.setitimer(signal.ITIMER_REAL, DELAY / 3)
            with pytest.raises(_Interrupted):
                conn.read_response()  # waits in recv(); the handler's exception ends the wait
            reader = conn.co_read_response()  # nothing was consumed: the same read again
            started = time.monotonic()
            assert isinstance(next(reader), PollNeeded)
            assert time.monotonic() - started < DELAY / 3
            reader.close()
            assert conn.read_response().status == 200  # and blocking, all of it
            assert conn.readall() == b"x" * 1000
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_coalesced_heads_go_out_before_a_blocking_read_waits(peer: ScriptedPeer) -> None:
    # After one exchange, the server answers only once it has three more
    # requests: a read that waited in its receive with the heads still held
    # back would never end (until the server's socket timeout, with an error).
    def handler(conn: socket.socket) -> None:
        send_all(conn, make_response(200, read_request(conn).target.encode()))
        paths = [read_request(conn).target for _ in range(3)]
        for path in paths:
            send_all(conn, make_response(200, path.encode()))

    port = peer.serve(handler)
    with peer.connect(port) as conn:
        conn.send_request("GET", "/first")
        assert conn.read_response().status == 200
        assert conn.readall() == b"/first"  # this thread reads: its pipelined heads are coalesced
        for i in range(3):
            conn.send_request("GET", f"/{i}")
        assert conn._wbuf  # (held back: the case under test)
        started = time.monotonic()
        for i in range(3):
            assert conn.read_response().status == 200
            assert conn.readall() == f"/{i}".encode()
        assert time.monotonic() - started < 10
