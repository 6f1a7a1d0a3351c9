"""HTTPConnection: one HTTP/1.1 connection, as coroutines over a non-blocking socket.

Rules of this module
--------------------
* Every operation is written once, as a ``co_*`` generator that yields
  :class:`PollNeeded` when the socket would block.  The blocking method of the
  same name is ``eval_coroutine(self.co_x(...), self.timeout)``.
* The sender side (``send_request``, ``write``, ``end_body``) and the reader
  side (``read_response`` and the body reads) share only the FIFO of requests
  awaiting a response and the state of a pending ``Expect: 100-continue``.
  That is what makes "one thread sends, another reads" safe.  A request is
  appended to the FIFO *before* its first byte is sent, so a response can
  never arrive for a request the reader does not know about.
* The connection's lifecycle is one :class:`_Life` with one reason string,
  and every field returns to its starting value in one place (:meth:`_reset`).
  Socket and TLS errors become :exc:`ConnectionClosed` in one place
  (:meth:`_translate`), called from every ``except`` that sees them.  A
  response that cannot be framed safely raises
  :exc:`InvalidResponse`/:exc:`UnsupportedResponse` and closes the socket
  (:meth:`_fail`): a connection that saw a protocol error is never reused.
* The wire format is :mod:`dugong._http11` (request heads, response heads,
  framing) and :mod:`dugong._body` (taking heads, chunk framing and bodies
  from the receive buffer); here is only what needs the socket.
* Heads of pipelined requests without a body are coalesced: when an earlier
  response is still pending and the thread sending is the one that last read
  a response, the head goes into ``_wbuf`` instead of the socket.  That buffer
  is sent before any other byte, when it reaches ``_COALESCE_LIMIT``, by
  :meth:`flush`, and by every read that would otherwise wait (without
  blocking: a read then waits for POLLIN|POLLOUT until the buffer is out, so
  a full socket cannot deadlock it).  All of this happens in one thread, so
  the two-thread pattern, where another thread reads, never buffers.
* A request interrupted after some of its bytes were sent (a timeout, a
  cancelled coroutine) leaves the server with half a message, so the
  connection is closed; interrupted before its first byte, it is withdrawn and
  the connection stays usable.  Reading is interruptible anywhere: nothing is
  consumed from the buffer until a whole head, line or body piece is there,
  and what ``readall`` gathered before an interruption is kept in
  ``_unread`` for the next read.
* A request is pending from the moment ``co_send_request`` starts, before
  the connection is opened; a reader that finds it opening waits on a
  socket pair (:meth:`_co_wait_opened`).  When the server ends the
  connection cleanly and nothing is pending, the next request reopens it.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import socket
import ssl
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Mapping
from enum import IntEnum
from types import TracebackType
from typing import Final, Literal, TypeAlias, TypeVar, overload

from . import _http11
from ._body import HEAD_TOO_LONG, BodyReader, closed_message, take_delimited
from ._buffer import BUFFER_SIZE, ReceiveBuffer
from ._errors import (
    ConnectionClosed,
    ConnectionTimedOut,
    ExcessBodyData,
    InvalidResponse,
    ProxyError,
    StateError,
    UnsupportedResponse,
    network_error,
)
from ._http11 import (
    LENGTH,
    MAX_HEADER_SIZE,
    MAX_INFORMATIONAL_RESPONSES,
    NO_BODY,
    UNTIL_CLOSE,
    BodyFollowing,
    BytesLike,
    HTTPResponse,
    excerpt,
)
from ._net import (
    PEER_GONE_ERRORS,
    Resolver,
    Waker,
    check_host_name,
    co_resolve,
    co_tls_handshake,
    wrap_tls,
)
from ._observer import ConnectionObserver, Notifier, describe_subject, make_notifier
from ._poll import POLLIN, POLLOUT, PollCoroutine, PollNeeded, eval_coroutine
from ._tcp import DEFAULT_CONNECT_DELAY, co_open_tcp, order_addresses
from ._trace import Tracer, open_trace
from ._trailers import NO_FIELDS, trailer_section

__all__ = ["HTTPConnection"]

log = logging.getLogger("dugong")
_DEBUG: Final = logging.DEBUG

# Bodies up to this size are sent in one system call with the request head.
_COALESCE_LIMIT: Final = 16 * 1024
# A connection idle for longer than this is checked for a server-side close
# (or stray data) before a request is sent on it.
_IDLE_CHECK_AFTER: Final = 0.05
_CRLF: Final = b"\r\n"
# Why reading fails after disconnect(), until the next request opens the connection again.
_DISCONNECTED: Final = "the connection was closed by disconnect(); send a request to open it again"
# Guards the hand-over between a sender opening the connection and a reader
# waiting for that (see _co_wait_opened); taken once per connect, so one lock
# for all connections costs nothing per connection.
_OPENING_LOCK: Final = threading.Lock()


class _Life(IntEnum):
    """Where a connection is in its life.  The last four come with a reason (``_reason``).

    (An IntEnum for speed only: it hashes in C, and the sets below are
    looked up a few times per request.)
    """

    CLOSED = 0  # no socket: the next request opens one
    OPENING = 1  # a sender is opening the socket; readers wait (_co_wait_opened)
    OPEN = 2
    SEND_CLOSED = 3  # the server stopped taking bytes; answers can still be read
    SWITCHED = 4  # the server switched protocols: read_raw() only
    DISCONNECTED = 5  # by disconnect(): reads raise, the next request reopens
    FAILED = 6  # lost, or a protocol error: everything raises until reset()


# No more responses can be read / no more requests sent, for the reason given.
_READING_ENDED: Final = frozenset({_Life.SWITCHED, _Life.DISCONNECTED, _Life.FAILED})
_SENDING_ENDED: Final = frozenset({_Life.SEND_CLOSED, _Life.SWITCHED, _Life.FAILED})


# A request awaiting its response: (method, path).  A plain tuple of strings,
# which the garbage collector stops tracking when it first sees it.
_Request: TypeAlias = tuple[str, str]


class _Upload:
    """A request body being sent with ``write``."""

    __slots__ = ("request", "remaining", "awaiting_100")

    def __init__(self, request: _Request, remaining: int | None, awaiting_100: bool) -> None:
        self.request = request
        self.remaining = remaining  # None: chunked
        self.awaiting_100 = awaiting_100


def _close_reason(request: str, head: _http11.ResponseHead, framing: _http11.Framing) -> str:
    """Why the server ends the connection after its response to *request* (for messages)."""
    if framing.kind == UNTIL_CLOSE:
        return f"the server closed the connection to end its response to {request}"
    connection = ",".join(head.headers.get_all("Connection", [])).lower()
    if head.minor_version == 0 and "close" not in connection:
        return f"the server answered {request} in HTTP/1.0 without keep-alive"
    return f"the server said 'Connection: close' in its response to {request}"


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


_C = TypeVar("_C", bound="HTTPConnection")


class HTTPConnection:
    """An HTTP/1.1 connection to one server, with pipelining.

    Requests can be sent (:meth:`send_request`) before earlier responses are
    read (:meth:`read_response`); responses come back in order.  The TCP
    connection is opened when the first request is sent (or by
    :meth:`connect`).  Each blocking method has a ``co_`` twin that is a
    coroutine yielding :class:`PollNeeded` instead of blocking.

    Args:
        hostname: the server's host name or IP address.
        port: the server's port; 80, or 443 when *ssl_context* is given.
        ssl_context: use TLS with this context (SNI and host name checking
            follow the context's settings).
        proxy: ``(host, port)`` of an HTTP proxy.  Plain http requests are
            sent to it in absolute form; https opens a ``CONNECT`` tunnel.
        resolver: a blocking ``getaddrinfo``-like function used (in a worker
            thread) to resolve host names; for tests and special set-ups.
        timeout: the initial value of :attr:`timeout`.
        happy_eyeballs_delay: seconds between the starts of two connection
            attempts when the name has several addresses (RFC 8305; 0 starts
            them all at once).
        observer: told of the connection's lifecycle events (see
            :class:`ConnectionObserver`).
        proxy_headers: header fields sent with the ``CONNECT`` request that
            opens the tunnel through *proxy* (https only), e.g.
            ``{'Proxy-Authorization': 'Basic ...'}``.  Their values never
            appear in messages or logs.
        ssl_session: a TLS session of an earlier connection to the same
            server (:meth:`get_ssl_session`), offered for resumption when the
            connection opens; it is also in the :attr:`ssl_session` attribute.
        on_request_head: called with the bytes of each request head (request
            line and header section) just before they are sent, e.g. to log
            them; the body is not included.

    Raises:
        ValueError: *hostname* is not a host name (a URL, ``host:port``, a
            path, ...), a *proxy_headers* field is invalid, or they are given
            for plain http (whose requests go to the proxy itself: put such
            fields into each request's headers).
    """

    def __init__(
        self,
        hostname: str,
        port: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
        proxy: tuple[str, int] | None = None,
        *,
        resolver: Resolver | None = None,
        timeout: float | None = None,
        happy_eyeballs_delay: float = DEFAULT_CONNECT_DELAY,
        observer: ConnectionObserver | None = None,
        proxy_headers: Mapping[str, str] | None = None,
        ssl_session: ssl.SSLSession | None = None,
        on_request_head: Callable[[bytes], object] | None = None,
    ) -> None:
        hostname = check_host_name(hostname)
        if not happy_eyeballs_delay >= 0:
            raise ValueError(f"happy_eyeballs_delay must be >= 0 seconds, not {happy_eyeballs_delay!r}")
        default_port = 443 if ssl_context is not None else 80
        #: The server's host name or address.
        self.hostname = hostname
        #: The server's port.
        self.port = port if port is not None else default_port
        #: The TLS context, or None for plain HTTP.
        self.ssl_context = ssl_context
        #: ``(host, port)`` of the proxy, or None.
        self.proxy = proxy
        #: Seconds without progress after which blocking methods raise
        #: :exc:`ConnectionTimedOut`; None waits forever.
        self.timeout: float | None = timeout
        #: Seconds between the starts of two connection attempts (Happy Eyeballs).
        self.happy_eyeballs_delay = happy_eyeballs_delay
        self._resolver = resolver
        self._observer = observer
        self._notify = make_notifier(self, observer)
        # Whether anybody listens to the per-request events: the observer, or
        # the DEBUG log as it was when the connection opened (see _co_open).
        self._tell = self._notify is not None or log.isEnabledFor(_DEBUG)
        self._proxy_fields = _proxy_fields(proxy_headers, proxy, ssl_context)
        #: The TLS session offered for resumption when the connection opens.
        self.ssl_session = ssl_session
        self._on_request_head = on_request_head
        self._host = _host_header(hostname, self.port, default_port)
        _http11.validate_field("Host", self._host)
        # Plain http through a proxy: absolute-form targets (RFC 9112 section 3.2.2).
        self._target_prefix = f"http://{self._host}" if proxy is not None and ssl_context is None else ""
        self._sock: socket.socket | None = None
        self._fd = -1
        # What a connection waiting for a response yields, made once per socket.
        self._wait_in = PollNeeded(-1, POLLIN)
        self._tracer: Tracer | None = None
        self._pending: deque[_Request] = deque()
        self._body = BodyReader()  # where we are in the body of the current response
        self._open_waker: Waker | None = None  # wakes a reader waiting for the opening
        self._open_error = ""  # why the last attempt to open the connection failed
        self._idle_since = 0.0
        self._reader_ident = 0  # the thread that last read a response
        self._started: _Request | None = None  # the last request told response_started
        self._reset(_Life.CLOSED, forget_requests=True)

    def _reset(self, life: _Life, reason: str = "", *, forget_requests: bool = False) -> None:
        """Close the socket and return every field to its starting value: the one reset.

        Args:
            life, reason: the state the connection is in now, and why.
            forget_requests: also forget the requests awaiting responses and
                the body being read (:meth:`disconnect`); otherwise they stay,
                so that reading them raises ``ConnectionClosed(reason)``.
        """
        self._close_socket(reason or "the connection was closed")
        self._life = life
        self._reason = reason
        self._rbuf = ReceiveBuffer()
        self._wbuf = bytearray()  # coalesced heads of pipelined requests, not yet sent
        self._upload: _Upload | None = None
        self._reader_waits_out = False  # the reader waits for POLLIN|POLLOUT (see _coalesce)
        self._keep_alive = True
        self._close_reason = ""  # why the server ends the connection after this response
        self._response: HTTPResponse | None = None  # the response whose body is being read
        if forget_requests:
            self._pending.clear()
            self._body.reset()
            # Body bytes that a readall() took before it was interrupted: read first.
            self._unread = b""
            with _OPENING_LOCK:
                waker, self._open_waker = self._open_waker, None
            if waker is not None:
                waker.close()

    @classmethod
    def from_url(
        cls: type[_C],
        url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        proxy: tuple[str, int] | None = None,
        resolver: Resolver | None = None,
        timeout: float | None = None,
        happy_eyeballs_delay: float = DEFAULT_CONNECT_DELAY,
        observer: ConnectionObserver | None = None,
        proxy_headers: Mapping[str, str] | None = None,
    ) -> _C:
        """A connection to the origin of *url*: ``http://`` or ``https://``, host and port.

        ``https`` uses *ssl_context*, or :func:`ssl.create_default_context`
        when none is given; the port is the URL's, or 80 / 443.  A path,
        query or fragment of *url* is ignored (it is for your requests).  The
        keyword arguments are those of the constructor.

        Args:
            url: e.g. ``'https://www.example.org:8443/'``.

        Returns:
            The connection (not opened yet).

        Raises:
            ValueError: *url* is not an http or https URL with a host, has
                an invalid port, or carries user information (send
                credentials in an ``Authorization`` header; the message
                does not quote the URL then).
        """
        parts = urllib.parse.urlsplit(url)
        shown = "the URL" if "@" in parts.netloc else f"URL {url!r}"
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"{shown} is not an http:// or https:// URL")
        if "@" in parts.netloc:
            raise ValueError(
                "the URL carries user information (user:password@): a connection does not use it;"
                " send credentials in an Authorization header"
            )
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"{shown} has an invalid port") from None
        if not parts.hostname:
            raise ValueError(f"{shown} has no host")
        if scheme == "https" and ssl_context is None:
            ssl_context = ssl.create_default_context()
        return cls(
            parts.hostname,
            port,
            ssl_context if scheme == "https" else None,
            proxy,
            resolver=resolver,
            timeout=timeout,
            happy_eyeballs_delay=happy_eyeballs_delay,
            observer=observer,
            proxy_headers=proxy_headers,
        )

    @property
    def observer(self) -> ConnectionObserver | None:
        """The observer given to the constructor, or None."""
        return self._observer

    # ------------------------------------------------------------ lifecycle

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

    def disconnect(self) -> None:
        """Close the connection and forget all pending requests and responses.

        Until the next request, which opens a new connection, reading a
        response or body and writing a body raise :exc:`ConnectionClosed`.
        """
        self._close_socket("disconnect() was called")
        self._reset(_Life.DISCONNECTED, _DISCONNECTED, forget_requests=True)

    def reset(self) -> None:
        """Make the connection usable again after :exc:`ConnectionClosed` or an error.

        Same as :meth:`disconnect`: pending requests are forgotten and the next
        request opens a new connection.
        """
        self.disconnect()

    def close(self) -> None:
        """Same as :meth:`disconnect` (for :mod:`io` wrappers, which call it)."""
        self.disconnect()

    def _close_socket(self, reason: str) -> None:
        if self._sock is not None:
            log.debug("closing connection to %s:%d (fd %d)", self.hostname, self.port, self._fd)
            self._sock.close()
            self._sock, self._fd = None, -1
            if self._notify is not None:
                self._notify.connection_closed(reason)
        if self._tracer is not None:
            self._tracer.close()
            self._tracer = None

    def _fail(self, why: str) -> None:
        """Close the socket for good: later operations raise ConnectionClosed(why) until reset()."""
        self._reset(_Life.FAILED, why)

    def _fail_after(self, exc: ConnectionClosed | InvalidResponse | UnsupportedResponse, what: str) -> None:
        """Reading *what* failed with *exc*: the connection is not reused."""
        self._fail(
            str(exc) if isinstance(exc, ConnectionClosed) else f"connection closed after {what}: {exc}"
        )

    def _peer(self) -> str:
        """``host:port``, and the proxy's when there is one (for messages)."""
        if self.proxy is None:
            return self.name
        return f"{self.name} through proxy {self.proxy[0]}:{self.proxy[1]}"

    def _timed_out(
        self, exc: ConnectionTimedOut, awaited: str, preposition: str = "for"
    ) -> ConnectionTimedOut:
        """*exc*, thrown into a wait by :func:`eval_coroutine`, worded to say what was *awaited* from whom.

        Only a timeout of so many seconds without progress is reworded, once
        (the innermost wait knows best); others, e.g. a task's deadline
        (``TaskDeadlineExceeded``, a subclass), keep their class and message.
        """
        if type(exc) is not ConnectionTimedOut or exc._described or exc.timeout is None:
            return exc
        return ConnectionTimedOut(exc.timeout, message=f"{awaited} {preposition} {exc.timeout:g} s")

    def _body_timed_out(self, exc: ConnectionTimedOut) -> ConnectionTimedOut:
        response = self._response
        what = "the response" if response is None else f"the response to {response.method} {response.path}"
        return self._timed_out(exc, f"no progress receiving the body of {what} from {self.name}")

    def _close_cleanly(self) -> None:
        """The server ends the connection after a complete response, and nothing is pending.

        Nothing is lost, so nothing is reported: the next request opens a new
        connection (as in dugong 3.x and :mod:`http.client`).
        """
        self._close_socket(self._close_reason or "the server closed the connection")
        if self._rbuf.available:
            log.debug("ignoring data after the last response: %s", excerpt(self._rbuf.take(80)))
        if self._life is _Life.SEND_CLOSED:  # sending failed: that is still reported
            self._reset(_Life.SEND_CLOSED, self._reason)
        else:
            self._reset(_Life.CLOSED)

    def __enter__(self) -> HTTPConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()

    def co_flush(self) -> PollCoroutine[None]:
        """Send the coalesced heads of pipelined requests now.

        Dugong holds back the heads of pipelined requests sent from the thread
        that also reads the responses, and sends them together before it waits
        for a response; call this to send them earlier (e.g. before a long
        computation between sending and reading).
        """
        if self._wbuf:
            data, self._wbuf = self._wbuf, bytearray()
            try:
                yield from self._co_send_all(data, "sending pipelined requests")
            except BaseException:
                if self._life not in _SENDING_ENDED:
                    self._wbuf[:0] = data  # not a byte went out: keep them for later
                raise

    def flush(self) -> None:
        """Blocking twin of :meth:`co_flush`."""
        eval_coroutine(self.co_flush(), self.timeout)

    def _try_flush(self) -> None:
        """Send what the socket takes now of the coalesced heads, without waiting."""
        sock = self._sock
        if sock is None or self._life in _SENDING_ENDED:
            return
        try:
            sent = sock.send(self._wbuf)
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            return
        except PEER_GONE_ERRORS as exc:
            # Sending ends; the reader finds out from the socket, where an answer may still be.
            self._translate(exc, "sending pipelined requests")
            return
        if self._tracer is not None:
            self._tracer.sent(memoryview(self._wbuf)[:sent])
        del self._wbuf[:sent]

    @property
    def connected(self) -> bool:
        """True while a socket to the server (or proxy) is open."""
        return self._sock is not None

    @overload
    def get_ssl_peercert(self, binary_form: Literal[False] = False) -> dict[str, object] | None: ...

    @overload
    def get_ssl_peercert(self, binary_form: Literal[True]) -> bytes | None: ...

    def get_ssl_peercert(self, binary_form: bool = False) -> dict[str, object] | bytes | None:
        """The server's certificate (see :meth:`ssl.SSLSocket.getpeercert`), or None.

        Args:
            binary_form: return the DER-encoded certificate instead of a dict.
        """
        if not isinstance(self._sock, ssl.SSLSocket):
            return None
        if binary_form:
            return self._sock.getpeercert(binary_form=True)
        cert = self._sock.getpeercert()
        return dict(cert) if cert is not None else None

    def get_ssl_session(self) -> ssl.SSLSession | None:
        """The TLS session of the open connection (to resume on another one), or None.

        With TLS 1.3 the server sends its session tickets after the
        handshake: ask once a response was read.
        """
        if not isinstance(self._sock, ssl.SSLSocket):
            return None
        return self._sock.session

    def get_ssl_cipher(self) -> tuple[str, str, int] | None:
        """``(cipher name, protocol version, secret bits)``, or None without TLS."""
        if not isinstance(self._sock, ssl.SSLSocket):
            return None
        return self._sock.cipher()

    # -------------------------------------------------------------- socket I/O

    def _translate(self, exc: OSError, doing: str) -> Exception:
        """The one place where socket and TLS errors become :exc:`ConnectionClosed`.

        Called from every ``except`` that sees them, with what the connection
        was *doing*.  An error that means the peer is gone also ends sending
        (the server may still have answered: the reader finds out from the
        socket).  Returns the exception to raise: :exc:`ConnectionClosed`, or
        the dugong twin of any other socket or TLS error
        (:func:`~dugong._errors.network_error`: still an instance of the
        standard class, so 3.x ``except`` clauses catch it).
        """
        if self._life in _READING_ENDED:  # (e.g. disconnect() under a suspended coroutine)
            return ConnectionClosed(self._reason)
        if isinstance(exc, PEER_GONE_ERRORS):
            if self._life is _Life.OPEN:
                self._life = _Life.SEND_CLOSED
                self._reason = f"server closed the connection while we were {doing}"
            return ConnectionClosed(f"connection to {self.hostname}:{self.port} lost while {doing}: {exc}")
        if self._sock is None:
            return ConnectionClosed(self._reason or "connection closed")
        return network_error(exc, f"{doing} ({self.hostname}:{self.port})")

    def _co_send_all(
        self, data: BytesLike, doing: str = "sending a request", *, continuing: bool = False
    ) -> PollCoroutine[int]:
        """Send all of *data*; returns its length.

        If interrupted (a timeout, a closed coroutine) after part of *data*
        was sent, the connection is shut: the server holds half a message.
        Interrupted before the first byte, nothing changes, unless
        *continuing* says that *data* continues a message whose start was
        sent already (a body after its head, chunk data after its size line).
        """
        if self._wbuf:
            yield from self.co_flush()  # coalesced heads go first
        sock = self._sock
        if sock is None or self._life in _SENDING_ENDED:
            raise ConnectionClosed(self._reason or "connection is not open")
        view = memoryview(data).cast("B")
        total = len(view)
        sent = 0
        try:
            while True:
                # Yield outside the except clauses: a generator suspended in
                # one keeps the exception and its traceback alive while it waits.
                try:
                    sent += sock.send(view[sent:] if sent else view)
                except (BlockingIOError, ssl.SSLWantWriteError):
                    wait = PollNeeded(self._fd, POLLOUT)
                except ssl.SSLWantReadError:  # pragma: no cover - TLS renegotiation only
                    wait = self._wait_in
                else:
                    if sent == total:
                        break
                    continue
                yield wait
            if self._tracer is not None:
                self._tracer.sent(view)
            return total
        except OSError as exc:
            error = self._translate(exc, doing)
            if error is exc:
                raise
            raise error from exc
        except BaseException as exc:
            if sent or continuing:
                if self._tracer is not None:
                    self._tracer.sent(view[:sent])
                self._fail(f"connection closed: interrupted after {sent} of {total} bytes of {doing}")
            if isinstance(exc, ConnectionTimedOut) and self._life is not _Life.OPENING:
                raise self._timed_out(exc, f"no progress {doing} to {self.name}") from None
            raise

    # The receiving side is written as plain methods that return either a
    # result or the PollNeeded to wait for, and thin loops that yield it.
    # The hot path then waits in the caller's own generator: a connection
    # waiting for a response keeps no chain of nested generators (and no
    # exception) alive, which keeps the garbage collector's work per request
    # low when thousands of connections wait at once.

    def _recv_into(self, target: memoryview, doing: str) -> int | PollNeeded:
        """Receive into *target* without blocking.

        Returns:
            How many bytes were received (0: the peer closed), or the
            :class:`PollNeeded` to wait for before trying again.
        """
        sock = self._sock
        if sock is None:
            raise ConnectionClosed(self._reason or "connection is not open")
        self._reader_waits_out = False
        try:
            received = sock.recv_into(target)
        except (BlockingIOError, ssl.SSLWantReadError):
            if self._wbuf:
                # The responses we wait for may be to requests still here.
                self._try_flush()
                if self._wbuf:
                    self._reader_waits_out = True
                    return PollNeeded(self._fd, POLLIN | POLLOUT)
            return self._wait_in
        except ssl.SSLWantWriteError:  # pragma: no cover - TLS renegotiation only
            return PollNeeded(self._fd, POLLOUT)
        except OSError as exc:
            error = self._translate(exc, doing)
            if error is exc:
                raise
            if isinstance(exc, PEER_GONE_ERRORS):
                self._fail(str(error))
            raise error from exc
        if self._tracer is not None and received:
            self._tracer.received(target[:received])
        return received

    def _co_recv_into(self, target: memoryview, doing: str) -> PollCoroutine[int]:
        """Receive at least one byte into *target*; return how many (0: the peer closed)."""
        while True:
            received = self._recv_into(target, doing)
            if isinstance(received, int):
                return received
            yield received

    def _fill(self, doing: str) -> int | PollNeeded:
        """Receive more data into the buffer without blocking; see :meth:`_recv_into`."""
        rbuf = self._rbuf
        received = self._recv_into(rbuf.free_tail(), doing)
        if isinstance(received, int):
            rbuf.received(received)
        elif not rbuf.available:
            # Hold no memory while waiting for the first byte: the buffer goes
            # back to the pool, so ten thousand waiting connections share a few.
            rbuf.release()
        return received

    def _read_head(self, request: str) -> bytes | PollNeeded:
        """Read a response head up to its CRLF CRLF without blocking; consume and return it.

        Returns the :class:`PollNeeded` to wait for if the head has not
        arrived yet; call again after the wait, e.g.
        ``while not isinstance(raw := self._read_head(...), bytes): yield raw``.
        """
        rbuf = self._rbuf
        what = f"the response head to {request}"
        while True:
            size = rbuf.available
            if size:  # (an empty buffer, the usual case, is not searched)
                raw = take_delimited(rbuf, b"\r\n\r\n", what, MAX_HEADER_SIZE, HEAD_TOO_LONG, b"HTTP/")
                if raw is not None:
                    return raw
            received = self._fill(f"reading {what}")
            if not isinstance(received, int):
                return received
            if not received:
                if size:
                    raise ConnectionClosed(closed_message(rbuf, what))
                raise ConnectionClosed(f"server closed the connection without answering {request}")

    # ------------------------------------------------------------- sending

    def co_send_request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: BytesLike | BodyFollowing | None = None,
        expect100: bool = False,
    ) -> PollCoroutine[None]:
        """Send a request; its response is read later with :meth:`co_read_response`.

        Args:
            method: the request method, e.g. ``'GET'``.
            path: the request target, e.g. ``'/index.html?x=1'``: visible ASCII
                only, percent-encode the rest.
            headers: extra header fields; not modified.  Dugong adds ``Host``,
                ``Content-Length`` (or ``Transfer-Encoding: chunked``),
                ``Content-MD5`` for bytes bodies, ``Accept-Encoding:
                identity`` and ``Connection: keep-alive`` unless given.
            body: None, a bytes-like object sent with the head, or
                :class:`BodyFollowing` to send it afterwards with :meth:`write`
                (chunked when its length is None; end it with :meth:`end_body`).
            expect100: send ``Expect: 100-continue`` and wait for the server's
                go-ahead: the first :meth:`read_response` then returns the 100
                response (or the final response, which cancels the body).  Only
                with :class:`BodyFollowing`.

        Raises:
            ValueError: a value would corrupt the request (nothing was sent).
            StateError: the body of the previous request is not complete.
            ConnectionClosed: the connection was closed; call :meth:`reset`.
        """
        head, data = self._request_head(method, path, headers, body, expect100)
        if self._on_request_head is not None:
            self._on_request_head(head)
        request = (method, path)
        if self._sock is None:
            yield from self._co_open_for(request)
        else:
            if (
                not self._pending
                and self._body.kind is NO_BODY
                and time.monotonic() - self._idle_since > _IDLE_CHECK_AFTER
            ):
                self._check_idle()
            # Coalesce the head (see the module's rules) if an earlier response
            # is pending and this thread reads the responses.
            if (
                body is None
                and self._pending
                and self._reader_ident == threading.get_ident()
                and self._life not in _SENDING_ENDED
            ):
                self._pending.append(request)
                flush = self._coalesce(head)
                if self._tell:
                    self._request_sent(method, path)
                if flush:
                    yield from self.co_flush()
                return
            self._pending.append(request)
        try:
            if data is not None and len(data) <= _COALESCE_LIMIT:
                yield from self._co_send_all(head + data, f"sending {method} {path}")
            else:
                yield from self._co_send_all(head, f"sending {method} {path}")
        except BaseException:
            if self._life not in _SENDING_ENDED and self._pending and self._pending[-1] is request:
                self._pending.pop()  # not a byte was sent: withdraw the request
            raise
        if self._tell:
            self._request_sent(method, path)
        if isinstance(body, BodyFollowing):
            if body.length != 0 or expect100:
                self._upload = _Upload(request, body.length, expect100)
        elif data is not None and len(data) > _COALESCE_LIMIT:
            yield from self._co_send_all(data, f"sending the body of {method} {path}", continuing=True)

    def _request_sent(self, method: str, path: str) -> None:
        """The head of ``method path`` went to the socket or the coalescing buffer: tell the observer and the log.

        (Called only when one of them listens: the callers test that, to
        spare a call per request.)
        """
        if self._notify is not None:
            self._notify.request_sent(method, path)
        if log.isEnabledFor(_DEBUG):
            log.debug("sent %s %s to %s:%d", method, path, self.hostname, self.port)

    def _request_head(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None,
        body: BytesLike | BodyFollowing | None,
        expect100: bool,
    ) -> tuple[bytes, memoryview | None]:
        """Check that the request can be sent; return its head and the body sent with it."""
        if self._life in _SENDING_ENDED:
            raise ConnectionClosed(self._reason)
        if self._upload is not None:
            uploading = " ".join(self._upload.request)
            raise StateError(f"the body of {uploading} has not been sent completely")
        if self._target_prefix and not path.startswith("/"):
            # Appended to "http://host:port", it could change the host or port
            # the proxy connects to ("@evil.example/", ".evil.example/", "0").
            raise ValueError(f"path must start with '/' when sent through a proxy, not {path!r}")
        if body is None and not headers and not expect100:  # the common case, in short
            return _http11.request_head(method, self._target_prefix + path, host=self._host), None
        following = isinstance(body, BodyFollowing)
        if expect100 and not following:
            raise ValueError("expect100 needs body=BodyFollowing(...)")
        data = None if body is None or isinstance(body, BodyFollowing) else memoryview(body).cast("B")
        length = body.length if isinstance(body, BodyFollowing) else None
        trailers = body.trailers if isinstance(body, BodyFollowing) else ()
        head = _http11.request_head(
            method,
            self._target_prefix + path,
            host=self._host,
            headers=headers,
            body=data,
            body_length=length,
            chunked=following and length is None,
            expect100=expect100,
            trailers=trailers,
        )
        return head, data

    def _co_open_for(self, request: _Request) -> PollCoroutine[None]:
        """Open the connection for *request*, which is pending from now on.

        A reader that starts while the connection opens waits for it (see
        :meth:`_co_wait_opened`); if opening fails, the request is withdrawn.
        """
        self._life = _Life.OPENING
        self._pending.append(request)
        try:
            yield from self.co_connect()
        except BaseException:
            # Not a byte was sent: withdraw the request (unless disconnect() forgot it already).
            if self._pending and self._pending[-1] is request:
                self._pending.pop()
            raise

    def _coalesce(self, head: bytes) -> bool:
        """Add *head* to the coalesced heads; True if they reached ``_COALESCE_LIMIT`` and must be sent now.

        While the reader waits for POLLIN|POLLOUT to send these heads itself
        (see :meth:`_recv_into`), the sender must not wait for POLLOUT on the
        same socket too: reactors allow one waiter per fd and direction.  It
        then sends what the socket takes without waiting, and leaves the rest
        to the reader, which is woken as soon as the socket is writable.
        """
        self._wbuf += head
        if len(self._wbuf) < _COALESCE_LIMIT:
            return False
        if self._reader_waits_out:
            self._try_flush()
            return False
        return True

    def send_request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: BytesLike | BodyFollowing | None = None,
        expect100: bool = False,
    ) -> None:
        """Blocking twin of :meth:`co_send_request`."""
        eval_coroutine(self.co_send_request(method, path, headers, body, expect100), self.timeout)

    def _check_idle(self) -> None:
        """Before reusing a connection idle for a while: has the server closed it or sent junk?"""
        sock = self._sock
        assert sock is not None
        if isinstance(sock, ssl.SSLSocket):
            return  # TLS records (e.g. session tickets) may arrive unasked; MSG_PEEK is not allowed
        try:
            peeked = sock.recv(80, socket.MSG_PEEK)
        except BlockingIOError:
            return
        except OSError as exc:
            error = self._translate(exc, "checking the idle connection")
            if error is exc:
                raise
            self._fail(f"server reset the idle connection: {exc}; nothing was sent")
            raise ConnectionClosed(self._reason) from exc
        if not peeked:
            self._fail("server closed the idle connection; the request was not sent")
            raise ConnectionClosed(self._reason)
        self._fail("server sent data while no request was pending")
        raise InvalidResponse(f"server sent data while no request was pending: {excerpt(peeked)}")

    def co_write(self, buf: BytesLike) -> PollCoroutine[None]:
        """Send part of the request body announced with :class:`BodyFollowing`.

        With a chunked body (``BodyFollowing(None)``) each non-empty write is
        one chunk; end the body with :meth:`end_body`.  Writing ``b''`` does
        nothing, whatever the state.

        A write interrupted by a timeout (:exc:`ConnectionTimedOut`) either
        sent nothing of *buf*, and then the connection is unchanged and the
        same write can be tried again, or sent part of it, and then the
        connection is closed (the server holds half a body) and later calls
        raise :exc:`ConnectionClosed` until :meth:`reset`.

        Raises:
            StateError: no body is pending, or the 100-continue answer has not
                been read yet.
            ExcessBodyData: *buf* goes past the announced length.
            ConnectionClosed: the server closed the connection (an answer it
                sent before closing can still be read with
                :meth:`read_response`), or :meth:`disconnect` closed it.
        """
        data = memoryview(buf).cast("B")
        size = len(data)
        if not size:
            return
        upload = self._upload
        if upload is None:
            if self._life in _SENDING_ENDED or self._life is _Life.DISCONNECTED:
                raise ConnectionClosed(self._reason)
            raise StateError("no request body is pending: send_request(..., body=BodyFollowing(n)) first")
        if upload.awaiting_100:
            raise StateError(
                "the server has not answered the 100-continue expectation yet: call read_response() first"
            )
        method, path = upload.request
        doing = f"sending the body of {method} {path}"
        if upload.remaining is None:
            prefix = b"%x\r\n" % size
            try:
                if size <= _COALESCE_LIMIT:
                    yield from self._co_send_all(prefix + data + _CRLF, doing)
                else:
                    yield from self._co_send_all(prefix, doing)
                    yield from self._co_send_all(data, doing, continuing=True)
                    yield from self._co_send_all(_CRLF, doing, continuing=True)
            except ConnectionClosed:
                self._upload = None
                raise
            return
        if size > upload.remaining:
            raise ExcessBodyData(
                f"tried to write {size} bytes but only {upload.remaining} of the announced"
                f" body of {method} {path} remain"
            )
        try:
            yield from self._co_send_all(data, doing)
        except ConnectionClosed:
            self._upload = None
            raise
        upload.remaining -= size
        if upload.remaining == 0:
            self._upload = None

    def write(self, buf: BytesLike) -> None:
        """Blocking twin of :meth:`co_write`."""
        eval_coroutine(self.co_write(buf), self.timeout)

    def co_end_body(self, trailers: Mapping[str, str] | None = None) -> PollCoroutine[None]:
        """End the request body: for a chunked body, send the last chunk and *trailers*.

        For a body of known length this only checks that all of it was
        written (it ends by itself with the last byte); without a pending body
        it does nothing.

        Args:
            trailers: trailer fields to send after a chunked body (RFC 9112
                section 7.1.2), e.g. a checksum computed while the body was
                written.  Validated like header fields, and refused for
                fields that must not be trailers (RFC 9110 section 6.5.1:
                ``Content-Length``, ``Host``, ``Authorization``, ...).
                Announce them with ``BodyFollowing(None, trailers=names)``
                if the server should know in advance.

        Raises:
            ValueError: *trailers* are invalid, or given for a body that is
                not chunked (nothing was sent).
            StateError: bytes of a known-length body are still missing, the
                100-continue answer has not been read yet, or *trailers* are
                given but no chunked body is pending.
        """
        upload = self._upload
        if upload is None:
            if trailers:
                raise StateError("no chunked request body is pending: trailers were not sent")
            return
        if trailers and upload.remaining is not None:
            raise ValueError("trailers need a chunked body: send_request(..., body=BodyFollowing(None))")
        last_chunk = trailer_section(trailers)
        if upload.awaiting_100:
            raise StateError("the server has not answered the 100-continue expectation yet")
        if upload.remaining is not None:
            raise StateError(f"{upload.remaining} bytes of the request body are still to be written")
        try:
            yield from self._co_send_all(last_chunk, f"ending the body of {' '.join(upload.request)}")
        except ConnectionClosed:
            self._upload = None
            raise
        self._upload = None

    def end_body(self, trailers: Mapping[str, str] | None = None) -> None:
        """Blocking twin of :meth:`co_end_body`."""
        eval_coroutine(self.co_end_body(trailers), self.timeout)

    # ------------------------------------------------------------- reading

    def response_pending(self) -> bool:
        """True if a response (or part of its body) is still to be read."""
        return bool(self._pending) or self._body.kind is not NO_BODY or bool(self._unread)

    def co_read_response(self) -> PollCoroutine[HTTPResponse]:
        """Read the status line and header of the next response.

        Informational (1xx) responses are skipped, except the ``100
        Continue`` a request sent with ``expect100`` waits for: that one is
        returned, and the body can be written next.  If the final response
        arrives instead, the body is cancelled and the connection closes
        after this response (the server cannot know the body will not come).

        Returns:
            The response.  Read its body next (unless it has none).

        A reader may start before the sender has opened the connection (two
        coroutines or threads, as in 3.x's pipelining pattern): it then waits
        until the connection is open.

        Raises:
            StateError: the previous body is unread, no request is pending, or
                the body of this response's request is not completely sent.
            ConnectionClosed: the server closed the connection, the
                connection could not be opened, or :meth:`disconnect` closed it.
            InvalidResponse, UnsupportedResponse: the server's answer cannot
                be read safely; the connection is closed.
        """
        if self._life is _Life.OPENING:
            try:
                yield from self._co_wait_opened()
            except ConnectionTimedOut as exc:
                raise self._timed_out(exc, f"could not connect to {self._peer()}", "within") from None
        request, upload = self._next_response()
        method, path = request
        described = f"{method} {path}"
        self._reader_ident = threading.get_ident()
        try:
            if self._notify is not None and self._started is not request:
                yield from self._co_first_byte(self._notify, request, described)
            for _ in range(MAX_INFORMATIONAL_RESPONSES + 1):
                while not isinstance(raw := self._read_head(described), bytes):
                    yield raw  # the one place a connection waits for a response
                head = _http11.parse_response_head(raw)
                if head.status >= 200 or head.status == 101:
                    break
                if self._is_continue(head, request, upload):
                    return HTTPResponse(method, path, 100, head.reason, head.headers, 0)
                log.debug("skipping informational response %d to %s", head.status, described)
            else:
                raise InvalidResponse(
                    f"more than {MAX_INFORMATIONAL_RESPONSES} informational responses to {described}"
                )
            self._pending.popleft()
            if head.status == 101 or (method == "CONNECT" and head.status < 300):
                # The connection now speaks another protocol: read it with read_raw().
                self._life = _Life.SWITCHED
                self._reason = f"connection switched protocols ({head.status} to {described}); use read_raw()"
                response = HTTPResponse(method, path, head.status, head.reason, head.headers, 0)
                self._head_read(response, head.minor_version)
                return response
            framing = _http11.response_framing(method, head)
        except (InvalidResponse, UnsupportedResponse, ConnectionClosed) as exc:
            self._fail_after(exc, f"an unusable response to {described}")
            raise
        except ConnectionTimedOut as exc:  # nothing was consumed: the same read can be tried again
            raise self._timed_out(exc, f"no answer to {described} from {self.name}") from None
        response = HTTPResponse(method, path, head.status, head.reason, head.headers, framing.length)
        self._response = response
        if self._tell:
            self._head_read(response, head.minor_version)
        self._start_body(described, head, framing, cancels=upload is not None and upload.request is request)
        return response

    def _co_first_byte(self, notify: Notifier, request: _Request, described: str) -> PollCoroutine[None]:
        """Wait for the first byte of the response to *request* and tell the observer.

        Only with an observer: without one, the response head is awaited in
        :meth:`co_read_response` itself.  If the server closes instead,
        :meth:`_read_head` reports it.
        """
        rbuf = self._rbuf
        while not rbuf.available:
            received = self._fill(f"reading the response head to {described}")
            if not isinstance(received, int):
                yield received
            elif not received:
                return
        self._started = request
        notify.response_started(*request)

    def _head_read(self, response: HTTPResponse, minor_version: int) -> None:
        """The final head of *response* was read: tell the observer and the log."""
        if self._notify is not None:
            self._notify.response_head_read(response, f"HTTP/1.{minor_version}")
        if log.isEnabledFor(_DEBUG):
            log.debug(
                "%s %s to %s:%d: %d %s (HTTP/1.%d, %s)",
                response.method,
                response.path,
                self.hostname,
                self.port,
                response.status,
                response.reason,
                minor_version,
                "chunked or until close" if response.length is None else f"{response.length} bytes",
            )

    def _next_response(self) -> tuple[_Request, _Upload | None]:
        """The request whose response is next, and the body being sent, if any; or why none can be read."""
        if (self._body.kind is not NO_BODY or self._unread) and self._life not in _READING_ENDED:
            # (After the connection was lost in the middle of a body: ConnectionClosed below.)
            raise StateError("the body of the previous response has not been read completely")
        if not self._pending:
            if self._life in _READING_ENDED:
                raise ConnectionClosed(self._reason)
            raise StateError("no request is waiting for a response")
        request = self._pending[0]
        upload = self._upload
        if upload is not None and upload.request is request and not upload.awaiting_100:
            raise StateError(f"the body of {' '.join(request)} has not been sent completely")
        if self._life in _READING_ENDED:
            raise ConnectionClosed(self._reason)
        return request, upload

    def _is_continue(self, head: _http11.ResponseHead, request: _Request, upload: _Upload | None) -> bool:
        """Is *head* the ``100 Continue`` that the body of *request* waits for? Then it may be sent."""
        if head.status != 100 or upload is None or upload.request is not request or not upload.awaiting_100:
            return False
        upload.awaiting_100 = False
        if upload.remaining == 0:
            self._upload = None
        return True

    def _start_body(
        self, described: str, head: _http11.ResponseHead, framing: _http11.Framing, *, cancels: bool
    ) -> None:
        """Begin reading the body of the final response to *described*.

        *cancels*: the body of the request is still to be sent (it waited for
        ``100 Continue``): a final answer cancels it and ends the connection.
        """
        self._keep_alive = framing.keep_alive
        if not framing.keep_alive:
            self._close_reason = _close_reason(described, head, framing)
        if cancels:
            self._upload = None
            self._keep_alive = False
            self._close_reason = (
                f"the server answered {described} with {head.status} instead of 100 Continue,"
                " so its body was not sent and the connection was closed"
            )
        self._body.start(framing)
        if self._body.kind is NO_BODY:
            self._end_body()

    def read_response(self) -> HTTPResponse:
        """Blocking twin of :meth:`co_read_response`."""
        return eval_coroutine(self.co_read_response(), self.timeout)

    def _end_body(self) -> None:
        """The current response is complete."""
        response = self._response
        if response is not None:
            self._response = None
            trailers = self._body.trailers
            response.trailers = trailers if trailers is not None else NO_FIELDS
            if self._notify is not None:
                self._notify.body_finished(response.method, response.path)
        if not self._keep_alive:
            if self._pending or self._upload is not None:
                unanswered = len(self._pending)
                self._fail(
                    f"{self._close_reason}; {unanswered} more"
                    f" request{'s were' if unanswered != 1 else ' was'} not answered"
                )
            else:
                self._close_cleanly()
            return
        self._idle_since = time.monotonic()
        if not self._pending and self._upload is None:
            if self._rbuf.available:
                junk = self._rbuf.take(80)
                self._fail("server sent more data than its response announced")
                log.debug("extra data after the last response: %s", excerpt(junk))
            else:
                self._rbuf.release()

    def _co_chunk_limit(self) -> PollCoroutine[int]:
        """At the end of a chunk: the size of the next one (0: the body is complete).

        Receives until the body reader has the framing between chunks (the
        CRLF, the chunk-size line, after the last chunk the trailer section).
        """
        body, rbuf = self._body, self._rbuf
        try:
            while (size := body.next_chunk(rbuf)) is None:
                received = self._fill("reading a chunked body")
                if not isinstance(received, int):
                    yield received
                elif not received:
                    raise ConnectionClosed(body.closed(rbuf) or "")
        except (InvalidResponse, UnsupportedResponse, ConnectionClosed) as exc:
            self._fail_after(exc, "an invalid chunked body")
            raise
        except ConnectionTimedOut as exc:
            raise self._body_timed_out(exc) from None
        if not size:
            self._end_body()
        return size

    def _body_eof(self) -> None:
        """The server closed the connection while a body was being read."""
        error = self._body.closed(self._rbuf)
        if error is None:  # that ended the body
            self._keep_alive = False
            self._end_body()
            return
        self._fail(error)
        raise ConnectionClosed(error)

    def _check_not_disconnected(self) -> None:
        """At the end of a body: after :meth:`disconnect` reading is an error, as in 3.x."""
        if self._life is _Life.DISCONNECTED:
            raise ConnectionClosed(self._reason)

    def _consumed(self, size: int) -> None:
        if self._body.consumed(size):
            self._end_body()

    def co_read(self, len_: int | None = None) -> PollCoroutine[bytes]:
        """Read up to *len_* bytes of the response body (all of it if None).

        Returns:
            At least one byte, or ``b''`` only at the end of the body.

        Raises:
            ConnectionClosed: the server closed the connection in the middle
                of the body, or :meth:`disconnect` closed it.
        """
        if len_ is None:
            return (yield from self.co_readall())
        if len_ <= 0:
            return b""
        if self._unread:
            data, self._unread = self._unread[:len_], self._unread[len_:]
            return data
        limit = self._body.limit()
        if limit is None:
            limit = yield from self._co_chunk_limit()
        if not limit:
            self._check_not_disconnected()
            return b""
        rbuf = self._rbuf
        while not rbuf.available:
            received = self._fill("reading a response body")
            if not isinstance(received, int):
                try:
                    yield received
                except ConnectionTimedOut as exc:
                    raise self._body_timed_out(exc) from None
            elif not received:
                self._body_eof()
                return b""
        data = rbuf.take(min(len_, limit))
        self._consumed(len(data))
        return data

    def read(self, len_: int | None = None) -> bytes:
        """Blocking twin of :meth:`co_read`."""
        return eval_coroutine(self.co_read(len_), self.timeout)

    def co_readinto(self, buf: bytearray | memoryview) -> PollCoroutine[int]:
        """Read response body data into *buf*; return how many bytes (0: end of body).

        Once the internal buffer is drained, data is received straight into
        *buf*, without copies.
        """
        target = memoryview(buf).cast("B")
        if not len(target):
            return 0
        if self._unread:
            size = min(len(target), len(self._unread))
            target[:size] = self._unread[:size]
            self._unread = self._unread[size:]
            return size
        limit = self._body.limit()
        if limit is None:
            limit = yield from self._co_chunk_limit()
        if not limit:
            self._check_not_disconnected()
            return 0
        rbuf = self._rbuf
        if limit < len(target):
            target = target[:limit]
        if rbuf.available:
            size = rbuf.take_into(target)
        else:
            while not isinstance(received := self._recv_into(target, "reading a response body"), int):
                try:
                    yield received
                except ConnectionTimedOut as exc:
                    raise self._body_timed_out(exc) from None
            if not received:
                self._body_eof()
                return 0
            size = received
        self._consumed(size)
        return size

    def readinto(self, buf: bytearray | memoryview) -> int:
        """Blocking twin of :meth:`co_readinto`."""
        return eval_coroutine(self.co_readinto(buf), self.timeout)

    def co_readall(self) -> PollCoroutine[bytes]:
        """Read the rest of the response body and return it.

        Interrupted by :exc:`ConnectionTimedOut` (or a coroutine closed at
        its ``yield``), it keeps what it has read so far: the next read of the
        body returns it first, so calling ``readall()`` again returns the whole
        rest of the body.
        """
        rbuf = self._rbuf
        if self._body.kind is LENGTH and not self._unread:
            size = self._body.left
            if rbuf.available >= size:
                data = rbuf.take(size)
                self._body.consumed(size)  # (all of it)
                self._end_body()
                return data
        parts: list[bytes] = []
        try:
            while True:
                data = yield from self.co_read(BUFFER_SIZE)
                if not data:
                    return b"".join(parts)
                parts.append(data)
        except BaseException:
            if self._life not in _READING_ENDED:  # interrupted, not failed: a retry loses nothing
                self._unread = b"".join(parts)
            raise

    def readall(self) -> bytes:
        """Blocking twin of :meth:`co_readall`."""
        return eval_coroutine(self.co_readall(), self.timeout)

    def co_discard(self) -> PollCoroutine[None]:
        """Read and throw away the rest of the response body."""
        self._unread = b""
        scratch: bytearray | None = None
        while True:
            limit = self._body.limit()
            if limit is None:
                limit = yield from self._co_chunk_limit()
            if not limit:
                return
            rbuf = self._rbuf
            if rbuf.available:
                size = min(limit, rbuf.available)
                rbuf.skip(size)
                self._consumed(size)
                continue
            if scratch is None:
                scratch = bytearray(BUFFER_SIZE)
            size = yield from self.co_readinto(scratch)
            if not size:
                return

    def discard(self) -> None:
        """Blocking twin of :meth:`co_discard`."""
        eval_coroutine(self.co_discard(), self.timeout)

    def co_read_raw(self, size: int) -> PollCoroutine[bytes]:
        """Read up to *size* bytes from the connection, ignoring HTTP framing.

        For connections that switched protocols (``101``, or a ``CONNECT``
        tunnel).  Returns ``b''`` when the server closed the connection.
        """
        rbuf = self._rbuf
        if rbuf.available:
            return rbuf.take(size)
        target = bytearray(min(size, BUFFER_SIZE))
        try:
            received = yield from self._co_recv_into(memoryview(target), "reading raw data")
        except ConnectionTimedOut as exc:
            raise self._timed_out(exc, f"no data from {self.name}") from None
        return bytes(target[:received])

    def read_raw(self, size: int) -> bytes:
        """Blocking twin of :meth:`co_read_raw`."""
        return eval_coroutine(self.co_read_raw(size), self.timeout)

    # ------------------------------------------------- io.RawIOBase compatibility

    # Enough of io.RawIOBase for io.TextIOWrapper / io.BufferedReader to wrap us.
    # Last in the class, so that the API reference (in source order) shows the
    # requests and responses first.
    def readable(self) -> bool:
        """True: response bodies can be read."""
        return True

    def writable(self) -> bool:
        """True: request bodies can be written."""
        return True

    def seekable(self) -> bool:
        """False: a connection is a stream."""
        return False

    @property
    def name(self) -> str:
        """``host:port`` of the server, as :class:`io.TextIOWrapper` shows it."""
        return f"{self.hostname}:{self.port}"

    def isatty(self) -> bool:
        """False: a connection is not a terminal."""
        return False

    def fileno(self) -> int:
        """Not supported, as for other :mod:`io` streams without a file.

        The socket is the connection's to manage; wait for the fd that the
        coroutines name in :class:`PollNeeded` instead.

        Raises:
            io.UnsupportedOperation: always.
        """
        raise io.UnsupportedOperation("HTTPConnection has no file descriptor to share")

    def seek(self, pos: int, whence: int = 0) -> int:
        """Not supported: a connection is a stream.

        Raises:
            io.UnsupportedOperation: always.
        """
        raise io.UnsupportedOperation("HTTPConnection is not seekable")

    def tell(self) -> int:
        """Not supported: a connection is a stream.

        Raises:
            io.UnsupportedOperation: always.
        """
        raise io.UnsupportedOperation("HTTPConnection is not seekable")

    def truncate(self, size: int | None = None) -> int:
        """Not supported: a connection is a stream.

        Raises:
            io.UnsupportedOperation: always.
        """
        raise io.UnsupportedOperation("HTTPConnection cannot be truncated")

    @property
    def closed(self) -> bool:
        """Always ``False``, because a connection is never closed as an :mod:`io` stream.

        It reconnects for the next request, and an :class:`io.TextIOWrapper`
        around it must go on working after the server closed the socket at the
        end of a body.  (As in dugong 3.x.)  See :attr:`connected` for the socket.
        """
        return False

    def __repr__(self) -> str:
        state = "closed" if self._sock is None else f"fd {self._fd}"
        return f"<HTTPConnection {self.hostname}:{self.port} {state}, {len(self._pending)} pending>"
