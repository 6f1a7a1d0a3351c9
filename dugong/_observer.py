"""Connection lifecycle events: the :class:`ConnectionObserver` protocol.

An observer implements any subset of the hooks of :class:`ConnectionObserver`
and is given to a connection (``HTTPConnection(..., observer=...)``).  The
connection makes a :class:`Notifier` for it that keeps the bound methods of
the hooks the observer overrides, as the reactor does for its plugins: an
unused hook costs a dictionary look-up and no call, and a connection without
an observer has no notifier at all, so each event costs it one ``is None``
test.

Every hook receives the connection and ``at``, a :func:`time.monotonic`
reading taken when the event happened, then the event's details.  Hooks run
in the thread and coroutine that caused the event, in the middle of the
connection's work: they must be quick, and must not use the connection.  A
hook that raises is a bug in the observer: the exception is logged at ERROR
with its traceback and the observer is called no more by that connection.

The order of events on one connection::

    resolution_started
    resolution_finished | resolution_failed
    (connect_started ... connect_finished | connect_failed | connect_abandoned)...
    tunnel_opened?  tls_finished?
    (request_sent  response_started  response_head_read  body_finished)...
    connection_closed

Every ``connect_started`` is followed by exactly one of ``connect_finished``,
``connect_failed`` and ``connect_abandoned`` for the same address (attempts
overlap: see Happy Eyeballs in :func:`dugong._tcp.co_open_tcp`), and every
``connect_finished`` by exactly one ``connection_closed``.  When the
connection is opened again, the sequence starts again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final, Protocol

from ._log import LazyLogger
from ._net import SockAddr

if TYPE_CHECKING:
    from ._connection import HTTPConnection
    from ._http11 import HTTPResponse

__all__ = ["ConnectionObserver", "EVENT_NAMES", "Notifier", "make_notifier"]

log = LazyLogger("dugong")

#: The hook names of :class:`ConnectionObserver`, in the order of a connection's life.
EVENT_NAMES: Final = (
    "resolution_started",
    "resolution_finished",
    "resolution_failed",
    "connect_started",
    "connect_finished",
    "connect_failed",
    "connect_abandoned",
    "tunnel_opened",
    "tls_finished",
    "request_sent",
    "response_started",
    "response_head_read",
    "body_finished",
    "connection_closed",
)


class ConnectionObserver(Protocol):
    """The lifecycle events of an :class:`HTTPConnection`; every hook is optional.

    Subclass it and override the hooks you need (the connection calls only
    overridden ones).  A class that does not subclass it is an observer too
    if it has all the methods with these signatures (a type checker asks for
    all of them; at run time the connection calls those it finds).  One
    observer may watch many connections: each hook receives the connection.

    Every hook receives *conn*, the connection, and *at*, the
    :func:`time.monotonic` reading of the event, so that differences between
    two events are durations.
    """

    def resolution_started(self, conn: HTTPConnection, at: float, host: str, port: int) -> None:
        """The host name (the proxy's, with a proxy) is about to be resolved.

        Args:
            conn: the connection.
            at: when (:func:`time.monotonic`).
            host: the name or IP literal to resolve.
            port: the port the addresses are for.
        """
        return None

    def resolution_finished(
        self, conn: HTTPConnection, at: float, host: str, addresses: Sequence[SockAddr]
    ) -> None:
        """The name resolved.

        Args:
            conn: the connection.
            at: when.
            host: the name.
            addresses: the socket addresses, in the order they will be tried
                (Happy Eyeballs order: families interleaved).
        """
        return None

    def resolution_failed(self, conn: HTTPConnection, at: float, host: str, error: BaseException) -> None:
        """The name did not resolve; *error* is then raised to the caller.

        Args:
            conn: the connection.
            at: when.
            host: the name.
            error: e.g. :exc:`HostnameNotResolvable` or :exc:`DNSUnavailable`.
        """
        return None

    def connect_started(self, conn: HTTPConnection, at: float, address: SockAddr) -> None:
        """A TCP connection attempt to *address* started.

        Args:
            conn: the connection.
            at: when.
            address: ``(host, port)``, or ``(host, port, flowinfo, scope_id)`` for IPv6.
        """
        return None

    def connect_finished(
        self, conn: HTTPConnection, at: float, address: SockAddr, local_address: SockAddr
    ) -> None:
        """The attempt to *address* connected; this socket is the connection's.

        Args:
            conn: the connection.
            at: when.
            address: the peer's address.
            local_address: the socket's own address.
        """
        return None

    def connect_failed(self, conn: HTTPConnection, at: float, address: SockAddr, error: OSError) -> None:
        """The attempt to *address* failed (other attempts may still succeed).

        Args:
            conn: the connection.
            at: when.
            address: the peer's address.
            error: why, e.g. a :exc:`ConnectionRefused`.
        """
        return None

    def connect_abandoned(self, conn: HTTPConnection, at: float, address: SockAddr) -> None:
        """The attempt to *address*, still in progress, was given up and its socket closed.

        Another attempt connected first, or the connect was interrupted (a
        timeout, a cancelled coroutine, another address's fatal error).

        Args:
            conn: the connection.
            at: when.
            address: the peer's address.
        """
        return None

    def tunnel_opened(self, conn: HTTPConnection, at: float, proxy: tuple[str, int], authority: str) -> None:
        """The proxy accepted ``CONNECT authority`` (https through a proxy).

        Args:
            conn: the connection.
            at: when.
            proxy: ``(host, port)`` of the proxy.
            authority: the ``host:port`` of the tunnel's far end.
        """
        return None

    def tls_finished(
        self, conn: HTTPConnection, at: float, version: str, cipher: str, peer_subject: str | None
    ) -> None:
        """The TLS handshake succeeded.

        Args:
            conn: the connection.
            at: when.
            version: e.g. ``'TLSv1.3'``.
            cipher: e.g. ``'TLS_AES_256_GCM_SHA384'``.
            peer_subject: the subject of the server's certificate, e.g.
                ``'CN=www.example.org, O=Example'``; None when the context
                does not verify certificates (the subject is then unknown).
        """
        return None

    def request_sent(self, conn: HTTPConnection, at: float, method: str, target: str) -> None:
        """The head of a request was handed to the socket (its body may follow).

        Or to the buffer of coalesced pipelined heads, which is sent before
        the connection waits for a response.  Not told for a request that
        was withdrawn before its first byte (e.g. the connection could not
        be opened).

        Args:
            conn: the connection.
            at: when.
            method: e.g. ``'GET'``.
            target: the request target given to ``send_request``, e.g.
                ``'/index.html'`` (through a proxy, plain http requests go out
                in absolute form, ``http://host/index.html``).
        """
        return None

    def response_started(self, conn: HTTPConnection, at: float, method: str, target: str) -> None:
        """The first byte of the response to ``method target`` arrived.

        Told once per request, before ``response_head_read`` (a ``100
        Continue`` returned to the caller does not start it again).

        Args:
            conn: the connection.
            at: when.
            method: the request's method.
            target: the request's target.
        """
        return None

    def response_head_read(
        self, conn: HTTPConnection, at: float, response: HTTPResponse, http_version: str
    ) -> None:
        """The head of a final response was read (informational ones are skipped).

        Args:
            conn: the connection.
            at: when.
            response: the response (status, reason, headers, its request).
            http_version: the version of the status line, ``'HTTP/1.1'`` or ``'HTTP/1.0'``.
        """
        return None

    def body_finished(self, conn: HTTPConnection, at: float, method: str, target: str) -> None:
        """The body of the response to ``method target`` was read completely.

        Right after ``response_head_read`` for a response without a body;
        :attr:`HTTPResponse.trailers` is set by then.

        Args:
            conn: the connection.
            at: when.
            method: the request's method.
            target: the request's target.
        """
        return None

    def connection_closed(self, conn: HTTPConnection, at: float, reason: str) -> None:
        """The socket of the connection was closed.

        Args:
            conn: the connection.
            at: when.
            reason: why, for people: ``'disconnect() was called'``, the
                server's ``Connection: close``, an error's message, ...
        """
        return None


def overrides_event(observer: object, name: str) -> bool:
    """Return True if *observer* has its own implementation of hook *name*."""
    implementation = getattr(type(observer), name, None)
    return callable(implementation) and implementation is not getattr(ConnectionObserver, name)


class Notifier:
    """Tells one connection's observer about events (internal).

    Its methods are the hooks without *conn* and *at*, which it adds; a hook
    the observer does not override is not called, and the clock is not read
    for it.
    """

    __slots__ = ("_conn", "_observer", "_hooks")

    def __init__(self, conn: HTTPConnection, observer: ConnectionObserver) -> None:
        self._conn = conn
        self._observer = observer
        self._hooks: dict[str, Callable[..., object]] = {
            name: getattr(observer, name) for name in EVENT_NAMES if overrides_event(observer, name)
        }

    def _emit(self, name: str, *details: object) -> None:
        hook = self._hooks.get(name)
        if hook is None:
            return
        try:
            hook(self._conn, time.monotonic(), *details)
        except Exception:
            log.exception(
                "connection observer %r raised in %s(); it is called no more by %r",
                self._observer,
                name,
                self._conn,
            )
            self._hooks = {}

    def resolution_started(self, host: str, port: int) -> None:
        """See :meth:`ConnectionObserver.resolution_started`."""
        self._emit("resolution_started", host, port)

    def resolution_finished(self, host: str, addresses: Sequence[SockAddr]) -> None:
        """See :meth:`ConnectionObserver.resolution_finished`."""
        self._emit("resolution_finished", host, addresses)

    def resolution_failed(self, host: str, error: BaseException) -> None:
        """See :meth:`ConnectionObserver.resolution_failed`."""
        self._emit("resolution_failed", host, error)

    def connect_started(self, address: SockAddr) -> None:
        """See :meth:`ConnectionObserver.connect_started`."""
        self._emit("connect_started", address)

    def connect_finished(self, address: SockAddr, local_address: SockAddr) -> None:
        """See :meth:`ConnectionObserver.connect_finished`."""
        self._emit("connect_finished", address, local_address)

    def connect_failed(self, address: SockAddr, error: OSError) -> None:
        """See :meth:`ConnectionObserver.connect_failed`."""
        self._emit("connect_failed", address, error)

    def connect_abandoned(self, address: SockAddr) -> None:
        """See :meth:`ConnectionObserver.connect_abandoned`."""
        self._emit("connect_abandoned", address)

    def tunnel_opened(self, proxy: tuple[str, int], authority: str) -> None:
        """See :meth:`ConnectionObserver.tunnel_opened`."""
        self._emit("tunnel_opened", proxy, authority)

    def tls_finished(self, version: str, cipher: str, peer_subject: str | None) -> None:
        """See :meth:`ConnectionObserver.tls_finished`."""
        self._emit("tls_finished", version, cipher, peer_subject)

    def request_sent(self, method: str, target: str) -> None:
        """See :meth:`ConnectionObserver.request_sent`."""
        self._emit("request_sent", method, target)

    def response_started(self, method: str, target: str) -> None:
        """See :meth:`ConnectionObserver.response_started`."""
        self._emit("response_started", method, target)

    def response_head_read(self, response: HTTPResponse, http_version: str) -> None:
        """See :meth:`ConnectionObserver.response_head_read`."""
        self._emit("response_head_read", response, http_version)

    def body_finished(self, method: str, target: str) -> None:
        """See :meth:`ConnectionObserver.body_finished`."""
        self._emit("body_finished", method, target)

    def connection_closed(self, reason: str) -> None:
        """See :meth:`ConnectionObserver.connection_closed`."""
        self._emit("connection_closed", reason)


def make_notifier(conn: HTTPConnection, observer: ConnectionObserver | None) -> Notifier | None:
    """The notifier of *conn* for *observer*: None when there is nothing to tell.

    None when *observer* is None or overrides no hook, so that the
    connection's ``if notify is not None`` tests skip all the work.
    """
    if observer is None:
        return None
    notifier = Notifier(conn, observer)
    return notifier if notifier._hooks else None


def describe_subject(cert: Mapping[str, object] | None) -> str | None:
    """``'CN=host, O=org'`` from the ``subject`` of :meth:`ssl.SSLSocket.getpeercert`.

    Returns None when there is no (verified) certificate.
    """
    if not cert:
        return None
    subject = cert.get("subject")
    if not isinstance(subject, tuple):
        return None
    parts: list[str] = []
    for rdn in subject:
        for pair in rdn if isinstance(rdn, tuple) else ():
            if isinstance(pair, tuple) and len(pair) == 2:
                key, value = pair
                parts.append(f"{_SHORT_NAMES.get(str(key), str(key))}={value}")
    return ", ".join(parts) or None


_SHORT_NAMES: Final[dict[str, str]] = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
}
