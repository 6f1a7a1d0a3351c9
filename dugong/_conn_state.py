"""The state every room of :class:`~dugong.HTTPConnection` shares, and its lifecycle.

:class:`ConnectionState` declares the connection's fields once (for the type
checker; ``HTTPConnection.__init__`` and :meth:`~ConnectionState._reset` set
them) and holds what every room uses: the lifecycle, the one reset, and the
translation of socket errors.  The rooms are listed in
:mod:`dugong._connection`.

Rules of every room
-------------------
* Every operation is written once, as a ``co_*`` generator that yields
  :class:`PollNeeded` when the socket would block.  The blocking method of the
  same name is ``eval_coroutine(self.co_x(...), self.timeout)``.
* The sender side (``send_request``, ``write``, ``end_body``) and the reader
  side (``read_response`` and the body reads) share only the FIFO of requests
  awaiting a response (``_pending``) and the state of a pending ``Expect:
  100-continue`` (``_upload``).  That is what makes "one thread sends,
  another reads" safe.  A request is appended to the FIFO *before* its first
  byte is sent, so a response can never arrive for a request the reader does
  not know about.
* The connection's lifecycle is one :class:`_Life` with one reason string,
  and every field returns to its starting value in one place (:meth:`_reset`).
  Socket and TLS errors become :exc:`ConnectionClosed` in one place
  (:meth:`_translate`), called from every ``except`` that sees them.  A
  response that cannot be framed safely raises
  :exc:`InvalidResponse`/:exc:`UnsupportedResponse` and closes the socket
  (:meth:`_fail`): a connection that saw a protocol error is never reused.
* The wire format is :mod:`dugong._http11` (request heads, response heads,
  framing) and :mod:`dugong._body` (taking heads, chunk framing and bodies
  from the receive buffer); the rooms hold only what needs the socket.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable
from enum import IntEnum
from typing import Final, TypeAlias

from ._body import BodyReader
from ._buffer import ReceiveBuffer
from ._errors import ConnectionClosed, ConnectionTimedOut, InvalidResponse, UnsupportedResponse, network_error
from ._http11 import HTTPResponse
from ._log import DEBUG, LazyLogger
from ._net import PEER_GONE_ERRORS, Resolver, Waker
from ._observer import ConnectionObserver, Notifier
from ._poll import PollNeeded
from ._trace import Tracer

log = LazyLogger("dugong")
_DEBUG: Final = DEBUG

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


class ConnectionState:
    """The fields of a connection, and what every room of it uses.

    The base of the rooms (see :mod:`dugong._connection`); not used alone.
    Every field is a slot (``__slots__`` is made from the declarations below):
    more than 30 attributes in an instance dictionary would cost each
    connection its own key table (design notes, "The connection's fields
    are slots").
    """

    # Set by the constructor (the public ones are documented there).
    hostname: str
    port: int
    ssl_context: ssl.SSLContext | None
    proxy: tuple[str, int] | None
    timeout: float | None
    happy_eyeballs_delay: float
    ssl_session: ssl.SSLSession | None
    _resolver: Resolver | None
    _observer: ConnectionObserver | None
    _notify: Notifier | None  # None when nobody listens (see make_notifier)
    _proxy_fields: list[tuple[str, str]]  # sent with CONNECT
    _on_request_head: Callable[[bytes], object] | None
    _host: str  # the Host header
    _target_prefix: str  # before each path: "http://host:port" through a proxy, else ""
    # The socket, and what the opening room sets with it.
    _sock: socket.socket | None
    _fd: int
    _wait_in: PollNeeded  # what a connection waiting for a response yields
    # Flags of a send or receive that must not wait: MSG_DONTWAIT on a plain
    # socket, which is left in blocking mode, 0 on a non-blocking (TLS) one.
    _nowait: int
    # A blocking read without a timeout runs: its receives wait in the kernel
    # (see ConnectionIO._eval_read).
    _receive_waits: bool
    _tracer: Tracer | None
    _tell: bool  # an observer or the DEBUG log listens to per-request events
    _open_waker: Waker | None  # wakes a reader waiting for the opening
    _open_error: str  # why the last attempt to open the connection failed
    _idle_since: float  # when the connection last became idle (see _check_idle)
    # Shared by the sender and the reader (see the rules above).
    _pending: deque[_Request]  # requests awaiting a response, in order
    _upload: _Upload | None  # the body being sent with write()
    _reader_ident: int  # the thread that last read a response
    _wbuf: bytearray  # coalesced heads of pipelined requests, not yet sent
    _reader_waits_out: bool  # the reader waits for POLLIN|POLLOUT (see _coalesce)
    # The lifecycle.
    _life: _Life
    _reason: str
    # The reader side.
    _rbuf: ReceiveBuffer
    _body: BodyReader  # where we are in the body of the current response
    _response: HTTPResponse | None  # the response whose body is being read
    _keep_alive: bool
    _close_reason: str  # why the server ends the connection after this response
    _unread: bytes  # body bytes that a readall() took before it was interrupted
    _started: _Request | None  # the last request told response_started
    # Every field declared above, and nothing else, is a slot.
    __slots__ = tuple(__annotations__)

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
        self._upload = None
        self._reader_waits_out = False  # the reader waits for POLLIN|POLLOUT (see _coalesce)
        self._keep_alive = True
        self._close_reason = ""  # why the server ends the connection after this response
        self._response = None  # the response whose body is being read
        if forget_requests:
            self._pending.clear()
            self._body.reset()
            # Body bytes that a readall() took before it was interrupted: read first.
            self._unread = b""
            with _OPENING_LOCK:
                waker, self._open_waker = self._open_waker, None
            if waker is not None:
                waker.close()

    def _close_socket(self, reason: str) -> None:
        if self._sock is not None:
            log.debug("closing connection to %s:%d (fd %d)", self.hostname, self.port, self._fd)
            self._sock.close()
            self._sock, self._fd = None, -1
            self._nowait = 0
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

    @property
    def name(self) -> str:
        """``host:port`` of the server, as :class:`io.TextIOWrapper` shows it."""
        return f"{self.hostname}:{self.port}"
