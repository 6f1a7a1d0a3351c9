"""Opening a TCP connection: Happy Eyeballs (RFC 8305), as a dugong coroutine.

:func:`co_open_tcp` tries the addresses :func:`dugong._net.co_resolve` found,
interleaving the families (:func:`order_addresses`) and starting the next
attempt :data:`DEFAULT_CONNECT_DELAY` seconds after the previous one (or at
once when it failed), and keeps the first that connects.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import math
import os
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from ._errors import (
    NetworkError,
    network_error,
)
from ._net import AddrInfo, SockAddr, Waker
from ._poll import POLLIN, POLLOUT, PollCoroutine, PollNeeded

if TYPE_CHECKING:
    from ._observer import Notifier

__all__ = ["DEFAULT_CONNECT_DELAY", "co_open_tcp", "order_addresses"]

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


_alarm_lock: Final = threading.Lock()


def _get_alarm_clock() -> _AlarmClock:
    global _alarm_clock
    with _alarm_lock:
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
        fileno: Callable[[], int] = self._selector.fileno
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
