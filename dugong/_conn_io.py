"""Moving bytes: sending all of a message, receiving into the buffer, the coalesced heads.

The room of :class:`~dugong.HTTPConnection` below the opening, sender and
reader rooms: they all send with :meth:`ConnectionIO._co_send_all` and receive
with :meth:`ConnectionIO._fill` (the rooms are listed in
:mod:`dugong._connection`).

Rules of this room
------------------
* Heads of pipelined requests without a body are coalesced: when an earlier
  response is still pending and the thread sending is the one that last read
  a response, the sender side puts the head into ``_wbuf`` instead of the
  socket (``_coalesce``).  That buffer is sent before any other byte, when it
  reaches ``_COALESCE_LIMIT`` (in the sender side), by :meth:`flush`, and by
  every read that would otherwise wait (without blocking: a read then waits
  for POLLIN|POLLOUT until the buffer is out, so a full socket cannot
  deadlock it).  All of this happens in one thread, so the two-thread
  pattern, where another thread reads, never buffers.
* The receiving side is written as plain methods that return either a result
  or the :class:`PollNeeded` to wait for, and thin loops that yield it.  The
  hot path then waits in the caller's own generator: a connection waiting for
  a response keeps no chain of nested generators (and no exception) alive,
  which keeps the garbage collector's work per request low when thousands of
  connections wait at once.
* A plain socket is left in blocking mode once open, and every send or
  receive that must not wait says so with ``MSG_DONTWAIT`` (``_nowait``).
  A blocking read without a timeout then waits in its receive, one system
  call, instead of a receive that fails, a ``poll`` and a receive again
  (:meth:`ConnectionIO._eval_read`; design notes, "A blocking read waits in
  its receive").  TLS sockets take no flags: they stay non-blocking, and a
  waiting receive makes its socket blocking for that one call.
"""

from __future__ import annotations

import socket
import ssl
from typing import Final, TypeVar

from ._body import HEAD_TOO_LONG, closed_message, take_delimited
from ._conn_state import _SENDING_ENDED, ConnectionState, _Life
from ._errors import ConnectionClosed, ConnectionTimedOut
from ._http11 import MAX_HEADER_SIZE, BytesLike
from ._net import PEER_GONE_ERRORS
from ._poll import POLLIN, POLLOUT, PollCoroutine, PollNeeded, eval_coroutine

_T = TypeVar("_T")

#: The flag that makes one send or receive on a blocking socket not wait; 0
#: where there is none (Windows), and plain sockets then stay non-blocking.
MSG_DONTWAIT: Final[int] = getattr(socket, "MSG_DONTWAIT", 0)


class ConnectionIO(ConnectionState):
    """Sending and receiving bytes on the connection's socket."""

    __slots__ = ()

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
            sent = sock.send(self._wbuf, self._nowait)
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            return
        except PEER_GONE_ERRORS as exc:
            # Sending ends; the reader finds out from the socket, where an answer may still be.
            self._translate(exc, "sending pipelined requests")
            return
        if self._tracer is not None:
            self._tracer.sent(memoryview(self._wbuf)[:sent])
        del self._wbuf[:sent]

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
                    sent += sock.send(view[sent:] if sent else view, self._nowait)
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
            if self._receive_waits and not self._wbuf:  # (coalesced heads must go out first)
                received = self._receive_waiting(sock, target)
            elif self._nowait:
                received = sock.recv_into(target, 0, self._nowait)
            else:  # (SSLSocket.recv_into takes no flags, and would read 0 bytes if given nbytes=0)
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

    def _eval_read(self, crt: PollCoroutine[_T]) -> _T:
        """Run the reader's coroutine *crt* for a blocking method: ``eval_coroutine(crt, self.timeout)``.

        Without a timeout its receives wait in the kernel instead of yielding
        :class:`PollNeeded` (``_receive_waits`` is set while it runs): one
        system call per wait instead of three.  It is the same code, resumed
        by the kernel instead of by ``poll``.
        """
        timeout = self.timeout
        self._receive_waits = timeout is None
        try:
            return eval_coroutine(crt, timeout)
        finally:
            self._receive_waits = False

    def _receive_waiting(self, sock: socket.socket, target: memoryview) -> int:
        """Receive into *target*, waiting in the kernel until something arrives.

        A plain socket is in blocking mode already.  A TLS socket, which takes
        no ``MSG_DONTWAIT``, is put in blocking mode for this one receive (two
        ``ioctl`` calls, cheaper than the ``SSLWantReadError``, ``poll`` and
        second receive they replace).
        """
        if self._nowait:
            return sock.recv_into(target)
        sock.settimeout(None)
        try:
            return sock.recv_into(target)
        finally:
            sock.settimeout(0.0)

    def _recv_more_into(self, target: memoryview, size: int, doing: str) -> int:
        """After *size* bytes went into *target*, add what else has arrived, without waiting.

        Returns how many bytes *target* holds now.  Only over TLS, where one
        receive returns at most one TLS record (16 KiB) however much is there:
        a large read then takes every record that has arrived in one call, not
        one record per call (design notes, "Filling a large read over TLS").
        On plain TCP one receive already returns all that the kernel holds,
        so another would only cost a system call that finds nothing.

        Stops when *target* is full, when nothing more has arrived, and at the
        end of input (the next receive sees it again).  An error is raised at
        once, the bytes of this call with it: the connection is lost anyway.
        """
        if not isinstance(self._sock, ssl.SSLSocket):
            return size
        end = len(target)
        while size < end:
            received = self._recv_into(target[size:], doing)
            if not isinstance(received, int):
                self._reader_waits_out = False  # (it returns what it has instead of waiting)
                break
            if not received:
                break
            size += received
        return size

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
