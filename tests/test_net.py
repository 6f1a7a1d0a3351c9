"""Tests of dugong._net: resolution off-thread, TCP connect, TLS handshake, error classes.

Every coroutine is stepped by hand (or with eval_coroutine) over real
loopback sockets; the resolver is always injected, so nothing here needs DNS
or the internet.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

import pytest
import trustme

from dugong import DNS_TEST_HOSTNAMES, _net
from dugong._errors import (
    ConnectionClosed,
    ConnectionTimedOut,
    DNSUnavailable,
    ExcessBodyData,
    HostnameNotResolvable,
    InvalidResponse,
    NetworkError,
    StateError,
    UnsupportedResponse,
)
from dugong._net import (
    PEER_GONE_ERRORS,
    AddrInfo,
    co_resolve,
    co_tls_handshake,
    default_resolver,
    is_temp_network_error,
    wrap_tls,
)
from dugong._poll import POLLIN, POLLOUT, PollCoroutine, PollNeeded, eval_coroutine
from dugong._tcp import co_open_tcp
from tests.servers.raw import RawServerFactory

_T = TypeVar("_T")

# Generous bound for things that should be immediate (CI machines are slow,
# but not this slow); deliberate delays in these tests are 10 s or more.
QUICK = 1.0


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


HAS_IPV6 = _has_ipv6()
needs_ipv6 = pytest.mark.skipif(not HAS_IPV6, reason="no IPv6 loopback")


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _open_fds() -> set[int]:
    """The fds open in this process (not counting listdir's own, closed by now)."""
    return {fd for fd in map(int, os.listdir("/proc/self/fd")) if _is_open(fd)}


def _drive(crt: PollCoroutine[_T], timeout: float = 10.0) -> tuple[_T, list[PollNeeded]]:
    """Run *crt*, checking each yield is a PollNeeded that becomes ready."""
    yielded: list[PollNeeded] = []
    try:
        while True:
            request = next(crt)
            assert isinstance(request, PollNeeded)
            yielded.append(request)
            assert request.poll(timeout), f"{request} not ready within {timeout} s"
    except StopIteration as done:
        return done.value, yielded


def _addr(family: socket.AddressFamily, host: str, port: int) -> AddrInfo:
    if family == socket.AF_INET6:
        return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port, 0, 0))
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))


def _closed_port(family: socket.AddressFamily = socket.AF_INET, host: str = "127.0.0.1") -> int:
    """A loopback port nobody listens on (bound and released just now)."""
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


class FakeDNS:
    """An injectable resolver: a table of answers, optional blocking, a call log."""

    def __init__(
        self,
        answers: Mapping[str, list[AddrInfo] | BaseException],
        *,
        block: set[str] | None = None,
    ) -> None:
        self.answers = answers
        self.block = block or set()
        self.release = threading.Event()
        self.calls: list[tuple[str, int]] = []
        self.threads: set[int] = set()
        self.started = threading.Event()
        self.finished = threading.Event()
        self._lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def __call__(self, host: str, port: int) -> list[AddrInfo]:
        with self._lock:
            self.calls.append((host, port))
            self.threads.add(threading.get_ident())
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        self.started.set()
        try:
            if host in self.block:
                # A deliberate delay: the test releases it, or 20 s pass.
                self.release.wait(20)
            answer = self.answers.get(host)
            if answer is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            if isinstance(answer, BaseException):
                raise answer
            return answer
        finally:
            with self._lock:
                self.active -= 1
            self.finished.set()


LOCAL = [_addr(socket.AF_INET, "127.0.0.1", 80)]


# ---------------------------------------------------------------------------
# co_resolve
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "family", "host"),
    [
        ("127.0.0.1", socket.AF_INET, "127.0.0.1"),
        ("::1", socket.AF_INET6, "::1"),
        ("[::1]", socket.AF_INET6, "::1"),
        ("[2001:db8::7]", socket.AF_INET6, "2001:db8::7"),
    ],
)
def test_ip_literals_skip_the_resolver(literal: str, family: socket.AddressFamily, host: str) -> None:
    dns = FakeDNS({})
    crt = co_resolve(literal, 8080, dns)
    with pytest.raises(StopIteration) as done:
        next(crt)  # no PollNeeded at all: nothing to wait for
    infos: list[AddrInfo] = done.value.value
    assert dns.calls == []
    assert infos
    for info_family, kind, _proto, _canon, sockaddr in infos:
        assert info_family == family
        assert kind == socket.SOCK_STREAM
        assert sockaddr[:2] == (host, 8080)


def test_resolution_runs_off_thread_and_wakes_a_pipe() -> None:
    dns = FakeDNS({"slow.test": LOCAL}, block={"slow.test"})
    crt = co_resolve("slow.test", 80, dns)
    try:
        start = time.monotonic()
        first = next(crt)
        assert time.monotonic() - start < QUICK
        assert isinstance(first, PollNeeded)
        assert first.mask == POLLIN
        assert not first.poll(0.1)  # the resolver is still blocked
        # A spurious resume neither blocks nor changes what we wait for.
        start = time.monotonic()
        assert next(crt) == first
        assert time.monotonic() - start < QUICK
        assert dns.calls == [("slow.test", 80)]
        assert threading.get_ident() not in dns.threads

        dns.release.set()
        assert first.poll(10)
        with pytest.raises(StopIteration) as done:
            next(crt)
        assert done.value.value == LOCAL
    finally:
        dns.release.set()
        crt.close()


def test_eval_coroutine_resolves_with_injected_resolver() -> None:
    dns = FakeDNS({"host.test": LOCAL})
    assert eval_coroutine(co_resolve("host.test", 80, dns), 10) == LOCAL


def test_default_resolver_resolves_localhost() -> None:
    # localhost comes from /etc/hosts: no DNS server is asked.
    infos = eval_coroutine(co_resolve("localhost", 4321), 10)
    assert infos
    hosts = {sockaddr[0] for *_, sockaddr in infos}
    assert hosts & {"127.0.0.1", "::1"}
    assert all(sockaddr[1] == 4321 for *_, sockaddr in infos)
    assert all(kind == socket.SOCK_STREAM for _, kind, *_ in infos)
    assert default_resolver("localhost", 1)


@pytest.mark.parametrize("how", ["close", "throw"])
def test_closing_early_leaks_no_fd_and_never_writes_to_a_reused_fd(how: str) -> None:
    dns = FakeDNS({"slow.test": LOCAL}, block={"slow.test"})
    before = _open_fds()
    crt = co_resolve("slow.test", 80, dns)
    request = next(crt)
    assert request.fd in _open_fds() - before
    assert len(_open_fds() - before) == 2  # the socket pair's two ends
    assert dns.started.wait(10)  # a lookup that is running cannot be cancelled
    if how == "close":
        crt.close()
    else:
        with pytest.raises(ConnectionTimedOut):
            crt.throw(ConnectionTimedOut(1.0, request))
    assert _open_fds() == before

    # The lookup finishes after the socket pair is closed: it must not write to
    # whatever now has its fd numbers.
    reuse_r, reuse_w = os.pipe()
    try:
        dns.release.set()
        assert dns.finished.wait(10)
        time.sleep(0.05)  # the done-callback runs just after the resolver returns
        os.set_blocking(reuse_r, False)
        with pytest.raises(BlockingIOError):
            os.read(reuse_r, 1)
    finally:
        os.close(reuse_r)
        os.close(reuse_w)


def test_lookups_run_in_parallel_in_a_bounded_pool() -> None:
    names = [f"host{i}.test" for i in range(20)]
    dns = FakeDNS({name: LOCAL for name in names}, block=set(names))
    crts = [co_resolve(name, 80, dns) for name in names]
    try:
        requests = [next(crt) for crt in crts]
        assert all(r.mask == POLLIN for r in requests)
        assert len({r.fd for r in requests}) == len(names)
        deadline = time.monotonic() + 10
        while dns.max_active < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # a ninth thread, if there were one, would show up now
        assert dns.max_active == 8
        # Lookups still queued when their coroutine is closed never run.
        for crt in crts[-3:]:
            crt.close()
        dns.release.set()
        for crt in crts[:-3]:
            assert _drive(crt)[0] == LOCAL
        assert dns.max_active == 8
        time.sleep(0.1)
        assert sorted(dns.calls) == sorted((name, 80) for name in names[:-3])
    finally:
        dns.release.set()
        for crt in crts:
            crt.close()


def test_pool_is_replaced_after_fork() -> None:
    eval_coroutine(co_resolve("a.test", 80, FakeDNS({"a.test": LOCAL})), 10)
    old = _net._pool
    assert old is not None
    old.pid = -1  # what a forked child sees: a pool whose threads are not there
    assert eval_coroutine(co_resolve("b.test", 80, FakeDNS({"b.test": LOCAL})), 10) == LOCAL
    assert _net._pool is not old
    assert _net._pool is not None and _net._pool.pid == os.getpid()


_NOT_FOUND = [socket.EAI_NONAME, socket.EAI_AGAIN, socket.EAI_FAIL] + (
    [socket.EAI_NODATA] if hasattr(socket, "EAI_NODATA") else []
)


@pytest.mark.parametrize("code", _NOT_FOUND)
def test_unknown_name_with_working_dns_is_not_resolvable(code: int) -> None:
    failure = socket.gaierror(code, "lookup failed")
    dns = FakeDNS({"nosuch.test": failure, "www.iana.org": LOCAL})
    with pytest.raises(HostnameNotResolvable) as info:
        eval_coroutine(co_resolve("nosuch.test", 443, dns), 10)
    assert info.value.name == "nosuch.test"
    assert info.value.__cause__ is failure
    assert not is_temp_network_error(info.value)
    assert ("www.iana.org", 80) in dns.calls


@pytest.mark.parametrize("code", _NOT_FOUND)
def test_no_name_resolving_means_dns_unavailable(code: int) -> None:
    failure = socket.gaierror(code, "lookup failed")
    dns = FakeDNS(
        {"nosuch.test": failure} | {name: socket.gaierror(code, "x") for name, _ in DNS_TEST_HOSTNAMES}
    )
    with pytest.raises(DNSUnavailable) as info:
        eval_coroutine(co_resolve("nosuch.test", 443, dns), 10)
    assert info.value.name == "nosuch.test"
    assert info.value.__cause__ is failure
    assert is_temp_network_error(info.value)
    assert sorted(dns.calls[1:]) == sorted(DNS_TEST_HOSTNAMES)


def test_any_test_hostname_failure_counts_as_not_resolving() -> None:
    dns = FakeDNS(
        {"nosuch.test": socket.gaierror(socket.EAI_AGAIN, "x")}
        | {name: OSError(errno.ENETUNREACH, "x") for name, _ in DNS_TEST_HOSTNAMES}
    )
    with pytest.raises(DNSUnavailable):
        eval_coroutine(co_resolve("nosuch.test", 443, dns), 10)


def test_test_hostnames_are_resolved_in_parallel_and_first_success_wins() -> None:
    (slow, _), (fast, fast_port) = DNS_TEST_HOSTNAMES[0], DNS_TEST_HOSTNAMES[-1]
    dns = FakeDNS({fast: LOCAL, slow: LOCAL}, block={slow})
    try:
        start = time.monotonic()
        with pytest.raises(HostnameNotResolvable):
            eval_coroutine(co_resolve("nosuch.test", 443, dns), 10)
        assert time.monotonic() - start < 5  # did not wait for the blocked one
        assert (fast, fast_port) in dns.calls
    finally:
        dns.release.set()


@pytest.mark.parametrize(
    "failure",
    [
        socket.gaierror(socket.EAI_SERVICE, "Servname not supported"),
        OSError(errno.EMFILE, "Too many open files"),
        UnicodeError("label too long"),
    ],
)
def test_other_resolver_errors_keep_their_class_as_dugong_errors(failure: Exception) -> None:
    dns = FakeDNS({"host.test": failure})
    with pytest.raises(type(failure)) as info:
        eval_coroutine(co_resolve("host.test", 80, dns), 10)
    if isinstance(failure, OSError):
        # A twin: a DugongError that is still the resolver's class, with its errno.
        assert isinstance(info.value, NetworkError)
        assert info.value.__cause__ is failure
        assert info.value.errno == failure.errno
        assert "host.test" in str(info.value)
        assert is_temp_network_error(info.value) is is_temp_network_error(failure)
    else:
        assert info.value is failure  # a bug in the resolver: unchanged
    assert dns.calls == [("host.test", 80)]  # no test host names


# ---------------------------------------------------------------------------
# co_open_tcp
# ---------------------------------------------------------------------------


def test_open_tcp_connects_with_poll_needed_pollout(raw_server: RawServerFactory) -> None:
    peers: list[tuple[str, int]] = []
    accepted = threading.Event()

    def handler(conn: socket.socket) -> None:
        peers.append(conn.getpeername())
        accepted.set()

    server = raw_server(handler)
    crt = co_open_tcp([_addr(socket.AF_INET, server.host, server.port)])
    sock, yielded = _drive(crt)
    with sock:
        assert all(r == PollNeeded(sock.fileno(), POLLOUT) for r in yielded)
        assert sock.getpeername() == (server.host, server.port)
        assert sock.gettimeout() == 0.0
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert accepted.wait(10)
        assert peers == [sock.getsockname()]


def test_open_tcp_refused_names_the_address() -> None:
    port = _closed_port()
    before = _open_fds()
    with pytest.raises(ConnectionRefusedError) as info:
        _drive(co_open_tcp([_addr(socket.AF_INET, "127.0.0.1", port)]))
    assert f"127.0.0.1:{port}" in str(info.value)
    assert info.value.errno == errno.ECONNREFUSED
    assert is_temp_network_error(info.value)
    assert _open_fds() == before


def test_open_tcp_all_failing_raises_the_last_error() -> None:
    port = _closed_port()
    bad_proto = (socket.AF_INET, socket.SOCK_STREAM, 253, "", ("127.0.0.1", port))
    before = _open_fds()
    with pytest.raises(ConnectionRefusedError) as info:
        _drive(co_open_tcp([bad_proto, _addr(socket.AF_INET, "127.0.0.1", port)]))
    assert f"127.0.0.1:{port}" in str(info.value)
    with pytest.raises(OSError) as info2:
        _drive(co_open_tcp([_addr(socket.AF_INET, "127.0.0.1", port), bad_proto]))
    assert info2.value.errno == errno.EPROTONOSUPPORT
    assert f"127.0.0.1:{port}" in str(info2.value)
    assert _open_fds() == before


def test_open_tcp_falls_through_to_a_working_address(raw_server: RawServerFactory) -> None:
    server = raw_server(lambda conn: None)
    good = _addr(socket.AF_INET, server.host, server.port)
    candidates = [_addr(socket.AF_INET, "127.0.0.1", _closed_port())]
    # An unsupported protocol fails already when the socket is created.
    candidates.append((socket.AF_INET, socket.SOCK_STREAM, 253, "", ("127.0.0.1", 1)))
    if HAS_IPV6:
        candidates.append(_addr(socket.AF_INET6, "::1", _closed_port(socket.AF_INET6, "::1")))
    sock, _ = _drive(co_open_tcp(candidates + [good]))
    with sock:
        assert sock.getpeername() == (server.host, server.port)


@needs_ipv6
def test_open_tcp_ipv6() -> None:
    with socket.create_server(("::1", 0), family=socket.AF_INET6) as listener:
        port = listener.getsockname()[1]
        sock, _ = _drive(
            co_open_tcp(
                [_addr(socket.AF_INET, "127.0.0.1", _closed_port()), _addr(socket.AF_INET6, "::1", port)]
            )
        )
        with sock, listener.accept()[0]:
            assert sock.family == socket.AF_INET6
            assert sock.getpeername()[:2] == ("::1", port)
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


@contextmanager
def full_listener() -> Iterator[socket.socket]:
    """A listening socket whose accept queue is full: the kernel drops further SYNs,
    so a connect to it stays in progress (like a host that does not answer)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        fillers: list[socket.socket] = []
        try:
            for _ in range(4):
                filler = socket.socket()
                fillers.append(filler)
                filler.setblocking(False)
                filler.connect_ex(address)
            time.sleep(0.05)
            yield listener
        finally:
            for filler in fillers:
                filler.close()


def test_open_tcp_to_a_full_backlog_keeps_waiting_and_closes_cleanly() -> None:
    with full_listener() as listener:
        address = listener.getsockname()
        before = _open_fds()
        crt = co_open_tcp([_addr(socket.AF_INET, *address)])
        request = next(crt)
        assert request.mask == POLLOUT
        assert not request.poll(0.3)
        start = time.monotonic()
        assert next(crt) == request  # spurious resume: still connecting
        assert time.monotonic() - start < QUICK
        assert len(_open_fds() - before) == 1
        crt.close()
        assert _open_fds() == before


def test_open_tcp_immediate_failure() -> None:
    # The broadcast address of lo: the kernel refuses at once (ENETUNREACH),
    # before any packet is sent.
    before = _open_fds()
    with pytest.raises(OSError) as info:
        _drive(co_open_tcp([_addr(socket.AF_INET, "127.255.255.255", 80)]))
    assert info.value.errno in (errno.ENETUNREACH, errno.EACCES)
    assert "127.255.255.255:80" in str(info.value)
    assert _open_fds() == before


def test_open_tcp_needs_an_address() -> None:
    with pytest.raises(ValueError, match="no addresses"):
        next(co_open_tcp([]))


# ---------------------------------------------------------------------------
# TLS
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1", "::1").configure_cert(context)
    return context


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


class TLSServer:
    """A one-connection TLS server thread that records the SNI it saw."""

    def __init__(
        self,
        context: ssl.SSLContext,
        host: str = "127.0.0.1",
        *,
        before_handshake: Callable[[socket.socket], None] | None = None,
        rcvbuf: int | None = None,
    ) -> None:
        self.sni: list[str | None] = []
        self.errors: list[BaseException] = []
        self.received = b""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family)
        if rcvbuf is not None:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.listener.bind((host, 0))
        self.listener.listen(1)
        self.port: int = self.listener.getsockname()[1]
        self.context = context
        context.sni_callback = self._remember_sni
        self.before_handshake = before_handshake
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(20)
        try:
            conn, _ = self.listener.accept()
        except OSError as exc:
            self.errors.append(exc)
            return
        with conn:
            conn.settimeout(20)
            try:
                if self.before_handshake is not None:
                    self.before_handshake(conn)
                    if conn.fileno() == -1:
                        return
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"hello")
                    self.received = tls.recv(100)
            except (OSError, ValueError) as exc:
                self.errors.append(exc)

    def _remember_sni(
        self, sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, context: ssl.SSLContext
    ) -> None:
        self.sni.append(name)

    def close(self) -> None:
        self.thread.join(30)
        self.listener.close()


@pytest.fixture
def tls_servers() -> Iterator[Callable[..., TLSServer]]:
    """Starts TLSServers (same arguments) and joins them at teardown."""
    servers: list[TLSServer] = []

    def start(
        context: ssl.SSLContext,
        host: str = "127.0.0.1",
        *,
        before_handshake: Callable[[socket.socket], None] | None = None,
        rcvbuf: int | None = None,
    ) -> TLSServer:
        server = TLSServer(context, host, before_handshake=before_handshake, rcvbuf=rcvbuf)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _connect(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock, _ = _drive(co_open_tcp([_addr(family, host, port)]))
    return sock


@pytest.mark.parametrize(
    ("connect_to", "server_hostname", "sni"),
    [
        ("127.0.0.1", "localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1", None),  # no SNI for an IP, but the IP is checked
        pytest.param("::1", "[::1]", None, marks=needs_ipv6),
        pytest.param("::1", "::1", None, marks=needs_ipv6),
    ],
)
def test_tls_handshake_through_poll_needed(
    tls_servers: Callable[..., TLSServer],
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    connect_to: str,
    server_hostname: str,
    sni: str | None,
) -> None:
    go = threading.Event()
    server = tls_servers(server_context, connect_to, before_handshake=lambda conn: go.wait(20))
    tls = wrap_tls(_connect(connect_to, server.port), client_context, server_hostname)
    with tls:
        assert tls.gettimeout() == 0.0
        crt = co_tls_handshake(tls)
        # The server does not answer before the test says so: the
        # ClientHello is out and the handshake waits for the reply.
        first = next(crt)
        assert first == PollNeeded(tls.fileno(), POLLIN)
        go.set()
        _, yielded = _drive(crt)
        assert all(r.fd == tls.fileno() and r.mask in (POLLIN, POLLOUT) for r in yielded)
        assert tls.version() is not None
        # The connection works: read the greeting, answer it.
        tls.settimeout(10)
        assert tls.recv(100) == b"hello"
        tls.sendall(b"bye")
        server.close()
    assert server.errors == []
    assert server.sni == [sni]
    assert server.received == b"bye"


def test_tls_handshake_waits_for_pollout_when_the_send_buffer_is_full(
    tls_servers: Callable[..., TLSServer],
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    go = threading.Event()
    # A ~64 KiB ClientHello (ALPN protocol names) against a server that does
    # not read yet and tiny socket buffers: the first flight cannot be sent.
    client_context.set_alpn_protocols([f"{'x' * 250}{i:04d}" for i in range(250)])
    server = tls_servers(server_context, before_handshake=lambda conn: go.wait(20), rcvbuf=1)
    sock = _connect("127.0.0.1", server.port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)
    with wrap_tls(sock, client_context, "localhost") as tls:
        crt = co_tls_handshake(tls)
        first = next(crt)
        assert first == PollNeeded(tls.fileno(), POLLOUT)
        assert next(crt) == first  # spurious resume
        go.set()
        _, rest = _drive(crt)
        assert POLLIN in {r.mask for r in rest}
        assert tls.version() is not None
        tls.settimeout(10)
        assert tls.recv(100) == b"hello"
        tls.close()
        server.close()
    assert server.sni == ["localhost"]


@pytest.mark.parametrize(
    ("connect_to", "server_hostname"),
    [("127.0.0.1", "wrong.example"), ("127.0.0.1", "127.0.0.2")],
)
def test_tls_wrong_hostname_raises_cert_verification_error(
    tls_servers: Callable[..., TLSServer],
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    connect_to: str,
    server_hostname: str,
) -> None:
    server = tls_servers(server_context, connect_to)
    with wrap_tls(_connect(connect_to, server.port), client_context, server_hostname) as tls:
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            _drive(co_tls_handshake(tls))
    server.close()
    assert "mismatch" in str(info.value)
    assert not is_temp_network_error(info.value)
    assert server.errors  # the server saw the client's alert


def test_tls_untrusted_certificate_raises_cert_verification_error(
    tls_servers: Callable[..., TLSServer], server_context: ssl.SSLContext
) -> None:
    server = tls_servers(server_context)
    untrusting = ssl.create_default_context(cafile=None, cadata=trustme.CA().cert_pem.bytes().decode())
    with wrap_tls(_connect("127.0.0.1", server.port), untrusting, "localhost") as tls:
        with pytest.raises(ssl.SSLCertVerificationError):
            _drive(co_tls_handshake(tls))
    server.close()


def _read_then_close(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.close()


def _reset(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


@pytest.mark.parametrize("server_action", [_read_then_close, _reset], ids=["eof", "reset"])
def test_tls_peer_vanishing_mid_handshake_is_connection_closed(
    tls_servers: Callable[..., TLSServer],
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    server_action: Callable[[socket.socket], None],
) -> None:
    server = tls_servers(server_context, before_handshake=server_action)
    with wrap_tls(_connect("127.0.0.1", server.port), client_context, "localhost") as tls:
        with pytest.raises(ConnectionClosed, match="TLS handshake") as info:
            _drive(co_tls_handshake(tls))
    server.close()
    assert isinstance(info.value.__cause__, PEER_GONE_ERRORS)
    assert is_temp_network_error(info.value)


def test_tls_silent_server_keeps_the_handshake_waiting(
    tls_servers: Callable[..., TLSServer],
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    stop = threading.Event()
    server = tls_servers(server_context, before_handshake=lambda conn: (stop.wait(20), conn.close()))
    try:
        with wrap_tls(_connect("127.0.0.1", server.port), client_context, "localhost") as tls:
            crt = co_tls_handshake(tls)
            for _ in range(3):
                start = time.monotonic()
                request = next(crt)
                assert time.monotonic() - start < QUICK
                assert request == PollNeeded(tls.fileno(), POLLIN)
                assert not request.poll(0.2)
            crt.close()
    finally:
        stop.set()
        server.close()


def test_wrap_tls_closes_the_socket_when_it_fails(client_context: ssl.SSLContext) -> None:
    a, b = socket.socketpair()
    with b:
        with pytest.raises(ValueError, match="server_hostname"):
            wrap_tls(a, client_context, None)  # check_hostname needs a name
        assert a.fileno() == -1


# ---------------------------------------------------------------------------
# Error classes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "temporary"),
    [
        (TimeoutError(), True),
        (TimeoutError("timed out"), True),
        (ConnectionTimedOut(5.0), True),
        (BrokenPipeError(errno.EPIPE, "x"), True),
        (ConnectionResetError(errno.ECONNRESET, "x"), True),
        (ConnectionAbortedError(errno.ECONNABORTED, "x"), True),
        (ConnectionRefusedError(errno.ECONNREFUSED, "x"), True),
        (InterruptedError(errno.EINTR, "x"), True),
        (OSError(errno.ENETUNREACH, "x"), True),
        (OSError(errno.EHOSTUNREACH, "x"), True),
        (OSError(errno.ENETDOWN, "x"), True),
        (OSError(errno.EHOSTDOWN, "x"), True),
        (OSError(errno.ENETRESET, "x"), True),
        (OSError(errno.ETIMEDOUT, "x"), True),
        # The codes of dugong 3.x's list, kept so that 3.x retry loops behave the same.
        (OSError(errno.ENOLINK, "x"), True),
        (OSError(errno.ENONET, "x"), True),
        (OSError(errno.ENOTCONN, "x"), True),
        (OSError(errno.ENXIO, "x"), True),
        (OSError(errno.EREMCHG, "x"), True),
        (OSError(errno.ESHUTDOWN, "x"), True),
        (OSError(errno.EAGAIN, "x"), True),
        (ConnectionClosed(), True),
        (DNSUnavailable("host"), True),
        (ssl.SSLEOFError(8, "EOF"), True),
        (ssl.SSLZeroReturnError(6, "closed"), True),
        (ssl.SSLSyscallError(5, "syscall"), True),
        (socket.gaierror(socket.EAI_AGAIN, "try again"), True),
        (socket.gaierror(socket.EAI_NONAME, "unknown"), False),
        (HostnameNotResolvable("host"), False),
        (InvalidResponse("bad"), False),
        (UnsupportedResponse("odd"), False),
        (StateError("state"), False),
        (ExcessBodyData("too much"), False),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), False),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER]"), False),
        (ssl.SSLError(4, "errno 4 is EINTR, but this is SSL_ERROR_X509_LOOKUP"), False),
        (OSError(errno.ENOENT, "x"), False),
        (OSError("no errno"), False),
        (FileNotFoundError(errno.ENOENT, "x"), False),
        (TypeError("x"), False),
        (ValueError("x"), False),
        (KeyboardInterrupt(), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_is_temp_network_error(exc: BaseException, temporary: bool) -> None:
    assert is_temp_network_error(exc) is temporary


def test_peer_gone_errors_are_temporary() -> None:
    assert BrokenPipeError in PEER_GONE_ERRORS
    assert ConnectionResetError in PEER_GONE_ERRORS
    assert ssl.SSLEOFError in PEER_GONE_ERRORS
    assert ConnectionRefusedError not in PEER_GONE_ERRORS  # never connected: not "gone"
    for cls in PEER_GONE_ERRORS:
        assert is_temp_network_error(cls())


def test_dns_test_hostnames_are_host_port_pairs_as_in_dugong3() -> None:
    assert len(DNS_TEST_HOSTNAMES) >= 2
    for name, port in DNS_TEST_HOSTNAMES:
        assert isinstance(name, str) and "." in name and ":" not in name
        assert isinstance(port, int) and 0 < port < 65536


def test_public_names_are_reexported() -> None:
    import dugong

    # getattr: a runtime check of the lazy re-export (typing is typings/' job).
    assert dugong.is_temp_network_error is is_temp_network_error
