"""HTTPConnection: one HTTP/1.1 connection, as coroutines over a non-blocking socket.

The class is made of rooms, one module each, mixins over one typed base that
declares the fields (the chain of bases is ``ConnectionState`` <
``ConnectionIO`` < ``Opener`` < ``SenderSide``, ``ReaderSide`` <
``HTTPConnection``):

==================  ===========================================================
``_conn_state``     the fields, the lifecycle (``_Life``, ``_reset``, ``_fail``),
                    socket errors made :exc:`ConnectionClosed` (``_translate``),
                    and the rules every room follows
``_conn_io``        moving bytes: sending all of a message, receiving into the
                    buffer, the coalesced heads of pipelined requests, ``flush``
``_conn_open``      opening: resolve, connect, proxy ``CONNECT`` tunnel, TLS;
                    a reader waiting for the opening
``_conn_send``      the sender side: ``send_request``, ``write``, ``end_body``
``_conn_read``      the reader side: ``read_response`` and the body reads
``_connection``     this module: the constructor, ``from_url``, ``disconnect``,
                    the TLS getters and the :mod:`io` methods
==================  ===========================================================

Each module states the rules of its room; the rules shared by the sender and
the reader (the FIFO of pending requests) are in :mod:`dugong._conn_state`,
which both see.  Method look-ups through the bases are cached per type by
CPython, so the rooms cost nothing per call (see the design notes).
"""

from __future__ import annotations

import io
import ssl
import urllib.parse
from collections import deque
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Final, Literal, TypeVar, overload

from . import _http11
from ._body import BodyReader
from ._conn_open import _host_header, _proxy_fields
from ._conn_read import ReaderSide
from ._conn_send import SenderSide
from ._conn_state import _DEBUG, _Life, log
from ._net import Resolver, check_host_name
from ._observer import ConnectionObserver, make_notifier
from ._poll import POLLIN, PollNeeded
from ._tcp import DEFAULT_CONNECT_DELAY

__all__ = ["HTTPConnection"]

# Why reading fails after disconnect(), until the next request opens the connection again.
_DISCONNECTED: Final = "the connection was closed by disconnect(); send a request to open it again"

_C = TypeVar("_C", bound="HTTPConnection")


class HTTPConnection(SenderSide, ReaderSide):
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

    # The fields are the slots of ConnectionState; a dictionary (made only
    # when used) keeps what a program or a subclass adds, as with 3.x.
    __slots__ = ("__dict__", "__weakref__")

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
        self._sock = None
        self._fd = -1
        self._nowait = 0
        self._receive_waits = False
        # What a connection waiting for a response yields, made once per socket.
        self._wait_in = PollNeeded(-1, POLLIN)
        self._tracer = None
        self._pending = deque()
        self._body = BodyReader()  # where we are in the body of the current response
        self._open_waker = None  # wakes a reader waiting for the opening
        self._open_error = ""  # why the last attempt to open the connection failed
        self._idle_since = 0.0
        self._reader_ident = 0  # the thread that last read a response
        self._started = None  # the last request told response_started
        self._reset(_Life.CLOSED, forget_requests=True)

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
    # (_Life, _reset, _fail and _translate are in _conn_state: every room uses them)

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

    def __enter__(self) -> HTTPConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()

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

    # ------------------------------------------------- io.RawIOBase compatibility

    # Enough of io.RawIOBase for io.TextIOWrapper / io.BufferedReader to wrap us.
    # Last in the class, as in the API reference (after the requests and
    # responses); ``name``, which messages use too, is in _conn_state.
    def readable(self) -> bool:
        """True: response bodies can be read."""
        return True

    def writable(self) -> bool:
        """True: request bodies can be written."""
        return True

    def seekable(self) -> bool:
        """False: a connection is a stream."""
        return False

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
