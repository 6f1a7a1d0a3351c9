"""The exceptions dugong raises: every one is a :exc:`DugongError`.

Errors of the network (:class:`OSError`, :mod:`ssl` errors, resolver errors)
are raised as *twins*: subclasses of :exc:`NetworkError` (itself a
:exc:`DugongError`) that are also the standard class they replace.  A
refused connection is a :exc:`ConnectionRefused`, which is a
:exc:`DugongError` *and* a :exc:`ConnectionRefusedError`, so both ``except
dugong.DugongError`` and the ``except ConnectionRefusedError`` of a program
written for dugong 3.x catch it.  :func:`network_error` makes the twin of any
:class:`OSError`; it is the one place that knows the table.
"""

from __future__ import annotations

import errno
import socket
import ssl
from typing import Final

__all__ = [
    "DugongError",
    "ConnectionClosed",
    "ConnectionTimedOut",
    "InvalidResponse",
    "UnsupportedResponse",
    "ExcessBodyData",
    "StateError",
    "ProxyError",
    "HostnameNotResolvable",
    "DNSUnavailable",
    "NetworkError",
    "ConnectionRefused",
    "ConnectionReset",
    "HostUnreachable",
    "TLSError",
    "TLSCertificateError",
    "network_error",
]


class DugongError(Exception):
    """Base class of every dugong-specific exception."""


class ConnectionClosed(DugongError):
    """The connection was closed: by the server, or after an earlier error.

    Raised when the peer closes the connection while a request is being sent
    or a response is being read, for requests that were pending when the
    server ended the connection after an earlier response (``Connection:
    close``), and after :meth:`HTTPConnection.disconnect` until the next
    request.  (When the server ends the connection cleanly and nothing is
    pending, the next request simply opens a new one.)  After an error, call
    :meth:`HTTPConnection.reset` to use the connection again.
    """

    def __init__(self, msg: str = "connection closed unexpectedly") -> None:
        super().__init__(msg)


class ConnectionTimedOut(DugongError):
    """No data could be sent or received for the time given as ``timeout``.

    Raised by the blocking methods of :class:`HTTPConnection` when
    ``HTTPConnection.timeout`` is set, and inside coroutines whose deadline
    passed.  A timeout while reading consumes nothing, so the same read can be
    tried again; a timeout after part of a request was sent closes the
    connection (the server holds half a message), and later operations raise
    :exc:`ConnectionClosed` until :meth:`HTTPConnection.reset`.

    The message of one raised by a connection says what was awaited from
    whom, e.g. ``no answer to GET /x from example.org:80 for 2 s``.

    Args:
        timeout: the seconds without progress (kept in :attr:`timeout`).
        waiting_for: what was awaited, for the default message.
        message: the whole message instead of the default one.
    """

    #: The seconds without progress after which it was raised, or None
    #: (e.g. a task's deadline passed: see ``dugong.loop.TaskDeadlineExceeded``).
    timeout: float | None = None
    # Does the message say what was awaited from whom?  (The connection
    # rewords a timeout thrown into it, once.)
    _described = False

    def __init__(
        self, timeout: float | None = None, waiting_for: object = None, *, message: str | None = None
    ) -> None:
        self._described = message is not None
        if message is None:
            message = "send/recv timeout exceeded"
            if timeout is not None:
                message = f"no progress for {timeout:g} s"
            if isinstance(waiting_for, str):
                message += f" while waiting for {waiting_for}"
            elif waiting_for is not None:
                message += f" while waiting for {waiting_for!r}"
        super().__init__(message)
        self.timeout = timeout


class InvalidResponse(DugongError):
    """The server sent something that is not valid HTTP/1.x.

    The message says what was expected and quotes (escaped, shortened) what
    arrived.  The connection is closed and will not be reused.
    """

    def __init__(self, msg: str) -> None:
        super().__init__(msg)


class UnsupportedResponse(DugongError):
    """The server sent valid HTTP that dugong does not support.

    For example a transfer coding other than ``chunked``.  Dugong can no longer
    tell where this response ends, so the connection is closed and will not be
    reused.
    """

    def __init__(self, msg: str) -> None:
        super().__init__(msg)


class ExcessBodyData(DugongError):
    """More request body data was written than announced in ``BodyFollowing``."""


class StateError(DugongError):
    """An operation is not allowed in the connection's current state.

    For example reading a response while the previous response body is unread,
    or writing body data while no request body is pending.
    """


class HostnameNotResolvable(DugongError):
    """The host name does not resolve to any address.

    Raised when the lookup fails while at least one of ``DNS_TEST_HOSTNAMES``
    resolves, so the name itself is the problem: retrying will not help.
    """

    def __init__(self, hostname: str) -> None:
        super().__init__(hostname)
        self.name = hostname

    def __str__(self) -> str:
        return f"Host {self.name} does not have any ip addresses"


class DNSUnavailable(DugongError):
    """The DNS service cannot be reached.

    Raised when resolving the host name fails and none of
    ``DNS_TEST_HOSTNAMES`` resolves either: the problem is most likely
    temporary, in the network or the resolver.
    """

    def __init__(self, hostname: str) -> None:
        super().__init__(hostname)
        self.name = hostname

    def __str__(self) -> str:
        return f"Unable to resolve {self.name}, DNS server unavailable."


class ProxyError(DugongError):
    """The proxy refused to open a tunnel: its answer to ``CONNECT`` was not 2xx.

    Attributes:
        status: the proxy's status code.
        reason: the proxy's reason phrase.
    """

    def __init__(self, proxy: tuple[str, int], status: int, reason: str) -> None:
        super().__init__(f"proxy {proxy[0]}:{proxy[1]} refused the tunnel: {status} {reason}")
        self.status = status
        self.reason = reason


# ---------------------------------------------------------------------------
# Twins of the standard network errors
# ---------------------------------------------------------------------------


class NetworkError(DugongError, OSError):
    """The network failed: a socket, TLS or resolver error, as an :exc:`OSError`.

    It has the :attr:`~OSError.errno` and :attr:`~OSError.strerror` of the
    error it replaces (chained as ``__cause__``), and the message names the
    address when there is one.  Raised as such for errors that have no more
    specific standard class (``EADDRNOTAVAIL``, ``EMFILE``, ...); otherwise as
    a subclass that is also that standard class: see
    :ref:`the exception tree <exception-tree>`.
    """


class ConnectionRefused(NetworkError, ConnectionRefusedError):
    """The server refused the TCP connection (``ECONNREFUSED``): nothing listens there.

    Also a :exc:`ConnectionRefusedError`.  Temporary for
    :func:`is_temp_network_error` (the server may be restarting).
    """


class ConnectionReset(NetworkError, ConnectionResetError):
    """The peer reset the connection while it was being opened (``ECONNRESET``).

    Also a :exc:`ConnectionResetError`.  (A reset once the connection is
    open is reported as :exc:`ConnectionClosed`.)
    """


class HostUnreachable(NetworkError):
    """No route to the host or its network: ``EHOSTUNREACH``, ``ENETUNREACH``,
    ``EHOSTDOWN`` or ``ENETDOWN``.

    The standard library raises a plain :exc:`OSError` with that errno, so
    this is an :exc:`OSError` with the same errno.  Temporary for
    :func:`is_temp_network_error`.
    """


class TLSError(NetworkError, ssl.SSLError):
    """The TLS layer failed: a protocol error, an unsupported version, a bad record.

    Also an :exc:`ssl.SSLError`, with its ``library`` and ``reason``
    attributes.  Not temporary for :func:`is_temp_network_error`.
    """


class TLSCertificateError(TLSError, ssl.SSLCertVerificationError):
    """The server's certificate was not accepted (untrusted, expired, wrong host name).

    Also an :exc:`ssl.SSLCertVerificationError` (alias
    :exc:`ssl.CertificateError`), with its ``verify_code`` and
    ``verify_message``.  Not temporary for :func:`is_temp_network_error`:
    retrying will not help.
    """


# Twins of standard classes that are seldom caught by name: not exported, but
# they keep the guarantee that every error keeps its standard class.
class _BrokenPipe(NetworkError, BrokenPipeError):
    """A :exc:`NetworkError` that is also a :exc:`BrokenPipeError`."""


class _ConnectionAborted(NetworkError, ConnectionAbortedError):
    """A :exc:`NetworkError` that is also a :exc:`ConnectionAbortedError`."""


class _NetworkTimeout(NetworkError, TimeoutError):
    """A :exc:`NetworkError` that is also a :exc:`TimeoutError` (``ETIMEDOUT`` from the kernel)."""


class _PermissionDenied(NetworkError, PermissionError):
    """A :exc:`NetworkError` that is also a :exc:`PermissionError` (e.g. a firewall's ``EPERM``)."""


class _ResolverError(NetworkError, socket.gaierror):
    """A :exc:`NetworkError` that is also a :exc:`socket.gaierror`."""


class _TLSSyscallError(TLSError, ssl.SSLSyscallError):
    """A :exc:`TLSError` that is also an :exc:`ssl.SSLSyscallError`."""


class _TLSEOFError(TLSError, ssl.SSLEOFError):
    """A :exc:`TLSError` that is also an :exc:`ssl.SSLEOFError`."""


class _TLSZeroReturnError(TLSError, ssl.SSLZeroReturnError):
    """A :exc:`TLSError` that is also an :exc:`ssl.SSLZeroReturnError`."""


# Standard class -> its twin.  network_error() walks the MRO of the error, so
# a class not listed gets the twin of its nearest listed ancestor.
_TWINS: Final[dict[type[OSError], type[NetworkError]]] = {
    ConnectionRefusedError: ConnectionRefused,
    ConnectionResetError: ConnectionReset,
    ConnectionAbortedError: _ConnectionAborted,
    BrokenPipeError: _BrokenPipe,
    TimeoutError: _NetworkTimeout,
    PermissionError: _PermissionDenied,
    socket.gaierror: _ResolverError,
    ssl.SSLCertVerificationError: TLSCertificateError,
    ssl.SSLSyscallError: _TLSSyscallError,
    ssl.SSLEOFError: _TLSEOFError,
    ssl.SSLZeroReturnError: _TLSZeroReturnError,
    ssl.SSLError: TLSError,
    OSError: NetworkError,
}

_UNREACHABLE_ERRNOS: Final[frozenset[int]] = frozenset(
    code
    for code in (
        getattr(errno, name, None) for name in ("EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN")
    )
    if code is not None
)


def network_error(exc: OSError, detail: str = "") -> NetworkError:
    """The twin of *exc*: a :exc:`NetworkError` that is also ``type(exc)``'s standard class.

    Args:
        exc: the error of a socket, TLS or resolver call.
        detail: appended to the message in parentheses, e.g. ``"connecting
            to 192.0.2.1:80"``.

    Returns:
        A new exception with the errno, message (plus *detail*) and
        attributes of *exc*; *exc* itself if it is a :exc:`NetworkError`
        already and there is no *detail*.  The caller raises it ``from exc``.
    """
    if isinstance(exc, NetworkError) and not detail:
        return exc
    twin = next(_TWINS[cls] for cls in type(exc).__mro__ if cls in _TWINS)
    if twin is NetworkError and exc.errno in _UNREACHABLE_ERRNOS:
        twin = HostUnreachable
    suffix = f" ({detail})" if detail else ""
    new: NetworkError
    if exc.errno is not None and isinstance(exc.strerror, str):
        new = twin(exc.errno, exc.strerror + suffix)
    else:
        new = twin((str(exc) or type(exc).__name__) + suffix)
    # ssl's library/reason/verify_code/verify_message, notes: kept.
    new.__dict__.update(vars(exc))
    return new
