"""dugong.Client: many requests to many hosts, pipelined safely (see ``_engine`` for how)."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Final, TypeAlias

from .._connection import HTTPConnection
from .._http11 import HTTPResponse
from .._net import Resolver, Waker
from .._observer import ConnectionObserver
from .._poll import POLLIN, PollCoroutine, PollNeeded
from ..loop import Reactor
from ._engine import Engine
from ._request import Origin, Proxy, Request, Result

__all__ = ["Client", "ProxyChooser"]

#: A proxy ``(host, port)`` (or a :class:`Proxy`, with its header fields) for
#: each origin, or None to connect directly.
ProxyChooser: TypeAlias = Callable[[Origin], tuple[str, int] | Proxy | None]
#: Called with each result as it arrives; returns requests to fetch too (or None).
ResultHandler: TypeAlias = Callable[[Result], Iterable[Request] | None]

_DEFAULT_CONNECTIONS_PER_HOST: Final = 6
_DEFAULT_MAX_CONNECTIONS: Final = 100
_DEFAULT_PIPELINE_DEPTH: Final = 16


class Client:
    """Fetches many requests from many hosts: pipelined where safe, hosts concurrently.

    Requests to one origin share up to *connections_per_host* connections,
    each carrying up to *pipeline_depth* idempotent requests ahead of their
    responses (RFC 9112 section 9.3.2); requests that are not idempotent go
    one at a time.  Requests left unanswered when a server closes or resets a
    connection are sent again on a new one (up to *max_attempts* times),
    except those that are not idempotent: their :class:`Result` carries
    :exc:`ResponseLost`.  Connections are kept for reuse between calls, and
    TLS sessions are resumed on new connections to the same origin.

    A client is used from one thread at a time.

    Args:
        ssl_context: the TLS context for https URLs (default:
            :func:`ssl.create_default_context`).
        connections_per_host: connections per origin at the same time.
        max_connections: connections in all at the same time.
        pipeline_depth: requests sent ahead of their responses per connection.
        timeout: each request's deadline in seconds, counted from when it is
            handed to the client (or from the end of its :attr:`Request.delay`)
            and covering the connection, the request and the whole response;
            None for none.  A request whose deadline passes fails alone with
            :exc:`RequestTimedOut`.
        proxy: an HTTP proxy ``(host, port)`` or :class:`Proxy` (with the
            header fields it wants, e.g. credentials) for every origin, or a
            function choosing one (or None) per :class:`Origin`.
        resolver: the host name resolver (default: the system's).
        max_attempts: how often a request may be sent in all (at least 1).
        late_after: seconds after which the response at the head of a
            connection is late: the requests behind it move to another
            connection of the origin.  None never moves them.
        idle_timeout: seconds an idle connection is kept for reuse.
        stall_timeout: seconds a connection may make no progress at all while
            requests wait on it; then they, and the requests queued for that
            origin, fail with :exc:`ConnectionTimedOut`.  None for no limit.
        on_request_head: called with the request and the bytes of its head as
            the connection sends them (e.g. to show them).
        on_response: called with the request and each response head (a
            ``100 Continue`` too, then the final one), before its body is read.
            What a hook raises does not stop the other requests:
            :meth:`fetch_all` raises it at the end.
        observer: given to every connection the client opens, to be told of
            their lifecycle events (see :class:`ConnectionObserver`).
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        connections_per_host: int = _DEFAULT_CONNECTIONS_PER_HOST,
        max_connections: int = _DEFAULT_MAX_CONNECTIONS,
        pipeline_depth: int = _DEFAULT_PIPELINE_DEPTH,
        timeout: float | None = None,
        proxy: tuple[str, int] | Proxy | ProxyChooser | None = None,
        resolver: Resolver | None = None,
        max_attempts: int = 3,
        late_after: float | None = 1.0,
        idle_timeout: float = 30.0,
        stall_timeout: float | None = None,
        on_request_head: Callable[[Request, bytes], object] | None = None,
        on_response: Callable[[Request, HTTPResponse], object] | None = None,
        observer: ConnectionObserver | None = None,
    ) -> None:
        for name, value in (
            ("connections_per_host", connections_per_host),
            ("max_connections", max_connections),
            ("pipeline_depth", pipeline_depth),
            ("max_attempts", max_attempts),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        self._ssl_context = ssl_context
        #: Connections per origin.
        self.connections_per_host = connections_per_host
        #: Connections in all.
        self.max_connections = max_connections
        #: Requests in flight per connection.
        self.pipeline_depth = pipeline_depth
        #: Each request's deadline in seconds, or None.
        self.timeout = timeout
        #: How often a request may be sent.
        self.max_attempts = max_attempts
        #: Seconds after which a head-of-line response is late, or None.
        self.late_after = late_after
        #: Seconds an idle connection is kept.
        self.idle_timeout = idle_timeout
        #: Seconds without progress after which a connection's requests fail, or None.
        self.stall_timeout = stall_timeout
        #: Connections opened so far.
        self.connections_opened = 0
        self._proxy = proxy
        self._resolver = resolver
        self._on_request_head = on_request_head
        self._on_response = on_response
        self._observer = observer
        self._sending: Request | None = None  # whose head the next on_request_head call shows
        self._hook_error: Exception | None = None  # the first a hook raised (see _call_hook)
        self._idle: dict[Origin, list[tuple[HTTPConnection, float]]] = {}
        self._sessions: dict[Origin, ssl.SSLSession] = {}

    # ------------------------------------------------------------ fetching

    def fetch_all(
        self,
        requests: Iterable[Request],
        *,
        return_exceptions: bool = False,
        on_result: ResultHandler | None = None,
    ) -> list[Result]:
        """Fetch *requests*, on a reactor of its own; return their results in the same order.

        Args:
            requests: what to fetch.
            return_exceptions: give failed requests a :class:`Result` with
                :attr:`~Result.error` instead of raising.
            on_result: called with each result as it arrives (from within the
                reactor); the requests it returns are fetched too, and their
                results go to *on_result* as well, not into the list.  If it
                (or the client's ``on_request_head`` or ``on_response``)
                raises, the other requests go on, and the first such exception
                is raised once every request has its result.

        Returns:
            One result per request, in the order of *requests*.

        Raises:
            Exception: what a hook raised first, once all are done; else,
                without *return_exceptions*, the error of the first failed
                request (in the order given).
        """
        with Reactor() as reactor:
            engine = Engine(self, reactor)
            results = self._submit(engine, requests, on_result)
            while engine.unfinished or engine.workers:
                reactor.run_once()
        self._raise_hook_error()
        return _outcome(results, return_exceptions)

    def co_fetch_all(
        self,
        requests: Iterable[Request],
        *,
        return_exceptions: bool = False,
        on_result: ResultHandler | None = None,
    ) -> PollCoroutine[list[Result]]:
        """The coroutine form of :meth:`fetch_all`, to run on any reactor.

        It drives a private :class:`~dugong.loop.Reactor` and yields a
        :class:`~dugong.PollNeeded` for that reactor's fd, so it runs as a task
        of :mod:`dugong.loop`, under asyncio (:class:`~dugong.AioFuture`) and
        trio (:func:`~dugong.run_async`).  Closing it closes the connections
        it was using.
        """
        reactor = Reactor()
        alarm = _Alarm(reactor)
        try:
            engine = Engine(self, reactor)
            results = self._submit(engine, requests, on_result)
            wait = PollNeeded(reactor.fileno(), POLLIN)
            while engine.unfinished or engine.workers:
                timeout = reactor.next_timeout()
                if timeout != 0:
                    alarm.set(timeout)
                    yield wait
                reactor.run_once(0)
        finally:
            alarm.close()
            reactor.close()
        self._raise_hook_error()
        return _outcome(results, return_exceptions)

    def co_fetch(self, request: Request, *, return_exceptions: bool = False) -> PollCoroutine[Result]:
        """Fetch one request, as a coroutine (see :meth:`co_fetch_all`).

        Requests fetched by concurrent ``co_fetch`` calls share the client's
        idle connections and TLS sessions, but are not pipelined together:
        give requests to one :meth:`co_fetch_all` for that.

        Raises:
            Exception: the request's error, unless *return_exceptions*.
        """
        results = yield from self.co_fetch_all([request], return_exceptions=return_exceptions)
        return results[0]

    def _submit(
        self, engine: Engine, requests: Iterable[Request], on_result: ResultHandler | None
    ) -> list[Result | None]:
        results: list[Result | None] = []

        def follow(result: Result) -> None:
            more = on_result(result) if on_result is not None else None
            for request in more or ():
                engine.submit(request, follow)

        for index, request in enumerate(requests):
            results.append(None)

            def done(result: Result, index: int = index) -> None:
                results[index] = result
                follow(result)

            engine.submit(request, done)
        return results

    # ------------------------------------------------------------ connections

    def _take_connection(self, origin: Origin) -> tuple[HTTPConnection, bool]:
        """An idle connection to *origin* (idle for at most :attr:`idle_timeout`), or a new one; and whether it is reused.

        (The fields that the proxy of a plain http origin wants go into each
        request: see ``_proxy_fields``.)
        """
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn, since = idle.pop()
            if now - since <= self.idle_timeout:
                return conn, True
            conn.disconnect()
        tls = None
        if origin.scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = ssl.create_default_context()
            tls = self._ssl_context
        proxy = self._proxy_of(origin)
        conn = HTTPConnection(
            origin.host,
            origin.port,
            tls,
            proxy[:2] if proxy is not None else None,
            resolver=self._resolver,
            on_request_head=self._head_sent,
            observer=self._observer,
            proxy_headers=proxy.headers if proxy is not None and tls is not None else None,
        )
        return conn, False

    def _proxy_of(self, origin: Origin) -> Proxy | None:
        chosen = self._proxy(origin) if callable(self._proxy) else self._proxy
        return None if chosen is None else Proxy(*chosen)

    def _proxy_fields(self, origin: Origin) -> Mapping[str, str] | None:
        """The fields to add to each request of a plain http *origin* for its proxy, if any."""
        if origin.scheme != "http":
            return None
        proxy = self._proxy_of(origin)
        return proxy.headers if proxy is not None else None

    def _give_back(self, origin: Origin, conn: HTTPConnection) -> None:
        """Keep *conn*, idle, for the next request to *origin* (if there is room)."""
        idle = self._idle.setdefault(origin, [])
        if len(idle) < self.connections_per_host:
            idle.append((conn, time.monotonic()))
        else:
            conn.disconnect()

    def _session_for(self, origin: Origin) -> ssl.SSLSession | None:
        """The TLS session to resume on a new connection to *origin*."""
        return self._sessions.get(origin)

    def _note_connection(self, origin: Origin, conn: HTTPConnection) -> None:
        """A connection to *origin* was opened."""
        self.connections_opened += 1

    def _note_answer(self, origin: Origin, conn: HTTPConnection) -> None:
        """The first response arrived on *conn*: keep its TLS session (tickets come after the handshake)."""
        session = conn.get_ssl_session()
        if session is not None:
            self._sessions[origin] = session

    def _note_head(self, request: Request) -> None:
        """*request*'s head is sent next."""
        self._sending = request

    def _head_sent(self, head: bytes) -> None:
        if self._on_request_head is not None and self._sending is not None:
            self._call_hook(self._on_request_head, self._sending, head)

    def _note_response(self, request: Request, response: HTTPResponse) -> None:
        """*response* to *request* arrived (its body is next)."""
        if self._on_response is not None:
            self._call_hook(self._on_response, request, response)

    def _call_hook(self, hook: Callable[..., object], *args: object) -> None:
        """Call the program's *hook* (``on_request_head``, ``on_response``, ``on_result``).

        What it raises must not break a connection in the middle of an
        exchange: the first such exception is kept, the requests go on, and
        :meth:`fetch_all` raises it once every request has its result.
        """
        try:
            hook(*args)
        except Exception as exc:
            if self._hook_error is None:
                self._hook_error = exc

    def _raise_hook_error(self) -> None:
        error, self._hook_error = self._hook_error, None
        if error is not None:
            raise error

    def close(self) -> None:
        """Close the idle connections and forget the TLS sessions."""
        for idle in self._idle.values():
            for conn, _ in idle:
                conn.disconnect()
        self._idle.clear()
        self._sessions.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        idle = sum(len(v) for v in self._idle.values())
        return f"<Client {idle} idle connection(s), {self.connections_opened} opened>"


def _outcome(results: Sequence[Result | None], return_exceptions: bool) -> list[Result]:
    done = [result for result in results if result is not None]
    assert len(done) == len(results), "a request ended without a result"
    if not return_exceptions:
        for result in done:
            if result.error is not None:
                raise result.error
    return done


class _Alarm:
    """Makes a reactor's own fd readable after a delay (for its timers, when it is embedded).

    A coroutine can only wait for an fd; a timer thread pokes a socket pair
    that the reactor watches.  Only the earliest time matters, so a thread
    is started only when the alarm must ring sooner than it is set to.
    """

    def __init__(self, reactor: Reactor) -> None:
        self._reactor = reactor
        self._waker = Waker()
        self._timer: threading.Timer | None = None
        self._due = float("inf")
        reactor.add_reader(self._waker.fd, self._rang)

    def set(self, delay: float | None) -> None:
        """Ring in *delay* seconds (None: no need)."""
        if delay is None:
            return
        due = self._reactor.time() + delay
        if due >= self._due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._due = due
        self._timer = threading.Timer(delay, self._waker.notify)
        self._timer.daemon = True
        self._timer.start()

    def _rang(self) -> None:
        self._waker.drain()
        self._due = float("inf")

    def close(self) -> None:
        """Stop the timer and close the socket pair."""
        if self._timer is not None:
            self._timer.cancel()
        if not self._reactor.is_closed():
            self._reactor.remove_reader(self._waker.fd)
        self._waker.close()
