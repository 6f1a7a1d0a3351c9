"""Connection setup: name resolution, TCP connect, TLS handshake, and error classes.

Everything here that may block is a dugong coroutine (see :mod:`dugong._poll`):

* :func:`co_resolve` runs the resolver (``getaddrinfo`` by default, which
  cannot be made non-blocking) in a small shared pool of daemon threads and
  waits for the answer on a socket pair, so the caller's thread never
  blocks.  When a name does not resolve it resolves :data:`dugong.DNS_TEST_HOSTNAMES`
  too, to tell a wrong name (:exc:`HostnameNotResolvable`) from a broken
  network (:exc:`DNSUnavailable`).
* :func:`co_open_tcp` connects non-blocking sockets with Happy Eyeballs
  (RFC 8305): attempts to the addresses start one after the other, a short
  delay apart, and the first that connects wins.
* :func:`wrap_tls` and :func:`co_tls_handshake` add TLS on top.

Errors of the socket, TLS and resolver calls leave this module as their
dugong twins (:func:`dugong._errors.network_error`): a refused connection
is a :exc:`ConnectionRefused`, which is also a :exc:`ConnectionRefusedError`.

:data:`PEER_GONE_ERRORS` is the one list of exceptions that mean "the peer
closed or reset the connection", and :func:`is_temp_network_error` decides
which errors are worth a retry.
"""

from __future__ import annotations

import errno
import heapq
import ipaddress
import itertools
import math
import os
import queue
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Final, TypeAlias, TypeVar

from ._errors import (
    ConnectionClosed,
    ConnectionTimedOut,
    DNSUnavailable,
    HostnameNotResolvable,
    NetworkError,
    network_error,
)
from ._poll import POLLIN, POLLOUT, PollCoroutine, PollNeeded

if TYPE_CHECKING:
    from concurrent.futures import Future
    from ._observer import Notifier

__all__ = [
    "DEFAULT_CONNECT_DELAY",
    "PEER_GONE_ERRORS",
    "Waker",
    "AddrInfo",
    "Resolver",
    "SockAddr",
    "co_open_tcp",
    "co_resolve",
    "check_host_name",
    "co_tls_handshake",
    "default_resolver",
    "is_temp_network_error",
    "order_addresses",
    "wrap_tls",
]

_T = TypeVar("_T")

#: The socket address of an :data:`AddrInfo`: ``(host, port)`` for IPv4,
#: ``(host, port, flowinfo, scope_id)`` for IPv6.
SockAddr: TypeAlias = tuple[str, int] | tuple[str, int, int, int]

#: One entry of what :func:`socket.getaddrinfo` returns:
#: ``(family, type, proto, canonname, sockaddr)``.
AddrInfo: TypeAlias = tuple[socket.AddressFamily, socket.SocketKind, int, str, SockAddr]

#: A function that resolves ``(host, port)`` to a non-empty list of
#: :data:`AddrInfo`, or raises :exc:`socket.gaierror` (blocking is allowed:
#: it runs in a worker thread).
Resolver: TypeAlias = Callable[[str, int], Sequence[AddrInfo]]

#: The exceptions that mean the peer closed or reset the connection.  This is
#: the one place where they are listed; the connection turns them into
#: :exc:`ConnectionClosed` at its I/O boundary.
PEER_GONE_ERRORS: Final[tuple[type[OSError], ...]] = (
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
)

# getaddrinfo() errors that may mean "no such name" as well as "no DNS".
_NAME_NOT_FOUND_ERRNOS: Final[frozenset[int]] = frozenset(
    code
    for code in (
        getattr(socket, "EAI_NONAME", None),
        getattr(socket, "EAI_AGAIN", None),
        getattr(socket, "EAI_NODATA", None),
        getattr(socket, "EAI_FAIL", None),
    )
    if code is not None
)

# OSError errnos that describe a network condition that may go away: dugong
# 3.x's list, plus the ConnectionError ones.
_TEMP_ERRNOS: Final[frozenset[int]] = frozenset(
    code
    for code in (
        getattr(errno, name, None)
        for name in (
            "ETIMEDOUT",
            "ECONNRESET",
            "ECONNABORTED",
            "ECONNREFUSED",
            "EPIPE",
            "ENETUNREACH",
            "EHOSTUNREACH",
            "ENETDOWN",
            "EHOSTDOWN",
            "ENETRESET",
            "ENOLINK",
            "ENONET",
            "ENOTCONN",
            "ENXIO",
            "EREMCHG",
            "ESHUTDOWN",
            "EAGAIN",
        )
    )
    if code is not None
)

_MAX_RESOLVER_THREADS: Final[int] = 8


def default_resolver(host: str, port: int) -> list[AddrInfo]:
    """Resolve *host* with ``socket.getaddrinfo(host, port, type=SOCK_STREAM)``.

    Args:
        host: a host name or IP address.
        port: the TCP port to put into the socket addresses.

    Returns:
        The IPv4 and IPv6 addresses, in the order the system prefers them.

    Raises:
        socket.gaierror: the name could not be resolved.
    """
    return [
        (family, kind, proto, canonname, sockaddr)
        # An ASCII name goes as bytes: a str would be encoded with the "idna"
        # codec, which gives ASCII names unchanged but costs an import.
        for family, kind, proto, canonname, sockaddr in socket.getaddrinfo(
            host.encode("ascii") if host.isascii() else host, port, type=socket.SOCK_STREAM
        )
        # Drops the (int, bytes) addresses of a Python built without IPv6.
        if isinstance(sockaddr[0], str)
    ]


# ---------------------------------------------------------------------------
# The resolver thread pool
# ---------------------------------------------------------------------------


class _Pool:
    """Up to ``max_workers`` daemon threads that run submitted jobs in order.

    Daemon threads, unlike those of ``concurrent.futures.ThreadPoolExecutor``,
    do not hold up interpreter exit while a lookup hangs.
    """

    def __init__(self, max_workers: int) -> None:
        self.pid = os.getpid()
        self._max_workers = max_workers
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._n_threads = 0

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)
        if self._idle.acquire(blocking=False):
            return
        with self._lock:
            if self._n_threads < self._max_workers:
                thread = threading.Thread(
                    target=self._work, name="dugong-resolver", daemon=True
                )
                thread.start()
                self._n_threads += 1

    def _work(self) -> None:
        while True:
            self._jobs.get()()
            self._idle.release()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _get_pool() -> _Pool:
    global _pool
    with _pool_lock:
        # A forked child has the parent's pool object but none of its threads.
        if _pool is None or _pool.pid != os.getpid():
            _pool = _Pool(_MAX_RESOLVER_THREADS)
        return _pool


class Waker:
    """A socket pair whose read end becomes readable when :meth:`notify` is called.

    A socket pair rather than a pipe: ``select.select`` on Windows waits only
    for sockets.  :meth:`notify` may run in another thread and may come after
    :meth:`close`; the lock makes sure it never writes to a closed (and maybe
    reused) fd.
    """

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        #: The fd to wait on for POLLIN.
        self.fd = self._reader.fileno()
        self._lock = threading.Lock()
        self._closed = False

    def notify(self, _future: object = None) -> None:
        """Make :attr:`fd` readable (from any thread; harmless after :meth:`close`)."""
        with self._lock:
            if not self._closed:
                try:
                    self._writer.send(b"\0")
                except BlockingIOError:  # pragma: no cover - thousands of unread wake-ups
                    pass  # readable already

    def drain(self) -> None:
        """Read what :meth:`notify` wrote, so that :attr:`fd` waits again."""
        # One byte per notification: a single read empties the pair.
        try:
            self._reader.recv(4096)
        except BlockingIOError:
            pass

    def close(self) -> None:
        """Close both ends; call once."""
        with self._lock:
            self._closed = True
            self._reader.close()
            self._writer.close()


def _run_job(future: Future[_T], call: Callable[[], _T]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = call()
    except BaseException as exc:  # handed over to the waiting coroutine
        future.set_exception(exc)
    else:
        future.set_result(result)


def _co_run_in_pool(
    calls: Sequence[Callable[[], _T]], *, until_success: bool = False
) -> PollCoroutine[list[Future[_T]]]:
    """Run *calls* in the pool; wait without blocking until all are done.

    With *until_success*, stop waiting as soon as one of them has returned
    (rather than raised).  Returns the futures, in the order of *calls*;
    those still running are cancelled, and their results ignored, when the
    coroutine ends.
    """
    from concurrent.futures import Future  # (here: an IP literal needs no resolver; ~5 ms at start-up)

    waker = Waker()
    futures: list[Future[_T]] = []
    try:
        pool = _get_pool()
        for call in calls:
            future: Future[_T] = Future()
            future.add_done_callback(waker.notify)
            futures.append(future)
            pool.submit(partial(_run_job, future, call))
        while True:
            # Drain first, then look: a job that finishes after the look
            # leaves a byte in the socket pair, so the wait below cannot miss it.
            waker.drain()
            if all(f.done() for f in futures):
                return futures
            if until_success and any(
                f.done() and f.exception() is None for f in futures
            ):
                return futures
            yield PollNeeded(waker.fd, POLLIN)
    finally:
        waker.close()
        for future in futures:
            future.cancel()


# ---------------------------------------------------------------------------
# Name resolution
# ---------------------------------------------------------------------------


def _is_ipv6_literal(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


def check_host_name(hostname: str) -> str:
    """Return *hostname* without the brackets of an IPv6 literal, or raise ValueError.

    Catches, before any look-up, the usual ways of passing something else
    than a host name: a URL, a ``host:port``, a path, user information, white
    space.  The message names the mistake; a value that may hold a password
    (one with ``@``) is not quoted.

    Args:
        hostname: a host name, an IPv4 address, or an IPv6 address with or
            without brackets.

    Raises:
        ValueError: *hostname* is not a host name.
    """
    if not isinstance(hostname, str):
        raise TypeError(f"host name must be a str, not {type(hostname).__name__}")
    if hostname.startswith("[") and hostname.endswith("]") and _is_ipv6_literal(hostname[1:-1]):
        return hostname[1:-1]
    shown = "the host name" if "@" in hostname else f"host name {hostname!r}"
    if not hostname:
        raise ValueError("the host name is empty")
    if any(c.isspace() or not c.isprintable() for c in hostname):
        raise ValueError(f"{shown} contains white space or a control character (it would corrupt the Host header)")
    if "://" in hostname:
        raise ValueError(
            f"{shown} is a URL: give only the host (and port=), or use HTTPConnection.from_url()"
        )
    if "@" in hostname:
        raise ValueError("the host name contains '@' (user information?): give only the host;"
                         " send credentials in an Authorization header")
    if "/" in hostname:
        raise ValueError(f"{shown} contains '/': give only the host, and the path to send_request()")
    if ":" in hostname and not _is_ipv6_literal(hostname):
        host, _, port = hostname.rpartition(":")
        if port.isdigit() and host and (":" not in host or host.startswith("[")):
            raise ValueError(f"{shown} carries a port: use HTTPConnection({host!r}, port={int(port)})")
        raise ValueError(f"{shown} contains ':' but is not an IPv6 address")
    if any(c in "?#" for c in hostname):
        raise ValueError(f"{shown} contains '?' or '#': give only the host")
    return hostname



def _dns_test_hostnames() -> tuple[tuple[str, int], ...]:
    """:data:`dugong.DNS_TEST_HOSTNAMES` as it is now.

    Read from the package at each use: programs and test suites assign to it
    there (``dugong.DNS_TEST_HOSTNAMES = ...``, as with dugong 3.x).
    """
    from . import DNS_TEST_HOSTNAMES

    return DNS_TEST_HOSTNAMES


def _numeric_addrinfo(hostname: str, port: int) -> list[AddrInfo] | None:
    """The addresses of *hostname* if it is an IP literal, else None."""
    host = hostname
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    # AI_NUMERICHOST never does a lookup, so it cannot block.
    return [
        (family, kind, proto, canonname, sockaddr)
        # (As bytes: a str would be encoded with the "idna" codec, an import.)
        for family, kind, proto, canonname, sockaddr in socket.getaddrinfo(
            host.encode("ascii"), port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
        )
        if isinstance(sockaddr[0], str)
    ]


def co_resolve(
    hostname: str, port: int, resolver: Resolver | None = None
) -> PollCoroutine[list[AddrInfo]]:
    """Resolve *hostname* without blocking the calling thread.

    IP literals (``192.0.2.1``, ``2001:db8::1``, ``[2001:db8::1]``) are
    converted directly and never reach the resolver.  Names are resolved by
    *resolver* in a shared pool of at most 8 threads; meanwhile the coroutine
    yields ``PollNeeded(fd, POLLIN)`` on a socket pair that becomes readable
    when the answer is ready.  It is closed when the coroutine ends, however it
    ends.

    When the lookup fails with ``EAI_NONAME``, ``EAI_AGAIN``, ``EAI_NODATA`` or
    ``EAI_FAIL``, the names in :data:`dugong.DNS_TEST_HOSTNAMES` are resolved (in
    parallel, with the same resolver) to find out why.

    Args:
        hostname: the host name or IP literal to resolve.
        port: the TCP port to put into the socket addresses.
        resolver: the function that does the lookup; default
            :func:`default_resolver`.

    Returns:
        The addresses, in the resolver's order.

    Raises:
        HostnameNotResolvable: the name does not resolve but at least one
            test host name does (chained to the resolver's error).
        DNSUnavailable: neither the name nor any test host name resolves
            (chained to the resolver's error).
        NetworkError: other resolver errors, as a twin of
            :exc:`socket.gaierror` (or of the resolver's other
            :exc:`OSError`), naming the host; no socket pair could be
            created (too many open files).  Exceptions that are not an
            :exc:`OSError` (a bug in a custom resolver) pass through.
    """
    numeric = _numeric_addrinfo(hostname, port)
    if numeric is not None:
        return numeric
    resolve = default_resolver if resolver is None else resolver

    try:
        (lookup,) = yield from _co_run_in_pool([partial(resolve, hostname, port)])
    except OSError as exc:
        raise network_error(exc) from exc
    failure = lookup.exception()
    if failure is None:
        return list(lookup.result())
    if not (
        isinstance(failure, socket.gaierror)
        and failure.errno in _NAME_NOT_FOUND_ERRNOS
    ):
        if isinstance(failure, OSError):
            raise network_error(failure, f"resolving {hostname}") from failure
        raise failure

    tests = yield from _co_run_in_pool(
        [partial(resolve, name, port) for name, port in _dns_test_hostnames()],
        until_success=True,
    )
    if any(t.done() and t.exception() is None for t in tests):
        raise HostnameNotResolvable(hostname) from failure
    raise DNSUnavailable(hostname) from failure


# ---------------------------------------------------------------------------
# TCP: Happy Eyeballs (RFC 8305)
# ---------------------------------------------------------------------------
#
# Attempts overlap: the next address is tried DEFAULT_CONNECT_DELAY seconds
# after the previous attempt started, or at once when it failed sooner, and
# the first to connect wins.  The coroutine must wait for "any attempt
# finished, or the delay passed", but a PollNeeded names one fd and has no
# timeout.  So it waits on a _WaitSet: a selector (epoll, kqueue) holding
# the sockets in progress and a Waker that the process's one alarm thread
# makes readable when the delay has passed.  The selector's own fd is
# readable exactly when one of them is ready, so the coroutine yields
# PollNeeded(selector_fd, POLLIN) and sleeps until then: no busy loop, and
# one PollNeeded however many attempts are in flight.  See "Happy Eyeballs"
# in docs/design.rst for the alternatives.

#: Seconds between the starts of two connection attempts, RFC 8305's
#: recommended "Connection Attempt Delay".
DEFAULT_CONNECT_DELAY: Final[float] = 0.25

# Selectors that have a pollable fd of their own (epoll, kqueue, devpoll).
_NESTABLE_SELECTOR: Final[bool] = callable(getattr(selectors.DefaultSelector, "fileno", None))


def _format_sockaddr(sockaddr: SockAddr) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def order_addresses(addrinfos: Sequence[AddrInfo]) -> list[AddrInfo]:
    """Order *addrinfos* for Happy Eyeballs (RFC 8305 section 4).

    Address families alternate, starting with the family of the first
    address: the resolver's order is kept within each family, and
    :func:`socket.getaddrinfo` sorts by RFC 6724, which puts IPv6 first when
    the host has IPv6 connectivity.  Repeated entries are dropped.

    Args:
        addrinfos: the resolver's answer.

    Returns:
        The addresses in the order to try them.
    """
    by_family: dict[int, list[AddrInfo]] = {}
    seen: set[tuple[int, int, int, SockAddr]] = set()
    for info in addrinfos:
        key = (info[0], info[1], info[2], info[4])
        if key not in seen:
            seen.add(key)
            by_family.setdefault(info[0], []).append(info)
    queues = list(by_family.values())
    ordered: list[AddrInfo] = []
    for rank in range(max(map(len, queues), default=0)):
        ordered.extend(q[rank] for q in queues if rank < len(q))
    return ordered


class _AlarmClock:
    """One daemon thread that calls :meth:`Waker.notify` at given times.

    Shared by every connect of the process and started on first use; idle
    (blocked on a condition) when no alarm is set.  A Waker closed before its
    alarm rings is harmless: :meth:`Waker.notify` ignores it.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._alarms: list[tuple[float, int, Waker]] = []
        self._count = itertools.count()
        self._changed = threading.Condition(threading.Lock())
        threading.Thread(target=self._run, name="dugong-alarm", daemon=True).start()

    def notify_at(self, when: float, waker: Waker) -> None:
        """Make *waker* readable once :func:`time.monotonic` reaches *when*."""
        with self._changed:
            heapq.heappush(self._alarms, (when, next(self._count), waker))
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._alarms or self._alarms[0][0] > time.monotonic():
                    wait = self._alarms[0][0] - time.monotonic() if self._alarms else None
                    self._changed.wait(wait)
                _when, _n, waker = heapq.heappop(self._alarms)
            waker.notify()


_alarm_clock: _AlarmClock | None = None


def _get_alarm_clock() -> _AlarmClock:
    global _alarm_clock
    with _pool_lock:
        # A forked child has the parent's clock object but not its thread.
        if _alarm_clock is None or _alarm_clock.pid != os.getpid():
            _alarm_clock = _AlarmClock()
        return _alarm_clock


class _WaitSet:
    """One fd that is readable when a socket in the set is writable or the alarm rang."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._waker: Waker | None = None
        self._alarm = math.inf  # when the alarm rings, if it is set
        fileno: Callable[[], int] = getattr(self._selector, "fileno")
        #: What to yield to wait for any of them.
        self.request = PollNeeded(fileno(), POLLIN)

    def add(self, sock: socket.socket) -> None:
        """Wake up when *sock* is writable (its connect finished)."""
        self._selector.register(sock, selectors.EVENT_WRITE)

    def discard(self, sock: socket.socket) -> None:
        """Stop watching *sock*, which :meth:`add` added (call before closing it)."""
        self._selector.unregister(sock)

    def set_alarm(self, when: float) -> None:
        """Wake up at *when* (:func:`time.monotonic`; ``math.inf``: never).

        Call before each wait: it also quiets an alarm that rang already.
        An earlier alarm set for another time may still ring: a spurious
        wake-up, which the caller's checks make harmless.
        """
        if self._waker is not None:
            self._waker.drain()
        if when == self._alarm or when == math.inf:
            return
        if self._waker is None:
            self._waker = Waker()
            self._selector.register(self._waker.fd, selectors.EVENT_READ)
        self._alarm = when
        _get_alarm_clock().notify_at(when, self._waker)

    def close(self) -> None:
        """Close the selector and the alarm's socket pair (not the sockets)."""
        self._selector.close()
        if self._waker is not None:
            self._waker.close()


class _Attempts:
    """The connection attempts of one :func:`co_open_tcp`: started, in progress, failed."""

    def __init__(self, addrinfos: Sequence[AddrInfo], delay: float, notify: Notifier | None) -> None:
        self.todo = deque(order_addresses(addrinfos))
        self.delay = delay if _NESTABLE_SELECTOR else math.inf
        self.notify = notify
        self.in_progress: list[tuple[socket.socket, SockAddr]] = []
        # (address, the socket's error, its twin naming the address)
        self.failed: list[tuple[SockAddr, OSError, NetworkError]] = []
        self.next_start = 0.0  # when the next address is due (time.monotonic)
        self.waitset: _WaitSet | None = None

    def start_next(self) -> socket.socket | None:
        """Start the next address's attempt; return its socket if it connected at once."""
        family, kind, proto, _canonname, sockaddr = self.todo.popleft()
        self.next_start = time.monotonic() + self.delay
        if self.notify is not None:
            self.notify.connect_started(sockaddr)
        try:
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            self.fail(sockaddr, exc)
            return None
        try:
            sock.setblocking(False)
            err = sock.connect_ex(sockaddr)
        except BaseException as exc:
            sock.close()
            if not isinstance(exc, OSError):
                raise
            self.fail(sockaddr, exc)
            return None
        if err in (errno.EINPROGRESS, errno.EINTR):
            self.in_progress.append((sock, sockaddr))
            if self.waitset is not None:
                self.waitset.add(sock)
            return None
        return self.finish(sock, sockaddr, err)

    def check(self) -> socket.socket | None:
        """Collect the attempts that ended; return the socket of one that connected."""
        for sock, sockaddr in list(self.in_progress):
            if PollNeeded(sock.fileno(), POLLOUT).poll(0):
                self.in_progress.remove((sock, sockaddr))
                if self.waitset is not None:
                    self.waitset.discard(sock)
                connected = self.finish(sock, sockaddr, sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
                if connected is not None:
                    return connected
        return None

    def finish(self, sock: socket.socket, sockaddr: SockAddr, err: int) -> socket.socket | None:
        """The attempt on *sock* ended with *err*: the socket if 0, else record the failure."""
        try:
            if err:
                raise OSError(err, os.strerror(err))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            local = sock.getsockname()
        except OSError as exc:
            sock.close()
            self.fail(sockaddr, exc)
            return None
        if self.notify is not None:
            self.notify.connect_finished(sockaddr, local)
        return sock

    def fail(self, sockaddr: SockAddr, exc: OSError) -> None:
        """Record that the attempt to *sockaddr* failed: the next one is due at once."""
        error = network_error(exc, f"connecting to {_format_sockaddr(sockaddr)}")
        error.__cause__ = exc
        self.failed.append((sockaddr, exc, error))
        self.next_start = 0.0
        if self.notify is not None:
            self.notify.connect_failed(sockaddr, error)

    def wait(self) -> PollNeeded:
        """What to yield until an attempt ends or the next one is due."""
        if len(self.in_progress) == 1 and not self.todo:
            return PollNeeded(self.in_progress[0][0].fileno(), POLLOUT)
        if self.waitset is None:
            self.waitset = _WaitSet()
            for sock, _sockaddr in self.in_progress:
                self.waitset.add(sock)
        self.waitset.set_alarm(self.next_start if self.todo else math.inf)
        return self.waitset.request

    def error(self) -> NetworkError:
        """The error to raise when every attempt failed: the last, naming the others."""
        sockaddr, cause, error = self.failed[-1]
        if len(self.failed) > 1:
            others = "; ".join(f"{_format_sockaddr(a)}: {e.strerror or e}" for a, e, _ in self.failed[:-1])
            error = network_error(cause, f"connecting to {_format_sockaddr(sockaddr)}; also tried {others}")
            error.__cause__ = cause
        return error

    def close(self) -> None:
        """Close the attempts still in progress and the wait set."""
        for sock, sockaddr in self.in_progress:
            sock.close()
            if self.notify is not None:
                self.notify.connect_abandoned(sockaddr)
        self.in_progress.clear()
        if self.waitset is not None:
            self.waitset.close()


def co_open_tcp(
    addrinfos: Sequence[AddrInfo],
    delay: float = DEFAULT_CONNECT_DELAY,
    notify: Notifier | None = None,
) -> PollCoroutine[socket.socket]:
    """Connect to one of *addrinfos* with Happy Eyeballs (RFC 8305).

    The addresses are ordered by :func:`order_addresses` (families
    interleaved).  The first attempt starts at once; each next one *delay*
    seconds after the previous one started, or as soon as all earlier ones
    have failed.  The first attempt that connects wins and the others are
    closed.  So an address that never answers delays the connection by
    *delay*, not by a timeout.

    The coroutine yields ``PollNeeded(fd, POLLOUT)`` while one attempt is in
    flight and no other is due, and otherwise ``PollNeeded(fd, POLLIN)`` on
    the fd of a selector that watches the attempts and the delay (the delay
    is measured by one shared alarm thread).  Where the selector has no fd
    of its own (not epoll, kqueue or devpoll), the attempts run one after
    the other.  Every socket but the returned one is closed when the
    coroutine ends, however it ends.

    Args:
        addrinfos: the addresses to try.
        delay: seconds between the starts of two attempts (0: all at once).
        notify: told of each attempt's start and end.

    Returns:
        A connected non-blocking socket with ``TCP_NODELAY`` set.

    Raises:
        NetworkError: every address failed: the error of the last to fail,
            as its twin (e.g. :exc:`ConnectionRefused`), naming each address
            tried and how it failed.
        ValueError: *addrinfos* is empty or *delay* is negative.
    """
    if not addrinfos:
        raise ValueError("no addresses to connect to")
    if not delay >= 0:
        raise ValueError(f"the Happy Eyeballs delay must be >= 0 seconds, not {delay!r}")
    attempts = _Attempts(addrinfos, delay, notify)
    try:
        while True:
            connected = attempts.check()
            if connected is None and attempts.todo:
                if not attempts.in_progress or time.monotonic() >= attempts.next_start:
                    connected = attempts.start_next()
                    if connected is None:
                        continue  # started, or failed at once: maybe the next is due
            if connected is not None:
                return connected
            if not attempts.in_progress:
                raise attempts.error()
            yield attempts.wait()
    finally:
        attempts.close()


# ---------------------------------------------------------------------------
# TLS
# ---------------------------------------------------------------------------


def wrap_tls(
    sock: socket.socket,
    ssl_context: ssl.SSLContext,
    server_hostname: str | None,
    *,
    session: ssl.SSLSession | None = None,
) -> ssl.SSLSocket:
    """Wrap the connected socket *sock* for TLS, without doing the handshake.

    *server_hostname* is passed on as given, except that brackets around an
    IPv6 literal are removed.  The :mod:`ssl` module itself sends it as SNI
    only when it is a name, not an IP address, and checks it against the
    certificate (as a name or as an IP address) when
    ``ssl_context.check_hostname`` is set.

    Args:
        sock: a connected socket; it is detached, and the returned socket
            owns its file descriptor (and keeps its blocking mode).
        ssl_context: the client-side context.
        server_hostname: the host name or IP literal the user asked for,
            or None to neither send SNI nor check the name.
        session: a session of an earlier connection to the same server, to
            resume (an abbreviated handshake), or None.

    Returns:
        The TLS socket, ready for :func:`co_tls_handshake`.

    Raises:
        ValueError: ``ssl_context.check_hostname`` is set but
            *server_hostname* is None.
        NetworkError: the socket could not be wrapped.  In both cases
            *sock* is closed.
    """
    if (
        server_hostname is not None
        and server_hostname.startswith("[")
        and server_hostname.endswith("]")
    ):
        server_hostname = server_hostname[1:-1]
    try:
        return ssl_context.wrap_socket(
            sock, server_hostname=server_hostname, do_handshake_on_connect=False, session=session
        )
    except OSError as exc:
        sock.close()
        raise network_error(exc) from exc
    except BaseException:
        sock.close()
        raise


def co_tls_handshake(sock: ssl.SSLSocket) -> PollCoroutine[None]:
    """Do the TLS handshake on the non-blocking TLS socket *sock*.

    Yields ``PollNeeded(fd, POLLIN)`` or ``PollNeeded(fd, POLLOUT)`` whenever
    OpenSSL needs to read or write; resuming early just asks again.

    Args:
        sock: a socket made by :func:`wrap_tls`.

    Raises:
        ConnectionClosed: the peer closed or reset the connection during the
            handshake (chained to the original error).
        TLSCertificateError: the certificate was not accepted (also an
            :exc:`ssl.SSLCertVerificationError`).
        TLSError: another TLS failure (also its :exc:`ssl.SSLError` class).
        NetworkError: another socket error (also its :exc:`OSError` class).
    """
    while True:
        try:
            sock.do_handshake()
            return
        except ssl.SSLWantReadError:
            yield PollNeeded(sock.fileno(), POLLIN)
        except ssl.SSLWantWriteError:
            yield PollNeeded(sock.fileno(), POLLOUT)
        except PEER_GONE_ERRORS as exc:
            raise ConnectionClosed(
                "connection closed by the server during the TLS handshake"
                f" ({type(exc).__name__}: {exc})"
            ) from exc
        except OSError as exc:
            raise network_error(exc) from exc


# ---------------------------------------------------------------------------
# Retrying
# ---------------------------------------------------------------------------


def is_temp_network_error(exc: BaseException) -> bool:
    """Tell whether *exc* is a network problem that retrying may get around.

    Temporary (True):

    * timeouts: :exc:`TimeoutError` (= ``socket.timeout``),
      :exc:`ConnectionTimedOut`;
    * the peer went away or refused: :exc:`ConnectionError` and its
      subclasses (:exc:`BrokenPipeError`, :exc:`ConnectionResetError`,
      :exc:`ConnectionAbortedError`, :exc:`ConnectionRefusedError`),
      :exc:`ConnectionClosed`, and the TLS ones: :exc:`ssl.SSLEOFError`,
      :exc:`ssl.SSLZeroReturnError`, :exc:`ssl.SSLSyscallError`;
    * :exc:`InterruptedError`;
    * any other :exc:`OSError` whose errno is ``ETIMEDOUT``, ``ECONNRESET``,
      ``ECONNABORTED``, ``ECONNREFUSED``, ``EPIPE``, ``ENETUNREACH``,
      ``EHOSTUNREACH``, ``ENETDOWN``, ``EHOSTDOWN``, ``ENETRESET``,
      ``ENOLINK``, ``ENONET``, ``ENOTCONN``, ``ENXIO``, ``EREMCHG``,
      ``ESHUTDOWN`` or ``EAGAIN`` (the codes dugong 3.x counted, and more);
    * DNS trouble: :exc:`DNSUnavailable`, and :exc:`socket.gaierror` with
      ``EAI_AGAIN``.

    Permanent (False): everything else, in particular
    :exc:`HostnameNotResolvable`, other :exc:`socket.gaierror` codes,
    :exc:`InvalidResponse`, :exc:`UnsupportedResponse`, :exc:`StateError`,
    :exc:`ExcessBodyData`, certificate verification failures
    (:exc:`ssl.SSLCertVerificationError`) and other :exc:`ssl.SSLError`,
    and programming errors such as :exc:`TypeError` or :exc:`ValueError`.

    Args:
        exc: the exception to classify.

    Returns:
        True if the operation may succeed when retried.
    """
    if isinstance(
        exc,
        (
            TimeoutError,
            ConnectionError,
            InterruptedError,
            ConnectionClosed,
            ConnectionTimedOut,
            DNSUnavailable,
            ssl.SSLEOFError,
            ssl.SSLZeroReturnError,
            ssl.SSLSyscallError,
        ),
    ):
        return True
    if isinstance(exc, socket.gaierror):
        return exc.errno == socket.EAI_AGAIN
    if isinstance(exc, ssl.SSLError):
        # Its errno is an SSL_ERROR_* code, not an errno.
        return False
    if isinstance(exc, OSError):
        return exc.errno in _TEMP_ERRNOS
    return False
