"""The reader side: responses and their bodies.

The room of :class:`~dugong.HTTPConnection` that reads (the rooms are listed
in :mod:`dugong._connection`); what it shares with the sender side is in the
rules of :mod:`dugong._conn_state`.

Rules of this room
------------------
* Reading is interruptible anywhere: nothing is consumed from the buffer
  until a whole head, line or body piece is there, and what ``readall``
  gathered before an interruption is kept in ``_unread`` for the next read.
* When a response ends the connection (``Connection: close``, HTTP/1.0, a
  body until close), :meth:`ReaderSide._end_body` closes it: cleanly if
  nothing else is pending, else as a failure that says how many requests
  were left unanswered.
"""

from __future__ import annotations

import threading
import time

from . import _http11
from ._buffer import BUFFER_SIZE
from ._conn_open import Opener
from ._conn_state import _DEBUG, _READING_ENDED, _Life, _Request, _Upload, log
from ._errors import ConnectionClosed, ConnectionTimedOut, InvalidResponse, StateError, UnsupportedResponse
from ._http11 import LENGTH, MAX_INFORMATIONAL_RESPONSES, NO_BODY, UNTIL_CLOSE, HTTPResponse, excerpt
from ._observer import Notifier
from ._poll import PollCoroutine, PollNeeded, eval_coroutine
from ._trailers import NO_FIELDS


def _close_reason(request: str, head: _http11.ResponseHead, framing: _http11.Framing) -> str:
    """Why the server ends the connection after its response to *request* (for messages)."""
    if framing.kind == UNTIL_CLOSE:
        return f"the server closed the connection to end its response to {request}"
    connection = ",".join(head.headers.get_all("Connection", [])).lower()
    if head.minor_version == 0 and "close" not in connection:
        return f"the server answered {request} in HTTP/1.0 without keep-alive"
    return f"the server said 'Connection: close' in its response to {request}"


class ReaderSide(Opener):
    """Reading responses and their bodies."""

    __slots__ = ()

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
        request, upload, described = self._next_response()
        if self._notify is not None and self._started is not request:
            try:
                yield from self._co_first_byte(self._notify, request, described)
            except ConnectionClosed as exc:
                self._fail_after(exc, f"an unusable response to {described}")
                raise
            except ConnectionTimedOut as exc:  # nothing was consumed: the same read can be tried again
                raise self._timed_out(exc, f"no answer to {described} from {self.name}") from None
        step = self._response_step(request, upload, described)
        if isinstance(step, HTTPResponse):
            return step
        return (yield from self._co_response(request, upload, described, step))

    def read_response(self) -> HTTPResponse:
        """Blocking twin of :meth:`co_read_response`.

        On an open connection without an observer it takes the coroutine's
        first step itself, and needs no coroutine when the head is already
        in the buffer (design notes: "Blocking methods take the first step").
        """
        if self._life is _Life.OPENING:
            # Not _eval_read: while the connection opens, the opener's read of
            # a proxy's answer to CONNECT must not wait in its receive.
            return eval_coroutine(self.co_read_response(), self.timeout)
        if self._notify is not None:
            return self._eval_read(self.co_read_response())
        request, upload, described = self._next_response()
        self._receive_waits = self.timeout is None  # (as _eval_read does for the rest)
        try:
            step = self._response_step(request, upload, described)
        finally:
            self._receive_waits = False
        if isinstance(step, HTTPResponse):
            return step
        return self._eval_read(self._co_response(request, upload, described, step))

    def _co_response(
        self, request: _Request, upload: _Upload | None, described: str, step: PollNeeded | None
    ) -> PollCoroutine[HTTPResponse]:
        """Go on from a first :meth:`_response_step` that did not give the response: wait, step again."""
        skipped = 0
        while True:
            if step is None:  # an informational response was skipped
                skipped += 1
                if skipped > MAX_INFORMATIONAL_RESPONSES:
                    error = InvalidResponse(
                        f"more than {MAX_INFORMATIONAL_RESPONSES} informational responses to {described}"
                    )
                    self._fail_after(error, f"an unusable response to {described}")
                    raise error
            else:
                try:
                    yield step  # the one place a connection waits for a response
                except ConnectionTimedOut as exc:  # nothing was consumed: the same read can be tried again
                    raise self._timed_out(exc, f"no answer to {described} from {self.name}") from None
            result = self._response_step(request, upload, described)
            if isinstance(result, HTTPResponse):
                return result
            step = result

    def _response_step(
        self, request: _Request, upload: _Upload | None, described: str
    ) -> HTTPResponse | PollNeeded | None:
        """Take the next response head from the buffer, reading what the socket has, without waiting.

        Returns:
            The response (a final one, or the ``100 Continue`` the request's
            body waits for), the :class:`PollNeeded` to wait for before
            stepping again, or None if an informational response was skipped.
        """
        method, path = request
        try:
            raw = self._read_head(described)
            if not isinstance(raw, bytes):
                return raw
            head = _http11.parse_response_head(raw)
            if head.status < 200 and head.status != 101:
                if self._is_continue(head, request, upload):
                    return HTTPResponse(method, path, 100, head.reason, head.headers, 0)
                log.debug("skipping informational response %d to %s", head.status, described)
                return None
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

    def _next_response(self) -> tuple[_Request, _Upload | None, str]:
        """The request whose response is next, the body being sent (if any) and ``"METHOD path"``.

        Raises why no response can be read now; records the thread that reads.
        """
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
        self._reader_ident = threading.get_ident()
        return request, upload, f"{request[0]} {request[1]}"

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

    def _body_timed_out(self, exc: ConnectionTimedOut) -> ConnectionTimedOut:
        response = self._response
        what = "the response" if response is None else f"the response to {response.method} {response.path}"
        return self._timed_out(exc, f"no progress receiving the body of {what} from {self.name}")

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
        return self._eval_read(self.co_read(len_))

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
        if size < len(target):
            size = self._recv_more_into(target, size, "reading a response body")
        self._consumed(size)
        return size

    def readinto(self, buf: bytearray | memoryview) -> int:
        """Blocking twin of :meth:`co_readinto`."""
        return self._eval_read(self.co_readinto(buf))

    def co_readall(self) -> PollCoroutine[bytes]:
        """Read the rest of the response body and return it.

        Interrupted by :exc:`ConnectionTimedOut` (or a coroutine closed at
        its ``yield``), it keeps what it has read so far: the next read of the
        body returns it first, so calling ``readall()`` again returns the whole
        rest of the body.
        """
        data = self._buffered_body()
        if data is not None:
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

    def _buffered_body(self) -> bytes | None:
        """The rest of a ``Content-Length`` body if the buffer holds all of it (taken), else None.

        The first step of :meth:`co_readall`, which :meth:`readall` takes
        without a coroutine.
        """
        rbuf = self._rbuf
        if self._body.kind is LENGTH and not self._unread:
            size = self._body.left
            if rbuf.available >= size:
                data = rbuf.take(size)
                self._body.consumed(size)  # (all of it)
                self._end_body()
                return data
        return None

    def readall(self) -> bytes:
        """Blocking twin of :meth:`co_readall` (its first step taken without a coroutine)."""
        data = self._buffered_body()
        if data is not None:
            return data
        return self._eval_read(self.co_readall())

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
        self._eval_read(self.co_discard())

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
        return self._eval_read(self.co_read_raw(size))
