"""The exceptions dugong raises (besides :class:`OSError` and :mod:`ssl` errors)."""

from __future__ import annotations


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
    """

    def __init__(self, timeout: float | None = None, waiting_for: object = None) -> None:
        msg = "send/recv timeout exceeded"
        if timeout is not None:
            msg = f"no progress for {timeout:g} s"
        if waiting_for is not None:
            msg += f" while waiting for {waiting_for!r}"
        super().__init__(msg)


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
