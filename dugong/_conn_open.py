"""Opening the connection: resolve, connect, proxy tunnel, TLS handshake.

The room of :class:`~dugong.HTTPConnection` that opens its socket (the rooms
are listed in :mod:`dugong._connection`).  The sender side opens the
connection for its first request; the reader side waits for that.

Rules of this room
------------------
* A request is pending from the moment ``co_send_request`` starts, before
  the connection is opened; a reader that finds it opening waits on a
  socket pair (:meth:`Opener._co_wait_opened`).  When the server ends the
  connection cleanly and nothing is pending, the next request reopens it.
* Every step of the opening yields :class:`PollNeeded` instead of blocking;
  a step that fails or is interrupted closes the socket it opened, and the
  reason is kept for a reader waiting for the opening (``_open_error``).
"""

from __future__ import annotations

import ipaddress
import ssl
import time
from collections.abc import Mapping
from typing import Final

from . import _http11
from ._conn_io import MSG_DONTWAIT, ConnectionIO
from ._conn_state import _DEBUG, _OPENING_LOCK, _Life, log
from ._errors import ConnectionClosed, ConnectionTimedOut, InvalidResponse, ProxyError
from ._http11 import excerpt
from ._net import Waker, co_resolve, co_tls_handshake, wrap_tls
from ._observer import describe_subject
from ._poll import POLLIN, PollCoroutine, PollNeeded, eval_coroutine
from ._tcp import co_open_tcp, order_addresses
from ._trace import open_trace


def _host_header(hostname: str, port: int, default_port: int) -> str:
    try:
        is_v6 = isinstance(ipaddress.ip_address(hostname), ipaddress.IPv6Address)
    except ValueError:
        is_v6 = False
    host = f"[{hostname}]" if is_v6 else hostname
    return host if port == default_port else f"{host}:{port}"


# Fields of a CONNECT request that dugong writes itself or that make no sense without a body.
_NOT_PROXY_FIELDS: Final = frozenset({"host", "content-length", "transfer-encoding"})


def _proxy_fields(
    headers: Mapping[str, str] | None, proxy: tuple[str, int] | None, ssl_context: ssl.SSLContext | None
) -> list[tuple[str, str]]:
    """The validated *headers* to send with CONNECT; messages never show a value."""
    if not headers:
        return []
    if proxy is None or ssl_context is None:
        raise ValueError(
            "proxy_headers are sent with the CONNECT request of https through a proxy;"
            " for plain http through a proxy, put them into each request's headers"
        )
    fields = []
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() in _NOT_PROXY_FIELDS:
            raise ValueError(
                f"proxy_headers must not set {name!r}: dugong writes the CONNECT request's framing"
            )
        _http11.validate_field(name, "")  # the name (its message shows no value)
        try:
            _http11.validate_field(name, value)
        except ValueError:
            raise ValueError(
                f"value of proxy header {name!r} is not a valid field value"
                " (a control character, or not a str); the value is not shown"
            ) from None
        fields.append((name, value))
    return fields


class Opener(ConnectionIO):
    """Opening the connection's socket."""

    __slots__ = ()

    def co_connect(self) -> PollCoroutine[None]:
        """Open the connection (resolve, connect, proxy tunnel, TLS), if not open.

        Every step yields :class:`PollNeeded` instead of blocking; name
        resolution runs in a small pool of worker threads.

        With several addresses, attempts overlap (Happy Eyeballs, RFC 8305):
        the next address is tried :attr:`happy_eyeballs_delay` seconds after
        the previous one, or as soon as it fails, and the first to connect
        is kept.

        Raises:
            HostnameNotResolvable: the host name does not resolve.
            DNSUnavailable: no name resolves: DNS is not reachable.
            NetworkError: the TCP connection could not be opened, e.g.
                :exc:`ConnectionRefused` (also a :exc:`ConnectionRefusedError`)
                or :exc:`HostUnreachable`; the message names every address
                tried.
            ProxyError: the proxy refused the ``CONNECT`` tunnel.
            TLSCertificateError: the certificate was not accepted (also an
                :exc:`ssl.SSLCertVerificationError`).
            TLSError: the TLS handshake failed otherwise (also an
                :exc:`ssl.SSLError`).
            ConnectionClosed: the peer closed during the set-up.
        """
        if self._sock is not None:
            return
        try:
            if self._life is _Life.FAILED:
                raise ConnectionClosed(self._reason)
            self._life = _Life.OPENING
            yield from self._co_open()
        except ConnectionTimedOut as exc:
            error = self._timed_out(exc, f"could not connect to {self._peer()}", "within")
            self._open_error = f"the connection to {self.name} could not be opened: {error}"
            raise error from None
        except BaseException as exc:
            self._open_error = (
                f"the connection to {self.hostname}:{self.port} could not be opened:"
                f" {exc or type(exc).__name__}"
            )
            raise
        finally:
            self._opened()

    def _co_open(self) -> PollCoroutine[None]:
        """Resolve, connect, open the proxy tunnel and do the TLS handshake."""
        host, port = self.proxy if self.proxy is not None else (self.hostname, self.port)
        notify = self._notify
        if notify is not None:
            notify.resolution_started(host, port)
        try:
            addresses = yield from co_resolve(host, port, self._resolver)
        except Exception as exc:
            if notify is not None:
                notify.resolution_failed(host, exc)
            raise
        if notify is not None:
            notify.resolution_finished(host, [info[4] for info in order_addresses(addresses)])
        sock = yield from co_open_tcp(addresses, self.happy_eyeballs_delay, notify)
        self._sock, self._fd = sock, sock.fileno()
        self._wait_in = PollNeeded(self._fd, POLLIN)
        try:
            self._tracer = open_trace()
            if self.proxy is not None and self.ssl_context is not None:
                yield from self._co_open_tunnel()
            if self.ssl_context is not None:
                tls = wrap_tls(sock, self.ssl_context, self.hostname, session=self.ssl_session)
                self._sock = tls
                yield from co_tls_handshake(tls)
                if notify is not None:
                    notify.tls_finished(
                        tls.version() or "",
                        (tls.cipher() or ("", "", 0))[0],
                        describe_subject(tls.getpeercert()),
                    )
        except BaseException as exc:
            self._close_socket(f"opening the connection failed: {exc or type(exc).__name__}")
            raise
        if self._sock is sock and MSG_DONTWAIT:
            # Plain TCP: blocking mode, each call that must not wait says so
            # (see the rules of dugong._conn_io).
            sock.setblocking(True)
            self._nowait = MSG_DONTWAIT
        self._idle_since = time.monotonic()
        # One test per connection instead of two per request (design notes,
        # "Events and log lines at no cost").
        self._tell = notify is not None or log.isEnabledFor(_DEBUG)
        log.debug("connected to %s:%d (fd %d)", self.hostname, self.port, self._fd)

    def connect(self) -> None:
        """Blocking twin of :meth:`co_connect`, honouring :attr:`timeout`."""
        eval_coroutine(self.co_connect(), self.timeout)

    def _opened(self) -> None:
        """Opening the connection ended (either way): wake a reader waiting for that."""
        with _OPENING_LOCK:
            if self._life is _Life.OPENING:
                self._life = _Life.CLOSED if self._sock is None else _Life.OPEN
            waker = self._open_waker
        if waker is not None:
            waker.notify()

    def _co_wait_opened(self) -> PollCoroutine[None]:
        """Wait until the sender has opened the connection.

        A reader may start before the sender's request has left: 3.x's
        pipelining pattern starts the reader right after the sender, which
        now yields while it connects.  The reader cannot wait on the socket
        (it may not exist yet, and the sender waits on it during the TLS
        handshake), so it waits on a socket pair that :meth:`_opened` makes
        readable.

        Raises:
            ConnectionClosed: the connection could not be opened, and the
                request the reader waited for was withdrawn.
        """
        while True:
            with _OPENING_LOCK:
                if self._life is not _Life.OPENING:
                    waker, self._open_waker = self._open_waker, None
                    break
                if self._open_waker is None:
                    self._open_waker = Waker()
                wait = PollNeeded(self._open_waker.fd, POLLIN)
            try:
                yield wait
            except BaseException:
                # Interrupted (a timeout, a closed coroutine): leave no socket pair open.
                with _OPENING_LOCK:
                    waker, self._open_waker = self._open_waker, None
                if waker is not None:
                    waker.close()
                raise
        if waker is not None:
            waker.close()
        if not self._pending and self._sock is None:
            raise ConnectionClosed(self._open_error or "the connection could not be opened")

    def _co_open_tunnel(self) -> PollCoroutine[None]:
        assert self.proxy is not None
        authority = _host_header(self.hostname, self.port, -1)
        head = _http11.serialize_head("CONNECT", authority, [("Host", authority), *self._proxy_fields])
        yield from self._co_send_all(head)
        while not isinstance(raw := self._read_head(f"CONNECT {authority}"), bytes):
            yield raw
        parsed = _http11.parse_response_head(raw)
        if not 200 <= parsed.status <= 299:
            raise ProxyError(self.proxy, parsed.status, parsed.reason)
        if self._rbuf.available:
            raise InvalidResponse(
                f"proxy sent data after its 2xx answer to CONNECT: {excerpt(self._rbuf.take(80))}"
            )
        self._rbuf.release()
        if self._notify is not None:
            self._notify.tunnel_opened(self.proxy, authority)
