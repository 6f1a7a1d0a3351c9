"""The engine of :class:`~dugong.Client`: per-origin queues and connection workers on a reactor.

Rules
=====

1. **One worker per connection.**  A :class:`_Worker` is one task on the
   engine's :class:`~dugong.loop.Reactor`; it takes requests from its origin's
   queue and drives two sub-coroutines of its connection, a *sender* and a
   *reader*, yielding one :class:`~dugong.PollNeeded` that merges what both wait
   for (resuming both is harmless: the coroutine contract allows early
   resumption).  The reader starts on a request only once it was completely
   sent, so it never waits for a response the server cannot send yet.
2. **Safe pipelining (RFC 9112 section 9.3.2).**  Only idempotent requests with
   a replayable body are pipelined, at most ``depth`` at a time.  A request
   that is not idempotent goes out only when nothing is in flight on its
   connection, and nothing follows it until its response is complete.
   Bodies from files, and requests with ``Expect: 100-continue``, are sent as
   one exchange on an otherwise idle connection.
3. **A response is never matched to the wrong request.**  The reader reads
   responses in the order the requests were sent and stops at the first
   failure; what follows is never read on that connection.
4. **Replay.**  When a connection closes or resets early, its unanswered
   idempotent requests go back to the front of the queue (at most
   ``max_attempts`` sends each); a request that is not idempotent is never
   sent again: its result carries :exc:`ResponseLost`.  An origin whose
   connections end after at most one response while more were in flight
   (twice) is served one request at a time per connection from then on.
5. **Deadlines and late responses.**  Each request's deadline runs from when
   it was queued; one that passes fails that request alone: queued, it is
   dropped; at the head of a connection, the connection is closed and the
   others are replayed; behind the head, its response is read and dropped.
   When the response at the head of a connection is late (``late_after``),
   the requests pipelined behind it move to another connection of the
   origin, and the slow connection closes after its head response.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Final, cast

from .._buffer import BUFFER_SIZE
from .._connection import HTTPConnection
from .._errors import ConnectionClosed, ConnectionTimedOut, InvalidResponse, UnsupportedResponse
from .._http11 import BodyFollowing, HTTPResponse
from .._log import LazyLogger
from .._poll import PollCoroutine, PollNeeded
from ..loop import Reactor, Task, TimerHandle
from ._request import Origin, Request, Result

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Engine", "RequestTimedOut", "ResponseLost"]

log: Final = LazyLogger("dugong.client")

#: Strikes (connections that ended after at most one response with more in
#: flight) after which an origin is served one request at a time.
_STRIKES_TO_STOP_PIPELINING: Final = 2


class ResponseLost(ConnectionClosed):
    """The connection ended before the response to a request that is not idempotent.

    The server may or may not have processed the request, so dugong did not
    send it again (RFC 9112 section 9.3.1).
    """


class RequestTimedOut(ConnectionTimedOut):
    """A request's deadline (:class:`~dugong.Client`'s *timeout*) passed before its response was complete."""

    def __init__(self, request: Request, seconds: float, doing: str) -> None:
        Exception.__init__(
            self, f"{request.method} {request.url}: {doing} after {seconds:g} s (the request's deadline)"
        )


class _Job:
    """A request inside the engine: its attempts, deadline and outcome."""

    __slots__ = ("request", "attempts", "strikes", "result", "deadline", "worker", "delivered", "on_done")

    def __init__(self, request: Request, on_done: Callable[[Result], None]) -> None:
        self.request = request
        self.attempts = 0  # times sent
        self.strikes = 0  # times it was the first request left unanswered by a connection that ended
        self.result: Result | None = None
        self.deadline: TimerHandle | None = None
        self.worker: _Worker | None = None
        self.delivered = False  # a piece of the body went to the request's sink
        self.on_done = on_done

    @property
    def exchange(self) -> bool:
        """Sent alone, with its body streamed after the head (a file, or Expect: 100-continue)."""
        request = self.request
        return hasattr(request.body, "read") or _expects_100(request)


def _expects_100(request: Request) -> bool:
    return any(
        n.lower() == "expect" and v.strip().lower() == "100-continue" for n, v in request.headers.items()
    )


def _merge(send: PollNeeded | None, read: PollNeeded | None) -> PollNeeded:
    """One PollNeeded that becomes ready when either of two would."""
    if read is None:
        assert send is not None
        return send
    if send is None or send.fd != read.fd:
        # (Different fds only while the reader waits for the connection to open.)
        return read
    return PollNeeded(read.fd, read.mask | send.mask)


class _OriginState:
    """The queue and the workers of one origin."""

    __slots__ = ("origin", "queue", "workers", "depth", "strikes", "one_per_connection")

    def __init__(self, origin: Origin, depth: int) -> None:
        self.origin = origin
        self.queue: deque[_Job] = deque()
        self.workers: list[_Worker] = []
        self.depth = depth
        self.strikes = 0
        self.one_per_connection = False  # the server ends connections after one response


class Engine:
    """Runs jobs over the connections of a :class:`~dugong.Client`, on one reactor."""

    def __init__(self, client: Client, reactor: Reactor) -> None:
        self.client = client
        self.reactor = reactor
        self.unfinished = 0
        #: Workers (connections) running.
        self.workers = 0
        self._origins: dict[Origin, _OriginState] = {}
        self._watchdog: TimerHandle | None = None

    # ------------------------------------------------------------ jobs

    def submit(self, request: Request, on_done: Callable[[Result], None]) -> None:
        """Fetch *request*; *on_done* gets its result (from within the reactor)."""
        job = _Job(request, on_done)
        self.unfinished += 1
        if request.delay > 0:
            self.reactor.call_later(request.delay, lambda: self._enqueue(job))
        else:
            self._enqueue(job)

    def _enqueue(self, job: _Job) -> None:
        timeout = self.client.timeout
        if timeout is not None:
            job.deadline = self.reactor.call_later(timeout, lambda: self._expire(job))
        state = self._state(job.request.origin)
        state.queue.append(job)
        self.kick(state)

    def _state(self, origin: Origin) -> _OriginState:
        state = self._origins.get(origin)
        if state is None:
            state = self._origins[origin] = _OriginState(origin, self.client.pipeline_depth)
        return state

    def finish(
        self, job: _Job, response: HTTPResponse | None, body: bytes, error: BaseException | None
    ) -> None:
        """Give *job* its one result."""
        if job.result is not None:
            return
        if error is not None:
            response, body = None, b""
        job.result = Result(job.request, response, body, error, job.attempts)
        job.worker = None
        if job.deadline is not None:
            job.deadline.cancel()
        self.unfinished -= 1
        self.client._call_hook(job.on_done, job.result)

    def fail_queue(self, state: _OriginState, error: BaseException) -> None:
        """Fail every request queued for *state*'s origin with *error* (the same object)."""
        while state.queue:
            self.finish(state.queue.popleft(), None, b"", error)

    def _expire(self, job: _Job) -> None:
        request = job.request
        seconds = self.client.timeout
        assert seconds is not None
        worker = job.worker
        doing = "still queued" if worker is None else worker.doing(job)
        error = RequestTimedOut(request, seconds, doing)
        if worker is None:
            state = self._origins[request.origin]
            if job in state.queue:
                state.queue.remove(job)
            self.finish(job, None, b"", error)
            return
        worker.expire(job, error)

    def requeue(self, state: _OriginState, jobs: Iterable[_Job]) -> None:
        """Put *jobs* back at the front of the queue, in their order."""
        for job in reversed(list(jobs)):
            job.worker = None
            if job.result is None:
                state.queue.appendleft(job)

    # ------------------------------------------------------------ workers

    def kick(self, state: _OriginState) -> None:
        """Start workers for *state* while its queue needs them and the limits allow."""
        client = self.client
        while state.queue:
            active = [w for w in state.workers if not w.late]
            room = sum(w.room() for w in active)
            if room >= len(state.queue) or len(active) >= client.connections_per_host:
                return
            if self.workers >= client.max_connections:
                return
            self._start(state)

    def _start(self, state: _OriginState) -> None:
        conn, reused = self.client._take_connection(state.origin)
        worker = _Worker(self, state, conn, reused)
        state.workers.append(worker)
        self.workers += 1
        worker.task = self.reactor.spawn(worker.co_run(), name=f"dugong.Client {state.origin.authority}")
        worker.task.add_done_callback(lambda task: self._stopped(worker, task))
        if self.client.stall_timeout is not None and self._watchdog is None:
            self._watchdog = self.reactor.call_later(self._watch_interval(), self._watch)

    def _watch_interval(self) -> float:
        assert self.client.stall_timeout is not None
        return max(0.01, min(self.client.stall_timeout / 4, 1.0))

    def _watch(self) -> None:
        """Fail the requests of connections that made no progress for ``stall_timeout`` seconds."""
        seconds = self.client.stall_timeout
        assert seconds is not None
        now = self.reactor.time()
        for state in self._origins.values():
            for worker in list(state.workers):
                if now - worker.progress_at > seconds:
                    worker.stalled(ConnectionTimedOut(seconds))
        self._watchdog = (
            self.reactor.call_later(self._watch_interval(), self._watch) if self.workers else None
        )

    def _stopped(self, worker: _Worker, task: Task[None]) -> None:
        state = worker.state
        state.workers.remove(worker)
        self.workers -= 1
        if task.cancelled():
            worker.abandon()
        elif task.exception() is not None:  # pragma: no cover - a bug
            log.error("worker for %s failed", state.origin.authority, exc_info=task.exception())
            worker.abandon()
        conn = worker.conn
        if worker.reusable():
            self.client._give_back(state.origin, conn)
        else:
            conn.disconnect()
        for other in [state, *self._origins.values()]:
            if other.queue:
                self.kick(other)

    def strike(self, state: _OriginState) -> None:
        """A connection of *state* ended after at most one response with more in flight."""
        state.strikes += 1
        if state.strikes >= _STRIKES_TO_STOP_PIPELINING and not state.one_per_connection:
            state.depth = 1
            state.one_per_connection = True
            log.info(
                "%s: the server ends connections early; sending one request per connection",
                state.origin.authority,
            )


class _Worker:
    """One connection of an origin, and the requests in flight on it."""

    def __init__(self, engine: Engine, state: _OriginState, conn: HTTPConnection, reused: bool) -> None:
        self.engine = engine
        self.state = state
        self.conn = conn
        self.reused = reused
        self.task: Task[None] | None = None
        self.inflight: deque[_Job] = deque()
        self.sent: set[_Job] = set()  # jobs of inflight sent completely
        self.late = False  # the head response is late: take nothing more
        self.retire = False  # requests were moved away: close after the head response
        self.answered = 0  # responses on the current connection
        self.broken = False  # the connection cannot be reused
        self._late_timer: TimerHandle | None = None
        self._buffer: bytearray | None = None
        self.progress_at = engine.reactor.time()  # when the task was last resumed
        # What the proxy of a plain http origin wants in each request (e.g. credentials).
        self.proxy_fields = engine.client._proxy_fields(state.origin)

    def headers_of(self, request: Request) -> Mapping[str, str]:
        """The header fields to send with *request* on this connection."""
        extra = self.proxy_fields
        if not extra:
            return request.headers
        given = {name.lower() for name in request.headers}
        return {**request.headers, **{n: v for n, v in extra.items() if n.lower() not in given}}

    def room(self) -> int:
        """How many more requests this worker would take now."""
        if self.late or self.retire:
            return 0
        return max(0, self.state.depth - len(self.inflight))

    def reusable(self) -> bool:
        """Whether the connection may go back to the pool."""
        conn = self.conn
        return not self.broken and not self.inflight and conn.connected and not conn.response_pending()

    # ------------------------------------------------------------ the task

    def co_run(self) -> PollCoroutine[None]:
        """Serve the origin's queue until it is empty; errors go into results."""
        while (yield from self._co_round()):
            self.reused = False

    def _next_job(self) -> _Job | None:
        """The next request that may go out now, taken from the queue."""
        queue, inflight = self.state.queue, self.inflight
        if not queue or self.late or self.retire:
            return None
        job = queue[0]
        if inflight:
            if len(inflight) >= self.state.depth or job.exchange or not job.request.idempotent:
                return None
            # A request that is not idempotent went out alone and nothing
            # follows it (rule 2): if there is one, it is the head.
            if not inflight[0].request.idempotent:
                return None
        queue.popleft()
        job.worker = self
        return job

    def _co_round(self) -> PollCoroutine[bool]:
        """Pipeline requests over the current connection.

        Returns:
            True to go on with a new connection (the server closed this one
            and requests are queued), False when there is nothing left to do.
        """
        sending: PollCoroutine[None] | None = None
        reading: PollCoroutine[None] | None = None
        send_wait: PollNeeded | None = None
        read_wait: PollNeeded | None = None
        send_closed = False
        try:
            while True:
                if sending is None and reading is None and not self.inflight and not send_closed:
                    job = self._next_job()
                    if job is None:
                        return False
                    if job.exchange:
                        yield from self._co_exchange(job)
                        continue
                    self.inflight.append(job)
                    sending = self._co_send(job)
                elif sending is None and not send_closed and (job := self._next_job()) is not None:
                    self.inflight.append(job)
                    sending = self._co_send(job)
                if reading is None and self.inflight and self.inflight[0] in self.sent:
                    reading = self._co_receive(self.inflight[0])
                if sending is None and reading is None:
                    if self.inflight or send_closed:
                        return self._connection_lost(ConnectionClosed("the server closed the connection"))
                    if self.retire:
                        self.broken = True
                        return False
                    continue  # the server closed after its last response: the next request reopens
                if sending is not None:
                    step = self._step_sending(sending)
                    if isinstance(step, _SendEnd):
                        sending = None
                        # After a close, the responses to what was sent may still come.
                        send_closed = send_closed or step is _SendEnd.CLOSED
                        continue
                    send_wait = step
                if reading is not None:
                    try:
                        read_wait = next(reading)
                    except StopIteration:
                        reading = None
                        continue
                    except ConnectionClosed as exc:
                        reading = None
                        return self._connection_lost(exc)
                yield _merge(
                    send_wait if sending is not None else None, read_wait if reading is not None else None
                )
                self.progress_at = self.engine.reactor.time()
        except _ConnectFailed as failed:
            self._connect_failed(failed.error)
            return False
        finally:
            if sending is not None:
                sending.close()
            if reading is not None:
                reading.close()

    def _step_sending(self, sending: PollCoroutine[None]) -> PollNeeded | _SendEnd:
        """Run *sending* to its next wait: that wait, or how the sending ended.

        A request the connection refused before its first byte (``_NotSent``)
        goes back to the origin's queue with everything in flight.
        """
        try:
            return next(sending)
        except StopIteration:
            return _SendEnd.SENT
        except _NotSent:
            unsent = list(self.inflight)
            self.inflight.clear()
            self.engine.requeue(self.state, unsent)
            return _SendEnd.SENT
        except ConnectionClosed:
            return _SendEnd.CLOSED

    # ------------------------------------------------------------ sending

    def _co_open(self, job: _Job) -> PollCoroutine[None]:
        """Open the connection if needed (it is not, while requests are in flight)."""
        conn = self.conn
        if conn.connected:
            return
        if self.answered:
            log.info(
                "%s: connection closed after %d response(s); sending the others on a new one",
                self.state.origin.authority,
                self.answered,
            )
            self.answered = 0
        conn.reset()  # (after a close the connection may still list what it was not answered)
        conn.ssl_session = self.engine.client._session_for(self.state.origin)
        try:
            yield from conn.co_connect()
        except Exception as exc:  # OSError, ssl.SSLError, HostnameNotResolvable, ProxyError, ...
            raise _ConnectFailed(exc) from exc
        self.broken = False
        self.engine.client._note_connection(self.state.origin, conn)

    def _co_send(self, job: _Job) -> PollCoroutine[None]:
        """Send *job*'s request (a head, and a bytes body if any)."""
        yield from self._co_open(job)
        request = job.request
        body = request.body
        job.attempts += 1
        self.engine.client._note_head(request)
        data = None if body is None else memoryview(body)  # type: ignore[arg-type]
        try:
            yield from self.conn.co_send_request(
                request.method, request.target, self.headers_of(request), data
            )
        except ConnectionClosed:
            if len(self.inflight) == 1 and not self.conn.response_pending():
                # The idle connection was closed by the server: not a byte was sent.
                job.attempts -= 1
                raise _NotSent from None
            raise
        self.sent.add(job)

    def _co_exchange(self, job: _Job) -> PollCoroutine[None]:
        """Send *job*'s head, its streamed body, and read the response."""
        request = job.request
        expect100 = _expects_100(request)
        headers = {n: v for n, v in self.headers_of(request).items() if n.lower() != "expect"}
        self.inflight.append(job)
        try:
            request.rewind()
            yield from self._co_open(job)
            job.attempts += 1
            self.engine.client._note_head(request)
            yield from self.conn.co_send_request(
                request.method, request.target, headers, BodyFollowing(request.body_length), expect100
            )
            self.sent.add(job)
            if expect100:
                resp = yield from self.conn.co_read_response()
                if resp.status != 100:
                    log.info("%s %s: answered before the body was sent", request.method, request.url)
                    yield from self._co_body(job, resp)
                    return
                self.engine.client._note_response(request, resp)
            try:
                yield from self._co_send_body(job)
            except ConnectionClosed as exc:
                log.info("%s %s: %s", request.method, request.url, exc)  # an answer (say 413) may be there
            resp = yield from self.conn.co_read_response()
            yield from self._co_body(job, resp)
        except (ConnectionClosed, InvalidResponse, UnsupportedResponse) as exc:
            self._connection_lost(exc)
            self.broken = True
        except OSError as exc:  # reading the body's file
            self.broken = True
            self.inflight.clear()
            self.sent.clear()
            self.conn.disconnect()  # the server holds half a body
            self.engine.finish(job, None, b"", exc)

    def _co_send_body(self, job: _Job) -> PollCoroutine[None]:
        body = job.request.body
        if not hasattr(body, "read"):  # bytes, sent after 100 Continue
            yield from self.conn.co_write(memoryview(body))  # type: ignore[arg-type]
            return
        left = job.request.body_length
        # read1() returns what a pipe has now instead of waiting for a full buffer.
        read: Callable[[int], bytes] = getattr(body, "read1", None) or getattr(body, "read")  # noqa: B009
        while left is None or left > 0:
            chunk = read(BUFFER_SIZE if left is None else min(BUFFER_SIZE, left))
            if not chunk:
                if left is not None:
                    raise OSError(
                        f"the body of {job.request.method} {job.request.url} ended {left} bytes short of its length"
                    )
                break
            yield from self.conn.co_write(chunk)
            if left is not None:
                left -= len(chunk)
        yield from self.conn.co_end_body()

    # ------------------------------------------------------------ reading

    def _co_receive(self, job: _Job) -> PollCoroutine[None]:
        engine = self.engine
        late_after = engine.client.late_after
        if late_after is not None:
            self._late_timer = engine.reactor.call_later(late_after, lambda: self._head_late(job))
        try:
            resp = yield from self.conn.co_read_response()
        except (InvalidResponse, UnsupportedResponse) as exc:
            self.inflight.popleft()
            self.broken = True
            engine.finish(job, None, b"", exc)
            raise ConnectionClosed(str(exc)) from exc
        finally:
            if self._late_timer is not None:
                self._late_timer.cancel()
                self._late_timer = None
        self.late = False
        yield from self._co_body(job, resp)

    def _co_body(self, job: _Job, resp: HTTPResponse) -> PollCoroutine[None]:
        """Read the body of *resp*, the response to *job* (the head of the connection)."""
        engine = self.engine
        assert resp.path == job.request.target and resp.method == job.request.method, (
            resp,
            job.request,
            list(self.inflight),
        )
        if not self.answered:
            engine.client._note_answer(self.state.origin, self.conn)  # while the socket is open
        if job.result is None:
            engine.client._note_response(job.request, resp)
        sink = job.request.sink
        body = b""
        try:
            if job.result is not None:
                yield from self.conn.co_discard()  # its deadline passed: nobody wants it
            elif sink is None:
                body = yield from self.conn.co_readall()
            else:
                write = cast("Callable[[memoryview], object]", getattr(sink, "write", sink))
                if self._buffer is None:
                    self._buffer = bytearray(BUFFER_SIZE)
                view = memoryview(self._buffer)
                while n := (yield from self.conn.co_readinto(view)):
                    job.delivered = True
                    write(view[:n])
        except (InvalidResponse, UnsupportedResponse) as exc:
            self.inflight.popleft()
            self.broken = True
            engine.finish(job, None, b"", exc)
            raise ConnectionClosed(str(exc)) from exc
        self.inflight.popleft()
        self.sent.discard(job)
        self.answered += 1
        engine.finish(job, resp, body, None)
        if self.retire:
            self.broken = True
        elif self.state.one_per_connection and not self.inflight:
            self.conn.disconnect()  # the server would close it: do not send the next request there
            self.answered = 0

    # ------------------------------------------------------------ trouble

    def _connection_lost(self, exc: ConnectionClosed | InvalidResponse | UnsupportedResponse) -> bool:
        """The connection ended early: replay what may be replayed, fail the rest.

        Returns:
            True to go on with a new connection.
        """
        engine, state = self.engine, self.state
        self.broken = True
        unanswered = [job for job in self.inflight if job.result is None]
        self.inflight.clear()
        self.sent.clear()
        if self.answered <= 1 and unanswered:
            engine.strike(state)
        max_attempts = engine.client.max_attempts
        if unanswered:
            # The server could have answered this one and did not; those
            # behind it were merely not reached, which is no reason to give up.
            unanswered[0].strikes += 1
        replay = []
        for job in unanswered:
            request = job.request
            if not request.idempotent:
                error: BaseException = ResponseLost(
                    f"{request.method} {request.url}: the connection ended before the response"
                    f" ({exc}); the server may or may not have processed the request, so it was not sent again"
                )
                engine.finish(job, None, b"", error)
            elif job.delivered:
                engine.finish(job, None, b"", exc)
            elif job.strikes >= max_attempts:
                engine.finish(job, None, b"", exc)
            else:
                replay.append(job)
        engine.requeue(state, replay)
        if self.retire:
            return False
        if state.queue:
            log.info(
                "%s: connection closed after %d response(s); sending the others on a new one",
                state.origin.authority,
                self.answered,
            )
            self.answered = 0
        return bool(state.queue)

    def _connect_failed(self, error: BaseException) -> None:
        """The connection could not be opened: its requests, and those queued, fail."""
        self.broken = True
        engine = self.engine
        for job in self.inflight:
            engine.finish(job, None, b"", error)
        self.inflight.clear()
        engine.fail_queue(self.state, error)

    def _head_late(self, job: _Job) -> None:
        """The response to *job* is late: move the requests behind it to another connection."""
        self._late_timer = None
        self.late = True
        behind = [j for j in list(self.inflight)[1:] if j.result is None and j.request.idempotent]
        movable = behind
        if movable:
            self.retire = True
            for moved in movable:
                self.inflight.remove(moved)
                self.sent.discard(moved)
            log.info(
                "%s: the response to %s %s is late; %d request(s) move to another connection",
                self.state.origin.authority,
                job.request.method,
                job.request.url,
                len(movable),
            )
            self.engine.requeue(self.state, movable)
        self.engine.kick(self.state)

    def expire(self, job: _Job, error: ConnectionTimedOut) -> None:
        """*job*'s deadline passed while it was on this connection."""
        at_head = bool(self.inflight) and self.inflight[0] is job
        self.engine.finish(job, None, b"", error)
        if at_head or job not in self.inflight:
            # Connecting, sending or waiting for its response: only closing stops that.
            self.broken = True
            if self.task is not None:
                self.task.cancel()

    def doing(self, job: _Job) -> str:
        """What *job* waits for on this connection (for messages)."""
        if not self.conn.connected and job in self.inflight and not self.sent:
            return "not connected"
        if job not in self.sent:
            return "not sent completely"
        return "no complete response"

    def stalled(self, error: ConnectionTimedOut) -> None:
        """No progress for too long: fail what is in flight and queued for the origin."""
        self.broken = True
        for job in self.inflight:
            self.engine.finish(job, None, b"", error)
        self.inflight.clear()
        self.engine.fail_queue(self.state, error)
        if self.task is not None:
            self.task.cancel()

    def abandon(self) -> None:
        """The task was cancelled: replay what may be replayed."""
        self.broken = True
        if self.inflight:
            self._connection_lost(ConnectionClosed("the connection was closed (a request's deadline passed)"))
        if self.state.queue:
            self.engine.reactor.call_soon(lambda: self.engine.kick(self.state))


class _SendEnd(Enum):
    """How a worker's sending coroutine ended (see :meth:`_Worker._step_sending`)."""

    SENT = "the request went out, or went back to the queue"
    CLOSED = "the connection closed while sending"


class _NotSent(Exception):
    """The server had closed the idle connection: the request was not sent."""


class _ConnectFailed(Exception):
    """The connection could not be opened (carries the reason)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error
