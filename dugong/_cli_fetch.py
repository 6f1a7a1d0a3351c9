"""The engine of ``dugong get`` and ``dugong demo``: many URLs, pipelined, on one reactor.

The URLs are grouped by ``(scheme, host, port)``.  Each group is a
:class:`HostJob`: one task on a :class:`~dugong.loop.Reactor`, one connection
at a time.  At most ``max_connections`` jobs run at once.

How a job pipelines
-------------------
A job's coroutine drives two sub-coroutines of its own connection, a *sender*
(``co_send_request`` of the next URL) and a *reader* (``co_read_response`` and
the body of the oldest unanswered URL), and yields one :class:`PollNeeded`
that merges what both wait for.  When it is resumed it resumes both: one of
them may have been resumed early, which the coroutine contract allows.  Doing
this in one task rather than two keeps the rules simple, since nothing has to
wake a task that waits for the other one:

* the sender runs while fewer than ``pipeline_depth`` requests are unanswered;
* the reader starts on a response only once its request was completely sent,
  so it never waits for a response the server cannot send yet.

When the server closes the connection after answering some of the requests
(``Connection: close``, or a limit of requests per connection), the job opens a
new connection and sends the unanswered requests again.  Only idempotent
methods are pipelined and sent again; others go one at a time, and one whose
answer was lost fails.  Requests with a body (uploads) go one at a time too,
with ``Expect: 100-continue`` if asked for.

Time-outs: a job that has not been resumed for ``timeout`` seconds is
cancelled by a watchdog timer (the reactor has per-task deadlines, but a job
may legitimately run much longer than the time-out: what is limited is the
time without progress, as :attr:`HTTPConnection.timeout` does for blocking
calls).
"""

from __future__ import annotations

import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Final, Protocol, TextIO

from ._connection import HTTPConnection, _host_header
from ._errors import ConnectionClosed, ConnectionTimedOut
from ._http11 import BodyFollowing, HTTPResponse, request_fields
from ._net import Resolver
from ._poll import PollCoroutine, PollNeeded
from .loop import Plugin, Progress, ProgressState, Reactor, Task, TimerHandle

__all__ = [
    "IDEMPOTENT_METHODS",
    "Display",
    "Fetch",
    "HostJob",
    "LocalError",
    "Plan",
    "Sink",
    "SinkFactory",
    "Totals",
    "Upload",
    "fetch_all",
]

#: Methods that may be pipelined and sent again after a lost connection (RFC 9110 section 9.2.2).
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})

_BUFFER_SIZE: Final = 64 * 1024
_UPLOAD_CHUNK: Final = 64 * 1024


class LocalError(Exception):
    """A local file could not be read or written (not a network error)."""


@dataclass(eq=False)
class Fetch:
    """One URL to fetch, and what became of it.

    ``status`` is set when a response arrived, ``error`` when none could be
    had; ``received`` and ``sent`` count body bytes.
    """

    url: str
    scheme: str
    host: str
    port: int
    target: str
    status: int | None = None
    reason: str = ""
    error: BaseException | None = None
    received: int = 0
    sent: int = 0

    @property
    def ok(self) -> bool:
        """True if a response arrived and its status is below 400."""
        return self.error is None and self.status is not None and self.status < 400


class Sink(Protocol):
    """Where the body of one response goes."""

    def write(self, data: memoryview) -> None:
        """Take the next piece of the body (valid only during the call)."""

    def close(self, complete: bool) -> None:
        """The body ended (*complete*) or its transfer failed."""


#: Called with each final response (before its body is read); returns its sink.
SinkFactory = Callable[[Fetch, HTTPResponse], Sink]


class Upload:
    """A request body: a file, standard input or bytes, sent with :class:`BodyFollowing`.

    Args:
        name: what to call it in error messages.
        opener: returns a stream of the body each time it is called.
        length: the body length, or None when unknown (sent chunked).
        keep_open: don't close the streams (standard input).
    """

    def __init__(
        self,
        name: str,
        opener: Callable[[], BinaryIO],
        length: int | None,
        *,
        keep_open: bool = False,
    ) -> None:
        self.name = name
        self.length = length
        self._opener = opener
        self._keep_open = keep_open

    def open(self) -> BinaryIO:
        """Return a stream of the body.

        Raises:
            LocalError: it could not be opened.
        """
        try:
            return self._opener()
        except OSError as exc:
            raise LocalError(f"cannot read {self.name}: {exc.strerror or exc}") from exc

    def release(self, stream: BinaryIO) -> None:
        """Close *stream* (unless it is to be kept open)."""
        if not self._keep_open:
            stream.close()


class Display(Protocol):
    """A progress display, redrawn by the reactor's :class:`~dugong.loop.Progress` plugin."""

    def update(self, state: ProgressState, jobs: Sequence[HostJob]) -> None:
        """Redraw with the plugin's *state* (tasks are hosts) and the jobs' counters."""

    def close(self) -> None:
        """Remove or finish the display."""


def _no_proxy(scheme: str, host: str) -> tuple[str, int] | None:
    return None


@dataclass
class Plan:
    """How to fetch: the request and the limits.

    Attributes:
        method: the request method.
        headers: extra request header fields.
        upload: the request body, if any.
        expect100: send ``Expect: 100-continue`` with the body.
        timeout: seconds without progress after which a host's remaining
            fetches fail; None for no limit.
        max_connections: hosts fetched at the same time.
        pipeline_depth: requests sent ahead of their responses, per connection.
        tls: the TLS context for https URLs.
        proxy_for: ``(scheme, host)`` to the ``(host, port)`` of a proxy or None.
        resolver: the name resolver (None: the system's).
        log: where ``-v`` writes request and response heads, or None.
    """

    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    upload: Upload | None = None
    expect100: bool = False
    timeout: float | None = None
    max_connections: int = 10
    pipeline_depth: int = 32
    tls: ssl.SSLContext | None = None
    proxy_for: Callable[[str, str], tuple[str, int] | None] = _no_proxy
    resolver: Resolver | None = None
    log: TextIO | None = None


@dataclass
class Totals:
    """What :func:`fetch_all` did."""

    fetches: Sequence[Fetch]
    seconds: float
    connections: int

    @property
    def received(self) -> int:
        """Body bytes received."""
        return sum(f.received for f in self.fetches)

    @property
    def sent(self) -> int:
        """Body bytes sent."""
        return sum(f.sent for f in self.fetches)

    @property
    def http_errors(self) -> int:
        """Fetches whose response had a status of 400 or more."""
        return sum(1 for f in self.fetches if f.error is None and f.status is not None and f.status >= 400)

    @property
    def failed(self) -> int:
        """Fetches that got no response."""
        return sum(1 for f in self.fetches if f.error is not None)


def _merge(send: PollNeeded | None, read: PollNeeded | None) -> PollNeeded:
    """One PollNeeded that becomes ready when either of two would."""
    if read is None:
        assert send is not None
        return send
    if send is None:
        return read
    if send.fd == read.fd:
        return PollNeeded(read.fd, read.mask | send.mask)
    # Not expected (both use the connection's socket once a response is being
    # read), but waiting for the reader is safe: its response was fully sent.
    return read


def authority(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 address."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class HostJob:
    """The fetches of one ``(scheme, host, port)``, done by one task.

    Attributes:
        label: ``host:port``, the key of its bytes in the progress plugin.
        fetches: the fetches, in the order given.
        finished: how many of them are done (they finish in order).
        connections: connections opened (or attempted) so far.
        error: the error that ended the job early, if any.
    """

    def __init__(
        self,
        fetches: Sequence[Fetch],
        plan: Plan,
        open_sink: SinkFactory,
        on_bytes: Callable[[str, int], None],
    ) -> None:
        first = fetches[0]
        self.label = authority(first.host, first.port)
        self.fetches = fetches
        self.finished = 0
        self.connections = 0
        self.error: BaseException | None = None
        self._plan = plan
        self._open_sink = open_sink
        self._on_bytes = on_bytes
        self._buffer = bytearray()
        self.conn = HTTPConnection(
            first.host,
            first.port,
            ssl_context=plan.tls if first.scheme == "https" else None,
            proxy=plan.proxy_for(first.scheme, first.host),
            resolver=plan.resolver,
        )

    def fail_unfinished(self, error: BaseException) -> None:
        """Give *error* to every fetch not finished yet (one may have its status already)."""
        for fetch in self.fetches[self.finished :]:
            fetch.error = error

    def _log(self, line: str) -> None:
        if self._plan.log is not None:
            print(line, file=self._plan.log, flush=True)

    # ------------------------------------------------------------- the task

    def co_run(self) -> PollCoroutine[None]:
        """Fetch everything; record errors instead of raising them."""
        self._buffer = bytearray(_BUFFER_SIZE)
        proxy = self.conn.proxy
        via = f" via proxy {authority(*proxy)}" if proxy is not None else ""
        self._log(f"* {self.label}: {len(self.fetches)} request(s){via}")
        try:
            if self._plan.upload is None:
                yield from self._co_pipelined()
            else:
                for fetch in self.fetches:
                    yield from self._co_exchange(fetch)
                    self.finished += 1
        except Exception as exc:
            self.error = exc
            self.fail_unfinished(exc)
        finally:
            self.conn.disconnect()
            self._buffer = bytearray()

    def _co_pipelined(self) -> PollCoroutine[None]:
        plan = self._plan
        depth = plan.pipeline_depth if plan.method in IDEMPOTENT_METHODS else 1
        rounds = 0
        while self.finished < len(self.fetches):
            if rounds:
                self.conn.reset()
            rounds += 1
            yield from self._co_round(self.fetches[self.finished :], depth)

    def _co_round(self, fetches: Sequence[Fetch], depth: int) -> PollCoroutine[None]:
        """Pipeline *fetches* over the current connection until done or it closes.

        Returns after at least one fetch finished; raises when none could.
        """
        conn, plan = self.conn, self._plan
        sent = done = 0
        sending: PollCoroutine[None] | None = None
        reading: PollCoroutine[None] | None = None
        send_wait: PollNeeded | None = None
        read_wait: PollNeeded | None = None
        send_closed: ConnectionClosed | None = None
        try:
            while done < len(fetches):
                if sending is None and send_closed is None and sent < len(fetches) and sent - done < depth:
                    self._log_request(fetches[sent])
                    if not conn.connected:  # (a connection the server closed cleanly reopens)
                        if self.connections:
                            self._log(
                                f"* {self.label}: connection closed after {self.finished} response(s);"
                                " sending the others on a new one"
                            )
                        self.connections += 1
                    sending = conn.co_send_request(plan.method, fetches[sent].target, plan.headers)
                if reading is None and done < sent:
                    reading = self._co_receive(fetches[done])
                if sending is not None:
                    try:
                        send_wait = next(sending)
                    except StopIteration:
                        sending = None
                        sent += 1
                        continue
                    except ConnectionClosed as exc:
                        # Stop sending; the responses to what was sent may still come.
                        sending = None
                        send_closed = exc
                        continue
                if reading is not None:
                    try:
                        read_wait = next(reading)
                    except StopIteration:
                        reading = None
                        done += 1
                        self.finished += 1
                        continue
                    except ConnectionClosed as exc:
                        reading = None
                        if plan.method not in IDEMPOTENT_METHODS:
                            # It may have been carried out: don't send it again.
                            fetches[done].error = exc
                            self.finished += 1
                            return
                        if not done:
                            raise
                        return
                elif sending is None:
                    # The server closed, and every response it owed has been read.
                    assert send_closed is not None
                    if not done:
                        raise send_closed
                    return
                yield _merge(send_wait if sending is not None else None, read_wait if reading is not None else None)
        finally:
            if sending is not None:
                sending.close()
            if reading is not None:
                reading.close()

    def _co_receive(self, fetch: Fetch) -> PollCoroutine[None]:
        resp = yield from self.conn.co_read_response()
        yield from self._co_body(fetch, resp)

    def _co_body(self, fetch: Fetch, resp: HTTPResponse) -> PollCoroutine[None]:
        """Read the body of *resp* (the final response to *fetch*) into its sink."""
        self._log_response(resp)
        fetch.status, fetch.reason = resp.status, resp.reason
        fetch.received = 0  # a response cut short may be fetched again
        sink = self._open_sink(fetch, resp)
        complete = False
        try:
            view = memoryview(self._buffer)
            while n := (yield from self.conn.co_readinto(view)):
                sink.write(view[:n])
                fetch.received += n
                self._on_bytes(self.label, n)
            complete = True
        finally:
            sink.close(complete)
        self._on_bytes(self.label, 0)  # the request count changed: redraw

    def _co_exchange(self, fetch: Fetch) -> PollCoroutine[None]:
        """Send one request with a body, then read its response."""
        plan, conn = self._plan, self.conn
        upload = plan.upload
        assert upload is not None
        stream = upload.open()
        try:
            self._log_request(fetch)
            if not conn.connected:  # (a connection the server closed cleanly reopens)
                self.connections += 1
            try:
                yield from conn.co_send_request(
                    plan.method, fetch.target, plan.headers, BodyFollowing(upload.length), plan.expect100
                )
            except ConnectionClosed:
                # Closed since the last response (idle, or "Connection: close"),
                # before any byte of the body went out: sending again is safe.
                conn.reset()
                self.connections += 1
                yield from conn.co_send_request(
                    plan.method, fetch.target, plan.headers, BodyFollowing(upload.length), plan.expect100
                )
            if plan.expect100:
                resp = yield from conn.co_read_response()
                if resp.status != 100:
                    self._log(f"* {fetch.url}: answered before the body was sent")
                    yield from self._co_body(fetch, resp)
                    return
                self._log_response(resp)
            try:
                yield from self._co_send_body(fetch, stream, upload)
            except ConnectionClosed as exc:
                # The server may have answered (say 413) before it closed.
                self._log(f"* {fetch.url}: {exc}")
            resp = yield from conn.co_read_response()
            yield from self._co_body(fetch, resp)
        finally:
            upload.release(stream)

    def _co_send_body(self, fetch: Fetch, stream: BinaryIO, upload: Upload) -> PollCoroutine[None]:
        left = upload.length
        # read1() returns what a pipe has now instead of waiting for a full chunk.
        read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
        while left is None or left > 0:
            size = _UPLOAD_CHUNK if left is None else min(_UPLOAD_CHUNK, left)
            try:
                chunk = read(size)
            except OSError as exc:
                raise LocalError(f"cannot read {upload.name}: {exc.strerror or exc}") from exc
            if not chunk:
                if left is not None:
                    raise LocalError(f"{upload.name} ended {left} bytes short of its announced size")
                break
            yield from self.conn.co_write(chunk)
            fetch.sent += len(chunk)
            self._on_bytes(self.label, len(chunk))
            if left is not None:
                left -= len(chunk)
        if upload.length is None:
            yield from self.conn.co_end_body()

    # ------------------------------------------------------------- -v output

    def _log_request(self, fetch: Fetch) -> None:
        if self._plan.log is None:
            return
        plan = self._plan
        upload = plan.upload
        length = upload.length if upload is not None else None
        chunked = upload is not None and length is None
        default_port = 443 if fetch.scheme == "https" else 80
        if upload is None and plan.method in ("POST", "PUT", "PATCH"):
            length = 0
        fields = request_fields(
            _host_header(fetch.host, fetch.port, default_port),
            plan.headers,
            length,
            chunked,
            None,
            plan.expect100 and upload is not None,
        )
        lines = [f"> {plan.method} {fetch.target} HTTP/1.1", *(f"> {n}: {v}" for n, v in fields), ">"]
        self._log("\n".join(lines))

    def _log_response(self, resp: HTTPResponse) -> None:
        if self._plan.log is None:
            return
        lines = [f"< {resp.status} {resp.reason}", *(f"< {n}: {v}" for n, v in resp.headers.items()), "<"]
        self._log("\n".join(lines))


class _Runner(Plugin):
    """Starts the jobs, at most ``max_connections`` at a time, and watches their progress.

    As a plugin it sees every resumption of a task: that is the activity the
    time-out watchdog looks at.
    """

    def __init__(self, reactor: Reactor, jobs: Sequence[HostJob], plan: Plan) -> None:
        self._reactor = reactor
        self._queue = deque(jobs)
        self._plan = plan
        self._running: dict[Task[object], HostJob] = {}
        self._active: dict[Task[object], float] = {}  # task -> time of its last resumption
        self._watch_handle: TimerHandle | None = None

    def run(self) -> None:
        """Run the jobs to the end."""
        self._start_more()
        if not self._running:
            return
        if self._plan.timeout is not None:
            self._watch_handle = self._reactor.call_later(self._watch_interval(), self._watch)
        try:
            self._reactor.run_forever()
        finally:
            if self._watch_handle is not None:
                self._watch_handle.cancel()

    def task_resumed(self, task: Task[object]) -> None:
        """Note the task's activity (all tasks on this reactor are jobs)."""
        self._active[task] = self._reactor.time()

    def _start_more(self) -> None:
        while self._queue and len(self._running) < self._plan.max_connections:
            job = self._queue.popleft()
            task = self._reactor.spawn(job.co_run(), name=job.label)
            self._running[task] = job
            self._active[task] = self._reactor.time()
            task.add_done_callback(self._finished)

    def _finished(self, task: Task[None]) -> None:
        job = self._running.pop(task)
        del self._active[task]
        if task.cancelled():
            job.error = ConnectionTimedOut(self._plan.timeout)
            job.fail_unfinished(job.error)
        self._start_more()
        if not self._running:
            self._reactor.stop()

    def _watch_interval(self) -> float:
        assert self._plan.timeout is not None
        return max(0.01, min(self._plan.timeout / 4, 1.0))

    def _watch(self) -> None:
        assert self._plan.timeout is not None
        now = self._reactor.time()
        for task, since in list(self._active.items()):
            if now - since > self._plan.timeout:
                task.cancel()
        self._watch_handle = self._reactor.call_later(self._watch_interval(), self._watch)


def group_by_host(fetches: Sequence[Fetch]) -> list[list[Fetch]]:
    """Group *fetches* by ``(scheme, host, port)``, in the order of first appearance."""
    groups: dict[tuple[str, str, int], list[Fetch]] = {}
    for fetch in fetches:
        groups.setdefault((fetch.scheme, fetch.host, fetch.port), []).append(fetch)
    return list(groups.values())


def fetch_all(
    fetches: Sequence[Fetch],
    plan: Plan,
    open_sink: SinkFactory,
    display: Display | None = None,
) -> Totals:
    """Fetch every URL of *fetches*, recording the outcome in each.

    Args:
        fetches: what to fetch.
        plan: how.
        open_sink: gives the sink for each response body.
        display: redrawn as the transfer progresses, then closed.

    Returns:
        The totals.  Errors are recorded in the fetches, not raised (except
        :exc:`KeyboardInterrupt`).
    """
    start = time.perf_counter()
    groups = group_by_host(fetches)
    with Reactor() as reactor:
        jobs: list[HostJob] = []
        if display is not None:
            shown = display

            def render(state: ProgressState) -> None:
                shown.update(state, jobs)

            progress = Progress(render, tasks_total=len(groups))
        else:
            progress = Progress(tasks_total=len(groups))
        reactor.add_plugin(progress)
        jobs.extend(HostJob(group, plan, open_sink, progress.add_bytes) for group in groups)
        runner = _Runner(reactor, jobs, plan)
        reactor.add_plugin(runner)
        try:
            runner.run()
        finally:
            if display is not None:
                display.close()
    return Totals(fetches, time.perf_counter() - start, sum(j.connections for j in jobs))
