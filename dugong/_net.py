"""Connection setup: name resolution, TCP connect, TLS handshake, and error classes.

Everything here that may block is a dugong coroutine (see :mod:`dugong._poll`):

* :func:`co_resolve` runs the resolver (``getaddrinfo`` by default, which
  cannot be made non-blocking) in a small shared pool of daemon threads and
  waits for the answer on a socket pair, so the caller's thread never
  blocks.  When a name does not resolve it resolves :data:`dugong.DNS_TEST_HOSTNAMES`
  too, to tell a wrong name (:exc:`HostnameNotResolvable`) from a broken
  network (:exc:`DNSUnavailable`).
* :func:`dugong._tcp.co_open_tcp` connects non-blocking sockets with Happy Eyeballs
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
import ipaddress
import os
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Final, TypeAlias, TypeVar

from ._errors import (
    ConnectionClosed,
    ConnectionTimedOut,
    DNSUnavailable,
    HostnameNotResolvable,
    network_error,
)
from ._poll import POLLIN, POLLOUT, PollCoroutine, PollNeeded

if TYPE_CHECKING:
    import queue
    from concurrent.futures import Future

__all__ = [
    "PEER_GONE_ERRORS",
    "Waker",
    "AddrInfo",
    "Resolver",
    "SockAddr",
    "co_resolve",
    "check_host_name",
    "co_tls_handshake",
    "default_resolver",
    "is_temp_network_error",
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
        import queue  # (here: an IP literal needs no resolver pool)

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
                thread = threading.Thread(target=self._work, name="dugong-resolver", daemon=True)
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
            if until_success and any(f.done() and f.exception() is None for f in futures):
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
        raise ValueError(
            f"{shown} contains white space or a control character (it would corrupt the Host header)"
        )
    if "://" in hostname:
        raise ValueError(
            f"{shown} is a URL: give only the host (and port=), or use HTTPConnection.from_url()"
        )
    if "@" in hostname:
        raise ValueError(
            "the host name contains '@' (user information?): give only the host;"
            " send credentials in an Authorization header"
        )
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


def co_resolve(hostname: str, port: int, resolver: Resolver | None = None) -> PollCoroutine[list[AddrInfo]]:
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
    if not (isinstance(failure, socket.gaierror) and failure.errno in _NAME_NOT_FOUND_ERRNOS):
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
    if server_hostname is not None and server_hostname.startswith("[") and server_hostname.endswith("]"):
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
                f"connection closed by the server during the TLS handshake ({type(exc).__name__}: {exc})"
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
