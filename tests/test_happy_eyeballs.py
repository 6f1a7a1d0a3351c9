"""Happy Eyeballs (RFC 8305) in co_open_tcp and HTTPConnection.connect.

An address that "never answers" is a listening socket whose accept queue is
full: the kernel drops further SYNs, so a connect to it stays in progress
(as with a host that is down or a firewall that drops packets).  Every test
injects its addresses; nothing here needs DNS.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from dugong import (
    ConnectionRefused,
    ConnectionTimedOut,
    DugongError,
    HTTPConnection,
    NetworkError,
    is_temp_network_error,
)
from dugong._net import AddrInfo
from dugong._poll import POLLIN, POLLOUT, PollCoroutine, PollNeeded, eval_coroutine
from dugong._tcp import DEFAULT_CONNECT_DELAY, co_open_tcp, order_addresses
from tests.servers.raw import (
    RawServer,
    RawServerFactory,
    make_response,
    read_request,
    send_all,
)
from tests.test_net import (
    HAS_IPV6,
    _addr,
    _closed_port,
    _open_fds,
    full_listener,
    needs_ipv6,
)


@contextmanager
def blackhole() -> Iterator[tuple[str, int]]:
    """A loopback address whose connects stay in progress: its accept queue is full."""
    with full_listener() as listener:
        yield listener.getsockname()


def _started(server: RawServer) -> RawServer:
    """*server*, once its accept loop runs (it opens a selector): fd counts are stable then."""
    socket.create_connection(server.address).close()
    server.wait_idle(connections=1)
    return server


def _v4(address: tuple[str, int]) -> AddrInfo:
    return _addr(socket.AF_INET, *address)


def _run_counting(
    crt: PollCoroutine[socket.socket], timeout: float = 10.0
) -> tuple[socket.socket, list[PollNeeded]]:
    """eval_coroutine(crt, timeout), remembering every PollNeeded yielded."""
    yielded: list[PollNeeded] = []

    def recording() -> PollCoroutine[socket.socket]:
        while True:
            try:
                request = next(crt)
            except StopIteration as done:
                sock: socket.socket = done.value
                return sock
            yielded.append(request)
            yield request

    try:
        return eval_coroutine(recording(), timeout), yielded
    finally:
        crt.close()


# ---------------------------------------------------------------------------
# Ordering
# ---------------------------------------------------------------------------


def _info(family: socket.AddressFamily, host: str) -> AddrInfo:
    return _addr(family, host, 80)


def test_order_interleaves_families_starting_with_the_first() -> None:
    v6a, v6b, v6c = (_info(socket.AF_INET6, f"2001:db8::{n}") for n in (1, 2, 3))
    v4a, v4b = (_info(socket.AF_INET, f"192.0.2.{n}") for n in (1, 2))
    assert order_addresses([v6a, v6b, v6c, v4a, v4b]) == [v6a, v4a, v6b, v4b, v6c]
    # The family of the resolver's first answer goes first (RFC 6724 order).
    assert order_addresses([v4a, v4b, v6a, v6b]) == [v4a, v6a, v4b, v6b]
    # One family: the resolver's order; repeated entries dropped.
    assert order_addresses([v4b, v4a, v4b]) == [v4b, v4a]
    assert order_addresses([]) == []


# ---------------------------------------------------------------------------
# The stagger
# ---------------------------------------------------------------------------


def test_an_address_that_never_answers_costs_the_delay_not_the_timeout(raw_server: RawServerFactory) -> None:
    """The acceptance test of issue 15: about the stagger delay, not `timeout`."""
    server = _started(raw_server(lambda conn: None))
    with blackhole() as silent:
        before = _open_fds()
        started = time.monotonic()
        sock, yielded = _run_counting(
            co_open_tcp([_v4(silent), _v4((server.host, server.port))], delay=0.25), timeout=10
        )
        elapsed = time.monotonic() - started
        with sock:
            assert sock.getpeername() == (server.host, server.port)
            # The silent attempt was closed: only the winner is new.
            server.wait_idle(connections=2)
            assert _open_fds() - before == {sock.fileno()}
    print(f"connected after {elapsed:.3f} s with a 0.25 s delay ({len(yielded)} waits)")
    assert 0.25 <= elapsed < 0.25 + 0.5
    # No busy loop: one wait for the delay, one for the second attempt (and
    # perhaps a spurious wake-up).
    assert len(yielded) <= 4
    # While the first attempt waited for the delay, the coroutine waited on
    # one fd standing for "an attempt ended or the delay passed".
    assert yielded[0].mask == POLLIN


@pytest.mark.parametrize("delay", [0.05, 0.5])
def test_the_delay_is_configurable(raw_server: RawServerFactory, delay: float) -> None:
    server = raw_server(lambda conn: None)
    with blackhole() as silent:
        conn = HTTPConnection(
            "dual.test",
            server.port,
            resolver=lambda host, port: [_v4(silent), _v4((server.host, port))],
            happy_eyeballs_delay=delay,
            timeout=10,
        )
        started = time.monotonic()
        conn.connect()
        elapsed = time.monotonic() - started
        conn.disconnect()
    print(f"delay {delay}: connected after {elapsed:.3f} s")
    assert delay <= elapsed < delay + 0.5


def test_a_timeout_on_one_address_falls_back_to_the_next(raw_server: RawServerFactory) -> None:
    """dugong 4.0's co_open_tcp waited on the first address until `timeout`."""

    def answer(conn: socket.socket) -> None:
        read_request(conn)
        send_all(conn, make_response(200, body=b"hello"))

    server = raw_server(answer)
    with blackhole() as silent1, blackhole() as silent2:
        with HTTPConnection(
            "three.test",
            server.port,
            resolver=lambda host, port: [_v4(silent1), _v4(silent2), _v4((server.host, port))],
            timeout=2.0,
            happy_eyeballs_delay=0.1,
        ) as conn:
            started = time.monotonic()
            conn.send_request("GET", "/")
            assert conn.read_response().status == 200
            assert conn.readall() == b"hello"
            elapsed = time.monotonic() - started
    print(f"third address connected after {elapsed:.3f} s")
    assert 0.2 <= elapsed < 1.0


def test_a_failure_starts_the_next_attempt_at_once(raw_server: RawServerFactory) -> None:
    server = raw_server(lambda conn: None)
    refused = _v4(("127.0.0.1", _closed_port()))
    started = time.monotonic()
    sock, _ = _run_counting(co_open_tcp([refused, _v4((server.host, server.port))], delay=5.0))
    with sock:
        assert time.monotonic() - started < 1.0
        assert sock.getpeername() == (server.host, server.port)


def test_a_failure_while_waiting_for_the_delay_starts_the_next(raw_server: RawServerFactory) -> None:
    """The first attempt is in flight when it fails: the next one does not wait for the delay."""
    server = raw_server(lambda conn: None)
    with full_listener() as listener:
        crt = co_open_tcp([_v4(listener.getsockname()), _v4((server.host, server.port))], delay=30.0)
        started = time.monotonic()
        request = next(crt)
        assert request.mask == POLLIN
        # The SYN was dropped; once nothing listens, its retransmission is refused.
        listener.close()
        sock, _ = _run_counting(crt)
    with sock:
        elapsed = time.monotonic() - started
        assert sock.getpeername() == (server.host, server.port)
    print(f"refused in flight: second address connected after {elapsed:.3f} s (delay 30 s)")
    assert elapsed < 10


def test_zero_delay_starts_every_attempt_at_once(raw_server: RawServerFactory) -> None:
    server = raw_server(lambda conn: None)
    with blackhole() as silent1, blackhole() as silent2:
        started = time.monotonic()
        sock, _ = _run_counting(
            co_open_tcp([_v4(silent1), _v4(silent2), _v4((server.host, server.port))], delay=0)
        )
        with sock:
            assert time.monotonic() - started < 0.2


def test_an_immediate_success_needs_no_wait_set(raw_server: RawServerFactory) -> None:
    """The first attempt connects before the coroutine would wait: no selector, no alarm."""
    server = _started(raw_server(lambda conn: None))
    before = _open_fds()
    crt = co_open_tcp([_v4((server.host, server.port)), _v4(("127.0.0.1", _closed_port()))])
    sock, yielded = _run_counting(crt)
    with sock:
        # Loopback connects complete at once, or after one wait on the socket itself.
        assert all(r == PollNeeded(sock.fileno(), POLLOUT) for r in yielded)
        server.wait_idle(connections=2)
        assert _open_fds() - before == {sock.fileno()}


def test_spurious_resumes_are_harmless() -> None:
    with blackhole() as silent1, blackhole() as silent2:
        before = _open_fds()
        crt = co_open_tcp([_v4(silent1), _v4(silent2)], delay=60)
        request = next(crt)
        assert request.mask == POLLIN
        assert not request.poll(0.1)
        assert next(crt) == request  # woken early: waits for the same
        crt.close()
        assert _open_fds() == before


def test_a_timeout_closes_every_attempt() -> None:
    with blackhole() as silent1, blackhole() as silent2:
        before = _open_fds()
        started = time.monotonic()
        with pytest.raises(ConnectionTimedOut):
            eval_coroutine(co_open_tcp([_v4(silent1), _v4(silent2)], delay=0.05), 0.3)
        # The delay's alarm counts as progress once; then nothing happens for 0.3 s.
        assert time.monotonic() - started < 1.5
        assert _open_fds() == before


def test_every_address_failing_names_each() -> None:
    port1, port2 = _closed_port(), _closed_port()
    addresses = [_v4(("127.0.0.1", port1)), _v4(("127.0.0.1", port2))]
    if HAS_IPV6:
        addresses.insert(1, _addr(socket.AF_INET6, "::1", _closed_port(socket.AF_INET6, "::1")))
    with pytest.raises(ConnectionRefused) as info:
        eval_coroutine(co_open_tcp(addresses), 10)
    error = info.value
    assert isinstance(error, ConnectionRefusedError) and isinstance(error, DugongError)
    assert error.errno == errno.ECONNREFUSED
    for info_ in addresses:
        host, port = info_[4][0], info_[4][1]
        assert (f"[{host}]:{port}" if ":" in host else f"{host}:{port}") in str(error)
    assert str(error).startswith("[Errno 111] Connection refused (connecting to ")
    assert "also tried" in str(error)
    assert isinstance(error.__cause__, ConnectionRefusedError)
    assert not isinstance(error.__cause__, DugongError)
    assert is_temp_network_error(error)


@needs_ipv6
def test_ipv6_first_then_ipv4(raw_server: RawServerFactory) -> None:
    server = raw_server(lambda conn: None)  # IPv4 only
    v6_port = _closed_port(socket.AF_INET6, "::1")
    v6 = _addr(socket.AF_INET6, "::1", v6_port)
    sock, _ = _run_counting(co_open_tcp([v6, _v4((server.host, server.port))]))
    with sock:
        assert sock.family == socket.AF_INET


def test_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="delay"):
        next(co_open_tcp([_v4(("127.0.0.1", 1))], delay=-1))
    with pytest.raises(ValueError, match="happy_eyeballs_delay"):
        HTTPConnection("example.org", happy_eyeballs_delay=float("nan"))
    assert DEFAULT_CONNECT_DELAY == 0.25


def test_many_concurrent_connects_share_one_alarm_thread(raw_server: RawServerFactory) -> None:
    server = raw_server(lambda conn: None)
    with blackhole() as silent:
        addresses = [_v4(silent), _v4((server.host, server.port))]
        results: list[float] = []

        def connect() -> None:
            started = time.monotonic()
            sock = eval_coroutine(co_open_tcp(addresses, delay=0.1), 10)
            results.append(time.monotonic() - started)
            sock.close()

        threads = [threading.Thread(target=connect) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    assert len(results) == 8 and all(0.1 <= r < 1.5 for r in results), results
    alarm_threads = [t for t in threading.enumerate() if t.name == "dugong-alarm"]
    assert len(alarm_threads) == 1


def test_the_alarm_thread_is_replaced_after_fork(raw_server: RawServerFactory) -> None:
    from dugong import _tcp

    server = raw_server(lambda conn: None)
    with blackhole() as silent:
        sock = eval_coroutine(co_open_tcp([_v4(silent), _v4((server.host, server.port))], delay=0.05), 10)
        sock.close()
        clock = _tcp._alarm_clock
        assert clock is not None
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                child = eval_coroutine(
                    co_open_tcp([_v4(silent), _v4((server.host, server.port))], delay=0.05), 5
                )
                child.close()
                ok = _tcp._alarm_clock is not clock
                os.write(write, b"1" if ok else b"0")
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as answer:
            assert answer.read() == b"1"
        os.waitpid(pid, 0)


def test_network_errors_are_dugong_errors() -> None:
    with pytest.raises(NetworkError) as info:
        eval_coroutine(co_open_tcp([_v4(("127.255.255.255", 80))]), 10)
    assert info.value.errno in (errno.ENETUNREACH, errno.EACCES)
    assert "127.255.255.255:80" in str(info.value)
    assert isinstance(info.value, DugongError)
    assert is_temp_network_error(info.value) is is_temp_network_error(info.value.__cause__ or info.value)


def test_an_address_connect_refuses_to_take_is_skipped(raw_server: RawServerFactory) -> None:
    server = _started(raw_server(lambda conn: None))
    before = _open_fds()
    not_an_address = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("256.0.0.1", 80))
    sock, _ = _run_counting(co_open_tcp([not_an_address, _v4((server.host, server.port))]))
    with sock:
        assert sock.getpeername() == (server.host, server.port)
    wrong_type = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", "http"))
    with pytest.raises(TypeError):
        eval_coroutine(co_open_tcp([wrong_type]), 10)  # type: ignore[list-item]
    server.wait_idle(connections=2)
    assert _open_fds() == before
