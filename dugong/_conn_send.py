"""The sender side: requests, their heads and their bodies.

The room of :class:`~dugong.HTTPConnection` that sends (the rooms are listed
in :mod:`dugong._connection`); what it shares with the reader side is in the
rules of :mod:`dugong._conn_state`.

Rules of this room
------------------
* A request interrupted after some of its bytes were sent (a timeout, a
  cancelled coroutine) leaves the server with half a message, so the
  connection is closed; interrupted before its first byte, it is withdrawn
  and the connection stays usable.
* The head of a pipelined request without a body is coalesced (see the rules
  of :mod:`dugong._conn_io`) when an earlier response is pending and this
  thread is the one that last read a response (:meth:`SenderSide._coalesce`).
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Final

from . import _http11
from ._conn_open import Opener
from ._conn_state import _DEBUG, _SENDING_ENDED, _Life, _Request, _Upload, log
from ._errors import ConnectionClosed, ExcessBodyData, InvalidResponse, StateError
from ._http11 import NO_BODY, BodyFollowing, BytesLike, excerpt
from ._poll import PollCoroutine, eval_coroutine
from ._trailers import trailer_section

# Bodies up to this size are sent in one system call with the request head;
# coalesced heads are sent when they reach it.
_COALESCE_LIMIT: Final = 16 * 1024
# A connection idle for longer than this is checked for a server-side close
# (or stray data) before a request is sent on it.
_IDLE_CHECK_AFTER: Final = 0.05
_CRLF: Final = b"\r\n"


class SenderSide(Opener):
    """Sending requests and their bodies."""

    __slots__ = ()

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
        rest = self._start_request(method, path, headers, body, expect100)
        if rest is not None:
            yield from rest

    def _start_request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None,
        body: BytesLike | BodyFollowing | None,
        expect100: bool,
    ) -> PollCoroutine[None] | None:
        """The first step of :meth:`co_send_request`, which never waits.

        Checks the request, makes its head and queues it when it is
        coalesced.  Returns None when that was all, else the coroutine that
        sends the rest (and opens the connection first if need be).
        :meth:`send_request` takes this step without a coroutine.
        """
        head, data = self._request_head(method, path, headers, body, expect100)
        if self._on_request_head is not None:
            self._on_request_head(head)
        request = (method, path)
        if self._sock is None:
            return self._co_send_head(request, head, data, body, expect100, opening=True)
        if (
            not self._pending
            and self._body.kind is NO_BODY
            and time.monotonic() - self._idle_since > _IDLE_CHECK_AFTER
        ):
            self._check_idle()
        # Coalesce the head (see the rules of _conn_io) if an earlier response
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
            return self.co_flush() if flush else None
        self._pending.append(request)
        return self._co_send_head(request, head, data, body, expect100)

    def _co_send_head(
        self,
        request: _Request,
        head: bytes,
        data: memoryview | None,
        body: BytesLike | BodyFollowing | None,
        expect100: bool,
        *,
        opening: bool = False,
    ) -> PollCoroutine[None]:
        """Send the head of *request* (pending already, unless *opening*) and a body given with it."""
        method, path = request
        if opening:
            yield from self._co_open_for(request)
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
        """Blocking twin of :meth:`co_send_request` (its first step taken without a coroutine)."""
        rest = self._start_request(method, path, headers, body, expect100)
        if rest is not None:
            eval_coroutine(rest, self.timeout)

    def _check_idle(self) -> None:
        """Before reusing a connection idle for a while: has the server closed it or sent junk?"""
        sock = self._sock
        assert sock is not None
        if isinstance(sock, ssl.SSLSocket):
            return  # TLS records (e.g. session tickets) may arrive unasked; MSG_PEEK is not allowed
        try:
            peeked = sock.recv(80, socket.MSG_PEEK | self._nowait)
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
